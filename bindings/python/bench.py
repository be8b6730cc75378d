"""Latency and throughput of vario's Python extension next to eppo-server-sdk (a benchmark, not a test).

Run it through `bash bindings/python/bench.sh`, which builds vario (release) and installs
eppo-server-sdk 4.4.1 into a throwaway venv first. Prints a markdown table and rewrites
bindings/python/BENCH.md.

Both SDKs get the same experiment: key `checkout_exp`, variants control / treatment_a /
treatment_b at 34/33/33 %, targeting `country in [US, CA]` (everyone else gets `control`,
not enrolled). Subjects `user-0` .. `user-99999`, country `[US, CA, US, DE][i % 4]` (75 %
targeted), walked in the order (k * 7919) % 100000, pass after pass. Every call's arguments are
prebuilt, so neither SDK pays for building its subject inside the timed loop.

Per-call latency: calls are timed in blocks of 100 with `time.perf_counter_ns()` and each block's
time is divided by 100 (the ~100 ns timer pair is then ~1 ns per call); median and p99 are over
those block means, so p99 is the slow tail of 100-call blocks, not of single calls. Throughput:
whole passes of a bare loop for ~1 s. Rows are measured in turn within a repeat (the starting row
rotates between repeats), and every figure is the median over the repeats.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

import eppo_client
from eppo_client import AssignmentLogger, Configuration
from eppo_client.config import Config as EppoConfig

import vario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

N_IDS = 100_000
STRIDE = 7919  # coprime with N_IDS: the walk visits every id once per pass
COUNTRIES = ["US", "CA", "US", "DE"]
TARGETED = {"US", "CA"}
VARIANTS = ["control", "treatment_a", "treatment_b"]
BLOCK = 100
PLACEMENT = "checkout"
FLAG = "checkout_exp"


# ---------------------------------------------------------------------------------------------
# The experiment, once per SDK


def vario_snapshot_text() -> str:
    snap = {
        "schema_version": 1,
        "environment": "bench",
        "version": 1,
        "published_at": "2026-11-01T00:00:00Z",
        "hashing": {"algorithm": "xxh32", "seed": 0},
        "privacy": {"id_hash_key": "bench"},
        "placements": {PLACEMENT: {"default_params": {"variant": "control"}}},
        "layers": [],
        "holdouts": [],
        "segments": {},
        "experiments": [
            {
                "id": "exp-1",
                "key": FLAG,
                "name": "Checkout experiment",
                "status": "RUNNING",
                "placements": [PLACEMENT],
                "unit": "user",
                "targeting": {"attr": "country", "op": "in", "values": ["US", "CA"]},
                "variants": [
                    {"key": "control", "params": {}},
                    {"key": "treatment_a", "params": {"variant": "treatment_a"}},
                    {"key": "treatment_b", "params": {"variant": "treatment_b"}},
                ],
                "allocation": {"weights": {"control": 34, "treatment_a": 33, "treatment_b": 33}},
            }
        ],
        "flags": [],
    }
    return json.dumps(snap)


def eppo_ufc_bytes() -> bytes:
    """Eppo's Universal Flag Configuration (server format) for the same experiment."""
    salt = f"{FLAG}-split"
    bounds = [(0, 3400), (3400, 6700), (6700, 10000)]
    ufc = {
        "createdAt": "2026-11-01T00:00:00.000Z",
        "format": "SERVER",
        "environment": {"name": "bench"},
        "flags": {
            FLAG: {
                "key": FLAG,
                "enabled": True,
                "variationType": "STRING",
                "variations": {v: {"key": v, "value": v} for v in VARIANTS},
                "allocations": [
                    {
                        "key": "experiment",
                        "rules": [
                            {"conditions": [{"attribute": "country", "operator": "ONE_OF", "value": ["US", "CA"]}]}
                        ],
                        "splits": [
                            {"variationKey": v, "shards": [{"salt": salt, "ranges": [{"start": a, "end": b}]}]}
                            for v, (a, b) in zip(VARIANTS, bounds)
                        ],
                        "doLog": False,  # no assignment event is built
                    }
                ],
                "totalShards": 10000,
            }
        },
    }
    return json.dumps(ufc).encode()


