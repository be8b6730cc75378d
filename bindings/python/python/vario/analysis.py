"""Experiment analysis on sufficient statistics (the ``vario-stats`` crate, through the wheel).

Sufficient statistics are counts and sums that a warehouse aggregates and that add up (``+``
merges days or strata), so nothing here needs the raw rows::

    from vario.analysis import MeanStats, compare, srm, adjust
    c = MeanStats(n=3407, sum=1396.87, sum_sq=52377.9767)
    t = MeanStats(n=3461, sum=2422.7, sum_sq=134698.29)
    r = compare(c, t)              # r.abs_effect, r.abs_ci, r.p_value, r.rel_effect, ...
    srm([5000, 5200], [50, 50])    # SrmResult(chi2=3.92, dof=1, p_value=0.0477, mismatch=False)

From the raw event log (the JSONL the dev server or the SDK's file sink writes, Parquet, a pandas
DataFrame, an Arrow table, or a PySpark DataFrame) ``analyze`` computes those statistics in an
embedded DuckDB (or in Spark) and compares every variant with control::

    from vario.analysis import analyze
    a = analyze("events.jsonl", "pdp_reco_algo", metrics=["add_to_cart", "purchase:value", "click/impression"])
    a.srm.mismatch, a.excluded_multiple_variants
    for r in a.results: print(r.metric, r.variant, r.rel_effect, r.rel_ci, r.p_value_adjusted)

Every error is a ``vario.InvalidRequestError`` (code ``INVALID_REQUEST``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os as _os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path as _Path
from typing import Any, Literal, Sequence, Union

from . import _aggregate, _vario

__all__ = [
    "Analysis",
    "Comparison",
    "InterleavingResult",
    "CupedStats",
    "MeanStats",
    "LowEffectiveSampleSize",
    "Metric",
    "MetricResult",
    "OffPolicyResult",
    "PolicyValue",
    "Preference",
    "ProportionStats",
    "RatioStats",
    "Sequential",
    "SrmResult",
    "adjust",
    "analyze",
    "compare",
    "interleaving",
    "mde",
    "off_policy",
    "preference",
    "sequential_bounds",
    "srm",
]


@dataclass(frozen=True)
class MeanStats:
    """A mean metric of one arm: units, the sum of their values and of their squares."""

    n: float
    sum: float
    sum_sq: float

    def __add__(self, other: MeanStats) -> MeanStats:
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float:
        return self.sum / self.n


@dataclass(frozen=True)
class ProportionStats:
    """A proportion of one arm (e.g. units with at least one ``add_to_cart``)."""

    n: float
    successes: float

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.successes + other.successes)

    def to_mean(self) -> MeanStats:
        """As a mean metric whose variance is ``p(1 - p)`` (gbstats' convention)."""
        p = self.successes / self.n
        return MeanStats(self.n, self.successes, p * (1 - p) * (self.n - 1) + self.successes * p)


@dataclass(frozen=True)
class RatioStats:
    """A ratio metric of one arm (e.g. clicks / impressions): per-unit numerator and denominator
    statistics over the same units, and the sum over units of numerator × denominator."""

    num: MeanStats
    den: MeanStats
    sum_products: float

    def __add__(self, other: RatioStats) -> RatioStats:
        return RatioStats(self.num + other.num, self.den + other.den, self.sum_products + other.sum_products)


@dataclass(frozen=True)
class CupedStats:
    """A metric with its pre-period covariate (CUPED), over the same units: ``post`` the metric,
    ``pre`` the covariate, ``sum_products`` the sum over units of metric × covariate."""

    post: MeanStats
    pre: MeanStats
    sum_products: float

    def __add__(self, other: CupedStats) -> CupedStats:
        return CupedStats(self.post + other.post, self.pre + other.pre, self.sum_products + other.sum_products)


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: Welch's t for the difference, the delta method for the lift."""

    control_mean: float
    treatment_mean: float
    abs_effect: float
    abs_ci: tuple[float, float]
    p_value: float
    rel_effect: float
    rel_ci: tuple[float, float]
    rel_p_value: float
    dof: float
    adjustments: list[str] = field(default_factory=list)
    theta: float | None = None
    """CUPED's theta (pooled over both arms), for a ``CupedStats`` comparison."""


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio mismatch: chi-square over the arms with a positive weight."""

    chi2: float
    dof: int
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class Preference:
    """Interleaving preference for ranking ``a``: ``delta`` > 0 favours ``a``."""

    delta: float
    ci: tuple[float, float]
    p_value: float
    impressions: int


def _stats(m: MeanStats | ProportionStats) -> tuple[float, float, float]:
    s = m.to_mean() if isinstance(m, ProportionStats) else m
    return (float(s.n), float(s.sum), float(s.sum_sq))


Stats = Union[MeanStats, ProportionStats, RatioStats, CupedStats]


def _pair(m: RatioStats | CupedStats) -> tuple[float, float, float, float, float, float]:
    y, x = (m.num, m.den) if isinstance(m, RatioStats) else (m.post, m.pre)
    if y.n != x.n:
        raise _invalid(f"both halves of a {type(m).__name__} count the same units ({y.n} != {x.n})")
    return (float(y.n), float(y.sum), float(y.sum_sq), float(x.sum), float(x.sum_sq), float(m.sum_products))


def compare(control: Stats, treatment: Stats, alpha: float = 0.05) -> Comparison:
    """Compares two arms at two-sided level ``alpha``.

    Mean and proportion metrics: Welch's t for the difference, the delta method for the relative
    lift. ``RatioStats``: the ratio of means by the delta method (``adjustments`` says
    ``delta_method``). ``CupedStats``: CUPED with theta pooled over both arms, the adjusted means
    centred on the pooled pre-period mean (``adjustments`` says ``cuped``, unless the covariate is
    constant and the raw metric was compared).
    """
    if type(control) is not type(treatment) and not (
        isinstance(control, (MeanStats, ProportionStats)) and isinstance(treatment, (MeanStats, ProportionStats))
    ):
        raise _invalid(f"cannot compare {type(control).__name__} with {type(treatment).__name__}")
    if isinstance(control, (RatioStats, CupedStats)):
        kind = "ratio" if isinstance(control, RatioStats) else "cuped"
        return Comparison(**_vario._compare_pair(_pair(control), _pair(treatment), alpha, kind))  # type: ignore[arg-type]
    return Comparison(**_vario._compare(_stats(control), _stats(treatment), alpha))  # type: ignore[arg-type]


def srm(observed: Sequence[int], weights: Sequence[float], alpha: float = 0.01) -> SrmResult:
    """Tests units per arm against the intended weights; zero-weight arms are left out."""
    return SrmResult(**_vario._srm(list(observed), [float(w) for w in weights], alpha))


def adjust(p_values: Sequence[float], method: Literal["bh", "holm"] = "bh") -> list[float]:
    """Adjusted p-values in the input's order: Benjamini–Hochberg (``bh``) or Holm."""
    return _vario._adjust([float(p) for p in p_values], method)


def preference(wins_a: int, wins_b: int, ties: int = 0, alpha: float = 0.05) -> Preference:
    """The preference score with its CI and the sign-test p-value, from per-impression winners."""
    return Preference(**_vario._preference(wins_a, wins_b, ties, alpha))


@dataclass(frozen=True)
class InterleavingResult:
    """What ``interleaving`` found in a log: the impressions and clicks it credited, the
    per-unit verdicts, and the preference for ranking ``a`` over them (``delta`` > 0 favours
    ``a``; ``preference.impressions`` counts the units that clicked)."""

    experiment_key: str
    methods: tuple[str, ...]
    impressions: int
    impressions_clicked: int
    clicks_credited: int
    clicks_unattributed: int
    clicks_invalid: int
    impression_wins: dict[str, int]
    units: int
    wins_a: int
    wins_b: int
    ties: int
    preference: Preference


_IL_COLUMNS = {
    "type": "VARCHAR", "event_id": "VARCHAR", "timestamp": "VARCHAR", "decided_at": "VARCHAR",
    "user_id": "VARCHAR", "session_id": "VARCHAR", "experiment_key": "VARCHAR", "unit_type": "VARCHAR",
    "placement": "VARCHAR", "event_type": "VARCHAR", "interleaving": "JSON", "properties": "JSON",
}


def interleaving(
    events: Any,
    experiment_key: str,
    *,
    click_event: str = "click",
    window: Window = _dt.timedelta(minutes=30),
    alpha: float = 0.05,
) -> InterleavingResult:
    """Credits logged clicks to the rankings of an interleaved experiment and scores the preference.

    ``events``: JSONL or Parquet path(s) or a folder, a pandas DataFrame or an Arrow table
    (DuckDB). The rules (contract/interleaving.md, "Analysis of logged interleavings"):

    - an impression is an exposure of ``experiment_key`` that carries ``interleaving`` (its
      record: method, teams, and for balanced the ranks);
    - a click is an outcome whose ``event_type`` is ``click_event`` with an integer
      ``properties.position`` (0-based, in the merged list); with ``properties.impression_id``
      (the exposure's ``event_id``: ``Decision.exposure_id``) it belongs to that impression;
      without one, to the latest impression of the same unit (the impression's ``unit_type``
      id) on the same placement decided at or before it, within ``window``; others are
      ``clicks_unattributed``, and a position outside that list is ``clicks_invalid``;
    - each impression's clicks are credited by its method's rule from the record alone
      (``vario.credit_record``, the core's rule) and give its winner;
    - a unit's verdict is the ranking that won more of its clicked impressions (a tie when
      equal); ``preference`` is Δ = (wins_a + ties/2) / units − 0.5 over those units, with a CI
      and the sign-test p-value (the unit, not the impression, is the independent observation).
    """
    if not isinstance(experiment_key, str) or not experiment_key:
        raise _invalid("experiment_key must be a non-empty string")
    window_s = window.total_seconds() if isinstance(window, _dt.timedelta) else float(window)
    if not window_s > 0:
        raise _invalid(f"window must be positive, not {window!r}")
    try:
        import duckdb
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("vario.analysis.interleaving needs duckdb: pip install 'vario[analysis]'") from e
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        source = _interleaving_source(con, events)
        have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}

        def col(c: str, ty: str) -> str:
            if c not in have:
                return "NULL"
            return f"CAST({c} AS {ty})" if ty != "JSON" else f"CAST(to_json({c}) AS VARCHAR)"

        key = _aggregate.duck_literal(experiment_key)
        rows = con.execute(f"""
WITH src AS (
  SELECT {col("type", "VARCHAR")} AS type, {col("event_id", "VARCHAR")} AS event_id,
         epoch_ms(CAST({col("timestamp", "VARCHAR")} AS TIMESTAMPTZ)) AS ts,
         epoch_ms(CAST({col("decided_at", "VARCHAR")} AS TIMESTAMPTZ)) AS decided,
         {col("user_id", "VARCHAR")} AS user_id, {col("session_id", "VARCHAR")} AS session_id,
         {col("experiment_key", "VARCHAR")} AS experiment_key, {col("unit_type", "VARCHAR")} AS unit_type,
         {col("placement", "VARCHAR")} AS placement, {col("event_type", "VARCHAR")} AS event_type,
         {col("interleaving", "JSON")} AS record, {col("properties", "JSON")} AS properties
  FROM {source}
),
imp AS (
  SELECT row_number() OVER () AS imp, event_id,
         CASE unit_type WHEN 'user' THEN user_id WHEN 'session' THEN session_id END AS unit_id,
         placement, coalesce(decided, ts) AS t, record
  FROM src WHERE type = 'exposure' AND experiment_key = {key} AND record IS NOT NULL AND record <> 'null'
),
clk AS (
  SELECT row_number() OVER () AS click, user_id, session_id, placement, ts AS t,
         TRY_CAST(json_extract_string(properties, '$.position') AS BIGINT) AS position,
         json_extract_string(properties, '$.impression_id') AS impression_id
  FROM src WHERE type = 'outcome' AND event_type = {_aggregate.duck_literal(click_event)}
),
ids AS (
  SELECT click, user_id AS unit_id, placement, t, position FROM clk WHERE user_id IS NOT NULL AND impression_id IS NULL
  UNION ALL SELECT click, session_id, placement, t, position FROM clk WHERE session_id IS NOT NULL AND impression_id IS NULL
),
matched AS (
  SELECT ids.click, arg_max(imp.imp, imp.t) AS imp, max(imp.t) AS imp_t, any_value(ids.t) AS t, any_value(ids.position) AS position
  FROM ids ASOF JOIN imp ON ids.unit_id = imp.unit_id AND coalesce(ids.placement, '') = coalesce(imp.placement, '') AND ids.t >= imp.t
  GROUP BY ids.click
  UNION ALL
  -- Named impressions: exact, whatever the clocks say (the window still applies).
  SELECT clk.click, imp.imp, imp.t, clk.t, clk.position FROM clk JOIN imp ON clk.impression_id = imp.event_id
)
SELECT imp.imp, imp.unit_id, imp.record,
       list(m.position) FILTER (WHERE m.click IS NOT NULL AND m.t - m.imp_t <= {int(round(window_s * 1000))}) AS clicks,
       (SELECT count(*) FROM clk) AS total_clicks
FROM imp LEFT JOIN matched m ON m.imp = imp.imp
GROUP BY imp.imp, imp.unit_id, imp.record
""").fetchall()
    finally:
        con.close()
    import json as _json

    if not rows:
        raise _invalid(f"no interleaved exposures of experiment {experiment_key!r} in the events")
    total_clicks = int(rows[0][4])
    methods: set[str] = set()
    per_unit: dict[str, list[int]] = {}
    wins = {"a": 0, "b": 0, "tie": 0, "none": 0}
    credited = invalid = clicked = attributed = 0
    for _, unit_id, record, clicks, _total in rows:
        rec = _json.loads(record)
        methods.add(str(rec.get("method")))
        positions = [int(c) for c in (clicks or []) if c is not None]
        attributed += len(clicks or [])
        invalid += len(clicks or []) - len(positions)
        ok = [p for p in positions if 0 <= p < len(rec.get("teams", []))]
        invalid += len(positions) - len(ok)
        c = _vario.credit_record(rec, ok)
        w = _vario.winner(c)
        wins[w] += 1
        if not ok:
            continue
        clicked += 1
        credited += len(set(ok))
        tally = per_unit.setdefault(str(unit_id), [0, 0])
        if w == "a":
            tally[0] += 1
        elif w == "b":
            tally[1] += 1
    wa = sum(1 for a, b in per_unit.values() if a > b)
    wb = sum(1 for a, b in per_unit.values() if b > a)
    ties = len(per_unit) - wa - wb
    return InterleavingResult(
        experiment_key=experiment_key,
        methods=tuple(sorted(methods)),
        impressions=len(rows),
        impressions_clicked=clicked,
        clicks_credited=credited,
        clicks_unattributed=total_clicks - attributed,
        clicks_invalid=invalid,
        impression_wins=wins,
        units=len(per_unit),
        wins_a=wa,
        wins_b=wb,
        ties=ties,
        preference=preference(wa, wb, ties, alpha),
    )


