"""Every exception the API raises is a `vario.VarioError` carrying `.code` from the core's
`ErrorCode` table, of the class for that code's `ErrorClass`."""

from __future__ import annotations

import errno
import json
import pathlib
from typing import Any, Callable

import pytest
import vario
from vario import _vario

from conftest import SNAPSHOT, free_port

NOW = 1_793_491_200_000
HOME = {"placement": "home", "locale": "en-GB"}  # home_hero targets `locale`: it is converted
CODES = set(_vario._code_tables()["ErrorCode"])


def raises(cls: type[vario.VarioError], code: str, call: Callable[[], Any]) -> vario.VarioError:
    """Runs `call`, which must raise exactly `cls` with `code`; returns the exception."""
    with pytest.raises(vario.VarioError) as info:
        call()
    e = info.value
    assert type(e) is cls, (type(e), e)
    assert isinstance(e, vario.VarioError)
    assert e.code == code and e.code in CODES, (e.code, e)
    return e


@pytest.fixture(scope="module")
def snap() -> vario.Snapshot:
    return vario.Snapshot.from_file(str(SNAPSHOT))


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Any:
    c = vario.Client(bootstrap=SNAPSHOT.read_text(), sink_path=str(tmp_path / "e.jsonl"), id_hash_key="k")
    yield c
    c.close(1.0)


def test_every_exception_class_is_a_vario_error() -> None:
    classes = [getattr(vario, n) for n in vario.__all__ if n.endswith("Error")]
    assert {c.__name__ for c in classes} >= {
        "VarioError", "InvalidRequestError", "SnapshotError", "SnapshotFileError", "OptionsError", "TokenError",
        "TimeoutError", "ClosedError", "QueueFullError", "InternalError", "PanicError",
    }
    for c in classes:
        assert issubclass(c, vario.VarioError), c
        assert c.__module__ == "vario" and getattr(_vario, c.__name__) is c
    # Kept compatible with the built-in errors the same failures used to raise.
    assert issubclass(vario.InvalidRequestError, ValueError)
    assert issubclass(vario.SnapshotFileError, (vario.SnapshotError, OSError))
    assert issubclass(vario.PanicError, vario.InternalError)


def test_bad_snapshots(tmp_path: pathlib.Path) -> None:
    raises(vario.SnapshotError, "NOT_JSON", lambda: vario.Snapshot.from_json("{not json"))
    raises(vario.SnapshotError, "NOT_JSON", lambda: vario.Snapshot.from_json("[]"))
    raises(vario.SnapshotError, "SCHEMA_VERSION", lambda: vario.Snapshot.from_json('{"schema_version": 2}'))
    e = raises(vario.SnapshotError, "INVALID_SNAPSHOT", lambda: vario.Snapshot.from_json('{"schema_version": 1, "version": "x"}'))
    assert str(e).startswith("INVALID_SNAPSHOT: ")
    missing = tmp_path / "missing.json"
    e = raises(vario.SnapshotFileError, "NOT_JSON", lambda: vario.Snapshot.from_file(missing))
    assert isinstance(e, OSError) and isinstance(e, vario.SnapshotError)
    assert e.errno == errno.ENOENT and e.filename == str(missing)
    raises(vario.SnapshotFileError, "NOT_JSON", lambda: vario.Snapshot.from_file(tmp_path))  # a directory
    not_utf8 = tmp_path / "latin1.json"
    not_utf8.write_bytes(b'{"schema_version": 1, "environment": "\xe9"}')
    raises(vario.SnapshotError, "NOT_JSON", lambda: vario.Snapshot.from_file(not_utf8))


