"""Bulk decisions on a PySpark DataFrame: `assign` (issue 18).

The snapshot (or the history's snapshots) travels to the executors as JSON text inside the task
closure, is compiled once per executor Python process (cached by its hash) and decides each
Arrow batch Spark hands to `mapInArrow` through `decide_arrow`: ids are never turned into Python
objects. Needs PySpark ≥ 3.3 (`mapInArrow`) and pyarrow on the executors.

Spark has no dictionary or unsigned Arrow types, so the output columns are decoded: strings for
`experiment_key`, `variant`, `reason`, `unit_type`; `int` for `bucket`, `long` for
`config_version`.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

__all__ = ["assign", "OUTPUT_COLUMNS"]

#: The columns `assign` adds, with their Spark SQL types.
OUTPUT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("experiment_key", "string"),
    ("variant", "string"),
    ("bucket", "int"),
    ("reason", "string"),
    ("unit_type", "string"),
    ("allocation_share", "double"),
    ("config_version", "long"),
)

HistoryTexts = Sequence[Union[str, tuple[str, Any]]]

# Per executor process: the compiled snapshot or history of each spec, by the hash of its texts.
_compiled: dict[str, Any] = {}


def _decider(key: str, snapshot: Optional[str], history: Optional[HistoryTexts]) -> Any:
    import vario

    d = _compiled.get(key)
    if d is None:
        d = vario.Snapshot.from_json(snapshot) if snapshot is not None else vario.SnapshotHistory.from_texts(list(history or []))
        _compiled.clear()  # one spec at a time per process: a long session does not pile them up
        _compiled[key] = d
    return d


def _spark_ready(table: Any) -> list[Any]:
    """The decision table's columns in the types Spark's Arrow reader accepts."""
    pa: Any = importlib.import_module("pyarrow")
    want = {
        "experiment_key": pa.string(),
        "variant": pa.string(),
        "bucket": pa.int32(),
        "reason": pa.string(),
        "unit_type": pa.string(),
        "allocation_share": pa.float64(),
        "config_version": pa.int64(),
    }
    return [table.column(name).cast(want[name]).combine_chunks() for name, _ in OUTPUT_COLUMNS]


def assign(
    df: Any,
    *,
    context: Mapping[str, Any],
    snapshot: Optional[str] = None,
    history: Optional[HistoryTexts] = None,
    user_id: str = "user_id",
    session_id: Optional[str] = None,
    at: Optional[str] = None,
    context_columns: Optional[Mapping[str, str]] = None,
    now: Any = None,
) -> Any:
    """`df` with the decision columns (`OUTPUT_COLUMNS`) added to every row.

    - `snapshot`: snapshot JSON text; or `history`: texts as `SnapshotHistory.from_texts` takes
      them (then `at`, a timestamp or ms column, is required and each row is decided by the
      version live at its time).
    - `context`: attributes for every row, with the `placement`; `context_columns`: attribute →
      column name, for per-row attributes (a country, an app version).
    - `user_id`, `session_id`: the id columns (string); `now`: the instant for every row when
      there is no `at` (int ms, datetime or RFC 3339; default: the time of the call, fixed once
      here so every executor uses the same one).
    """
    import time

    import vario

    if (snapshot is None) == (history is None):
        raise vario.InvalidRequestError("pass exactly one of `snapshot` (JSON text) or `history` (texts)")
    if history is not None and at is None:
        raise vario.InvalidRequestError("a history decides each row at its time: pass `at` (a column name)")
    # The cache key covers the instants given beside texts too: same texts, other times, other history.
    texts = [snapshot] if snapshot is not None else [t if isinstance(t, str) else f"{t[0]}\x00{t[1]!r}" for t in history or []]
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    # Fail on the driver, with the engine's error, before any task is scheduled.
    _decider(digest, snapshot, history)
    fixed = dict(context)
    columns = dict(context_columns or {})
    fixed_now = now if now is not None else int(time.time() * 1000)

    st: Any = importlib.import_module("pyspark.sql.types")
    spark_types = {"string": st.StringType(), "int": st.IntegerType(), "double": st.DoubleType(), "long": st.LongType()}
    schema = st.StructType(list(df.schema.fields) + [st.StructField(n, spark_types[t], True) for n, t in OUTPUT_COLUMNS])

    def decide(batches: Iterator[Any]) -> Iterator[Any]:
        pa: Any = importlib.import_module("pyarrow")
        d = _decider(digest, snapshot, history)
        for b in batches:
            ctx = dict(fixed)
            for attr, col in columns.items():
                ctx[attr] = b.column(col)
            sessions = b.column(session_id) if session_id else None
            if history is not None:
                t = d.decide_arrow(b.column(user_id), b.column(at), session_ids=sessions, context=ctx)
            else:
                t = d.decide_arrow(
                    b.column(user_id), session_ids=sessions, context=ctx, now=fixed_now, at=b.column(at) if at else None
                )
            yield pa.RecordBatch.from_arrays(list(b.columns) + _spark_ready(t), schema=_arrow_schema(b.schema))

    return df.mapInArrow(decide, schema)


def _arrow_schema(input_schema: Any) -> Any:
    pa: Any = importlib.import_module("pyarrow")
    types = {"string": pa.string(), "int": pa.int32(), "double": pa.float64(), "long": pa.int64()}
    fields = list(input_schema) + [pa.field(n, types[t], nullable=True) for n, t in OUTPUT_COLUMNS]
    return pa.schema(fields)
