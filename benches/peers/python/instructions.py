"""Instructions per call, counted by callgrind: the profile behind the Python rows (not a test).

    target/bench/venv-py/bin/python benches/peers/python/instructions.py [ROW ...]   (after run.sh)

Wall-clock figures on a shared 2-vCPU VM move by up to 2x between runs; instruction counts do
not. For each row this runs the row's prebuilt calls twice under `valgrind --tool=callgrind`, once
with N1 calls and once with N2, and reports (Ir(N2) - Ir(N1)) / (N2 - N1): the instructions of one
call with start-up, imports and initialisation cancelled out. With `--child ROW N` it is the
process being counted: it builds the row exactly as peers.py does and makes N calls.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peers  # noqa: E402  (the row constructors: same SDK set-up as the timed benchmark)

N1, N2 = 20_000, 60_000


def child(row: str, n: int, cfg: Path) -> None:
    order = peers.walk()
    if row == "vario_decide_many":
        import vario

        snap = vario.Snapshot.from_file(cfg / "vario_snapshot.json")
        # The same N2 ids in both runs, so building them cancels out; only the slice (a pointer
        # copy per id) is left in the difference.
        ids = [f"user-{order[k % peers.N_IDS]}" for k in range(N2)]
        snap.decide_many(ids[:10], context={"placement": peers.PLACEMENT, "country": "US"})  # numpy import
        snap.decide_many(ids[:n], context={"placement": peers.PLACEMENT, "country": "US"})
        return
    # `floor_builtin`: the harness calling a C builtin (`id`) on the same arguments, the cheapest
    # call a native extension's entry point could be.
    sdk = peers.PER_CALL_ROWS["floor" if row == "floor_builtin" else row](cfg, order)
    fn, args = (id if row == "floor_builtin" else sdk.fn), sdk.args
    for k in range(n):
        fn(*args[k % len(args)])
    sdk.close()


def count(row: str, n: int, cfg: Path) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "cg.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
             "--child", row, str(n), "--configs", str(cfg)],
            check=True, capture_output=True,
        )
        # The totals line of the (only) part file: "summary: <Ir>".
        m = re.search(r"^summary:\s+(\d+)", out.read_text(errors="replace"), re.M)
        if not m:
            raise RuntimeError(f"no callgrind summary for {row}")
        return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("rows", nargs="*", default=["floor", "floor_builtin", "vario_snapshot", "vario_decide_many", "eppo"])
    ap.add_argument("--child", nargs=2, metavar=("ROW", "N"))
    ap.add_argument("--configs", type=Path)
    ap.add_argument("--out", type=Path, default=peers.ROOT / "target" / "bench" / "instructions-python.json")
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), a.configs)
        return 0
    with tempfile.TemporaryDirectory(prefix="vario-instr-") as d:
        cfg = Path(d)
        peers.mc.write_all(cfg)
        res = {}
        for row in a.rows:
            per_call = (count(row, N2, cfg) - count(row, N1, cfg)) / (N2 - N1)
            res[row] = per_call
            print(f"{row:<20} {per_call:>8.0f} instructions per call")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"n1": N1, "n2": N2, "instructions_per_call": res}, indent=1))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
