"""Generates stats/vectors/scipy.json: known answers from scipy and statsmodels for the
vario-stats crate (checked by stats/tests/scipy_vectors.rs).

Each case holds the crate's inputs and what scipy / statsmodels compute for them:

- ``welch``: two arms as sufficient statistics; ``scipy.stats.ttest_ind_from_stats`` (Welch) for
  the p-value, the Welch–Satterthwaite dof, the CI from ``scipy.stats.t.ppf``, and the delta
  method's relative CI and p-value from the same t distribution. Includes p-values down to 1e-300,
  where ``1 - cdf`` would round to 0 and only a survival function keeps precision.
- ``srm``: ``scipy.stats.chisquare`` against the expected counts of the positive weights.
- ``adjust``: ``statsmodels.stats.multitest.multipletests`` with ``fdr_bh`` and ``holm``.
- ``mde``: ``(norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sqrt(2 var / n)``.

Regenerate (needs the pinned packages of stats/vectors/requirements.txt):

    python stats/vectors/gen.py            # writes stats/vectors/scipy.json
    python stats/vectors/gen.py --check    # fails when the file differs from what it would write
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests

OUT = Path(__file__).with_name("scipy.json")


def welch_case(rng: np.random.Generator, n_c: int, n_t: int, mean_c: float, sd_c: float, lift: float, sd_t: float,
               alpha: float) -> dict[str, object]:  # fmt: skip
    xc = rng.normal(mean_c, sd_c, n_c)
    xt = rng.normal(mean_c * (1 + lift), sd_t, n_t)
    c = [float(n_c), float(xc.sum()), float((xc * xc).sum())]
    t = [float(n_t), float(xt.sum()), float((xt * xt).sum())]
    return welch_from_sums(c, t, alpha)


def welch_from_sums(c: list[float], t: list[float], alpha: float) -> dict[str, object]:
    def mv(s: list[float]) -> tuple[float, float]:
        n, total, sq = s
        m = total / n
        return m, (sq - total * total / n) / (n - 1)

    (mc, vc), (mt, vt) = mv(c), mv(t)
    res = stats.ttest_ind_from_stats(mt, math.sqrt(vt), t[0], mc, math.sqrt(vc), c[0], equal_var=False)
    svc, svt = vc / c[0], vt / t[0]
    se = math.sqrt(svc + svt)
    dof = (svc + svt) ** 2 / (svc**2 / (c[0] - 1) + svt**2 / (t[0] - 1))
    q = float(stats.t.ppf(1 - alpha / 2, dof))
    abs_eff = mt - mc
    rel = mt / mc - 1
    rel_se = math.sqrt(svt / mc**2 + svc * mt**2 / mc**4)
    return {
        "control": c, "treatment": t, "alpha": alpha,
        "want": {
            "abs_effect": abs_eff, "abs_ci": [abs_eff - q * se, abs_eff + q * se], "p_value": float(res.pvalue),
            "dof": dof, "rel_effect": rel, "rel_ci": [rel - q * rel_se, rel + q * rel_se],
            "rel_p_value": float(2 * stats.t.sf(abs(rel / rel_se), dof)),
        },
    }  # fmt: skip


def differences(have: object, want: object, at: str) -> list[str]:
    """Where ``have`` and ``want`` differ, floats compared to 1e-12 relative."""
    if isinstance(want, float) and isinstance(have, (int, float)):
        return [] if math.isclose(have, want, rel_tol=1e-12, abs_tol=0.0) else [f"{at}: {have!r} != {want!r}"]
    if isinstance(want, dict) and isinstance(have, dict):
        if have.keys() != want.keys():
            return [f"{at}: keys {sorted(have)} != {sorted(want)}"]
        return [d for k in want for d in differences(have[k], want[k], f"{at}.{k}")]
    if isinstance(want, list) and isinstance(have, list):
        if len(have) != len(want):
            return [f"{at}: {len(have)} items != {len(want)}"]
        return [d for i, (h, w) in enumerate(zip(have, want)) for d in differences(h, w, f"{at}[{i}]")]
    return [] if have == want else [f"{at}: {have!r} != {want!r}"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(20261202)
    welch = [
        welch_case(rng, 50, 60, 10.0, 3.0, 0.05, 3.5, 0.05),
        welch_case(rng, 3, 4, 1.0, 0.5, 0.2, 0.4, 0.05),  # dof near 3: the t tails matter
        welch_case(rng, 1000, 900, 0.3, 1.0, 0.1, 1.2, 0.1),
        welch_case(rng, 200_000, 200_000, 2.0, 5.0, 0.01, 5.0, 0.05),
        welch_case(rng, 30, 3000, 100.0, 40.0, -0.1, 10.0, 0.01),
        welch_case(rng, 5000, 5000, 1.0, 1.0, 0.3, 1.0, 0.05),  # p about 1e-80
        welch_from_sums([2.0e6, 1.0e6, 1.0e6], [2.0e6, 1.0303e6, 1.0303e6], 0.05),  # proportions, p about 1e-200
        # gbstats' golden case, so both references agree on it.
        welch_from_sums([3407.0, 1396.87, 52377.9767], [3461.0, 2422.7, 134698.29], 0.05),
    ]
    srm = []
    for observed, weights in [
        ([5000, 5200], [50, 50]),
        ([1000, 1100, 900], [1, 1, 1]),
        ([10_000, 10_150, 0], [50, 50, 0]),
        ([33_000, 33_500, 33_100], [34, 33, 33]),
        ([500_000, 502_000], [50, 50]),
        ([9528, 10016], [0.5, 0.5]),
        ([100, 0, 300, 610], [1, 0, 3, 6]),
        ([50_000, 40_000], [1, 1]),  # p far below 1e-300: 0
    ]:
        live = [(o, w) for o, w in zip(observed, weights) if w > 0]
        n = sum(o for o, _ in live)
        ws = sum(w for _, w in live)
        r = stats.chisquare([o for o, _ in live], [n * w / ws for _, w in live])
        srm.append({"observed": observed, "weights": [float(w) for w in weights],
                    "want": {"chi2": float(r.statistic), "dof": len(live) - 1, "p_value": float(r.pvalue)}})  # fmt: skip
    adjust = []
    for k in (1, 2, 5, 20):
        p = rng.uniform(0, 1, k) ** 3
        for method, name in (("fdr_bh", "bh"), ("holm", "holm")):
            adjust.append({"p_values": [float(x) for x in p], "method": name,
                           "want": [float(x) for x in multipletests(p, method=method)[1]]})  # fmt: skip
    adjust.append({"p_values": [0.01, 0.01, 0.04, 0.5, 0.04], "method": "bh",
                   "want": [float(x) for x in multipletests([0.01, 0.01, 0.04, 0.5, 0.04], method="fdr_bh")[1]]})  # fmt: skip
    mde = []
    for n, var, alpha, power in [(1000, 1.0, 0.05, 0.8), (50_000, 0.09, 0.05, 0.9), (200, 25.0, 0.01, 0.5), (10, 2.0, 0.2, 0.99)]:
        z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
        mde.append({"n_per_arm": float(n), "variance": var, "alpha": alpha, "power": power,
                    "want": z * math.sqrt(2 * var / n)})  # fmt: skip
    doc = {
        "generated_by": "stats/vectors/gen.py",
        "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__, "numpy": np.__version__},
        "welch": welch, "srm": srm, "adjust": adjust, "mde": mde,
    }  # fmt: skip
    text = json.dumps(doc, indent=1) + "\n"
    if args.check:
        # Equal up to the last bits: numpy's vectorised loops round differently on different CPUs
        # (seen: BH values one ulp apart between two machines), which says nothing about the file.
        diff = differences(json.loads(OUT.read_text()), doc, "")
        if diff:
            print(f"{OUT} differs from what gen.py computes: regenerate it", file=sys.stderr)
            for d in diff[:10]:
                print(f"  {d}", file=sys.stderr)
            return 1
        print(f"{OUT} is up to date (floats within 1e-12 relative)")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}: {len(welch)} welch, {len(srm)} srm, {len(adjust)} adjust, {len(mde)} mde")
    return 0


if __name__ == "__main__":
    sys.exit(main())
