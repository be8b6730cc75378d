"""Vario beside peer Python SDKs on one experiment: latency, throughput, CPU and RSS (a benchmark, not a test).

    bash benches/peers/python/run.sh [--repeats N] [--quick] [--out FILE]

run.sh prepares the venv (setup.sh) and runs this file with its python. Without --row this is the
parent: it writes the configs (../make_configs.py) to a temporary folder, then runs every row as
its own fresh process (`peers.py --row NAME --configs DIR`, one JSON object on stdout), rows
interleaved across repeats with the start rotating, and reports medians over the repeats.

Every row gets the same work: ids user-0 .. user-99999, country ['US', 'CA', 'GB', 'DE'][i % 4]
(half targeted), walked in the order (k * 7919) % 100000; each SDK's arguments are built before
any timing (the "prebuilt subjects"), and every SDK's exposure/event logging is off.

Per row, in one process:
- warm-up pass over the ids the row will see, keeping the answers for the split check;
- latency: blocks of 100 calls timed with perf_counter_ns, block time / 100 (median, p99 over
  blocks), then every call bracketed alone, minus the median empty bracket (p99_single_ns);
- throughput: a bare loop over whole passes for ~0.6 s (never under 15,000 calls), calls/s of
  wall time and process CPU ns per call (CPU includes the SDK's background threads);
- peak RSS (ru_maxrss) right after the throughput loop, and the RSS growth from building the
  prebuilt subjects, which a real server would not keep alive.
Slow SDKs get fewer calls (and so fewer distinct ids) so that each phase fits its time budget.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(HERE.parent))
import make_configs as mc  # noqa: E402  (shared with the Node half, one folder up)

FLAG = mc.FLAG
PLACEMENT = mc.PLACEMENT
VARIANTS = mc.VARIANTS
TARGETED = set(mc.TARGETED)
N_IDS = mc.N_IDS
BLOCK = 100
MANY_IDS = 1_000_000  # ids in the one timed decide_many call
MAX_LAT_CALLS = 1_000_000
MAX_SINGLE_CALLS = 200_000  # per-call brackets keep one int per call: cap the list

PACKAGES = [
    "vario",
    "eppo-server-sdk",
    "statsig_python_core",
    "growthbook",
    "flagsmith-flag-engine",
    "UnleashClient",
    "yggdrasil-engine",
    "numpy",
    "maturin",
]


@dataclass
class Budget:
    """Seconds per phase and the floor on calls; --quick shrinks both for a smoke run."""

    latency_s: float = 0.7
    single_s: float = 0.4
    throughput_s: float = 0.6
    min_calls: int = 15_000

    @classmethod
    def quick(cls) -> "Budget":
        return cls(latency_s=0.15, single_s=0.1, throughput_s=0.15, min_calls=4_000)


# ---------------------------------------------------------------------------------------------
# Subjects


def walk() -> list[int]:
    """The id index of the k-th call, for one pass."""
    return [(k * mc.STRIDE) % N_IDS for k in range(N_IDS)]


def country_of(i: int) -> str:
    return mc.COUNTRIES[i % len(mc.COUNTRIES)]


def rss_mb() -> float:
    """Current resident set (not the peak), to price the prebuilt subjects."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------------------------------------
# Rows: each builds its SDK and returns how to call it


@dataclass
class Sdk:
    """One row's call: `fn(*args[k])` for the k-th id of the walk, and how to read the variant."""

    fn: Callable[..., Any]
    args: list[tuple[Any, ...]]  # in walk order, one per id
    variant: Callable[[Any], str | None]
    label: str
    core: str
    how: str
    packages: list[str]
    subjects_mb: float = 0.0  # RSS growth from building `args`, measured by prebuild()
    close: Callable[[], dict[str, Any]] = lambda: {}
    init_ms: float = 0.0