def _interleaving_source(con: Any, events: Any) -> str:
    if isinstance(events, (str, _os.PathLike)) or (
        isinstance(events, (list, tuple)) and events and all(isinstance(e, (str, _os.PathLike)) for e in events)
    ):
        paths = [str(events)] if isinstance(events, (str, _os.PathLike)) else [str(e) for e in events]
        files: list[str] = []
        for p in paths:
            files.extend(sorted(str(q) for q in _Path(p).iterdir() if q.is_file()) if _os.path.isdir(p) else [p])
        if not files:
            raise _invalid(f"no event files in {paths}")
        lst = "[" + ", ".join(_aggregate.duck_literal(p) for p in files) + "]"
        if all(p.endswith((".parquet", ".pq", ".parq")) for p in files):
            return f"read_parquet({lst}, union_by_name = true)"
        cols = "{" + ", ".join(f"{_aggregate.duck_literal(c)}: {_aggregate.duck_literal(t)}" for c, t in _IL_COLUMNS.items()) + "}"
        return f"read_json({lst}, format = 'newline_delimited', columns = {cols})"
    con.register("vario_input", events)
    return "vario_input"


class LowEffectiveSampleSize(UserWarning):
    """Off-policy estimates that rest on few effective units (``OffPolicyResult.ess`` below
    ``ESS_WARNING``): a handful of heavily weighted units decide them, and their intervals are
    not to be trusted."""


