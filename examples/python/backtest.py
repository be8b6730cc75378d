"""Backtest: bucket a synthetic traffic log against a snapshot exactly as production did.

Builds an N-row log (default 1,000,000) of visitors on the PDP "you may also like" placement,
decides them all with `Snapshot.decide_many` (GIL released, numpy out), prints the split per
variant, and tests for sample-ratio mismatch (SRM) against the configured weights with a
chi-square test. Usage: python examples/python/backtest.py [rows] [snapshot.json]
"""

from __future__ import annotations

import math
import pathlib
import sys
import time

import numpy as np
import vario

ROOT = pathlib.Path(__file__).resolve().parents[2]


def chi_square_sf(x: float, dof: int) -> float:
    """Upper tail of the chi-square distribution (regularised gamma Q), no SciPy needed."""
    a, z = dof / 2.0, x / 2.0
    if z <= 0:
        return 1.0
    if z < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-15:
            n += 1
            term *= z / n
            total += term
        return max(0.0, 1.0 - total * math.exp(-z + a * math.log(z) - math.lgamma(a)))
    # Continued fraction for Q (Lentz).
    b, c, d = z + 1 - a, 1e300, 1 / (z + 1 - a)
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-z + a * math.log(z) - math.lgamma(a)) * h


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    snap_path = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "examples" / "snapshot.json"
    snap = vario.Snapshot.from_file(str(snap_path))

    rng = np.random.default_rng(7)
    user_ids = [f"visitor-{i:08d}" for i in rng.permutation(rows * 3)[:rows]]
    context = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}

    start = time.perf_counter()
    batch = snap.decide_many(user_ids, context=context, now="2026-11-01T00:00:00Z")
    elapsed = time.perf_counter() - start

    enrolled = batch.variant_codes[batch.enrolled]
    counts = np.bincount(enrolled, minlength=len(batch.variant_keys))
    used = [c for c in range(len(counts)) if counts[c] > 0]
    experiment = batch.variant_experiments[used[0]] if used else None
    print(f"{rows:,} visitors decided in {elapsed * 1000:.0f} ms ({rows / elapsed / 1e6:.1f} M/s); "
          f"{int(batch.enrolled.sum()):,} enrolled in {experiment}")
    reasons = np.bincount(batch.reason_codes, minlength=len(batch.reason_names))
    print("reasons: " + ", ".join(f"{batch.reason_names[i]}={n:,}" for i, n in enumerate(reasons) if n))

    # Expected shares: the experiment's weights, for the variants of the enrolling experiment.
    import json

    raw = json.loads(snap_path.read_text())
    weights = next(e["allocation"]["weights"] for e in raw["experiments"] if e["key"] == experiment)
    total = counts[used].sum()
    chi2 = 0.0
    print(f"{'variant':<12}{'users':>10}{'share':>9}{'expected':>10}")
    for c in used:
        key = batch.variant_keys[c]
        expected = total * weights[key] / sum(weights.values())
        chi2 += (counts[c] - expected) ** 2 / expected
        print(f"{key:<12}{counts[c]:>10,}{counts[c] / total:>9.4f}{weights[key] / sum(weights.values()):>10.4f}")
    p = chi_square_sf(chi2, len(used) - 1)
    print(f"SRM chi-square = {chi2:.3f} (dof {len(used) - 1}), p = {p:.4f}: "
          + ("sample ratio mismatch!" if p < 0.001 else "no sample ratio mismatch"))


if __name__ == "__main__":
    main()
