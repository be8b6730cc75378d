"""Interleaving through the Python API (SPEC §10); the shared vectors pin the merged lists, this
checks what is Python's own: input types, returned objects, and the errors."""

import numpy as np
import pytest

import vario

A = ["x1", "x2", "x3", "x4"]
B = ["x3", "y1", "x1", "y2"]


def test_the_merged_list_holds_the_callers_own_strings() -> None:
    a = [f"item-{i}" for i in range(50)]
    b = [f"item-{i}" for i in range(25, 75)]
    il = vario.interleave("team_draft", a, b, "u-1", "rank", "s")
    assert len(il) == len(il.items) == len(il.teams) == 75
    assert il.method == "team_draft"
    pool = {id(s) for s in a + b}
    assert all(id(s) in pool for s in il.items), "no copies of the item strings"
    assert set(il.teams) <= {"a", "b"}
    assert sorted(il.items) == sorted(set(a + b))


def test_sequences_numpy_and_generators_give_the_same_list() -> None:
    want = vario.interleave("balanced", A, B, "u-7", "rank", "s", query="q")
    for a, b in [(tuple(A), tuple(B)), (np.array(A), np.array(B)), (iter(A), (x for x in B))]:
        got = vario.interleave("balanced", a, b, "u-7", "rank", "s", query="q")
        assert (list(got.items), got.teams) == (want.items, want.teams)


def test_credit_and_winner() -> None:
    il = vario.interleave("team_draft", A, B, "u-3", "rank", "s")
    first_team = il.teams[0]
    c = vario.credit("team_draft", A, B, il.teams, [0, 0])
    assert c == {"a": int(first_team == "a"), "b": int(first_team == "b")}
    assert vario.winner(c) == first_team
    assert vario.winner(vario.credit("balanced", A, B, il.teams, [])) == "none"
    assert vario.winner({"a": 2, "b": 2}) == "tie"


@pytest.mark.parametrize(
    "call",
    [
        lambda: vario.interleave("team-draft", A, B, "u", "k", "s"),
        lambda: vario.interleave("balanced", A, B, "", "k", "s"),
        lambda: vario.interleave("balanced", A, B, "u", "k", "s", length=-1),
        lambda: vario.interleave("balanced", "abc", B, "u", "k", "s"),
        lambda: vario.interleave("balanced", [1, 2], B, "u", "k", "s"),
        lambda: vario.interleave("balanced", ["\ud800"], B, "u", "k", "s"),
        lambda: vario.credit("balanced", A, B, ["a", "c"], []),
        lambda: vario.credit("balanced", A, B, ["a"], [1]),
        lambda: vario.credit("balanced", A, B, ["a"], [-1]),
        lambda: vario.credit("team_draft", ["x"], ["y"], ["a", "a"], []),
        lambda: vario.winner({"a": -1, "b": 0}),
    ],
)
def test_bad_input_is_an_invalid_request(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vario.InvalidRequestError) as e:
        call()
    assert isinstance(e.value, vario.VarioError)
    assert e.value.code == "INVALID_REQUEST"
