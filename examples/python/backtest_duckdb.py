"""Backtest with DuckDB: SQL in, decisions as Arrow, SQL again for the split.

DuckDB generates (or would read from Parquet) a log of N visitors (default 1,000,000) with a
country column; `decide_arrow` decides them with the country as a per-row targeting attribute
(ids and countries are read in place, no Python object per row); DuckDB then scans the
decisions' Arrow table to count the split. Usage: python examples/python/backtest_duckdb.py [rows]
"""

from __future__ import annotations

import pathlib
import sys
import time

import duckdb
import vario

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main(rows: int) -> None:
    con = duckdb.connect()
    visits = con.sql(
        f"""select 'visitor-' || i::varchar as user_id,
                   (['GB', 'DE', 'FR', 'US'])[1 + (i % 4)::int] as country
            from range({rows}) t(i)"""
    ).to_arrow_table()
    snap = vario.Snapshot.from_file(ROOT / "examples" / "snapshot.json")
    started = time.perf_counter()
    decisions = snap.decide_arrow(
        visits["user_id"],
        context={"placement": "pdp_you_may_also_like", "page_type": "pdp", "country": visits["country"]},
        now="2026-11-01T00:00:00Z",
    )
    took = time.perf_counter() - started
    print(f"{rows:,} visitors decided in {took:.2f} s ({rows / took / 1e6:.1f} M/s)")
    con.register("decisions", decisions)
    for variant, reason, n in con.sql(
        "select variant, reason, count(*) from decisions group by all order by 3 desc"
    ).fetchall():
        print(f"  {variant or '-':<12} {reason:<14} {n:>10,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
