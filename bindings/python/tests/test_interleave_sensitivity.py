"""Issue 19's sensitivity test: a small preference for ranker ``a`` is detected by interleaving
with far fewer impressions than by an A/B split of the same traffic.

The simulated users: 40 queries, each with 30 candidate items of known relevance. Ranker ``a``
orders them by relevance plus a little noise, ranker ``b`` with more noise, and both show the top
10. A user examines position ``p`` (0-based) with probability ``1 / (1 + p)`` and clicks an
examined item with its relevance times the user's own activity, drawn per impression from a
Gamma(0.5, 2) (mean 1): users differ far more in how much they click than the rankers do, which is
the variance an A/B split carries and interleaving, comparing both rankers within one impression,
does not. (Without that spread, all users alike, this simulation gave 4,000 impressions for
interleaving against 8,000 for the split.) Interleaving merges the two lists with ``vario.interleave``
(team draft), credits the clicks with ``vario.credit`` and decides each impression with
``vario.winner``; the preference test is ``vario.analysis.preference``. The A/B split shows each
impression one ranker's list and compares clicks per impression with Welch's t
(``vario.analysis.compare``).

For each method the number of impressions needed is the smallest on a doubling grid at which at
least 80 % of 20 independent runs find ``a`` better at p < 0.05.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import vario
from vario.analysis import MeanStats, compare, preference

QUERIES, CANDIDATES, SHOWN = 40, 30, 10
EXAMINE = 1.0 / (1.0 + np.arange(SHOWN))
GRID = [125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000]
RUNS, POWER = 20, 0.8


def rankers(rng: np.random.Generator) -> tuple[list[list[str]], list[list[str]], list[dict[str, float]]]:
    lists_a, lists_b, relevance = [], [], []
    for q in range(QUERIES):
        rel = rng.beta(1.0, 3.0, CANDIDATES)
        ids = [f"q{q}-item{i}" for i in range(CANDIDATES)]
        order_a = np.argsort(-(rel + rng.normal(0, 0.05, CANDIDATES)))[:SHOWN]
        order_b = np.argsort(-(rel + rng.normal(0, 0.12, CANDIDATES)))[:SHOWN]
        lists_a.append([ids[i] for i in order_a])
        lists_b.append([ids[i] for i in order_b])
        relevance.append(dict(zip(ids, rel.tolist())))
    return lists_a, lists_b, relevance


def interleaving_detects(rng: np.random.Generator, n: int, world: Any, run: int) -> bool:
    lists_a, lists_b, relevance = world
    wins_a = wins_b = ties = 0
    queries = rng.integers(0, QUERIES, n)
    for k in range(n):
        q = int(queries[k])
        il = vario.interleave("team_draft", lists_a[q], lists_b[q], f"u-{run}-{k}", "rank", "s", length=SHOWN)
        activity = rng.gamma(0.5, 2.0)
        p_click = np.minimum(1.0, activity * EXAMINE[: len(il.items)] * np.array([relevance[q][item] for item in il.items]))
        clicks = np.flatnonzero(rng.random(len(p_click)) < p_click).tolist()
        w = vario.winner(vario.credit("team_draft", lists_a[q], lists_b[q], il.teams, clicks))
        wins_a += w == "a"
        wins_b += w == "b"
        ties += w == "tie"
    if wins_a + wins_b + ties == 0:
        return False
    pref = preference(wins_a, wins_b, ties)
    return pref.delta > 0 and pref.p_value < 0.05


def ab_detects(rng: np.random.Generator, n: int, world: Any, run: int) -> bool:
    lists_a, lists_b, relevance = world
    # Expected click probabilities per position of each query's list, per ranker.
    probs = {
        name: np.array([[relevance[q][item] for item in lists[q]] for q in range(QUERIES)]) * EXAMINE
        for name, lists in (("a", lists_a), ("b", lists_b))
    }
    stats = {}
    for name in ("a", "b"):
        q = rng.integers(0, QUERIES, n // 2)
        activity = rng.gamma(0.5, 2.0, (n // 2, 1))
        p = np.minimum(1.0, activity * probs[name][q])
        clicks = (rng.random((n // 2, SHOWN)) < p).sum(axis=1).astype(float)
        stats[name] = MeanStats(float(len(clicks)), float(clicks.sum()), float((clicks * clicks).sum()))
    r = compare(stats["b"], stats["a"])
    return r.abs_effect > 0 and r.p_value < 0.05


def impressions_needed(detects: Callable[[np.random.Generator, int, Any, int], bool], world: Any, seed: int) -> int | None:
    for n in GRID:
        rng = np.random.default_rng([seed, n])
        hits = sum(detects(rng, n, world, run) for run in range(RUNS))
        if hits >= POWER * RUNS:
            return n
    return None


def test_interleaving_needs_far_fewer_impressions_than_an_ab_split() -> None:
    world = rankers(np.random.default_rng(19))
    n_interleaving = impressions_needed(interleaving_detects, world, 1)
    n_ab = impressions_needed(ab_detects, world, 2)
    print(f"\nimpressions for 80 % power at p < 0.05: interleaving {n_interleaving}, A/B split {n_ab}")
    assert n_interleaving is not None, "interleaving never found the better ranker"
    # The A/B split needs at least 4 times as many (or more than the grid holds).
    assert n_ab is None or n_ab >= 4 * n_interleaving, (n_interleaving, n_ab)