@pytest.mark.parametrize(
    "request_",
    [
        {"user_id": 5, "context": HOME},
        {"user_id": "u"},  # no placement
        {"user_id": "u", "context": {"placement": "home", "locale": object()}},
        {"user_id": "u", "context": "home"},
        {"user_id": "u", "forced": {"exp": 1}, "context": HOME},
        # Values Python cannot hand over: the Python error is the cause.
        {"user_id": "\ud800", "context": HOME},
        {"user_id": "u", "session_id": "\udc80", "context": HOME},
        {"user_id": "u", "context": {"placement": "home", "locale": "\ud800"}},
        {"user_id": "u", "context": {"placement": "home", "locale": 10**400}},
        {"user_id": "u", "context": {"placement": "home", "locale": float("nan")}},
        {"user_id": "u", "forced": {"exp": 10**400}, "context": HOME},
    ],
)
def test_bad_requests(snap: vario.Snapshot, request_: Any) -> None:
    e = raises(vario.InvalidRequestError, "INVALID_REQUEST", lambda: snap.decide(request_, now=NOW))
    assert isinstance(e, ValueError)


def test_bad_values_elsewhere(snap: vario.Snapshot, client: Any) -> None:
    for call in (
        lambda: snap.decide({"user_id": "u", "context": HOME}, now=10**400),
        lambda: snap.decide({"user_id": "u", "context": HOME}, now="yesterday"),
        lambda: snap.flag("\ud800", {"user_id": "u"}, now=NOW),
        lambda: snap.exposure({"user_id": "\ud800", "context": HOME}, now=NOW),
        lambda: snap.decide_many(["\ud800"], context=HOME, now=NOW),
        lambda: snap.decide_many(["a"], context="home", now=NOW),  # type: ignore[arg-type]
        lambda: snap.decide_many(5, context=HOME, now=NOW),  # type: ignore[arg-type]
        lambda: vario.Snapshot.from_json("\ud800"),
        lambda: vario.bucket("\ud800", "k", "s"),
        lambda: vario.digest("u", "\ud800", "s"),
        lambda: vario.pseudonymize("u", "\ud800"),
        lambda: client.decide({"user_id": "\ud800", "context": HOME}),
        lambda: client.flag("f", {"user_id": "\ud800"}),
        lambda: client.track("", user_id="u"),
        lambda: client.track("click", user_id="\ud800"),
        lambda: client.track("click", user_id="u", value=10**400),
        lambda: client.track("click", user_id="u", value="12"),  # type: ignore[arg-type]
        lambda: client.track("click", user_id="u", properties={"x": 10**400}),
        lambda: client.track("click", user_id="u", properties=[1]),  # type: ignore[arg-type]
        lambda: client.expose("\ud800"),
        lambda: client.update_snapshot("\ud800"),
        lambda: client.flush(-1.0),
    ):
        raises(vario.InvalidRequestError, "INVALID_REQUEST", call)


def test_bad_options() -> None:
    for options in (
        {"bootstrap": "{}", "config_url": "http://127.0.0.1:9/"},
        {"bootstrap": "{}", "no_such_option": 1},
        {"bootstrap": "{}", "poll_interval_ms": 5},
        {"bootstrap": "{}", "poll_interval": "soon"},
        {"bootstrap": "{}", "poll_interval": -1},
        {"bootstrap": "{}", "default_params": {"home": {"x": object()}}},
        {"bootstrap": "{}", "sdk_key": "\ud800"},
        {},
        # Never a TypeError: unknown keywords, wrong types and invalid values are all options errors.
        {"bootstrap": "{}", "batch_sise": 5},
        {"bootstrap": "{}", "batch_size": "ten"},
        {"bootstrap": "{}", "batch_size": True},
        {"bootstrap": "{}", "batch_size": 1.5},
        {"bootstrap": "{}", "batch_size": 0},
        {"bootstrap": "{}", "queue_capacity": -1},
        {"bootstrap": "{}", "max_attempts": 2**40},
        {"bootstrap": "{}", "poll_interval": True},
        {"bootstrap": "{}", "poll_interval": float("inf")},
        {"bootstrap": "{}", "poll_interval": 8 * 86_400},  # durations are limited to 7 days
        {"bootstrap": "{}", "exposure_context_keys": "locale"},
        {"bootstrap": "{}", "exposure_context_keys": ["locale", 3]},
        {"bootstrap": "{}", "default_params": {"home": 1}},
        {"bootstrap": "{}", "sdk_name": 3},
        {"bootstrap": "{}", "config_path": "/nonexistent/snapshot.json"},
        {"bootstrap": "{}", "\ud800": 1},
    ):
        raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(**options))