ESS_WARNING = 100.0
"""The effective sample size below which ``off_policy`` warns."""


@dataclass(frozen=True)
class PolicyValue:
    """One estimate of a target policy's mean reward per unit."""

    value: float
    se: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class OffPolicyResult:
    """The target policy's value by three estimators (``vario-stats``' ``offpolicy`` module)."""

    ips: PolicyValue
    """Inverse propensity scoring: ``Σ w r / n``."""
    snips: PolicyValue
    """Self-normalised IPS: ``Σ w r / Σ w`` (delta-method interval)."""
    dr: PolicyValue | None
    """Doubly robust, when a reward model (``q_logged``, ``q_target``) was given."""
    ess: float
    """The effective sample size ``(Σ w)² / Σ w²``."""
    n: int
    clipped: int
    """Units whose weight was cut to ``clip``."""


def off_policy(
    rewards: Any,
    logged_propensity: Any,
    target_probability: Any,
    *,
    q_logged: Any = None,
    q_target: Any = None,
    clip: float | None = None,
    alpha: float = 0.05,
) -> OffPolicyResult:
    """The value a target policy would have had, from traffic another policy decided.

    One entry per logged unit, as sequences or numpy arrays: ``rewards`` (the outcome, e.g. 1 for
    an add-to-cart), ``logged_propensity`` (the probability the logging policy gave the variant
    the unit got: the exposure's ``allocation_share``), ``target_probability`` (the probability
    the target policy gives that same variant for that unit). The weight is their ratio, cut at
    ``clip`` when given. For the doubly robust estimate give a reward model: ``q_logged`` (its
    prediction for the variant shown) and ``q_target`` (its prediction averaged over the target
    policy's variants for the unit). Warns ``LowEffectiveSampleSize`` when the effective sample
    size is below 100. Bad input raises ``vario.InvalidRequestError``.
    """
    import numpy as np

    def column(name: str, x: Any) -> Any:
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise _invalid(f"{name} must be numbers: {e}") from e
        if a.ndim != 1:
            raise _invalid(f"{name} must be one-dimensional, not of shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise _invalid(f"{name} holds a NaN or an infinity")
        return a

    r = column("rewards", rewards)
    p = column("logged_propensity", logged_propensity)
    pi = column("target_probability", target_probability)
    if not (len(r) == len(p) == len(pi)):
        raise _invalid(f"one entry per unit in each column: {len(r)} rewards, {len(p)} propensities, {len(pi)} target probabilities")
    if np.any((p <= 0) | (p > 1)):
        raise _invalid("logged_propensity must be in (0, 1]: a variant the logging policy could not give was not logged by it")
    if np.any((pi < 0) | (pi > 1)):
        raise _invalid("target_probability must be in [0, 1]")
    w = pi / p
    clipped = 0
    if clip is not None:
        if not (isinstance(clip, (int, float)) and clip > 0 and math.isfinite(clip)):
            raise _invalid(f"clip must be a positive number, not {clip!r}")
        clipped = int(np.count_nonzero(w > clip))
        w = np.minimum(w, float(clip))
    wr = w * r
    with_dr = q_logged is not None or q_target is not None
    if with_dr:
        if q_logged is None or q_target is None:
            raise _invalid("the doubly robust estimate needs both q_logged and q_target")
        ql, qt = column("q_logged", q_logged), column("q_target", q_target)
        if not (len(ql) == len(qt) == len(r)):
            raise _invalid("q_logged and q_target need one entry per unit")
        d = qt + w * (r - ql)
    else:
        d = np.zeros(0)
    sums = (float(len(r)), float(w.sum()), float((w * w).sum()), float(wr.sum()), float((wr * wr).sum()),
            float((w * wr).sum()), float(d.sum()), float((d * d).sum()))  # fmt: skip
    out = _vario._off_policy(sums, alpha, with_dr)

    def value(t: Any) -> PolicyValue:
        return PolicyValue(float(t[0]), float(t[1]), (float(t[2][0]), float(t[2][1])))

    result = OffPolicyResult(
        ips=value(out["ips"]),
        snips=value(out["snips"]),
        dr=value(out["dr"]) if out["dr"] is not None else None,
        ess=float(out["ess"]),
        n=len(r),
        clipped=clipped,
    )
    if result.ess < ESS_WARNING:
        warnings.warn(
            LowEffectiveSampleSize(
                f"effective sample size {result.ess:.1f} of {result.n} units: a few heavily weighted units decide these estimates"
            ),
            stacklevel=2,
        )
    return result


def sequential_bounds(
    fractions: Sequence[float], alpha: float = 0.05, spending: Literal["pocock", "obrien_fleming"] = "obrien_fleming"
) -> list[float]:
    """Two-sided z bounds for looks at these information fractions (Lan–DeMets alpha spending)."""
    return _vario._sequential_bounds([float(t) for t in fractions], alpha, spending)


def mde(n_per_arm: float, variance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The minimum detectable absolute effect of a two-arm test."""
    return _vario._mde(n_per_arm, variance, alpha, power)


def _invalid(msg: str) -> _vario.InvalidRequestError:
    e = _vario.InvalidRequestError(msg)
    e.code = "INVALID_REQUEST"
    return e


# ---------------------------------------------------------------------------------------------
# From events to answers.


@dataclass(frozen=True)
class Metric:
    """What is measured per unit, from the outcomes in the unit's window.

    Written as a string in ``analyze(metrics=...)``:

    ``"add_to_cart"``
        conversion: the proportion of units with at least one ``add_to_cart`` (variance
        ``p(1 - p)``);
    ``"add_to_cart:count"``
        the mean number of ``add_to_cart`` outcomes per unit;
    ``"purchase:value"``
        the mean sum of ``value`` per unit (a missing value counts as 0);
    ``"click/impression"``
        a ratio metric: clicks over impressions, per arm, by the delta method (CTR).
    """

    name: str
    kind: Literal["conversion", "count", "value", "ratio"]
    event: str
    denominator: str | None = None

    @staticmethod
    def parse(spec: str | Metric) -> Metric:
        """The metric a string names (see the class docs)."""
        if isinstance(spec, Metric):
            return spec
        if not isinstance(spec, str) or not spec.strip():
            raise _invalid(f"a metric is a non-empty string, not {spec!r}")
        if "/" in spec:
            num, _, den = spec.partition("/")
            if not num or not den or "/" in den or ":" in spec:
                raise _invalid(f"a ratio metric is 'numerator_event/denominator_event', not {spec!r}")
            return Metric(spec, "ratio", num, den)
        event, _, agg = spec.partition(":")
        if not event:
            raise _invalid(f"a metric names an event type: {spec!r}")
        if agg in ("", "conversion"):
            return Metric(spec, "conversion", event)
        if agg in ("count", "value"):
            return Metric(spec, agg, event)  # type: ignore[arg-type]
        raise _invalid(f"unknown aggregation {agg!r} in {spec!r} (conversion, count or value)")


@dataclass(frozen=True)
class MetricResult:
    """One metric, one treatment variant against control (the fields of ``Comparison`` and more)."""

    metric: str
    kind: str
    variant: str
    control: str
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    abs_effect: float
    abs_ci: tuple[float, float]
    p_value: float
    rel_effect: float
    rel_ci: tuple[float, float]
    rel_p_value: float
    p_value_adjusted: float
    """``p_value`` adjusted by Benjamini–Hochberg across every (metric, variant) row of the
    analysis (equal to ``p_value`` when there is one row)."""
    adjustments: list[str]
    """What the numbers carry: ``cuped``, ``delta_method``, ``sequential``, ``bh``."""
    theta: float | None = None
    alpha: float = 0.05
    """The two-sided level the CIs were built at, and the one to hold ``p_value`` to: ``alpha`` of
    ``analyze``, or with a ``Sequential`` plan the nominal level of this look's bound."""


@dataclass(frozen=True)
class Sequential:
    """A group-sequential plan for ``analyze``: the planned looks at these information fractions
    (increasing, the last 1.0), this analysis being look ``look`` (1-based), with Lan–DeMets
    ``spending`` of ``analyze``'s ``alpha`` (Pocock-type by default, as the framework asks).

    At each look the CIs are built at the nominal level whose normal quantile is that look's bound,
    so a row whose ``p_value`` is below its ``alpha`` has crossed the bound; the overall false
    positive rate over all the looks stays at ``alpha``.
    """

    fractions: Sequence[float]
    look: int
    spending: Literal["pocock", "obrien_fleming"] = "pocock"


@dataclass(frozen=True)
class Analysis:
    """The answer of ``analyze``: one row per (metric, variant vs control) and the guardrails."""

    experiment_key: str
    iteration: int
    control: str
    units: dict[str, int]
    """Units kept per variant (exposed to exactly one variant of the iteration)."""
    excluded_multiple_variants: int
    """Units exposed to more than one variant of the iteration: left out of every number."""
    weights: dict[str, float]
    """The expected split SRM tests against (given, or the logged allocation shares)."""
    srm: SrmResult
    results: list[MetricResult]
    daily: list[tuple[_dt.date, str, int]]
    """New kept units per UTC day (of their first exposure) and variant."""
    window_seconds: float
    engine: str

    def to_records(self) -> list[dict[str, Any]]:
        """The rows as dicts (for ``pandas.DataFrame(a.to_records())`` or JSON)."""
        return [asdict(r) for r in self.results]


Window = Union[int, float, _dt.timedelta]


def analyze(
    events: Any,
    experiment_key: str,
    metrics: Sequence[str | Metric] = ("add_to_cart",),
    unit: Literal["user", "session"] | None = None,
    covariates: Literal["pre_period"] | None = None,
    window: Window = _dt.timedelta(days=7),
    *,
    alpha: float = 0.05,
    control: str | None = None,
    iteration: int | None = None,
    weights: dict[str, float] | None = None,
    srm_alpha: float = 0.01,
    memory_limit: str | None = "3GB",
    threads: int | None = None,
    sequential: Sequential | None = None,
) -> Analysis:
    """Joins outcomes to exposures and compares every variant of ``experiment_key`` with control.

    ``events``: a path (or list of paths, or a folder) of JSONL or Parquet files, a pandas or
    polars DataFrame, an Arrow table, or a PySpark DataFrame (then Spark runs the aggregation and
    ``memory_limit`` / ``threads``, DuckDB's, do not apply).

    The rules (contract/analysis.md pins each with a test):

    - the unit is the id the exposure's ``unit_type`` names (``user_id`` or ``session_id``, as
      logged: pseudonymised), or the one ``unit`` names;
    - ``iteration`` defaults to the highest one logged for the experiment; a unit's variant and
      start time ``t0`` come from its first exposure of that iteration;
    - units exposed to more than one variant of it are excluded and counted;
    - an outcome counts for a unit when it carries the unit's id and ``t0 <= timestamp < t0 +
      window`` (``window``: seconds or a ``timedelta``, default 7 days);
    - ``covariates="pre_period"``: CUPED, each metric's covariate being the same metric over
      ``[t0 - window, t0)``; ratio metrics are compared without it;
    - ``control`` defaults to the variant named ``control`` (an error when there is none);
    - SRM tests the kept units per variant against ``weights``, by default the allocation share
      logged with the latest first exposure of each variant; BH adjusts across all rows;
    - ``sequential``: an interim look of a group-sequential plan (see ``Sequential``): every row's
      CI is built at the look's nominal level and carries ``sequential``.
    """
    if not isinstance(experiment_key, str) or not experiment_key:
        raise _invalid("experiment_key must be a non-empty string")
    if unit not in (None, "user", "session"):
        raise _invalid(f"unit must be 'user', 'session' or None, not {unit!r}")
    if covariates not in (None, "pre_period"):
        raise _invalid(f"covariates must be None or 'pre_period', not {covariates!r}")
    window_s = window.total_seconds() if isinstance(window, _dt.timedelta) else float(window)
    if not window_s > 0:
        raise _invalid(f"window must be positive, not {window!r}")
    window_ms = int(round(window_s * 1000))
    parsed = [Metric.parse(m) for m in metrics]
    if not parsed:
        raise _invalid("at least one metric is needed")
    if len({m.name for m in parsed}) != len(parsed):
        raise _invalid("each metric once")
    row_alpha = alpha
    if sequential is not None:
        if not isinstance(sequential, Sequential):
            raise _invalid(f"sequential must be a vario.analysis.Sequential, not {type(sequential).__name__}")
        fractions = list(sequential.fractions)
        if not (isinstance(sequential.look, int) and 1 <= sequential.look <= len(fractions)):
            raise _invalid(f"look must be between 1 and {len(fractions)} (the planned looks), not {sequential.look!r}")
        bound = sequential_bounds(fractions, alpha, sequential.spending)[sequential.look - 1]
        # The two-sided level whose normal quantile is the bound.
        row_alpha = math.erfc(bound / math.sqrt(2.0))
    cuped = covariates == "pre_period"
    msql = [_aggregate.MetricSql(m.kind, m.event, m.denominator, cuped and m.kind != "ratio") for m in parsed]

    if _aggregate.is_spark_dataframe(events):
        runner: _aggregate.DuckDbRunner | _aggregate.SparkRunner = _aggregate.SparkRunner(events)
        engine = "spark"
    else:
        try:
            runner = _aggregate.DuckDbRunner(events, memory_limit=memory_limit, threads=threads)
        except ValueError as e:
            raise _invalid(str(e)) from e
        engine = "duckdb"
    try:
        runner.materialise_units(_aggregate.units_select(experiment_key, unit))
        iterations = {int(r["iteration"]): int(r["units"]) for r in runner.run(_aggregate.ITERATIONS_SQL) if r["iteration"] is not None}
        if not iterations:
            raise _invalid(f"no exposures of experiment {experiment_key!r} in the events")
        it = max(iterations) if iteration is None else int(iteration)
        if it not in iterations:
            raise _invalid(f"experiment {experiment_key!r} has no exposures in iteration {it} (logged: {sorted(iterations)})")
        meta = runner.run(_aggregate.meta_sql(it))
        unit_types = {r["unit_type_min"] for r in meta} | {r["unit_type_max"] for r in meta}
        arms = {r["variant"]: r for r in runner.run(_aggregate.arms_sql(msql, window_ms, it, unit_types))}
        daily = runner.run(_aggregate.daily_sql(it))
    finally:
        runner.close()

    units = {r["variant"]: int(r["kept"]) for r in meta}
    excluded = sum(int(r["excluded"]) for r in meta)
    if control is None:
        if "control" not in units:
            raise _invalid(f"no variant is named 'control' ({sorted(units)}): pass control=")
        control = "control"
    if control not in arms:
        raise _invalid(f"control variant {control!r} has no kept units (variants: {sorted(units)})")
    if weights is None:
        weights = {r["variant"]: float(r["share"] or 0.0) for r in meta}
    order = sorted(set(units) | set(weights))
    srm_result = srm([units.get(v, 0) for v in order], [float(weights.get(v, 0.0)) for v in order], srm_alpha)

    rows: list[dict[str, Any]] = []
    treatments = [v for v in sorted(arms) if v != control]
    for i, (m, q) in enumerate(zip(parsed, msql)):
        for v in treatments:
            c, t = _arm_stats(arms[control], i, m, q), _arm_stats(arms[v], i, m, q)
            r = compare(c, t, row_alpha)
            rows.append(
                dict(
                    metric=m.name, kind=m.kind, variant=v, control=control,
                    n_control=int(arms[control]["n"]), n_treatment=int(arms[v]["n"]),
                    control_mean=r.control_mean, treatment_mean=r.treatment_mean,
                    abs_effect=r.abs_effect, abs_ci=tuple(r.abs_ci), p_value=r.p_value,
                    rel_effect=r.rel_effect, rel_ci=tuple(r.rel_ci), rel_p_value=r.rel_p_value,
                    adjustments=list(r.adjustments) + (["sequential"] if sequential else []), theta=r.theta,
                    alpha=row_alpha,
                )
            )  # fmt: skip
    adjusted = adjust([row["p_value"] for row in rows], "bh") if rows else []
    results = []
    for row, p in zip(rows, adjusted):
        if len(rows) > 1:
            row["adjustments"].append("bh")
        results.append(MetricResult(p_value_adjusted=p, **row))
    return Analysis(
        experiment_key=experiment_key,
        iteration=it,
        control=control,
        units=units,
        excluded_multiple_variants=excluded,
        weights=weights,
        srm=srm_result,
        results=results,
        daily=[(_dt.date(1970, 1, 1) + _dt.timedelta(days=int(r["day"])), r["variant"], int(r["units"])) for r in daily],
        window_seconds=window_s,
        engine=engine,
    )


def _arm_stats(row: dict[str, Any], i: int, m: Metric, q: _aggregate.MetricSql) -> Stats:
    n = float(row["n"])
    y = MeanStats(n, float(row[f"y_{i}"] or 0.0), float(row[f"yy_{i}"] or 0.0))
    if m.kind == "ratio" or q.cuped:
        x = MeanStats(n, float(row[f"x_{i}"] or 0.0), float(row[f"xx_{i}"] or 0.0))
        xy = float(row[f"xy_{i}"] or 0.0)
        return RatioStats(y, x, xy) if m.kind == "ratio" else CupedStats(y, x, xy)
    if m.kind == "conversion":
        return ProportionStats(n, y.sum)
    return y
