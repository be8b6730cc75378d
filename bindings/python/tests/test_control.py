"""A live client following the control plane (`vario control`): launch, pause, ramp, rollback.

`vario control` runs in a child process on a temporary SQLite file; the test authors and publishes
through its admin API (urllib) and points a `vario.Client` at its SDK endpoint with the
environment's SDK key. After each publish the client must pick up the new version within a few
seconds and decide exactly as the engine does on the bytes that version stored
(`GET /environments/{id}/versions/{v}` into `vario.Snapshot.from_json`).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Iterator, Optional

import pytest
import vario

from conftest import vario_bin, wait_until

ADMIN = "py-control-test-admin-token"
HOME = {"placement": "home"}
DEFAULTS = {"algo": "baseline", "rows": 4}
WEIGHTS = {"control": 50, "treatment": 50}
USERS = [f"py-ctl-user-{i}" for i in range(200)]


class Reply:
    """One HTTP answer: status, headers and the body (raw and, when it is JSON, parsed)."""

    def __init__(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body: Any = json.loads(raw) if raw.strip() else None


class ControlPlane:
    """`vario control` in a child process (port 0: the printed URL is parsed), on its own SQLite file."""

    def __init__(self, tmp: pathlib.Path, *args: str) -> None:
        db = tmp / f"control-{time.monotonic_ns()}.db"
        env = dict(os.environ, VARIO_ADMIN_TOKEN=ADMIN, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [str(vario_bin()), "control", "--db", f"sqlite://{db}", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("vario control on http://"):
            self.stop()
            raise RuntimeError(f"vario control did not start: {line!r}")
        self.url = line.split(" on ", 1)[1].strip().rstrip("/")

    def call(self, method: str, path: str, body: Optional[Any] = None, token: str = ADMIN) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())

    def ok(self, method: str, path: str, body: Optional[Any] = None, status: int = 200) -> Any:
        r = self.call(method, path, body)
        assert r.status == status, f"{method} {path}: {r.status} {r.raw!r}"
        return r.body

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def control(tmp_path: pathlib.Path) -> Iterator[ControlPlane]:
    c = ControlPlane(tmp_path)
    try:
        yield c
    finally:
        c.stop()


def publish(cp: ControlPlane, env_id: str, expected: int) -> vario.Snapshot:
    """Publishes, checks the new version's number, and returns its stored bytes compiled."""
    p = cp.ok("POST", f"/environments/{env_id}/publish")
    assert p["version"] == expected and p["changed"] is True, p
    return stored(cp, env_id, expected, p["digest"])


def stored(cp: ControlPlane, env_id: str, version: int, digest: str) -> vario.Snapshot:
    """Version `version` as stored: its bytes hash to `digest` and compile without lints."""
    r = cp.call("GET", f"/environments/{env_id}/versions/{version}")
    assert r.status == 200
    assert hashlib.sha256(r.raw).hexdigest() == digest
    snap = vario.Snapshot.from_json(r.raw.decode())
    assert snap.version == version
    assert [lint for lint in snap.lints if lint.get("severity") == "error"] == []
    return snap


def follows(client: vario.Client, version: int) -> None:
    """Waits (a few seconds at most) until the client uses `version`."""
    assert wait_until(lambda: client.stats()["config_version"] == version, timeout=10.0), client.stats()


Outcome = tuple[Optional[str], str, dict[str, Any], Optional[int]]


def outcome(d: vario.Decision) -> Outcome:
    return d.variant, d.reason, dict(d.params), d.bucket


def decide_all(client: vario.Client) -> dict[str, Outcome]:
    return {u: outcome(client.decide({"user_id": u, "context": HOME})) for u in USERS}


def engine(snap: vario.Snapshot) -> dict[str, Outcome]:
    return {u: outcome(snap.decide({"user_id": u, "context": HOME})) for u in USERS}


