"""Arrow-native bulk decisions (`Snapshot.decide_arrow`) and replay through a `SnapshotHistory`.

Every result is held to `Snapshot.decide` on the same request: the shared vectors one row at a
time, a million random ids (with nulls and non-ASCII ids) in each string layout Arrow has, chunked
and not, and per-row context columns. The history is built from files, from texts and from a real
`vario control` on SQLite, and its boundaries are checked to the millisecond.
"""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any, Optional

import pyarrow as pa
import pytest
import vario

from conftest import SNAPSHOT, VECTORS
from test_vectors import now_ms

NOW = 1_793_491_200_000  # 2026-11-01T00:00:00Z, after every start_time in the example snapshot
PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}
COLUMNS = ["experiment_key", "variant", "bucket", "reason", "unit_type", "allocation_share", "config_version"]


@pytest.fixture(scope="module")
def snap() -> vario.Snapshot:
    return vario.Snapshot.from_file(str(SNAPSHOT))


def expected(d: vario.Decision) -> dict[str, Any]:
    """The decision's fields under the table's column names."""
    return {
        "experiment_key": d.experiment_key,
        "variant": d.variant,
        "bucket": d.bucket,
        "reason": str(d.reason),
        "unit_type": None if d.unit_type is None else str(d.unit_type),
        "allocation_share": d.allocation_share,
        "config_version": d.config_version,
    }


def rows(table: Any) -> list[dict[str, Any]]:
    assert table.column_names == COLUMNS
    return table.to_pylist()


def test_every_shared_vector_decides_as_decide() -> None:
    """Each `decide` vector, as a one-row table: ids as Arrow strings, context as scalars and
    again as one-row Arrow columns (the per-row path)."""
    checked = 0
    errors: list[str] = []
    for path in sorted(VECTORS.glob("*.json")):
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or "cases" not in doc:
            continue
        file_snap = None
        if doc.get("snapshot") is not None:
            file_snap = vario.Snapshot.from_json(json.dumps(doc["snapshot"]))
        for case in doc["cases"]:
            if case.get("op") != "decide":
                continue
            req = case["request"]
            # decide_arrow is for bulk assignment: no forced variants, consent or trace per row.
            if req.get("forced") or req.get("consent") is False or "placement" not in (req.get("context") or {}):
                continue
            sn = vario.Snapshot.from_json(json.dumps(case["snapshot"])) if case.get("snapshot") else file_snap
            assert sn is not None, case["id"]
            now = now_ms(case)
            want = expected(sn.decide(req, now=now))
            ctx = dict(req.get("context") or {})
            users = pa.array([req.get("user_id")], pa.string())
            sessions = pa.array([req.get("session_id")], pa.string())
            got = rows(sn.decide_arrow(users, sessions, context=ctx, now=now))[0]
            if got != want:
                errors.append(f"{case['id']}: {got} != {want}")
            scalar_ok = all(isinstance(v, (str, int, float, bool)) for k, v in ctx.items() if k != "placement")
            if scalar_ok and len(ctx) > 1:
                per_row = {k: (v if k == "placement" else pa.array([v])) for k, v in ctx.items()}
                got = rows(sn.decide_arrow(users, sessions, context=per_row, now=now))[0]
                if got != want:
                    errors.append(f"{case['id']} (context columns): {got} != {want}")
            checked += 1
    assert not errors, "\n".join(errors[:20])
    assert checked >= 100, f"only {checked} vectors were checked"


def random_ids(n: int, seed: int) -> list[Optional[str]]:
    rng = random.Random(seed)
    out: list[Optional[str]] = []
    for i in range(n):
        r = rng.random()
        if r < 0.01:
            out.append(None)
        elif r < 0.02:
            out.append("")
        elif r < 0.05:
            out.append(f"visiteur-é-{rng.getrandbits(40):x}-日本")
        else:
            out.append(f"u-{rng.getrandbits(48):x}-{i}")
    return out


