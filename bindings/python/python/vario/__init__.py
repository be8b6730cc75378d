"""Vario: in-process experiment decisions, backed by the Rust engine.

Pure API (backtests)::

    import vario
    snap = vario.Snapshot.from_file("snapshot.json")
    d = snap.decide({"user_id": "u-42", "context": {"placement": "home"}}, now=1_760_000_000_000)
    batch = snap.decide_many(user_ids, context={"placement": "home"})

Live API::

    with vario.Client(config_url=..., ingest_url=..., sdk_key=...) as client:
        client.wait_for_init(3.0)
        d = client.decide({"user_id": "u-42", "context": {"placement": "home"}})

Forked children (gunicorn preload, multiprocessing with fork) get fresh background threads and
HTTP connections automatically; clients still open at interpreter exit are closed (events
flushed) by an ``atexit`` hook.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING, Any

from ._vario import (
    ClosedError,
    Decision,
    DecisionBatch,
    ErrorCode,
    FlagDecision,
    FlagReason,
    InterleaveMethod,
    Interleaving,
    InternalError,
    InvalidRequestError,
    OptionsError,
    PanicError,
    QueueFullError,
    Reason,
    Snapshot,
    SnapshotError,
    SnapshotHistory,
    SnapshotFileError,
    Team,
    TimeoutError,
    TokenError,
    UnitType,
    VarioError,
    Winner,
    __version__,
    bucket,
    credit,
    credit_record,
    digest,
    interleave,
    pseudonymize,
    winner,
)
from ._vario import Client as _NativeClient

__all__ = [
    "Client",
    "ClosedError",
    "Decision",
    "DecisionBatch",
    "ErrorCode",
    "FlagDecision",
    "FlagReason",
    "InterleaveMethod",
    "Interleaving",
    "InternalError",
    "InvalidRequestError",
    "OptionsError",
    "PanicError",
    "QueueFullError",
    "Reason",
    "Snapshot",
    "SnapshotError",
    "SnapshotHistory",
    "SnapshotFileError",
    "Team",
    "TimeoutError",
    "TokenError",
    "UnitType",
    "VarioError",
    "Winner",
    "__version__",
    "bucket",
    "credit",
    "credit_record",
    "digest",
    "interleave",
    "pseudonymize",
    "winner",
]

_live: "weakref.WeakSet[Client]" = weakref.WeakSet()


class Client(_NativeClient):
    """The live client: decisions on the current snapshot, events delivered in the background.

    Exactly one config source: ``config_url`` (polled with ETags), ``config_path`` (a file,
    re-read when it changes) or ``bootstrap`` (snapshot JSON text). Without ``ingest_url``,
    events are appended to ``sink_path`` (default ``vario-events.jsonl``). The keywords are the
    runtime's option keys (``vario._vario._option_keys()``); durations are seconds, named without
    ``_ms`` (``poll_interval=0.5``). An unknown keyword, a value of the wrong type or an invalid
    value raises ``OptionsError``.
    Decisions never block; before the first snapshot they return ``NO_CONFIG`` with
    ``default_params`` for the placement. Use it as a context manager, or call ``close()``;
    clients left open are closed at interpreter exit.
    """

    # Type checkers see the native `__new__` and its typed keywords (the stubs): an `__init__`
    # here would stand in for them, so it is defined for the interpreter only.
    if not TYPE_CHECKING:

        def __init__(self, **options: Any) -> None:
            # The native constructor already validated and started everything; only
            # registration for the fork and exit hooks is left.
            _live.add(self)


def _after_fork_in_child() -> None:
    for c in list(_live):
        try:
            c.after_fork()
        except VarioError:  # pragma: no cover - the next call retries
            pass


def _close_at_exit() -> None:
    for c in list(_live):
        try:
            c.close(2.0)
        except VarioError:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
