"""Hostile values at every entry point where a Python value enters (issue 14): a cycle, nesting
10,000 and 1,000,000 deep, a lone surrogate and a huge integer. Each is an InvalidRequestError
(a VarioError with code INVALID_REQUEST); the interpreter survives, on the main thread and on a
worker thread."""

from __future__ import annotations

import pathlib
import sys
import threading
from typing import Any, Callable

import pytest
import vario

from conftest import SNAPSHOT

NOW = 1_793_491_200_000


def nested(depth: int) -> Any:
    v: Any = []
    for _ in range(depth):
        v = [v]
    return v


def cyclic() -> Any:
    v: list[Any] = []
    v.append(v)
    return v


def cyclic_dict() -> Any:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


HOSTILE: dict[str, Callable[[], Any]] = {
    "cycle": cyclic,
    "dict cycle": cyclic_dict,
    "deep 10k": lambda: nested(10_000),
    "deep 1M": lambda: nested(1_000_000),
    "lone surrogate": lambda: "a\ud800b",
    "huge int": lambda: 10**400,
}


def entry_points(snap: vario.Snapshot, client: vario.Client) -> dict[str, Callable[[Any], Any]]:
    def ctx(v: Any) -> dict[str, Any]:
        # `locale` is both targeted and an exposure context key in the bundled snapshot.
        return {"placement": "home", "locale": v, "page_type": "home", "extra": v}

    return {
        "Snapshot.decide context": lambda v: snap.decide({"user_id": "u-1", "context": ctx(v)}, now=NOW),
        "Snapshot.decide forced": lambda v: snap.decide(
            {"user_id": "u-1", "context": {"placement": "home"}, "forced": {"x": v}}, now=NOW
        ),
        "Snapshot.exposure context": lambda v: snap.exposure({"user_id": "u-1", "context": ctx(v)}, now=NOW),
        "Snapshot.flag context": lambda v: snap.flag("cart_upsell", {"user_id": "u-1", "context": ctx(v)}, now=NOW),
        "Snapshot.decide_many context": lambda v: snap.decide_many(["u-1", "u-2"], context=ctx(v), now=NOW),
        "Client.decide context": lambda v: client.decide({"user_id": "u-1", "context": ctx(v)}),
        "Client.flag context": lambda v: client.flag("cart_upsell", {"user_id": "u-1", "context": ctx(v)}),
        "Client.track properties": lambda v: client.track("click", user_id="u-1", properties={"p": v}),
    }


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Any:
    c = vario.Client(bootstrap=SNAPSHOT.read_text(), sink_path=str(tmp_path / "e.jsonl"))
    yield c
    c.close()


def check_all(snap: vario.Snapshot, client: vario.Client, failures: list[str]) -> int:
    n = 0
    for ename, call in entry_points(snap, client).items():
        for hname, make in HOSTILE.items():
            value = make()
            n += 1
            try:
                call(value)
            except vario.InvalidRequestError as e:
                if e.code != "INVALID_REQUEST":
                    failures.append(f"{ename} / {hname}: code {e.code}")
            except Exception as e:  # noqa: BLE001 - anything else is the bug under test
                failures.append(f"{ename} / {hname}: {type(e).__name__}: {e}")
            else:
                # A value no rule reads may be accepted only when it can be converted at all.
                if hname in ("cycle", "dict cycle", "deep 10k", "deep 1M"):
                    failures.append(f"{ename} / {hname}: accepted")
    return n


def test_hostile_values_are_refused_on_the_main_thread(client: vario.Client) -> None:
    snap = vario.Snapshot.from_file(str(SNAPSHOT))
    failures: list[str] = []
    n = check_all(snap, client, failures)
    assert n == 48
    assert not failures, "\n".join(failures)
    # Still alive and deciding.
    assert snap.decide({"user_id": "u-1", "context": {"placement": "home"}}, now=NOW).reason


def test_hostile_values_are_refused_on_a_worker_thread(client: vario.Client) -> None:
    snap = vario.Snapshot.from_file(str(SNAPSHOT))
    failures: list[str] = []
    # Worker threads get a smaller C stack than the main thread: the case that overflowed first.
    threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=check_all, args=(snap, client, failures))
        t.start()
        t.join()
    finally:
        threading.stack_size(0)
    assert not failures, "\n".join(failures)
    assert sys.getrecursionlimit() > 0
