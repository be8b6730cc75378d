"""Writes BENCHMARKS.md from one run's result files (run by `make bench`, not by hand).

Inputs, all under target/ (nothing here measures anything):
- criterion's estimates: target/criterion/<group>/<bench>/new/estimates.json (core, runtime, ffi);
- target/bench/latency.json, scaling.json, memory.json, push.json (the custom-harness Rust benches);
- target/bench/peers-python.json, peers-node.json (benches/peers/*, Vario beside the peers).

Every figure in the page comes from those files; a missing file is reported as not run, never
filled in. Budgets come from the issues and are checked here, each with MET / MISSED.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def criterion(target: Path, group: str, bench: str | None = None) -> dict[str, float] | None:
    """Median and mean per-iteration time (ns) of one criterion benchmark, or None."""
    d = target / "criterion" / group
    if bench:
        d = d / bench
    est = load(d / "new" / "estimates.json")
    if not est:
        return None
    return {"median_ns": est["median"]["point_estimate"], "mean_ns": est["mean"]["point_estimate"]}


def ns(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def rate(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1e6:,.2f} M/s" if v >= 1e6 else f"{v / 1e3:,.0f} k/s"


def verdict(ok: bool | str | None) -> str:
    """MET / MISSED / not run; a string is shown as is (a row with no budget, for comparison)."""
    if isinstance(ok, str):
        return ok
    return "not run" if ok is None else ("MET" if ok else "**MISSED**")


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def peer_table(d: dict[str, Any]) -> list[str]:
    out = [
        "| SDK | core | calls (distinct ids) | median ns | p99 ns (100-call blocks) | p99 ns (single calls) "
        "| evals/s | CPU ns/eval | peak RSS MB (subjects) | split check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in d["rows"]:
        split = ("ok " if r.get("split_ok") else "**BAD** ") + str(r.get("split", ""))
        out.append(
            f"| {r['label']} | {r.get('core', '')} | {r.get('calls', 0):,} ({r.get('distinct_ids', 0):,}) "
            f"| {ns(r.get('median_ns'))} | {ns(r.get('p99_ns'))} | {ns(r.get('p99_single_ns'))} "
            f"| {ns(r.get('evals_per_s'))} | {ns(r.get('cpu_ns_per_eval'))} "
            f"| {ns(r.get('peak_rss_mb'))} ({ns(r.get('subjects_rss_mb'))}) | {split} |"
        )
    return out


def per_repeat(d: dict[str, Any]) -> list[str]:
    out = ["| row | median ns per repeat | evals/s per repeat | CPU/wall per repeat |", "|---|---|---|---|"]
    for r in d["rows"]:
        pr = r.get("per_repeat", {})

        def fmt(key: str, digits: int = 0) -> str:
            vals = pr.get(key) or []
            return ", ".join("–" if v is None else f"{v:,.{digits}f}" for v in vals)

        out.append(f"| {r['label']} | {fmt('median_ns')} | {fmt('evals_per_s')} | {fmt('cpu_wall', 2)} |")
    return out


def fastest_peer(d: dict[str, Any]) -> dict[str, Any] | None:
    peers = [r for r in d["rows"] if not r["id"].startswith("vario") and r["id"] != "floor" and r.get("median_ns")]
    return min(peers, key=lambda r: r["median_ns"]) if peers else None


def row(d: dict[str, Any] | None, rid: str) -> dict[str, Any] | None:
    if not d:
        return None
    return next((r for r in d["rows"] if r["id"] == rid), None)


def conditions(d: dict[str, Any]) -> str:
    c = d.get("conditions", {})
    busy = c.get("busy_pct_median")
    cw = c.get("cpu_wall_median", c.get("cpu_wall_timed_loops_median"))
    return f"machine busy (all CPUs) just before each row's run: median {ns(busy)} %; median CPU/wall of the timed loops {cw}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target", type=Path, default=ROOT / "target")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--command", default="make bench")
    ap.add_argument("--wall", default=None, help="wall time of the whole run, as measured by the caller")
    ap.add_argument("--commit", default=None, help="the commit measured (default: HEAD of this checkout)")
    a = ap.parse_args()
    t = a.target
    bench = t / "bench"

    core = {
        name: criterion(t, "compile", name) if name == "compile_1000_experiments" else criterion(t, name)
        for name in [
            "decide",
            "decide_with_trace",
            "decide_20_experiments",
            "decide_20_experiments_with_trace",
            "batch_row",
            "bucket",
            "compile_1000_experiments",
        ]
    }
    bare = criterion(t, "decide", "bare_decide")
    client = criterion(t, "decide", "client_decide_enqueue")
    pipe = {k: criterion(t, "pipeline", k) for k in ["pipeline_to_dev_server_gzip", "pipeline_to_dev_server_plain"] + ["pipeline_to_dev_server_gzip_in_flight_1"] + [f"pipeline_to_20ms_endpoint_gzip_in_flight_{n}" for n in (1, 4, 8, 16)] + ["pipeline_to_20ms_endpoint_gzip_spool_in_flight_8"]}
    ffi = {k: criterion(t, "decide_1_experiment", k) for k in ["rust_core", "c_abi_json_free"]}
    latency = load(bench / "latency.json")
    scaling = load(bench / "scaling.json")
    memory = load(bench / "memory.json")
    py = load(bench / "peers-python.json")
    node = load(bench / "peers-node.json")

    def pipe_rate(k: str) -> float | None:
        p = pipe.get(k)
        return 100_000 / (p["median_ns"] / 1e9) if p else None

    # ---- budgets
    budgets: list[tuple[str, str, str, bool | str | None]] = []
    d = core["decide"]
    budgets.append(
        (
            "Rust `Snapshot::decide` (1 experiment), criterion median",
            "≤ 60 ns goal, ≤ 100 ns required",
            f"{ns(d['median_ns'], 1)} ns" if d else "–",
            None if not d else d["median_ns"] <= 100,
        )
    )
    if latency:
        budgets.append(
            (
                "Rust decide + enqueue over bare decide, p50 (issue 3)",
                "≤ 150 ns",
                f"+{latency['enqueue_adds_p50_ns']} ns",
                latency["enqueue_adds_p50_ns"] <= 150,
            )
        )
    g = pipe_rate("pipeline_to_dev_server_gzip")
    budgets.append(("pipeline to the loopback dev server, default gzip (issue 3)", "≥ 300 k events/s", rate(g), None if g is None else g >= 300_000))
    g = pipe_rate("pipeline_to_20ms_endpoint_gzip_in_flight_8")
    budgets.append(("pipeline to a 20 ms endpoint, gzip, default 8 in flight (issue 14)", "≥ 300 k events/s", rate(g), None if g is None else g >= 300_000))
    g = pipe_rate("pipeline_to_20ms_endpoint_gzip_spool_in_flight_8")
    budgets.append(("the same with a disk spool, as the main job runs (issue 14)", "≥ 300 k events/s", rate(g), None if g is None else g >= 300_000))
    if ffi["rust_core"] and ffi["c_abi_json_free"]:
        diff = ffi["c_abi_json_free"]["median_ns"] - ffi["rust_core"]["median_ns"]
        budgets.append(("C ABI JSON-free decide over the Rust decide (issue 4)", "≤ 50 ns", f"+{diff:.1f} ns", diff <= 50))
    for lang, data, ratio in (("Python", py, 4.0), ("Node", node, 3.5)):
        fp = fastest_peer(data) if data else None
        for rid in ("vario_snapshot", "vario_client"):
            r = row(data, rid)
            if not r:
                budgets.append((f"{lang} {rid}", "≤ 400 ns", "not run", None))
                continue
            budgets.append((f"{lang} {r['label']}, median", "≤ 400 ns", f"{ns(r['median_ns'])} ns", r["median_ns"] <= 400))
            if fp:
                x = fp["median_ns"] / r["median_ns"]
                budgets.append(
                    (
                        f"{lang} {r['label']} vs the fastest peer ({fp['label']}, {ns(fp['median_ns'])} ns)",
                        f"≥ {ratio}×",
                        f"{x:.2f}×",
                        x >= ratio,
                    )
                )
        bulk = row(data, "vario_decide_many")
        if bulk:
            budgets.append((f"{lang} {bulk['label']}", "≥ 10 M decisions/s", rate(bulk["evals_per_s"]), bulk["evals_per_s"] >= 10e6))
    c100k = criterion(t, "compile", "compile_100k_experiments_one_layer")
    budgets.append(
        (
            "compile of 100,000 experiments in one layer (issue 14)",
            "≤ 2 s",
            f"{c100k['median_ns'] / 1e9:.2f} s" if c100k else "not run",
            None if not c100k else c100k["median_ns"] <= 2e9,
        )
    )
    rc, rm = load(bench / "regex-control.json"), load(bench / "regex-matches.json")
    extra_mb = (rm["after_decide_mib"] - rc["after_decide_mib"]) * 1.048576 if rc and rm else None
    budgets.append(
        (
            "extra memory of 1,000 compiled regexes, each matched once (issue 14)",
            "≤ 100 MB",
            f"{extra_mb:.1f} MB" if extra_mb is not None else "not run",
            None if extra_mb is None else extra_mb <= 100,
        )
    )
    for backend in ("sqlite", "postgres"):
        c = load(bench / f"control-{backend}.json")
        label = "SQLite" if backend == "sqlite" else "Postgres"
        n = c["experiments"] if c else 1000
        budgets.append(
            (
                f"control plane on {label}: publish of an environment with {n:,} experiments, p50 (issue 15)",
                "≤ 100 ms",
                f"{c['publish_p50_ms']:.1f} ms (p90 {c['publish_p90_ms']:.1f})" if c else "not run",
                None if not c else c["publish_p50_ms"] <= 100 and n >= 1000,
            )
        )
        budgets.append(
            (
                f"control plane on {label}: GET /sdk/v1/snapshot answered 304, 64 connections (issue 15)",
                "≥ 20,000 requests/s",
                f"{c['rps_304']:,.0f} requests/s" if c else "not run",
                None if not c else c["rps_304"] >= 20_000,
            )
        )
        budgets.append(
            (
                f"control plane on {label}: the same answered 200 with a 1 MB snapshot (issue 15)",
                "≥ 2,000 requests/s",
                f"{c['rps_200_1mb']:,.0f} requests/s ({c['big_snapshot_bytes'] / 1e6:.2f} MB)" if c else "not run",
                None if not c else c["rps_200_1mb"] >= 2_000,
            )
        )
        if c:
            r = c["rss_kib"]
            growth = (r["after_304"] - r["after_304_warmup"] + r["after_200"] - r["after_200_warmup"]) / 1024
            budgets.append(
                (
                    f"control plane on {label}: RSS growth over the second load run of each kind, after a warm-up run (issue 15)",
                    "flat (≤ 8 MiB)",
                    f"{growth:+.1f} MiB (warm-up: {(r['after_304_warmup'] - r['before_304']) / 1024:+.1f} MiB)",
                    growth <= 8,
                )
            )
    for m in ("team_draft", "balanced"):
        r = criterion(t, "interleave", f"{m}_50x50")
        budgets.append(
            (
                f"Rust interleave {m}, two 50-item rankings (issue 19)",
                "≤ 2 µs",
                f"{r['median_ns'] / 1000:.2f} µs" if r else "not run",
                None if not r else r["median_ns"] <= 2000,
            )
        )
        for lang in ("python", "node"):
            d = load(bench / f"interleave-{lang}.json")
            v = d.get(m) if d else None
            budgets.append(
                (
                    f"{lang.capitalize()} interleave {m}, two 50-item rankings, per call (issue 19)",
                    "≤ 3 µs",
                    f"{v['median_ns'] / 1000:.2f} µs" if v else "not run",
                    None if not v else v["median_ns"] <= 3000,
                )
            )
    push = load(bench / "push.json")
    for ch, label in (("stream", "the control plane's SSE stream"), ("redis", "Redis")):
        r = push.get(ch) if push else None
        for q, budget, lim in (("p50_ms", "≤ 10 ms", 10), ("p99_ms", "≤ 50 ms", 50)):
            budgets.append(
                (
                    f"publish → {push['clients'] if push else 50} client processes deciding on the new version over {label}, {q[:3]} of {r['samples'] if r else '?'} (issue 16)",
                    budget,
                    f"{r[q]:.1f} ms" if r else "not run",
                    None if not r else r[q] <= lim,
                )
            )
    if push:
        r = push["poll"]
        budgets.append(
            (
                f"the same by polling at the default 30 s interval, p50 / p99 of {r['samples']} (issue 16, for comparison)",
                "none",
                f"{r['p50_ms'] / 1000:.1f} s / {r['p99_ms'] / 1000:.1f} s",
                "for comparison",
            )
        )
        d = push["decide"]
        diff = d["busy_p50_ns"] / d["quiet_p50_ns"] - 1
        budgets.append(
            (
                f"the same probed per call: decide + enqueue p50 with notifications at 10/s vs without, alternating rounds ({d['notifications']} notifications; issue 16, for comparison)",
                "none",
                f"{d['busy_p50_ns']:.0f} vs {d['quiet_p50_ns']:.0f} ns ({diff * 100:+.1f} %)",
                "for comparison",
            )
        )
    analysis = load(bench / "analysis.json")
    for r in analysis["rows"] if analysis else []:
        scale = 10 if analysis["quick"] else 1
        if r["case"] == "parquet":
            what = f"`analyze` on {10 // scale} M exposures + {30 // scale} M outcomes, Parquet ({r['files_mib']:,.0f} MiB), 3 metrics (issue 17)"
            budgets.append((f"{what}: wall", "≤ 60 s", f"{r['analyze_s']:.1f} s", r["analyze_s"] <= 60))
            budgets.append((f"{what}: peak RSS", "≤ 4 GiB", f"{r['peak_rss_mib'] / 1024:.2f} GiB", r["peak_rss_mib"] <= 4096))
        else:
            units = f"{1 // scale} M" if scale == 1 else "0.1 M"
            what = f"`analyze` on {units} exposures + {3 / scale:g} M outcomes, JSONL ({r['files_mib']:,.0f} MiB), 3 metrics (issue 17)"
            budgets.append((f"{what}: wall", "≤ 10 s", f"{r['analyze_s']:.1f} s (peak RSS {r['peak_rss_mib'] / 1024:.2f} GiB)", r["analyze_s"] <= 10))
    backtest = load(bench / "backtest.json")
    if backtest:
        ar = backtest["arrow"]
        budgets.append(
            (
                f"Python `decide_arrow`, one call over {ar['rows'] / 1e6:g} M Arrow string ids, first call, one core (issue 18)",
                "≥ 20 M/s",
                f"{ar['per_s'] / 1e6:.1f} M/s",
                ar["per_s"] >= 20e6,
            )
        )
        budgets.append(
            (
                f"the same: memory taken during the call over input + output ({ar['input_mib']:,.0f} + {ar['output_mib']:,.0f} MiB) (issue 18)",
                "≤ 2×",
                f"{ar['rise_over_io']:.2f}× ({ar['rise_mib']:,.0f} MiB)",
                ar["rise_over_io"] <= 2,
            )
        )
        li = backtest["list"]
        budgets.append((f"Python `decide_many`, first call over a list of {li['rows'] / 1e6:g} M str (issue 18)", "≥ 10 M/s", f"{li['per_s'] / 1e6:.1f} M/s", li["per_s"] >= 10e6))
        lo = backtest["python_loop"]
        budgets.append((f"Python loop of `Snapshot.decide`, {lo['rows']:,} ids (issue 18, for comparison)", "none", f"{lo['per_s'] / 1e6:.2f} M/s", "for comparison"))
        sp = backtest["spark"]
        budgets.append(
            (
                f"`vario.spark.assign`, {sp['rows'] / 1e6:g} M rows, local mode on 2 cores; share of the job that is vario (vs the same `mapInArrow` passing columns through) (issue 18)",
                "none (measure)",
                f"{sp['per_s'] / 1e6:.2f} M rows/s; vario {sp['vario_share'] * 100:.0f} % ({sp['wall_s']:.1f} s vs {sp['transfer_only_s']:.1f} s transfer only)",
                "measured",
            )
        )
    bn = load(bench / "backtest-node.json")
    if bn:
        b = bn["buffer"]
        budgets.append((f"Node `decideManyBuffer`, one call over {b['rows'] / 1e6:g} M ids in Arrow layout (issue 18)", "≥ 10 M/s", f"{b['per_s'] / 1e6:.1f} M/s (array `decideMany` {bn['array']['per_s'] / 1e6:.1f} M/s)", b["per_s"] >= 10e6))
    pushed = criterion(t, "decide", "client_decide_enqueue_push_10hz")
    before = criterion(t, "decide", "client_decide_enqueue_redis_quiet")
    after = criterion(t, "decide", "client_decide_enqueue_redis_quiet_after")
    if before and pushed and after:
        quiet = (before["median_ns"] + after["median_ns"]) / 2
        diff = pushed["median_ns"] / quiet - 1
        budgets.append(
            (
                "criterion `client_decide_enqueue` median on a client following Redis while a new version is published every 100 ms, over the mean of the rows just before and after it on the same client with no publish (issue 16)",
                "within 5 %",
                f"{ns(pushed['median_ns'], 1)} vs {ns(before['median_ns'], 1)} / {ns(after['median_ns'], 1)} ns ({diff * 100:+.1f} %)",
                abs(diff) <= 0.05,
            )
        )
    if scaling:
        for r in scaling["rows"]:
            budgets.append((f"2 threads vs 1, {r['id']}", "≥ 1.9×", f"{r['ratio']:.2f}×", r["ratio"] >= 1.9))
    if memory:
        growth = memory["second_half_growth_mib"]
        budgets.append(
            (
                f"RSS growth from {memory['users'] // 2:,} to {memory['users']:,} distinct users",
                "flat (≤ 8 MiB)",
                f"{growth:+.1f} MiB",
                growth <= 8,
            )
        )

    # ---- page
    L: list[str] = []
    commit = a.commit or git("rev-parse", "--short", "HEAD")
    dirty = "" if a.commit else (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")
    L += [
        "# Benchmarks",
        "",
        f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `{a.command}` at commit {commit}{dirty}"
        + (f", whole run {a.wall}" if a.wall else "")
        + ". Every figure below comes from that one run (`benches/report.py` reads the result files; it measures nothing).",
        "",
        f"Machine: {cpu_model()}, {__import__('os').cpu_count()} vCPU, Linux {platform.release()}; "
        f"Rust {git_rustc()}, Python {py['python'] if py else '?'}, Node {node['node_version'] if node else '?'}. "
        "A shared 2-vCPU VM: repeats differ, so compare rows of one run, not runs.",
        "",
        "## Budgets",
        "",
        "| what | budget | this run | |",
        "|---|---|---:|---|",
    ]
    L += [f"| {w} | {b} | {v} | {verdict(ok)} |" for w, b, v, ok in budgets]
    L += ["", "Where a budget is missed, the reason and its profile are under [Misses](#misses).", ""]

    L += ["## Rust", "", "Criterion (`cargo bench`, profile `bench`: thin LTO), median of the per-iteration time over samples.", ""]
    L += ["| bench | median | mean |", "|---|---:|---:|"]
    labels = {
        "decide": "core `decide`: 1 experiment, 1 targeting rule, 3 variants, 100 k users cycled",
        "decide_with_trace": "core `decide` with trace",
        "decide_20_experiments": "core `decide`: 20 experiments in one layer on one placement",
        "decide_20_experiments_with_trace": "the same with trace (every candidate walked)",
        "batch_row": "bulk `BatchDecider::row` (what `decide_many` runs per id)",
        "bucket": "`bucket` (SPEC §1 hash)",
        "compile_1000_experiments": "compile a snapshot of 1,000 experiments",
    }
    for k, lab in labels.items():
        v = core[k]
        if k == "compile_1000_experiments" and v:
            L.append(f"| {lab} | {v['median_ns'] / 1e6:,.1f} ms | {v['mean_ns'] / 1e6:,.1f} ms |")
        else:
            L.append(f"| {lab} | {ns(v and v['median_ns'], 1)} ns | {ns(v and v['mean_ns'], 1)} ns |")
    for lab, v in (("runtime: bare decide (same request as the client row)", bare), ("runtime: `Client::decide_with` + exposure enqueue", client)):
        L.append(f"| {lab} | {ns(v and v['median_ns'], 1)} ns | {ns(v and v['mean_ns'], 1)} ns |")
    for k, lab in (("rust_core", "C ABI bench: the engine's decide"), ("c_abi_json_free", "C ABI bench: `vario_snapshot_decide` (JSON-free)")):
        v = ffi[k]
        L.append(f"| {lab} | {ns(v and v['median_ns'], 1)} ns | {ns(v and v['mean_ns'], 1)} ns |")
    for k, lab in (
        ("pipeline_to_dev_server_gzip", "pipeline → loopback dev server, gzip above 16 KiB (default)"),
        ("pipeline_to_dev_server_gzip_in_flight_1", "the same, 1 batch in flight (before issue 14)"),
        ("pipeline_to_dev_server_plain", "pipeline → loopback dev server, no gzip"),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_1", "pipeline → endpoint answering after 20 ms (ack only), gzip, 1 batch in flight"),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_4", "the same, 4 batches in flight"),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_8", "the same, 8 batches in flight (default)"),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_16", "the same, 16 batches in flight"),
        ("pipeline_to_20ms_endpoint_gzip_spool_in_flight_8", "the same, 8 in flight, with a disk spool (timed until it is empty)"),
    ):
        L.append(f"| {lab} | {rate(pipe_rate(k))} | 100,000 events per iteration, enqueue to acknowledged delivery |")
    L.append("")
    if latency:
        b, c = latency["bare_decide"], latency["client_decide_enqueue"]
        L += [
            f"Per-call latency (`cargo bench --bench probes latency`, each call timed alone, timer included, {latency['calls_per_row']:,} calls a row, rows alternated):",
            "",
            "| | p50 ns | p90 ns | p99 ns |",
            "|---|---:|---:|---:|",
            f"| bare `Snapshot::decide` | {b['p50_ns']} | {b['p90_ns']} | {b['p99_ns']} |",
            f"| `Client::decide_with` + enqueue | {c['p50_ns']} | {c['p90_ns']} | {c['p99_ns']} |",
            "",
        ]
    if scaling:
        L += [
            "Scaling (`cargo bench --bench probes scaling`): a fixed amount of work per thread, wall clock, 1 and 2 threads alternated, medians.",
            "",
            "| row | 1 thread | 2 threads | ratio |",
            "|---|---:|---:|---:|",
        ]
        for r in scaling["rows"]:
            L.append(f"| {r['id']} | {rate(r['one_thread_per_s'])} | {rate(r['two_threads_per_s'])} | {r['ratio']:.2f}× |")
        L.append("")
    if memory:
        L += [
            f"Memory (`cargo bench --bench probes memory`): {memory['users']:,} distinct users, each decided and exposed through the whole pipeline "
            f"(de-dup capacity {memory['dedup_capacity']:,}, assignment memory {memory['assignment_capacity']:,} units), callback sink.",
            "",
            "| users seen | RSS MiB | de-dup entries | assignment units |",
            "|---:|---:|---:|---:|",
        ]
        for s in memory["samples"]:
            L.append(f"| {s['users']:,} | {s['rss_mib']:.1f} | {s['dedup_entries']:,} | {s['assignment_units']:,} |")
        L += ["", f"RSS at start {memory['start_rss_mib']:.1f} MiB; {memory['events_sent']:,} events through the sink in {memory['seconds']:.1f} s.", ""]

    for lang, data in (("Python", py), ("Node", node)):
        L += [f"## {lang}", ""]
        if not data:
            L += ["Not run.", ""]
            continue
        L += [
            f"`benches/peers/{lang.lower()}/run.sh`: {data['repeats']} repeats, rows interleaved, one fresh process per row and repeat, "
            f"medians over repeats; {conditions(data)}.",
            "",
        ]
        L += peer_table(data)
        L += ["", "How each row was fed, and how logging was switched off:", ""]
        for r in data["rows"]:
            pk = ", ".join(f"{k} {v}" for k, v in r.get("packages", {}).items())
            L.append(f"- **{r['label']}**{f' ({pk})' if pk else ''}: {r.get('how', '')}")
        if data.get("not_measured"):
            L += ["", "Not measured:", ""] + [f"- {m}" for m in data["not_measured"]]
        L += ["", "Per repeat:", ""] + per_repeat(data) + [""]

    L += ["## Method", ""]
    L += [
        "- One experiment for every SDK (`benches/peers/make_configs.py` writes each SDK's own config): key `checkout_exp`, "
        "variants control / treatment_a / treatment_b at 34/33/33 %, targeting `country in [US, CA]`, others get control "
        "(not enrolled). Subjects `user-0` .. `user-99999`, country `[US, CA, GB, DE][i % 4]`, walked in the order "
        "(k × 7919) mod 100000, pass after pass. Arguments are prebuilt; building them is not timed.",
    ]
    for data in (py, node):
        if data and data.get("method"):
            L += [f"- {data['language']}: " + " ".join(x.strip() for x in data["method"].splitlines())]
    L += [
        "- Rust: criterion medians; the latency bench brackets every call with `Instant::now()`; the scaling and memory benches "
        "are plain programs (wall clock, `/proc/self/status` VmRSS).",
        "- Analysis (`benches/analysis/bench.py`): logs generated by DuckDB from `range()` with every field of contract/events.md "
        "(64-hex pseudonymised ids, 2.5 exposures per unit, a 50/50 split; outcomes 60 % impressions, 10 % clicks, 20 % add-to-cart, "
        "10 % purchases with a value), cached under target/bench/analysis-data; each case is one fresh process running `analyze` with "
        "`add_to_cart`, `purchase:value` and `click/impression` and `memory_limit=\"3GB\"`: the wall time of the call and the "
        "process's peak RSS (`ru_maxrss`, DuckDB being in-process).",
        "- Budgets are the issues' (#3 runtime, #4 C ABI, #5 Python, #6 Node, #7 this page, #17 analysis).",
        "",
    ]
    L += ["## Versions", ""]
    for data in (py, node):
        if data:
            pk = data.get("packages", {})
            L.append(f"- {data['language']}: " + ", ".join(f"{k} {v}" for k, v in pk.items()))
    L += [f"- vario {commit}", ""]
    misses = ROOT / "benches" / "MISSES.md"
    if misses.exists():
        L += ["## Misses", "", misses.read_text().strip(), ""]
    a.out.write_text("\n".join(L) + "\n")
    print(f"wrote {a.out}")
    for w, b, v, ok in budgets:
        print(f"{verdict(ok):>10}  {w}: {v} (budget {b})")
    return 0


def git_rustc() -> str:
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=False).stdout.split()[1]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
