#!/usr/bin/env python3
"""Generate Vario's shared conformance vectors (tests/vectors/*.json).

This is an *independent* reference implementation of ../../../shared/SPEC.md plus the choices pinned
in README.md next to this file. It never imports or reads Vario's own code: bucketing uses the
`xxhash` package (cross-checked against a pure-Python xxh32 below), everything else is plain Python.

    python3 tests/vectors/gen.py            # rewrite tests/vectors/*.json
    python3 tests/vectors/gen.py --check    # exit 1 if the files on disk differ from a fresh run

Every expected value in the output is computed by the oracle in part A. The case builders in part B
also state what a human expects (`want=`); gen.py asserts that the oracle agrees, so a bug in either
the oracle or the case design fails loudly instead of being frozen into the vectors.
"""

import argparse
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
    r"^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?"
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
    """None when the rule is valid, else a short reason."""
    if not isinstance(rule, dict):
        return "rule is not an object"
    if "all" in rule or "any" in rule:
        subs = rule.get("all", rule.get("any"))
        if not isinstance(subs, list):
            return "all/any needs a list"
        for r in subs:
            err = validate_rule(r, segments)
            if err:
                return err
        return None
    if "not" in rule:
        return validate_rule(rule["not"], segments)
    if not isinstance(rule.get("attr"), str):
        return "leaf without attr"
    op = rule.get("op")
    if op not in OPS:
        return "unknown operator %r" % (op,)
    v = rule.get("value")
    if op in ("eq", "neq", "contains"):
        ok = is_scalar(v)
    elif op in ("in", "not_in"):
        vs = rule.get("values")
        ok = isinstance(vs, list) and all(is_scalar(x) for x in vs)
    elif op in ("lt", "lte", "gt", "gte"):
        ok = is_num(v)
    elif op in ("starts_with", "ends_with"):
        ok = isinstance(v, str)
    elif op == "matches":
        ok = compile_regex(v) is not None
    elif op.startswith("semver_"):
        ok = parse_semver(v) is not None
    elif op in ("before", "after"):
        ok = parse_ts(v) is not None
    elif op == "in_segment":
        ok = isinstance(v, str) and v in segments
    else:  # exists / not_exists
        ok = True
    return None if ok else "bad value for %s" % op


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
NAMED_LINT_CODES = {"PLACEMENT_COLLISION", "LAYER_OVERLAP", "LAYER_UNIT_MISMATCH", "DUPLICATE_KEY"}


class LoadError(Exception):
    pass


