"""Logged interleavings analysed end to end: a real client logs interleaved impressions and
clicks to its file sink, and ``vario.analysis.interleaving`` credits them from the log alone.
The simulation knows every impression's true credit (from the rankings), so the log's answer is
checked exactly, not only in direction."""

import json
import random

import pytest

import vario
from vario.analysis import interleaving

pytest.importorskip("duckdb")


def snapshot(method: str) -> str:
    return json.dumps({
        "schema_version": 1,
        "version": 1,
        "hashing": {"algorithm": "xxh32", "seed": 3},
        "placements": {"search": {"default_params": {"ranker": "bm25"}}},
        "experiments": [{
            "id": "e-1", "key": "search_il", "status": "RUNNING", "placements": ["search"],
            "variants": [{"key": "bm25"}, {"key": "ltr", "params": {"ranker": "ltr"}}],
            "allocation": {"weights": {"bm25": 50, "ltr": 50}},
            "interleaving": {"method": method, "rankers": {"a": "ltr", "b": "bm25"}},
        }],
    })


CATALOGUE = [f"sku-{i}" for i in range(40)]


def rank(ranker: str, query: str) -> list[str]:
    """ltr puts the relevant items (those the simulated users like) first; bm25 shuffles them in."""
    rng = random.Random(f"{ranker}:{query}")
    liked = [s for s in CATALOGUE if int(s[4:]) % 4 == 0]
    other = [s for s in CATALOGUE if s not in liked]
    if ranker == "ltr":
        return liked[:6] + other[:4]
    mixed = liked[:6] + other[:4]
    rng.shuffle(mixed)
    return mixed


@pytest.mark.parametrize("method", ["team_draft", "balanced"])
def test_the_log_credits_exactly_what_the_rankings_credit(tmp_path, method) -> None:
    sink = tmp_path / "events.jsonl"
    rng = random.Random(7)
    truth = {"a": 0, "b": 0, "tie": 0, "none": 0}
    unit_tally: dict[str, list[int]] = {}
    with vario.Client(bootstrap=snapshot(method), sink_path=str(sink), id_hash_key="k") as c:
        for u in range(400):
            user = f"user-{u}"
            for q in range(rng.randint(1, 3)):
                query = f"q{rng.randint(0, 5)}"
                d = c.decide({"user_id": user, "context": {"placement": "search"}}, expose_later=True)
                plan = d.interleaving
                a, b = rank(plan["a"]["params"]["ranker"], query), rank(plan["b"]["params"]["ranker"], query)
                il = d.interleave(a, b, query=query)
                assert c.expose(d.exposure_token, interleaving=il)
                clicks = [p for p, item in enumerate(il.items[:8]) if int(item[4:]) % 4 == 0 and rng.random() < 0.3]
                for p in clicks:
                    props = {"position": p, "impression_id": d.exposure_id}
                    assert c.track("click", user_id=user, placement="search", item_id=il.items[p], properties=props)
                w = vario.winner(vario.credit(method, a, b, il.teams, clicks))
                truth[w] += 1
                if clicks:
                    t = unit_tally.setdefault(user, [0, 0])
                    t[0] += w == "a"
                    t[1] += w == "b"
        # A click with no impression before it: not attributed.
        assert c.track("click", user_id="nobody", placement="search", properties={"position": 0})
        c.flush(10.0)
    r = interleaving(str(sink), "search_il")
    assert r.methods == (method,)
    assert r.impression_wins == truth, "every impression credited as the rankings credit it"
    assert r.impressions == sum(truth.values())
    assert r.clicks_unattributed == 1 and r.clicks_invalid == 0
    assert (r.wins_a, r.wins_b, r.ties) == (
        sum(a > b for a, b in unit_tally.values()),
        sum(b > a for a, b in unit_tally.values()),
        sum(a == b for a, b in unit_tally.values()),
    )
    assert r.units == len(unit_tally)
    # ltr (ranking a) puts the liked items first: the users prefer it, clearly.
    assert r.preference.delta > 0.1 and r.preference.p_value < 1e-6, r.preference


def test_clicks_outside_the_window_or_the_list_are_not_credited(tmp_path) -> None:
    rows = [
        {"type": "exposure", "event_id": "e1", "timestamp": "2026-01-01T00:00:00.000Z",
         "decided_at": "2026-01-01T00:00:00.000Z", "user_id": "u", "experiment_key": "x", "unit_type": "user",
         "placement": "p", "interleaving": {"method": "team_draft", "teams": ["a", "b", "a"]}},
        {"type": "outcome", "timestamp": "2026-01-01T00:00:01.000Z", "user_id": "u", "placement": "p",
         "event_type": "click", "properties": {"position": 0}},
        {"type": "outcome", "timestamp": "2026-01-01T00:00:02.000Z", "user_id": "u", "placement": "p",
         "event_type": "click", "properties": {"position": 7}},
        {"type": "outcome", "timestamp": "2026-01-01T02:00:00.000Z", "user_id": "u", "placement": "p",
         "event_type": "click", "properties": {"position": 1}},
        {"type": "outcome", "timestamp": "2026-01-01T00:00:03.000Z", "user_id": "u", "placement": "other",
         "event_type": "click", "properties": {"position": 1}},
        # A later impression of the same unit; the click names the first one, so it goes there.
        {"type": "exposure", "event_id": "e2", "timestamp": "2026-01-01T00:00:04.000Z",
         "decided_at": "2026-01-01T00:00:04.000Z", "user_id": "u", "experiment_key": "x", "unit_type": "user",
         "placement": "p", "interleaving": {"method": "team_draft", "teams": ["b", "a"]}},
        {"type": "outcome", "timestamp": "2026-01-01T00:00:05.000Z", "user_id": "u", "placement": "p",
         "event_type": "click", "properties": {"position": 2, "impression_id": "e1"}},
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = interleaving(str(path), "x")
    assert (r.impressions, r.impressions_clicked, r.clicks_credited, r.clicks_invalid) == (2, 1, 2, 1)
    assert r.clicks_unattributed == 2, "two hours later, and on another placement"
    assert r.impression_wins == {"a": 1, "b": 0, "tie": 0, "none": 1}
    assert (r.wins_a, r.wins_b, r.ties) == (1, 0, 0)
    with pytest.raises(vario.InvalidRequestError):
        interleaving(str(path), "missing")
