"""vario.analysis.analyze on a PySpark DataFrame (Spark in local mode, Java from Debian's packages):
the same SQL as DuckDB's, run by Spark, must give the same answer on the same log.

Skipped only outside CI: with VARIO_REQUIRE_SERVICES=1 (the test command sets it) a missing
pyspark or Java fails the test.
"""

from __future__ import annotations

from pathlib import Path

from vario.analysis import analyze

import synthetic_log as sl
from test_analyze import METRICS, assert_same


def test_spark_gives_the_duckdb_answer(spark: object, tmp_path: Path) -> None:
    events, truth = sl.generate(8_000, seed=5, drop_treatment=0.1)
    path = tmp_path / "events.jsonl"
    sl.write_jsonl(events, str(path))
    want = analyze(path, sl.KEY, metrics=METRICS, covariates="pre_period")
    df = spark.read.json(str(path))  # type: ignore[attr-defined]
    got = analyze(df, sl.KEY, metrics=METRICS, covariates="pre_period")
    assert got.engine == "spark"
    assert got.units == {arm: len(truth.arms[arm]["carts"]) for arm in ("control", "treatment")}
    assert_same(got, want)


# Quotes, backslashes and what an injection would look like: each engine must read them back as
# given (Spark escapes with backslashes inside literals, DuckDB does not).
NASTY = ["", "plain", "it's", "a\\b", "x\\' OR 1=1 --", "''", "é ü 漢", "'", "\\", "tab\there"]


def test_strings_reach_both_engines_as_given(spark: object) -> None:
    import duckdb

    from vario._aggregate import quote

    for s in NASTY:
        assert duckdb.sql(f"SELECT {quote(s)} AS v").fetchall()[0][0] == s, s
        assert spark.sql(f"SELECT {quote(s)} AS v").collect()[0]["v"] == s, s  # type: ignore[attr-defined]
