"""Backtest on Spark: replay a traffic log through the snapshot versions that were live.

Builds a three-version history from examples/snapshot.json (the PDP experiment's traffic ramped
20 % → 60 % → 100 %, one version a day), a synthetic log of N visits (default 200,000) spread
over the three days, and assigns it with `vario.spark.assign` (Spark in local mode, `mapInArrow`,
one compiled history per executor process). Checks the result equals the in-process
`SnapshotHistory.decide_arrow` row by row and prints the enrolled share per version.
Usage: python examples/python/backtest_spark.py [rows]
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

import pyarrow as pa
import vario
import vario.spark

ROOT = pathlib.Path(__file__).resolve().parents[2]
DAY = 86_400_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00:00Z
PLACEMENT = "pdp_you_may_also_like"


def history_texts() -> list[tuple[str, int]]:
    base = json.loads((ROOT / "examples" / "snapshot.json").read_text())
    texts = []
    for i, traffic in enumerate((20, 60, 100)):
        doc = json.loads(json.dumps(base))
        doc["version"] = 100 + i
        for e in doc["experiments"]:
            if PLACEMENT in e.get("placements", []):
                e.setdefault("allocation", {})["traffic"] = traffic
        texts.append((json.dumps(doc), T0 + i * DAY))
    return texts


def main(rows: int) -> None:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("vario-backtest")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    texts = history_texts()
    log = pa.table(
        {
            "visit": pa.array(range(rows), pa.int64()),
            "user_id": pa.array([f"visitor-{i % (rows // 3 + 1)}" for i in range(rows)]),
            "ts": pa.array([T0 + (i * 3 * DAY) // rows for i in range(rows)], pa.int64()),
        }
    )
    df = spark.createDataFrame(log.to_pandas()).repartition(2)
    started = time.perf_counter()
    out = vario.spark.assign(df, history=texts, at="ts", context={"placement": PLACEMENT, "page_type": "pdp"}).toArrow()
    spark_s = time.perf_counter() - started
    h = vario.SnapshotHistory.from_texts(texts)
    want = h.decide_arrow(log["user_id"], log["ts"], context={"placement": PLACEMENT, "page_type": "pdp"})
    got = out.sort_by("visit")
    for name, _ in vario.spark.OUTPUT_COLUMNS:
        w = want[name].cast(pa.string()) if pa.types.is_dictionary(want.schema.field(name).type) else want[name]
        if got[name].to_pylist() != w.to_pylist():
            raise SystemExit(f"Spark and in-process disagree on {name}")
    print(f"{rows:,} visits assigned on Spark in {spark_s:.1f} s ({rows / spark_s / 1e3:,.0f} k rows/s), equal to the in-process replay")
    for v in h.versions:
        rows_v = [r for r, cv in zip(got["reason"].to_pylist(), got["config_version"].to_pylist()) if cv == v]
        enrolled = sum(r == "ASSIGNED" for r in rows_v) / max(1, len(rows_v))
        print(f"  version {v}: {len(rows_v):,} visits, {enrolled:.1%} assigned")
    spark.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
