"""The pure API: types, read-only params, errors, bulk decisions, panics."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import numpy as np
import pytest
import vario

from conftest import SNAPSHOT

NOW = 1_793_491_200_000  # 2026-11-01T00:00:00Z, after every start_time in the example snapshot
PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}


@pytest.fixture(scope="module")
def snap() -> vario.Snapshot:
    return vario.Snapshot.from_file(str(SNAPSHOT))


def test_bucket_matches_the_spec_rule() -> None:
    # SPEC §1 example values are pinned by the shared vectors; here: the function surface.
    b = vario.bucket("u-1", "exp", "salt")
    assert 0 <= b < 10_000
    assert b == vario.digest("u-1", "exp", "salt") % 10_000
    assert vario.bucket("u-1", "exp", "salt", seed=7) == vario.digest("u-1", "exp", "salt", 7) % 10_000


def test_decision_attributes(snap: vario.Snapshot) -> None:
    d = snap.decide({"user_id": "u-42", "session_id": "s-1", "context": PDP}, now=NOW)
    assert d.reason == "ASSIGNED" and d.enrolled
    assert d.placement == "pdp_you_may_also_like"
    assert d.experiment_key == "ymal_algo"
    assert d.variant in ("control", "two_tower", "graph")
    assert d.unit_type == "user"
    assert d.hash_key == "ymal_algo:u-42"
    raw = json.loads(SNAPSHOT.read_text())
    salt = next(e.get("salt", e["key"]) for e in raw["experiments"] if e["key"] == "ymal_algo")
    assert d.bucket == vario.bucket("u-42", "ymal_algo", salt, raw["hashing"]["seed"])
    assert d.config_version == snap.version
    assert 0 < d.allocation_share <= 1
    assert d.exposure_token is None and d.trace is None
    assert "algo" in d.params
    as_dict = d.to_dict()
    assert list(as_dict) == [
        "placement", "experiment_id", "experiment_key", "variant", "params", "reason", "unit_type",
        "bucket", "hash_key", "allocation_share", "iteration", "config_version",
    ]
    json.dumps(as_dict)  # plain, serialisable values


def test_params_are_shared_and_read_only(snap: vario.Snapshot) -> None:
    a = snap.decide({"user_id": "u-42", "context": PDP}, now=NOW)
    b = snap.decide({"user_id": "u-42", "context": PDP}, now=NOW)
    assert a.params is b.params  # converted once per snapshot, not per call
    with pytest.raises(TypeError):
        a.params["algo"] = "mine"  # type: ignore[index]
    copy = dict(a.params)
    copy["algo"] = "mine"
    assert snap.decide({"user_id": "u-42", "context": PDP}, now=NOW).params["algo"] == a.params["algo"] != "mine"
    assert b.params == a.params


def test_now_forms_agree(snap: vario.Snapshot) -> None:
    req = {"user_id": "u-7", "context": PDP}
    by_int = snap.decide(req, now=NOW).to_dict()
    by_str = snap.decide(req, now="2026-11-01T00:00:00Z").to_dict()
    by_dt = snap.decide(req, now=datetime(2026, 11, 1, tzinfo=timezone.utc)).to_dict()
    assert by_int == by_str == by_dt
    # Before the experiment's start_time.
    assert snap.decide(req, now=0).reason == "NOT_STARTED"


def test_context_reuse_between_shapes(snap: vario.Snapshot) -> None:
    # The context map is reused across calls and updated in place when the keys repeat:
    # alternating shapes and values must decide exactly like the engine's JSON path.
    shapes = [
        {"placement": "home", "locale": "en-GB"},
        {"placement": "home", "locale": "fr-FR"},
        {"placement": "home"},
        {"placement": "home", "page_type": "home", "locale": "de-DE"},
        {"placement": "home", "locale": None},
        {"locale": "en-US", "placement": "home"},
    ]
    for i in range(3000):
        ctx = shapes[i % len(shapes)]
        req = {"user_id": f"u-{i}", "context": ctx}
        got = json.dumps(snap.decide(req, now=NOW).to_dict(), separators=(",", ":"))
        assert got == snap._decide_json(json.dumps(req), NOW), (i, ctx)


def test_errors_subclass_vario_error(snap: vario.Snapshot) -> None:
    for exc in (
        vario.InvalidRequestError, vario.SnapshotError, vario.OptionsError, vario.TokenError,
        vario.TimeoutError, vario.ClosedError, vario.InternalError,
    ):
        assert issubclass(exc, vario.VarioError)
    with pytest.raises(vario.InvalidRequestError):
        snap.decide({"user_id": 5, "context": PDP})
    with pytest.raises(vario.InvalidRequestError):
        snap.decide({"user_id": "u"})  # no placement
    with pytest.raises(vario.InvalidRequestError):
        snap.decide(["not", "a", "dict"])  # type: ignore[arg-type]
    # A targeted attribute (home_hero targets `locale`) must be JSON-like; attributes no rule
    # reads are not converted at all.
    with pytest.raises(vario.InvalidRequestError):
        snap.decide({"user_id": "u", "context": {"placement": "home", "locale": object()}})
    assert snap.decide({"user_id": "u", "context": {"placement": "home", "x": object()}}).reason
    with pytest.raises(vario.SnapshotError) as e:
        vario.Snapshot.from_json("{not json")
    assert e.value.code == "NOT_JSON"
    with pytest.raises(vario.SnapshotError) as e:
        vario.Snapshot.from_json('{"schema_version": 2}')
    assert e.value.code == "SCHEMA_VERSION"
    with pytest.raises(vario.OptionsError):
        vario.Client(bootstrap="{}", config_url="http://x")
    with pytest.raises(vario.OptionsError):
        vario.Client(bootstrap="{}", no_such_option=1)


def test_a_panic_is_an_exception_not_a_crash() -> None:
    with pytest.raises(vario.InternalError, match="_debug_panic"):
        vario._vario._debug_panic()  # type: ignore[attr-defined]
    assert vario.bucket("still", "alive", "here") >= 0


def test_decide_many_equals_decide_on_a_million_ids(snap: vario.Snapshot) -> None:
    n = 1_000_000
    users = [f"visitor-{i}" for i in range(n)]
    batch = snap.decide_many(users, context=PDP, now=NOW)
    assert len(batch) == n
    assert batch.variant_codes.dtype == np.int32 and batch.enrolled.dtype == np.bool_
    keys = batch.variant_keys
    reasons = batch.reason_names
    mismatches = 0
    for i in range(0, n):
        d = snap.decide({"user_id": users[i], "context": PDP}, now=NOW)
        code = batch.variant_codes[i]
        v = keys[code] if code >= 0 else None
        b = batch.buckets[i]
        if (v, reasons[batch.reason_codes[i]], None if b < 0 else int(b)) != (d.variant, d.reason, d.bucket):
            mismatches += 1
    assert mismatches == 0
    # The 34/33/33 split and the staff segment exclusion are visible in the bulk result.
    counts = np.bincount(batch.variant_codes[batch.enrolled], minlength=len(keys))
    shares = counts[counts > 0] / counts.sum()
    assert len(shares) == 3 and abs(shares.max() - 0.34) < 0.01


def test_decide_many_inputs(snap: vario.Snapshot) -> None:
    users = np.array(["a", "b", "c"])
    sessions = ["s1", None, "s3"]
    b = snap.decide_many(users, session_ids=sessions, context={"placement": "home", "locale": "en-GB"}, now=NOW)
    for i, u in enumerate(["a", "b", "c"]):
        d = snap.decide({"user_id": u, "session_id": sessions[i], "context": {"placement": "home", "locale": "en-GB"}}, now=NOW)
        assert (b.reason_names[b.reason_codes[i]], None if b.buckets[i] < 0 else b.buckets[i]) == (d.reason, d.bucket)
    with pytest.raises(vario.InvalidRequestError):
        snap.decide_many(["a"], session_ids=["x", "y"], context={"placement": "home"})
    with pytest.raises(vario.InvalidRequestError):
        snap.decide_many(["a"], context={"page_type": "pdp"})
    with pytest.raises(vario.InvalidRequestError):
        snap.decide_many([1, 2], context={"placement": "home"})


def test_decide_many_releases_the_gil(snap: vario.Snapshot) -> None:
    # While one thread runs a long bulk decision, another thread keeps running Python code.
    users = [f"v-{i}" for i in range(600_000)]
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    snap.decide_many(users, context=PDP, now=NOW)
    before = ticks
    snap.decide_many(users, context=PDP, now=NOW)
    during = ticks - before
    done.set()
    t.join()
    assert during > 1000, f"the other thread advanced only {during} times during decide_many"


def test_flag_and_exposure(snap: vario.Snapshot) -> None:
    f = snap.flag("no_such_flag", {"user_id": "u"}, now=NOW)
    assert f.reason == "FLAG_NOT_FOUND" and f.variant is None
    assert f.to_dict()["flag"] == "no_such_flag"
    exp = snap.exposure({"user_id": "u-42", "context": PDP}, now=NOW)
    assert exp is not None and exp["experiment_key"] == "ymal_algo"
    assert "u-42" not in json.dumps(exp)
    assert snap.exposure({"user_id": "u-42", "context": {"placement": "search"}}, now=NOW) is None


def test_decide_many_non_ascii_and_absent_ids(snap: vario.Snapshot) -> None:
    # Ids are read in place from each str's cached UTF-8 form: non-ASCII ids (whose UTF-8 form
    # CPython builds on demand) and a list dropped right after the call must decide like decide().
    users: list[str | None] = [f"ユーザー-{i}-é" for i in range(3000)] + [None, "", "plain"]
    b = snap.decide_many(list(users), context=PDP, now=NOW)
    for i, u in enumerate(users):
        d = snap.decide({"user_id": u, "context": PDP}, now=NOW)
        got = (b.reason_names[b.reason_codes[i]], None if b.buckets[i] < 0 else int(b.buckets[i]))
        assert got == (d.reason, d.bucket), (i, u)
