"""vario.spark.assign: a PySpark DataFrame (local mode, Java from Debian's packages) assigned
through mapInArrow must equal the in-process `decide_arrow` on the same rows, for a snapshot and
for a history replay, with per-row context columns.

Skipped only outside CI: with VARIO_REQUIRE_SERVICES=1 (the test command sets it) a missing
pyspark or Java fails the test.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
import vario

from conftest import SNAPSHOT
from test_arrow import T1, T2, T3, ms, versioned

NOW = 1_793_491_200_000
PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp"}


def by_row(table: Any, key: str) -> dict[Any, tuple]:
    cols = [n for n, _ in vario.spark.OUTPUT_COLUMNS]
    data = table.to_pydict()
    return {data[key][i]: tuple(data[c][i] for c in cols) for i in range(len(data[key]))}


def test_a_200k_row_dataframe_equals_the_in_process_result(spark: Any) -> None:
    import vario.spark

    n = 200_000
    users = [None if i % 997 == 0 else f"spark-user-{i}" for i in range(n)]
    locales = [("en-GB", "de-DE", None)[i % 3] for i in range(n)]
    local = pa.table({"row": pa.array(range(n), pa.int64()), "user_id": pa.array(users), "locale": pa.array(locales)})
    df = spark.createDataFrame(local.to_pandas()).repartition(4)
    text = SNAPSHOT.read_text()
    out = vario.spark.assign(df, snapshot=text, context=PDP, context_columns={"locale": "locale"}, now=NOW)
    got = out.toArrow()
    assert got.num_rows == n
    snap = vario.Snapshot.from_json(text)
    want = snap.decide_arrow(local["user_id"], context={**PDP, "locale": local["locale"]}, now=NOW)
    want = want.append_column("row", local["row"])
    for name, _ in vario.spark.OUTPUT_COLUMNS:
        if pa.types.is_dictionary(want.schema.field(name).type):
            want = want.set_column(want.schema.get_field_index(name), name, want[name].cast(pa.string()))
    assert by_row(got, "row") == by_row(want, "row")


def test_a_history_replay_on_spark(spark: Any) -> None:
    import vario.spark

    texts = [versioned(1, T1, 20), versioned(2, T2, 60), versioned(3, T3, 100)]
    n = 30_000
    times = [ms(T1) - 1, ms(T1), ms(T2), ms(T3) + 5]
    local = pa.table(
        {
            "row": pa.array(range(n), pa.int64()),
            "user_id": pa.array([f"h-{i}" for i in range(n)]),
            "ts": pa.array([times[i % 4] for i in range(n)], pa.int64()),
        }
    )
    df = spark.createDataFrame(local.to_pandas())
    out = vario.spark.assign(df, history=texts, at="ts", context={"placement": "home"})
    got = out.toArrow()
    h = vario.SnapshotHistory.from_texts(texts)
    want = h.decide_arrow(local["user_id"], local["ts"], context={"placement": "home"}).append_column("row", local["row"])
    for name, _ in vario.spark.OUTPUT_COLUMNS:
        if pa.types.is_dictionary(want.schema.field(name).type):
            want = want.set_column(want.schema.get_field_index(name), name, want[name].cast(pa.string()))
    g, w = by_row(got, "row"), by_row(want, "row")
    assert g == w
    assert {v[-1] for v in g.values()} == {None, 1, 2, 3}


def test_refusals_happen_on_the_driver(spark: Any) -> None:
    import vario.spark

    df = spark.createDataFrame([("a",)], ["user_id"])
    with pytest.raises(vario.SnapshotError):
        vario.spark.assign(df, snapshot="{not json", context={"placement": "home"})
    with pytest.raises(vario.InvalidRequestError):
        vario.spark.assign(df, history=[versioned(1, T1, 20)], context={"placement": "home"})
    with pytest.raises(vario.InvalidRequestError):
        vario.spark.assign(df, context={"placement": "home"})