class NoLogger(AssignmentLogger):
    """Never called: the allocation has doLog false."""


def eppo_client_offline() -> Any:
    cfg = EppoConfig(
        api_key="bench-offline",
        assignment_logger=NoLogger(),
        poll_interval_seconds=None,
        initial_configuration=Configuration(flags_configuration=eppo_ufc_bytes()),
    )
    return eppo_client.init(cfg)


# ---------------------------------------------------------------------------------------------
# Measurement


def latency(run_block: Callable[[Any], None], blocks: list[Any], passes: int) -> list[float]:
    """Per-call ns of every block: `run_block(block)` timed as a whole, divided by its size."""
    pc = time.perf_counter_ns
    out: list[float] = []
    for _ in range(passes):
        for blk in blocks:
            t0 = pc()
            run_block(blk)
            out.append((pc() - t0) / BLOCK)
    return out


def throughput(run_pass: Callable[[], None], calls_per_pass: int, budget_s: float) -> tuple[float, float]:
    """(calls/s of wall time, CPU ns per call) over whole passes for at least `budget_s`."""
    calls = 0
    w0, c0 = time.perf_counter(), time.process_time()
    while True:
        run_pass()
        calls += calls_per_pass
        wall = time.perf_counter() - w0
        if wall >= budget_s:
            break
    cpu = time.process_time() - c0
    return calls / wall, cpu * 1e9 / calls


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


class Row:
    def __init__(self, name: str, what: str) -> None:
        self.name = name
        self.what = what
        self.median: list[float] = []
        self.p99: list[float] = []
        self.rate: list[float] = []
        self.cpu: list[float] = []
        self.split = ""
        self.extra = ""

    def add(self, lat: list[float] | None, rate: float, cpu: float) -> None:
        if lat is not None:
            self.median.append(statistics.median(lat))
            self.p99.append(pct(lat, 0.99))
        self.rate.append(rate)
        self.cpu.append(cpu)

    def med(self, xs: list[float]) -> float | None:
        return statistics.median(xs) if xs else None


def split_of(variants: list[str | None], targeted: list[bool]) -> str:
    """Variant shares among targeted subjects, and the share of the others that got control."""
    on = Counter(v for v, t in zip(variants, targeted) if t)
    n_on = sum(on.values())
    off = [v for v, t in zip(variants, targeted) if not t]
    ctl = sum(1 for v in off if v == "control") / max(1, len(off))
    shares = "/".join(f"{100 * on[v] / max(1, n_on):.1f}" for v in VARIANTS)
    other = set(on) - set(VARIANTS)
    bad = f", unexpected {sorted(map(str, other))}" if other else ""
    return f"{shares} (targeted), {100 * ctl:.0f}% control (others){bad}"


