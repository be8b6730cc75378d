"""Type stubs of the native module (checked against it by mypy's stubtest in the test suite)."""

from datetime import datetime
from os import PathLike
from types import MappingProxyType
from typing import Any, Iterable, Literal, Mapping, Optional, Protocol, Sequence, Union, final

from typing_extensions import disjoint_base

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "bucket",
    "digest",
    "pseudonymize",
    "interleave",
    "credit",
    "credit_record",
    "winner",
    "_debug_panic",
    "_code_tables",
    "_option_keys",
    "_compare",
    "_compare_pair",
    "_srm",
    "_adjust",
    "_preference",
    "_off_policy",
    "_sequential_bounds",
    "_mde",
    "Reason",
    "FlagReason",
    "UnitType",
    "ErrorCode",
    "InterleaveMethod",
    "Team",
    "Winner",
    "Snapshot",
    "SnapshotHistory",
    "Decision",
    "FlagDecision",
    "DecisionBatch",
    "Client",
    "Interleaving",
    "VarioError",
    "InvalidRequestError",
    "SnapshotError",
    "SnapshotFileError",
    "OptionsError",
    "TokenError",
    "TimeoutError",
    "ClosedError",
    "QueueFullError",
    "InternalError",
    "PanicError",
]

__version__: str

# The names of the core's code tables (`vario_core::codes`). At run time each alias is the
# equivalent `Union` of one-member `Literal`s, built from the same tables.
# BEGIN GENERATED: vario codes (do not edit; VARIO_BLESS=1 regenerates)
Reason = Literal[
    "NO_CONFIG",
    "UNKNOWN_PLACEMENT",
    "OPTED_OUT",
    "FORCED",
    "SHIPPED",
    "OVERRIDE",
    "ASSIGNED",
    "NO_EXPERIMENT",
    "NOT_RUNNING",
    "NOT_STARTED",
    "ENDED",
    "MISSING_UNIT",
    "HOLDOUT",
    "TARGETING_MISS",
    "LAYER_MISS",
    "TRAFFIC_MISS",
    "CONFIG_ERROR",
]
FlagReason = Literal[
    "FLAG_NOT_FOUND",
    "CONFIG_ERROR",
    "KILL_SWITCH",
    "DISABLED",
    "OVERRIDE",
    "TARGET_MATCH",
    "GRADUAL",
    "CANARY",
    "DEFAULT",
]
UnitType = Literal[
    "user",
    "session",
]
ErrorCode = Literal[
    "NULL_ARGUMENT",
    "INVALID_UTF8",
    "INVALID_REQUEST",
    "NOT_JSON",
    "SCHEMA_VERSION",
    "INVALID_SNAPSHOT",
    "VERSION_REGRESSION",
    "INVALID_OPTIONS",
    "TIMEOUT",
    "CLOSED",
    "TOKEN_MALFORMED",
    "TOKEN_VERSION",
    "TOKEN_PAYLOAD",
    "TOKEN_UNSIGNED",
    "TOKEN_SIGNATURE",
    "TOKEN_KEY_UNAVAILABLE",
    "QUEUE_FULL",
    "INTERNAL",
    "PANIC",
    "SNAPSHOT_SIGNATURE",
]
InterleaveMethod = Literal[
    "team_draft",
    "balanced",
]
Team = Literal[
    "a",
    "b",
]
Winner = Literal[
    "a",
    "b",
    "tie",
    "none",
]
# END GENERATED

_Now = Union[int, str, datetime, None]
_Ids = Union[Sequence[Optional[str]], npt.NDArray[Any], Iterable[Optional[str]]]

class _ArrowArrayLike(Protocol):
    def __arrow_c_array__(self, requested_schema: Any = ...) -> tuple[Any, Any]: ...

class _ArrowStreamLike(Protocol):
    def __arrow_c_stream__(self, requested_schema: Any = ...) -> Any: ...

# An Arrow column through the PyCapsule interface: a pyarrow Array or ChunkedArray, a Polars
# Series, a DuckDB or nanoarrow result.
_Arrow = Union[_ArrowArrayLike, _ArrowStreamLike]

# Every exception raised carries `code`, a name of the core's `ErrorCode` table, and is the class
# of that code's `ErrorClass` (NULL_ARGUMENT and INVALID_UTF8, C's, are InvalidRequestError here).
class VarioError(Exception):
    """Base class of every error raised by vario; `code` says why."""

    code: ErrorCode

