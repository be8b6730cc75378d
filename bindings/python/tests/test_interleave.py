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


def test_items_compare_as_code_points_with_no_utf8_conversion() -> None:
    # Items are only compared, never encoded: a lone surrogate is an item like any other (as on
    # Node), and equal strings that are distinct objects are one item.
    il = vario.interleave("team_draft", ["\ud800", "x"], ["".join(["x"]), "\ud800"], "u", "k", "s")
    assert sorted(il.items) == sorted(["\ud800", "x"])

    class Sku(str):
        def __hash__(self) -> int:
            return 1

        def __eq__(self, other: object) -> bool:
            return True

    # A subclass is compared by its text, whatever its __hash__ and __eq__ say, and handed back as is.
    il = vario.interleave("balanced", [Sku("p"), Sku("q")], ["q", "r"], "u", "k", "s")
    assert sorted(il.items) == ["p", "q", "r"]
    assert any(type(x) is Sku for x in il.items)


@pytest.mark.parametrize(
    "call",
    [
        lambda: vario.interleave("team-draft", A, B, "u", "k", "s"),
        lambda: vario.interleave("balanced", A, B, "", "k", "s"),
        lambda: vario.interleave("balanced", A, B, "u", "k", "s", length=-1),
        lambda: vario.interleave("balanced", "abc", B, "u", "k", "s"),
        lambda: vario.interleave("balanced", [1, 2], B, "u", "k", "s"),
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


INTERLEAVED = {
    "schema_version": 1,
    "version": 3,
    "hashing": {"algorithm": "xxh32", "seed": 11},
    "placements": {
        "search": {"default_params": {"ranker": "bm25", "k": 20}},
        "home": {"default_params": {"hero": "x"}},
    },
    "experiments": [
        {
            "id": "e-1",
            "key": "search_il",
            "status": "RUNNING",
            "placements": ["search", "home"],
            "salt": "search_il:2",
            "variants": [{"key": "bm25"}, {"key": "ltr", "params": {"ranker": "ltr"}}],
            "allocation": {"weights": {"bm25": 50, "ltr": 50}},
            "interleaving": {"method": "balanced", "rankers": {"a": "ltr", "b": "bm25"}, "placements": ["search"]},
        }
    ],
}


def test_an_interleaved_decision_names_both_rankers_and_merges_with_its_coin() -> None:
    snap = vario.Snapshot.from_json(__import__("json").dumps(INTERLEAVED))
    d = snap.decide({"user_id": "u-9", "context": {"placement": "search"}})
    plan = d.interleaving
    assert plan is not None and plan == d.to_dict()["interleaving"]
    assert plan["method"] == "balanced"
    assert plan["a"] == {"variant": "ltr", "params": {"ranker": "ltr", "k": 20}}
    assert plan["b"] == {"variant": "bm25", "params": {"ranker": "bm25", "k": 20}}
    assert (plan["key"], plan["salt"], plan["seed"]) == ("search_il", "search_il:2", 11)
    got = d.interleave(A, B, query="shoes")
    want = vario.interleave("balanced", A, B, "u-9", "search_il", "search_il:2", query="shoes", seed=11)
    assert (got.items, got.teams) == (want.items, want.teams)
    rec = got.record()
    assert rec["method"] == "balanced" and rec["teams"] == got.teams
    assert len(rec["ranks"]["a"]) == len(rec["ranks"]["b"]) == len(got)
    for clicks in ([], [0], [1, 3], [0, 1, 2, 3, 4]):
        clicks = [c for c in clicks if c < len(got)]
        assert vario.credit_record(rec, clicks) == vario.credit("balanced", A, B, got.teams, clicks)
    # The undeclared placement is a plain A/B decision.
    home = snap.decide({"user_id": "u-9", "context": {"placement": "home"}})
    assert home.interleaving is None and "interleaving" not in home.to_dict()
    with pytest.raises(vario.InvalidRequestError):
        home.interleave(A, B)
    with pytest.raises(vario.InvalidRequestError):
        vario.credit_record({"method": "balanced", "teams": ["a"]}, [0])


def test_impressions_reach_the_sink_with_their_teams_and_each_one_counts(tmp_path) -> None:
    import json

    sink = tmp_path / "events.jsonl"
    with vario.Client(bootstrap=json.dumps(INTERLEAVED), sink_path=str(sink), id_hash_key="k") as c:
        shown = []
        for q in ["shoes", "boots", "shoes"]:
            d = c.decide({"user_id": "ann", "context": {"placement": "search"}}, expose_later=True)
            il = d.interleave(A, B, query=q)
            assert d.exposure_token is not None
            assert c.expose(d.exposure_token, interleaving=il)
            shown.append(il.record())
        c.flush(5.0)
    events = [json.loads(line) for line in sink.read_text().splitlines()]
    exposures = [e for e in events if e["type"] == "exposure"]
    assert [e["interleaving"] for e in exposures] == shown, "one event per impression, not de-duplicated"
    assert len({e["event_id"] for e in exposures}) == 3