# ---------------------------------------------------------------------------------------------


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def busy_share(seconds: float = 1.0) -> float:
    """Share of all CPUs' time spent busy (by anyone) over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle + iowait
        return sum(v) - idle, sum(v)

    try:
        b0, t0 = sample()
        time.sleep(seconds)
        b1, t1 = sample()
        return (b1 - b0) / max(1, t1 - t0)
    except (OSError, ValueError, IndexError):
        return float("nan")


def fmt(x: float | None, nd: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x:,.{nd}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="repeats per row (median reported), default 5")
    ap.add_argument("--passes", type=int, default=2, help="latency passes over the 100k ids per repeat")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per throughput measurement")
    ap.add_argument("--batch", type=int, default=1_000_000, help="ids in the decide_many call")
    ap.add_argument("--out", default=str(HERE / "BENCH.md"), help="markdown report (overwritten)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    busy_before = busy_share()

    # Subjects, in walk order, with prebuilt arguments for each SDK.
    order = [(k * STRIDE) % N_IDS for k in range(N_IDS)]
    uids = [f"user-{i}" for i in order]
    countries = [COUNTRIES[i % len(COUNTRIES)] for i in order]
    targeted = [c in TARGETED for c in countries]
    v_reqs = [{"user_id": u, "context": {"placement": PLACEMENT, "country": c}} for u, c in zip(uids, countries)]
    e_args = [(u, {"country": c}) for u, c in zip(uids, countries)]
    v_blocks = [v_reqs[i : i + BLOCK] for i in range(0, N_IDS, BLOCK)]
    e_blocks = [e_args[i : i + BLOCK] for i in range(0, N_IDS, BLOCK)]
    batch_ids = [uids[k % N_IDS] for k in range(args.batch)]

    # SDKs.
    snap_text = vario_snapshot_text()
    snap = vario.Snapshot.from_json(snap_text)
    assert not snap.lints, snap.lints
    sink_dir = tempfile.TemporaryDirectory(prefix="vario-bench-")
    sink_path = os.path.join(sink_dir.name, "exposures.jsonl")
    client = vario.Client(bootstrap=snap_text, sink_path=sink_path, id_hash_key="bench", dedup_window=3600.0)
    client.wait_for_init(5.0)
    eppo = eppo_client_offline()

    def noop(req: Any) -> None:
        return None

    # One loop body per call shape: a block for latency, a pass for throughput, and a warm-up pass
    # that keeps the answers for the split check. The floor uses vario's shape (one dict argument).
    def one_arg(fn: Callable[[Any], Any]) -> tuple[Callable[[Any], None], Callable[[], None], Callable[[], list[Any]]]:
        def run_block(blk: list[Any]) -> None:
            for r in blk:
                fn(r)

        def run_pass() -> None:
            for r in v_reqs:
                fn(r)

        def warm() -> list[Any]:
            return [fn(r) for r in v_reqs]

        return run_block, run_pass, warm

    get = eppo.get_string_assignment

    def eppo_block(blk: list[Any]) -> None:
        for u, a in blk:
            get(FLAG, u, a, "control")

    def eppo_pass() -> None:
        for u, a in e_args:
            get(FLAG, u, a, "control")

    def eppo_warm() -> list[Any]:
        return [get(FLAG, u, a, "control") for u, a in e_args]

    decide_many_ctx = {"placement": PLACEMENT, "country": "US"}
    snap.decide_many(batch_ids, context=decide_many_ctx)  # warm-up, like the other rows' warm-up pass

    rows = {
        "floor": Row("harness floor (no-op Python fn)", "`noop(req)`, same loop and call shape as vario"),
        "snap": Row("vario `Snapshot.decide`", "`snap.decide(req)`, prebuilt request dict"),
        "client": Row(
            "vario `Client.decide`",
            "`client.decide(req)`: ASSIGNED exposures queued to the background thread (dedup 1 h, JSONL sink)",
        ),
        "many": Row(
            f"vario `Snapshot.decide_many` ({args.batch:,} ids, one call)",
            "one call per repeat, list of str ids, context country=US (all targeted), GIL released, one thread",
        ),
        "eppo": Row(
            f"eppo-server-sdk {eppo_client.__version__} `get_string_assignment`",
            "`get(flag, uid, attrs, 'control')`, prebuilt attrs dict; offline init, doLog false",
        ),
    }
    shapes = {
        "floor": one_arg(noop),
        "snap": one_arg(snap.decide),
        "client": one_arg(client.decide),
        "eppo": (eppo_block, eppo_pass, eppo_warm),
    }

    def answer(key: str, r: Any) -> str | None:
        if key == "eppo":
            return r
        return r.variant if r.reason == "ASSIGNED" else (r.params.get("variant") if r.params else None)

    def measure(key: str) -> None:
        row = rows[key]
        gc.collect()
        if key == "many":
            w0, c0 = time.perf_counter(), time.process_time()
            batch = snap.decide_many(batch_ids, context=decide_many_ctx)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            row.add(None, len(batch) / wall, cpu * 1e9 / len(batch))
            if not row.split:
                names = batch.variant_keys
                codes = np.asarray(batch.variant_codes)
                n = len(codes)
                shares = "/".join(f"{100 * np.count_nonzero(codes == names.index(v)) / n:.1f}" for v in VARIANTS)
                row.split = f"{shares} (all targeted)"
            return
        run_block, run_pass, warm = shapes[key]
        answers = warm()
        if not row.split and key != "floor":
            row.split = split_of([answer(key, a) for a in answers], targeted)
        del answers
        lat = latency(run_block, v_blocks if key != "eppo" else e_blocks, args.passes)
        rate, cpu = throughput(run_pass, N_IDS, args.budget)
        row.add(lat, rate, cpu)
        if key == "client":
            client.flush(10.0)  # drain the exposure queue before the next row runs

    order_keys = ["floor", "snap", "eppo", "client", "many"]
    t_start = time.perf_counter()
    for rep in range(args.repeats):
        keys = order_keys[rep % len(order_keys) :] + order_keys[: rep % len(order_keys)]
        for key in keys:
            measure(key)
        print(f"repeat {rep + 1}/{args.repeats} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    client.flush(10.0)
    stats = client.stats()
    client.close(10.0)
    sink_lines = sum(1 for _ in open(sink_path)) if os.path.exists(sink_path) else 0
    sink_dir.cleanup()
    load_after = os.getloadavg()
    busy_after = busy_share()

    # Report.
    m = {k: (r.med(r.median), r.med(r.p99), r.med(r.rate), r.med(r.cpu)) for k, r in rows.items()}
    lines = [
        "| row | median ns/call | p99 ns/call (100-call blocks) | calls/s | CPU ns/call | split check |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for k in ["floor", "snap", "client", "many", "eppo"]:
        med, p99, rate, cpu = m[k]
        lines.append(
            f"| {rows[k].name} | {fmt(med)} | {fmt(p99)} | {fmt(rate)} | {fmt(cpu, 1)} | {rows[k].split or 'n/a'} |"
        )
    table = "\n".join(lines)

    floor = m["floor"][0] or 0.0
    eppo_med, eppo_rate = m["eppo"][0] or 0.0, m["eppo"][2] or 0.0
    ratio_lines = []
    for k in ["snap", "client"]:
        med, _, rate, _ = m[k]
        assert med is not None and rate is not None
        ratio_lines.append(
            f"- Eppo / {rows[k].name}: median latency {eppo_med / med:.2f}x "
            f"(net of the harness floor: {(eppo_med - floor) / max(1e-9, med - floor):.2f}x), "
            f"throughput {rate / eppo_rate:.2f}x"
        )
    many_rate = m["many"][2] or 0.0
    ratio_lines.append(f"- `decide_many`: {many_rate / 1e6:.1f} M decisions/s, {many_rate / eppo_rate:.0f}x Eppo's per-call throughput")

    budgets = [
        ("`Snapshot.decide` p50 <= 400 ns", (m["snap"][0] or 1e9) <= 400, f"{fmt(m['snap'][0])} ns"),
        ("`Client.decide` p50 <= 400 ns", (m["client"][0] or 1e9) <= 400, f"{fmt(m['client'][0])} ns"),
        ("`Snapshot.decide` >= 4x faster than Eppo (median)", eppo_med / (m["snap"][0] or 1e9) >= 4,
         f"{eppo_med / (m['snap'][0] or 1e9):.2f}x"),
        ("`Client.decide` >= 4x faster than Eppo (median)", eppo_med / (m["client"][0] or 1e9) >= 4,
         f"{eppo_med / (m['client'][0] or 1e9):.2f}x"),
        ("`decide_many` >= 10 M decisions/s (one core)", many_rate >= 10e6, f"{many_rate / 1e6:.1f} M/s"),
    ]
    budget_lines = [f"- {'MET' if ok else 'MISSED'}: {name} ({val})" for name, ok, val in budgets]

    client_keys = ["decisions", "exposures_enqueued", "exposures_deduplicated", "dropped_queue_full"]
    client_line = ", ".join(f"{k}={stats.get(k)}" for k in client_keys if k in stats)
    commit = sh(["git", "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "diff", "--name-only", "HEAD", "--", "Cargo.toml", "Cargo.lock", "core", "src",
                "bindings/python/src", "bindings/python/Cargo.toml"])
    if dirty and dirty != "?":
        commit += " + uncommitted changes to " + ", ".join(dirty.split())
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 0
    env_lines = [
        f"- Python {platform.python_version()} ({sys.executable.replace(str(ROOT) + '/', '')}), "
        f"eppo-server-sdk {eppo_client.__version__}, vario {vario.__version__} at commit {commit} "
        "(`maturin develop --release`), numpy " + np.__version__,
        f"- Machine: {cpu_model()}, nproc {ncpu}, {platform.system()} {platform.release()}; "
        f"machine {100 * busy_before:.0f}% busy (both CPUs, anyone) in the second before the run and "
        f"{100 * busy_after:.0f}% in the second after; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        f"- {args.repeats} repeats, rows interleaved (start rotates), median of repeats; latency over "
        f"{args.passes} x {N_IDS:,} calls per repeat after a warm-up pass; throughput over >= {args.budget:g} s",
        f"- Client after the run: {client_line}; exposure lines in the sink: {sink_lines:,}",
    ]

    per_rep = ["| row | median ns per repeat | p99 ns per repeat | calls/s per repeat |", "|---|---|---|---|"]
    for k in ["floor", "snap", "client", "many", "eppo"]:
        r = rows[k]
        per_rep.append(
            f"| {r.name} | {', '.join(fmt(x) for x in r.median) or '–'} | {', '.join(fmt(x) for x in r.p99) or '–'} "
            f"| {', '.join(fmt(x) for x in r.rate)} |"
        )

    command = "bash bindings/python/bench.sh" + ("" if len(sys.argv) == 1 else " " + " ".join(sys.argv[1:]))
    print(table)
    print()
    print("\n".join(ratio_lines))
    print()
    print("\n".join(budget_lines))
    print()
    print("\n".join(env_lines))
    print()
    print("\n".join(per_rep))

    what = "\n".join(f"- **{rows[k].name}**: {rows[k].what}" for k in ["floor", "snap", "client", "many", "eppo"])
    doc = f"""# Python benchmark: vario vs eppo-server-sdk