class InvalidRequestError(VarioError, ValueError):
    """A request, outcome or argument value was malformed (`INVALID_REQUEST`), including values
    Python cannot hand over (a str with a lone surrogate, an int too large for JSON): the Python
    error is the `__cause__`."""

class SnapshotError(VarioError):
    """A snapshot was rejected whole: `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`, or
    `VERSION_REGRESSION` (`Client.update_snapshot` of a lower version), or `SNAPSHOT_SIGNATURE`
    (`snapshot_public_key` is set and the snapshot is not signed with the matching key)."""

class SnapshotFileError(SnapshotError, OSError):
    """`Snapshot.from_file` could not read the file. The core has no I/O code: `code` is
    `NOT_JSON` (no JSON object could be read), and as an `OSError` it has `errno`, `strerror` and
    `filename`, so `except OSError` catches it as it would `open()`'s error."""

class OptionsError(VarioError):
    """Client options were invalid (`INVALID_OPTIONS`)."""

class TokenError(VarioError):
    """An exposure token was refused (`TOKEN_*`)."""

class TimeoutError(VarioError):
    """An operation did not finish within its timeout (`TIMEOUT`)."""

class ClosedError(VarioError):
    """The client is closed (`CLOSED`)."""

class QueueFullError(VarioError):
    """The event queue was full (`QUEUE_FULL`). Not raised today: `track` and `expose` return
    False instead."""

class InternalError(VarioError):
    """Vario could not do what it needed (`INTERNAL`, e.g. a background thread did not start)."""

class PanicError(InternalError):
    """A bug: a Rust panic caught inside vario (`PANIC`). Please report the message."""

def bucket(unit_id: str, key: str, salt: str, seed: int = 0) -> int: ...
def digest(unit_id: str, key: str, salt: str, seed: int = 0) -> int: ...
def pseudonymize(unit_id: str, key: Optional[str] = None) -> str: ...
@final
class Interleaving:
    """What `interleave` returns: the merged `items` and the `teams` ("a"/"b") per position."""
    @property
    def method(self) -> InterleaveMethod: ...
    @property
    def items(self) -> list[str]: ...
    @property
    def teams(self) -> list[Team]: ...
    def record(self) -> dict[str, Any]:
        """The exposure's `interleaving` field: method, teams, and for balanced `ranks` {a, b}."""
    def __len__(self) -> int: ...

def interleave(
    method: InterleaveMethod,
    a: Iterable[str],
    b: Iterable[str],
    unit_id: str,
    key: str,
    salt: str,
    query: str = "",
    length: Optional[int] = None,
    seed: int = 0,
) -> Interleaving:
    """Merges rankings `a` and `b` (SPEC §10): the same inputs give the same list on every surface."""

def credit(
    method: InterleaveMethod, a: Iterable[str], b: Iterable[str], teams: Iterable[Team], clicks: Iterable[int]
) -> dict[Team, int]:
    """Credited clicks per ranking (`{"a": n, "b": m}`) on the list that `teams` rebuilds."""

def credit_record(record: Mapping[str, Any], clicks: Iterable[int]) -> dict[Team, int]:
    """Credited clicks per ranking from a logged record (an exposure's `interleaving`) alone."""

def winner(credit: Mapping[Team, int] | Mapping[str, int]) -> Winner:
    """`"a"`, `"b"`, `"tie"` or `"none"` (no clicks) for one impression's credit."""

def _compare(
    control: tuple[float, float, float], treatment: tuple[float, float, float], alpha: float
) -> dict[str, Any]: ...
def _compare_pair(
    control: tuple[float, float, float, float, float, float],
    treatment: tuple[float, float, float, float, float, float],
    alpha: float,
    kind: str,
) -> dict[str, Any]: ...
def _srm(observed: Sequence[int], weights: Sequence[float], alpha: float) -> dict[str, Any]: ...
def _adjust(p_values: Sequence[float], method: str) -> list[float]: ...
def _preference(wins_a: int, wins_b: int, ties: int, alpha: float) -> dict[str, Any]: ...
def _off_policy(
    sums: tuple[float, float, float, float, float, float, float, float], alpha: float, with_dr: bool
) -> dict[str, Any]: ...
def _sequential_bounds(fractions: Sequence[float], alpha: float, spending: str) -> list[float]: ...
def _mde(n_per_arm: float, variance: float, alpha: float, power: float) -> float: ...
def _debug_panic() -> None: ...
def _code_tables() -> dict[str, list[str]]: ...
def _option_keys() -> tuple[list[str], list[str]]:
    """The runtime's option keys and, of them, the durations in milliseconds (JSON names:
    `vario::host::OPTION_KEYS`, `DURATION_KEYS`). `Client.__new__`'s keywords are these, each
    duration in seconds under its name without `_ms` (checked by `tests/test_stubs.py`)."""

