"""The shared vector suite (contract/vectors/*.json), run through the Python API.

Every case is checked against the independent generator's expectations, and every decision's
`to_dict()` is also compared byte for byte with the Rust engine's own JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import vario

from conftest import VECTORS

# Where the clients of `error` cases write their (few) events; removed after the run.
ERROR_SINK = Path(tempfile.gettempdir()) / f"vario-py-error-vectors-{os.getpid()}.jsonl"


def json_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    return a == b


def thaw(v: Any) -> Any:
    """The read-only params mapping as plain JSON-like values (tuples were arrays)."""
    if isinstance(v, tuple):
        return [thaw(x) for x in v]
    if hasattr(v, "items") and not isinstance(v, dict):
        return {k: thaw(x) for k, x in v.items()}
    if isinstance(v, dict):
        return {k: thaw(x) for k, x in v.items()}
    return v


def now_ms(case: dict) -> int:
    t = case.get("now")
    if not t:
        return 0
    return int(datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp() * 1000)


def compare(cid: str, what: str, expect: dict, got: dict, errors: list[str], skip: tuple = ()) -> None:
    for k, want in expect.items():
        if k in skip:
            continue
        have = got.get(k)
        if not json_eq(want, have):
            errors.append(f"{cid}: {what}.{k}: expected {want!r}, got {have!r}")


def key_salt(raw: dict, key: str) -> tuple[str, str] | None:
    for e in raw.get("experiments", []):
        if e.get("key") == key:
            return key, e.get("salt") or key
    return None


def run_case(case: dict, file_snap: tuple[dict, vario.Snapshot] | None, errors: list[str]) -> None:
    cid, op = case["id"], case["op"]
    expect = case.get("expect", {})
    snap = file_snap
    if case.get("snapshot") is not None:
        snap = (case["snapshot"], vario.Snapshot.from_json(json.dumps(case["snapshot"])))
    if op == "bucket":
        u, k, s, seed = case["unit_id"], case["key"], case["salt"], case.get("seed", 0)
        got = {
            "hash_input_hex": f"{u}:{k}:{s}".encode().hex(),
            "digest": vario.digest(u, k, s, seed),
            "bucket": vario.bucket(u, k, s, seed),
        }
        compare(cid, "bucket", expect, got, errors)
    elif op == "decide":
        assert snap is not None, cid
        raw, sn = snap
        now = now_ms(case)
        d = sn.decide(case["request"], now=now)
        got = d.to_dict()
        compare(cid, "decision", expect, got, errors, skip=("exposure", "trace_reasons", "hash"))
        rust = sn._decide_json(json.dumps(case["request"]), now)
        mine = json.dumps(got, separators=(",", ":"), ensure_ascii=False)
        if mine != rust:
            errors.append(f"{cid}: to_dict() JSON differs from the engine's:\n  {mine}\n  {rust}")
        if thaw(d.params) != got["params"] or list(d.params) != list(got["params"]):
            errors.append(f"{cid}: params mapping {dict(d.params)} differs from to_dict() {got['params']}")
        if "exposure" in expect:
            exp = sn.exposure(case["request"], now=now)
            want = expect["exposure"]
            if want is None and exp is not None:
                errors.append(f"{cid}: expected no exposure, got {exp}")
            elif want is not None and exp is None:
                errors.append(f"{cid}: expected exposure {want}, got none")
            elif want is not None:
                compare(cid, "exposure", want, exp, errors)
        if "trace_reasons" in expect:
            got_t = [[t["experiment_key"], t["reason"]] for t in (d.trace or [])]
            if not json_eq(expect["trace_reasons"], got_t):
                errors.append(f"{cid}: trace_reasons: expected {expect['trace_reasons']}, got {got_t}")
        if "hash" in expect:
            ks = key_salt(raw, d.experiment_key) if d.experiment_key else None
            hk = d.hash_key
            if ks is None or hk is None:
                errors.append(f"{cid}: expected a hash, the decision has no experiment/unit")
            else:
                unit = hk[len(ks[0]) + 1 :]
                seed = raw.get("hashing", {}).get("seed", 0)
                got_h = {
                    "input_hex": f"{unit}:{ks[0]}:{ks[1]}".encode().hex(),
                    "digest": vario.digest(unit, ks[0], ks[1], seed),
                    "bucket": d.bucket,
                }
                compare(cid, "hash", expect["hash"], got_h, errors)
    elif op == "flag":
        assert snap is not None, cid
        f = snap[1].flag(case["flag"], case["request"], now=now_ms(case))
        compare(cid, "flag", expect, f.to_dict(), errors)
    elif op == "load":
        try:
            s = vario.Snapshot.from_json(case["snapshot_text"])
        except vario.SnapshotError as e:
            if expect.get("error") != e.code:
                errors.append(f"{cid}: rejected with {e.code} ({e}), expected {expect.get('error')}")
            return
        if "error" in expect:
            errors.append(f"{cid}: expected rejection {expect['error']}, snapshot loaded")
        elif "lints" in expect:
            want = {(l["code"], l["item"]) for l in expect["lints"]}
            got_l = {(l["code"], l["item"]) for l in s.lints}
            if want != got_l:
                errors.append(f"{cid}: lints: expected {sorted(want)}, got {sorted(got_l)}")
    elif op == "request_error":
        raw_snap = vario.Snapshot.from_json('{"schema_version": 1, "version": 1}')
        try:
            raw_snap.decide(case["request"], now=0)
            errors.append(f"{cid}: request accepted, expected {expect.get('error')}")
        except vario.InvalidRequestError:
            if expect.get("error") != "INVALID_REQUEST":
                errors.append(f"{cid}: unexpected expectation {expect}")
    elif op == "error":
        run_error(case, snap, errors, str(ERROR_SINK))
    elif op == "pseudonymize":
        compare(cid, "pseudonymize", expect, {"value": vario.pseudonymize(case["unit_id"], case["key"])}, errors)
    elif op in ("interleave", "credit"):
        got = run_interleave(case)
        compare(cid, op, expect, got, errors)
        if ("code" in expect) != ("code" in got):
            errors.append(f"{cid}: {op}: expected {expect}, got {got}")
    else:
        errors.append(f"{cid}: unknown op {op}")


def run_interleave(case: dict) -> dict:
    """An `interleave` or `credit` case through the module functions, as the JSON the vectors expect."""
    m, a, b = case["method"], case["a"], case["b"]
    try:
        if case["op"] == "interleave":
            il = vario.interleave(
                m, a, b, case["unit_id"], case["key"], case["salt"], query=case["query"],
                length=case.get("length"), seed=case["seed"],
            )
            got: dict = {"items": il.items, "teams": il.teams}
            if "clicks" not in case:
                return got
            teams = il.teams
        else:
            got, teams = {}, case["teams"]
        c = vario.credit(m, a, b, teams, case["clicks"])
        return {**got, "credit": c, "winner": vario.winner(c)}
    except vario.VarioError as e:
        return {"code": e.code}


def run_error(case: dict, file_snap: tuple[dict, vario.Snapshot] | None, errors: list[str], tmp: str) -> None:
    """`error` cases (errors.json): the input is refused with a VarioError carrying the code."""
    cid, call, want = case["id"], case["call"], case["expect"]["code"]
    assert file_snap is not None, cid

    def client(**extra: object) -> vario.Client:
        opts: dict = {"bootstrap": json.dumps(file_snap[0]), "sink_path": tmp}
        opts.update(extra)
        return vario.Client(**opts)

    try:
        if call == "snapshot":
            vario.Snapshot.from_json(case["snapshot_text"])
        elif call == "request":
            file_snap[1].decide(case["request"], now=0)
        elif call == "options":
            client(**case["options"]).close()
        else:
            extra = {k: case[k] for k in ("id_hash_key", "allow_unsigned_tokens") if k in case}
            with client(**extra) as c:
                if call == "token":
                    c.expose(case["token"])
                elif call == "update":
                    c.update_snapshot(case["snapshot_text"])
                elif call == "after_close":
                    c.close()
                    {
                        "decide": lambda: c.decide({"user_id": "u-1", "context": {"placement": "pdp_ymal"}}),
                        "track": lambda: c.track("click", user_id="u-1"),
                        "flush": lambda: c.flush(),
                    }[case["method"]]()
                else:
                    errors.append(f"{cid}: unknown call {call}")
                    return
        errors.append(f"{cid}: expected {want}, the call succeeded")
    except vario.VarioError as e:
        if getattr(e, "code", None) != want:
            errors.append(f"{cid}: expected {want}, got {type(e).__name__} code={getattr(e, 'code', None)!r}: {e}")
    except Exception as e:  # noqa: BLE001 - anything but a VarioError is a surface bug
        errors.append(f"{cid}: expected VarioError {want}, got {type(e).__name__}: {e}")


def test_shared_vectors() -> None:
    files = sorted(VECTORS.glob("*.json"))
    errors: list[str] = []
    seen: set[str] = set()
    total = 0
    for path in files:
        doc = json.loads(path.read_text())
        assert doc["format"] == "vario-vectors/1"
        assert doc["algorithm"] == "xxh32-colon-mod10000"
        file_snap = None
        if doc.get("snapshot") is not None:
            file_snap = (doc["snapshot"], vario.Snapshot.from_json(json.dumps(doc["snapshot"])))
        for case in doc["cases"]:
            assert case["id"] not in seen, case["id"]
            seen.add(case["id"])
            total += 1
            run_case(case, file_snap, errors)
    ERROR_SINK.unlink(missing_ok=True)
    print(f"{total} vector cases in {len(files)} files")
    assert total >= 600, total
    assert not errors, f"{len(errors)} of {total} cases failed:\n" + "\n".join(errors[:50])
