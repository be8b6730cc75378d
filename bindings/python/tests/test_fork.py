"""Fork safety: a forked child gets working background threads; the parent is untouched."""

from __future__ import annotations

import multiprocessing
import os
import time

import vario

from conftest import DevServer, wait_until

PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}
_client: vario.Client | None = None


def _assigned(client: vario.Client, prefix: str, n: int) -> int:
    return sum(client.decide({"user_id": f"{prefix}-{i}", "context": PDP}).reason == "ASSIGNED" for i in range(n))


def test_forked_child_delivers_its_own_events(dev_server: DevServer) -> None:
    client = vario.Client(
        config_url=dev_server.url + "config",
        ingest_url=dev_server.url + "ingest",
        id_hash_key="fork-key",
        batch_interval=0.05,
    )
    client.wait_for_init(5.0)
    before = _assigned(client, "parent-before", 50)
    r, w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 1
        try:
            n = _assigned(client, "child", 80)
            client.flush(5.0)
            stats = client.stats()
            os.write(w, f"{n} {stats['events_sent']} {stats['dropped_after_fork']}".encode())
            client.close(5.0)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    report = os.read(r, 100).decode().split()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0
    assert elapsed < 10, f"the child took {elapsed:.1f}s"
    child_assigned, child_sent, child_dropped = map(int, report)
    assert child_sent == child_assigned > 50 and child_dropped == 0
    # The parent keeps working with its own threads.
    after = _assigned(client, "parent-after", 50)
    client.flush(5.0)
    assert client.stats()["events_sent"] == before + after
    client.close(5.0)
    total = before + after + child_assigned
    assert wait_until(lambda: len(dev_server.lines()) == total), (len(dev_server.lines()), total)


def _worker(i: int) -> int:
    assert _client is not None
    n = _assigned(_client, f"pool-{i}", 40)
    _client.flush(5.0)
    return n


def test_multiprocessing_pool_with_fork(dev_server: DevServer) -> None:
    global _client
    _client = vario.Client(
        config_url=dev_server.url + "config",
        ingest_url=dev_server.url + "ingest",
        id_hash_key="pool-key",
        batch_interval=0.05,
    )
    try:
        _client.wait_for_init(5.0)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(3) as pool:
            counts = pool.map(_worker, range(6))
        assert sum(counts) > 150
        assert wait_until(lambda: len(dev_server.lines()) == sum(counts)), (len(dev_server.lines()), sum(counts))
        # The parent's client is untouched and still delivers.
        mine = _assigned(_client, "pool-parent", 30)
        _client.flush(5.0)
        assert wait_until(lambda: len(dev_server.lines()) == sum(counts) + mine)
    finally:
        _client.close(5.0)
        _client = None