@final
class Decision:
    @property
    def placement(self) -> str: ...
    @property
    def experiment_id(self) -> Any: ...
    @property
    def experiment_key(self) -> Optional[str]: ...
    @property
    def variant(self) -> Optional[str]: ...
    @property
    def params(self) -> MappingProxyType[str, Any]: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def unit_type(self) -> Optional[UnitType]: ...
    @property
    def bucket(self) -> Optional[int]: ...
    @property
    def hash_key(self) -> Optional[str]: ...
    @property
    def allocation_share(self) -> Optional[float]: ...
    @property
    def iteration(self) -> Optional[int]: ...
    @property
    def config_version(self) -> int: ...
    @property
    def trace(self) -> Optional[list[dict[str, Any]]]: ...
    @property
    def exposure_token(self) -> Optional[str]: ...
    @property
    def enrolled(self) -> bool: ...
    @property
    def exposure_id(self) -> Optional[str]:
        """The event id the exposure token logs under: a click's `impression_id`."""
    @property
    def interleaving(self) -> Optional[dict[str, Any]]:
        """Both rankers (variant and params), method, key, salt and seed of an interleaved decision."""
    def interleave(
        self, a: Iterable[str], b: Iterable[str], query: str = "", length: Optional[int] = None
    ) -> Interleaving:
        """Merges the two rankings with this decision's method and unit coin."""
    def to_dict(self) -> dict[str, Any]: ...