class Snap:
    """A compiled snapshot: per-item validation done once, invalid items kept with their error."""

    def __init__(self, obj):
        if not isinstance(obj, dict):
            raise LoadError("INVALID_SNAPSHOT")
        sv = obj.get("schema_version")
        if not (is_int(sv) and sv == 1):
            raise LoadError("SCHEMA_VERSION")
        ver = obj.get("version")
        if not (is_int(ver) and ver >= 0):
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
        self.holdouts = [{"key": h["key"], "salt": h.get("salt", h["key"]), "bp": pct_to_bp(h["percent"]),
                          "unit": h.get("unit", "user_or_session"), "experiments": h["experiments"]}
                         for h in obj.get("holdouts", [])]
        self.lints = []
        self.experiments = []
        seen = set()
        for raw in obj.get("experiments", []):
            e = self._compile_experiment(raw)
            if e["error"] is None and e["key"] in seen:
                e["error"] = "DUPLICATE_KEY"
            seen.add(e["key"])
            self.experiments.append(e)
        self._cross_checks()
        self.flags = []
        seen = set()
        for raw in obj.get("flags", []):
            f = self._compile_flag(raw)
            if f["error"] is None and f["key"] in seen:
                f["error"] = "DUPLICATE_KEY"
            seen.add(f["key"])
            self.flags.append(f)
        for item in self.experiments + self.flags:
            if item["error"]:
                self.lints.append({"code": item["error"], "item": item["key"]})
        self.lints.sort(key=lambda l: (l["code"], str(l["item"])))

    # -- experiments --
    def _compile_experiment(self, raw):
        e = {"raw": raw, "key": raw.get("key") if isinstance(raw, dict) else None, "error": None}
        try:
            self._check_experiment(raw, e)
        except ValueError as err:
            e["error"] = str(err)
        return e

    def _check_experiment(self, x, e):
        def need(cond, code):
            if not cond:
                raise ValueError(code)
        need(isinstance(x, dict) and isinstance(x.get("key"), str) and x["key"], "INVALID_EXPERIMENT")
        e["id"] = x.get("id")
        e["status"] = x.get("status")
        need(e["status"] in STATUSES, "INVALID_STATUS")
        e["placements"] = x.get("placements", [])
        need(isinstance(e["placements"], list) and all(isinstance(p, str) for p in e["placements"]), "INVALID_EXPERIMENT")
        e["unit"] = x.get("unit", "user_or_session")
        need(e["unit"] in UNITS, "INVALID_UNIT")
        e["salt"] = x.get("salt", x["key"])
        need(isinstance(e["salt"], str), "INVALID_EXPERIMENT")
        e["iteration"] = x.get("iteration", 1)
        need(is_int(e["iteration"]) and e["iteration"] >= 1, "INVALID_EXPERIMENT")
        e["start"] = e["end"] = None
        if x.get("start_time") is not None:
            e["start"] = parse_ts(x["start_time"])
            need(e["start"] is not None, "INVALID_TIME")
        if x.get("end_time") is not None:
            e["end"] = parse_ts(x["end_time"])
            need(e["end"] is not None, "INVALID_TIME")
        need(e["start"] is None or e["end"] is None or e["start"] <= e["end"], "INVALID_TIME")
        variants = x.get("variants")
        need(isinstance(variants, list) and variants, "INVALID_VARIANTS")
        e["variants"] = []
        e["vparams"] = {}
        for v in variants:
            need(isinstance(v, dict) and isinstance(v.get("key"), str) and v["key"] not in e["vparams"], "INVALID_VARIANTS")
            need(isinstance(v.get("params", {}), dict), "INVALID_VARIANTS")
            e["variants"].append(v["key"])
            e["vparams"][v["key"]] = v.get("params", {})
        alloc = x.get("allocation")
        need(isinstance(alloc, dict) and (("weights" in alloc) != ("ranges" in alloc)), "INVALID_ALLOCATION")
        owned = {v: [] for v in e["variants"]}
        if "weights" in alloc:
            w = alloc["weights"]
            need(isinstance(w, dict) and all(k in owned for k in w), "UNKNOWN_VARIANT")
            bps = {k: pct_to_bp(p) for k, p in w.items()}
            need(all(b is not None for b in bps.values()) and sum(bps.values()) == 10000, "INVALID_WEIGHTS")
            t = pct_to_bp(alloc.get("traffic", 100))
            need(t is not None, "INVALID_TRAFFIC")
            cursor = 0
            for v in e["variants"]:  # declared (variants array) order; missing weight = 0 bp
                b = bps.get(v, 0)
                owned[v].append((cursor, cursor + (b * t) // 10000))
                cursor += b
        else:
            need("traffic" not in alloc, "INVALID_ALLOCATION")
            rs = alloc["ranges"]
            need(isinstance(rs, list), "INVALID_RANGES")
            spans = []
            for r in rs:
                need(isinstance(r, dict) and r.get("variant") in owned, "UNKNOWN_VARIANT")
                s, en = r.get("start"), r.get("end")
                need(is_int(s) and is_int(en) and 0 <= s <= en <= 10000, "INVALID_RANGES")
                for s2, e2 in spans:
                    need(not (s < e2 and s2 < en), "INVALID_RANGES")  # overlap
                spans.append((s, en))
                owned[r["variant"]].append((s, en))
        e["owned"] = owned
        e["owned_total"] = sum(b - a for rs in owned.values() for a, b in rs)
        ovs = x.get("overrides", [])
        need(isinstance(ovs, list), "INVALID_OVERRIDES")
        for o in ovs:
            need(isinstance(o, dict) and o.get("unit") in ("user", "session") and isinstance(o.get("id"), str), "INVALID_OVERRIDES")
            need(o.get("variant") in owned, "UNKNOWN_VARIANT")
        e["overrides"] = ovs
        e["shipped"] = x.get("shipped_variant")
        need(e["shipped"] is None or e["shipped"] in owned, "UNKNOWN_VARIANT")
        e["layer"] = None
        if x.get("layer") is not None:
            lay = x["layer"]
            need(isinstance(lay, dict) and lay.get("key") in self.layers, "UNKNOWN_LAYER")
            rg = lay.get("range")
            need(isinstance(rg, list) and len(rg) == 2 and all(is_int(i) for i in rg)
                 and 0 <= rg[0] <= rg[1] <= 10000, "INVALID_LAYER_RANGE")
            e["layer"] = (lay["key"], rg[0], rg[1])
        e["targeting"] = x.get("targeting")
        if e["targeting"] is not None:
            need(validate_rule(e["targeting"], self.segments) is None, "INVALID_TARGETING")

    def _cross_checks(self):
        active = []
        for e in self.experiments:
            if e["error"] is not None or e["status"] != "RUNNING":
                continue
            for a in active:
                same_layer = e["layer"] and a["layer"] and e["layer"][0] == a["layer"][0]
                if same_layer:
                    if e["unit"] != a["unit"]:
                        e["error"] = "LAYER_UNIT_MISMATCH"
                    elif e["layer"][1] < a["layer"][2] and a["layer"][1] < e["layer"][2]:
                        e["error"] = "LAYER_OVERLAP"
                elif set(e["placements"]) & set(a["placements"]) and windows_overlap(e, a):
                    e["error"] = "PLACEMENT_COLLISION"
                if e["error"]:
                    break
            if e["error"] is None:
                active.append(e)

    # -- flags --
    def _compile_flag(self, raw):
        f = {"raw": raw, "key": raw.get("key") if isinstance(raw, dict) else None, "error": None}
        try:
            self._check_flag(raw, f)
        except ValueError as err:
            f["error"] = str(err)
        return f

    def _check_flag(self, x, f):
        def need(cond, code):
            if not cond:
                raise ValueError(code)
        need(isinstance(x, dict) and isinstance(x.get("key"), str) and x["key"], "INVALID_FLAG")
        f["salt"] = x.get("salt", x["key"])
        f["enabled"] = x.get("enabled", True)
        f["kill_switch"] = x.get("kill_switch", False)
        need(isinstance(f["enabled"], bool) and isinstance(f["kill_switch"], bool), "INVALID_FLAG")
        f["variants"] = x.get("variants")
        need(isinstance(f["variants"], dict) and f["variants"], "INVALID_VARIANTS")
        f["default"] = x.get("default_variant")
        need(f["default"] in f["variants"], "UNKNOWN_VARIANT")
        f["unit"] = x.get("unit", "user_or_session")
        need(f["unit"] in UNITS, "INVALID_UNIT")
        f["overrides"] = x.get("overrides", [])
        for o in f["overrides"]:
            need(isinstance(o, dict) and o.get("unit") in ("user", "session") and isinstance(o.get("id"), str), "INVALID_OVERRIDES")
            need(o.get("variant") in f["variants"], "UNKNOWN_VARIANT")
        f["rules"] = []
        for r in x.get("rules", []):
            need(isinstance(r, dict) and r.get("kind") in RULE_KINDS, "INVALID_RULE")
            c = {"kind": r["kind"], "targeting": r.get("targeting")}
            if c["targeting"] is not None:
                need(validate_rule(c["targeting"], self.segments) is None, "INVALID_TARGETING")
            ro = r.get("rollout")
            if r["kind"] == "shadow":
                need(r.get("shadow_variant") in f["variants"], "UNKNOWN_VARIANT")
                c["shadow_variant"] = r["shadow_variant"]
                ro = ro or {}
                need(ro.get("variant", r["shadow_variant"]) in f["variants"], "UNKNOWN_VARIANT")
                c["bp"] = pct_to_bp(ro.get("percent", 100))
                need(c["bp"] is not None, "INVALID_ROLLOUT")
            elif isinstance(ro, dict) and isinstance(ro.get("variant"), str):
                need(ro["variant"] in f["variants"], "UNKNOWN_VARIANT")
                c["variant"] = ro["variant"]
                c["bp"] = pct_to_bp(ro.get("percent", 0))
                need(c["bp"] is not None, "INVALID_ROLLOUT")
                c["schedule"] = []
                last = None
                for step in r.get("schedule", []):
                    at, bp = parse_ts(step.get("at")), pct_to_bp(step.get("percent"))
                    need(at is not None and bp is not None and (last is None or at > last), "INVALID_SCHEDULE")
                    c["schedule"].append((at, bp))
                    last = at
            else:
                need(isinstance(ro, dict) and ro and all(k in f["variants"] for k in ro), "UNKNOWN_VARIANT")
                bps = [(k, pct_to_bp(p)) for k, p in ro.items()]
                need(all(b is not None for _, b in bps) and sum(b for _, b in bps) == 10000, "INVALID_WEIGHTS")
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
        if h["experiments"] == "*" or e["key"] in h["experiments"]:
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
    cands = [e for e in snap.experiments if placement in (e.get("placements") or [])]

    def name(e, unit_type, uid):
        d.update(experiment_id=e["id"], experiment_key=e["key"], iteration=e["iteration"],
                 unit_type=unit_type, hash_key=(e["key"] + ":" + uid) if unit_type else None)

    forced = req.get("forced") or {}
    for e in cands:
        if e["error"] is None and forced.get(e["key"]) in e["owned"]:
            name(e, *resolve_unit(e["unit"], request_ids(req)))
            d.update(variant=forced[e["key"]], reason="FORCED", allocation_share=1.0,
                     params=merge_params(defaults, e["vparams"][forced[e["key"]]]))
            return d, extras
    if not cands:
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
    return d, extras


# ---- A.6 flags ------------------------------------------------------------------------------

def eval_flag(snap, now, key, req):
    r = {"flag": key, "variant": None, "value": None, "reason": None, "rule_index": None,
         "unit_type": None, "bucket": None, "shadow_variant": None, "config_version": snap.version}
    meta = {"bucket_needed": False}
    f = next((f for f in snap.flags if f["key"] == key), None)
    if f is None:
        r["reason"] = "FLAG_NOT_FOUND"
        return r, meta
    if f["error"]:
        r["reason"] = "CONFIG_ERROR"
        return r, meta

    def serve(variant, reason, **kw):
        r.update(variant=variant, value=f["variants"][variant], reason=reason, **kw)
        return r, meta

    if f["kill_switch"]:
        return serve(f["default"], "KILL_SWITCH")
    if not f["enabled"]:
        return serve(f["default"], "DISABLED")
    ids = request_ids(req)
    for unit in ("user", "session"):
        for o in f["overrides"]:
            if o["unit"] == unit and ids[unit] is not None and o["id"] == ids[unit]:
                return serve(o["variant"], "OVERRIDE", unit_type=unit)
    unit_type, uid = resolve_unit(f["unit"], ids)
    r["unit_type"] = unit_type
    attrs = attributes(req)
    fb = lambda: fast_bucket(uid, f["key"], f["salt"], snap.seed)  # noqa: E731
    for i, rule in enumerate(f["rules"]):
        if rule["targeting"] is not None and not eval_rule(rule["targeting"], attrs, snap.segments):
            continue
        if rule["kind"] == "shadow":
            bp = rule["bp"]
            if r["shadow_variant"] is None and (bp == 10000 or (bp > 0 and uid is not None and fb() < bp)):
                r["shadow_variant"] = rule["shadow_variant"]
            continue
        reason = RULE_KINDS[rule["kind"]]
        if "weights" in rule:
            nonzero = [(k, b) for k, b in rule["weights"] if b > 0]
            if len(nonzero) == 1:
                return serve(nonzero[0][0], reason, rule_index=i)
            if uid is None:
                continue
            b, cursor = fb(), 0
            meta["bucket_needed"] = True
            for k, w in rule["weights"]:
                if cursor <= b < cursor + w:
                    return serve(k, reason, rule_index=i, bucket=b)
                cursor += w
            raise AssertionError("weights cover 10000 bp")
        bp = rule["bp"]
        for at, step_bp in rule["schedule"]:
            if at <= now:
                bp = step_bp
        if bp == 0:
            continue
        if bp == 10000:
            return serve(rule["variant"], reason, rule_index=i)
        if uid is None:
            continue
        b = fb()
        if b < bp:
            meta["bucket_needed"] = True
            return serve(rule["variant"], reason, rule_index=i, bucket=b)
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


_id_cache = {}


def find_id(pred, prefix, tag=None):
    """Deterministic brute force: first of prefix0, prefix1, ... satisfying pred."""
    ck = (prefix, tag)
    if tag is not None and ck in _id_cache:
        return _id_cache[ck]
    n = 0
    while True:
        uid = "%s%d" % (prefix, n)
        if pred(uid):
            if tag is not None:
                _id_cache[ck] = uid
            return uid
        n += 1
        assert n < 3_000_000, "no id found for %s" % prefix


def id_at(key, salt, seed, target, prefix, extra=lambda u: True):
    """First id whose bucket(id, key, salt) == target (and extra(id))."""
    uid = find_id(lambda u: fast_bucket(u, key, salt, seed) == target and extra(u), prefix)
    assert fast_bucket(uid, key, salt, seed) == target
    return uid


ALL_IDS = set()


class VFile:
    def __init__(self, name, description, snap_obj, expect_lints=()):
        self.name, self.description, self.snapshot = name, description, snap_obj
        self.snap = Snap(snap_obj) if snap_obj is not None else None
        if self.snap is not None:  # the file's snapshot must be exactly as broken as intended
            got = sorted((l["code"], l["item"]) for l in self.snap.lints)
            assert got == sorted(expect_lints), (name, got)
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
        if d["reason"] == "CONFIG_ERROR":  # the unit an invalid experiment "resolves" is not pinned
            del expect["unit_type"], expect["hash_key"]
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
        r, meta = eval_flag(self.snap, parse_ts(now), key, req)
        check_want(cid, r, want)
        if r["reason"] == "CONFIG_ERROR":
            fields = ["flag", "reason", "config_version"]
        elif r["reason"] == "FLAG_NOT_FOUND":
            fields = ["flag", "variant", "value", "reason", "config_version"]
        else:
            fields = ["flag", "variant", "value", "reason", "rule_index", "shadow_variant", "config_version"]
            if r["reason"] in ("OVERRIDE", "TARGET_MATCH", "GRADUAL", "CANARY"):
                fields.insert(5, "unit_type")
            if meta["bucket_needed"]:
                fields.insert(6, "bucket")
        expect = {k: r[k] for k in r if k in fields}
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
