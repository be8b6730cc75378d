"""The experiment report: ``python -m vario.report EVENTS --experiment KEY``.

Prints the table an analyst reads first (variants, units, metric means, lift with its CI, p
before and after Benjamini–Hochberg, what each number was adjusted for, the SRM verdict) and
writes a self-contained HTML page with the same table, a forest plot of the relative lifts and the
per-day split of new units (matplotlib, embedded as PNG)::

    python -m vario.report events.jsonl --experiment pdp_reco_algo \\
        --metric add_to_cart --metric purchase:value --metric click/impression --cuped

With ``--interleaving`` the experiment is an interleaved one: the report credits its logged clicks
to the two rankings and prints the per-unit preference (``vario.analysis.interleaving``)::

    python -m vario.report events.jsonl --experiment category_rank --interleaving

``EVENTS`` is a JSONL or Parquet file, several, or a folder of them (see ``vario.analysis.analyze``).
The exit status is 0, or 2 when the input cannot be analysed (the message says why).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import io
import re
import sys
from collections import defaultdict
from typing import Sequence

from . import VarioError
from .analysis import Analysis, InterleavingResult, MetricResult, Sequential, analyze, interleaving


def parse_window(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``30m``, ``90s`` or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"a window is like 7d, 12h, 30m or 3600, not {text!r}")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return dt.timedelta(seconds=n * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit])


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def srm_verdict(a: Analysis) -> str:
    s = a.srm
    head = f"SRM: chi2 {s.chi2:.2f}, dof {s.dof}, p {_p(s.p_value)}"
    if s.mismatch:
        return f"{head}: MISMATCH. The split of units is not the configured one; do not trust the lifts until it is explained."
    return f"{head}: ok (the split matches the configured weights)"


def columns(a: Analysis) -> tuple[str, ...]:
    """The table's header; the CI's level is the analysis' (a sequential look's is its bound's)."""
    level = 100 * (1 - (a.results[0].alpha if a.results else 0.05))
    return ("metric", "variant", "control", "treatment", "lift", f"{level:.4g}% CI", "p", "p (BH)", "adjusted for")


def rows(a: Analysis) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for r in a.results:
        out.append(
            (r.metric, r.variant, _num(r.control_mean), _num(r.treatment_mean), _pct(r.rel_effect),
             f"[{_pct(r.rel_ci[0])}, {_pct(r.rel_ci[1])}]", _p(r.p_value), _p(r.p_value_adjusted),
             ", ".join(r.adjustments) or "-")
        )  # fmt: skip
    return out