@final
class FlagDecision:
    @property
    def flag(self) -> str: ...
    @property
    def variant(self) -> Optional[str]: ...
    @property
    def value(self) -> Any: ...
    @property
    def reason(self) -> FlagReason: ...
    @property
    def rule_index(self) -> Optional[int]: ...
    @property
    def unit_type(self) -> Optional[UnitType]: ...
    @property
    def bucket(self) -> Optional[int]: ...
    @property
    def shadow_variant(self) -> Optional[str]: ...
    @property
    def config_version(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class DecisionBatch:
    @property
    def variant_codes(self) -> npt.NDArray[np.int32]: ...
    @property
    def experiment_codes(self) -> npt.NDArray[np.int32]: ...
    @property
    def buckets(self) -> npt.NDArray[np.int32]: ...
    @property
    def enrolled(self) -> npt.NDArray[np.bool_]: ...
    @property
    def reason_codes(self) -> npt.NDArray[np.uint8]: ...
    @property
    def variant_keys(self) -> list[str]: ...
    @property
    def variant_experiments(self) -> list[str]: ...
    @property
    def experiment_keys(self) -> list[str]: ...
    @property
    def reason_names(self) -> list[Reason]: ...
    def __len__(self) -> int: ...

@final
class Snapshot:
    @staticmethod
    def from_json(text: str) -> Snapshot: ...
    @staticmethod
    def from_file(path: Union[str, PathLike[str]]) -> Snapshot:
        """Reads and compiles a snapshot file. A file that cannot be read raises
        `SnapshotFileError`: a `SnapshotError` whose `code` is `NOT_JSON` (the core's table has no
        I/O code, and no JSON object could be read) that is also an `OSError` (`errno`,
        `strerror`, `filename`). A file that is not UTF-8 raises `SnapshotError` (`NOT_JSON`);
        a rejected document, `SnapshotError` as `from_json`."""
    @property
    def version(self) -> int: ...
    @property
    def lints(self) -> list[dict[str, str]]: ...
    def decide(self, request: Mapping[str, Any], now: _Now = None) -> Decision: ...
    def exposure(self, request: Mapping[str, Any], now: _Now = None) -> Optional[dict[str, Any]]: ...
    def flag(self, key: str, request: Mapping[str, Any], now: _Now = None) -> FlagDecision: ...
    def decide_many(
        self,
        user_ids: _Ids,
        session_ids: Optional[_Ids] = None,
        context: Optional[Mapping[str, Any]] = None,
        now: _Now = None,
    ) -> DecisionBatch: ...
    def decide_arrow(
        self,
        user_ids: _Arrow,
        session_ids: Optional[_Arrow] = None,
        context: Optional[Mapping[str, Any]] = None,
        now: _Now = None,
        at: Optional[_Arrow] = None,
    ) -> Any:
        """A `pyarrow.Table` with one row per input row: `experiment_key`, `variant`, `reason`,
        `unit_type` (dictionary-encoded), `bucket` (uint16), `allocation_share` (float64),
        `config_version` (uint64). `context` values may be Arrow columns (per-row attributes)."""
    def _decide_json(self, request_json: str, now: int) -> str: ...

@final
class SnapshotHistory:
    @staticmethod
    def from_folder(path: Union[str, PathLike[str]]) -> SnapshotHistory: ...
    @staticmethod
    def from_texts(texts: list[Union[str, tuple[str, _Now]]]) -> SnapshotHistory: ...
    @staticmethod
    def from_control_plane(url: str, environment_id: str, token: str) -> SnapshotHistory: ...
    @property
    def versions(self) -> list[int]: ...
    @property
    def published_at(self) -> list[int]: ...
    def at(self, t: Union[int, str, datetime]) -> Optional[Snapshot]: ...
    def decide_arrow(
        self,
        user_ids: _Arrow,
        at: _Arrow,
        session_ids: Optional[_Arrow] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """`Snapshot.decide_arrow` with each row decided by the version live at its `at`."""
    def __len__(self) -> int: ...

@disjoint_base
class Client:
    # The runtime takes `**options` (any other keyword raises OptionsError); these are its
    # option keys (`_option_keys()`) in their order, durations in seconds without `_ms`.
    def __new__(
        cls,
        *,
        sdk_key: Optional[str] = ...,
        config_url: Optional[str] = ...,
        config_path: Optional[str] = ...,
        bootstrap: Optional[str] = ...,
        ingest_url: Optional[str] = ...,
        sink_path: Optional[str] = ...,
        poll_interval: Optional[float] = ...,
        request_timeout: Optional[float] = ...,
        max_backoff: Optional[float] = ...,
        id_hash_key: Optional[str] = ...,
        allow_unsigned_tokens: Optional[bool] = ...,
        default_params: Optional[Mapping[str, Mapping[str, Any]]] = ...,
        queue_capacity: Optional[int] = ...,
        batch_size: Optional[int] = ...,
        batch_interval: Optional[float] = ...,
        dedup_window: Optional[float] = ...,
        dedup_capacity: Optional[int] = ...,
        assignment_capacity: Optional[int] = ...,
        exposure_context_keys: Optional[Sequence[str]] = ...,
        persist_path: Optional[str] = ...,
        max_config_bytes: Optional[int] = ...,
        follow_redirects: Optional[bool] = ...,
        max_version_jump: Optional[int] = ...,
        snapshot_public_key: Optional[str] = ...,
        stream_url: Optional[str] = ...,
        redis_url: Optional[str] = ...,
        environment: Optional[str] = ...,
        push_idle_timeout: Optional[float] = ...,
        push_poll_interval: Optional[float] = ...,
        stale_after: Optional[float] = ...,
        max_attempts: Optional[int] = ...,
        retry_base: Optional[float] = ...,
        gzip_threshold: Optional[int] = ...,
        max_in_flight: Optional[int] = ...,
        spool_path: Optional[str] = ...,
        spool_max_bytes: Optional[int] = ...,
        sdk_name: Optional[str] = ...,
        sdk_version: Optional[str] = ...,
    ) -> Client: ...
    def decide(self, request: Mapping[str, Any], *, expose_later: bool = False) -> Decision: ...
    def expose(self, token: str, *, interleaving: Optional[Interleaving] = None) -> bool: ...
    def flag(self, key: str, request: Mapping[str, Any]) -> FlagDecision: ...
    def track(
        self,
        event_type: str,
        *,
        user_id: Optional[str] = None,
        session_id: Optional[str] = None,
        item_id: Optional[str] = None,
        value: Optional[float] = None,
        currency: Optional[str] = None,
        placement: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
    ) -> bool: ...
    def wait_for_init(self, timeout: float = 5.0) -> None: ...
    def wait_for_version(self, version: int, timeout: float = 5.0) -> bool: ...
    def flush(self, timeout: float = 5.0) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...
    @property
    def closed(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def update_snapshot(self, text: str) -> bool: ...
    def snapshot(self) -> Optional[Snapshot]: ...
    def after_fork(self) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(self, *_exc: object) -> None: ...