def test_a_million_random_ids_in_every_layout(snap: vario.Snapshot) -> None:
    n = 1_000_000
    ids = random_ids(n, 7)
    base = snap.decide_arrow(pa.array(ids, pa.string()), context=PDP, now=NOW)
    assert base.num_rows == n
    mismatches = [
        i for i, got in enumerate(base.to_pylist()) if got != expected(snap.decide({"user_id": ids[i], "context": PDP}, now=NOW))
    ]
    assert not mismatches, f"{len(mismatches)} rows differ from decide, first {mismatches[:5]}"
    assert base.column("reason").null_count == 0 and base.column("variant").null_count > 0
    s = pa.array(ids, pa.string())
    layouts = {
        "large_string": pa.array(ids, pa.large_string()),
        "string_view": pa.array(ids, pa.string_view()),
        "dictionary": s.dictionary_encode(),
        "dictionary of large_string": pa.array(ids, pa.large_string()).dictionary_encode(),
        "chunked": pa.chunked_array([s.slice(0, 1), s.slice(1, 333_333), s.slice(333_334, 0), s.slice(333_334)]),
        "chunked string_view": pa.chunked_array([pa.array(ids[:500_000], pa.string_view()), pa.array(ids[500_000:], pa.string_view())]),
        "sliced": pa.array(["x"] + ids, pa.string()).slice(1),
    }
    for name, col in layouts.items():
        got = snap.decide_arrow(col, context=PDP, now=NOW)
        assert got.equals(base), f"{name}: the table differs from the plain string column's"


def test_a_duckdb_result_column(snap: vario.Snapshot) -> None:
    import duckdb

    con = duckdb.connect()
    t = con.sql("select 'duck-' || i::varchar as user_id from range(5000) t(i)").to_arrow_table()
    got = rows(snap.decide_arrow(t["user_id"], context=PDP, now=NOW))
    for i, r in enumerate(got):
        assert r == expected(snap.decide({"user_id": f"duck-{i}", "context": PDP}, now=NOW)), i


def test_sessions_and_chunking_that_differs_between_columns(snap: vario.Snapshot) -> None:
    users = random_ids(20_000, 1)
    sessions = random_ids(20_000, 2)
    ctx = {"placement": "home", "locale": "en-GB"}
    u = pa.chunked_array([pa.array(users[:7], pa.string()), pa.array(users[7:], pa.string())])
    s = pa.chunked_array([pa.array(sessions[:12_345], pa.large_string()), pa.array(sessions[12_345:], pa.large_string())])
    got = rows(snap.decide_arrow(u, s, context=ctx, now=NOW))
    for i in range(len(users)):
        want = expected(snap.decide({"user_id": users[i], "session_id": sessions[i], "context": ctx}, now=NOW))
        assert got[i] == want, (i, got[i], want)


def test_per_row_context_columns_target_like_a_per_row_context(snap: vario.Snapshot) -> None:
    n = 30_000
    rng = random.Random(3)
    users = [f"ctx-user-{i}" for i in range(n)]
    locales = [rng.choice(["en-GB", "de-DE", "fr-FR", None]) for _ in range(n)]
    versions = [rng.choice([1, 2, 3, None]) for _ in range(n)]
    prices = [rng.choice([9.5, 120.0, None]) for _ in range(n)]
    ctx = {
        "placement": "pdp_you_may_also_like",
        "page_type": "pdp",
        "locale": pa.array(locales).dictionary_encode(),
        "app_build": pa.array(versions, pa.int16()),
        "price": pa.array(prices, pa.float32()),
    }
    got = rows(snap.decide_arrow(pa.array(users), context=ctx, now=NOW))
    for i in range(n):
        c: dict[str, Any] = {"placement": "pdp_you_may_also_like", "page_type": "pdp"}
        for k, v in (("locale", locales[i]), ("app_build", versions[i]), ("price", prices[i])):
            if v is not None:
                c[k] = v
        assert got[i] == expected(snap.decide({"user_id": users[i], "context": c}, now=NOW)), i


def test_empty_input_and_refusals(snap: vario.Snapshot) -> None:
    t = snap.decide_arrow(pa.array([], pa.string()), context=PDP, now=NOW)
    assert t.num_rows == 0 and t.column_names == COLUMNS
    t = snap.decide_arrow(pa.chunked_array([], pa.string()), context=PDP, now=NOW)
    assert t.num_rows == 0
    t = snap.decide_arrow(pa.nulls(3), context=PDP, now=NOW)
    assert [r["reason"] for r in rows(t)] == [str(snap.decide({"context": PDP}, now=NOW).reason)] * 3
    bad: list[tuple[Any, dict[str, Any]]] = [
        (["a", "b"], {}),
        (pa.array([1, 2]), {}),
        (pa.array(["a"]), {"session_ids": pa.array(["x", "y"])}),
        (pa.array(["a"]), {"context": {"page_type": "pdp"}}),
        (pa.array(["a"]), {"context": {**PDP, "locale": pa.array(["en-GB", "de-DE"])}}),
        (pa.array(["a"]), {"at": pa.array(["yesterday"])}),
    ]
    for ids, kw in bad:
        kw.setdefault("context", PDP)
        with pytest.raises(vario.InvalidRequestError) as e:
            snap.decide_arrow(ids, **kw)
        assert e.value.code == "INVALID_REQUEST", (ids, kw)