def prebuild(build: Callable[[], list[tuple[Any, ...]]]) -> tuple[list[tuple[Any, ...]], float]:
    """Build a row's per-id arguments, and the RSS they added (after the SDK's import, before its init)."""
    gc.collect()
    rss0 = rss_mb()
    args = build()
    return args, rss_mb() - rss0


def read(cfg: Path, name: str) -> Any:
    return json.loads((cfg / name).read_text())


def row_floor(cfg: Path, order: list[int]) -> Sdk:
    def noop(req: Any) -> str:
        return "control"

    args, mb = prebuild(lambda: vario_requests(order))
    return Sdk(
        noop, args, lambda r: None, "harness floor (no-op fn)", "pure Python",
        "harness floor: a Python function returning a constant, same loop and fn(*args) call shape as every row "
        "(fed vario's request dicts)",
        [], subjects_mb=mb,
    )


def vario_requests(order: list[int]) -> list[tuple[Any, ...]]:
    return [({"user_id": f"user-{i}", "context": {"placement": PLACEMENT, "country": country_of(i)}},) for i in order]


def vario_variant(d: Any) -> str | None:
    # The untargeted are not enrolled and get the placement default, which names control.
    return d.params.get("variant")


def row_vario_snapshot(cfg: Path, order: list[int]) -> Sdk:
    import vario

    args, mb = prebuild(lambda: vario_requests(order))
    t0 = time.perf_counter()
    snap = vario.Snapshot.from_file(cfg / "vario_snapshot.json")
    init_ms = (time.perf_counter() - t0) * 1e3
    assert not snap.lints, snap.lints
    return Sdk(
        snap.decide, args, vario_variant, "vario Snapshot.decide", "Rust core (pyo3)",
        "Snapshot.from_file(snapshot JSON) + decide(prebuilt request dict); the pure API logs nothing "
        "and builds no exposure",
        ["vario"], subjects_mb=mb, init_ms=init_ms,
    )


def row_vario_client(cfg: Path, order: list[int]) -> Sdk:
    import vario

    args, mb = prebuild(lambda: vario_requests(order))
    sink_dir = tempfile.TemporaryDirectory(prefix="vario-peers-")
    sink = os.path.join(sink_dir.name, "exposures.jsonl")
    t0 = time.perf_counter()
    client = vario.Client(
        bootstrap=(cfg / "vario_snapshot.json").read_text(),
        sink_path=sink,
        id_hash_key="bench",
        dedup_window=3600.0,
    )
    client.wait_for_init(5.0)
    init_ms = (time.perf_counter() - t0) * 1e3

    def close() -> dict[str, Any]:
        client.flush(10.0)
        stats = dict(client.stats())
        client.close(10.0)
        with open(sink) as f:
            stats["sink_lines"] = sum(1 for _ in f)
        sink_dir.cleanup()
        return {"client_stats": stats}

    return Sdk(
        client.decide, args, vario_variant, "vario Client.decide", "Rust core (pyo3)",
        "Client(bootstrap=snapshot JSON, sink_path=local JSONL file, dedup_window=1 h): no network; "
        "each ASSIGNED decision queues an exposure to the background thread, which de-dups and writes it",
        ["vario"], subjects_mb=mb, close=close, init_ms=init_ms,
    )


def row_eppo(cfg: Path, order: list[int]) -> Sdk:
    import eppo_client
    from eppo_client import AssignmentLogger, Configuration
    from eppo_client.config import Config

    class NoLogger(AssignmentLogger):
        """Never called: the allocation has doLog false."""

    args, mb = prebuild(lambda: [(FLAG, f"user-{i}", {"country": country_of(i)}, "control") for i in order])
    t0 = time.perf_counter()
    client = eppo_client.init(
        Config(
            api_key="bench-offline",
            assignment_logger=NoLogger(),
            poll_interval_seconds=None,  # no poller: the initial configuration is all it gets
            initial_configuration=Configuration(flags_configuration=(cfg / "eppo_ufc.json").read_bytes()),
        )
    )
    init_ms = (time.perf_counter() - t0) * 1e3
    return Sdk(
        client.get_string_assignment, args, lambda v: v, "eppo-server-sdk", "Rust core (pyo3)",
        "init(initial_configuration=Configuration(UFC JSON bytes), poll_interval_seconds=None): no request "
        "is made; allocation doLog=false, so no assignment event is built",
        ["eppo-server-sdk"], subjects_mb=mb, init_ms=init_ms,
    )


