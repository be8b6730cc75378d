"""Push (SPEC §9) from Python: the control plane's SSE stream and Redis bring a publish at once,
and a forked child gets a push channel of its own while the parent's keeps working.

`vario control` runs in a child process (SQLite; with `--redis` on the Redis server the test
command starts, `VARIO_TEST_REDIS_URL`). Polling is set to a minute, so only push can deliver
within the few seconds each step allows.
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest
import vario

from conftest import wait_until
from test_control import ControlPlane, control  # noqa: F401 (the fixture)

PDP = {"placement": "pdp"}


def author(cp: ControlPlane, name: str) -> tuple[str, str, str]:
    """An environment with a RUNNING 50/50 experiment on `pdp`, published as v1."""
    env = cp.ok("POST", "/environments", {"name": name}, status=201)
    cp.ok("PUT", f"/environments/{env['id']}/placements/pdp", {"default_params": {"algo": "base"}})
    exp = cp.ok(
        "POST",
        "/experiments",
        {
            "environment_id": env["id"],
            "key": "pdp_algo",
            "name": "PDP",
            "placements": ["pdp"],
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}],
            "allocation": {"weights": {"control": 50, "two_tower": 50}},
        },
        status=201,
    )
    cp.ok("PATCH", f"/experiments/{exp['id']}/status", {"status": "RUNNING"})
    assert cp.ok("POST", f"/environments/{env['id']}/publish")["version"] == 1
    return env["id"], env["sdk_key"], exp["id"]


def pause_and_publish(cp: ControlPlane, env_id: str, exp_id: str, version: int) -> None:
    cp.ok("PATCH", f"/experiments/{exp_id}/status", {"status": "PAUSED"})
    assert cp.ok("POST", f"/environments/{env_id}/publish")["version"] == version


def test_the_stream_brings_a_publish_to_the_parent_and_a_forked_child(control: ControlPlane, tmp_path: pathlib.Path) -> None:
    env_id, sdk_key, exp_id = author(control, "py-push")
    client = vario.Client(
        config_url=control.url + "/sdk/v1/snapshot",
        stream_url=control.url + "/sdk/v1/stream",
        sdk_key=sdk_key,
        poll_interval=60,
        sink_path=str(tmp_path / "events.jsonl"),
    )
    client.wait_for_init(5.0)
    assert wait_until(lambda: client.stats()["push"] == "connected", timeout=5.0), client.stats()
    assert client.decide({"user_id": "u-1", "context": PDP}).reason == "ASSIGNED"

    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the binding replaced the client; it must connect a channel of its own
        os.close(r)
        os.close(go_w)
        code = 1
        try:
            connected = wait_until(lambda: client.stats()["push"] == "connected", timeout=5.0)
            os.write(w, b"ready\n" if connected else b"not connected\n")
            os.read(go_r, 1)  # the parent has published v2
            got = client.wait_for_version(2, timeout=5.0)
            s = client.stats()
            reason = client.decide({"user_id": "u-1", "context": PDP}).reason
            os.write(w, f"{got} {reason} {s['push_connects']} {s['config_version']}\n".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    os.close(go_r)
    reader = os.fdopen(r)
    assert reader.readline().strip() == "ready"
    pause_and_publish(control, env_id, exp_id, 2)
    started = time.monotonic()
    os.write(go_w, b"g")
    assert client.wait_for_version(2, timeout=5.0), client.stats()
    parent_ms = (time.monotonic() - started) * 1000
    child = reader.readline().split()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    # The child's client is new (its counters start at 0): one connection, of its own.
    assert child == ["True", "NOT_RUNNING", "1", "2"], child
    assert client.decide({"user_id": "u-1", "context": PDP}).reason == "NOT_RUNNING"
    s = client.stats()
    assert s["push"] == "connected" and s["config_digest"] and len(s["config_digest"]) == 64, s
    assert s["config_fetches"] <= 3, s  # the start, the push (and one if the stream beat the first poll)
    print(f"parent on v2 {parent_ms:.1f} ms after the publish returned")
    client.close()
    assert client.stats()["push"] == "off"


def test_redis_brings_a_publish(tmp_path: pathlib.Path) -> None:
    url = os.environ.get("VARIO_TEST_REDIS_URL")
    if not url:
        if os.environ.get("VARIO_REQUIRE_SERVICES") == "1":
            pytest.fail("VARIO_REQUIRE_SERVICES=1 but VARIO_TEST_REDIS_URL is not set")
        pytest.skip("no Redis (VARIO_TEST_REDIS_URL)")
    cp = ControlPlane(tmp_path, "--redis", url)
    try:
        name = f"py-redis-{os.getpid()}"
        env_id, _, exp_id = author(cp, name)
        client = vario.Client(redis_url=url, environment=name, stale_after=60, sink_path=str(tmp_path / "e.jsonl"))
        client.wait_for_init(5.0)
        assert client.stats()["config_source"] == "redis"
        pause_and_publish(cp, env_id, exp_id, 2)
        assert client.wait_for_version(2, timeout=5.0), client.stats()
        assert client.decide({"user_id": "u-1", "context": PDP}).reason == "NOT_RUNNING"
        s = client.stats()
        assert s["push"] == "connected" and s["config_stale"] is False and s["push_notifications"] >= 1, s
        client.close()
    finally:
        cp.stop()


@pytest.mark.parametrize(
    "options",
    [
        {"bootstrap": "{}", "stream_url": "http://127.0.0.1:1/s"},  # the stream needs config_url
        {"redis_url": "redis://127.0.0.1:1/"},  # needs environment
        {"redis_url": "http://127.0.0.1:1/", "environment": "prod"},
        {"config_url": "http://127.0.0.1:1/c", "stream_url": "http://127.0.0.1:1/s", "redis_url": "redis://x", "environment": "p"},
        {"config_url": "http://127.0.0.1:1/c", "push_idle_timeout": "soon"},
    ],
)
def test_push_options_are_checked(options: dict[str, object]) -> None:
    with pytest.raises(vario.OptionsError) as e:
        vario.Client(**options)  # type: ignore[arg-type]
    assert e.value.code == "INVALID_OPTIONS"