def test_options_errors_name_the_option() -> None:
    e = raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(bootstrap="{}", batch_size="ten"))
    assert "`batch_size`" in str(e), e
    e = raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(bootstrap="{}", batch_sise=5))
    assert "`batch_sise`" in str(e) and "batch_size" in str(e), e
    # The millisecond names are the C / Node names; Python's are in seconds.
    e = raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(bootstrap="{}", poll_interval_ms=5))
    assert "`poll_interval`" in str(e), e
    e = raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(bootstrap="{}", poll_interval="soon"))
    assert "`poll_interval`" in str(e), e


def test_every_option_key_is_a_keyword(tmp_path: pathlib.Path) -> None:
    keys, durations = _vario._option_keys()
    names = [k.removesuffix("_ms") if k in durations else k for k in keys]
    # None is the default for each; one config source and a sink are still needed.
    options: dict[str, Any] = {n: None for n in names}
    options.update(bootstrap=SNAPSHOT.read_text(), sink_path=str(tmp_path / "e.jsonl"))
    vario.Client(**options).close()
    # Seconds are converted to milliseconds: 6 days is within the runtime's 7-day limit.
    vario.Client(bootstrap="{}", sink_path=str(tmp_path / "e.jsonl"), poll_interval=6 * 86_400, retry_base=0.25).close()


def test_events_name_the_python_sdk(tmp_path: pathlib.Path) -> None:
    for extra, name in (({}, "vario-python"), ({"sdk_name": "shop-sdk", "sdk_version": "9.9"}, "shop-sdk")):
        sink = tmp_path / f"{name}.jsonl"
        with vario.Client(bootstrap=SNAPSHOT.read_text(), sink_path=str(sink), **extra) as c:
            assert c.track("click", user_id="u-1")
        sdk = json.loads(sink.read_text().splitlines()[0])["sdk"]
        assert sdk["name"] == name, sdk
        assert sdk["version"] == extra.get("sdk_version", vario.__version__), sdk


def test_bad_tokens(client: Any) -> None:
    raises(vario.TokenError, "TOKEN_MALFORMED", lambda: client.expose("garbage"))
    raises(vario.TokenError, "TOKEN_VERSION", lambda: client.expose("v9.e30.sig"))
    token = client.decide({"user_id": "u-42", "context": {"placement": "pdp_you_may_also_like"}}, expose_later=True)
    token = token.exposure_token
    assert token is not None
    raises(vario.TokenError, "TOKEN_SIGNATURE", lambda: client.expose(token[:-3] + ("abc" if token[-3:] != "abc" else "abd")))
    unsigned = token.rsplit(".", 1)[0]
    raises(vario.TokenError, "TOKEN_UNSIGNED", lambda: client.expose(unsigned))


def test_closed_client(client: Any) -> None:
    client.close(1.0)
    for call in (
        lambda: client.decide({"user_id": "u", "context": HOME}),
        lambda: client.flag("f", {"user_id": "u"}),
        lambda: client.track("click", user_id="u"),
        lambda: client.expose("v1.x.y"),
        lambda: client.flush(),
        lambda: client.wait_for_init(0.1),
        lambda: client.update_snapshot(SNAPSHOT.read_text()),
    ):
        raises(vario.ClosedError, "CLOSED", call)


def test_update_snapshot_rejections(client: Any) -> None:
    text = SNAPSHOT.read_text()
    newer = json.loads(text)
    newer["version"] += 1
    assert client.update_snapshot(json.dumps(newer)) is True
    e = raises(vario.SnapshotError, "VERSION_REGRESSION", lambda: client.update_snapshot(text))
    assert "lower" in str(e)
    raises(vario.SnapshotError, "NOT_JSON", lambda: client.update_snapshot("{broken"))
    raises(vario.SnapshotError, "SCHEMA_VERSION", lambda: client.update_snapshot('{"schema_version": 2}'))
    raises(vario.SnapshotError, "INVALID_SNAPSHOT", lambda: client.update_snapshot('{"schema_version": 1, "version": -1}'))
    assert client.snapshot().version == newer["version"]


