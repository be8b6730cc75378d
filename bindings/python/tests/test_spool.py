"""The disk spool from Python: the options, and SIGTERM handled with `signal.signal` calling
`close()`, which drains to the spool while the ingestion endpoint is down; a new client on the same
directory delivers every event to the dev server."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys

import pytest
import vario

from conftest import SNAPSHOT, DevServer, free_port, wait_until

CHILD = r"""
import json, signal, sys, time
import vario

snapshot, ingest, spool = sys.argv[1:4]
client = vario.Client(bootstrap=open(snapshot).read(), ingest_url=ingest, spool_path=spool,
                      id_hash_key="py-spool", retry_base=0.01, max_backoff=0.2)

def on_term(signum, frame):
    # The library installs no handler: the host closes, which writes what is undelivered to the
    # spool within the timeout, then exits.
    client.close(5.0)
    print("STATS " + json.dumps(client.stats()), flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
ctx = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}
for i in range(2000):
    client.decide({"user_id": f"spool-user-{i}", "session_id": f"s-{i}", "context": ctx})
print("READY", flush=True)
while True:
    time.sleep(0.05)
"""


def test_spool_options_are_checked(tmp_path: pathlib.Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/ingest"
    boot = SNAPSHOT.read_text()
    with pytest.raises(vario.OptionsError):
        vario.Client(bootstrap=boot, ingest_url=down, spool_path=str(tmp_path), spool_max_bytes=0)
    with pytest.raises(vario.OptionsError):
        vario.Client(bootstrap=boot, ingest_url=down, spool_path=str(tmp_path), spool_max_bytes="big")
    with vario.Client(bootstrap=boot, ingest_url=down, spool_path=str(tmp_path), spool_max_bytes=1 << 20) as c:
        # One client per directory: a second one is refused while the first is open.
        with pytest.raises(vario.OptionsError, match="in use"):
            vario.Client(bootstrap=boot, ingest_url=down, spool_path=str(tmp_path))
        assert c.stats()["spool_bytes"] == 0


def test_sigterm_close_drains_to_the_spool_and_a_restart_delivers(tmp_path: pathlib.Path) -> None:
    spool = tmp_path / "spool"
    down = f"http://127.0.0.1:{free_port()}/ingest"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(SNAPSHOT), down, str(spool)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "READY"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    stats = json.loads(out.split("STATS ", 1)[1])
    generated = stats["exposures_enqueued"]
    assert generated > 1900, stats
    assert stats["events_spooled"] == generated and stats["events_sent"] == 0, stats
    assert stats["dropped_at_close"] == 0, stats
    assert any(p.suffix == ".vspool" for p in spool.iterdir())

    server = DevServer(tmp_path)
    try:
        with vario.Client(
            bootstrap=SNAPSHOT.read_text(), ingest_url=server.url + "ingest", spool_path=str(spool)
        ) as client:
            assert wait_until(lambda: client.stats()["spool_bytes"] == 0, timeout=60), client.stats()
            assert client.stats()["events_replayed"] == generated
        assert wait_until(lambda: len(server.lines()) == generated, timeout=10)
        ids = [json.loads(l)["event_id"] for l in server.lines()]
        assert len(set(ids)) == generated
    finally:
        server.stop()
