"""The live client against the dev server (`vario dev-server`) on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import pathlib

import pytest
import vario

from conftest import SNAPSHOT, DevServer, free_port, wait_until

PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}


def test_exposures_arrive_pseudonymised(dev_server: DevServer) -> None:
    with vario.Client(
        config_url=dev_server.url + "config",
        ingest_url=dev_server.url + "ingest",
        id_hash_key="py-test-key",
        batch_interval=0.05,
    ) as client:
        client.wait_for_init(5.0)
        assigned = 0
        assigned_users = []
        for i in range(300):
            d = client.decide({"user_id": f"py-user-{i}", "session_id": f"py-s-{i}", "context": PDP})
            if d.reason == "ASSIGNED":
                assigned += 1
                assigned_users.append(f"py-user-{i}")
        later = client.decide({"user_id": "py-later", "context": PDP}, expose_later=True)
        assert later.exposure_token is not None
        assert client.expose(later.exposure_token)
        with pytest.raises(vario.TokenError) as e:
            client.expose(later.exposure_token[:-3] + "abc")
        assert e.value.code
        assert client.track("add_to_cart", user_id="py-user-1", item_id="sku-1", value=12.5, currency="EUR")
        client.flush(5.0)
        stats = client.stats()
        assert stats["events_sent"] == assigned + 2
        assert stats["tokens_rejected"] == 1
    assert assigned > 250
    assert wait_until(lambda: len(dev_server.lines()) == assigned + 2)
    body = "\n".join(dev_server.lines())
    assert "py-user-" not in body and "py-later" not in body
    # Ids are HMAC pseudonyms with the client's key (SPEC §5).
    assert all(vario.pseudonymize(u, "py-test-key") in body for u in assigned_users[:20])


def test_no_config_defaults_then_recovery(tmp_path: pathlib.Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    client = vario.Client(
        config_url=url + "config",
        ingest_url=url + "ingest",
        default_params={"pdp_you_may_also_like": {"algo": "fallback"}},
        poll_interval=0.2,
        max_backoff=0.3,
        request_timeout=1.0,
        id_hash_key="k",
    )
    try:
        d = client.decide({"user_id": "u-1", "context": PDP})
        assert d.reason == "NO_CONFIG" and d.params["algo"] == "fallback"
        assert d.to_dict()["params"] == {"algo": "fallback"}
        with pytest.raises(vario.TimeoutError, match="(?i)network|connect"):
            client.wait_for_init(0.5)
        server = DevServer(tmp_path, port=port)
        try:
            client.wait_for_init(10.0)
            d = client.decide({"user_id": "u-1", "context": PDP})
            assert d.reason == "ASSIGNED" and d.params["algo"] != "fallback"
            client.flush(5.0)
            assert wait_until(lambda: len(server.lines()) == 1)
        finally:
            server.stop()
    finally:
        client.close(1.0)


def test_close_and_closed_errors(tmp_path: pathlib.Path) -> None:
    sink = tmp_path / "events.jsonl"
    c = vario.Client(bootstrap=SNAPSHOT.read_text(), sink_path=str(sink), id_hash_key="k")
    c.decide({"user_id": "u-1", "context": PDP})
    c.close()
    assert c.closed
    c.close()  # idempotent
    for call in (
        lambda: c.decide({"user_id": "u", "context": PDP}),
        lambda: c.track("click", user_id="u"),
        lambda: c.flush(),
        lambda: c.expose("v1.x.y"),
    ):
        with pytest.raises(vario.ClosedError):
            call()
    assert c.stats()["events_sent"] == 1
    assert len(sink.read_text().splitlines()) == 1


def test_rust_logs_reach_python_logging(caplog: pytest.LogCaptureFixture, tmp_path: pathlib.Path) -> None:
    snap = json.loads(SNAPSHOT.read_text())
    snap["experiments"][0]["allocation"] = {"weights": {"control": 90}}  # sums to 90: disabled
    with caplog.at_level(logging.INFO, logger="vario"):
        c = vario.Client(bootstrap=json.dumps(snap), sink_path=str(tmp_path / "e.jsonl"), id_hash_key="k")
        c.close()
    msgs = [r.getMessage() for r in caplog.records if r.name == "vario"]
    assert any("ymal_algo" in m and "disabled" in m for m in msgs), msgs


def test_client_snapshot_and_update(tmp_path: pathlib.Path) -> None:
    text = SNAPSHOT.read_text()
    with vario.Client(bootstrap=text, sink_path=str(tmp_path / "e.jsonl")) as c:
        s = c.snapshot()
        assert s is not None and s.version == json.loads(text)["version"]
        newer = json.loads(text)
        newer["version"] += 1
        assert c.update_snapshot(json.dumps(newer)) is True
        assert c.update_snapshot(json.dumps(newer)) is False
        with pytest.raises(vario.SnapshotError):
            c.update_snapshot("{broken")
        assert c.decide({"user_id": "u", "context": PDP}).config_version == newer["version"]


SRM_SNAPSHOT = json.dumps({
    "schema_version": 1, "version": 1,
    "placements": {"home": {"default_params": {"algo": "baseline"}}},
    "experiments": [{
        "id": "e-home", "key": "home_algo", "status": "RUNNING", "placements": ["home"],
        "variants": [{"key": "control"}, {"key": "treatment", "params": {"algo": "two_tower"}}],
        "allocation": {"weights": {"control": 50, "treatment": 50}},
    }],
})  # fmt: skip


def test_the_srm_monitor_flags_a_52_48_split_and_not_50_50(tmp_path: pathlib.Path) -> None:
    """stats()["srm"]: the same scenario as the Rust, C and Node suites."""
    snap = vario.Snapshot.from_json(SRM_SNAPSHOT)
    ids: dict[str, list[str]] = {"control": [], "treatment": []}
    i = 0
    while min(len(v) for v in ids.values()) < 5200:
        uid = f"srm-{i}"
        i += 1
        v = snap.decide({"user_id": uid, "context": {"placement": "home"}}).variant
        if v in ids and len(ids[v]) < 5200:
            ids[v].append(uid)
    for name, n_c, n_t, mismatch in [("skewed", 5200, 4800, True), ("even", 5000, 5000, False)]:
        with vario.Client(bootstrap=SRM_SNAPSHOT, sink_path=str(tmp_path / f"{name}.jsonl"), id_hash_key="k") as c:
            for uid in ids["control"][:n_c] + ids["treatment"][:n_t]:
                for _ in range(2):  # a unit counts once
                    c.decide({"user_id": uid, "context": {"placement": "home"}})
            c.flush(10.0)
            srm = c.stats()["srm"]
        assert len(srm) == 1, srm
        s = srm[0]
        assert s["experiment_key"] == "home_algo" and s["iteration"] == 1
        assert s["units"] == {"control": n_c, "treatment": n_t}
        assert s["expected"] == {"control": 0.5, "treatment": 0.5}
        assert s["srm_mismatch"] is mismatch, (name, s["p_value"])
        assert (s["p_value"] < 1e-3) if mismatch else (s["p_value"] > 0.5), (name, s["p_value"])
        assert s["units_capped"] is False
