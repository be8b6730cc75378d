"""Events → sufficient statistics, as plain SQL run by an embedded DuckDB or by Spark.

``vario.analysis.analyze`` owns the rules and the statistics; this module owns the one pass over the
raw log that turns it into a few small tables:

``units``
    one row per (iteration, unit): the unit's unit type, its first exposure time ``t0`` (epoch
    milliseconds), the variant of that first exposure, how many distinct variants it saw, and the
    allocation share logged with its first exposure. Materialised once (a DuckDB temporary table,
    a cached Spark table), because both later queries read it.
``arms``
    per variant of the analysed iteration, over the units that saw exactly one variant: the unit
    count and, for every metric, the sums of the per-unit values, their squares and (for ratio and
    CUPED metrics) of the second per-unit value and the cross products.
``meta``
    per variant: units kept and excluded, the allocation share of the latest first exposure, and
    new units per UTC day.

The SQL is the same for both engines but for two spellings (epoch milliseconds of a timestamp, and
how a table is materialised). Nothing here computes a statistic: the sums add up, so the same
query could run in any warehouse and the rest of the analysis would not change.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

# The columns of the event log the analysis reads (contract/events.md); any other column is ignored.
COLUMNS: dict[str, str] = {
    "type": "VARCHAR",
    "timestamp": "VARCHAR",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "experiment_key": "VARCHAR",
    "variant": "VARCHAR",
    "iteration": "BIGINT",
    "unit_type": "VARCHAR",
    "allocation_share": "DOUBLE",
    "event_type": "VARCHAR",
    "value": "DOUBLE",
    "decided_at": "VARCHAR",
}
# Without these the log cannot be analysed at all; the others are NULL when a table lacks them.
REQUIRED = ("type", "timestamp", "experiment_key", "variant", "event_type")

Kind = Literal["conversion", "count", "value", "ratio"]


@dataclass(frozen=True)
class MetricSql:
    """What the per-unit query computes for one metric: ``y`` and, for ratio or CUPED, ``x``."""

    kind: Kind
    event: str
    denominator: str | None
    cuped: bool


def duck_literal(s: str) -> str:
    """A DuckDB string literal (single quotes doubled), for DuckDB-only statements (settings,
    file lists) that take a literal, not an expression."""
    return "'" + s.replace("'", "''") + "'"


def quote(s: str) -> str:
    """A SQL string expression that DuckDB and Spark both read as ``s``.

    The engines escape differently inside a literal (DuckDB doubles a quote and keeps a backslash;
    Spark escapes with a backslash and reads two adjacent literals as one), so the two characters
    that matter are spelled ``chr(39)`` and ``chr(92)`` and everything else stays in plain
    literals joined with ``||``.
    """
    parts: list[str] = []
    run: list[str] = []
    for ch in s:
        if ch in "'\\":
            if run:
                parts.append("'" + "".join(run) + "'")
                run = []
            parts.append(f"chr({ord(ch)})")
        else:
            run.append(ch)
    if run or not parts:
        parts.append("'" + "".join(run) + "'")
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


class Dialect:
    """The two spellings that differ between DuckDB and Spark SQL."""

    def __init__(self, name: Literal["duckdb", "spark"]) -> None:
        self.name = name

    def ident(self, col: str) -> str:
        return f'"{col}"' if self.name == "duckdb" else f"`{col}`"

    def epoch_ms(self, col: str) -> str:
        if self.name == "duckdb":
            return f"epoch_ms(CAST({col} AS TIMESTAMP))"
        return f"unix_millis(CAST({col} AS TIMESTAMP))"


def _per_unit_value(m: MetricSql, which: Literal["post", "pre"], i: int) -> tuple[str, str | None]:
    """The per-unit ``y`` (and ``x``) of metric ``i`` as expressions over the per-unit columns."""
    if m.kind == "ratio":
        assert m.denominator is not None
        return f"CAST({which}_count_{i}_num AS DOUBLE)", f"CAST({which}_count_{i}_den AS DOUBLE)"
    col = f"{which}_{'value' if m.kind == 'value' else 'count'}_{i}_num"
    if m.kind == "conversion":
        return f"CASE WHEN {col} > 0 THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END", None
    return f"CAST({col} AS DOUBLE)", None


def arms_sql(metrics: Sequence[MetricSql], window_ms: int, iteration: int, unit_types: Iterable[str]) -> str:
    """Per-variant sums over the kept units of ``iteration`` (reads ``vario_units`` and ``vario_src``).

    An outcome counts for a unit when it carries the unit's id in the field its unit type names
    and falls in ``[t0, t0 + window)``; for a CUPED metric the same metric over ``[t0 - window,
    t0)`` is the covariate.
    """
    pre = any(m.cuped for m in metrics)
    lo = f"k.t0 - {window_ms}" if pre else "k.t0"
    events = sorted({e for m in metrics for e in (m.event, m.denominator) if e is not None})
    in_list = ", ".join(quote(e) for e in events)
    id_col = {"user": "user_id", "session": "session_id"}
    outs = " UNION ALL ".join(
        f"SELECT {quote(ut)} AS unit_type, {id_col[ut]} AS unit_id, event_type, value, t FROM vario_src "
        f"WHERE type = 'outcome' AND event_type IN ({in_list}) AND {id_col[ut]} IS NOT NULL"
        for ut in sorted(unit_types)
    )
    cols = []
    for i, m in enumerate(metrics):
        for part, event in (("num", m.event), ("den", m.denominator)):
            if event is None:
                continue
            for which, cond in (("post", "o.t >= k.t0"), ("pre", "o.t < k.t0")):
                if which == "pre" and not m.cuped:
                    continue
                is_e = f"o.event_type = {quote(event)} AND {cond}"
                if m.kind == "value" and part == "num":
                    cols.append(f"sum(CASE WHEN {is_e} THEN coalesce(o.value, 0.0) ELSE 0.0 END) AS {which}_value_{i}_num")
                else:
                    cols.append(f"sum(CASE WHEN {is_e} THEN 1 ELSE 0 END) AS {which}_count_{i}_{part}")
    sums = ["count(*) AS n"]
    for i, m in enumerate(metrics):
        y, x = _per_unit_value(m, "post", i)
        if m.cuped:
            x, _ = _per_unit_value(m, "pre", i)
        sums.append(f"sum({y}) AS y_{i}")
        sums.append(f"sum(({y}) * ({y})) AS yy_{i}")
        if x is not None:
            sums.append(f"sum({x}) AS x_{i}")
            sums.append(f"sum(({x}) * ({x})) AS xx_{i}")
            sums.append(f"sum(({x}) * ({y})) AS xy_{i}")
    outcome_cols = ", ".join(cols) if cols else "0 AS none_0"
    return f"""
