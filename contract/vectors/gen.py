#!/usr/bin/env python3
"""Generate Vario's shared conformance vectors (contract/vectors/*.json).

This is an *independent* reference implementation of ../../../shared/SPEC.md plus the choices pinned
in README.md next to this file. It never imports or reads Vario's own code: bucketing uses the
`xxhash` package (cross-checked against a pure-Python xxh32 below), everything else is plain Python.

    python3 contract/vectors/gen.py            # rewrite contract/vectors/*.json
    python3 contract/vectors/gen.py --check    # exit 1 if the files on disk differ from a fresh run

Every expected value in the output is computed by the oracle in part A. The case builders in part B
also state what a human expects (`want=`); gen.py asserts that the oracle agrees, so a bug in either
the oracle or the case design fails loudly instead of being frozen into the vectors.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import json
import re
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import xxhash

HERE = Path(__file__).resolve().parent
FORMAT = "vario-vectors/1"
SPEC_VERSION = 1
ALGORITHM = "xxh32-colon-mod10000"
U32 = 0xFFFFFFFF

# =================================================================================================
# Part A. Reference implementation (the oracle)
# =================================================================================================

# ---- A.1 xxh32, pure Python (only used to cross-check the xxhash package) ----------------------

_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & U32


def xxh32_py(data: bytes, seed: int) -> int:
    n, i = len(data), 0
    rd = lambda j: int.from_bytes(data[j:j + 4], "little")  # noqa: E731
    if n >= 16:
        v = [(seed + _P1 + _P2) & U32, (seed + _P2) & U32, seed & U32, (seed - _P1) & U32]
        while i + 16 <= n:
            for lane in range(4):
                v[lane] = (_rotl((v[lane] + rd(i) * _P2) & U32, 13) * _P1) & U32
                i += 4
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & U32
    else:
        h = (seed + _P5) & U32
    h = (h + n) & U32
    while i + 4 <= n:
        h = (_rotl((h + rd(i) * _P3) & U32, 17) * _P4) & U32
        i += 4
    while i < n:
        h = (_rotl((h + data[i] * _P5) & U32, 11) * _P1) & U32
        i += 1
    h ^= h >> 15
    h = (h * _P2) & U32
    h ^= h >> 13
    h = (h * _P3) & U32
    h ^= h >> 16
    return h


def hash_input(unit_id: str, key: str, salt: str) -> bytes:
    return (unit_id + ":" + key + ":" + salt).encode("utf-8")


def bucket_full(unit_id, key, salt, seed):
    """SPEC §1: (input bytes, xxh32 digest, digest mod 10000), checked against two xxh32s."""
    data = hash_input(unit_id, key, salt)
    digest = xxhash.xxh32_intdigest(data, seed)
    assert digest == xxh32_py(data, seed), (data, seed)
    return data, digest, digest % 10000


def fast_bucket(unit_id, key, salt, seed):
    return xxhash.xxh32_intdigest(hash_input(unit_id, key, salt), seed) % 10000


def hash_obj(unit_id, key, salt, seed):
    data, digest, b = bucket_full(unit_id, key, salt, seed)
    return {"input_hex": data.hex(), "digest": digest, "bucket": b}


# Known answers from outside this file (xxHash reference values, and the demo ids in
# shared/notes/test-vectors.md, computed there independently).
assert xxhash.xxh32_intdigest(b"", 0) == 0x02CC5D05 == xxh32_py(b"", 0)
assert xxhash.xxh32_intdigest(b"abc", 0) == 0x32D153FF == xxh32_py(b"abc", 0)
assert xxhash.xxh32_intdigest(b"a", 0) == 0x550D7456 == xxh32_py(b"a", 0)
assert bucket_full("u16618", "demo_exp", "s1", 0)[1:] == (2324825000, 5000)
assert bucket_full("u1245", "demo_exp", "s1", 0)[1:] == (686934999, 4999)
assert fast_bucket("u11031", "demo_exp", "s1", 0) == 0
assert fast_bucket("u13939", "demo_exp", "s1", 0) == 9999

# ---- A.2 small helpers -----------------------------------------------------------------------


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_scalar(v):
    return isinstance(v, (str, bool)) or is_num(v)


def typed_eq(a, b):
    """Equality within one JSON type; numbers compare as f64 (1 == 1.0); bool is not a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_num(a) and is_num(b):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def pct_to_bp(p):
    """A percentage with at most two decimals in [0, 100] -> basis points, else None."""
    if not is_num(p) or p < 0 or p > 100:
        return None
    bp = round(p * 100)
    if abs(p * 100 - bp) > 1e-6:
        return None
    return bp