Generated by `bindings/python/bench.py` (a benchmark, not a test) with:

```sh
{command}
```

`bench.sh` builds vario with `maturin develop --release` and installs eppo-server-sdk 4.4.1 into
the throwaway venv `bindings/python/.venv-bench`, then runs `bench.py` there.

Same experiment for both SDKs: `checkout_exp`, control / treatment_a / treatment_b at 34/33/33 %,
targeting `country in [US, CA]` (others get control, not enrolled). {N_IDS:,} distinct user ids
`user-0..user-99999`, country `[US, CA, US, DE][i % 4]` (75 % targeted), walked in the order
(k * {STRIDE}) % {N_IDS}, pass after pass. Arguments are prebuilt for both SDKs. Eppo is initialised
offline: `init(Config(initial_configuration=Configuration(flags_configuration=<UFC JSON bytes>),
poll_interval_seconds=None, ...))`, with allocation `doLog: false`.

Per-call latency = blocks of {BLOCK} calls timed with `time.perf_counter_ns()`, divided by {BLOCK};
median and p99 over those block means (so p99 is the tail of 100-call blocks, not of single
calls). calls/s = whole passes of a bare loop for >= {args.budget:g} s. CPU ns/call = process CPU
time / calls (includes vario's background exposure thread for `Client.decide`). `decide_many`:
one call over {args.batch:,} ids per repeat; calls/s = ids / wall time of the call.
Split check = variant shares among targeted subjects in the warm-up pass, and the share of the
others that got control.

{table}

{chr(10).join(ratio_lines)}

Issue budgets:

{chr(10).join(budget_lines)}

{chr(10).join(env_lines)}

Rows:

{what}

Per repeat:

{chr(10).join(per_rep)}
"""
    Path(args.out).write_text(doc)
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