class _SpecsStub(BaseHTTPRequestHandler):
    """Loopback stand-in for Statsig's CDN: every GET gets the DCS JSON, everything is counted."""

    body = b""
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.seen.append("GET " + self.path.split("?")[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_POST(self) -> None:  # noqa: N802
        self.seen.append("POST " + self.path.split("?")[0])
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def row_statsig(cfg: Path, order: list[int]) -> Sdk:
    from statsig_python_core import ExperimentEvaluationOptions, Statsig, StatsigOptions, StatsigUser

    # Statsig's server core only loads specs over HTTP (or a data-store adapter): serve them once.
    _SpecsStub.body = (cfg / "statsig_dcs.json").read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SpecsStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    opts = ExperimentEvaluationOptions(disable_exposure_logging=True)
    args, mb = prebuild(lambda: [(StatsigUser(user_id=f"user-{i}", country=country_of(i)), FLAG, opts) for i in order])
    t0 = time.perf_counter()
    statsig = Statsig(
        "secret-bench",
        StatsigOptions(
            specs_url=f"{base}/v2/download_config_specs",
            log_event_url=f"{base}/v1/log_event",  # should stay unused; loopback if not
            specs_sync_interval_ms=3_600_000,  # no re-sync during the run
            disable_all_logging=True,
            disable_country_lookup=True,
            enable_id_lists=False,
            output_log_level="none",
        ),
    )
    statsig.initialize().wait()
    init_ms = (time.perf_counter() - t0) * 1e3
    details = statsig.get_initialize_details()
    assert details.init_success and details.is_config_spec_ready, details.source
    server.shutdown()
    server.server_close()
    requests = list(_SpecsStub.seen)

    def close() -> dict[str, Any]:
        statsig.shutdown().wait()
        return {"stub_requests": requests}

    return Sdk(
        statsig.get_experiment, args, lambda e: e.value.get("variant"), "statsig-python-core", "Rust core (pyo3)",
        f"DCS v2 JSON served once by a loopback stub via specs_url ({len(requests)} request(s)), re-sync every "
        "1 h, stub closed after init; disable_all_logging=True and disable_exposure_logging=True per call; "
        "subject = prebuilt StatsigUser(user_id, country)",
        ["statsig_python_core"], subjects_mb=mb, close=close, init_ms=init_ms,
    )


def row_growthbook(cfg: Path, order: list[int]) -> Sdk:
    from growthbook import GrowthBook

    args, mb = prebuild(lambda: [({"id": f"user-{i}", "country": country_of(i)},) for i in order])
    t0 = time.perf_counter()
    gb = GrowthBook(features=read(cfg, "growthbook_features.json")["features"])
    init_ms = (time.perf_counter() - t0) * 1e3
    set_attributes, get = gb.set_attributes, gb.get_feature_value

    # The Python SDK is one instance per user: a shared instance re-pointed at each user is its
    # cheapest server-side use (a new GrowthBook per request would add its constructor).
    def decide(attrs: dict[str, str]) -> Any:
        set_attributes(attrs)
        return get(FLAG, "control")

    return Sdk(
        decide, args, lambda v: v, "growthbook", "pure Python",
        "one shared GrowthBook(features=...) instance; set_attributes() + get_feature_value() per call "
        "(a Python wrapper function); no on_experiment_viewed callback, so no tracking",
        ["growthbook"], subjects_mb=mb, close=gb.destroy, init_ms=init_ms,
    )


def row_flagsmith(cfg: Path, order: list[int]) -> Sdk:
    from flag_engine.engine import get_evaluation_result

    env = read(cfg, "flagsmith_context.json")
    key = env["environment"]["key"]
    # The whole evaluation context is the engine's argument, so that is the prebuilt subject.
    args, mb = prebuild(lambda: [
        ({**env, "identity": {"identifier": f"user-{i}", "key": f"{key}_user-{i}", "traits": {"country": country_of(i)}}},)
        for i in order
    ])
    return Sdk(
        get_evaluation_result, args, lambda r: r["flags"][FLAG]["value"], "flagsmith-flag-engine", "pure Python",
        "engine only, not the flagsmith SDK: get_evaluation_result(prebuilt context = environment context + "
        "identity); the engine logs nothing; it evaluates every feature in the context (here one)",
        ["flagsmith-flag-engine"], subjects_mb=mb,
    )


def row_unleash(cfg: Path, order: list[int]) -> Sdk:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    args, mb = prebuild(lambda: [(FLAG, {"userId": f"user-{i}", "properties": {"country": country_of(i)}}) for i in order])
    cache_dir = tempfile.TemporaryDirectory(prefix="unleash-peers-")
    t0 = time.perf_counter()
    cache = FileCache("bench", directory=cache_dir.name)
    cache.bootstrap_from_dict(read(cfg, "unleash_features.json"))
    client = UnleashClient(
        url="http://127.0.0.1:9/api",  # never contacted: no fetch, registration or metrics
        app_name="bench",
        disable_metrics=True,
        disable_registration=True,
        refresh_interval=3600,
        cache=cache,
    )
    client.initialize_client(fetch_toggles=False)
    init_ms = (time.perf_counter() - t0) * 1e3

    def close() -> dict[str, Any]:
        client.destroy()
        cache_dir.cleanup()
        return {}

    # A user outside the constraint gets Unleash's "disabled" variant: the caller serves control.
    return Sdk(
        client.get_variant, args, lambda v: v["name"] if v["enabled"] else "control", "UnleashClient",
        "Rust core (ctypes, JSON in/out)",
        "FileCache.bootstrap_from_dict + initialize_client(fetch_toggles=False), disable_metrics=True, "
        "disable_registration=True, impressionData=false; get_variant() still counts metrics in memory",
        ["UnleashClient", "yggdrasil-engine"], subjects_mb=mb, close=close, init_ms=init_ms,
    )


# Rows with one call per id; "vario_decide_many" is measured apart (measure_decide_many).
PER_CALL_ROWS: dict[str, Callable[[Path, list[int]], Sdk]] = {
    "floor": row_floor,
    "vario_snapshot": row_vario_snapshot,
    "vario_client": row_vario_client,
    "eppo": row_eppo,
    "statsig": row_statsig,
    "growthbook": row_growthbook,
    "flagsmith": row_flagsmith,
    "unleash": row_unleash,
}
ROW_IDS = ["floor", "vario_snapshot", "vario_client", "vario_decide_many", "eppo", "statsig", "growthbook",
           "flagsmith", "unleash"]


# ---------------------------------------------------------------------------------------------
# Measurement (child process)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def split_check(variants: list[str | None], targeted: list[bool]) -> tuple[str, bool]:
    """Variant shares among the targeted, share of control among the others, and whether both hold.

    A share passes when it is within 4 standard errors of its weight (binomial): loose enough never
    to flag a correct SDK, tight enough to catch a wrong weight or a swapped variant.
    """
    on = Counter(v for v, t in zip(variants, targeted) if t)
    n_on = sum(on.values())
    off = [v for v, t in zip(variants, targeted) if not t]
    ctl = sum(1 for v in off if v == "control") / max(1, len(off))
    ok = n_on > 0 and len(off) > 0 and ctl == 1.0 and set(on) <= set(VARIANTS)
    for v, w in zip(VARIANTS, mc.WEIGHTS):
        p = w / 100
        se = math.sqrt(p * (1 - p) / max(1, n_on))
        ok = ok and abs(on[v] / max(1, n_on) - p) <= 4 * se
    text = "/".join(f"{100 * on[v] / max(1, n_on):.1f}" for v in VARIANTS) + f", {100 * ctl:.0f}% ctl"
    other = set(on) - set(VARIANTS)
    if other:
        text += f", unexpected {sorted(map(str, other))}"
    return text, ok


def empty_bracket_ns() -> float:
    pc = time.perf_counter_ns
    xs = []
    for _ in range(20_000):
        t0 = pc()
        xs.append(pc() - t0)
    return float(statistics.median(xs))


def measure_row(name: str, cfg: Path, budget: Budget) -> dict[str, Any]:
    if name == "vario_decide_many":
        return measure_decide_many(cfg)
    order = walk()
    sdk = PER_CALL_ROWS[name](cfg, order)
    # The prebuilt subjects stay alive for the whole run; freezing them keeps the cyclic GC from
    # rescanning 100k objects that a real server would not hold, for every SDK alike.
    gc.collect()
    gc.freeze()
    fn, args = sdk.fn, sdk.args
    targeted = [country_of(i) in TARGETED for i in order]

    # Size the phases from a short probe, so that slow SDKs get fewer calls instead of minutes. The
    # probe runs cold (first calls after init), so it is refined from the warm-up pass below.
    pc = time.perf_counter_ns
    for a in args[:200]:
        fn(*a)
    t0 = pc()
    for a in args[200:1200]:
        fn(*a)
    est = max(1.0, (pc() - t0) / 1000)  # ns per call

    def calls_for(seconds: float, cap: int) -> int:
        n = max(budget.min_calls, min(cap, int(seconds * 1e9 / est)))
        return -(-n // BLOCK) * BLOCK

    def plan() -> tuple[int, int, int, int]:
        n_lat = calls_for(budget.latency_s, MAX_LAT_CALLS)
        n_single = calls_for(budget.single_s, MAX_SINGLE_CALLS)
        pass_len = min(N_IDS, calls_for(budget.throughput_s, N_IDS))
        return n_lat, n_single, pass_len, min(N_IDS, max(n_lat, n_single, pass_len))

    # Warm-up over every id any phase will use; its answers give the split check.
    *_, warmed = plan()
    t0 = pc()
    answers = [fn(*a) for a in args[:warmed]]
    est = max(1.0, (pc() - t0) / warmed)
    n_lat, n_single, pass_len, distinct = plan()
    if distinct > warmed:  # the warm estimate allows more calls: warm the extra ids too
        answers += [fn(*a) for a in args[warmed:distinct]]
    if name == "floor":
        split, split_ok = "n/a (no-op)", True
    else:
        split, split_ok = split_check([sdk.variant(r) for r in answers], targeted[: len(answers)])
    del answers

    def seq(n: int) -> list[tuple[Any, ...]]:
        reps = -(-n // N_IDS)
        return (args * reps)[:n] if reps > 1 else args[:n]

    # Latency, blocks of 100: the timer pair costs ~1-2 ns per call here.
    lat_args = seq(n_lat)
    blocks = [lat_args[i : i + BLOCK] for i in range(0, n_lat, BLOCK)]
    block_ns: list[float] = []
    gc.collect()
    for blk in blocks:
        t0 = pc()
        for a in blk:
            fn(*a)
        block_ns.append((pc() - t0) / BLOCK)
    del blocks, lat_args

    # Latency, one bracket per call: the single-call tail that block means smooth away.
    bracket = empty_bracket_ns()
    single_args = seq(n_single)
    single_ns: list[int] = []
    push = single_ns.append
    gc.collect()
    for a in single_args:
        t0 = pc()
        fn(*a)
        push(pc() - t0)
    del single_args

    # Throughput: whole passes of a bare loop, no timer inside.
    tp_args = args[:pass_len]
    gc.collect()
    calls = 0
    w0, c0 = time.perf_counter(), time.process_time()
    while True:
        for a in tp_args:
            fn(*a)
        calls += pass_len
        wall = time.perf_counter() - w0
        if wall >= budget.throughput_s and calls >= budget.min_calls:
            break
    cpu = time.process_time() - c0
    peak = peak_rss_mb()
    extra = sdk.close() or {}

    return {
        "id": name,
        "label": sdk.label,
        "core": sdk.core,
        "how": sdk.how,
        "packages": sdk.packages,
        "calls": n_lat,
        "distinct_ids": min(N_IDS, n_lat),
        "median_ns": statistics.median(block_ns),
        "p99_ns": pct(block_ns, 0.99),
        "p99_single_ns": max(0.0, pct([float(x) for x in single_ns], 0.99) - bracket),
        "median_single_ns": max(0.0, statistics.median(single_ns) - bracket),
        "evals_per_s": calls / wall,
        "cpu_ns_per_eval": cpu * 1e9 / calls,
        "cpu_wall": cpu / wall,
        "peak_rss_mb": peak,
        "subjects_rss_mb": sdk.subjects_mb,
        "split": split,
        "split_ok": split_ok,
        "detail": {
            "est_ns_per_call": est,
            "single_calls": n_single,
            "throughput_calls": calls,
            "throughput_pass": pass_len,
            "warmup_calls": max(warmed, distinct),
            "timer_bracket_ns": bracket,
            "init_ms": sdk.init_ms,
            **extra,
        },
    }


def measure_decide_many(cfg: Path) -> dict[str, Any]:
    import numpy as np
    import vario

    order = walk()
    gc.collect()
    rss0 = rss_mb()
    ids = [f"user-{order[k % N_IDS]}" for k in range(MANY_IDS)]
    subjects_mb = rss_mb() - rss0
    t0 = time.perf_counter()
    snap = vario.Snapshot.from_file(cfg / "vario_snapshot.json")
    init_ms = (time.perf_counter() - t0) * 1e3
    # One context per call: the timed call has every id targeted (US), the heavier path, since the
    # untargeted are answered before hashing; an untimed call checks that the others get control.
    on_ctx = {"placement": PLACEMENT, "country": "US"}
    off_ctx = {"placement": PLACEMENT, "country": "GB"}
    snap.decide_many(ids[:N_IDS], context=on_ctx)  # warm-up
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    batch = snap.decide_many(ids, context=on_ctx)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = peak_rss_mb()

    codes = np.asarray(batch.variant_codes)
    keys = batch.variant_keys
    n = len(codes)
    shares = [np.count_nonzero(codes == keys.index(v)) / n if v in keys else 0.0 for v in VARIANTS]
    off = snap.decide_many(ids[:N_IDS], context=off_ctx)
    ctl = 1.0 - np.count_nonzero(np.asarray(off.enrolled)) / len(off)
    ok = bool(ctl == 1.0 and np.count_nonzero(np.asarray(batch.enrolled)) == n)
    for s, w in zip(shares, mc.WEIGHTS):
        p = w / 100
        ok = ok and bool(abs(s - p) <= 4 * math.sqrt(p * (1 - p) / n))
    split = "/".join(f"{100 * s:.1f}" for s in shares) + f", {100 * ctl:.0f}% ctl"
    return {
        "id": "vario_decide_many",
        "label": f"vario Snapshot.decide_many ({MANY_IDS:,} ids, one call)",
        "core": "Rust core (pyo3)",
        "how": "Snapshot.from_file + one decide_many(list of 1,000,000 str ids, context country=US) per repeat, "
        "throughput only; the untargeted are checked in a separate untimed call (country=GB); the pure "
        "API logs nothing",
        "packages": ["vario", "numpy"],
        "calls": n,
        "distinct_ids": N_IDS,
        "median_ns": None,
        "p99_ns": None,
        "p99_single_ns": None,
        "median_single_ns": None,
        "evals_per_s": n / wall,
        "cpu_ns_per_eval": cpu * 1e9 / n,
        "cpu_wall": cpu / wall,
        "peak_rss_mb": peak,
        "subjects_rss_mb": subjects_mb,
        "split": split,
        "split_ok": bool(ok),
        "detail": {"init_ms": init_ms, "timed_call_ms": wall * 1e3},
    }


def child(name: str, cfg: Path, quick: bool) -> int:
    import logging

    # No log handler may run inside a timed loop (and no peer prints on the way).
    logging.disable(logging.CRITICAL)
    out = measure_row(name, cfg, Budget.quick() if quick else Budget())
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------------------------------------
# Parent: run the rows, aggregate, report


def proc_stat() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def busy_pct(seconds: float) -> float:
    """Share of both CPUs' time spent busy, by anyone, over the next `seconds`."""
    b0, t0 = proc_stat()
    time.sleep(seconds)
    b1, t1 = proc_stat()
    return 100 * (b1 - b0) / max(1, t1 - t0)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def fmt(x: float | None, nd: int = 0) -> str:
    return "–" if x is None else f"{x:,.{nd}f}"


PER_REPEAT = [
    "calls", "distinct_ids", "median_ns", "p99_ns", "p99_single_ns", "median_single_ns", "evals_per_s",
    "cpu_ns_per_eval", "cpu_wall", "peak_rss_mb", "subjects_rss_mb",
]


def aggregate(runs: list[dict[str, Any]], vers: dict[str, str | None]) -> dict[str, Any]:
    first = runs[0]
    per = {m: [r[m] for r in runs] for m in PER_REPEAT}

    def med(m: str) -> float | None:
        xs = [x for x in per[m] if x is not None]
        return statistics.median(xs) if xs else None

    # Repeats warm up the same ids from the start of the walk (slow rows fewer or more of them,
    # as their budgets allow), so the first repeat's split text stands for all; split_ok must
    # hold in every repeat.
    calls, distinct = med("calls"), med("distinct_ids")
    return {
        "id": first["id"],
        "label": first["label"],
        "core": first["core"],
        "how": first["how"],
        "packages": {p: vers.get(p) for p in first["packages"]},
        "calls": int(calls) if calls is not None else None,
        "distinct_ids": int(distinct) if distinct is not None else None,
        "median_ns": med("median_ns"),
        "p99_ns": med("p99_ns"),
        "p99_single_ns": med("p99_single_ns"),
        "evals_per_s": med("evals_per_s"),
        "cpu_ns_per_eval": med("cpu_ns_per_eval"),
        "peak_rss_mb": med("peak_rss_mb"),
        "subjects_rss_mb": med("subjects_rss_mb"),
        "split": first["split"],
        "split_ok": all(r["split_ok"] for r in runs),
        "per_repeat": per,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Python SDK | core | calls (distinct ids) | median ns | p99 ns | p99 single ns | evals/s "
        "| CPU ns/eval | peak RSS MB (of which subjects) | split check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ok = "ok" if r["split_ok"] else "FAIL"
        lines.append(
            f"| {r['label']} | {r['core']} | {fmt(r['calls'])} ({fmt(r['distinct_ids'])}) | {fmt(r['median_ns'])} "
            f"| {fmt(r['p99_ns'])} | {fmt(r['p99_single_ns'])} | {fmt(r['evals_per_s'])} | {fmt(r['cpu_ns_per_eval'])} "
            f"| {fmt(r['peak_rss_mb'])} ({fmt(r['subjects_rss_mb'])}) | {ok} {r['split']} |"
        )
    return "\n".join(lines)


def parent(args: argparse.Namespace) -> int:
    wanted = set(args.rows.split(",")) if args.rows else set(ROW_IDS)
    unknown = wanted - set(ROW_IDS)
    if unknown:
        print(f"unknown rows {sorted(unknown)}; rows are {', '.join(ROW_IDS)}", file=sys.stderr)
        return 2
    names = [n for n in ROW_IDS if n in wanted]
    repeats = 1 if args.quick and args.repeats is None else (args.repeats or 3)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # numpy's idle BLAS threads stay out of the way
    cfg_tmp = tempfile.TemporaryDirectory(prefix="peers-configs-")
    cfg = Path(cfg_tmp.name)
    mc.write_all(cfg)
    vers = versions()

    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    failed: dict[str, str] = {}
    conditions: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    # One busy sample between runs serves as "after" for one run and "before" for the next.
    busy = busy_pct(0.5)
    for rep in range(repeats):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            if name in failed:
                continue
            cmd = [sys.executable, str(Path(__file__).resolve()), "--row", name, "--configs", str(cfg)]
            if args.quick:
                cmd.append("--quick")
            w0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - w0
            after = busy_pct(0.5)
            if proc.returncode != 0:
                failed[name] = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
                print(f"row {name} failed: {proc.stderr.strip()}", file=sys.stderr)
                busy = after
                continue
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[name].append(run)
            conditions.append({
                "repeat": rep + 1, "row": name, "busy_before_pct": round(busy, 1), "busy_after_pct": round(after, 1),
                "cpu_wall": round(run["cpu_wall"], 3), "process_wall_s": round(wall, 2),
            })
            busy = after
        print(f"repeat {rep + 1}/{repeats} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    rows = [aggregate(runs[n], vers) for n in names if runs[n]]
    details = {n: [r["detail"] for r in runs[n]] for n in names if runs[n]}
    busy_all = [c["busy_before_pct"] for c in conditions] + [c["busy_after_pct"] for c in conditions]
    report = {
        "language": "python",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": vers,
        "machine": {
            "cpu": cpu_model(),
            "nproc": len(os.sched_getaffinity(0)),
            "kernel": f"{platform.system()} {platform.release()}",
        },
        "conditions": {
            "busy_pct_median": statistics.median(busy_all) if busy_all else None,
            "busy_pct_max": max(busy_all) if busy_all else None,
            "cpu_wall_median": statistics.median(c["cpu_wall"] for c in conditions) if conditions else None,
            "runs": conditions,
        },
        "repeats": repeats,
        "quick": bool(args.quick),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "method": __doc__.split("Per row, in one process:")[1].strip() if __doc__ else "",
        "rows": rows,
        "not_measured": [{"id": n, "reason": r} for n, r in failed.items()],
        "details": details,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    c = report["conditions"]
    print(table(rows))
    print()
    print(
        f"Python {report['python']}, {report['machine']['cpu']}, nproc {report['machine']['nproc']}; "
        f"{repeats} repeat(s), machine busy median {fmt(c['busy_pct_median'])}% (max {fmt(c['busy_pct_max'])}%) "
        f"around the runs, CPU/wall of the timed loops median {fmt(c['cpu_wall_median'], 2)}; {report['wall_s']} s"
    )
    for n, r in failed.items():
        print(f"not measured: {n}: {r}")
    print(f"wrote {out}", file=sys.stderr)
    return 0 if not failed and all(r["split_ok"] for r in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=None, help="fresh processes per row (median reported); default 3, 1 with --quick")
    ap.add_argument("--quick", action="store_true", help="smoke run: short budgets, one repeat")
    ap.add_argument("--out", default=str(ROOT / "target" / "bench" / "peers-python.json"), help="JSON report")
    ap.add_argument("--rows", default="", help="comma-separated row ids to run (default: all)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # child mode: measure one row, print JSON
    ap.add_argument("--configs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        return child(args.row, Path(args.configs), args.quick)
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
