"""vario.analysis.analyze on a synthetic log with known answers (tests/synthetic_log.py).

The expected numbers come from the generator's ground truth per unit, never from the events, so
the join rules (unit id, first exposure, window, exclusions, iteration) are what is tested. The
same log is analysed as JSONL, Parquet, a pandas DataFrame and an Arrow table, and must give the
same answer each way (test_analyze_spark.py adds PySpark).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

import vario
from vario.analysis import (
    CupedStats,
    MeanStats,
    Metric,
    ProportionStats,
    RatioStats,
    Sequential,
    analyze,
    compare,
    sequential_bounds,
)

import synthetic_log as sl

DROP = 0.08  # the share of treatment's units the main log loses: a sample-ratio mismatch
METRICS = ["add_to_cart", "add_to_cart:count", "purchase:value", "click/impression"]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sl.Truth]:
    events, truth = sl.generate(20_000, drop_treatment=DROP)
    path = tmp_path_factory.mktemp("analysis") / "events.jsonl"
    sl.write_jsonl(events, str(path))
    return path, truth


@pytest.fixture(scope="module")
def clean_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sl.Truth]:
    events, truth = sl.generate(20_000, seed=11)
    path = tmp_path_factory.mktemp("analysis") / "clean.jsonl"
    sl.write_jsonl(events, str(path))
    return path, truth


def mean_stats(x: np.ndarray) -> MeanStats:
    return MeanStats(float(len(x)), float(x.sum()), float((x * x).sum()))


def expected(truth: sl.Truth, metric: str, cuped: bool = False) -> tuple[object, object]:
    out = []
    for arm in ("control", "treatment"):
        carts, pre = truth.col(arm, "carts"), truth.col(arm, "pre")
        if metric == "add_to_cart":
            y, x = (carts > 0).astype(float), (pre > 0).astype(float)
            s: object = ProportionStats(float(len(y)), float(y.sum()))
        elif metric == "add_to_cart:count":
            y, x = carts, pre
            s = mean_stats(y)
        elif metric == "purchase:value":
            y = truth.col(arm, "value")
            x = np.zeros_like(y)
            s = mean_stats(y)
        else:
            num, den = truth.col(arm, "clicks"), truth.col(arm, "impressions")
            s = RatioStats(mean_stats(num), mean_stats(den), float((num * den).sum()))
            out.append(s)
            continue
        if cuped:
            s = CupedStats(mean_stats(y), mean_stats(x), float((x * y).sum()))
        out.append(s)
    return out[0], out[1]


def assert_row_matches(row: vario.analysis.MetricResult, want: vario.analysis.Comparison) -> None:
    for f in ("control_mean", "treatment_mean", "abs_effect", "p_value", "rel_effect", "rel_p_value"):
        assert math.isclose(getattr(row, f), getattr(want, f), rel_tol=1e-9, abs_tol=1e-12), f
    for f in ("abs_ci", "rel_ci"):
        for a, b in zip(getattr(row, f), getattr(want, f)):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f


def assert_same(got: vario.analysis.Analysis, want: vario.analysis.Analysis) -> None:
    """Equal but for the last bits of float sums (engines add in no fixed order)."""
    plain = lambda a: dataclasses.replace(a, results=[], engine="")  # noqa: E731
    assert plain(got) == plain(want)
    assert len(got.results) == len(want.results)
    for g, w in zip(got.results, want.results):
        for f in dataclasses.fields(g):
            a, b = getattr(g, f.name), getattr(w, f.name)
            if isinstance(a, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (g.metric, f.name, a, b)
            elif isinstance(a, tuple):
                assert a == pytest.approx(b, rel=1e-9, abs=1e-12), (g.metric, f.name)
            else:
                assert a == b, (g.metric, f.name)


def test_every_metric_matches_the_ground_truth(log: tuple[Path, sl.Truth]) -> None:
    path, truth = log
    a = analyze(path, sl.KEY, metrics=METRICS)
    assert a.engine == "duckdb" and a.iteration == 1 and a.control == "control"
    assert a.units == {arm: len(truth.arms[arm]["carts"]) for arm in ("control", "treatment")}
    assert a.excluded_multiple_variants == truth.excluded > 20
    assert [r.metric for r in a.results] == METRICS
    for row in a.results:
        c, t = expected(truth, row.metric)
        want = compare(c, t)  # type: ignore[arg-type]
        assert_row_matches(row, want)
        assert row.variant == "treatment" and row.n_control == a.units["control"]
        assert "bh" in row.adjustments
    ratio = a.results[3]
    assert ratio.kind == "ratio" and "delta_method" in ratio.adjustments
    # BH across the four rows, recomputed by hand: the adjusted p of rank k is min over j >= k of
    # p_(j) * m / j.
    ps = [r.p_value for r in a.results]
    order = sorted(range(4), key=lambda i: ps[i])
    bh = [0.0] * 4
    running = 1.0
    for rank in range(4, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * 4 / rank)
        bh[i] = running
    assert [r.p_value_adjusted for r in a.results] == pytest.approx(bh, rel=1e-12)


def test_the_true_lift_is_inside_the_interval(log: tuple[Path, sl.Truth]) -> None:
    path, _ = log
    # A 99.9 % interval: one sample of a fixed seed misses a 95 % one 1 time in 20 however right the
    # method is (this seed's 95 % interval does miss, from above); a biased estimate misses both.
    row = analyze(path, sl.KEY, alpha=0.001).results[0]
    true_rel = sl.conversion_rate(1.25) / sl.conversion_rate(1.0) - 1
    assert row.rel_ci[0] < true_rel < row.rel_ci[1]
    assert row.p_value < 0.001  # a 15 % lift on 20 000 units is found


def test_srm_flags_the_lost_treatment_units_and_not_a_clean_split(
    log: tuple[Path, sl.Truth], clean_log: tuple[Path, sl.Truth]
) -> None:
    bad = analyze(log[0], sl.KEY)
    assert bad.weights == {"control": 0.5, "treatment": 0.5}
    assert bad.srm.mismatch and bad.srm.p_value < 0.01 and bad.srm.dof == 1
    good = analyze(clean_log[0], sl.KEY)
    assert not good.srm.mismatch and good.srm.p_value > 0.01
    # Given weights replace the logged ones: the split that losing 8 % of treatment leaves.
    kept = 1 - DROP
    skewed = analyze(log[0], sl.KEY, weights={"control": 1 / (1 + kept), "treatment": kept / (1 + kept)})
    assert not skewed.srm.mismatch


def test_cuped_narrows_the_interval_by_sqrt_one_minus_rho_squared(log: tuple[Path, sl.Truth]) -> None:
    path, truth = log
    raw = analyze(path, sl.KEY, metrics=["add_to_cart:count"]).results[0]
    adj = analyze(path, sl.KEY, metrics=["add_to_cart:count"], covariates="pre_period").results[0]
    c, t = expected(truth, "add_to_cart:count", cuped=True)
    assert_row_matches(adj, compare(c, t))  # type: ignore[arg-type]
    assert adj.adjustments == ["cuped"] and adj.theta is not None and adj.theta > 0
    y = np.concatenate([truth.col(a, "carts") for a in ("control", "treatment")])
    x = np.concatenate([truth.col(a, "pre") for a in ("control", "treatment")])
    rho = float(np.corrcoef(x, y)[0, 1])
    assert rho > 0.2  # the generator's covariate is informative
    width = lambda r: r.abs_ci[1] - r.abs_ci[0]  # noqa: E731
    assert width(adj) / width(raw) == pytest.approx(math.sqrt(1 - rho**2), rel=0.02)
    # Centred on the pooled pre-period mean: the adjusted means stay on the metric's scale.
    assert adj.control_mean == pytest.approx(raw.control_mean, rel=0.05)


def test_the_window_and_the_iteration_are_honoured(log: tuple[Path, sl.Truth]) -> None:
    path, truth = log
    week_a = analyze(path, sl.KEY, metrics=["add_to_cart:count"])
    same_a = analyze(path, sl.KEY, metrics=["add_to_cart:count"], window=7 * 86400)
    week = week_a.results[0]
    assert_same(same_a, week_a)
    # A 30-day window also takes the outcome the generator put one to two days after each window.
    month = analyze(path, sl.KEY, metrics=["add_to_cart:count"], window=dt.timedelta(days=30)).results[0]
    assert month.control_mean == pytest.approx(week.control_mean + 1.0, abs=1e-9)
    assert month.treatment_mean == pytest.approx(week.treatment_mean + 1.0, abs=1e-9)
    old = analyze(path, sl.KEY, iteration=0, metrics=["add_to_cart:count"])
    assert old.iteration == 0 and sum(old.units.values()) == truth.iteration0 and old.excluded_multiple_variants == 0
    with pytest.raises(vario.InvalidRequestError) as e:
        analyze(path, sl.KEY, iteration=5)
    assert e.value.code == "INVALID_REQUEST" and "iteration 5" in str(e.value)


def test_parquet_dataframe_and_arrow_give_the_same_answer(log: tuple[Path, sl.Truth], tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    path, _ = log
    want = analyze(path, sl.KEY, metrics=METRICS, covariates="pre_period")
    parquet = tmp_path / "events.parquet"
    # Parquet as a warehouse would write it: a real TIMESTAMP column, nested fields kept. Types are
    # inferred from every row: from a sample, `value` (null in the first 20k rows) comes out as NULL.
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CAST(timestamp AS TIMESTAMP) AS timestamp) FROM read_json_auto('{path}', sample_size = -1)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    df = pd.read_json(path, lines=True)  # pandas turns `timestamp` into a tz-aware datetime
    table = pa.Table.from_pandas(df[["type", "timestamp", "user_id", "session_id", "experiment_key", "variant",
                                     "iteration", "unit_type", "allocation_share", "event_type", "value", "decided_at"]])  # fmt: skip
    for source in (parquet, df, table, [path]):
        got = analyze(source, sl.KEY, metrics=METRICS, covariates="pre_period")
        assert_same(got, want)


def test_bad_input_is_an_invalid_request(log: tuple[Path, sl.Truth], tmp_path: Path) -> None:
    path, _ = log
    cases = [
        dict(experiment_key="no_such_experiment"),
        dict(experiment_key=sl.KEY, metrics=["a/b/c"]),
        dict(experiment_key=sl.KEY, metrics=["add_to_cart:median"]),
        dict(experiment_key=sl.KEY, metrics=[]),
        dict(experiment_key=sl.KEY, window=0),
        dict(experiment_key=sl.KEY, control="missing"),
        dict(experiment_key=sl.KEY, unit="device"),
        dict(experiment_key=sl.KEY, covariates="yesterday"),
    ]
    for kw in cases:
        with pytest.raises(vario.InvalidRequestError) as e:
            analyze(path, **kw)  # type: ignore[arg-type]
        assert e.value.code == "INVALID_REQUEST", kw
    pd = pytest.importorskip("pandas")
    with pytest.raises(vario.InvalidRequestError, match="lack the column"):
        analyze(pd.DataFrame({"type": ["exposure"]}), sl.KEY)


def test_metric_strings() -> None:
    assert Metric.parse("add_to_cart") == Metric("add_to_cart", "conversion", "add_to_cart")
    assert Metric.parse("add_to_cart:count").kind == "count"
    assert Metric.parse("purchase:value").kind == "value"
    assert Metric.parse("click/impression") == Metric("click/impression", "ratio", "click", "impression")


def test_the_report_prints_the_table_and_writes_the_page(log: tuple[Path, sl.Truth], tmp_path: Path) -> None:
    import subprocess
    import sys

    page = tmp_path / "report.html"
    r = subprocess.run(
        [sys.executable, "-m", "vario.report", str(log[0]), "--experiment", sl.KEY, "--metric", "add_to_cart",
         "--metric", "click/impression", "--cuped", "--html", str(page)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = r.stdout
    assert f"experiment {sl.KEY}, iteration 1" in out
    assert "SRM:" in out and "MISMATCH" in out  # the log loses 8 % of treatment's units
    want = analyze(log[0], sl.KEY, metrics=["add_to_cart", "click/impression"], covariates="pre_period")
    for row in want.results:
        line = next(ln for ln in out.splitlines() if ln.startswith(row.metric + " "))
        assert f"{row.rel_effect * 100:+.1f}%" in line and ", ".join(row.adjustments) in line, line
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 2 and "MISMATCH" in html
    bad = subprocess.run([sys.executable, "-m", "vario.report", str(log[0]), "--experiment", "nope", "--html", ""],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "INVALID_REQUEST" in bad.stderr


def test_a_sequential_look_builds_its_intervals_at_the_bound(log: tuple[Path, sl.Truth]) -> None:
    path, _ = log
    fixed = analyze(path, sl.KEY, metrics=["add_to_cart:count"]).results[0]
    plan = Sequential([0.25, 0.5, 0.75, 1.0], look=2)
    seq = analyze(path, sl.KEY, metrics=["add_to_cart:count"], sequential=plan).results[0]
    bound = sequential_bounds(plan.fractions, 0.05, "pocock")[1]
    assert 2.2 < bound < 2.6  # Pocock-type spending over four looks
    assert seq.adjustments == ["sequential"] and fixed.adjustments == [] and fixed.alpha == 0.05
    assert seq.alpha == pytest.approx(math.erfc(bound / math.sqrt(2)), rel=1e-12)
    # The estimate and its p are the look's data; only the level it is held to moves.
    assert (seq.abs_effect, seq.p_value) == (fixed.abs_effect, fixed.p_value)
    width = lambda r: r.abs_ci[1] - r.abs_ci[0]  # noqa: E731
    # Welch's t at about 19 000 degrees of freedom: the widths scale as the normal quantiles.
    assert width(seq) / width(fixed) == pytest.approx(bound / NormalDist().inv_cdf(0.975), rel=1e-3)
    # At the last look of an O'Brien-Fleming plan nearly all of alpha is left: close to 1.96.
    last = analyze(path, sl.KEY, metrics=["add_to_cart:count"], sequential=Sequential([0.5, 1.0], 2, "obrien_fleming"))
    assert 0.03 < last.results[0].alpha < 0.05
    for bad in (Sequential([0.5, 1.0], look=3), Sequential([0.5, 1.0], look=0), Sequential([0.7, 0.3], look=1)):
        with pytest.raises(vario.InvalidRequestError):
            analyze(path, sl.KEY, sequential=bad)


def test_the_report_shows_a_sequential_look(log: tuple[Path, sl.Truth], capsys: pytest.CaptureFixture[str]) -> None:
    from vario.report import main

    assert main([str(log[0]), "--experiment", sl.KEY, "--sequential", "0.25,0.5,0.75,1", "--look", "2", "--html", ""]) == 0
    out = capsys.readouterr().out
    alpha = analyze(log[0], sl.KEY, sequential=Sequential([0.25, 0.5, 0.75, 1], 2)).results[0].alpha
    assert f"{100 * (1 - alpha):.4g}% CI" in out and "95% CI" not in out
    assert "sequential" in out and "crossed this look's bound" in out
    with pytest.raises(SystemExit):
        main([str(log[0]), "--experiment", sl.KEY, "--look", "2"])  # a look without its plan


def test_an_experiment_key_with_quotes_is_matched_as_given(tmp_path: Path) -> None:
    events, _ = sl.generate(600, seed=2)
    key = "it's \\ a key"
    for e in events:
        if e.get("experiment_key") == sl.KEY:
            e["experiment_key"] = key
    path = tmp_path / "quoted.jsonl"
    sl.write_jsonl(events, str(path))
    a = analyze(path, key, metrics=["add_to_cart:count"])
    assert a.experiment_key == key and sum(a.units.values()) > 500
