"""Backtest throughput (issue 18): Arrow and list bulk decisions, a pure-Python loop, and Spark.

    python benches/backtest/bench.py [--quick] [--out FILE]

Each row runs in a fresh child process, so "first call" means it: no warm-up, fresh output
buffers. Rows:
- `arrow`: one `Snapshot.decide_arrow` over 10 M ids in an Arrow string column built by Arrow
  (no Python str per id); peak memory is sampled every 2 ms during the call by a thread (the call
  releases the GIL), and compared with the input + output size;
- `list`: one `Snapshot.decide_many` over a list of 1 M str;
- `python_loop`: `Snapshot.decide` per id in a Python loop (200 k ids), the baseline an analyst
  without a bulk API writes;
- `spark`: `vario.spark.assign` over 20 M rows in local mode on 2 cores, and the same job with
  a pass-through `mapInArrow` that adds constant columns of the same types (Spark's Arrow
  transfer alone): vario's share is the difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "examples" / "snapshot.json"
PDP = {"placement": "pdp_you_may_also_like", "page_type": "pdp", "locale": "en-GB"}
NOW = 1_793_491_200_000


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def arrow_ids(n: int):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise("visitor-", pc.cast(pa.array(range(n), pa.int64()), pa.string()), "")


def row_arrow(n: int) -> dict:
    import vario

    snap = vario.Snapshot.from_file(SNAPSHOT)
    ids = arrow_ids(n)
    base = rss_mib()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib())
            time.sleep(0.002)

    t = threading.Thread(target=sample)
    t.start()
    started = time.perf_counter()
    table = snap.decide_arrow(ids, context=PDP, now=NOW)
    wall = time.perf_counter() - started
    done.set()
    t.join()
    peak[0] = max(peak[0], rss_mib())
    in_mib, out_mib = ids.nbytes / 2**20, table.nbytes / 2**20
    return {"rows": n, "wall_s": wall, "per_s": n / wall, "input_mib": in_mib, "output_mib": out_mib,
            "rise_mib": peak[0] - base, "rise_over_io": (peak[0] - base) / (in_mib + out_mib)}


def row_list(n: int) -> dict:
    import vario

    snap = vario.Snapshot.from_file(SNAPSHOT)
    ids = [f"visitor-{i}" for i in range(n)]
    started = time.perf_counter()
    snap.decide_many(ids, context=PDP, now=NOW)
    wall = time.perf_counter() - started
    return {"rows": n, "wall_s": wall, "per_s": n / wall}


def row_python_loop(n: int) -> dict:
    import vario

    snap = vario.Snapshot.from_file(SNAPSHOT)
    ids = [f"visitor-{i}" for i in range(n)]
    started = time.perf_counter()
    for u in ids:
        snap.decide({"user_id": u, "context": PDP}, now=NOW).variant
    wall = time.perf_counter() - started
    return {"rows": n, "wall_s": wall, "per_s": n / wall}


def row_spark(n: int) -> dict:
    import pyarrow as pa
    import vario.spark
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("vario-backtest-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.range(n).selectExpr("concat('visitor-', id) as user_id").repartition(2).cache()
    df.count()
    text = SNAPSHOT.read_text()
    out = vario.spark.assign(df, snapshot=text, context=PDP, now=NOW)
    started = time.perf_counter()
    out.write.format("noop").mode("overwrite").save()
    vario_s = time.perf_counter() - started
    schema = out.schema
    arrow_schema = vario.spark._arrow_schema(pa.schema([pa.field("user_id", pa.string())]))

    def passthrough(batches):  # type: ignore[no-untyped-def]
        import pyarrow as pa

        for b in batches:
            m = b.num_rows
            extra = [pa.nulls(m, f.type) for f in arrow_schema][1:]
            yield pa.RecordBatch.from_arrays(list(b.columns) + extra, schema=arrow_schema)

    started = time.perf_counter()
    df.mapInArrow(passthrough, schema).write.format("noop").mode("overwrite").save()
    transfer_s = time.perf_counter() - started
    spark.stop()
    return {"rows": n, "wall_s": vario_s, "per_s": n / vario_s, "transfer_only_s": transfer_s,
            "vario_share": max(0.0, (vario_s - transfer_s) / vario_s)}


ROWS = {"arrow": row_arrow, "list": row_list, "python_loop": row_python_loop, "spark": row_spark}


def main() -> None:
    quick = "--quick" in sys.argv
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(ROWS[sys.argv[2]](int(sys.argv[3]))))
        return
    sizes = {"arrow": 10_000_000, "list": 1_000_000, "python_loop": 200_000, "spark": 20_000_000}
    if quick:
        sizes = {k: v // 20 for k, v in sizes.items()}
    out: dict = {"quick": quick}
    for name, n in sizes.items():
        r = subprocess.run([sys.executable, __file__, "--child", name, str(n)], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{name}: {r.stderr[-3000:]}")
        out[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"backtest {name}: {out[name]}")
    if "--out" in sys.argv:
        Path(sys.argv[sys.argv.index("--out") + 1]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