def test_at_is_each_rows_now(snap: vario.Snapshot) -> None:
    raw = json.loads(SNAPSHOT.read_text())
    starts = sorted(e["start_time"] for e in raw["experiments"] if e.get("start_time"))
    assert starts, "the example snapshot has a scheduled experiment"
    users = [f"at-user-{i}" for i in range(2000)]
    times = [NOW if i % 2 else 0 for i in range(len(users))]
    got = rows(snap.decide_arrow(pa.array(users), context=PDP, at=pa.array(times, pa.timestamp("ms", tz="UTC"))))
    for i, u in enumerate(users):
        assert got[i] == expected(snap.decide({"user_id": u, "context": PDP}, now=times[i])), i
    # Other units and plain integers (ms) mean the same instants.
    us = pa.array([t * 1000 for t in times], pa.timestamp("us"))
    assert snap.decide_arrow(pa.array(users), context=PDP, at=us).equals(
        snap.decide_arrow(pa.array(users), context=PDP, at=pa.array(times, pa.int64()))
    )


def versioned(version: int, published_at: Optional[str], traffic: int) -> str:
    """A small snapshot whose experiment's traffic tells the versions apart."""
    doc: dict[str, Any] = {
        "schema_version": 1,
        "version": version,
        "placements": {"home": {"default_params": {"algo": "baseline"}}},
        "experiments": [
            {
                "id": 1,
                "key": "home_algo",
                "status": "RUNNING",
                "placements": ["home"],
                "variants": [{"key": "control"}, {"key": f"treatment_v{version}"}],
                "allocation": {"weights": {"control": 50, f"treatment_v{version}": 50}, "traffic": traffic},
            }
        ],
    }
    if published_at is not None:
        doc["published_at"] = published_at
    return json.dumps(doc)


T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T12:00:00.500Z"


def ms(rfc: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(rfc.replace("Z", "+00:00")).timestamp() * 1000)


def test_history_boundaries(tmp_path: pathlib.Path) -> None:
    for v, t, traffic in ((3, T3, 100), (1, T1, 20), (2, T2, 60)):
        (tmp_path / f"snapshot-{v}.json").write_text(versioned(v, t, traffic))
    (tmp_path / "notes.txt").write_text("not a snapshot")
    h = vario.SnapshotHistory.from_folder(tmp_path)
    assert h.versions == [1, 2, 3] and len(h) == 3
    assert h.published_at == [ms(T1), ms(T2), ms(T3)]
    probes = []
    for t in (ms(T1), ms(T2), ms(T3)):
        probes += [t - 1, t, t + 1]
    probes += [0, ms(T3) + 10**12]
    users = [f"hist-{i}" for i in range(300)]
    uid = [u for u in users for _ in probes]
    at = [t for _ in users for t in probes]
    got = rows(h.decide_arrow(pa.array(uid), pa.array(at, pa.timestamp("ms")), context={"placement": "home"}))
    for i, r in enumerate(got):
        live = h.at(at[i])
        if live is None:
            assert at[i] < ms(T1)
            assert r["reason"] == "NO_CONFIG" and r["config_version"] is None and r["variant"] is None
            continue
        want_version = 1 if at[i] < ms(T2) else 2 if at[i] < ms(T3) else 3
        assert live.version == want_version
        assert r == expected(live.decide({"user_id": uid[i], "context": {"placement": "home"}}, now=at[i])), (i, r)
    # Variants of several versions share one dictionary.
    assert {r["variant"] for r in got} >= {"control", "treatment_v1", "treatment_v2", "treatment_v3"}
    # The same history from texts, with the instants given beside them.
    h2 = vario.SnapshotHistory.from_texts([(versioned(1, None, 20), T1), versioned(2, T2, 60), (versioned(3, None, 100), ms(T3))])
    assert h2.published_at == h.published_at
    with pytest.raises(vario.InvalidRequestError):
        h.decide_arrow(pa.array(["a"]), pa.array(["not a time"]), context={"placement": "home"})


