#!/usr/bin/env python3
"""Side-by-side criterion rows of two builds of Vario on the same machine, interleaved.

    python3 benches/compare.py BASE_TARGET_DIR AFTER_TARGET_DIR [--rounds 3]

Each TARGET_DIR holds a release build of the bench executables (`cargo bench --no-run` of the
`core`, `ffi` and `runtime` benches with CARGO_TARGET_DIR pointing there). The script runs the
Rust rows that `make bench` reports (core decide, bulk row, C ABI decide, client decide + enqueue)
from both builds in turn, round after round, so a drift of the machine's speed hits both alike, and
prints each row's median of the per-round criterion medians with the change in percent.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# (executable stem, criterion filter, the row as reported)
ROWS = [
    ("core", "^decide$", "core decide (1 experiment)"),
    ("core", "^batch_row$", "bulk BatchDecider::row"),
    ("ffi", "decide_1_experiment/c_abi_json_free", "C ABI JSON-free decide"),
    ("ffi", "decide_1_experiment/rust_core", "Rust decide beside it"),
    ("runtime", "decide/bare_decide", "runtime bare decide"),
    ("runtime", "decide/client_decide_enqueue", "client decide + enqueue"),
]


def executable(target: Path, stem: str) -> Path:
    deps = [p for p in (target / "x86_64-unknown-linux-gnu" / "release" / "deps").glob(stem + "-*")
            if p.is_file() and os.access(p, os.X_OK) and p.suffix == ""]
    if not deps:
        sys.exit(f"no {stem} bench executable under {target}")
    return max(deps, key=lambda p: p.stat().st_mtime)


def median_ns(exe: Path, filt: str, home: Path) -> float:
    env = dict(os.environ, CRITERION_HOME=str(home))
    subprocess.run([str(exe), "--bench", filt, "--warm-up-time", "0.5", "--measurement-time", "2", "--noplot"],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=exe.parent)
    found = list(home.rglob("new/estimates.json"))
    newest = max(found, key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())["median"]["point_estimate"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    builds = {"base": a.base, "after": a.after}
    got = {(name, row[2]): [] for name in builds for row in ROWS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for stem, filt, label in ROWS:
                order = ["base", "after"] if r % 2 == 0 else ["after", "base"]
                for name in order:
                    home = Path(tmp) / f"{name}-{r}-{stem}-{abs(hash(filt))}"
                    got[(name, label)].append(median_ns(executable(builds[name], stem), filt, home))
    print("| row | base (ns) | after (ns) | change |")
    print("|---|---|---|---|")
    for _, _, label in ROWS:
        b, n = statistics.median(got[("base", label)]), statistics.median(got[("after", label)])
        rounds = ", ".join(f"{x:.1f}/{y:.1f}" for x, y in zip(got[("base", label)], got[("after", label)]))
        print(f"| {label} | {b:.1f} | {n:.1f} | {100 * (n - b) / b:+.1f} % | <!-- rounds base/after: {rounds} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