_TS_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_ts(s):
    """RFC 3339 -> integer epoch milliseconds, or None."""
    if not isinstance(s, str):
        return None
    m = _TS_RE.match(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    frac, off = m.group(7), m.group(8)
    try:
        dt = datetime(y, mo, d, hh, mi, ss, tzinfo=timezone.utc)
    except ValueError:
        return None
    ms = int((frac[1:] + "000")[:3]) if frac else 0
    if off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            return None
        dt -= sign * timedelta(hours=oh, minutes=om)
    return int((dt - _EPOCH).total_seconds()) * 1000 + ms


assert parse_ts("2026-06-01T14:00:00+02:00") == parse_ts("2026-06-01T12:00:00.000Z")
assert parse_ts("2026-06-01T12:00:00.001Z") - parse_ts("2026-06-01T12:00:00Z") == 1
assert parse_ts("2026-06-01") is None

_SEMVER_RE = re.compile(
    r"^[vV]?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


def parse_semver(s):
    """README: optional `v`, 1-3 numeric parts (missing = 0, no leading zeros), -pre, +build ignored."""
    if not isinstance(s, str):
        return None
    m = _SEMVER_RE.match(s)
    if not m:
        return None
    nums = tuple(int(g) if g is not None else 0 for g in m.groups()[:3])
    pre = m.group(4)
    ids = []
    if pre is not None:
        for ident in pre.split("."):
            if ident.isdigit():
                if len(ident) > 1 and ident[0] == "0":
                    return None  # SemVer 2.0: numeric identifiers have no leading zeros
                ids.append((0, int(ident), ""))
            else:
                ids.append((1, 0, ident))
    return nums, ids


def semver_cmp(a, b):
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    pa, pb = a[1], b[1]
    if not pa or not pb:  # a release outranks any prerelease of the same version
        return (len(pa) == 0) - (len(pb) == 0)
    for x, y in zip(pa, pb):
        if x != y:
            return -1 if x < y else 1  # numeric ids (tag 0) sort before alphanumerics (tag 1)
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


assert semver_cmp(parse_semver("1.0.0-alpha"), parse_semver("1.0.0-alpha.1")) < 0
assert semver_cmp(parse_semver("1.0.0-beta.2"), parse_semver("1.0.0-beta.11")) < 0
assert semver_cmp(parse_semver("1.0.0-rc.1"), parse_semver("1.0.0")) < 0
assert semver_cmp(parse_semver("v1.2"), parse_semver("1.2.0+b.7")) == 0
assert parse_semver("01.2.3") is None and parse_semver("1.2.3.4") is None


def compile_regex(p):
    """Only patterns valid in Rust's `regex` crate: no look-around, no backreferences."""
    if not isinstance(p, str):
        return None
    if any(t in p for t in ("(?=", "(?!", "(?<=", "(?<!")) or re.search(r"\\[1-9]", p):
        return None
    try:
        return re.compile(p)
    except re.error:
        return None


# ---- A.3 targeting (SPEC §4 + README) --------------------------------------------------------

OPS = ("eq neq in not_in lt lte gt gte contains starts_with ends_with matches semver_eq semver_lt "
       "semver_lte semver_gt semver_gte before after exists not_exists in_segment").split()


def validate_rule(rule, segments):
    """None when the rule is valid, else the README lint code of its first problem."""
    if not isinstance(rule, dict):
        return "BAD_RULE"
    if "all" in rule or "any" in rule:
        subs = rule.get("all", rule.get("any"))
        if not isinstance(subs, list):
            return "BAD_RULE"
        for r in subs:
            err = validate_rule(r, segments)
            if err:
                return err
        return None
    if "not" in rule:
        return validate_rule(rule["not"], segments)
    if not isinstance(rule.get("attr"), str) or "op" not in rule:
        return "BAD_RULE"
    op = rule["op"]
    if op not in OPS:
        return "UNKNOWN_OPERATOR"
    v = rule.get("value")
    if op in ("eq", "neq", "contains"):
        return None if is_scalar(v) else "BAD_VALUE"
    if op in ("in", "not_in"):
        vs = rule.get("values")
        return None if isinstance(vs, list) and all(is_scalar(x) for x in vs) else "BAD_VALUE"
    if op in ("lt", "lte", "gt", "gte"):
        return None if is_num(v) else "BAD_VALUE"
    if op in ("starts_with", "ends_with"):
        return None if isinstance(v, str) else "BAD_VALUE"
    if op == "matches":
        return "BAD_VALUE" if not isinstance(v, str) else None if compile_regex(v) else "BAD_REGEX"
    if op.startswith("semver_"):
        return "BAD_VALUE" if not isinstance(v, str) else None if parse_semver(v) else "BAD_SEMVER"
    if op in ("before", "after"):
        return "BAD_VALUE" if not isinstance(v, str) else None if parse_ts(v) is not None else "BAD_TIMESTAMP"
    if op == "in_segment":
        return "BAD_VALUE" if not isinstance(v, str) else None if v in segments else "UNKNOWN_SEGMENT"
    return None  # exists / not_exists


def eval_rule(rule, attrs, segments):
    if "all" in rule:
        return all(eval_rule(r, attrs, segments) for r in rule["all"])
    if "any" in rule:
        return any(eval_rule(r, attrs, segments) for r in rule["any"])
    if "not" in rule:
        return not eval_rule(rule["not"], attrs, segments)
    op, a, v = rule["op"], attrs.get(rule["attr"]), rule.get("value")
    if a is None:  # missing or JSON null
        return op == "not_exists"
    if op == "exists":
        return True
    if op == "not_exists":
        return False
    if op == "eq":
        return typed_eq(a, v)
    if op == "neq":
        return not typed_eq(a, v)
    if op == "in":
        return any(typed_eq(a, x) for x in rule["values"])
    if op == "not_in":
        return not any(typed_eq(a, x) for x in rule["values"])
    if op in ("lt", "lte", "gt", "gte"):
        if not is_num(a):
            return False
        a, v = float(a), float(v)
        return {"lt": a < v, "lte": a <= v, "gt": a > v, "gte": a >= v}[op]
    if op == "contains":
        if isinstance(a, str):
            return isinstance(v, str) and v in a
        if isinstance(a, list):
            return any(typed_eq(x, v) for x in a)
        return False
    if op == "starts_with":
        return isinstance(a, str) and a.startswith(v)
    if op == "ends_with":
        return isinstance(a, str) and a.endswith(v)
    if op == "matches":
        return isinstance(a, str) and compile_regex(v).search(a) is not None
    if op.startswith("semver_"):
        pa = parse_semver(a)
        if pa is None:
            return False
        c = semver_cmp(pa, parse_semver(v))
        return {"semver_eq": c == 0, "semver_lt": c < 0, "semver_lte": c <= 0,
                "semver_gt": c > 0, "semver_gte": c >= 0}[op]
    if op in ("before", "after"):
        ta = parse_ts(a)
        if ta is None:
            return False
        return ta < parse_ts(v) if op == "before" else ta > parse_ts(v)
    if op == "in_segment":
        return isinstance(a, str) and a in segments[v]
    raise AssertionError(op)


# ---- A.4 snapshot loading and validation (SPEC §3, §6 + README) ------------------------------

STATUSES = ("DRAFT", "RUNNING", "PAUSED", "COMPLETED", "ARCHIVED")
UNITS = ("user", "session", "user_or_session")
RULE_KINDS = {"target": "TARGET_MATCH", "gradual": "GRADUAL", "canary": "CANARY", "shadow": None}


class LoadError(Exception):
    pass


class ItemError(Exception):
    pass


def need(cond, code):
    """Raise the README lint code of an item's first error."""
    if not cond:
        raise ItemError(code)


class Snap:
    """A compiled snapshot: per-item validation done once, invalid items kept with their error.

    lints: [{code, item}] with item "experiment:<key>", "flag:<key>" or "holdout:<key>"; only the
    first error of an item is reported (README 'Lints'), warnings are listed as well.
    """

    def __init__(self, obj):
        if not isinstance(obj, dict):
            raise LoadError("INVALID_SNAPSHOT")
        sv = obj.get("schema_version")
        if not (is_int(sv) and sv == 1):
            raise LoadError("SCHEMA_VERSION")
        ver = obj.get("version")
        if not (is_int(ver) and 0 <= ver <= 2 ** 53 - 1):  # README: the largest integer JavaScript holds exactly
            raise LoadError("INVALID_SNAPSHOT")
        hashing = obj.get("hashing", {})
        if not isinstance(hashing, dict) or hashing.get("algorithm", "xxh32") != "xxh32":
            raise LoadError("INVALID_SNAPSHOT")
        seed = hashing.get("seed", 0)
        if not (is_int(seed) and 0 <= seed <= U32):
            raise LoadError("INVALID_SNAPSHOT")
        kinds = {"placements": dict, "layers": list, "holdouts": list, "segments": dict,
                 "experiments": list, "flags": list}
        for name, typ in kinds.items():
            if name in obj and not isinstance(obj[name], typ):
                raise LoadError("INVALID_SNAPSHOT")
        self.version, self.seed = ver, seed
        self.placements = {k: dict(v.get("default_params", {})) for k, v in obj.get("placements", {}).items()}
        self.layers = {l["key"]: l.get("salt", l["key"]) for l in obj.get("layers", [])}
        self.segments = {k: set(v) for k, v in obj.get("segments", {}).items()}
        self.lints = []
        self.experiments = []
        seen = set()
        for raw in obj.get("experiments", []):
            e = {"raw": raw, "key": raw.get("key") if isinstance(raw, dict) else None, "error": None}
            try:
                self._check_experiment(raw, e)
                need(e["key"] not in seen, "DUPLICATE_KEY")
            except ItemError as err:
                e["error"] = str(err)
            seen.add(e["key"])
            self.experiments.append(e)
        self._cross_checks()
        self.flags = []
        seen = set()
        for raw in obj.get("flags", []):
            f = {"raw": raw, "key": raw.get("key") if isinstance(raw, dict) else None, "error": None}
            try:
                self._check_flag(raw, f)
                need(f["key"] not in seen, "DUPLICATE_KEY")
            except ItemError as err:
                f["error"] = str(err)
            seen.add(f["key"])
            self.flags.append(f)
        self.holdouts = []
        exp_keys = {e["key"] for e in self.experiments}
        for h in obj.get("holdouts", []):
            c = {"key": h.get("key"), "salt": h.get("salt", h.get("key")), "unit": h.get("unit", "user_or_session"),
                 "experiments": h.get("experiments"), "error": None}
            p = h.get("percent")
            c["bp"] = round(p * 100) if is_num(p) and 0 <= p <= 100 else None
            if c["bp"] is None or c["unit"] not in UNITS:
                c["error"] = "BAD_HOLDOUT"  # holds nobody
                self.lints.append({"code": "BAD_HOLDOUT", "item": "holdout:%s" % c["key"]})
            elif c["experiments"] != "*" and any(k not in exp_keys for k in c["experiments"]):
                self.lints.append({"code": "UNKNOWN_HOLDOUT_EXPERIMENT", "item": "holdout:%s" % c["key"]})
            self.holdouts.append(c)
        for e in self.experiments:
            item = "experiment:%s" % e["key"]
            if e["error"]:
                self.lints.append({"code": e["error"], "item": item})
                continue
            if any(p not in self.placements for p in e["placements"]):
                self.lints.append({"code": "UNKNOWN_PLACEMENT", "item": item})
            if e["status"] == "RUNNING" and e["owned_total"] == 0:
                self.lints.append({"code": "UNREACHABLE", "item": item})
        for f in self.flags:
            if f["error"]:
                self.lints.append({"code": f["error"], "item": "flag:%s" % f["key"]})
        self.lints.sort(key=lambda l: (l["item"], l["code"]))

    # -- experiments --
    def _check_experiment(self, x, e):
        need(isinstance(x, dict) and isinstance(x.get("key"), str) and x["key"], "MALFORMED")
        e["id"] = x.get("id")
        e["status"] = x.get("status")
        need(e["status"] in STATUSES, "MALFORMED")
        e["placements"] = x.get("placements", [])
        need(isinstance(e["placements"], list) and all(isinstance(p, str) for p in e["placements"]), "MALFORMED")
        e["unit"] = x.get("unit", "user_or_session")
        need(e["unit"] in UNITS, "MALFORMED")
        e["salt"] = x.get("salt", x["key"])
        need(isinstance(e["salt"], str), "MALFORMED")
        e["iteration"] = x.get("iteration", 1)
        need(is_int(e["iteration"]) and e["iteration"] >= 1, "MALFORMED")
        variants = x.get("variants")
        need(isinstance(variants, list) and variants, "MALFORMED")
        e["variants"] = []
        e["vparams"] = {}
        for v in variants:
            need(isinstance(v, dict) and isinstance(v.get("key"), str) and v["key"] not in e["vparams"], "MALFORMED")
            need(isinstance(v.get("params", {}), dict), "MALFORMED")
            e["variants"].append(v["key"])
            e["vparams"][v["key"]] = v.get("params", {})
        e["start"] = e["end"] = None
        if x.get("start_time") is not None:
            e["start"] = parse_ts(x["start_time"])
            need(e["start"] is not None, "BAD_WINDOW")
        if x.get("end_time") is not None:
            e["end"] = parse_ts(x["end_time"])
            need(e["end"] is not None, "BAD_WINDOW")
        need(e["start"] is None or e["end"] is None or e["start"] < e["end"], "BAD_WINDOW")
        alloc = x.get("allocation")
        need(isinstance(alloc, dict), "MALFORMED")
        need(("weights" in alloc) != ("ranges" in alloc), "BAD_ALLOCATION")
        owned = {v: [] for v in e["variants"]}
        if "weights" in alloc:
            w = alloc["weights"]
            need(isinstance(w, dict), "MALFORMED")
            need(all(k in owned for k in w), "UNKNOWN_VARIANT")
            bps = {k: pct_to_bp(p) for k, p in w.items()}
            need(all(b is not None for b in bps.values()) and sum(bps.values()) == 10000, "BAD_ALLOCATION")
            t = pct_to_bp(alloc.get("traffic", 100))
            need(t is not None, "BAD_ALLOCATION")
            cursor = 0
            for v in e["variants"]:  # declared (variants array) order; missing weight = 0 bp
                b = bps.get(v, 0)
                owned[v].append((cursor, cursor + (b * t) // 10000))
                cursor += b
        else:
            need("traffic" not in alloc, "BAD_ALLOCATION")
            rs = alloc["ranges"]
            need(isinstance(rs, list) and all(isinstance(r, dict) for r in rs), "MALFORMED")
            spans = []
            for r in rs:
                need(r.get("variant") in owned, "UNKNOWN_VARIANT")
                s, en = r.get("start"), r.get("end")
                need(is_int(s) and is_int(en), "MALFORMED")
                need(0 <= s <= en <= 10000, "BAD_RANGES")
                for s2, e2 in spans:
                    need(not (s < e2 and s2 < en), "BAD_RANGES")  # overlap
                spans.append((s, en))
                owned[r["variant"]].append((s, en))
        e["owned"] = owned
        e["owned_total"] = sum(b - a for rs in owned.values() for a, b in rs)
        ovs = x.get("overrides", [])
        need(isinstance(ovs, list), "MALFORMED")
        for o in ovs:
            need(isinstance(o, dict) and o.get("unit") in ("user", "session") and isinstance(o.get("id"), str), "MALFORMED")
            need(o.get("variant") in owned, "UNKNOWN_VARIANT")
        e["overrides"] = ovs
        e["shipped"] = x.get("shipped_variant")
        need(e["shipped"] is None or e["shipped"] in owned, "UNKNOWN_VARIANT")
        e["layer"] = None
        if x.get("layer") is not None:
            lay = x["layer"]
            need(isinstance(lay, dict), "MALFORMED")
            need(lay.get("key") in self.layers, "UNKNOWN_LAYER")
            rg = lay.get("range")
            need(isinstance(rg, list) and len(rg) == 2 and all(is_int(i) for i in rg), "MALFORMED")
            need(0 <= rg[0] <= rg[1] <= 10000, "BAD_RANGES")
            e["layer"] = (lay["key"], rg[0], rg[1])
        e["targeting"] = x.get("targeting")
        if e["targeting"] is not None:
            err = validate_rule(e["targeting"], self.segments)
            need(err is None, err)
        e["interleaving"] = None
        il = x.get("interleaving")
        if il is not None:  # the project's declaration (contract/interleaving.md), checked in this order
            need(isinstance(il, dict) and set(il) <= {"method", "rankers", "placements"}, "MALFORMED")
            rk = il.get("rankers")
            need(isinstance(il.get("method"), str) and isinstance(rk, dict) and set(rk) == {"a", "b"}
                 and all(isinstance(r, str) for r in rk.values()), "MALFORMED")
            ps = il.get("placements")
            need(ps is None or (isinstance(ps, list) and all(isinstance(p, str) for p in ps)), "MALFORMED")
            need(il["method"] in ("team_draft", "balanced"), "BAD_INTERLEAVING")
            need(rk["a"] in owned and rk["b"] in owned, "UNKNOWN_VARIANT")
            need(rk["a"] != rk["b"], "BAD_INTERLEAVING")
            need(ps is None or (len(ps) > 0 and all(p in e["placements"] for p in ps)), "BAD_INTERLEAVING")
            e["interleaving"] = {"method": il["method"], "a": rk["a"], "b": rk["b"], "placements": ps}

    def _cross_checks(self):
        active = []
        for e in self.experiments:
            if e["error"] is not None or e["status"] != "RUNNING":
                continue
            for a in active:
                same_layer = e["layer"] and a["layer"] and e["layer"][0] == a["layer"][0]
                if not windows_overlap(e, a):
                    continue  # README: every conflict needs overlapping windows (scheduled hand-overs are fine)
                if same_layer:
                    if e["unit"] != a["unit"]:
                        e["error"] = "LAYER_UNIT_MISMATCH"
                    elif e["layer"][1] < a["layer"][2] and a["layer"][1] < e["layer"][2]:
                        e["error"] = "LAYER_OVERLAP"
                elif set(e["placements"]) & set(a["placements"]):
                    e["error"] = "PLACEMENT_COLLISION"
                if e["error"]:
                    break
            if e["error"] is None:
                active.append(e)

    # -- flags --
    def _check_flag(self, x, f):
        need(isinstance(x, dict) and isinstance(x.get("key"), str) and x["key"], "MALFORMED")
        f["salt"] = x.get("salt", x["key"])
        f["enabled"] = x.get("enabled", True)
        f["kill_switch"] = x.get("kill_switch", False)
        need(isinstance(f["enabled"], bool) and isinstance(f["kill_switch"], bool), "MALFORMED")
        f["variants"] = x.get("variants")
        need(isinstance(f["variants"], dict) and f["variants"], "MALFORMED")
        f["default"] = x.get("default_variant")
        need(f["default"] in f["variants"], "UNKNOWN_VARIANT")
        f["unit"] = x.get("unit", "user_or_session")
        need(f["unit"] in UNITS, "MALFORMED")
        f["overrides"] = x.get("overrides", [])
        for o in f["overrides"]:
            need(isinstance(o, dict) and o.get("unit") in ("user", "session") and isinstance(o.get("id"), str), "MALFORMED")
            need(o.get("variant") in f["variants"], "UNKNOWN_VARIANT")
        f["rules"] = []
        for r in x.get("rules", []):
            need(isinstance(r, dict) and r.get("kind") in RULE_KINDS, "BAD_RULE")
            c = {"kind": r["kind"], "targeting": r.get("targeting")}
            if c["targeting"] is not None:
                err = validate_rule(c["targeting"], self.segments)
                need(err is None, err)
            ro = r.get("rollout")
            if r["kind"] == "shadow":
                need(r.get("shadow_variant") in f["variants"], "UNKNOWN_VARIANT")
                c["shadow_variant"] = r["shadow_variant"]
                ro = ro or {}
                need(ro.get("variant", r["shadow_variant"]) in f["variants"], "UNKNOWN_VARIANT")
                c["bp"] = pct_to_bp(ro.get("percent", 100))
                need(c["bp"] is not None, "BAD_ALLOCATION")
            elif isinstance(ro, dict) and isinstance(ro.get("variant"), str):
                need(ro["variant"] in f["variants"], "UNKNOWN_VARIANT")
                c["variant"] = ro["variant"]
                # README: percent defaults to 100, or to 0 when the rule has a schedule
                c["bp"] = pct_to_bp(ro.get("percent", 0 if "schedule" in r else 100))
                need(c["bp"] is not None, "BAD_ALLOCATION")
                c["schedule"] = []
                last = None
                for step in r.get("schedule", []):
                    at, bp = parse_ts(step.get("at")), pct_to_bp(step.get("percent"))
                    need(at is not None and bp is not None and (last is None or at > last), "BAD_SCHEDULE")
                    c["schedule"].append((at, bp))
                    last = at
            else:
                need(isinstance(ro, dict) and ro, "BAD_RULE")
                need(all(k in f["variants"] for k in ro), "UNKNOWN_VARIANT")
                bps = [(k, pct_to_bp(p)) for k, p in ro.items()]
                need(all(b is not None for _, b in bps) and sum(b for _, b in bps) == 10000, "BAD_ALLOCATION")
                c["weights"] = bps
            f["rules"].append(c)


def windows_overlap(a, b):
    inf = float("inf")
    sa, ea = (a["start"] if a["start"] is not None else -inf), (a["end"] if a["end"] is not None else inf)
    sb, eb = (b["start"] if b["start"] is not None else -inf), (b["end"] if b["end"] is not None else inf)
    return sa < eb and sb < ea


def load_text(text):
    """`load` op: whole-snapshot rejection code, or the lints of the compiled snapshot."""
    try:
        obj = json.loads(text)
    except ValueError:
        return {"error": "NOT_JSON"}
    if not isinstance(obj, dict):
        return {"error": "NOT_JSON"}  # JSON, but not an object: not a snapshot document at all
    try:
        return {"lints": Snap(obj).lints}
    except LoadError as err:
        return {"error": str(err)}


# ---- A.5 requests, units, decisions (SPEC §2, §5 + README) -----------------------------------

def request_error(req):
    if not isinstance(req, dict):
        return "INVALID_REQUEST"
    for k in ("user_id", "session_id"):
        if req.get(k) is not None and not isinstance(req[k], str):
            return "INVALID_REQUEST"
    ctx = req.get("context")
    if not isinstance(ctx, dict) or not isinstance(ctx.get("placement"), str):
        return "INVALID_REQUEST"
    return None


def request_ids(req):
    norm = lambda v: v if isinstance(v, str) and v != "" else None  # noqa: E731  "" counts as absent
    return {"user": norm(req.get("user_id")), "session": norm(req.get("session_id"))}


def resolve_unit(unit, ids):
    if unit in ("user", "user_or_session") and ids["user"]:
        return "user", ids["user"]
    if unit in ("session", "user_or_session") and ids["session"]:
        return "session", ids["session"]
    return None, None


def attributes(req):
    attrs = dict(req["context"])
    attrs.pop("user_id", None)
    attrs.pop("session_id", None)
    ids = request_ids(req)
    if ids["user"]:
        attrs["user_id"] = ids["user"]
    if ids["session"]:
        attrs["session_id"] = ids["session"]
    return attrs


def merge_params(defaults, variant_params):
    out = dict(defaults)  # keys keep the defaults' order, new keys follow in the variant's order
    out.update(variant_params)
    return out


ENROLLING = ("SHIPPED", "OVERRIDE", "ASSIGNED")


def eval_candidate(snap, e, req, now):
    """One candidate's own outcome, README precedence 1-9."""
    ids = request_ids(req)
    r = {"exp": e, "reason": None, "variant": None, "unit_type": None, "uid": None, "bucket": None}
    if e["error"]:
        r["reason"] = "CONFIG_ERROR"
        return r
    r["unit_type"], r["uid"] = resolve_unit(e["unit"], ids)
    if e["status"] == "COMPLETED" and e["shipped"] is not None:
        r.update(reason="SHIPPED", variant=e["shipped"])
        return r
    if e["status"] != "RUNNING":
        r["reason"] = "NOT_RUNNING"
        return r
    if e["start"] is not None and now < e["start"]:
        r["reason"] = "NOT_STARTED"
        return r
    if e["end"] is not None and now >= e["end"]:
        r["reason"] = "ENDED"
        return r
    if r["uid"] is None:
        r["reason"] = "MISSING_UNIT"
        return r
    for unit in ("user", "session"):
        for o in e["overrides"]:
            if o["unit"] == unit and ids[unit] is not None and o["id"] == ids[unit]:
                r.update(reason="OVERRIDE", variant=o["variant"], unit_type=unit, uid=o["id"])
                return r
    for h in snap.holdouts:
        if h["error"] is None and (h["experiments"] == "*" or e["key"] in h["experiments"]):
            _, hid = resolve_unit(h["unit"], ids)
            if hid is not None and fast_bucket(hid, h["key"], h["salt"], snap.seed) < h["bp"]:
                r["reason"] = "HOLDOUT"
                return r
    if e["targeting"] is not None and not eval_rule(e["targeting"], attributes(req), snap.segments):
        r["reason"] = "TARGETING_MISS"
        return r
    if e["layer"] is not None:
        lkey, ls, le = e["layer"]
        lb = fast_bucket(r["uid"], lkey, snap.layers[lkey], snap.seed)
        if not (ls <= lb < le):
            r["reason"] = "LAYER_MISS"
            return r
    b = fast_bucket(r["uid"], e["key"], e["salt"], snap.seed)
    r["bucket"] = b
    for v in e["variants"]:
        if any(s <= b < en for s, en in e["owned"][v]):
            r.update(reason="ASSIGNED", variant=v)
            return r
    r["reason"] = "TRAFFIC_MISS"
    return r


def decide(snap, now, req):
    """Returns (decision, extras) where extras = {exposure, trace, hash}."""
    placement = req["context"]["placement"]
    d = {"placement": placement, "experiment_id": None, "experiment_key": None, "variant": None,
         "params": {}, "reason": None, "unit_type": None, "bucket": None, "hash_key": None,
         "allocation_share": None, "iteration": None, "config_version": snap.version}
    extras = {"exposure": None, "trace": None, "hash": None}
    if placement not in snap.placements:
        d["reason"] = "UNKNOWN_PLACEMENT"
        return d, extras
    defaults = snap.placements[placement]
    d["params"] = dict(defaults)
    if req.get("consent") is False:
        d["reason"] = "OPTED_OUT"
        return d, extras
    def places_of(e):  # raw field, so an item that failed validation early is still a candidate
        p = e["raw"].get("placements") if isinstance(e["raw"], dict) else None
        return p if isinstance(p, list) else []
    cands = [e for e in snap.experiments if placement in places_of(e)]

    def name(e, unit_type, uid):
        d.update(experiment_id=e["id"], experiment_key=e["key"], iteration=e["iteration"],
                 unit_type=unit_type, hash_key=(e["key"] + ":" + uid) if unit_type else None)

    forced = req.get("forced") if isinstance(req.get("forced"), dict) else {}
    for e in cands:
        if e["error"] is None and isinstance(forced.get(e["key"]), str) and forced[e["key"]] in e["owned"]:
            name(e, *resolve_unit(e["unit"], request_ids(req)))
            d.update(variant=forced[e["key"]], reason="FORCED", allocation_share=1.0,
                     params=merge_params(defaults, e["vparams"][forced[e["key"]]]))
            add_interleaving(snap, e, d, defaults)
            return d, extras
    if not cands:
        extras["trace"] = []
        d["reason"] = "NO_EXPERIMENT"
        return d, extras
    results = [eval_candidate(snap, e, req, now) for e in cands]  # every candidate, for the trace
    extras["trace"] = [[r["exp"]["key"], r["reason"]] for r in results]
    win = next((r for r in results if r["reason"] in ENROLLING), None)
    if win is None:
        dec = next((r for r in results if r["reason"] != "NOT_RUNNING"), results[0])
        e = dec["exp"]
        d.update(experiment_id=e["raw"].get("id"), experiment_key=e["key"],
                 iteration=e["raw"].get("iteration", 1), reason=dec["reason"], bucket=dec["bucket"])
        if dec["reason"] == "CONFIG_ERROR":
            unit = e["raw"].get("unit", "user_or_session")
            if unit in UNITS:
                dec["unit_type"], dec["uid"] = resolve_unit(unit, request_ids(req))
        if dec["unit_type"]:
            d.update(unit_type=dec["unit_type"], hash_key=e["key"] + ":" + dec["uid"])
        return d, extras
    e, v = win["exp"], win["variant"]
    name(e, win["unit_type"], win["uid"])
    d.update(variant=v, reason=win["reason"], params=merge_params(defaults, e["vparams"][v]))
    if win["reason"] == "ASSIGNED":
        own = sum(b - a for a, b in e["owned"][v])
        d.update(bucket=win["bucket"], allocation_share=own / e["owned_total"])
        extras["hash"] = hash_obj(win["uid"], e["key"], e["salt"], snap.seed)
        assert extras["hash"]["bucket"] == win["bucket"]
        expo = {"experiment_id": e["id"], "experiment_key": e["key"], "variant": v,
                "iteration": e["iteration"], "unit_type": win["unit_type"], "placement": placement}
        if "page_type" in req["context"]:
            expo["page_type"] = req["context"]["page_type"]
        expo.update(reason="ASSIGNED", allocation_share=d["allocation_share"], config_version=snap.version)
        extras["exposure"] = expo
    else:
        d["allocation_share"] = 1.0
    add_interleaving(snap, e, d, defaults)
    return d, extras


def add_interleaving(snap, e, d, defaults):
    """An interleaved experiment's decision names both rankers (contract/interleaving.md):
    for a unit that is in it (ASSIGNED, FORCED, OVERRIDE; never SHIPPED) on a declared placement."""
    il = e.get("interleaving")
    if il is None or d["reason"] not in ("ASSIGNED", "FORCED", "OVERRIDE") or d["hash_key"] is None:
        return
    if il["placements"] is not None and d["placement"] not in il["placements"]:
        return
    d["interleaving"] = {
        "method": il["method"],
        "a": {"variant": il["a"], "params": merge_params(defaults, e["vparams"][il["a"]])},
        "b": {"variant": il["b"], "params": merge_params(defaults, e["vparams"][il["b"]])},
        "key": e["key"], "salt": e["salt"], "seed": snap.seed,
    }


# ---- A.6 flags ------------------------------------------------------------------------------

def eval_flag(snap, now, key, req):
    r = {"flag": key, "variant": None, "value": None, "reason": None, "rule_index": None,
         "unit_type": None, "bucket": None, "shadow_variant": None, "config_version": snap.version}
    f = next((f for f in snap.flags if f["key"] == key), None)  # a later duplicate is the invalid one
    if f is None:
        r["reason"] = "FLAG_NOT_FOUND"
        return r
    raw = f["raw"] if isinstance(f["raw"], dict) else {}
    if f["error"]:
        # README 'Invalid items': an invalid flag is disabled, but its kill switch still applies when
        # it is `true` and `default_variant` names one of its `variants` (unit read as written).
        vs = raw.get("variants")
        if not (raw.get("kill_switch") is True and isinstance(vs, dict) and isinstance(raw.get("default_variant"), str)
                and raw["default_variant"] in vs):
            r["reason"] = "CONFIG_ERROR"
            return r
        unit = raw.get("unit") if raw.get("unit") in UNITS else "user_or_session"
        r.update(variant=raw["default_variant"], value=vs[raw["default_variant"]], reason="KILL_SWITCH",
                 unit_type=resolve_unit(unit, request_ids(req))[0])
        return r

    def serve(variant, reason, **kw):
        r.update(variant=variant, value=f["variants"][variant], reason=reason, **kw)
        return r

    ids = request_ids(req)
    unit_type, uid = resolve_unit(f["unit"], ids)
    r["unit_type"] = unit_type
    if f["kill_switch"]:
        return serve(f["default"], "KILL_SWITCH")
    if not f["enabled"]:
        return serve(f["default"], "DISABLED")
    for unit in ("user", "session"):
        for o in f["overrides"]:
            if o["unit"] == unit and ids[unit] is not None and o["id"] == ids[unit]:
                return serve(o["variant"], "OVERRIDE", unit_type=unit)
    # evaluation reaches the rules: the flag bucket is reported whenever the unit resolves
    b = fast_bucket(uid, f["key"], f["salt"], snap.seed) if uid is not None else None
    r["bucket"] = b
    attrs = attributes(req)
    for i, rule in enumerate(f["rules"]):
        if rule["targeting"] is not None and not eval_rule(rule["targeting"], attrs, snap.segments):
            continue
        if rule["kind"] == "shadow":
            bp = rule["bp"]
            if r["shadow_variant"] is None and (bp == 10000 or (bp > 0 and b is not None and b < bp)):
                r["shadow_variant"] = rule["shadow_variant"]
            continue
        reason = RULE_KINDS[rule["kind"]]
        if "weights" in rule:
            nonzero = [(k, w) for k, w in rule["weights"] if w > 0]
            if len(nonzero) == 1:
                return serve(nonzero[0][0], reason, rule_index=i)
            if b is None:
                continue
            cursor = 0
            for k, w in rule["weights"]:
                if cursor <= b < cursor + w:
                    return serve(k, reason, rule_index=i)
                cursor += w
            raise AssertionError("weights cover 10000 bp")
        bp = rule["bp"]
        for at, step_bp in rule["schedule"]:
            if at <= now:
                bp = step_bp
        if bp == 0:
            continue
        if bp == 10000 or (b is not None and b < bp):
            return serve(rule["variant"], reason, rule_index=i)
    return serve(f["default"], "DEFAULT")


# ---- A.7 pseudonymisation -------------------------------------------------------------------

def pseudonymize(key, ident):
    if key is None:
        return hashlib.sha256(ident.encode("utf-8")).hexdigest()
    return hmac.new(key.encode("utf-8"), ident.encode("utf-8"), hashlib.sha256).hexdigest()


# Known answer (FIPS 180-2 / RFC 4231 test case 2) so a broken hashlib call fails loudly.
assert pseudonymize(None, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
assert pseudonymize("Jefe", "what do ya want for nothing?") == \
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


# =================================================================================================
# Part B. Vector files
# =================================================================================================

NOW = "2026-06-01T12:00:00.000Z"
START = "2026-05-01T00:00:00.000Z"
END = "2026-09-01T00:00:00.000Z"
PEPPER = "vario-test-pepper-2026"
ABSENT = object()  # "leave this key out" (as opposed to None, which writes JSON null)

PLACEMENTS = {
    "pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}},
    "newsfeed": {"default_params": {"ranker": "chrono", "page_size": 20}},
    "home": {"default_params": {"hero": "seasonal", "modules": ["recent", "trending"]}},
    "search": {"default_params": {"ranker": "bm25", "limit": 24, "spellcheck": True}},
    "search_suggest": {"default_params": {"mode": "prefix", "max": 8}},
    "cart": {"default_params": {"upsell": "none", "limit": 4}},
    "checkout": {"default_params": {"layout": "single_page", "show_badges": True, "max_items": 3}},
    "account": {"default_params": {"layout": "tabs"}},
    "order_status": {"default_params": {"eta": "range"}},
    "wishlist": {"default_params": {"share": False}},
    "brand_page": {"default_params": {"grid": 3}},
    "help": {"default_params": {"chatbot": False}},
}
PAGE_TYPES = {"pdp_ymal": "pdp", "home": "home", "search": "search", "search_suggest": "search",
              "cart": "cart", "checkout": "checkout", "newsfeed": "feed"}


def placements(*names, extra=None):
    out = {n: copy.deepcopy(PLACEMENTS[n]) for n in names}
    out.update(extra or {})
    return out


def V(key, **params):
    return {"key": key, "params": params}


def X(eid, key, places, variants, *, weights=None, ranges=None, traffic=None, status="RUNNING",
      unit=None, salt=None, iteration=None, start=START, end=END, layer=None, targeting=None,
      overrides=None, shipped=None, hypothesis=None):
    """An experiment as the config service would publish it (optional fields left out when unset)."""
    e = {"id": eid, "key": key, "name": key.replace("_", " ").capitalize(),
         "hypothesis": hypothesis or "Changing %s moves add-to-cart per session." % key.replace("_", " "),
         "status": status, "placements": list(places)}
    for k, v in (("unit", unit), ("salt", salt), ("iteration", iteration), ("start_time", start),
                 ("end_time", end), ("layer", layer), ("targeting", targeting)):
        if v is not None:
            e[k] = v
    e["variants"] = variants
    alloc = {}
    if weights is not None:
        alloc["weights"] = weights
    if ranges is not None:
        alloc["ranges"] = [{"variant": v, "start": s, "end": en} for v, s, en in ranges]
    if traffic is not None:
        alloc["traffic"] = traffic
    e["allocation"] = alloc
    if overrides is not None:
        e["overrides"] = [{"unit": u, "id": i, "variant": v} for u, i, v in overrides]
    if shipped is not None:
        e["shipped_variant"] = shipped
    return e


def snapshot(version, places, experiments=(), *, flags=(), layers=(), holdouts=(), segments=None,
             seed=0, privacy=True, environment="production"):
    s = {"schema_version": 1, "environment": environment, "version": version,
         "published_at": "2026-05-31T09:30:00.000Z", "hashing": {"algorithm": "xxh32", "seed": seed}}
    if privacy:
        s["privacy"] = {"id_hash_key": PEPPER}
    s.update(placements=places, layers=list(layers), holdouts=list(holdouts), segments=segments or {},
             experiments=list(experiments), flags=list(flags))
    return s


def R(placement, user=ABSENT, session=ABSENT, *, consent=ABSENT, forced=ABSENT, ctx=None, page_type=ABSENT,
      locale="en-GB"):
    """A decision request. ctx values equal to ABSENT remove that key from the context."""
    r = {}
    if user is not ABSENT:
        r["user_id"] = user
    if session is not ABSENT:
        r["session_id"] = session
    if consent is not ABSENT:
        r["consent"] = consent
    if forced is not ABSENT:
        r["forced"] = forced
    c = {"placement": placement}
    pt = PAGE_TYPES.get(placement, "other") if page_type is ABSENT else page_type
    if pt is not None:
        c["page_type"] = pt
    if locale is not None:
        c["locale"] = locale
    for k, v in (ctx or {}).items():
        if v is ABSENT:
            c.pop(k, None)
        else:
            c[k] = v
    r["context"] = c
    return r


def find_id(pred, prefix):
    """Deterministic brute force: first of prefix0, prefix1, ... satisfying pred."""
    n = 0
    while True:
        uid = "%s%d" % (prefix, n)
        if pred(uid):
            return uid
        n += 1
        assert n < 3_000_000, "no id found for %s" % prefix


def id_at(key, salt, seed, target, prefix, extra=lambda u: True):
    """First id whose bucket(id, key, salt) == target (and extra(id))."""
    uid = find_id(lambda u: fast_bucket(u, key, salt, seed) == target and extra(u), prefix)
    assert fast_bucket(uid, key, salt, seed) == target
    return uid


ALL_IDS = set()
FILE_SNAPSHOTS = {}  # file name -> (snapshot, expected lints), for the load cases in load.json


class VFile:
    def __init__(self, name, description, snap_obj, expect_lints=()):
        self.name, self.description, self.snapshot = name, description, snap_obj
        self.snap = Snap(snap_obj) if snap_obj is not None else None
        if self.snap is not None:  # the file's snapshot must be exactly as broken as intended
            got = sorted((l["code"], l["item"]) for l in self.snap.lints)
            assert got == sorted(expect_lints), (name, got)
            FILE_SNAPSHOTS[name] = snap_obj
        self.cases = []

    def _add(self, case):
        assert case["id"] not in ALL_IDS, case["id"]
        ALL_IDS.add(case["id"])
        self.cases.append(case)

    def decide(self, cid, why, req, *, now=NOW, snapshot=None, trace=False, want=None):
        req = copy.deepcopy(req)
        if trace:
            req["trace"] = True
        snap = Snap(snapshot) if snapshot is not None else self.snap
        assert request_error(req) is None, cid
        d, ex = decide(snap, parse_ts(now), req)
        check_want(cid, {**d, "trace": ex["trace"], "exposure": ex["exposure"]}, want)
        expect = dict(d)
        if ex["hash"] is not None:
            expect["hash"] = ex["hash"]
        expect["exposure"] = ex["exposure"]
        if trace:
            assert ex["trace"] is not None, cid
            expect["trace_reasons"] = ex["trace"]
        case = {"id": cid, "why": why, "op": "decide", "now": now}
        if snapshot is not None:
            case["snapshot"] = snapshot
        case["request"] = req
        case["expect"] = expect
        self._add(case)
        return d, ex

    def flag(self, cid, why, key, req, *, now=NOW, want=None):
        r = eval_flag(self.snap, parse_ts(now), key, req)
        check_want(cid, r, want)
        expect = dict(r)
        self._add({"id": cid, "why": why, "op": "flag", "now": now, "flag": key, "request": req,
                   "expect": expect})
        return r

    def raw(self, case):
        self._add(case)

    def to_obj(self):
        return {"format": FORMAT, "spec_version": SPEC_VERSION, "algorithm": ALGORITHM,
                "description": self.description, "snapshot": self.snapshot, "cases": self.cases}


def check_want(cid, got, want):
    for k, v in (want or {}).items():
        assert got.get(k) == v, "%s: oracle says %s=%r, case design expects %r" % (cid, k, got.get(k), v)


# ---- bucket.json ------------------------------------------------------------------------------

def file_bucket():
    f = VFile("bucket.json", "Known answers for bucket(unit_id, key, salt) = xxh32(utf8(unit_id:key:salt), "
              "seed) mod 10000 (SPEC §1): input lengths across every xxh32 code path, seeds at the u32 "
              "edges, digests >= 2^31, bytes used exactly as given (Unicode, case, spaces, colons).", None)

    def add(cid, why, uid, key, salt, seed, want_bucket=None):
        data, digest, b = bucket_full(uid, key, salt, seed)
        if want_bucket is not None:
            assert b == want_bucket, (cid, b)
        f.raw({"id": cid, "why": why, "op": "bucket", "unit_id": uid, "key": key, "salt": salt, "seed": seed,
               "expect": {"hash_input_hex": data.hex(), "digest": digest, "bucket": b}})
        return data, digest, b

    filler = "0123456789abcdefghijklmnopqrstuvwxyz" * 30

    def parts(n):  # (unit_id, key, salt) whose joined UTF-8 is exactly n bytes
        if n == 3:
            return "u", "", ""
        if n == 4:
            return "u", "k", ""
        if n == 5:
            return "u", "k", "s"
        return "u" + filler[:n - 8], "exp", "s1"

    for n in (3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 255, 256, 1000):
        uid, key, salt = parts(n)
        assert len(hash_input(uid, key, salt)) == n
        add("bkt-len-%d-seed-0" % n, "%d-byte input, seed 0 (xxh32 %s path)" %
            (n, "short" if n < 16 else "16-byte stripe"), uid, key, salt, 0)
    for seed in (1, 2 ** 31, U32, 918273645):
        for n in (5, 16, 17, 33, 64):
            uid, key, salt = parts(n)
            add("bkt-len-%d-seed-%d" % (n, seed), "%d-byte input with seed %d" % (n, seed), uid, key, salt, seed)

    # digests with the top bit set (signed/float conversions break here)
    hi = []
    n = 0
    while len(hi) < 4:
        uid = "user-%d" % n
        d = bucket_full(uid, "ymal_algo_v2", "ymal_algo_v2", 0)[1]
        if d >= 2 ** 31 and (len(hi) < 3 or d >= 0xF0000000):
            hi.append(uid)
        n += 1
    for uid in hi:
        _, d, _ = add("bkt-high-digest-" + uid, "digest >= 2^31: bucket is the unsigned u32 mod 10000",
                      uid, "ymal_algo_v2", "ymal_algo_v2", 0)
        assert d >= 2 ** 31
    lo = find_id(lambda u: bucket_full(u, "ymal_algo_v2", "ymal_algo_v2", 0)[1] < 10000 * 4000, "user-")
    add("bkt-low-digest-" + lo, "small digest (< 4e7) for contrast with the >= 2^31 cases", lo, "ymal_algo_v2", "ymal_algo_v2", 0)

    # boundary-landing ids (these four are also in shared/notes, computed independently)
    for uid, b in (("u11031", 0), ("u1245", 4999), ("u16618", 5000), ("u13939", 9999)):
        add("bkt-demo-%d" % b, "id brute-forced to land on bucket %d" % b, uid, "demo_exp", "s1", 0, want_bucket=b)
    for b in (0, 1, 9998, 9999):
        uid = id_at("ymal_algo_v2", "ymal_algo_v2", 0, b, "user-")
        add("bkt-ymal-%d" % b, "id brute-forced to land on bucket %d of ymal_algo_v2" % b, uid,
            "ymal_algo_v2", "ymal_algo_v2", 0, want_bucket=b)

    # bytes exactly as given
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    assert nfc != nfd
    a = add("bkt-unicode-nfc", "NFC 'José' (é = U+00E9): no normalisation", nfc, "ymal_algo_v2", "ymal_algo_v2", 0)
    b = add("bkt-unicode-nfd", "NFD 'José' (e + U+0301) hashes different bytes than NFC", nfd, "ymal_algo_v2", "ymal_algo_v2", 0)
    assert a[0] != b[0] and a[1] != b[1]
    add("bkt-unicode-cjk", "CJK unit id (3-byte UTF-8 sequences)", "用户_42", "ymal_algo_v2", "ymal_algo_v2", 0)
    add("bkt-unicode-cjk-key", "CJK experiment key and salt", "u-1001", "推荐实验", "盐", 0)
    add("bkt-unicode-emoji-zwj", "emoji ZWJ sequence (4-byte UTF-8 + U+200D)", "👩‍💻-dev", "ymal_algo_v2", "ymal_algo_v2", 0)
    add("bkt-unicode-emoji", "astral-plane emoji (a surrogate pair in UTF-16 surfaces)", "🎉", "home_hero_3way", "home_hero_3way", 0)
    add("bkt-unicode-arabic", "Arabic script with an Arabic-Indic digit", "مستخدم-٧", "ymal_algo_v2", "ymal_algo_v2", 0)
    add("bkt-unicode-seed-max", "non-ASCII id with seed 2^32-1", "Ünïcödé", "search_rank", "search_rank", U32)
    c1 = add("bkt-case-upper", "case is significant: 'User-1'", "User-1", "ymal_algo_v2", "ymal_algo_v2", 0)
    c2 = add("bkt-case-lower", "case is significant: 'user-1'", "user-1", "ymal_algo_v2", "ymal_algo_v2", 0)
    s1 = add("bkt-space-leading", "no trimming: leading space", " user-1", "ymal_algo_v2", "ymal_algo_v2", 0)
    s2 = add("bkt-space-trailing", "no trimming: trailing space", "user-1 ", "ymal_algo_v2", "ymal_algo_v2", 0)
    assert len({c1[1], c2[1], s1[1], s2[1]}) == 4
    add("bkt-space-only", "a whitespace-only id is a real id at the primitive", " ", "ymal_algo_v2", "ymal_algo_v2", 0)
    k1 = add("bkt-colon-collision-1", "documented collision: ('a:b','c') hashes 'a:b:c:s' ...", "a:b", "c", "s", 0)
    k2 = add("bkt-colon-collision-2", "... and ('a','b:c') hashes the same bytes, so the same bucket", "a", "b:c", "s", 0)
    assert k1 == k2
    add("bkt-colon-urn", "unit id containing colons", "urn:vario:user:42", "ymal_algo_v2", "ymal_algo_v2", 0)
    add("bkt-colon-salt", "salt containing a colon", "u-1001", "ymal_algo_v2", "2026:q2", 0)
    i1 = add("bkt-salt-iteration-1", "salt = key (iteration 1)", "u-77", "ymal_algo_v2", "ymal_algo_v2", 0)
    i2 = add("bkt-salt-iteration-2", "a new salt (new iteration) reshuffles the same unit", "u-77", "ymal_algo_v2", "ymal_algo_v2#2", 0)
    assert i1[1] != i2[1]
    add("bkt-seed-realistic", "a realistic non-zero snapshot seed", "u-1001", "ymal_algo_v2", "ymal_algo_v2", 918273645)
    add("bkt-seed-2p31", "seed 2^31", "u-1001", "ymal_algo_v2", "ymal_algo_v2", 2 ** 31)
    add("bkt-long-id", "300-byte unit id", "sess-" + filler[:295], "newsfeed_ranking", "newsfeed_ranking", 0)
    return f


# ---- ranges_traffic.json -----------------------------------------------------------------------

def file_ranges():
    seed = 0
    exps = [
        X("exp-1001", "ymal_algo_v2", ["pdp_ymal"],
          [V("control"), V("treatment", algo="two_tower", limit=16)], weights={"control": 50, "treatment": 50}),
        X("exp-1002", "home_hero_3way", ["home"],
          [V("control"), V("video", hero="video"), V("carousel", hero="carousel", autoplay=False)],
          weights={"control": 34, "video": 33, "carousel": 33}),
        X("exp-1003", "search_rank_thirds", ["search"],
          [V("control"), V("ltr", ranker="ltr_v1"), V("hybrid", ranker="hybrid", limit=30)],
          weights={"control": 33.33, "ltr": 33.33, "hybrid": 33.34}),
        X("exp-1004", "cart_upsell", ["cart"],
          [V("legacy", upsell="legacy"), V("control"), V("retired", upsell="old"), V("bundle", upsell="bundle", limit=6)],
          weights={"legacy": 0, "control": 50, "bundle": 50},
          hypothesis="Bundles beat single-item upsell; 'legacy' (0 %) and 'retired' (no weight) must never serve."),
        X("exp-1005", "newsfeed_ranking", ["newsfeed"], [V("control"), V("treatment", ranker="engagement_v3")],
          ranges=[("control", 0, 1000), ("treatment", 2000, 3000), ("treatment", 5000, 6000)]),
        X("exp-1006", "suggest_typeahead", ["search_suggest"],
          [V("control"), V("prefix_boost", max=10), V("fuzzy", mode="fuzzy")],
          weights={"control": 33.33, "prefix_boost": 33.33, "fuzzy": 33.34}, traffic=12.5),
        X("exp-1007", "account_tabs", ["account"], [V("control"), V("cards", layout="cards")],
          weights={"control": 50, "cards": 50}, traffic=0),
    ]
    snap = snapshot(310, placements("pdp_ymal", "home", "search", "search_suggest", "cart", "newsfeed", "account"), exps, seed=seed)
    f = VFile("ranges_traffic.json", "Weights -> half-open bucket ranges (cursor walk in variant order), "
              "two-decimal weights, 0-weight variants, explicit ranges with gaps, traffic below 100 %, and "
              "allocation_share (SPEC §1, README). account_tabs (traffic 0) loads with an UNREACHABLE warning "
              "and still decides.", snap, [("UNREACHABLE", "experiment:account_tabs")])
    plan = [
        ("ymal_algo_v2", "pdp_ymal", [(0, "control"), (4999, "control"), (5000, "treatment"), (9999, "treatment")]),
        ("home_hero_3way", "home", [(0, "control"), (3399, "control"), (3400, "video"), (6699, "video"),
                                    (6700, "carousel"), (9999, "carousel")]),
        ("search_rank_thirds", "search", [(0, "control"), (3332, "control"), (3333, "ltr"), (6665, "ltr"),
                                          (6666, "hybrid"), (9999, "hybrid")]),
        ("cart_upsell", "cart", [(0, "control"), (4999, "control"), (5000, "bundle"), (9999, "bundle")]),
        ("newsfeed_ranking", "newsfeed", [(0, "control"), (999, "control"), (1000, None), (1999, None),
                                          (2000, "treatment"), (2999, "treatment"), (3000, None), (4999, None),
                                          (5000, "treatment"), (5999, "treatment"), (6000, None), (9999, None)]),
        # 12.5 % of 3333/3333/3334 bp -> owned [0,416) [3333,3749) [6666,7082)
        ("suggest_typeahead", "search_suggest", [(0, "control"), (415, "control"), (416, None), (3332, None),
                                                 (3333, "prefix_boost"), (3748, "prefix_boost"), (3749, None),
                                                 (6666, "fuzzy"), (7081, "fuzzy"), (7082, None), (9999, None)]),
        ("account_tabs", "account", [(0, None), (9999, None)]),
    ]
    shares = {"ymal_algo_v2": {"control": 0.5, "treatment": 0.5},
              "home_hero_3way": {"control": 0.34, "video": 0.33, "carousel": 0.33},
              "search_rank_thirds": {"control": 0.3333, "ltr": 0.3333, "hybrid": 0.3334},
              "cart_upsell": {"control": 0.5, "bundle": 0.5},
              "newsfeed_ranking": {"control": 1000 / 3000, "treatment": 2000 / 3000},
              "suggest_typeahead": {"control": 416 / 1248, "prefix_boost": 416 / 1248, "fuzzy": 416 / 1248}}
    for i, (key, place, points) in enumerate(plan):
        for j, (b, variant) in enumerate(points):
            uid = id_at(key, key, seed, b, "shopper-")
            reason = "ASSIGNED" if variant else "TRAFFIC_MISS"
            want = {"reason": reason, "variant": variant, "bucket": b, "experiment_key": key}
            if variant:
                want["allocation_share"] = shares[key][variant]
            f.decide("rng-%s-%d" % (key, b),
                     "bucket %d -> %s" % (b, variant or "no variant owns it (TRAFFIC_MISS)"),
                     R(place, uid, "s-" + uid), trace=(j % 2 == 0), want=want)
    # session-only request on a weights experiment: same ranges, session unit
    uid = id_at("home_hero_3way", "home_hero_3way", seed, 3400, "sess-")
    f.decide("rng-home_hero_3way-session-3400", "session unit lands on the 34/33 boundary exactly like a user",
             R("home", session=uid), want={"variant": "video", "unit_type": "session"})
    return f


# ---- traffic_ramp.json -------------------------------------------------------------------------

def file_ramp():
    def ramp_snap(version, traffic):
        return snapshot(version, placements("checkout"), [
            X("exp-1101", "checkout_layout", ["checkout"],
              [V("control"), V("one_page", layout="one_page", show_badges=False)],
              weights={"control": 50, "one_page": 50}, traffic=traffic)])
    snaps = {10: ramp_snap(41, 10), 50: ramp_snap(42, 50), 100: ramp_snap(43, 100)}
    f = VFile("traffic_ramp.json", "Raising traffic never moves an enrolled unit (SPEC §1): the same ids at "
              "10 % (file snapshot, version 41), 50 % (v42) and 100 % (v43, case snapshots). Variant i owns "
              "[C_i, C_i + floor(b_i * t / 10000)).", snaps[10])
    points = [0, 499, 500, 2499, 2500, 4999, 5000, 5499, 5500, 7499, 7500, 9999]
    for b in points:
        uid = id_at("checkout_layout", "checkout_layout", 0, b, "buyer-")
        prev = None
        for t in (10, 50, 100):
            owned_len = 5000 * t // 100
            variant = "control" if b < owned_len else ("one_page" if 5000 <= b < 5000 + owned_len else None)
            d, _ = f.decide("ramp-%d-at-%d" % (b, t), "bucket %d at %d %% traffic -> %s" % (b, t, variant or "TRAFFIC_MISS"),
                            R("checkout", uid), snapshot=None if t == 10 else snaps[t],
                            want={"variant": variant, "bucket": b, "config_version": {10: 41, 50: 42, 100: 43}[t]})
            if prev is not None:  # the ramp property itself
                assert d["variant"] == prev, (b, t)
            if d["variant"]:
                prev = d["variant"]
    return f


# ---- units.json --------------------------------------------------------------------------------

def file_units():
    seed = 918273645  # > 2^31: the seed must reach xxh32 as an unsigned 32-bit value
    two = lambda: [V("control"), V("treatment", ranker="graph_v2")]  # noqa: E731
    w = {"control": 50, "treatment": 50}
    exps = [
        X("exp-2001", "ymal_units", ["pdp_ymal"], [V("control"), V("treatment", algo="two_tower")], weights=w),
        X("exp-2002", "newsfeed_user_only", ["newsfeed"], two(), weights=w, unit="user"),
        X("exp-2003", "search_session_only", ["search"], two(), weights=w, unit="session"),
        X("exp-2004", "home_uos", ["home"], [V("control"), V("treatment", hero="personal")], weights=w,
          unit="user_or_session"),
    ]
    snap = snapshot(512, placements("pdp_ymal", "newsfeed", "search", "home"), exps, seed=seed)
    f = VFile("units.json", "Unit resolution (SPEC §2): user_or_session (default) hashes user_id when "
              "present else session_id; '' and null count as absent; no usable id -> MISSING_UNIT, never "
              "bucket 0. Ids are hashed byte-for-byte. Snapshot seed 918273645 (> 2^31).", snap)
    A = ABSENT
    cases = [
        ("ymal-both", "pdp_ymal", "u-1001", "s-9001", "user_id wins over session_id", {"unit_type": "user"}),
        ("ymal-session-only", "pdp_ymal", A, "s-9001", "no user_id key: session unit", {"unit_type": "session"}),
        ("ymal-user-empty", "pdp_ymal", "", "s-9001", "user_id '' counts as absent", {"unit_type": "session"}),
        ("ymal-user-null", "pdp_ymal", None, "s-9001", "user_id null counts as absent", {"unit_type": "session"}),
        ("ymal-none", "pdp_ymal", A, A, "no ids at all -> MISSING_UNIT (not bucket 0)",
         {"reason": "MISSING_UNIT", "unit_type": None, "bucket": None}),
        ("ymal-both-empty", "pdp_ymal", "", "", "both ids '' -> MISSING_UNIT", {"reason": "MISSING_UNIT"}),
        ("ymal-both-null", "pdp_ymal", None, None, "both ids null -> MISSING_UNIT", {"reason": "MISSING_UNIT"}),
        ("ymal-user-space", "pdp_ymal", " ", "s-9001", "a single space is a real id (no trimming)",
         {"unit_type": "user", "hash_key": "ymal_units: "}),
        ("ymal-user-upper", "pdp_ymal", "U-1001", A, "case is significant (U-1001)", {"unit_type": "user"}),
        ("ymal-user-lower", "pdp_ymal", "u-1001", A, "case is significant (u-1001)", {"unit_type": "user"}),
        ("ymal-same-as-user", "pdp_ymal", "abc-123", A, "id 'abc-123' as user ...", {"unit_type": "user"}),
        ("ymal-same-as-session", "pdp_ymal", A, "abc-123", "... and as session: same bucket, unit_type differs",
         {"unit_type": "session"}),
        ("ymal-nfc", "pdp_ymal", unicodedata.normalize("NFC", "José"), A, "NFC id", {"unit_type": "user"}),
        ("ymal-nfd", "pdp_ymal", unicodedata.normalize("NFD", "José"), A, "NFD id: different bytes than NFC", {}),
        ("ymal-emoji-session", "pdp_ymal", A, "📱-sess-9", "emoji session id", {"unit_type": "session"}),
        ("ymal-cjk-user", "pdp_ymal", "顾客-88", "s-1", "CJK user id", {"unit_type": "user"}),
        ("ymal-colon-user", "pdp_ymal", "urn:vario:user:42", A, "id with colons is allowed", {"unit_type": "user"}),
        ("newsfeed-both", "newsfeed", "u-1001", "s-9001", "unit user: user_id used", {"unit_type": "user"}),
        ("newsfeed-session-only", "newsfeed", A, "s-9001", "unit user without user_id -> MISSING_UNIT",
         {"reason": "MISSING_UNIT", "unit_type": None}),
        ("newsfeed-user-empty", "newsfeed", "", "s-9001", "unit user, user_id '' -> MISSING_UNIT",
         {"reason": "MISSING_UNIT"}),
        ("search-both", "search", "u-1001", "s-9001", "unit session: session_id used even with a user",
         {"unit_type": "session"}),
        ("search-user-only", "search", "u-1001", A, "unit session without session_id -> MISSING_UNIT",
         {"reason": "MISSING_UNIT"}),
        ("search-session-null", "search", "u-1001", None, "unit session, session_id null -> MISSING_UNIT",
         {"reason": "MISSING_UNIT"}),
        ("home-user-only", "home", "u-1001", A, "explicit user_or_session with a user", {"unit_type": "user"}),
        ("home-session-only", "home", A, "s-9001", "explicit user_or_session falls back to session",
         {"unit_type": "session"}),
    ]
    got = {}
    for i, (slug, place, user, sess, why, want) in enumerate(cases):
        got[slug], _ = f.decide("unit-" + slug, why, R(place, user, sess), trace=(i % 3 == 0), want=want)
    assert got["ymal-same-as-user"]["bucket"] == got["ymal-same-as-session"]["bucket"]
    assert got["ymal-nfc"]["hash_key"] != got["ymal-nfd"]["hash_key"]
    assert got["ymal-user-upper"]["bucket"] != got["ymal-user-lower"]["bucket"]
    return f


# ---- status_window.json ------------------------------------------------------------------------

def file_status():
    w = {"control": 50, "treatment": 50}
    two = lambda **p: [V("control"), V("treatment", **p)]  # noqa: E731
    exps = [
        X("exp-3001", "ymal_draft", ["pdp_ymal"], two(algo="draft"), weights=w, status="DRAFT"),
        X("exp-3002", "ymal_window", ["pdp_ymal"], two(algo="two_tower"), weights=w,
          start="2026-06-01T14:00:00+02:00", end="2026-06-15T07:00:00-05:00"),
        X("exp-3003", "newsfeed_paused", ["newsfeed"], two(ranker="social"), weights=w, status="PAUSED",
          overrides=[("user", "qa-1", "treatment")]),
        X("exp-3004", "newsfeed_archived", ["newsfeed"], two(ranker="old"), weights=w, status="ARCHIVED"),
        X("exp-3005", "search_archived", ["search"], two(ranker="ltr_v0"), weights=w, status="ARCHIVED"),
        X("exp-3006", "home_hero_shipped", ["home"], [V("control"), V("carousel", hero="carousel", autoplay=False)],
          weights={"control": 50, "carousel": 50}, status="COMPLETED", shipped="carousel", start="2026-03-01T00:00:00Z", end="2026-04-01T00:00:00Z"),
        X("exp-3007", "cart_completed", ["cart"], two(upsell="accessories"), weights=w, status="COMPLETED",
          start="2026-03-01T00:00:00Z", end="2026-04-01T00:00:00Z"),
        X("exp-3008", "cart_bundles", ["cart"], two(upsell="bundle"), weights=w),
        X("exp-3009", "checkout_v1", ["checkout"], two(layout="two_step"), weights=w,
          start="2026-04-01T00:00:00Z", end="2026-06-01T12:00:00Z"),
        X("exp-3010", "checkout_v2", ["checkout"], two(layout="express"), weights=w,
          start="2026-06-01T12:00:00Z", end="2026-07-01T00:00:00Z"),
        X("exp-3011", "account_open", ["account"], two(layout="cards"), weights=w, start=None, end=None),
        X("exp-3012", "order_status_eta", ["order_status"], two(eta="exact"), weights=w,
          start="2026-06-01T12:00:00.250Z", end=None),
        X("exp-3013", "wishlist_draft", ["wishlist"], two(share=True), weights=w, status="DRAFT"),
        X("exp-3014", "brand_paused_shipped", ["brand_page"], two(grid=4), weights=w, status="PAUSED",
          shipped="treatment"),
        X("exp-3015", "help_archived_shipped", ["help"], two(chatbot=True), weights=w, status="ARCHIVED",
          shipped="treatment"),
    ]
    snap = snapshot(77, placements("pdp_ymal", "newsfeed", "search", "home", "cart", "checkout", "account",
                                   "order_status", "wishlist", "brand_page", "help"), exps)
    f = VFile("status_window.json", "Experiment status and time window (README precedence 2-3): only RUNNING "
              "experiments enroll, COMPLETED + shipped_variant -> SHIPPED, window [start, end) compared as "
              "instants (offsets like +02:00 in the snapshot), and the deciding candidate when nothing enrolls.", snap)
    u = "u-5150"
    cases = [
        ("ymal-at-start", "pdp_ymal", "2026-06-01T12:00:00.000Z", R("pdp_ymal", u, "s-1"),
         "now == start_time (written as 14:00+02:00) -> in the window", {"reason": "ASSIGNED"}),
        ("ymal-1ms-before-start", "pdp_ymal", "2026-06-01T11:59:59.999Z", R("pdp_ymal", u, "s-1"),
         "1 ms before start -> NOT_STARTED (draft sibling is NOT_RUNNING, so this one decides)",
         {"reason": "NOT_STARTED", "experiment_key": "ymal_window", "bucket": None}),
        ("ymal-1ms-before-end", "pdp_ymal", "2026-06-15T11:59:59.999Z", R("pdp_ymal", u, "s-1"),
         "1 ms before end_time (07:00-05:00) -> still in", {"reason": "ASSIGNED"}),
        ("ymal-at-end", "pdp_ymal", "2026-06-15T12:00:00.000Z", R("pdp_ymal", u, "s-1"),
         "now == end_time -> ENDED (half-open window)", {"reason": "ENDED"}),
        ("ymal-long-after", "pdp_ymal", "2027-01-01T00:00:00.000Z", R("pdp_ymal", u, "s-1"),
         "long after the end -> ENDED", {"reason": "ENDED"}),
        ("ymal-not-started-no-unit", "pdp_ymal", "2026-05-20T00:00:00.000Z", R("pdp_ymal"),
         "window is checked before the unit: NOT_STARTED, not MISSING_UNIT",
         {"reason": "NOT_STARTED", "unit_type": None}),
        ("newsfeed-all-not-running", "newsfeed", NOW, R("newsfeed", u),
         "PAUSED then ARCHIVED: every candidate NOT_RUNNING -> the first one is named",
         {"reason": "NOT_RUNNING", "experiment_key": "newsfeed_paused", "unit_type": "user"}),
        ("newsfeed-paused-override", "newsfeed", NOW, R("newsfeed", "qa-1"),
         "status beats override: a PAUSED experiment ignores its overrides",
         {"reason": "NOT_RUNNING", "variant": None}),
        ("search-archived", "search", NOW, R("search", u, "s-1"), "ARCHIVED -> NOT_RUNNING",
         {"reason": "NOT_RUNNING"}),
        ("home-shipped", "home", NOW, R("home", u, "s-1"),
         "COMPLETED + shipped_variant -> SHIPPED even after end_time; no exposure",
         {"reason": "SHIPPED", "variant": "carousel", "allocation_share": 1.0, "bucket": None, "exposure": None}),
        ("home-shipped-no-unit", "home", NOW, R("home"), "SHIPPED needs no unit id (status comes before unit)",
         {"reason": "SHIPPED", "unit_type": None, "hash_key": None}),
        ("home-shipped-session", "home", NOW, R("home", session="s-42"), "SHIPPED reports the resolved unit",
         {"reason": "SHIPPED", "unit_type": "session", "hash_key": "home_hero_shipped:s-42"}),
        ("cart-completed-then-running", "cart", NOW, R("cart", u, "s-1"),
         "COMPLETED without shipped_variant is skipped; the RUNNING sibling enrolls",
         {"reason": "ASSIGNED", "experiment_key": "cart_bundles"}),
        ("cart-no-unit", "cart", NOW, R("cart"),
         "nothing enrolls: the deciding candidate is the first non-NOT_RUNNING one",
         {"reason": "MISSING_UNIT", "experiment_key": "cart_bundles"}),
        ("checkout-before-handover", "checkout", "2026-06-01T11:59:59.999Z", R("checkout", u, "s-1"),
         "back-to-back windows: v1 still running, v2 NOT_STARTED",
         {"reason": "ASSIGNED", "experiment_key": "checkout_v1"}),
        ("checkout-at-handover", "checkout", "2026-06-01T12:00:00.000Z", R("checkout", u, "s-1"),
         "at the shared instant v1 has ENDED and v2 starts (windows touch, no collision)",
         {"reason": "ASSIGNED", "experiment_key": "checkout_v2"}),
        ("checkout-before-both", "checkout", "2026-03-01T00:00:00.000Z", R("checkout", u, "s-1"),
         "both NOT_STARTED -> the first is named", {"reason": "NOT_STARTED", "experiment_key": "checkout_v1"}),
        ("checkout-after-both", "checkout", "2026-07-01T00:00:00.000Z", R("checkout", u, "s-1"),
         "both ENDED -> the first is named", {"reason": "ENDED", "experiment_key": "checkout_v1"}),
        ("account-open-past", "account", "1999-12-31T23:59:59.999Z", R("account", u),
         "no start_time/end_time: open window", {"reason": "ASSIGNED"}),
        ("account-open-future", "account", "2099-01-01T00:00:00.000Z", R("account", u),
         "no start_time/end_time: open window", {"reason": "ASSIGNED"}),
        ("order-status-249ms", "order_status", "2026-06-01T12:00:00.249Z", R("order_status", u),
         "start_time has milliseconds (.250): .249 is before", {"reason": "NOT_STARTED"}),
        ("order-status-250ms", "order_status", "2026-06-01T12:00:00.250Z", R("order_status", u),
         "start_time has milliseconds (.250): .250 is in", {"reason": "ASSIGNED"}),
        ("wishlist-draft", "wishlist", NOW, R("wishlist", u), "DRAFT -> NOT_RUNNING",
         {"reason": "NOT_RUNNING", "experiment_key": "wishlist_draft"}),
        ("brand-paused-shipped", "brand_page", NOW, R("brand_page", u),
         "only COMPLETED ships: PAUSED with shipped_variant -> NOT_RUNNING", {"reason": "NOT_RUNNING"}),
        ("help-archived-shipped", "help", NOW, R("help", u),
         "only COMPLETED ships: ARCHIVED with shipped_variant -> NOT_RUNNING", {"reason": "NOT_RUNNING"}),
    ]
    for slug, _place, now, req, why, want in cases:
        f.decide("stw-" + slug, why, req, now=now, trace=True, want=want)
    return f


# ---- targeting.json ----------------------------------------------------------------------------

M = ABSENT  # "attribute missing" in the tables below


def leaf(attr, op, value=ABSENT, values=ABSENT):
    r = {"attr": attr, "op": op}
    if value is not ABSENT:
        r["value"] = value
    if values is not ABSENT:
        r["values"] = values
    return r


# name -> (rule, attribute under test, [(slug, attribute value | M, expected bool, why)])
TARGETING_TABLE = [
    ("eq_str", leaf("locale", "eq", "en-GB"), "locale", [
        ("match", "en-GB", True, "equal string"), ("case", "en-gb", False, "case-sensitive"),
        ("other", "de-DE", False, "different string"), ("missing", M, False, "missing attribute"),
        ("null", None, False, "null attribute counts as missing")]),
    ("eq_num", leaf("items_in_cart", "eq", 3), "items_in_cart", [
        ("int", 3, True, "equal number"), ("float", 3.0, True, "3.0 equals 3 (numbers compare as f64)"),
        ("string", "3", False, "string '3' is not the number 3"), ("bool", True, False, "true is not a number"),
        ("missing", M, False, "missing attribute")]),
    ("eq_bool", leaf("is_member", "eq", True), "is_member", [
        ("true", True, True, "equal bool"), ("false", False, False, "different bool"),
        ("string", "true", False, "string 'true' is not the bool true"), ("one", 1, False, "1 is not true"),
        ("null", None, False, "null attribute")]),
    ("eq_numstr", leaf("tier", "eq", "1"), "tier", [
        ("string", "1", True, "equal string '1'"), ("number", 1, False, "number 1 is not the string '1'")]),
    ("neq", leaf("locale", "neq", "en-GB"), "locale", [
        ("other", "de-DE", True, "different string"), ("same", "en-GB", False, "equal string"),
        ("number", 44, True, "different JSON type is not equal"), ("missing", M, False, "neq is false on a missing attribute"),
        ("null", None, False, "neq is false on a null attribute")]),
    ("in_str", leaf("country", "in", values=["GB", "IE"]), "country", [
        ("first", "GB", True, "first listed value"), ("second", "IE", True, "second listed value"),
        ("case", "gb", False, "case-sensitive"), ("other", "FR", False, "not listed"),
        ("missing", M, False, "missing attribute"), ("null", None, False, "null attribute")]),
    ("in_num", leaf("tier", "in", values=[1, 2]), "tier", [
        ("int", 2, True, "listed number"), ("float", 2.0, True, "2.0 equals 2"),
        ("string", "2", False, "typed: '2' is not 2"), ("bool", True, False, "true is not 1")]),
    ("in_empty", leaf("country", "in", values=[]), "country", [
        ("any", "GB", False, "empty `in` is false")]),
    ("not_in", leaf("country", "not_in", values=["GB", "IE"]), "country", [
        ("other", "FR", True, "not listed"), ("listed", "GB", False, "listed"),
        ("number", 44, True, "typed: 44 is not listed"), ("missing", M, False, "not_in is false on a missing attribute"),
        ("null", None, False, "not_in is false on a null attribute")]),
    ("not_in_empty", leaf("country", "not_in", values=[]), "country", [
        ("any", "FR", True, "empty `not_in` is true when the attribute exists"),
        ("missing", M, False, "... and false when it is missing")]),
    ("lt", leaf("cart_value", "lt", 50), "cart_value", [
        ("below", 49.99, True, "49.99 < 50"), ("equal", 50, False, "strict"), ("negative", -1, True, "-1 < 50"),
        ("string", "10", False, "numeric operators accept numbers only"), ("bool", True, False, "bool is not a number"),
        ("missing", M, False, "missing attribute"), ("null", None, False, "null attribute")]),
    ("lte", leaf("cart_value", "lte", 50), "cart_value", [
        ("equal", 50, True, "50 <= 50"), ("equal_float", 50.0, True, "50.0 <= 50"), ("above", 50.01, False, "50.01 > 50")]),
    ("gt", leaf("order_count", "gt", 100), "order_count", [
        ("above", 100.5, True, "100.5 > 100"), ("equal", 100, False, "strict"), ("large", 1000000, True, "large int"),
        ("string", "101", False, "string is not a number")]),
    ("gte", leaf("order_count", "gte", 100), "order_count", [
        ("equal", 100, True, "100 >= 100"), ("below", 99.999, False, "99.999 < 100"),
        ("array", [100], False, "array is not a number")]),
    ("contains_str", leaf("query", "contains", "shoe"), "query", [
        ("substring", "red shoes", True, "substring"), ("case", "Shoes", False, "case-sensitive"),
        ("empty", "", False, "empty string"), ("missing", M, False, "missing attribute")]),
    ("contains_arr", leaf("tags", "contains", "vip"), "tags", [
        ("element", ["beta", "vip"], True, "array element equals the value"),
        ("case", ["VIP"], False, "case-sensitive element"), ("empty", [], False, "empty array"),
        ("string", "vip-list", True, "string attribute: substring")]),
    ("contains_num", leaf("lucky_numbers", "contains", 7), "lucky_numbers", [
        ("int", [7, 8], True, "numeric element"), ("float", [7.0], True, "7.0 equals 7"),
        ("string_elem", ["7"], False, "typed: '7' is not 7"), ("number_attr", 7, False, "a number attribute contains nothing"),
        ("string_attr", "777", False, "string attribute with a non-string value")]),
    ("starts_with", leaf("path", "starts_with", "/products/"), "path", [
        ("match", "/products/sku-1", True, "prefix"), ("case", "/Products/sku-1", False, "case-sensitive"),
        ("shorter", "/products", False, "shorter than the prefix"), ("number", 7, False, "non-string attribute"),
        ("missing", M, False, "missing attribute")]),
    ("ends_with", leaf("email", "ends_with", "@example.com"), "email", [
        ("match", "ana@example.com", True, "suffix"), ("case", "ana@EXAMPLE.COM", False, "case-sensitive"),
        ("longer", "ana@example.com.evil.test", False, "suffix not at the end"), ("missing", M, False, "missing attribute")]),
    ("matches_ci", leaf("user_agent", "matches", "(?i)iphone|ipad"), "user_agent", [
        ("match", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", True, "inline (?i) flag, unanchored"),
        ("no_match", "Mozilla/5.0 (Linux; Android 14)", False, "no match"),
        ("number", 42, False, "non-string attribute"), ("missing", M, False, "missing attribute")]),
    ("matches_anchored", leaf("path", "matches", "^/c/[a-z-]+/[0-9]+$"), "path", [
        ("match", "/c/running-shoes/42", True, "anchored full match"),
        ("suffix", "/c/running-shoes/42/reviews", False, "$ anchors the end"),
        ("prefix", "see /c/shoes/1", False, "^ anchors the start")]),
    ("matches_search", leaf("referrer", "matches", "utm_source=news(letter)?"), "referrer", [
        ("inside", "https://shop.test/?utm_source=newsletter&utm_medium=email", True, "unanchored search"),
        ("case", "https://shop.test/?utm_source=NEWS", False, "case-sensitive without (?i)")]),
    ("semver_eq", leaf("app_version", "semver_eq", "2.5.0"), "app_version", [
        ("same", "2.5.0", True, "equal"), ("v_prefix", "v2.5.0", True, "leading v accepted"),
        ("two_parts", "2.5", True, "missing patch is 0"), ("one_part", "2", False, "2 is 2.0.0"),
        ("build", "2.5.0+build.7", True, "build metadata ignored"), ("patch", "2.5.1", False, "different patch"),
        ("prerelease", "2.5.0-rc.1", False, "a prerelease is not the release"),
        ("leading_zero", "02.5.0", False, "leading zero does not parse -> false"),
        ("four_parts", "2.5.0.1", False, "four components do not parse -> false"),
        ("number", 2.5, False, "non-string attribute"), ("missing", M, False, "missing attribute")]),
    ("semver_lt", leaf("app_version", "semver_lt", "3.0.0"), "app_version", [
        ("below", "2.99.99", True, "2.99.99 < 3.0.0"), ("prerelease", "3.0.0-rc.1", True, "prerelease < release"),
        ("equal", "3.0.0", False, "strict"), ("numeric", "10.0.0", False, "numeric, not lexical, comparison"),
        ("one_part", "3", False, "3 == 3.0.0"), ("garbage", "latest", False, "unparsable attribute -> false")]),
    ("semver_lte", leaf("app_version", "semver_lte", "3.0.0-beta.11"), "app_version", [
        ("beta2", "3.0.0-beta.2", True, "numeric prerelease ids compare numerically (2 < 11)"),
        ("equal", "3.0.0-beta.11", True, "equal"), ("shorter", "3.0.0-beta", True, "fewer prerelease ids sort first"),
        ("alnum", "3.0.0-beta.x", False, "alphanumeric id sorts after numeric"),
        ("rc", "3.0.0-rc.1", False, "rc > beta"), ("release", "3.0.0", False, "release > prerelease"),
        ("build", "3.0.0-beta.11+sha.5114f85", True, "build ignored"),
        ("zero_pre", "3.0.0-beta.011", False, "numeric prerelease id with leading zero does not parse")]),
    ("semver_gt", leaf("app_version", "semver_gt", "1.9"), "app_version", [
        ("minor", "1.10.0", True, "1.10 > 1.9 numerically"), ("equal", "1.9.0", False, "strict"),
        ("pre_next", "1.9.1-alpha", True, "1.9.1-alpha > 1.9.0"), ("pre_same", "1.9.0-alpha", False, "1.9.0-alpha < 1.9.0")]),
    ("semver_gte", leaf("app_version", "semver_gte", "v4"), "app_version", [
        ("equal", "4.0.0", True, "4.0.0 >= v4"), ("short", "4", True, "4 >= 4"), ("v_short", "v4.0", True, "v4.0 >= 4"),
        ("below", "3.9.9", False, "3.9.9 < 4"), ("prerelease", "4.0.0-alpha", False, "4.0.0-alpha < 4.0.0")]),
    ("before", leaf("signup_at", "before", "2026-01-01T00:00:00Z"), "signup_at", [
        ("ms_before", "2025-12-31T23:59:59.999Z", True, "1 ms before"),
        ("equal", "2026-01-01T00:00:00.000Z", False, "strict"),
        ("equal_offset", "2026-01-01T01:00:00+01:00", False, "same instant written with +01:00"),
        ("offset_after", "2025-12-31T23:30:00-01:00", False, "looks earlier, is 00:30Z (after)"),
        ("date_only", "2025-06-01", False, "not RFC 3339 -> false"),
        ("epoch_number", 1767225600000, False, "a number is not an RFC 3339 string"),
        ("missing", M, False, "missing attribute")]),
    ("after", leaf("last_order_at", "after", "2026-01-01T00:00:00+01:00"), "last_order_at", [
        ("ms_after", "2025-12-31T23:00:00.001Z", True, "1 ms after 00:00+01:00"),
        ("equal", "2025-12-31T23:00:00Z", False, "strict"),
        ("equal_same_text", "2026-01-01T00:00:00+01:00", False, "the value itself"),
        ("later", "2026-03-01T10:00:00Z", True, "later"), ("garbage", "not a date", False, "unparsable -> false")]),
    ("exists", leaf("coupon", "exists"), "coupon", [
        ("string", "SAVE10", True, "present"), ("empty", "", True, "'' is a present value in the context"),
        ("false", False, True, "false is present"), ("zero", 0, True, "0 is present"),
        ("missing", M, False, "missing"), ("null", None, False, "null counts as missing")]),
    ("not_exists", leaf("coupon", "not_exists"), "coupon", [
        ("missing", M, True, "missing"), ("null", None, True, "null counts as missing"),
        ("string", "SAVE10", False, "present"), ("empty", "", False, "'' is present")]),
    ("in_segment_store", leaf("store_id", "in_segment", "pilot_stores"), "store_id", [
        ("member", "store-042", True, "listed in the segment"), ("case", "STORE-042", False, "case-sensitive"),
        ("number", 42, False, "non-string attribute"), ("missing", M, False, "missing attribute")]),
    ("not_eq", {"not": leaf("plan", "eq", "pro")}, "plan", [
        ("missing", M, True, "not(false leaf on missing attribute) is true"), ("pro", "pro", False, "not(true)"),
        ("free", "free", True, "not(false)"), ("null", None, True, "null behaves as missing")]),
    ("not_not", {"not": {"not": leaf("plan", "exists")}}, "plan", [
        ("present", "free", True, "double negation"), ("missing", M, False, "double negation")]),
    ("any", {"any": [leaf("plan", "eq", "pro"), leaf("order_count", "gte", 10)]}, None, [
        ("first", {"plan": "pro"}, True, "first branch true"),
        ("second", {"plan": "free", "order_count": 10}, True, "second branch true"),
        ("neither", {"plan": "free", "order_count": 9}, False, "both false"),
        ("missing", {}, False, "both attributes missing")]),
    ("not_all", {"not": {"all": [leaf("country", "eq", "GB"), leaf("plan", "eq", "pro")]}}, None, [
        ("both", {"country": "GB", "plan": "pro"}, False, "not(true and true)"),
        ("one", {"country": "GB", "plan": "free"}, True, "not(true and false)"),
        ("missing", {}, True, "not(false and false)")]),
    ("nested", {"all": [
        {"any": [leaf("country", "in", values=["GB", "IE"]), leaf("locale", "starts_with", "en-")]},
        {"not": leaf("is_bot", "eq", True)},
        leaf("app_version", "semver_gte", "5.2")]}, None, [
        ("gb", {"country": "GB", "locale": "de-DE", "is_bot": False, "app_version": "5.2.0"}, True, "country branch, not a bot, 5.2.0 >= 5.2"),
        ("en_us", {"country": "US", "locale": "en-US", "app_version": "6.0.0"}, True, "locale branch; is_bot missing -> not(false)"),
        ("fr", {"country": "FR", "locale": "fr-FR", "app_version": "6.0.0"}, False, "neither any-branch"),
        ("bot", {"country": "GB", "is_bot": True, "app_version": "6.0.0"}, False, "bot excluded"),
        ("old_app", {"country": "GB", "app_version": "5.1.9"}, False, "5.1.9 < 5.2"),
        ("no_app", {"country": "GB"}, False, "missing app_version")]),
]


def file_targeting():
    exps, places = [], {}
    for i, (name, rule, _attr, _cases) in enumerate(TARGETING_TABLE):
        key = "tgt_" + name
        places[key] = {"default_params": {"banner": "none", "slot": "top"}}
        exps.append(X("exp-40%02d" % i, key, [key], [V("control"), V("promo", banner="summer_sale")],
                      weights={"control": 50, "promo": 50}, targeting=rule))
    ids_rules = [
        ("user_in_segment", leaf("user_id", "in_segment", "beta_testers")),
        ("user_id_eq", leaf("user_id", "eq", "vip-1")),
        ("session_prefix", leaf("session_id", "starts_with", "app-")),
        ("anonymous", {"not": leaf("user_id", "exists")}),
    ]
    for j, (name, rule) in enumerate(ids_rules):
        key = "tgt_" + name
        places[key] = {"default_params": {"banner": "none", "slot": "top"}}
        exps.append(X("exp-41%02d" % j, key, [key], [V("control"), V("promo", banner="summer_sale")],
                      weights={"control": 50, "promo": 50}, targeting=rule))
    segs = {"beta_testers": ["t-user-7", "t-user-9", "vip-1"], "pilot_stores": ["store-042", "store-108"]}
    snap = snapshot(903, places, exps, segments=segs)
    f = VFile("targeting.json", "Targeting operators (SPEC §4, README 'Targeting'): one RUNNING 50/50 "
              "experiment per rule on its own placement (tgt_<rule>), so the decision is ASSIGNED when the "
              "rule matches and TARGETING_MISS when it does not. Typed comparisons, missing vs null "
              "attributes, regex, semver, timestamps, segments, not/all/any.", snap)
    for name, _rule, attr, cases in TARGETING_TABLE:
        key = "tgt_" + name
        for slug, value, expected, why in cases:
            if attr is None:
                ctx = dict(value)
                if "locale" not in ctx:
                    ctx["locale"] = ABSENT
            else:
                ctx = {attr: value}
            want = {"reason": "ASSIGNED" if expected else "TARGETING_MISS", "experiment_key": key}
            f.decide("tgt-%s-%s" % (name, slug), "%s: %s" % (name, why), R(key, "t-user-1", "t-sess-1", ctx=ctx,
                     page_type="home"), trace=(slug in ("match", "missing")), want=want)
    idc = [
        ("user_in_segment", "member", R("tgt_user_in_segment", "t-user-7", "t-sess-1", page_type="home"), True,
         "user_id is an attribute: member of beta_testers"),
        ("user_in_segment", "non_member", R("tgt_user_in_segment", "t-user-8", "t-sess-1", page_type="home"), False,
         "user_id not in the segment"),
        ("user_in_segment", "no_user", R("tgt_user_in_segment", session="t-user-7", page_type="home"), False,
         "session_id is not user_id: missing user_id attribute -> false"),
        ("user_in_segment", "user_empty", R("tgt_user_in_segment", "", "t-sess-1", page_type="home"), False,
         "user_id '' is absent as an attribute too"),
        ("user_id_eq", "match", R("tgt_user_id_eq", "vip-1", page_type="home"), True, "user_id eq"),
        ("user_id_eq", "context_ignored", R("tgt_user_id_eq", "t-user-1", page_type="home", ctx={"user_id": "vip-1"}),
         False, "the user_id attribute reads the request id, not context.user_id"),
        ("session_prefix", "match", R("tgt_session_prefix", "t-user-1", "app-123", page_type="home"), True,
         "session_id attribute"),
        ("session_prefix", "web", R("tgt_session_prefix", "t-user-1", "web-123", page_type="home"), False,
         "session_id attribute, other prefix"),
        ("session_prefix", "no_session", R("tgt_session_prefix", "t-user-1", page_type="home"), False,
         "no session_id -> missing attribute"),
        ("anonymous", "session_only", R("tgt_anonymous", session="t-sess-1", page_type="home"), True,
         "not(exists user_id) for an anonymous session"),
        ("anonymous", "user_null", R("tgt_anonymous", None, "t-sess-1", page_type="home"), True,
         "user_id null -> absent attribute"),
        ("anonymous", "logged_in", R("tgt_anonymous", "t-user-1", "t-sess-1", page_type="home"), False,
         "logged-in user"),
    ]
    for name, slug, req, expected, why in idc:
        f.decide("tgt-%s-%s" % (name, slug), why, req, trace=(slug == "match"),
                 want={"reason": "ASSIGNED" if expected else "TARGETING_MISS"})
    return f


# ---- layers_holdouts.json ----------------------------------------------------------------------

def file_layers():
    seed = 0
    L_PDP, S_PDP = "pdp_layer", "pdp_layer_2026q2"
    L_SRCH, S_SRCH = "search_layer", "search_layer_v1"
    GH, GH_SALT, GH_BP = "global_holdout", "gh_2026", 250   # percent 2.5
    HH, HH_SALT, HH_BP = "home_holdout", "hh_q2", 1000      # percent 10
    gh = lambda u: fast_bucket(u, GH, GH_SALT, seed)  # noqa: E731
    hh = lambda u: fast_bucket(u, HH, HH_SALT, seed)  # noqa: E731
    free = lambda u: gh(u) >= GH_BP  # noqa: E731  (not in the global holdout)
    qa_held = find_id(lambda u: gh(u) < GH_BP, "qa-holdout-")
    exps = [
        X("exp-5001", "ymal_ranker_a", ["pdp_ymal"], [V("control"), V("ranker_a", algo="graph_a")],
          weights={"control": 50, "ranker_a": 50}, layer={"key": L_PDP, "range": [0, 5000]}),
        X("exp-5002", "ymal_ranker_b", ["pdp_ymal"], [V("control"), V("ranker_b", algo="seq_b", limit=8)],
          weights={"control": 50, "ranker_b": 50}, layer={"key": L_PDP, "range": [5000, 10000]}),
        X("exp-5003", "search_ltr", ["search"], [V("control"), V("ltr", ranker="ltr_v2")],
          weights={"control": 50, "ltr": 50}, unit="user", layer={"key": L_SRCH, "range": [0, 3000]}),
        X("exp-5004", "search_synonyms", ["search"], [V("control"), V("synonyms", spellcheck=False, synonyms=True)],
          weights={"control": 50, "synonyms": 50}, unit="user", layer={"key": L_SRCH, "range": [5000, 8000]}),
        X("exp-5005", "home_modules", ["home"], [V("control"), V("personal", modules=["for_you", "recent"])],
          weights={"control": 50, "personal": 50}, targeting=leaf("locale", "starts_with", "en-")),
        X("exp-5006", "cart_cross_sell", ["cart"], [V("control"), V("cross_sell", upsell="cross_sell")],
          weights={"control": 50, "cross_sell": 50}, overrides=[("user", qa_held, "cross_sell")]),
    ]
    layers = [{"key": L_PDP, "salt": S_PDP}, {"key": L_SRCH, "salt": S_SRCH}]
    holdouts = [{"key": GH, "salt": GH_SALT, "percent": 2.5, "unit": "user", "experiments": "*"},
                {"key": HH, "salt": HH_SALT, "percent": 10, "unit": "user_or_session", "experiments": ["home_modules"]},
                {"key": "broken_holdout", "salt": "bh", "percent": 150, "unit": "user", "experiments": ["cart_cross_sell"]}]
    snap = snapshot(1204, placements("pdp_ymal", "search", "home", "cart"), exps, layers=layers, holdouts=holdouts,
                    seed=seed)
    f = VFile("layers_holdouts.json", "Layers (mutual exclusion through the layer bucket, gaps -> LAYER_MISS) "
              "and holdouts ('*' 2.5 % on user, a listed 10 % on user_or_session, and an invalid 150 % one "
              "(BAD_HOLDOUT) that holds nobody), README precedence 5-8. Every case traces all candidates.", snap,
              [("BAD_HOLDOUT", "holdout:broken_holdout")])
    pl = lambda b, extra=free: id_at(L_PDP, S_PDP, seed, b, "shopper-", extra)  # noqa: E731
    for b, winner in ((0, "ymal_ranker_a"), (4999, "ymal_ranker_a"), (5000, "ymal_ranker_b"), (9999, "ymal_ranker_b")):
        uid = pl(b)
        loser = "ymal_ranker_b" if winner == "ymal_ranker_a" else "ymal_ranker_a"
        f.decide("lay-pdp-layer-bucket-%d" % b, "layer bucket %d -> only %s can enroll" % (b, winner),
                 R("pdp_ymal", uid, "s-" + uid), trace=True,
                 want={"reason": "ASSIGNED", "experiment_key": winner,
                       "trace": [[winner, "ASSIGNED"], [loser, "LAYER_MISS"]] if winner.endswith("a")
                       else [[loser, "LAYER_MISS"], [winner, "ASSIGNED"]]})
    s_held_like = find_id(lambda u: gh(u) < GH_BP and fast_bucket(u, L_PDP, S_PDP, seed) < 5000, "sess-")
    f.decide("lay-pdp-session-not-held", "global holdout is on the user unit: a session-only request is held by "
             "nobody, even if its session id would fall in the holdout", R("pdp_ymal", session=s_held_like), trace=True,
             want={"reason": "ASSIGNED", "experiment_key": "ymal_ranker_a"})
    for b in (0, 249, 250):
        uid = find_id(lambda u: gh(u) == b, "shopper-")
        held = b < GH_BP
        f.decide("lay-pdp-global-holdout-%d" % b, "global holdout bucket %d %s 250 (2.5 %%)" % (b, "<" if held else ">="),
                 R("pdp_ymal", uid, "s-1"), trace=True,
                 want={"reason": "HOLDOUT", "experiment_key": "ymal_ranker_a", "bucket": None,
                       "trace": [["ymal_ranker_a", "HOLDOUT"], ["ymal_ranker_b", "HOLDOUT"]]} if held
                 else {"reason": "ASSIGNED"})
    # exclusivity holds for many units (a property check, not a vector)
    for n in range(3000):
        d, ex = decide(Snap(snap), parse_ts(NOW), R("pdp_ymal", "prop-%d" % n))
        assert sum(1 for _k, r in ex["trace"] if r == "ASSIGNED") <= 1
    sl = lambda b: id_at(L_SRCH, S_SRCH, seed, b, "searcher-", free)  # noqa: E731
    for b, winner in ((0, "search_ltr"), (2999, "search_ltr"), (3000, None), (4999, None), (5000, "search_synonyms"),
                      (7999, "search_synonyms"), (8000, None), (9999, None)):
        uid = sl(b)
        f.decide("lay-search-layer-bucket-%d" % b,
                 "layer bucket %d -> %s" % (b, winner or "in a gap of the layer: LAYER_MISS, first candidate named"),
                 R("search", uid, "s-1"), trace=True,
                 want={"reason": "ASSIGNED", "experiment_key": winner} if winner
                 else {"reason": "LAYER_MISS", "experiment_key": "search_ltr", "variant": None, "bucket": None})
    f.decide("lay-search-session-only", "unit user in both layer experiments: session-only -> MISSING_UNIT",
             R("search", session="s-77"), trace=True, want={"reason": "MISSING_UNIT", "experiment_key": "search_ltr"})
    for b in (999, 1000):
        uid = find_id(lambda u: hh(u) == b and free(u), "homer-")
        held = b < HH_BP
        f.decide("lay-home-holdout-%d" % b, "listed holdout bucket %d %s 1000 (10 %%)" % (b, "<" if held else ">="),
                 R("home", uid, "s-1"), trace=True, want={"reason": "HOLDOUT" if held else "ASSIGNED"})
    s = find_id(lambda u: hh(u) < HH_BP, "home-sess-")
    f.decide("lay-home-holdout-session", "user_or_session holdout holds a session-only unit by its session id",
             R("home", session=s), trace=True, want={"reason": "HOLDOUT", "unit_type": "session"})
    uid = find_id(lambda u: hh(u) < HH_BP and free(u), "homer-")
    f.decide("lay-home-holdout-before-targeting", "holdout is checked before targeting (locale de-DE would miss)",
             R("home", uid, "s-1", locale="de-DE"), trace=True, want={"reason": "HOLDOUT"})
    uid = find_id(lambda u: hh(u) >= HH_BP and free(u), "homer-")
    f.decide("lay-home-targeting-miss", "not held, targeting fails -> TARGETING_MISS",
             R("home", uid, "s-1", locale="de-DE"), trace=True, want={"reason": "TARGETING_MISS"})
    uid = find_id(lambda u: hh(u) >= HH_BP and not free(u), "homer-")
    f.decide("lay-home-global-holdout", "'*' lists every experiment, home_modules included",
             R("home", uid, "s-1"), trace=True, want={"reason": "HOLDOUT"})
    uid = find_id(lambda u: not free(u), "carter-")
    f.decide("lay-cart-global-holdout", "'*' global holdout on cart", R("cart", uid, "s-1"), trace=True,
             want={"reason": "HOLDOUT", "experiment_key": "cart_cross_sell"})
    f.decide("lay-cart-override-beats-holdout", "override is checked before holdouts (the QA id is in the global holdout)",
             R("cart", qa_held, "s-1"), trace=True, want={"reason": "OVERRIDE", "variant": "cross_sell"})
    uid = find_id(free, "carter-")
    f.decide("lay-cart-not-held", "not in the global holdout; the invalid 150 % holdout holds nobody -> ASSIGNED",
             R("cart", uid, "s-1"), trace=True,
             want={"reason": "ASSIGNED"})
    return f


# ---- precedence_params.json --------------------------------------------------------------------

def file_precedence():
    places = placements("newsfeed", "home", "search", "cart", "checkout", "help")
    places = {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12, "filters": {"in_stock": True}}}, **places}
    exps = [
        X("exp-6001", "ymal_overrides", ["pdp_ymal"],
          [V("control"), V("treatment", algo="graph", limit=20, badge="new", filters={"brand": "acme"})],
          weights={"control": 50, "treatment": 50}, salt="ymal_overrides#3", iteration=3,
          overrides=[("session", "s-qa-1", "treatment"), ("user", "qa-user-1", "control"),
                     ("user", "qa-user-2", "treatment")]),
        X("exp-6002", "newsfeed_user_ovr", ["newsfeed"], [V("control"), V("treatment", ranker="social")],
          weights={"control": 50, "treatment": 50}, unit="user", overrides=[("session", "s-qa-2", "treatment")]),
        X("exp-6003", "home_forced", ["home"],
          [V("control"), V("hero_video", hero="video", autoplay=False, slots=0)],
          weights={"control": 50, "hero_video": 50}, status="PAUSED", targeting=leaf("locale", "eq", "fr-FR")),
        X("exp-6004", "search_forced_vs_ovr", ["search"], [V("control"), V("semantic", ranker="semantic", spellcheck=False)],
          weights={"control": 50, "semantic": 50}, overrides=[("user", "qa-user-3", "control")]),
        X("exp-6005", "cart_paused", ["cart"], [V("control"), V("treatment", upsell="paused_variant")],
          weights={"control": 50, "treatment": 50}, status="PAUSED"),
        X("exp-6006", "cart_live", ["cart"], [V("control"), V("treatment", upsell="live_variant")],
          weights={"control": 50, "treatment": 50}),
        X("exp-6007", "checkout_falsy", ["checkout"],
          [V("control"), V("minimal", layout="", show_badges=False, max_items=0, note=None)],
          weights={"control": 0, "minimal": 100}),
    ]
    snap = snapshot(2048, places, exps)
    f = VFile("precedence_params.json", "Decision precedence before and across candidates (unknown placement, "
              "consent, forced, overrides user-then-session) and params (placement defaults shallow-merged with "
              "the variant's params, variant wins, new keys appended, falsy values kept).", snap)
    t_id = id_at("ymal_overrides", "ymal_overrides#3", 0, 7500, "shopper-")
    c_id = id_at("ymal_overrides", "ymal_overrides#3", 0, 2500, "shopper-")
    cases = [
        ("ymal-assigned-treatment", R("pdp_ymal", t_id, "s-1"), True,
         "params merge: variant wins on algo/limit, filters replaced whole (shallow), badge appended; iteration 3",
         {"reason": "ASSIGNED", "variant": "treatment", "iteration": 3,
          "params": {"algo": "graph", "limit": 20, "filters": {"brand": "acme"}, "badge": "new"}}),
        ("ymal-assigned-control", R("pdp_ymal", c_id, "s-1"), False, "control has no params: the placement defaults",
         {"reason": "ASSIGNED", "variant": "control", "params": {"algo": "baseline", "limit": 12, "filters": {"in_stock": True}}}),
        ("ymal-user-override", R("pdp_ymal", "qa-user-1", "s-qa-1"), True,
         "user override beats session override (even listed later)",
         {"reason": "OVERRIDE", "variant": "control", "unit_type": "user", "hash_key": "ymal_overrides:qa-user-1",
          "allocation_share": 1.0, "bucket": None, "exposure": None}),
        ("ymal-session-override", R("pdp_ymal", session="s-qa-1"), False, "session override",
         {"reason": "OVERRIDE", "variant": "treatment", "unit_type": "session", "hash_key": "ymal_overrides:s-qa-1"}),
        ("ymal-session-override-with-user", R("pdp_ymal", t_id, "s-qa-1"), False,
         "no user override for this user, so the session override applies (unit_type session)",
         {"reason": "OVERRIDE", "variant": "treatment", "unit_type": "session"}),
        ("ymal-user-empty-session-override", R("pdp_ymal", "", "s-qa-1"), False,
         "user_id '' is absent; session override", {"reason": "OVERRIDE", "unit_type": "session"}),
        ("ymal-second-user-override", R("pdp_ymal", "qa-user-2"), False, "another user override",
         {"reason": "OVERRIDE", "variant": "treatment"}),
        ("ymal-forced-beats-override", R("pdp_ymal", "qa-user-1", "s-qa-1", forced={"ymal_overrides": "treatment"}),
         False, "forced beats the user override",
         {"reason": "FORCED", "variant": "treatment", "allocation_share": 1.0, "unit_type": "user",
          "hash_key": "ymal_overrides:qa-user-1", "exposure": None}),
        ("ymal-forced-unknown-variant", R("pdp_ymal", t_id, "s-1", forced={"ymal_overrides": "nope"}), True,
         "forced with an unknown variant is ignored", {"reason": "ASSIGNED", "variant": "treatment"}),
        ("ymal-forced-other-placement", R("pdp_ymal", t_id, "s-1", forced={"home_forced": "hero_video"}), False,
         "forced naming an experiment that is not a candidate here is ignored", {"reason": "ASSIGNED"}),
        ("ymal-opted-out", R("pdp_ymal", "qa-user-1", consent=False, forced={"ymal_overrides": "treatment"}), False,
         "consent false beats forced and overrides: placement defaults, no experiment",
         {"reason": "OPTED_OUT", "experiment_key": None, "unit_type": None, "iteration": None,
          "params": {"algo": "baseline", "limit": 12, "filters": {"in_stock": True}}, "exposure": None}),
        ("ymal-consent-true", R("pdp_ymal", t_id, "s-1", consent=True), False, "consent true is the normal path",
         {"reason": "ASSIGNED"}),
        ("newsfeed-unit-before-override", R("newsfeed", session="s-qa-2"), True,
         "unit user and no user_id: MISSING_UNIT before the session override is looked at",
         {"reason": "MISSING_UNIT", "variant": None}),
        ("newsfeed-session-override-user-unit", R("newsfeed", "u-31", "s-qa-2"), True,
         "unit user resolves, then the session override matches: unit_type is the override's",
         {"reason": "OVERRIDE", "unit_type": "session", "hash_key": "newsfeed_user_ovr:s-qa-2"}),
        ("home-forced-paused", R("home", "u-31", forced={"home_forced": "hero_video"}), False,
         "forced beats status (PAUSED) and targeting (locale en-GB vs fr-FR); falsy params kept",
         {"reason": "FORCED", "variant": "hero_video",
          "params": {"hero": "video", "modules": ["recent", "trending"], "autoplay": False, "slots": 0}}),
        ("home-not-forced", R("home", "u-31"), True, "without forced: NOT_RUNNING", {"reason": "NOT_RUNNING"}),
        ("home-forced-opted-out", R("home", "u-31", consent=False, forced={"home_forced": "hero_video"}), False,
         "consent false beats forced", {"reason": "OPTED_OUT"}),
        ("home-forced-no-ids", R("home", forced={"home_forced": "hero_video"}), False,
         "forced needs no unit id: unit_type and hash_key null",
         {"reason": "FORCED", "unit_type": None, "hash_key": None}),
        ("search-override", R("search", "qa-user-3"), True, "user override", {"reason": "OVERRIDE", "variant": "control"}),
        ("search-forced-vs-override", R("search", "qa-user-3", forced={"search_forced_vs_ovr": "semantic"}), False,
         "forced beats the override", {"reason": "FORCED", "variant": "semantic"}),
        ("cart-forced-first", R("cart", "u-31", forced={"cart_live": "treatment", "cart_paused": "treatment"}), False,
         "two forced candidates: the first in snapshot order wins (not the first in the forced map)",
         {"reason": "FORCED", "experiment_key": "cart_paused", "params": {"upsell": "paused_variant", "limit": 4}}),
        ("cart-forced-second", R("cart", "u-31", forced={"cart_live": "treatment"}), False, "forced cart_live",
         {"reason": "FORCED", "experiment_key": "cart_live"}),
        ("cart-forced-bogus-first", R("cart", "u-31", forced={"cart_paused": "bogus", "cart_live": "treatment"}), False,
         "an unknown forced variant on the first candidate is skipped", {"reason": "FORCED", "experiment_key": "cart_live"}),
        ("cart-no-forced", R("cart", "u-31"), True, "no forced: paused one skipped, live one enrolls",
         {"reason": "ASSIGNED", "experiment_key": "cart_live"}),
        ("help-no-experiment", R("help", "u-31", "s-1"), True, "placement without candidates -> NO_EXPERIMENT",
         {"reason": "NO_EXPERIMENT", "experiment_key": None, "params": {"chatbot": False}, "trace": []}),
        ("help-opted-out", R("help", "u-31", consent=False), False, "OPTED_OUT on a placement without candidates",
         {"reason": "OPTED_OUT", "params": {"chatbot": False}}),
        ("unknown-placement", R("pdp_ymal_v2", "u-31"), False, "unknown placement: params {} and no experiment",
         {"reason": "UNKNOWN_PLACEMENT", "params": {}, "experiment_key": None}),
        ("unknown-placement-case", R("PDP_YMAL", "u-31"), False, "placement names are case-sensitive",
         {"reason": "UNKNOWN_PLACEMENT"}),
        ("unknown-placement-opted-out", R("pdp_ymal_v2", "u-31", consent=False), False,
         "unknown placement is checked before consent", {"reason": "UNKNOWN_PLACEMENT"}),
        ("unknown-placement-forced", R("pdp_ymal_v2", "u-31", forced={"ymal_overrides": "treatment"}), False,
         "unknown placement beats forced", {"reason": "UNKNOWN_PLACEMENT"}),
        ("checkout-falsy-params", R("checkout", "u-31"), True,
         "falsy variant params ('' false 0 null) win over defaults; 100 % weight -> allocation_share 1.0",
         {"reason": "ASSIGNED", "variant": "minimal", "allocation_share": 1.0,
          "params": {"layout": "", "show_badges": False, "max_items": 0, "note": None}}),
    ]
    for slug, req, trace, why, want in cases:
        f.decide("prc-" + slug, why, req, trace=trace, want=want)
    return f


# ---- flags.json --------------------------------------------------------------------------------

def FL(key, variants, default, rules, *, salt=None, enabled=None, kill_switch=False, unit=None, overrides=None):
    f = {"key": key}
    if salt is not None:
        f["salt"] = salt
    if enabled is not None:
        f["enabled"] = enabled
    f["kill_switch"] = kill_switch
    f["variants"] = variants
    f["default_variant"] = default
    if unit is not None:
        f["unit"] = unit
    if overrides is not None:
        f["overrides"] = [{"unit": u, "id": i, "variant": v} for u, i, v in overrides]
    f["rules"] = rules
    return f


def rule(kind, rollout=None, targeting=None, schedule=None, shadow_variant=None):
    r = {"kind": kind}
    if targeting is not None:
        r["targeting"] = targeting
    if rollout is not None:
        r["rollout"] = rollout
    if schedule is not None:
        r["schedule"] = [{"at": at, "percent": p} for at, p in schedule]
    if shadow_variant is not None:
        r["shadow_variant"] = shadow_variant
    return r


def file_flags():
    onoff = {"on": True, "off": False}
    flags = [
        FL("checkout_kill", onoff, "off", [rule("target", {"variant": "on", "percent": 100})], kill_switch=True,
           overrides=[("user", "qa-1", "on")]),
        FL("dark_mode", {"dark": "dark", "light": "light"}, "light", [rule("target", {"variant": "dark", "percent": 100})],
           enabled=False, overrides=[("user", "qa-1", "dark")]),
        FL("reco_model", {"v1": "two_tower_v1", "v2": "two_tower_v2", "v3": {"model": "graph", "k": 50}}, "v1",
           [rule("target", {"variant": "v3", "percent": 100}, leaf("country", "in", values=["NZ", "AU"])),
            rule("gradual", {"variant": "v2", "percent": 20})],
           salt="reco_model_2026q2", enabled=True,
           overrides=[("session", "s-debug", "v3"), ("user", "staff-7", "v2")]),
        FL("search_v3_rollout", onoff, "off",
           [rule("gradual", {"variant": "on", "percent": 1},
                 schedule=[("2026-06-01T00:00:00Z", 10), ("2026-06-08T02:00:00+02:00", 50), ("2026-06-15T00:00:00.000Z", 100)])]),
        FL("api_canary", {"stable": "v41", "canary": "v42"}, "stable",
           [rule("canary", {"variant": "canary", "percent": 5}, leaf("email", "ends_with", "@vario.dev"))]),
        FL("ranker_shadow", {"bm25": {"ranker": "bm25"}, "ltr_v1": {"ranker": "ltr", "v": 1}, "ltr_v2": {"ranker": "ltr", "v": 2}},
           "bm25",
           [rule("shadow", {"variant": "ltr_v2", "percent": 50}, leaf("platform", "eq", "web"), shadow_variant="ltr_v2"),
            rule("target", {"variant": "ltr_v1", "percent": 100}, leaf("country", "eq", "DE")),
            rule("gradual", {"variant": "ltr_v1", "percent": 30})]),
        FL("layout_split", {"grid": {"cols": 4}, "list": {"cols": 1}, "carousel": {"cols": 6}}, "grid",
           [rule("gradual", {"grid": 50, "list": 30, "carousel": 20})], unit="user"),
        FL("beta_banner", {"on": "Try the new search", "off": None}, "off",
           [rule("target", {"variant": "on", "percent": 100}, leaf("is_member", "eq", True)),
            rule("gradual", {"variant": "on", "percent": 0})], unit="user"),
        FL("free_shipping", {"on": 0, "threshold_50": 50}, "threshold_50",
           [rule("target", {"variant": "on", "percent": 100}, leaf("country", "in", values=["GB"]))], unit="session"),
        FL("shadow_after_target", {"a": "A", "b": "B", "c": "C"}, "a",
           [rule("target", {"variant": "b", "percent": 100}, leaf("country", "eq", "GB")),
            rule("shadow", {"variant": "c", "percent": 100}, shadow_variant="c")]),
        FL("promo_weights_single", {"off": False, "spring": "spring-24", "summer": "summer-24"}, "off",
           [rule("target", {"spring": 0, "summer": 100}, leaf("country", "eq", "GB"))]),
        FL("new_search_ui", onoff, "off", [rule("target", {"variant": "on"}, leaf("is_member", "eq", True))]),
        FL("scheduled_no_percent", onoff, "off",
           [rule("gradual", {"variant": "on"}, schedule=[("2026-06-10T00:00:00Z", 50)])]),
        FL("no_rules_yet", {"a": "A", "b": "B"}, "b", []),
    ]
    exps = [X("exp-7001", "home_flags_sibling", ["home"], [V("control"), V("treatment", hero="video")],
              weights={"control": 50, "treatment": 50})]
    snap = snapshot(3301, placements("home"), exps, flags=flags)
    f = VFile("flags.json", "Feature flags (README 'Flags'): kill switch, disabled, overrides, ordered target/"
              "gradual/canary/shadow rules, percent and weight rollouts on bucket(unit, flag.key, flag.salt), "
              "schedules, and rollouts that need no unit. rule_index is 0-based.", snap)
    H = lambda **c: R("home", ctx=c) if c else R("home")  # noqa: E731

    def req(user=ABSENT, session=ABSENT, **c):
        return R("home", user, session, ctx=c)

    fb = lambda key, salt, b, prefix="fl-user-": id_at(key, salt, 0, b, prefix)  # noqa: E731
    F = f.flag
    F("flg-kill-switch", "kill switch -> default_variant; unit resolved, bucket not computed", "checkout_kill",
      req("u-1", "s-1"), want={"reason": "KILL_SWITCH", "variant": "off", "value": False, "unit_type": "user", "bucket": None})
    F("flg-kill-switch-beats-override", "kill switch beats overrides", "checkout_kill", req("qa-1"),
      want={"reason": "KILL_SWITCH", "variant": "off"})
    F("flg-kill-switch-no-ids", "kill switch needs no unit", "checkout_kill", H(), want={"reason": "KILL_SWITCH"})
    F("flg-disabled", "enabled false -> default_variant (DISABLED)", "dark_mode", req("u-1"),
      want={"reason": "DISABLED", "variant": "light", "value": "light"})
    F("flg-disabled-beats-override", "disabled beats overrides", "dark_mode", req("qa-1"), want={"reason": "DISABLED"})
    F("flg-override-user", "user override", "reco_model", req("staff-7", country="NZ"),
      want={"reason": "OVERRIDE", "variant": "v2", "unit_type": "user", "rule_index": None})
    F("flg-override-user-before-session", "user override beats a session override listed first", "reco_model",
      req("staff-7", "s-debug"), want={"reason": "OVERRIDE", "variant": "v2", "unit_type": "user"})
    F("flg-override-session", "session override", "reco_model", req(session="s-debug"),
      want={"reason": "OVERRIDE", "variant": "v3", "value": {"model": "graph", "k": 50}, "unit_type": "session"})
    F("flg-override-session-with-user", "no override for the user, the session override applies", "reco_model",
      req("u-1", "s-debug"), want={"reason": "OVERRIDE", "variant": "v3", "unit_type": "session"})
    F("flg-target-match", "target rule (country in NZ/AU) at 100 %", "reco_model", req("u-1", country="AU"),
      want={"reason": "TARGET_MATCH", "variant": "v3", "rule_index": 0, "unit_type": "user"})
    F("flg-target-match-no-ids", "a 100 % rollout needs no unit id", "reco_model", H(country="NZ"),
      want={"reason": "TARGET_MATCH", "unit_type": None})
    for b, variant in ((0, "v2"), (1999, "v2"), (2000, "v1"), (9999, "v1")):
        uid = fb("reco_model", "reco_model_2026q2", b)
        F("flg-gradual-20-bucket-%d" % b, "gradual 20 %% on the flag's own salt: bucket %d -> %s" % (b, variant),
          "reco_model", req(uid, country="GB"),
          want={"reason": "GRADUAL" if variant == "v2" else "DEFAULT", "variant": variant,
                "rule_index": 1 if variant == "v2" else None})
    F("flg-gradual-no-ids", "a 20 % rollout needs a bucket: no unit -> rule skipped -> DEFAULT", "reco_model",
      H(country="GB"), want={"reason": "DEFAULT", "variant": "v1"})
    # schedule: own percent 1 before the first step, then 10 / 50 / 100
    sched_times = [
        ("before-first-step", "2026-05-31T23:59:59.999Z", 100),
        ("at-first-step", "2026-06-01T00:00:00.000Z", 1000),
        ("between-steps", "2026-06-05T08:30:00.000Z", 1000),
        ("1ms-before-second", "2026-06-07T23:59:59.999Z", 1000),
        ("at-second-step", "2026-06-08T00:00:00.000Z", 5000),
        ("at-last-step", "2026-06-15T00:00:00.000Z", 10000),
        ("after-last-step", "2026-12-01T00:00:00.000Z", 10000),
    ]
    for slug, now, bp in sched_times:
        for b in (99, 100, 999, 1000, 4999, 5000, 9999):
            if not (bp - 1 <= b <= bp or (bp == 10000 and b == 9999) or (slug == "between-steps" and b in (99, 5000))):
                continue
            uid = fb("search_v3_rollout", "search_v3_rollout", b, "searcher-")
            on = b < bp
            F("flg-schedule-%s-bucket-%d" % (slug, b), "schedule %s (%d bp): bucket %d -> %s" % (slug, bp, b, "on" if on else "off"),
              "search_v3_rollout", req(uid), now=now,
              want={"reason": "GRADUAL" if on else "DEFAULT", "variant": "on" if on else "off"})
    for b, emp, want in ((499, True, ("CANARY", "canary")), (500, True, ("DEFAULT", "stable")),
                         (0, False, ("DEFAULT", "stable"))):
        uid = fb("api_canary", "api_canary", b, "dev-")
        email = "dev@vario.dev" if emp else "dev@example.com"
        F("flg-canary-bucket-%d-%s" % (b, "staff" if emp else "customer"),
          "canary 5 %% for @vario.dev: bucket %d, %s" % (b, "staff" if emp else "not staff"),
          "api_canary", req(uid, email=email), want={"reason": want[0], "variant": want[1]})
    F("flg-canary-no-ids", "canary 5 % needs a bucket: no unit -> DEFAULT", "api_canary", H(email="dev@vario.dev"),
      want={"reason": "DEFAULT"})
    rs = lambda b: fb("ranker_shadow", "ranker_shadow", b, "ranker-")  # noqa: E731
    F("flg-shadow-then-target", "shadow rule matches (web, bucket < 50 %), target serves: both reported",
      "ranker_shadow", req(rs(4999), platform="web", country="DE"),
      want={"reason": "TARGET_MATCH", "variant": "ltr_v1", "shadow_variant": "ltr_v2", "rule_index": 1})
    F("flg-shadow-bucket-miss", "shadow percent 50: bucket 5000 is out of the shadow", "ranker_shadow",
      req(rs(5000), platform="web", country="DE"), want={"reason": "TARGET_MATCH", "shadow_variant": None})
    F("flg-shadow-targeting-miss", "shadow targeting false (platform app)", "ranker_shadow",
      req(rs(100), platform="app", country="DE"), want={"reason": "TARGET_MATCH", "shadow_variant": None})
    F("flg-shadow-then-gradual", "shadow + gradual 30 % (bucket 2999)", "ranker_shadow",
      req(rs(2999), platform="web", country="FR"),
      want={"reason": "GRADUAL", "variant": "ltr_v1", "shadow_variant": "ltr_v2", "rule_index": 2})
    F("flg-shadow-then-default", "shadow set, nothing serves -> DEFAULT keeps shadow_variant", "ranker_shadow",
      req(rs(4000), platform="web", country="FR"),
      want={"reason": "DEFAULT", "variant": "bm25", "shadow_variant": "ltr_v2"})
    F("flg-shadow-after-target", "a serving rule before the shadow rule ends evaluation: no shadow",
      "shadow_after_target", req("u-1", country="GB"), want={"reason": "TARGET_MATCH", "variant": "b", "shadow_variant": None})
    F("flg-shadow-after-default", "target misses, later shadow rule (100 %) sets shadow_variant", "shadow_after_target",
      req("u-1", country="FR"), want={"reason": "DEFAULT", "variant": "a", "shadow_variant": "c"})
    F("flg-shadow-100-no-ids", "a 100 % shadow needs no unit", "shadow_after_target", H(country="FR"),
      want={"reason": "DEFAULT", "shadow_variant": "c"})
    for b, variant in ((0, "grid"), (4999, "grid"), (5000, "list"), (7999, "list"), (8000, "carousel"), (9999, "carousel")):
        uid = fb("layout_split", "layout_split", b, "viewer-")
        F("flg-weights-bucket-%d" % b, "weights 50/30/20 in map order: bucket %d -> %s" % (b, variant), "layout_split",
          req(uid, "s-1"), want={"reason": "GRADUAL", "variant": variant, "bucket": b})
    F("flg-weights-no-user", "unit user, session only: a multi-variant split needs a bucket -> DEFAULT",
      "layout_split", req(session="s-1"), want={"reason": "DEFAULT", "variant": "grid"})
    F("flg-weights-single-nonzero-no-ids", "weights with one non-zero variant need no bucket", "promo_weights_single",
      H(country="GB"), want={"reason": "TARGET_MATCH", "variant": "summer"})
    F("flg-target-user-unit-no-user", "unit user, no user_id: a 100 % target rule still serves, unit_type null",
      "beta_banner", req(session="s-1", is_member=True), want={"reason": "TARGET_MATCH", "variant": "on", "unit_type": None})
    F("flg-percent-0", "a 0 % rollout never serves; the off variant's value is JSON null", "beta_banner",
      req("u-1", is_member=False), want={"reason": "DEFAULT", "variant": "off", "value": None})
    F("flg-session-unit", "unit session: value 0 is a real value", "free_shipping", req("u-1", "s-1", country="GB"),
      want={"reason": "TARGET_MATCH", "variant": "on", "value": 0, "unit_type": "session"})
    F("flg-session-unit-default", "target misses -> DEFAULT", "free_shipping", req("u-1", "s-1", country="FR"),
      want={"reason": "DEFAULT", "value": 50})
    F("flg-percent-default-100", "a {variant} rollout without percent serves 100 %", "new_search_ui",
      req("u-1", is_member=True), want={"reason": "TARGET_MATCH", "variant": "on"})
    F("flg-percent-default-100-no-ids", "... so it needs no unit", "new_search_ui", H(is_member=True),
      want={"reason": "TARGET_MATCH", "unit_type": None, "bucket": None})
    sn = lambda b: fb("scheduled_no_percent", "scheduled_no_percent", b, "sched-")  # noqa: E731
    F("flg-schedule-no-percent-before", "with a schedule, a missing percent means 0 before the first step",
      "scheduled_no_percent", req(sn(0)), want={"reason": "DEFAULT", "bucket": 0})
    F("flg-schedule-no-percent-after", "after the 50 % step: bucket 4999 is in", "scheduled_no_percent", req(sn(4999)),
      now="2026-06-10T00:00:00.000Z", want={"reason": "GRADUAL", "variant": "on", "bucket": 4999})
    F("flg-no-rules", "no rules: DEFAULT, the bucket is still reported when the unit resolves", "no_rules_yet",
      req("u-1", "s-1"), want={"reason": "DEFAULT", "variant": "b", "unit_type": "user"})
    F("flg-no-rules-no-ids", "no rules and no unit: unit_type and bucket null", "no_rules_yet", H(),
      want={"reason": "DEFAULT", "unit_type": None, "bucket": None})
    F("flg-not-found", "unknown flag key", "does_not_exist", req("u-1"),
      want={"reason": "FLAG_NOT_FOUND", "variant": None, "value": None})
    F("flg-not-found-case", "flag keys are case-sensitive", "Dark_Mode", req("u-1"), want={"reason": "FLAG_NOT_FOUND"})
    return f


# ---- invalid_items.json ------------------------------------------------------------------------

def file_invalid():
    two = lambda: [V("control"), V("treatment", variant_param=True)]  # noqa: E731
    w = {"control": 50, "treatment": 50}
    dp = {"default_params": {"widget": "default"}}
    bad = [  # (slug, placement, experiment kwargs, why)
        ("weights-sum-99", "home_hero", dict(weights={"control": 50, "treatment": 49}), "weights add up to 99"),
        ("weights-3-decimals", "home_recs", dict(weights={"control": 33.333, "treatment": 66.667}),
         "a weight with three decimals"),
        ("weights-unknown-variant", "search_suggest", dict(weights={"control": 50, "treatment": 50, "treatmnet": 0}),
         "weights name an unknown variant (a typo, even at 0 %)"),
        ("weights-negative", "category_grid", dict(weights={"control": -10, "treatment": 110}),
         "weights outside [0, 100] (sum is 100)"),
        ("traffic-over-100", "account", dict(weights=w, traffic=150), "traffic 150"),
        ("ranges-start-gt-end", "pdp_bundle", dict(ranges=[("control", 0, 5000), ("treatment", 7000, 6000)]),
         "range with start > end"),
        ("ranges-end-over-10000", "pdp_reviews", dict(ranges=[("control", 0, 5000), ("treatment", 5000, 10001)]),
         "range end 10001"),
        ("ranges-overlap", "brand_page", dict(ranges=[("control", 0, 5000), ("treatment", 4999, 9000)]),
         "ranges overlap by one bucket"),
        ("ranges-unknown-variant", "wishlist", dict(ranges=[("control", 0, 5000), ("ghost", 5000, 10000)]),
         "range names an unknown variant"),
        ("ranges-with-traffic", "order_confirmation", dict(ranges=[("control", 0, 5000), ("treatment", 5000, 10000)],
                                                           traffic=50), "traffic together with ranges"),
        ("override-unknown-variant", "email_recs", dict(weights=w, overrides=[("user", "qa-1", "treatment_b")]),
         "override to an unknown variant"),
        ("shipped-unknown-variant", "push_recs", dict(weights=w, status="COMPLETED", shipped="winner"),
         "shipped_variant is not a variant"),
        ("unknown-operator", "app_home", dict(weights=w, targeting=leaf("locale", "regex_match", "en-.*")),
         "unknown targeting operator (never silently matches)"),
        ("regex-unbalanced", "store_locator", dict(weights=w, targeting=leaf("path", "matches", "/stores/(")),
         "regex with an unbalanced '('"),
        ("regex-lookahead", "size_guide", dict(weights=w, targeting=leaf("path", "matches", "^(?=/size).*")),
         "look-ahead is not Rust regex syntax"),
        ("regex-backreference", "returns", dict(weights=w, targeting=leaf("path", "matches", "(ab)\\1")),
         "backreference is not Rust regex syntax"),
        ("semver-bad-value", "app_banner", dict(weights=w, targeting=leaf("app_version", "semver_gte", "1.02")),
         "semver value with a leading zero"),
        ("timestamp-bad-value", "loyalty", dict(weights=w, targeting=leaf("signup_at", "before", "yesterday")),
         "before/after value is not RFC 3339"),
        ("unknown-segment", "gift_cards", dict(weights=w, targeting=leaf("user_id", "in_segment", "nobody_defined_this")),
         "in_segment names an unknown segment"),
        ("wrong-value-type", "deals", dict(weights=w, targeting=leaf("cart_value", "lt", "50")),
         "numeric operator with a string value"),
        ("nested-bad-operator", "recently_viewed_2", dict(weights=w, targeting={"all": [leaf("locale", "eq", "en-GB"),
                                                          {"not": leaf("country", "like", "G%")}]}),
         "unknown operator deep inside all/not"),
        ("unknown-layer", "recently_viewed", dict(weights=w, layer={"key": "no_such_layer", "range": [0, 10000]}),
         "layer key is not in layers"),
        ("layer-range-reversed", "compare", dict(weights=w, layer={"key": "misc_layer", "range": [6000, 5000]}),
         "layer range [6000, 5000]"),
        ("draft-bad-weights", "gift_wrap", dict(weights={"control": 10, "treatment": 10}, status="DRAFT"),
         "an invalid DRAFT is CONFIG_ERROR too (validity comes before status)"),
    ]
    exps, places = [], {}
    for i, (slug, place, kw, _why) in enumerate(bad):
        places[place] = copy.deepcopy(dp)
        exps.append(X("exp-80%02d" % i, place + "_test", [place], two(), **kw))
    # valid siblings and the cross-item checks
    places.update(placements("pdp_ymal", "newsfeed", "search", "cart", "checkout"))
    ok = lambda **p: [V("control"), V("treatment", **p)]  # noqa: E731
    exps += [
        X("exp-8101", "ymal_a", ["pdp_ymal"], ok(algo="a"), weights=w, layer={"key": "ymal_layer", "range": [0, 6000]}),
        X("exp-8102", "ymal_b", ["pdp_ymal"], ok(algo="b"), weights=w, layer={"key": "ymal_layer", "range": [5000, 10000]}),
        X("exp-8103", "search_ltr", ["search"], ok(ranker="ltr"), weights=w, unit="user",
          layer={"key": "search_layer", "range": [0, 5000]}),
        X("exp-8104", "search_typo", ["search"], ok(spellcheck=False), weights=w, unit="session",
          layer={"key": "search_layer", "range": [5000, 10000]}),
        X("exp-8105", "newsfeed_ranker", ["newsfeed"], ok(ranker="graph"), weights=w, traffic=50),
        X("exp-8106", "newsfeed_dedupe", ["newsfeed"], ok(dedupe=True), weights=w,
          start="2026-05-15T00:00:00Z", end="2026-06-15T00:00:00Z"),
        X("exp-8107", "cart_upsell", ["cart"], ok(upsell="bundle"), weights=w),
        X("exp-8108", "cart_upsell", ["checkout"], ok(layout="express"), weights=w),
        X("exp-8109", "home_banner_test", ["home_banner"], two(), weights={"control": 60, "treatment": 41}),
        X("exp-8110", "home_banner_fallback", ["home_banner"], ok(widget="fallback"), weights=w),
    ]
    places["home_banner"] = copy.deepcopy(dp)
    flags = [
        FL("checkout_kill", {"on": True, "off": False}, "off", [rule("target", {"variant": "on", "percent": 100})],
           kill_switch=True),
        FL("bad_flag_unknown_variant", {"on": True, "off": False}, "off", [rule("gradual", {"variant": "purple", "percent": 10})]),
        FL("bad_flag_weights", {"a": "A", "b": "B"}, "a", [rule("gradual", {"a": 50, "b": 40})]),
        FL("bad_flag_operator", {"on": True, "off": False}, "off",
           [rule("target", {"variant": "on", "percent": 100}, leaf("country", "equals", "GB"))]),
        FL("bad_flag_default", {"on": True, "off": False}, "of", []),
        FL("bad_flag_regex", {"on": True, "off": False}, "off",
           [rule("target", {"variant": "on", "percent": 100}, leaf("email", "matches", "(?<=@)vario"))]),
        FL("new_nav", {"on": True, "off": False}, "off", [rule("target", {"variant": "on", "percent": 100})]),
        FL("new_nav", {"on": True, "off": False}, "on", [rule("target", {"variant": "off", "percent": 100})]),
        FL("free_shipping_banner", {"on": "Free shipping over £50", "off": None}, "off",
           [rule("gradual", {"variant": "on", "percent": 100})]),
        FL("payments_kill", {"on": True, "off": False}, "off",
           [rule("target", {"variant": "on", "percent": 100}, leaf("country", "equals", "GB"))], kill_switch=True),
        FL("search_kill", {"on": True, "off": False}, "gone", [], kill_switch=True),
    ]
    layers = [{"key": "ymal_layer", "salt": "ymal_layer_s1"}, {"key": "search_layer", "salt": "search_layer_s1"},
              {"key": "misc_layer", "salt": "misc"}]
    snap = snapshot(4096, places, exps, flags=flags, layers=layers, segments={"staff": ["u-staff-1"]})
    E = lambda code, key: (code, "experiment:" + key)  # noqa: E731
    expect_lints = (
        [E("BAD_ALLOCATION", k + "_test") for k in ("home_hero", "home_recs", "category_grid", "account",
                                                    "order_confirmation", "gift_wrap", "home_banner")] +
        [E("BAD_RANGES", k + "_test") for k in ("pdp_bundle", "pdp_reviews", "brand_page", "compare")] +
        [E("UNKNOWN_VARIANT", k + "_test") for k in ("search_suggest", "wishlist", "email_recs", "push_recs")] +
        [E("UNKNOWN_OPERATOR", "app_home_test"), E("UNKNOWN_OPERATOR", "recently_viewed_2_test"),
         E("BAD_REGEX", "store_locator_test"), E("BAD_REGEX", "size_guide_test"), E("BAD_REGEX", "returns_test"),
         E("BAD_SEMVER", "app_banner_test"), E("BAD_TIMESTAMP", "loyalty_test"), E("UNKNOWN_SEGMENT", "gift_cards_test"),
         E("BAD_VALUE", "deals_test"), E("UNKNOWN_LAYER", "recently_viewed_test"),
         E("LAYER_OVERLAP", "ymal_b"), E("LAYER_UNIT_MISMATCH", "search_typo"),
         E("PLACEMENT_COLLISION", "newsfeed_dedupe"), E("DUPLICATE_KEY", "cart_upsell"),
         ("UNKNOWN_VARIANT", "flag:bad_flag_unknown_variant"), ("BAD_ALLOCATION", "flag:bad_flag_weights"),
         ("UNKNOWN_OPERATOR", "flag:bad_flag_operator"), ("UNKNOWN_VARIANT", "flag:bad_flag_default"),
         ("BAD_REGEX", "flag:bad_flag_regex"), ("DUPLICATE_KEY", "flag:new_nav"),
         ("UNKNOWN_OPERATOR", "flag:payments_kill"), ("UNKNOWN_VARIANT", "flag:search_kill")])
    f = VFile("invalid_items.json", "Per-item isolation (SPEC §6, README 'Validation'): every invalid experiment "
              "or flag decides CONFIG_ERROR on its own while its siblings, the valid half of each conflicting "
              "pair and the kill switch keep working. One invalid item per placement.", snap, expect_lints)
    for slug, place, kw, why in bad:
        f.decide("inv-" + slug, why + " -> CONFIG_ERROR", R(place, "u-1001", "s-1"), trace=(slug.startswith("regex")),
                 want={"reason": "CONFIG_ERROR", "experiment_key": place + "_test", "variant": None,
                       "params": {"widget": "default"}, "bucket": None, "exposure": None})
    f.decide("inv-forced-invalid", "forced naming an invalid experiment is ignored -> CONFIG_ERROR",
             R("home_hero", "u-1001", forced={"home_hero_test": "treatment"}), want={"reason": "CONFIG_ERROR"})
    f.decide("inv-invalid-then-valid", "an invalid candidate does not block (or collide with) a later valid one",
             R("home_banner", "u-1001"), trace=True,
             want={"reason": "ASSIGNED", "experiment_key": "home_banner_fallback",
                   "trace": [["home_banner_test", "CONFIG_ERROR"], ["home_banner_fallback", "ASSIGNED"]]})
    lb = lambda b: id_at("ymal_layer", "ymal_layer_s1", 0, b, "shopper-")  # noqa: E731
    f.decide("inv-layer-overlap-first-ok", "LAYER_OVERLAP disables only the later experiment (layer bucket 5500)",
             R("pdp_ymal", lb(5500)), trace=True,
             want={"reason": "ASSIGNED", "experiment_key": "ymal_a", "trace": [["ymal_a", "ASSIGNED"], ["ymal_b", "CONFIG_ERROR"]]})
    f.decide("inv-layer-overlap-miss", "layer bucket 8000: ymal_a LAYER_MISS is the deciding reason, not the later CONFIG_ERROR",
             R("pdp_ymal", lb(8000)), trace=True, want={"reason": "LAYER_MISS", "experiment_key": "ymal_a"})
    sb = lambda b: id_at("search_layer", "search_layer_s1", 0, b, "searcher-")  # noqa: E731
    f.decide("inv-layer-unit-mismatch-first-ok", "LAYER_UNIT_MISMATCH disables only the later experiment",
             R("search", sb(100), "s-1"), trace=True, want={"reason": "ASSIGNED", "experiment_key": "search_ltr"})
    f.decide("inv-layer-unit-mismatch-later", "user in the later experiment's range: LAYER_MISS from search_ltr",
             R("search", sb(7000), "s-1"), trace=True, want={"reason": "LAYER_MISS", "experiment_key": "search_ltr",
                                                             "trace": [["search_ltr", "LAYER_MISS"], ["search_typo", "CONFIG_ERROR"]]})
    nb = lambda b: id_at("newsfeed_ranker", "newsfeed_ranker", 0, b, "reader-")  # noqa: E731
    f.decide("inv-collision-first-ok", "PLACEMENT_COLLISION disables the later experiment; the earlier one assigns",
             R("newsfeed", nb(100)), trace=True,
             want={"reason": "ASSIGNED", "experiment_key": "newsfeed_ranker",
                   "trace": [["newsfeed_ranker", "ASSIGNED"], ["newsfeed_dedupe", "CONFIG_ERROR"]]})
    f.decide("inv-collision-traffic-miss", "earlier one misses on traffic (50 %): TRAFFIC_MISS decides",
             R("newsfeed", nb(2500)), trace=True, want={"reason": "TRAFFIC_MISS", "experiment_key": "newsfeed_ranker",
                                                         "bucket": 2500})
    f.decide("inv-duplicate-first-ok", "the first 'cart_upsell' (exp-8107) is valid", R("cart", "u-1001"), trace=True,
             want={"reason": "ASSIGNED", "experiment_id": "exp-8107"})
    f.decide("inv-duplicate-later", "the later 'cart_upsell' (exp-8108) is CONFIG_ERROR (DUPLICATE_KEY)",
             R("checkout", "u-1001"), trace=True, want={"reason": "CONFIG_ERROR", "experiment_id": "exp-8108"})
    f.decide("inv-sibling-valid", "a valid experiment in the same snapshot decides normally", R("pdp_ymal", lb(100)),
             want={"reason": "ASSIGNED"})
    F = f.flag
    F("inv-flag-kill-switch", "kill switch gets through although many items in this snapshot are invalid",
      "checkout_kill", R("checkout", "u-1001"), want={"reason": "KILL_SWITCH", "variant": "off", "value": False})
    for key, why in (("bad_flag_unknown_variant", "rollout to an unknown variant"),
                     ("bad_flag_weights", "rollout weights add up to 90"),
                     ("bad_flag_operator", "unknown operator in a rule"),
                     ("bad_flag_default", "default_variant is not a variant"),
                     ("bad_flag_regex", "look-behind regex in a rule")):
        F("inv-" + key.replace("_", "-"), why + " -> CONFIG_ERROR", key, R("home_hero", "u-1001", ctx={"country": "GB"}),
          want={"reason": "CONFIG_ERROR"})
    F("inv-flag-duplicate-first-served", "duplicate flag key: the later definition is disabled, the first one serves",
      "new_nav", R("home_hero", "u-1001"), want={"reason": "TARGET_MATCH", "variant": "on"})
    F("inv-flag-invalid-kill-switch", "an invalid flag (unknown operator) whose kill switch is on still serves its "
      "default variant: a kill switch always gets through", "payments_kill", R("home_hero", "u-1001"),
      want={"reason": "KILL_SWITCH", "variant": "off", "value": False})
    F("inv-flag-invalid-kill-switch-no-default", "an invalid flag whose kill switch names no variant of its own "
      "has nothing to serve: CONFIG_ERROR", "search_kill", R("home_hero", "u-1001"), want={"reason": "CONFIG_ERROR"})
    F("inv-flag-sibling-valid", "a valid flag next to invalid ones", "free_shipping_banner", R("home_hero", "u-1001"),
      want={"reason": "GRADUAL", "variant": "on", "value": "Free shipping over £50"})
    return f


# ---- load.json ---------------------------------------------------------------------------------

def file_load():
    f = VFile("load.json", "Whole-snapshot rejection (SPEC §6; codes NOT_JSON / SCHEMA_VERSION / "
              "INVALID_SNAPSHOT) and, for snapshots that load, the exact set of lints {code, item} (README "
              "'Lints': one error per invalid item, plus warnings), including the snapshot of every other file.", None)
    base = lambda **kw: snapshot(9, placements("pdp_ymal", "newsfeed"), [  # noqa: E731
        X("exp-9001", "ymal_algo_v2", ["pdp_ymal"], [V("control"), V("treatment", algo="two_tower")],
          weights={"control": 50, "treatment": 50})], **kw)
    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))  # noqa: E731

    def add(cid, why, text, want):
        got = load_text(text)
        assert got == want, (cid, got)
        f.raw({"id": cid, "why": why, "op": "load", "snapshot_text": text, "expect": got})

    def mut(fn):
        s = base()
        fn(s)
        return dump(s)

    add("load-not-json-garbage", "not JSON at all", "<html>502 Bad Gateway</html>", {"error": "NOT_JSON"})
    add("load-version-max", "version 2^53 - 1 is the largest accepted", mut(lambda s: s.update(version=2 ** 53 - 1)),
        {"lints": []})
    add("load-version-over-max", "version 2^53 is refused: no surface could hold it exactly, and it would make every "
        "later publish look like a regression", mut(lambda s: s.update(version=2 ** 53)), {"error": "INVALID_SNAPSHOT"})
    add("load-version-u64-max", "version 2^64 - 1 is refused (version poisoning)",
        mut(lambda s: s.update(version=2 ** 64 - 1)), {"error": "INVALID_SNAPSHOT"})
    add("load-iteration-zero", "iteration 0 is MALFORMED: iterations start at 1",
        mut(lambda s: s["experiments"][0].update(iteration=0)), {"lints": [{"code": "MALFORMED", "item": "experiment:ymal_algo_v2"}]})
    add("load-not-json-empty", "empty body", "", {"error": "NOT_JSON"})
    add("load-not-json-truncated", "truncated JSON", dump(base())[:-7], {"error": "NOT_JSON"})
    add("load-not-json-trailing", "valid JSON followed by garbage", dump(base()) + " x", {"error": "NOT_JSON"})
    add("load-schema-2", "schema_version 2", mut(lambda s: s.update(schema_version=2)), {"error": "SCHEMA_VERSION"})
    add("load-schema-0", "schema_version 0", mut(lambda s: s.update(schema_version=0)), {"error": "SCHEMA_VERSION"})
    add("load-schema-missing", "no schema_version", mut(lambda s: s.pop("schema_version")), {"error": "SCHEMA_VERSION"})
    add("load-schema-string", "schema_version \"1\" (a string)", mut(lambda s: s.update(schema_version="1")),
        {"error": "SCHEMA_VERSION"})
    add("load-hash-md5", "hashing.algorithm md5", mut(lambda s: s["hashing"].update(algorithm="md5")),
        {"error": "INVALID_SNAPSHOT"})
    add("load-seed-negative", "seed -1 is not a u32", mut(lambda s: s["hashing"].update(seed=-1)), {"error": "INVALID_SNAPSHOT"})
    add("load-seed-2p32", "seed 2^32 is not a u32", mut(lambda s: s["hashing"].update(seed=2 ** 32)),
        {"error": "INVALID_SNAPSHOT"})
    add("load-seed-float", "seed 1.5", mut(lambda s: s["hashing"].update(seed=1.5)), {"error": "INVALID_SNAPSHOT"})
    add("load-seed-string", "seed \"7\" (a string)", mut(lambda s: s["hashing"].update(seed="7")), {"error": "INVALID_SNAPSHOT"})
    add("load-version-string", "version \"7\" (a string)", mut(lambda s: s.update(version="7")), {"error": "INVALID_SNAPSHOT"})
    add("load-version-negative", "version -1", mut(lambda s: s.update(version=-1)), {"error": "INVALID_SNAPSHOT"})
    add("load-version-fraction", "version 7.5", mut(lambda s: s.update(version=7.5)), {"error": "INVALID_SNAPSHOT"})
    add("load-experiments-object", "experiments is an object, not a list", mut(lambda s: s.update(experiments={})),
        {"error": "INVALID_SNAPSHOT"})
    add("load-placements-list", "placements is a list, not a map", mut(lambda s: s.update(placements=[])),
        {"error": "INVALID_SNAPSHOT"})
    add("load-flags-string", "flags is a string", mut(lambda s: s.update(flags="none")), {"error": "INVALID_SNAPSHOT"})
    add("load-clean", "a clean snapshot loads with no lints", dump(base()), {"lints": []})
    add("load-seed-max", "seed 2^32-1 is a valid u32", mut(lambda s: s["hashing"].update(seed=U32)), {"lints": []})
    add("load-version-0", "version 0 is a valid version", mut(lambda s: s.update(version=0)), {"lints": []})

    def unknown(s):
        s["rollout_policy"] = {"canary": True}
        s["experiments"][0]["owner"] = "team-reco"
        s["placements"]["pdp_ymal"]["description"] = "PDP you may also like"
    add("load-unknown-fields", "unknown fields at any level are ignored (forward compatibility)", mut(unknown), {"lints": []})
    add("load-pretty-printed", "whitespace and key order do not matter",
        json.dumps(dict(reversed(list(base().items()))), indent=4), {"lints": []})
    w = {"control": 50, "treatment": 50}
    ok = [V("control"), V("treatment", x=1)]
    E = lambda code, key: {"code": code, "item": "experiment:" + key}  # noqa: E731

    def with_exp(*exps, **top):
        def fn(s):
            s["experiments"].extend(exps)
            for k, v in top.items():
                s[k] = v
        return mut(fn)

    counter = iter(range(9100, 9999))

    def exp(key, place="newsfeed", **kw):
        kw.setdefault("weights", w)
        return X("exp-%d" % next(counter), key, [place], ok, **kw)

    add("load-lint-collision", "two RUNNING experiments on one placement outside a layer",
        with_exp(exp("ymal_widget_copy", "pdp_ymal")), {"lints": [E("PLACEMENT_COLLISION", "ymal_widget_copy")]})
    add("load-no-collision", "a PAUSED sibling and a back-to-back window do not collide",
        with_exp(exp("ymal_widget_copy", "pdp_ymal", status="PAUSED"), exp("ymal_next", "pdp_ymal", start=END, end=None)),
        {"lints": []})

    def layered(second_range, second_unit=None):
        return with_exp(exp("nf_a", layer={"key": "nf_layer", "range": [0, 5000]}),
                        exp("nf_b", unit=second_unit, layer={"key": "nf_layer", "range": second_range}),
                        layers=[{"key": "nf_layer", "salt": "nf"}])
    add("load-layer-ok", "adjacent layer ranges [0,5000) [5000,10000) share a placement legally",
        layered([5000, 10000]), {"lints": []})
    add("load-lint-layer-overlap", "layer ranges overlap", layered([4000, 10000]), {"lints": [E("LAYER_OVERLAP", "nf_b")]})
    add("load-layer-overlap-disjoint-windows", "overlapping layer ranges in back-to-back windows do not conflict",
        with_exp(exp("nf_a", layer={"key": "nf_layer", "range": [0, 5000]}),
                 exp("nf_b", start=END, end=None, layer={"key": "nf_layer", "range": [4000, 10000]}),
                 layers=[{"key": "nf_layer", "salt": "nf"}]), {"lints": []})
    add("load-lint-layer-unit", "one layer, two unit types", layered([5000, 10000], "session"),
        {"lints": [E("LAYER_UNIT_MISMATCH", "nf_b")]})
    add("load-lint-duplicate", "duplicate experiment key and duplicate flag key",
        with_exp(exp("ymal_algo_v2"), flags=[FL("dark_mode", {"on": True, "off": False}, "off", []),
                                             FL("dark_mode", {"on": True, "off": False}, "on", [])]),
        {"lints": [E("DUPLICATE_KEY", "ymal_algo_v2"), {"code": "DUPLICATE_KEY", "item": "flag:dark_mode"}]})
    singles = [  # (slug, why, experiment, code)
        ("malformed", "experiment without variants", dict(weights=w), "MALFORMED"),
        ("weights-sum", "weights add up to 99.99", dict(weights={"control": 50, "treatment": 49.99}), "BAD_ALLOCATION"),
        ("weights-decimals", "weight with three decimals", dict(weights={"control": 50.005, "treatment": 49.995}),
         "BAD_ALLOCATION"),
        ("traffic-decimals", "traffic with three decimals", dict(weights=w, traffic=12.345), "BAD_ALLOCATION"),
        ("both-weights-ranges", "weights and ranges together", dict(weights=w, ranges=[("control", 0, 10000)]),
         "BAD_ALLOCATION"),
        ("ranges-overlap", "overlapping explicit ranges", dict(weights=None, ranges=[("control", 0, 6000), ("treatment", 5000, 10000)]),
         "BAD_RANGES"),
        ("layer-range-bounds", "layer range end 10001", dict(weights=w, layer={"key": "misc", "range": [0, 10001]}), "BAD_RANGES"),
        ("unknown-layer", "unknown layer key", dict(weights=w, layer={"key": "nope", "range": [0, 10000]}), "UNKNOWN_LAYER"),
        ("override-variant", "override to an unknown variant", dict(weights=w, overrides=[("user", "qa-1", "ctrl")]),
         "UNKNOWN_VARIANT"),
        ("window-empty", "end_time == start_time", dict(weights=w, start="2026-06-01T00:00:00Z",
                                                        end="2026-06-01T02:00:00+02:00"), "BAD_WINDOW"),
        ("window-unparsable", "month 13 in start_time", dict(weights=w, start="2026-13-01T00:00:00Z"), "BAD_WINDOW"),
        ("operator", "unknown operator", dict(weights=w, targeting=leaf("locale", "like", "en%")), "UNKNOWN_OPERATOR"),
        ("value", "numeric operator with a string value", dict(weights=w, targeting=leaf("cart_value", "gte", "10")), "BAD_VALUE"),
        ("regex", "unbalanced regex", dict(weights=w, targeting=leaf("path", "matches", "^/p/(")), "BAD_REGEX"),
        ("regex-backref", "backreference", dict(weights=w, targeting=leaf("path", "matches", "(a)\\1")), "BAD_REGEX"),
        ("semver", "semver value 1.2.3.4", dict(weights=w, targeting=leaf("app_version", "semver_lt", "1.2.3.4")), "BAD_SEMVER"),
        ("timestamp", "timestamp value without a time", dict(weights=w, targeting=leaf("signup_at", "after", "2026-01-01")),
         "BAD_TIMESTAMP"),
        ("segment", "unknown segment", dict(weights=w, targeting=leaf("user_id", "in_segment", "ghosts")), "UNKNOWN_SEGMENT"),
    ]
    for slug, why, kw, code in singles:
        e = exp("nf_" + slug.replace("-", "_"), **kw)
        if slug == "malformed":
            del e["variants"]
        add("load-lint-" + slug, why, with_exp(e, layers=[{"key": "misc", "salt": "misc"}]),
            {"lints": [E(code, e["key"])]})
    flag_singles = [
        ("flag-default", "flag default_variant unknown", FL("promo", {"on": 1, "off": 0}, "of", []), "UNKNOWN_VARIANT"),
        ("flag-rollout-variant", "flag rollout to an unknown variant",
         FL("promo", {"on": 1, "off": 0}, "off", [rule("gradual", {"variant": "onn", "percent": 5})]), "UNKNOWN_VARIANT"),
        ("flag-shadow-variant", "shadow_variant unknown",
         FL("promo", {"on": 1, "off": 0}, "off", [rule("shadow", shadow_variant="maybe")]), "UNKNOWN_VARIANT"),
        ("flag-schedule", "schedule steps out of order",
         FL("promo", {"on": 1, "off": 0}, "off", [rule("gradual", {"variant": "on", "percent": 0},
                                                       schedule=[("2026-06-08T00:00:00Z", 50), ("2026-06-01T00:00:00Z", 10)])]),
         "BAD_SCHEDULE"),
        ("flag-operator", "unknown operator in a flag rule",
         FL("promo", {"on": 1, "off": 0}, "off", [rule("target", {"variant": "on"}, leaf("country", "is", "GB"))]),
         "UNKNOWN_OPERATOR"),
    ]
    for slug, why, fl, code in flag_singles:
        add("load-lint-" + slug, why, with_exp(flags=[fl]), {"lints": [{"code": code, "item": "flag:promo"}]})
    holdout = lambda **kw: {"key": "hold_q3", "salt": "hq3", "percent": 5, "unit": "user", "experiments": "*", **kw}  # noqa: E731
    add("load-lint-holdout-percent", "holdout percent 150", with_exp(holdouts=[holdout(percent=150)]),
        {"lints": [{"code": "BAD_HOLDOUT", "item": "holdout:hold_q3"}]})
    add("load-lint-holdout-unit", "holdout unit 'device'", with_exp(holdouts=[holdout(unit="device")]),
        {"lints": [{"code": "BAD_HOLDOUT", "item": "holdout:hold_q3"}]})
    add("load-warn-holdout-experiment", "warning: holdout lists an unknown experiment",
        with_exp(holdouts=[holdout(experiments=["ymal_algo_v2", "ymal_algo_v3"])]),
        {"lints": [{"code": "UNKNOWN_HOLDOUT_EXPERIMENT", "item": "holdout:hold_q3"}]})
    add("load-warn-unknown-placement", "warning: experiment names a placement that is not in placements",
        with_exp(X("exp-9901", "bundle_widget", ["newsfeed", "pdp_bundle"], ok, weights=w)),
        {"lints": [E("UNKNOWN_PLACEMENT", "bundle_widget")]})
    add("load-warn-unreachable-traffic", "warning: RUNNING with traffic 0 owns no bucket",
        with_exp(exp("nf_dark_launch", traffic=0)), {"lints": [E("UNREACHABLE", "nf_dark_launch")]})
    e = exp("nf_empty_ranges", weights=None, ranges=[("control", 3000, 3000)])
    add("load-warn-unreachable-ranges", "warning: RUNNING with only empty ranges", with_exp(e),
        {"lints": [E("UNREACHABLE", "nf_empty_ranges")]})
    add("load-no-warn-paused-traffic-0", "a PAUSED experiment at traffic 0 is not UNREACHABLE",
        with_exp(exp("nf_dark_launch", traffic=0, status="PAUSED")), {"lints": []})
    for name, snap_obj in FILE_SNAPSHOTS.items():
        res = load_text(dump(snap_obj))
        add("load-file-" + name.replace(".json", "").replace("_", "-"),
            "the snapshot of %s loads with exactly these lints" % name, dump(snap_obj), res)
    return f


# ---- pseudonymize.json -------------------------------------------------------------------------

def file_pseudonymize():
    f = VFile("pseudonymize.json", "Pseudonymised ids in events (SPEC §5): hex(HMAC-SHA256(key, id)) with a "
              "key, hex(SHA-256(id)) without one; UTF-8 bytes, lowercase hex. The id to pseudonymise is the "
              "case's `unit_id` (the case's own `id` is its vector id).", None)
    cases = [
        ("pse-nokey-user", None, "u-1001", "no key: plain SHA-256"),
        ("pse-nokey-session", None, "s-9001", "no key: session id"),
        ("pse-nokey-empty", None, "", "no key, empty id (SHA-256 of no bytes)"),
        ("pse-nokey-nfc", None, unicodedata.normalize("NFC", "José"), "no key, NFC id"),
        ("pse-nokey-nfd", None, unicodedata.normalize("NFD", "José"), "no key, NFD id: different digest"),
        ("pse-key-user", PEPPER, "u-1001", "snapshot privacy.id_hash_key"),
        ("pse-key-session", PEPPER, "s-9001", "same key, session id"),
        ("pse-key-emoji-id", PEPPER, "📱-sess-9", "emoji id"),
        ("pse-key-short", "k", "u-1001", "one-byte key"),
        ("pse-key-unicode", "clé-🔑", "u-1001", "non-ASCII key (UTF-8 bytes)"),
        ("pse-key-long", "x" * 100, "u-1001", "key longer than the SHA-256 block (64 bytes) is hashed first"),
        ("pse-key-colon-id", PEPPER, "urn:vario:user:42", "id with colons"),
    ]
    for cid, key, ident, why in cases:
        # README names this input `id`, which collides with the case id: it is written as `unit_id`.
        f.raw({"id": cid, "why": why, "op": "pseudonymize", "key": key, "unit_id": ident,
               "expect": {"value": pseudonymize(key, ident)}})
    assert pseudonymize(None, "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    return f


# ---- requests.json -----------------------------------------------------------------------------

def file_requests():
    snap = snapshot(15, placements("pdp_ymal", "cart"), [
        X("exp-9501", "ymal_algo_v2", ["pdp_ymal"], [V("control"), V("treatment", algo="two_tower", limit=16)],
          weights={"control": 50, "treatment": 50})])
    f = VFile("requests.json", "Request validation (README 'Request JSON'): ids must be strings or null, "
              "context must be an object with a placement; everything else is INVALID_REQUEST, never a crash.", snap)
    ctx = {"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB"}
    bad = [
        ("user-number", {"user_id": 42, "context": ctx}, "user_id is a number"),
        ("user-float", {"user_id": 4.2, "context": ctx}, "user_id is a float"),
        ("user-bool", {"user_id": True, "context": ctx}, "user_id is a bool"),
        ("user-object", {"user_id": {"id": "u-1"}, "context": ctx}, "user_id is an object"),
        ("user-array", {"user_id": ["u-1"], "context": ctx}, "user_id is an array"),
        ("session-number", {"user_id": "u-1", "session_id": 7, "context": ctx}, "session_id is a number"),
        ("context-missing", {"user_id": "u-1"}, "no context"),
        ("context-null", {"user_id": "u-1", "context": None}, "context null"),
        ("context-string", {"user_id": "u-1", "context": "pdp_ymal"}, "context is a string"),
        ("context-array", {"user_id": "u-1", "context": [ctx]}, "context is an array"),
        ("placement-missing", {"user_id": "u-1", "context": {"page_type": "pdp"}}, "context without placement"),
        ("request-array", [{"user_id": "u-1", "context": ctx}], "the request is an array"),
        ("request-string", "u-1", "the request is a string"),
        ("request-null", None, "the request is null"),
    ]
    for slug, req, why in bad:
        assert request_error(req) == "INVALID_REQUEST", slug
        f.raw({"id": "req-" + slug, "why": why, "op": "request_error", "request": req,
               "expect": {"error": "INVALID_REQUEST"}})
    f.decide("req-ok-minimal", "minimal valid request: just a placement (no ids -> MISSING_UNIT)",
             {"context": {"placement": "pdp_ymal"}}, want={"reason": "MISSING_UNIT"})
    f.decide("req-ok-extra-fields", "unknown request and context fields are accepted",
             {"user_id": "u-1", "session_id": None, "client": {"app": "ios"},
              "context": {"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB", "ab": [1, 2]}},
             want={"reason": "ASSIGNED", "unit_type": "user"})
    f.decide("req-ok-no-page-type", "exposure without page_type when the context has none",
             {"user_id": "u-1", "context": {"placement": "pdp_ymal"}}, want={"reason": "ASSIGNED"})
    f.decide("req-ok-no-candidate", "valid request on a placement without experiments", R("cart", "u-1"),
             want={"reason": "NO_EXPERIMENT"})
    return f


# ---- errors.json -------------------------------------------------------------------------------

def token_error(token, keyed, allow_unsigned=False):
    """The code a surface gives an exposure token it cannot redeem (README 'Error vectors').

    Checked in this order: shape (`v1.<payload>[.<signature>]`), version, signature, then the
    payload (base64url of an exposure object). The signature is checked unless the client has no
    `id_hash_key` and `allow_unsigned_tokens` is set: with a key, or with none (the client then
    signs with a random per-process key), a missing one is TOKEN_UNSIGNED and one that does not
    verify TOKEN_SIGNATURE (contract/decisions.md "Exposure timing and tokens")."""
    parts = token.split(".")
    if len(parts) < 2 or len(parts) > 3:
        return "TOKEN_MALFORMED"
    ver, payload = parts[0], parts[1]
    if ver != "v1":
        return "TOKEN_VERSION"
    if keyed or not allow_unsigned:
        if len(parts) < 3:
            return "TOKEN_UNSIGNED"
        return "TOKEN_SIGNATURE"  # the vectors never hold a valid signature
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        if "=" in payload or not re.fullmatch(r"[A-Za-z0-9_-]*", payload):
            raise ValueError
        obj = json.loads(raw)
    except ValueError:
        return "TOKEN_PAYLOAD"
    need_fields = ("event_id", "experiment_key", "variant")
    if not isinstance(obj, dict) or any(k not in obj for k in need_fields):
        return "TOKEN_PAYLOAD"
    return None


def file_errors():
    snap = snapshot(20, placements("pdp_ymal"), [
        X("exp-9701", "ymal_algo_v2", ["pdp_ymal"], [V("control"), V("treatment", algo="two_tower")],
          weights={"control": 50, "treatment": 50})], privacy=False)  # keys come from the cases
    f = VFile("errors.json", "Error codes (contract/errors.md): every surface refuses each input below with "
              "the same stable code. `call` says what is tried: `snapshot` compiles `snapshot_text`; "
              "`request` decides `request` on the file's snapshot; `token` redeems `token` on a client "
              "bootstrapped with the file's snapshot (with `id_hash_key` and `allow_unsigned_tokens` as "
              "its options when given); "
              "`update` offers `snapshot_text` to such a client; `after_close` calls `method` on a closed "
              "client; `options` builds a client from the runner's base options (bootstrap + local sink) "
              "with `options` laid over them.", snap)
    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))  # noqa: E731

    def add(cid, why, call, code, **inputs):
        f.raw({"id": "err-" + cid, "why": why, "op": "error", "call": call, **inputs, "expect": {"code": code}})

    for cid, why, text in [
        ("snapshot-not-json", "not JSON", "<html>502</html>"),
        ("snapshot-array", "a JSON array, not an object", "[]"),
        ("snapshot-schema", "another schema_version", dump({**snap, "schema_version": 2})),
        ("snapshot-version-type", "a version that is not an integer", dump({**snap, "version": "20"})),
    ]:
        code = load_text(text).get("error")
        assert code, cid
        add(cid, why, "snapshot", code, snapshot_text=text)
    ctx = {"placement": "pdp_ymal", "page_type": "pdp"}
    for cid, why, req in [
        ("request-user-number", "user_id is a number", {"user_id": 7, "context": ctx}),
        ("request-no-context", "no context", {"user_id": "u-1"}),
        ("request-not-object", "the request is a list", ["u-1"]),
    ]:
        add(cid, why, "request", request_error(req), request=req)
    b64 = lambda o: base64.urlsafe_b64encode(dump(o).encode()).decode().rstrip("=")  # noqa: E731
    payload = b64({"event_id": "e-1"})
    # A complete exposure, as an edited token would carry it: well-formed, only unsigned.
    edited = b64({"event_id": "e-2", "user_id": "0" * 64, "session_id": None, "experiment_id": "exp-9701",
                  "experiment_key": "ymal_algo_v2", "variant": "treatment", "iteration": 1, "unit_type": "user",
                  "placement": "pdp_ymal", "page_type": None, "reason": "ASSIGNED", "allocation_share": 0.5,
                  "config_version": 20, "decided_at": "2026-01-01T00:00:00.000Z"})
    allow = "allow"
    for cid, why, token, key in [
        ("token-empty", "an empty token", "", None),
        ("token-one-part", "no payload part", "v1", None),
        ("token-four-parts", "too many parts", "v1.a.b.c", None),
        ("token-version", "a version this SDK does not read", "v2." + payload, None),
        ("token-payload-b64", "a payload that is not base64url (unsigned tokens allowed)", "v1.%%%", allow),
        ("token-payload-shape", "a payload that is not an exposure (unsigned tokens allowed)", "v1." + payload,
         allow),
        ("token-unsigned", "no signature while a key is configured", "v1." + payload, "k-errors"),
        ("token-signature", "a signature that does not verify", "v1.%s.AAAA" % payload, "k-errors"),
        ("token-unsigned-no-key", "an edited (unsigned) exposure token on a client with no key at all: refused "
         "unless allow_unsigned_tokens", "v1." + edited, None),
        ("token-signature-no-key", "a signature on a client with no key: it signs with its own per-process key, "
         "which this one is not", "v1.%s.AAAA" % edited, None),
    ]:
        inputs = {"token": token}
        if key == allow:
            inputs["allow_unsigned_tokens"] = True
        elif key is not None:
            inputs["id_hash_key"] = key
        add(cid, why, "token", token_error(token, key not in (None, allow), key == allow), **inputs)
    for cid, why, doc in [
        ("update-regression", "a lower version than the one in use", {**snap, "version": 19}),
        ("update-schema", "another schema_version", {**snap, "schema_version": 3, "version": 21}),
    ]:
        text = dump(doc)
        code = load_text(text).get("error") or ("VERSION_REGRESSION" if doc["version"] < snap["version"] else None)
        assert code, cid
        add(cid, why, "update", code, snapshot_text=text)
    add("update-not-json", "a body that is not JSON", "update", "NOT_JSON", snapshot_text="{")
    for method in ("decide", "track", "flush"):
        add("after-close-" + method, "%s on a closed client" % method, "after_close", "CLOSED", method=method)
    for cid, why, opts in [
        ("options-unknown", "an unknown option (a typo must not fall back to a default)", {"batch_sise": 5}),
        ("options-type", "a count given as a string", {"batch_size": "ten"}),
        ("options-negative", "a negative count", {"queue_capacity": -1}),
        ("options-zero", "a zero batch size", {"batch_size": 0}),
        ("options-two-sources", "two config sources", {"config_path": "/nonexistent/snapshot.json"}),
        ("options-public-key", "a snapshot_public_key that is not a base64 Ed25519 key (31 bytes)",
         {"snapshot_public_key": base64.b64encode(b"\x01" * 31).decode()}),
    ]:
        add(cid, why, "options", "INVALID_OPTIONS", options=opts)
    return f


# ---- interleave.json ---------------------------------------------------------------------------

def il_coin(unit_id, key, salt, query, i, seed):
    """SPEC §10: coin number i is true ("a" picks first) when its bucket is below 5000."""
    return fast_bucket(unit_id, key, salt + ":" + query + ":" + str(i), seed) < 5000


def il_merge(method, a, b, unit_id, key, salt, query="", length=None, seed=0):
    """SPEC §10, read literally: returns (items, teams) or raises ValueError (INVALID_REQUEST)."""
    if method not in ("team_draft", "balanced"):
        raise ValueError("method")
    if unit_id == "":
        raise ValueError("unit")
    if length is None:
        length = min(len(a) + len(b), 100)
    items, teams = [], []
    placed = set()

    def unplaced(ranking):
        return [x for x in ranking if x not in placed]

    if method == "team_draft":
        picks = {"a": 0, "b": 0}
        tie = 0
        while len(items) < length and (unplaced(a) or unplaced(b)):
            if picks["a"] == picks["b"]:
                first = "a" if il_coin(unit_id, key, salt, query, tie, seed) else "b"
                tie += 1
            else:
                first = "a" if picks["a"] < picks["b"] else "b"
            other = "b" if first == "a" else "a"
            team = first if unplaced(a if first == "a" else b) else other
            item = unplaced(a if team == "a" else b)[0]
            items.append(item)
            teams.append(team)
            placed.add(item)
            picks[team] += 1
    else:
        a_priority = il_coin(unit_id, key, salt, query, 0, seed)
        ka = kb = 0
        while len(items) < length and (ka < len(a) or kb < len(b)):
            take_a = kb >= len(b) or (ka < len(a) and (ka < kb or (ka == kb and a_priority)))
            ranking, team = (a, "a") if take_a else (b, "b")
            k = ka if take_a else kb
            if ranking[k] not in placed:
                items.append(ranking[k])
                teams.append(team)
                placed.add(ranking[k])
            if take_a:
                ka += 1
            else:
                kb += 1
    return items, teams


def il_credit(method, a, b, teams, clicks):
    """Credited clicks per ranking: the list is rebuilt from the teams (each position takes its
    team's highest-ranked unplaced item), then SPEC §10's rule of the method applies."""
    if method not in ("team_draft", "balanced"):
        raise ValueError("method")
    items, placed = [], set()
    for t in teams:
        if t not in ("a", "b"):
            raise ValueError("team")
        left = [x for x in (a if t == "a" else b) if x not in placed]
        if not left:
            raise ValueError("teams")
        items.append(left[0])
        placed.add(left[0])
    if any(not (0 <= c < len(items)) for c in clicks):
        raise ValueError("click")
    clicked = sorted(set(clicks))
    credit = {"a": 0, "b": 0}
    if method == "team_draft":
        for c in clicked:
            credit[teams[c]] += 1
    elif clicked:
        rank = lambda r, x: r.index(x) + 1 if x in r else float("inf")  # noqa: E731
        deepest = items[clicked[-1]]
        k = min(rank(a, deepest), rank(b, deepest))
        for c in clicked:
            credit["a"] += rank(a, items[c]) <= k
            credit["b"] += rank(b, items[c]) <= k
    return credit


def il_winner(credit):
    if credit["a"] > credit["b"]:
        return "a"
    if credit["b"] > credit["a"]:
        return "b"
    return "tie" if credit["a"] else "none"


def file_interleave():
    import random
    f = VFile("interleave.json", "Interleaving (contract/interleaving.md, SPEC §10). `op: interleave` merges "
              "`a` and `b` for `unit_id`, `key`, `salt`, `query`, `seed` and `length` (absent: the default "
              "min(|a|+|b|, 100)) and expects `items` and `teams`; with `clicks` (0-based positions in the "
              "merged list) it also expects `credit` {a, b} and `winner`. `op: credit` credits `clicks` on "
              "the list rebuilt from `teams`. An `expect` of `{code}` is a refusal with that error code.",
              None)
    rng = random.Random(20261201)

    def case(cid, why, method, a, b, unit_id, key="ymal_rank", salt="s1", query="", length=None, seed=0,
             clicks=None):
        c = {"id": "il-" + cid, "why": why, "op": "interleave", "method": method, "a": a, "b": b,
             "unit_id": unit_id, "key": key, "salt": salt, "query": query, "seed": seed}
        if length is not None:
            c["length"] = length
        try:
            items, teams = il_merge(method, a, b, unit_id, key, salt, query, length, seed)
            expect = {"items": items, "teams": teams}
            if clicks is not None:
                c["clicks"] = clicks
                cr = il_credit(method, a, b, teams, clicks)
                expect.update(credit=cr, winner=il_winner(cr))
        except ValueError:
            expect = {"code": "INVALID_REQUEST"}
        c["expect"] = expect
        f.raw(c)

    def credit_case(cid, why, method, a, b, teams, clicks):
        c = {"id": "il-" + cid, "why": why, "op": "credit", "method": method, "a": a, "b": b, "teams": teams,
             "clicks": clicks}
        try:
            cr = il_credit(method, a, b, teams, clicks)
            c["expect"] = {"credit": cr, "winner": il_winner(cr)}
        except ValueError:
            c["expect"] = {"code": "INVALID_REQUEST"}
        f.raw(c)

    # The worked examples of contract/interleaving.md, pinned.
    for m, a, b, clicks in [("team_draft", list("pqrs"), list("qtpu"), [0, 3]),
                            ("team_draft", list("pqrs"), list("qtpu"), [1, 3]),
                            ("balanced", list("pqr"), list("qtp"), [1]),
                            ("balanced", list("pqr"), list("qtp"), [2, 3])]:
        case("doc-%s-%s" % (m, "-".join(map(str, clicks))), "the worked %s example of interleaving.md" % m, m,
             a, b, "u-1", key="search_il", salt="search_il", query="shoes", clicks=clicks)
    pool = ["sku-%03d" % i for i in range(60)] + ["книга-1", "靴-2", "café-3", "🛒-4", "a:b", ""]
    methods = ("team_draft", "balanced")
    # Hand-picked shapes, both methods.
    shapes = [
        ("disjoint", ["x1", "x2", "x3"], ["y1", "y2", "y3"]),
        ("identical", ["x1", "x2", "x3"], ["x1", "x2", "x3"]),
        ("reversed", ["x1", "x2", "x3", "x4"], ["x4", "x3", "x2", "x1"]),
        ("shared-head", ["x1", "x2", "x3"], ["x1", "y2", "y3"]),
        ("a-empty", [], ["y1", "y2"]),
        ("b-empty", ["x1", "x2"], []),
        ("both-empty", [], []),
        ("unequal", ["x1"], ["y1", "y2", "y3", "y4", "y5"]),
        ("dup-in-a", ["x1", "x1", "x2", "x1"], ["y1", "x2"]),
        ("dup-in-b", ["x1", "x2"], ["y1", "y1", "x1", "y1"]),
        ("non-ascii", ["книга-1", "靴-2", "café-3"], ["🛒-4", "靴-2", "x"]),
        ("empty-string-item", ["", "x1"], ["x1", ""]),
    ]
    for name, a, b in shapes:
        for m in methods:
            for u in ("u-1", "u-2", "u-3"):
                case("%s-%s-%s" % (m, name, u), "%s, %s lists" % (m, name), m, a, b, u,
                     clicks=list(range(0, len(set(a) | set(b)), 2)))
    # Lengths shorter and longer than the lists; the 100 default cap.
    a50 = pool[:50]
    b50 = pool[10:60]
    for m in methods:
        for length in (0, 1, 2, 7, 50, 60, 200):
            case("%s-length-%d" % (m, length), "%s with length %d" % (m, length), m, a50, b50, "u-len",
                 length=length)
        big_a = ["a%d" % i for i in range(80)]
        big_b = ["b%d" % i for i in range(80)]
        case("%s-default-cap" % m, "%s: the default length is capped at 100" % m, m, big_a, big_b, "u-cap")
        case("%s-explicit-over-cap" % m, "%s: an explicit length is used as given" % m, m, big_a, big_b,
             "u-cap", length=150)
        for q in ("", "running shoes", "книги"):
            case("%s-query-%s" % (m, q or "none"), "%s: the query enters the coin" % m, m, a50[:8], b50[:8],
                 "u-q", query=q)
        for seed in (0, 1, 4294967295):
            case("%s-seed-%d" % (m, seed), "%s: the hashing seed enters the coin" % m, m, a50[:6], b50[:6],
                 "u-seed", seed=seed)
    # Random lists with overlaps and random clicks.
    for n in range(120):
        m = methods[n % 2]
        a = rng.sample(pool, rng.randint(0, 12))
        b = rng.sample(pool, rng.randint(0, 12))
        if rng.random() < 0.3 and a:
            a.insert(rng.randrange(len(a) + 1), rng.choice(a))  # a duplicate inside a
        total = len(set(a) | set(b))
        clicks = sorted(rng.sample(range(total), rng.randint(0, min(3, total)))) if total else []
        length = rng.choice([None, None, rng.randint(0, 15)])
        case("random-%03d" % n, "%s on random overlapping lists" % m, m, a, b, "user-%d" % rng.randint(0, 10 ** 6),
             key=rng.choice(["ymal_rank", "feed_rank"]), salt=rng.choice(["s1", "2026"]),
             query=rng.choice(["", "q"]), length=length, seed=rng.choice([0, 7]),
             clicks=[c for c in clicks if length is None or c < min(length, total)])
    # Credit and winner on given teams.
    a, b = ["x1", "x2", "x3", "x4"], ["x3", "y1", "x1", "y2"]
    for m in methods:
        credit_case("credit-%s-none" % m, "no clicks: winner none", m, a, b, ["a", "b", "a", "b"], [])
        credit_case("credit-%s-one-a" % m, "one click on an a item", m, a, b, ["a", "b", "a", "b"], [0])
        credit_case("credit-%s-deep" % m, "a deep click", m, a, b, ["a", "b", "a", "b", "a", "b"], [0, 5])
        credit_case("credit-%s-repeat" % m, "a position clicked twice counts once", m, a, b, ["b", "a"], [1, 1])
        credit_case("credit-%s-all" % m, "every position clicked", m, a, b, ["b", "a", "b", "a", "b", "a"],
                    [0, 1, 2, 3, 4, 5])
        credit_case("credit-%s-click-range" % m, "a click past the list is refused", m, a, b, ["a", "b"], [2])
        credit_case("credit-%s-teams-mismatch" % m, "a team with no item left is refused", m, ["x1"], ["y1"],
                    ["a", "a"], [])
        credit_case("credit-%s-bad-team" % m, "a team that is not a or b", m, a, b, ["a", "c"], [])
    credit_case("credit-bad-method", "an unknown method", "team-draft", a, b, ["a"], [])
    case("error-empty-unit", "an empty unit id is refused", "team_draft", ["x1"], ["y1"], "")
    case("error-bad-method", "an unknown method is refused", "interleaved", ["x1"], ["y1"], "u-1")
    return f


# ---- interleaved.json -----------------------------------------------------------------------

def file_interleaved():
    """Experiments that declare `interleaving` (contract/interleaving.md): which decisions name
    both rankers, and which declarations are refused."""
    places = placements("search", "newsfeed", "home", "cart")
    ex = lambda **kw: {**X("exp-9001", "search_il", ["search", "home"],
                            [V("bm25"), V("ltr", ranker="ltr", boost=1.5), V("neural", ranker="two_tower")],
                            weights={"bm25": 40, "ltr": 40, "neural": 20}, traffic=80, salt="search_il:2",
                            overrides=[("user", "qa-il", "neural")]),
                       "interleaving": {"method": "team_draft", "rankers": {"a": "bm25", "b": "ltr"},
                                        "placements": ["search"]}, **kw}
    feed = {**X("exp-9002", "feed_il", ["newsfeed"], [V("recency"), V("social", ranker="social")],
                weights={"recency": 50, "social": 50}, unit="user"),
            "interleaving": {"method": "balanced", "rankers": {"a": "social", "b": "recency"}}}
    done = {**X("exp-9003", "cart_il", ["cart"], [V("control"), V("upsell", upsell=True)],
                weights={"control": 50, "upsell": 50}, status="COMPLETED", shipped="upsell"),
            "interleaving": {"method": "team_draft", "rankers": {"a": "control", "b": "upsell"}}}
    snap = snapshot(9100, places, [ex(), feed, done], seed=7)
    f = VFile("interleaved.json", "Interleaved experiments: a unit in the experiment (ASSIGNED, FORCED, OVERRIDE) "
              "on a declared placement gets both rankers' variants and merged params, with the coin's key, salt "
              "and seed; every other decision has no interleaving field. Refused declarations are lints.", snap)
    b = lambda u: fast_bucket(u, "search_il", "search_il:2", 7)  # bm25 [0, 3200), ltr [4000, 7200), neural [8000, 9600)
    u1 = find_id(lambda u: b(u) < 3200, "il-user-")
    u_miss = find_id(lambda u: 3200 <= b(u) < 4000, "il-user-")
    def has(want):
        return lambda d: d.get("interleaving") is not None if want else "interleaving" not in d
    for cid, why, req, want in [
        ("il-assigned-search", "an assigned unit on the declared placement gets both rankers",
         R("search", user=u1), True),
        ("il-assigned-session", "a session unit: the same, keyed by the session",
         R("search", session="il-sess-4"), None),
        ("il-undeclared-placement", "the experiment's other placement is an ordinary A/B placement",
         R("home", user=u1), False),
        ("il-traffic-miss", "a unit outside the traffic is not interleaved", R("search", user=u_miss), False),
        ("il-forced", "a forced variant still interleaves (QA sees what users see)",
         R("search", user=u_miss, forced={"search_il": "neural"}), True),
        ("il-override", "an override interleaves too", R("search", user="qa-il"), True),
        ("il-missing-unit", "no unit: no coin, no interleaving", R("search"), False),
        ("il-forced-no-unit", "forced without a unit: no coin, no interleaving",
         R("search", forced={"search_il": "ltr"}), False),
        ("il-balanced-all-placements", "no placements list: every placement of the experiment; balanced",
         R("newsfeed", user="il-feed-1"), True),
        ("il-balanced-session-only", "a user-unit experiment without a user id is MISSING_UNIT",
         R("newsfeed", session="il-s-9"), False),
        ("il-shipped", "a shipped experiment serves its winner alone", R("cart", user=u1), False),
    ]:
        d, _ = f.decide(cid, why, req)
        f.cases[-1]["expect"].setdefault("interleaving", None)  # absent (null) is checked too
        if want is not None:
            assert has(want)(d), (cid, d)
    base = copy.deepcopy(snap)
    def load(cid, why, il, want_code):
        doc = copy.deepcopy(base)
        doc["experiments"][0]["interleaving"] = il
        text = json.dumps(doc)
        got = sorted((l["code"], l["item"]) for l in Snap(doc).lints)
        want = [(want_code, "experiment:search_il")] if want_code else []
        assert got == want, (cid, got)
        f.raw({"id": cid, "why": why, "op": "load", "snapshot_text": text,
               "expect": {"lints": [{"code": c, "item": i} for c, i in got]}})
    load("il-load-ok", "a valid declaration loads without lints",
         {"method": "balanced", "rankers": {"a": "neural", "b": "bm25"}}, None)
    load("il-load-bad-method", "an unknown method", {"method": "team-draft", "rankers": {"a": "bm25", "b": "ltr"}},
         "BAD_INTERLEAVING")
    load("il-load-same-rankers", "both rankers the same variant",
         {"method": "team_draft", "rankers": {"a": "ltr", "b": "ltr"}}, "BAD_INTERLEAVING")
    load("il-load-unknown-ranker", "a ranker the experiment does not define",
         {"method": "team_draft", "rankers": {"a": "bm25", "b": "bert"}}, "UNKNOWN_VARIANT")
    load("il-load-foreign-placement", "a placement the experiment does not list",
         {"method": "team_draft", "rankers": {"a": "bm25", "b": "ltr"}, "placements": ["cart"]}, "BAD_INTERLEAVING")
    load("il-load-empty-placements", "an empty placements list",
         {"method": "team_draft", "rankers": {"a": "bm25", "b": "ltr"}, "placements": []}, "BAD_INTERLEAVING")
    load("il-load-one-ranker", "rankers needs both a and b", {"method": "team_draft", "rankers": {"a": "bm25"}},
         "MALFORMED")
    load("il-load-unknown-field", "an unknown field in the declaration",
         {"method": "team_draft", "rankers": {"a": "bm25", "b": "ltr"}, "weights": 1}, "MALFORMED")
    load("il-load-not-object", "a declaration that is not an object", "team_draft", "MALFORMED")
    # A refused declaration makes the experiment CONFIG_ERROR under its own key.
    bad = copy.deepcopy(base)
    bad["experiments"][0]["interleaving"] = {"method": "team_draft", "rankers": {"a": "ltr", "b": "ltr"}}
    f.decide("il-refused-config-error", "a refused declaration: the experiment decides CONFIG_ERROR",
             R("search", user=u1), snapshot=bad, want={"reason": "CONFIG_ERROR"})
    f.cases[-1]["expect"]["interleaving"] = None
    return f


# =================================================================================================
# Part C. Output
# =================================================================================================

BUILDERS = [file_bucket, file_ranges, file_ramp, file_units, file_status, file_targeting, file_layers,
            file_precedence, file_flags, file_invalid, file_requests, file_load, file_pseudonymize,
            file_errors, file_interleave, file_interleaved]


def render_all():
    ALL_IDS.clear()
    FILE_SNAPSHOTS.clear()
    out = {}
    for build in BUILDERS:
        vf = build()
        assert vf.name not in out
        out[vf.name] = json.dumps(vf.to_obj(), indent=1, ensure_ascii=False) + "\n"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if any file on disk differs from a fresh run")
    args = ap.parse_args()
    files = render_all()
    counts = {name: len(json.loads(text)["cases"]) for name, text in files.items()}
    if args.check:
        bad = []
        for name, text in files.items():
            p = HERE / name
            if not p.exists() or p.read_text(encoding="utf-8") != text:
                bad.append(name)
        stray = sorted(p.name for p in HERE.glob("*.json") if p.name not in files)
        for name in bad:
            print("differs: %s" % name)
        for name in stray:
            print("not generated by gen.py: %s" % name)
        if bad or stray:
            return 1
        print("ok: %d files, %d cases up to date" % (len(files), sum(counts.values())))
        return 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
    for name, n in counts.items():
        print("%-24s %4d cases" % (name, n))
    print("%-24s %4d cases" % ("total", sum(counts.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