WITH kept AS (
  SELECT unit_id, unit_type, t0, variant FROM vario_units WHERE iteration = {iteration} AND variants = 1
),
outs AS ({outs}),
per_unit AS (
  SELECT k.unit_id, k.variant, {outcome_cols}
  FROM kept k LEFT JOIN outs o
    ON o.unit_type = k.unit_type AND o.unit_id = k.unit_id AND o.t >= {lo} AND o.t < k.t0 + {window_ms}
  GROUP BY k.unit_id, k.variant
)
SELECT variant, {", ".join(sums)} FROM per_unit GROUP BY variant ORDER BY variant
"""


def units_select(key: str, unit: str | None) -> str:
    """One row per (iteration, unit) of the experiment's exposures."""
    if unit is None:
        unit_type = "unit_type"
        unit_id = "CASE unit_type WHEN 'user' THEN user_id WHEN 'session' THEN session_id END"
    else:
        unit_type = quote(unit)
        unit_id = {"user": "user_id", "session": "session_id"}[unit]
    return f"""
SELECT iteration, unit_id, min(unit_type) AS unit_type, min(t) AS t0, min_by(variant, t) AS variant,
       count(DISTINCT variant) AS variants, min_by(allocation_share, t) AS share
FROM (
  SELECT iteration, {unit_id} AS unit_id, {unit_type} AS unit_type, variant, allocation_share, t
  FROM vario_src WHERE type = 'exposure' AND experiment_key = {quote(key)}
) e
WHERE unit_id IS NOT NULL AND unit_type IN ('user', 'session')
GROUP BY iteration, unit_id
"""


ITERATIONS_SQL = "SELECT iteration, count(*) AS units FROM vario_units GROUP BY iteration ORDER BY iteration"


def meta_sql(iteration: int) -> str:
    """Per variant: kept and excluded units and the latest first exposure's allocation share."""
    return f"""
SELECT variant,
       sum(CASE WHEN variants = 1 THEN 1 ELSE 0 END) AS kept,
       sum(CASE WHEN variants > 1 THEN 1 ELSE 0 END) AS excluded,
       max_by(share, t0) AS share,
       min(unit_type) AS unit_type_min, max(unit_type) AS unit_type_max
FROM vario_units WHERE iteration = {iteration} GROUP BY variant ORDER BY variant
"""


def daily_sql(iteration: int) -> str:
    """New kept units per UTC day and variant (the day of the unit's first exposure)."""
    return f"""
SELECT CAST(floor(t0 / 86400000.0) AS BIGINT) AS day, variant, count(*) AS units
FROM vario_units WHERE iteration = {iteration} AND variants = 1 GROUP BY 1, 2 ORDER BY 1, 2
"""