def test_a_version_jump_beyond_max_version_jump_is_refused(tmp_path: pathlib.Path) -> None:
    doc = json.loads(SNAPSHOT.read_text())
    at = lambda v: json.dumps({**doc, "version": v})  # noqa: E731
    with vario.Client(bootstrap=at(17), sink_path=str(tmp_path / "e.jsonl"), id_hash_key="k", max_version_jump=10) as c:
        e = raises(vario.SnapshotError, "INVALID_SNAPSHOT", lambda: c.update_snapshot(at(28)))
        assert "max_version_jump" in str(e) and c.stats()["last_config_error_kind"] == "version_jump"
        assert c.update_snapshot(at(27)) is True and c.snapshot().version == 27
    raises(vario.OptionsError, "INVALID_OPTIONS", lambda: vario.Client(bootstrap=at(1), max_version_jump=0))


def test_timeout() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with vario.Client(config_url=url + "config", ingest_url=url + "ingest", request_timeout=0.2, id_hash_key="k") as c:
        raises(vario.TimeoutError, "TIMEOUT", lambda: c.wait_for_init(0.1))


def test_panic() -> None:
    e = raises(vario.PanicError, "PANIC", _vario._debug_panic)  # type: ignore[attr-defined]
    assert isinstance(e, vario.InternalError) and "_debug_panic" in str(e)


def test_signed_snapshots_and_keyless_tokens(tmp_path: pathlib.Path) -> None:
    """`snapshot_public_key`: only envelopes signed with the matching key (`vario snapshot sign`)
    are installed; `allow_unsigned_tokens`: keyless clients refuse unsigned tokens by default."""
    import subprocess

    from conftest import vario_bin

    key = tmp_path / "key"
    public = subprocess.run([str(vario_bin()), "snapshot", "keygen", "--out", str(key)], check=True,
                            capture_output=True, text=True).stdout.strip()
    signed = subprocess.run([str(vario_bin()), "snapshot", "sign", "--key", str(key), str(SNAPSHOT)], check=True,
                            capture_output=True, text=True).stdout
    raises(vario.OptionsError, "INVALID_OPTIONS",
           lambda: vario.Client(bootstrap=signed, sink_path=str(tmp_path / "e.jsonl"), snapshot_public_key="AAAA"))
    with vario.Client(bootstrap=SNAPSHOT.read_text(), sink_path=str(tmp_path / "e.jsonl"),
                      snapshot_public_key=public) as c:
        assert c.snapshot() is None, "an unsigned bootstrap is refused"
        assert c.stats()["config_signature_rejected"] == 1
        assert c.stats()["last_config_error_kind"] == "signature"
        raises(vario.SnapshotError, "SNAPSHOT_SIGNATURE", lambda: c.update_snapshot(SNAPSHOT.read_text()))
        assert c.update_snapshot(signed) is True
        assert c.snapshot() is not None
    # No key at all (the snapshot's privacy key removed): tokens are signed per process.
    doc = json.loads(SNAPSHOT.read_text())
    doc.pop("privacy", None)
    pdp = {"user_id": "u-42", "context": {"placement": "pdp_you_may_also_like"}}
    for allow in (False, True):
        with vario.Client(bootstrap=json.dumps(doc), sink_path=str(tmp_path / "e.jsonl"),
                          allow_unsigned_tokens=allow) as c:
            token = c.decide(pdp, expose_later=True).exposure_token
            assert token is not None
            unsigned = ".".join(token.split(".")[:2])
            if allow:
                assert token == unsigned and c.expose(unsigned) is True
            else:
                raises(vario.TokenError, "TOKEN_UNSIGNED", lambda: c.expose(unsigned))
                assert c.expose(token) is True
