"""Per-call time of vario.interleave on two 50-item rankings (half shared), team draft and balanced.

    python benches/interleave/bench.py [--quick] [--out FILE]

Runs in the bench venv (release wheel; scripts/bench-all.sh). Repeats are interleaved between the
methods; the result is the median over repeats of each repeat's mean ns per call.
"""

import argparse
import json
import statistics
import time

import vario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    n, repeats = (2_000, 3) if args.quick else (50_000, 7)
    items = [f"sku-{i:04d}" for i in range(75)]
    a, b = items[:50], items[25:]
    units = [f"user-{i}" for i in range(1024)]
    rows = {}
    for method in ("team_draft", "balanced"):
        rows[method] = []
    for _ in range(repeats):
        for method in rows:
            il = vario.interleave
            t0 = time.perf_counter_ns()
            for i in range(n):
                il(method, a, b, units[i & 1023], "ymal_rank", "s")
            rows[method].append((time.perf_counter_ns() - t0) / n)
    out = {m: {"median_ns": statistics.median(v), "repeats_ns": v, "calls": n} for m, v in rows.items()}
    for m, r in out.items():
        print(f"python vario.interleave {m} 50x50: {r['median_ns']:.0f} ns/call (median of {repeats})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