def test_client_follows_pause_ramp_and_rollback(control: ControlPlane, tmp_path: pathlib.Path) -> None:
    """Checks, for 200 users through the Python client on the control plane's SDK endpoint:

    - v1 (RUNNING, 50/50 at traffic 50): every decision (variant, reason, params, bucket) equals
      the engine's on the stored v1 bytes, with both variants and traffic misses among them;
    - v2 (PAUSED): the client follows within seconds and everyone gets the placement defaults
      with no variant, exactly as the engine decides on v2;
    - v3 (resumed, ramped to traffic 100 with the same weights, which the API accepts): everyone
      is assigned, and every user assigned in v1 keeps their variant;
    - v4 (rollback to v1): a new, higher version whose decisions are v1's again, served with
      its digest as ETag.
    """
    cp = control
    env = cp.ok("POST", "/environments", {"name": "py-control"}, status=201)
    env_id, sdk_key = env["id"], env["sdk_key"]
    cp.ok("PUT", f"/environments/{env_id}/placements/home", {"default_params": DEFAULTS})
    exp = cp.ok(
        "POST",
        "/experiments",
        {
            "environment_id": env_id,
            "key": "home_algo",
            "name": "Home algorithm",
            "placements": ["home"],
            "variants": [
                {"key": "control", "params": {"algo": "baseline"}, "is_control": True},
                {"key": "treatment", "params": {"algo": "fresh"}},
            ],
            "allocation": {"weights": WEIGHTS, "traffic": 50},
        },
        status=201,
    )
    assert exp["status"] == "DRAFT"
    exp_id = exp["id"]
    # Not published yet: the SDK endpoint says so.
    assert cp.call("GET", "/sdk/v1/snapshot", token=sdk_key).status == 404

    def status(to: str) -> None:
        assert cp.ok("PATCH", f"/experiments/{exp_id}/status", {"status": to})["status"] == to

    status("RUNNING")
    v1 = publish(cp, env_id, 1)

    client = vario.Client(
        config_url=cp.url + "/sdk/v1/snapshot",
        sdk_key=sdk_key,
        poll_interval=0.1,
        sink_path=str(tmp_path / "events.jsonl"),
        id_hash_key="py-control-key",
    )
    with client:
        client.wait_for_init(10.0)
        follows(client, 1)
        first = decide_all(client)
        assert first == engine(v1)
        assigned = {u: o[0] for u, o in first.items() if o[1] == "ASSIGNED"}
        assert set(assigned.values()) == {"control", "treatment"}
        missed = [u for u, o in first.items() if o[1] == "TRAFFIC_MISS"]
        assert 40 < len(assigned) < 160 and len(assigned) + len(missed) == len(USERS)
        assert all(first[u][0] is None and first[u][2] == DEFAULTS for u in missed)

        # Pause: everyone back on the placement defaults, as the engine decides on v2.
        status("PAUSED")
        v2 = publish(cp, env_id, 2)
        follows(client, 2)
        paused = decide_all(client)
        assert paused == engine(v2)
        assert all(o[0] is None and o[2] == DEFAULTS for o in paused.values()), set(paused.values())
        assert {o[1] for o in paused.values()} == {"NOT_RUNNING"}

        # Resume and ramp 50 -> 100 with the same weights: no bucket moves, so it is accepted
        # and every unit assigned before keeps its variant.
        status("RUNNING")
        cp.ok("PUT", f"/experiments/{exp_id}/allocations", {"weights": WEIGHTS, "traffic": 100})
        v3 = publish(cp, env_id, 3)
        follows(client, 3)
        ramped = decide_all(client)
        assert ramped == engine(v3)
        assert {o[1] for o in ramped.values()} == {"ASSIGNED"}
        assert {u: ramped[u][0] for u in assigned} == assigned
        # A real reshuffle is still refused.
        r = cp.call("PUT", f"/experiments/{exp_id}/allocations", {"weights": {"control": 60, "treatment": 40}})
        assert r.status == 409 and r.body["error"]["code"] == "RESHUFFLE"

        # Rollback to v1: published again as v4, deciding as v1 did (traffic 50).
        rb = cp.ok("POST", f"/environments/{env_id}/rollback", {"version": 1})
        assert rb["version"] == 4 and rb["changed"] is True, rb
        v4 = stored(cp, env_id, 4, rb["digest"])
        follows(client, 4)
        rolled_back = decide_all(client)
        assert rolled_back == first
        assert rolled_back == engine(v4)

        versions = cp.ok("GET", f"/environments/{env_id}/versions")
        assert [v["version"] for v in versions] == [4, 3, 2, 1]
        served = cp.call("GET", "/sdk/v1/snapshot", token=sdk_key)
        assert served.status == 200 and served.headers["etag"] == f'"{rb["digest"]}"'
        assert json.loads(served.raw)["version"] == 4
        assert client.stats()["config_version"] == 4