def test_history_refusals(tmp_path: pathlib.Path) -> None:
    cases = {
        "a gap": ([versioned(1, T1, 20), versioned(3, T3, 100)], "versions jump from 1 to 3"),
        "unordered": ([versioned(1, T2, 20), versioned(2, T1, 60)], "was published at"),
        "a duplicate": ([versioned(2, T1, 20), versioned(2, T2, 60)], "appears twice"),
        "no published_at": ([versioned(1, T1, 20), versioned(2, None, 60)], "has no `published_at`"),
        "nothing": ([], "at least one snapshot"),
    }
    for name, (texts, message) in cases.items():
        with pytest.raises(vario.SnapshotError) as e:
            vario.SnapshotHistory.from_texts(list(texts))
        assert e.value.code == "INVALID_SNAPSHOT" and message in str(e.value), (name, str(e.value))
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        for i, t in enumerate(texts):
            (folder / f"{i}.json").write_text(t)
        with pytest.raises(vario.SnapshotError) as e:
            vario.SnapshotHistory.from_folder(folder)
        assert e.value.code == "INVALID_SNAPSHOT" and message in str(e.value), (name, str(e.value))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "1.json").write_text("{not json")
    with pytest.raises(vario.SnapshotError) as e:
        vario.SnapshotHistory.from_folder(tmp_path / "broken")
    assert e.value.code == "NOT_JSON"
    with pytest.raises(vario.SnapshotError) as e:
        vario.SnapshotHistory.from_folder(tmp_path / "missing")
    assert e.value.code == "NOT_JSON"


def test_history_from_the_control_plane(tmp_path: pathlib.Path) -> None:
    from test_control import ADMIN, ControlPlane

    cp = ControlPlane(tmp_path)
    try:
        env_id = cp.ok("POST", "/environments", {"name": "py-history"}, status=201)["id"]
        cp.ok("PUT", f"/environments/{env_id}/placements/home", {"default_params": {"algo": "baseline"}})
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
                "allocation": {"weights": {"control": 50, "treatment": 50}, "traffic": 50},
            },
            status=201,
        )
        cp.ok("PATCH", f"/experiments/{exp['id']}/status", {"status": "RUNNING"})
        cp.ok("POST", f"/environments/{env_id}/publish")
        cp.ok("PATCH", f"/experiments/{exp['id']}/status", {"status": "PAUSED"})
        cp.ok("POST", f"/environments/{env_id}/publish")
        listed = cp.ok("GET", f"/environments/{env_id}/versions")
        h = vario.SnapshotHistory.from_control_plane(cp.url, env_id, ADMIN)
        assert h.versions == [1, 2]
        assert h.published_at == sorted(ms(v["published_at"]) for v in listed)
        t1, t2 = h.published_at
        users = [f"cp-{i}" for i in range(500)]
        got = rows(h.decide_arrow(pa.array(users * 2), pa.array([t1] * 500 + [t2] * 500, pa.int64()), context={"placement": "home"}))
        stored = [vario.Snapshot.from_json(cp.call("GET", f"/environments/{env_id}/versions/{v}").raw.decode()) for v in (1, 2)]
        for i, r in enumerate(got):
            sn, t = (stored[0], t1) if i < 500 else (stored[1], t2)
            assert r == expected(sn.decide({"user_id": users[i % 500], "context": {"placement": "home"}}, now=t)), i
        assert {r["reason"] for r in got[500:]} == {"PAUSED"} or all(r["variant"] is None for r in got[500:])
        with pytest.raises(vario.VarioError) as e:
            vario.SnapshotHistory.from_control_plane(cp.url, env_id, "wrong-token")
        assert "401" in str(e.value)
    finally:
        cp.stop()


def test_a_snapshot_without_experiments() -> None:
    """Empty dictionaries: every row null in experiment_key and variant, none out of bounds."""
    sn = vario.Snapshot.from_json(json.dumps({"schema_version": 1, "version": 4, "placements": {"home": {"default_params": {}}}}))
    got = rows(sn.decide_arrow(pa.array(["a", None, "b"]), context={"placement": "home"}, now=NOW))
    assert [r["reason"] for r in got] == [str(sn.decide({"user_id": u, "context": {"placement": "home"}}, now=NOW).reason) for u in ("a", None, "b")]
    assert all(r["variant"] is None and r["experiment_key"] is None for r in got)