def text(a: Analysis) -> str:
    """The report as plain text."""
    days = a.window_seconds / 86400
    lines = [
        f"experiment {a.experiment_key}, iteration {a.iteration} ({a.engine}; window {days:g} d after each unit's first exposure)",
        "units: " + ", ".join(f"{v} {n}" for v, n in sorted(a.units.items()))
        + f"; excluded for seeing several variants: {a.excluded_multiple_variants}",
        srm_verdict(a),
        "",
    ]
    head = columns(a)
    table = [head, *rows(a)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        lines.append("  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("lift: treatment over control, relative; CI and p by the delta method; p (BH): Benjamini-Hochberg over all rows")
    if a.results and "sequential" in a.results[0].adjustments:
        lines.append(f"sequential: an interim look; a row with p below {a.results[0].alpha:.4g} has crossed this look's bound")
    return "\n".join(lines)


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode()


def forest_plot(results: Sequence[MetricResult]) -> str:
    """Relative lifts with their CIs, one line per (metric, variant), as base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.6 * len(results) + 1.2))
    labels = [f"{r.metric} ({r.variant})" for r in results]
    ys = list(range(len(results)))[::-1]
    for y, r in zip(ys, results):
        colour = "#1b7837" if r.rel_ci[0] > 0 else "#b2182b" if r.rel_ci[1] < 0 else "#555555"
        ax.plot([100 * r.rel_ci[0], 100 * r.rel_ci[1]], [y, y], color=colour, lw=2)
        ax.plot([100 * r.rel_effect], [y], "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys, labels)
    level = 100 * (1 - (results[0].alpha if results else 0.05))
    ax.set_xlabel(f"relative lift over control, % ({level:.4g}% CI)")
    ax.grid(axis="x", alpha=0.3)
    out = _png(fig)
    plt.close(fig)
    return out


def daily_plot(daily: Sequence[tuple[dt.date, str, int]]) -> str:
    """New units per day and variant (stacked), with each variant's share, as base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_day: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for day, v, n in daily:
        by_day[day][v] = n
    days = sorted(by_day)
    variants = sorted({v for _, v, _ in daily})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True, height_ratios=[2, 1])
    base = [0] * len(days)
    for v in variants:
        counts = [by_day[d].get(v, 0) for d in days]
        top.bar(range(len(days)), counts, bottom=base, label=v)
        totals = [sum(by_day[d].values()) for d in days]
        bottom.plot(range(len(days)), [100 * c / t if t else 0 for c, t in zip(counts, totals)], marker="o", label=v)
        base = [b + c for b, c in zip(base, counts)]
    top.set_ylabel("new units")
    top.legend(loc="upper right", fontsize=8)
    bottom.set_ylabel("share, %")
    bottom.set_xticks(range(len(days)), [d.isoformat() for d in days], rotation=45, ha="right", fontsize=8)
    out = _png(fig)
    plt.close(fig)
    return out


def to_html(a: Analysis) -> str:
    """The report as a self-contained HTML page."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns(a))
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows(a))
    srm_class = "bad" if a.srm.mismatch else "ok"
    units = ", ".join(f"{e(v)}: {n}" for v, n in sorted(a.units.items()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(a.experiment_key)}: experiment report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
td:nth-child(-n+2), th:nth-child(-n+2) {{ text-align: left; }}
.bad {{ color: #b2182b; font-weight: bold; }} .ok {{ color: #1b7837; }}
</style></head><body>
<h1>{e(a.experiment_key)} <small>iteration {a.iteration}</small></h1>
<p>Units kept: {units}. Excluded for seeing several variants: {a.excluded_multiple_variants}.
Window: {a.window_seconds / 86400:g} days after each unit's first exposure. Engine: {e(a.engine)}.</p>
<p class="{srm_class}">{e(srm_verdict(a))}</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p><small>Lift: treatment over control, relative, with its CI and p by the delta method. p (BH): adjusted by
Benjamini&ndash;Hochberg over every row. "adjusted for" lists what each row carries.</small></p>
<h2>Lifts</h2><img alt="forest plot of the relative lifts" src="data:image/png;base64,{forest_plot(a.results)}">
<h2>New units per day</h2><img alt="new units per day and variant" src="data:image/png;base64,{daily_plot(a.daily)}">
</body></html>
"""


def interleaving_text(r: InterleavingResult, alpha: float) -> str:
    """The interleaving section: impressions and clicks credited, per-unit verdicts, preference."""
    p = r.preference
    w = r.impression_wins
    lines = [
        f"interleaving of experiment {r.experiment_key} ({', '.join(r.methods)})",
        f"  impressions {r.impressions}, with credited clicks {r.impressions_clicked}; clicks credited "
        f"{r.clicks_credited}, unattributed {r.clicks_unattributed}, invalid {r.clicks_invalid}",
        f"  impressions won: a {w['a']}, b {w['b']}, tie {w['tie']}, no click {w['none']}",
        f"  units that clicked: {r.units}: prefer a {r.wins_a}, prefer b {r.wins_b}, tie {r.ties}",
        f"  preference for a: delta {p.delta:+.4f}, {100 * (1 - alpha):g}% CI [{p.ci[0]:+.4f}, {p.ci[1]:+.4f}], "
        f"sign test p {_p(p.p_value)}",
        "  verdict: " + ("ranking a is preferred" if p.ci[0] > 0 else "ranking b is preferred" if p.ci[1] < 0
                         else "no preference detected at this level"),  # fmt: skip
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vario.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("events", nargs="+", help="JSONL or Parquet files, or a folder of them")
    ap.add_argument("--experiment", required=True, help="the experiment key")
    ap.add_argument("--metric", action="append", help="a metric (repeatable; default add_to_cart): "
                    "EVENT (conversion), EVENT:count, EVENT:value, NUM_EVENT/DEN_EVENT (ratio)")  # fmt: skip
    ap.add_argument("--cuped", action="store_true", help="CUPED with each metric's pre-period value as covariate")
    ap.add_argument("--window", type=parse_window, default=dt.timedelta(days=7), help="e.g. 7d (default), 12h, 3600")
    ap.add_argument("--control", help="the control variant (default: the one named control)")
    ap.add_argument("--iteration", type=int, help="default: the highest logged")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--sequential", metavar="FRACTIONS", help="a group-sequential plan: the looks' information "
                    "fractions, e.g. 0.25,0.5,0.75,1 (with --look)")  # fmt: skip
    ap.add_argument("--look", type=int, help="which look of --sequential this report is (1-based)")
    ap.add_argument("--spending", choices=["pocock", "obrien_fleming"], default="pocock")
    ap.add_argument("--html", default=None, help="where to write the HTML page (default: KEY-report.html; '' for none)")
    ap.add_argument("--interleaving", action="store_true", help="an interleaved experiment: credit its clicks to "
                    "the two rankings and print the preference (no metrics, no HTML)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.interleaving:
        try:
            r = interleaving(args.events if len(args.events) > 1 else args.events[0], args.experiment, alpha=args.alpha)
        except VarioError as e:
            print(f"vario.report: {e} ({getattr(e, 'code', '?')})", file=sys.stderr)
            return 2
        print(interleaving_text(r, args.alpha))
        return 0
    plan = None
    if args.sequential is not None or args.look is not None:
        try:
            fractions = [float(x) for x in (args.sequential or "").split(",") if x.strip()]
        except ValueError:
            ap.error(f"--sequential takes fractions like 0.25,0.5,1, not {args.sequential!r}")
        if not fractions or args.look is None:
            ap.error("--sequential and --look go together")
        plan = Sequential(fractions, args.look, args.spending)
    try:
        a = analyze(
            args.events if len(args.events) > 1 else args.events[0],
            args.experiment,
            metrics=args.metric or ["add_to_cart"],
            covariates="pre_period" if args.cuped else None,
            window=args.window,
            alpha=args.alpha,
            control=args.control,
            iteration=args.iteration,
            sequential=plan,
        )
    except VarioError as e:
        print(f"vario.report: {e} ({getattr(e, 'code', '?')})", file=sys.stderr)
        return 2
    print(text(a))
    out = f"{args.experiment}-report.html" if args.html is None else args.html
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(to_html(a))
        print(f"\nHTML report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