def _src_projection(available: Iterable[str], dialect: Dialect, from_: str) -> str:
    have = set(available)
    missing = [c for c in REQUIRED if c not in have]
    if missing:
        raise ValueError(f"the events lack the column(s) {', '.join(missing)} (contract/events.md)")
    spark_types = {"VARCHAR": "STRING", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE"}
    cols = []
    for c, ty in COLUMNS.items():
        if c in ("timestamp", "decided_at"):
            continue
        sql_ty = ty if dialect.name == "duckdb" else spark_types[ty]
        alias = dialect.ident(c)
        cols.append(f"CAST({dialect.ident(c)} AS {sql_ty}) AS {alias}" if c in have else f"CAST(NULL AS {sql_ty}) AS {alias}")
    # An exposure's moment is its decision (`decided_at`): under a backlog the SDK logs it later,
    # and an outcome in between happened after the visitor saw the variant. Outcomes have none.
    t = dialect.epoch_ms(dialect.ident("timestamp"))
    if "decided_at" in have:
        t = f"coalesce({dialect.epoch_ms(dialect.ident('decided_at'))}, {t})"
    cols.append(f"{t} AS t")
    return f"SELECT {', '.join(cols)} FROM {from_}"


class DuckDbRunner:
    """Runs the queries in an in-process DuckDB (JSONL and Parquet read out of core)."""

    def __init__(self, events: Any, *, memory_limit: str | None, threads: int | None) -> None:
        try:
            import duckdb
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("vario.analysis.analyze needs duckdb: pip install 'vario[analysis]'") from e
        self._tmp = tempfile.TemporaryDirectory(prefix="vario-analysis-")
        self.con = duckdb.connect(config={"temp_directory": self._tmp.name})
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {duck_literal(memory_limit)}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # The engine keeps no insertion order it is not asked for; that frees memory on big joins.
        self.con.execute("SET preserve_insertion_order = false")
        # A library call writes nothing to the caller's stdout (DuckDB draws a progress bar there
        # on long queries, which corrupts a script's own output).
        self.con.execute("SET enable_progress_bar = false")
        dialect = Dialect("duckdb")
        source, materialise = self._source(events)
        cols = [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        projection = _src_projection(cols, dialect, source)
        if materialise:
            # JSON is parsed once, into a columnar table of the rows an analysis can use; the
            # two passes below then read that table instead of parsing the file again.
            self.con.execute(
                f"CREATE TEMP TABLE vario_src AS SELECT * FROM ({projection}) s "
                "WHERE type = 'exposure' OR (type = 'outcome' AND event_type IS NOT NULL)"
            )
        else:
            self.con.execute(f"CREATE TEMP VIEW vario_src AS {projection}")

    def _source(self, events: Any) -> tuple[str, bool]:
        """A FROM clause for ``events`` and whether to materialise it (JSON is)."""
        if isinstance(events, (str, os.PathLike)) or (
            isinstance(events, (list, tuple)) and events and all(isinstance(e, (str, os.PathLike)) for e in events)
        ):
            paths = [str(events)] if isinstance(events, (str, os.PathLike)) else [str(e) for e in events]
            expanded: list[str] = []
            for p in paths:
                if os.path.isdir(p):
                    expanded.extend(str(q) for q in sorted(Path(p).iterdir()) if q.is_file())
                else:
                    expanded.append(p)
            if not expanded:
                raise ValueError(f"no event files in {paths}")
            lst = "[" + ", ".join(duck_literal(p) for p in expanded) + "]"
            if all(_is_parquet(p) for p in expanded):
                return f"read_parquet({lst}, union_by_name = true)", False
            cols = "{" + ", ".join(f"{duck_literal(c)}: {duck_literal(t)}" for c, t in COLUMNS.items()) + "}"
            return f"read_json({lst}, format = 'newline_delimited', columns = {cols})", True
        # A pandas or polars DataFrame, an Arrow table, dataset or record batch reader: scanned
        # in place by DuckDB.
        self.con.register("vario_input", events)
        return "vario_input", False

    def run(self, sql: str) -> list[dict[str, Any]]:
        cur = self.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def materialise_units(self, select: str) -> None:
        self.con.execute(f"CREATE TEMP TABLE vario_units AS {select}")

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()


class SparkRunner:
    """Runs the same queries on a PySpark DataFrame (for logs that outgrow one machine)."""

    def __init__(self, df: Any) -> None:
        self.spark = df.sparkSession
        df.createOrReplaceTempView("vario_input")
        projection = _src_projection(df.columns, Dialect("spark"), "vario_input")
        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW vario_src AS {projection}")

    def run(self, sql: str) -> list[dict[str, Any]]:
        return [r.asDict() for r in self.spark.sql(sql).collect()]

    def materialise_units(self, select: str) -> None:
        self.spark.sql(f"CACHE TABLE vario_units AS {select}")

    def close(self) -> None:
        self.spark.sql("UNCACHE TABLE IF EXISTS vario_units")
        self.spark.catalog.dropTempView("vario_src")
        self.spark.catalog.dropTempView("vario_input")


def _is_parquet(p: str) -> bool:
    return p.endswith((".parquet", ".pq", ".parq"))


def is_spark_dataframe(obj: Any) -> bool:
    """True for a PySpark DataFrame (classic or Connect) without importing pyspark."""
    return any(c.__module__.startswith("pyspark.sql") and c.__name__ == "DataFrame" for c in type(obj).__mro__)
