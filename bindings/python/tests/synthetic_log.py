"""A synthetic event log with known answers, for the analysis tests and the analysis benchmark.

The log has the shape of contract/events.md (what the SDK sends and the dev server writes), and the
generator keeps the ground truth per unit (its arm, and what it did inside and before its window),
so a test can compute the expected sufficient statistics without going through the events.

Each unit has a latent propensity ``lam ~ Gamma(shape, scale)``. Its ``add_to_cart`` outcomes in
the window are ``Poisson(lam * multiplier[arm])`` and in the window before its first exposure
``Poisson(lam)``: the pre-period is a correlated covariate, as CUPED wants. Purchases carry a
value; impressions and clicks give a CTR. The log also holds what the analysis must leave out:
an earlier iteration, units exposed to both arms, outcomes after the window and before the
pre-period, another experiment's exposures, and outcomes without a user id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEY = "pdp_reco_algo"
START = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
WINDOW = dt.timedelta(days=7)
EXPOSURE_LAG = dt.timedelta(seconds=1)
SHAPE, SCALE = 0.25, 1.0  # mean cart rate 0.25 per unit and window; heavy-tailed, as shoppers are (so the pre-period predicts: rho = SCALE / (1 + SCALE) = 0.5)


def ts(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def pid(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Truth:
    """Per kept unit, by arm: post and pre add-to-cart counts, purchase value, clicks, impressions."""

    arms: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    excluded: int = 0
    iteration0: int = 0
    """Units exposed (once) in iteration 0."""

    def add(self, arm: str, **vals: float) -> None:
        a = self.arms.setdefault(arm, {})
        for k, v in vals.items():
            a.setdefault(k, []).append(v)

    def col(self, arm: str, name: str) -> np.ndarray:
        return np.asarray(self.arms[arm][name], dtype=float)


def conversion_rate(multiplier: float) -> float:
    """P(at least one cart) for ``Poisson(lam * m)`` with ``lam ~ Gamma(SHAPE, SCALE)``."""
    return 1.0 - (1.0 + SCALE * multiplier) ** -SHAPE


def generate(
    n_units: int = 20_000,
    *,
    seed: int = 7,
    multiplier: float = 1.25,
    drop_treatment: float = 0.0,
    crossed: int = 40,
    days: int = 5,
) -> tuple[list[dict[str, Any]], Truth]:
    """Events (in time order) and the truth. ``drop_treatment`` loses that share of treatment
    units' exposures and outcomes altogether: a deliberate sample-ratio mismatch."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    truth = Truth()
    sdk = {"name": "vario-python", "version": "0.1.0"}

    def event(kind: str, t: dt.datetime, user: str | None, **rest: Any) -> None:
        events.append(
            {"type": kind, "event_id": str(uuid.UUID(int=int(rng.integers(0, 2**63)), version=4)),
             "timestamp": ts(t), "sdk": sdk, "user_id": user, "session_id": pid(f"s-{rng.integers(0, 10**9)}"), **rest}
        )  # fmt: skip

    def exposure(t: dt.datetime, user: str, variant: str, iteration: int = 1, key: str = KEY) -> None:
        # Logged a second after the decision, as the SDK's pipeline thread stamps it under a
        # backlog: `decided_at` is the start of the unit's window, not `timestamp`.
        event(
            "exposure", t + EXPOSURE_LAG, user, experiment_id="exp-9", experiment_key=key, variant=variant, iteration=iteration,
            unit_type="user", placement="pdp_you_may_also_like", page_type="pdp", reason="ASSIGNED",
            allocation_share=0.5, config_version=12, decided_at=ts(t), context={"locale": "en-GB"},
        )  # fmt: skip

    def outcome(t: dt.datetime, user: str | None, event_type: str, value: float | None = None) -> None:
        event(
            "outcome", t, user, event_type=event_type, item_id=f"sku-{rng.integers(0, 500)}", value=value,
            currency="EUR" if value is not None else None, placement="pdp_you_may_also_like", properties={},
            assignments=[{"experiment_id": "exp-9", "experiment_key": KEY, "variant": "control"}],
        )  # fmt: skip

    span = days * 86400
    for i in range(n_units):
        user = pid(f"u-{seed}-{i}")
        arm = "treatment" if rng.random() < 0.5 else "control"
        if arm == "treatment" and rng.random() < drop_treatment:
            continue
        t0 = START + dt.timedelta(seconds=float(rng.uniform(0, span)))
        lam = rng.gamma(SHAPE, SCALE)
        m = multiplier if arm == "treatment" else 1.0
        cross = i < crossed
        if i % 10 == 0:  # the previous iteration: ignored
            truth.iteration0 += 1
            exposure(t0 - dt.timedelta(days=20), user, "treatment" if arm == "control" else "control", iteration=0)
        exposure(t0, user, arm)
        for _ in range(int(rng.integers(0, 3))):  # repeats of the same exposure
            exposure(t0 + dt.timedelta(seconds=float(rng.uniform(1, 3 * 86400))), user, arm)
        if cross:
            exposure(t0 + dt.timedelta(hours=2), user, "control" if arm == "treatment" else "treatment")
        if i % 7 == 0:  # another experiment
            exposure(t0, user, "b", key="home_hero")

        def at(lo: float, hi: float) -> dt.datetime:
            return t0 + dt.timedelta(seconds=float(rng.uniform(lo, hi)))

        w = WINDOW.total_seconds()
        carts = int(rng.poisson(lam * m))
        pre = int(rng.poisson(lam))
        for k in range(carts):
            # For a third of the units, the first cart falls between the decision and the
            # exposure's logging: it counts (the window opens at `decided_at`).
            outcome(t0 + EXPOSURE_LAG / 2 if k == 0 and i % 3 == 0 else at(0, w - 1), user, "add_to_cart")
        for _ in range(pre):
            outcome(at(-w + 1, -1), user, "add_to_cart")
        value = 0.0
        for _ in range(int(rng.poisson(0.3 * m))):
            v = round(float(rng.gamma(2.0, 20.0)), 2)
            value += v
            outcome(at(0, w - 1), user, "purchase", v)
        impressions = int(rng.integers(1, 8))
        clicks = int(rng.binomial(impressions, 0.1 * (1.1 if arm == "treatment" else 1.0)))
        for _ in range(impressions):
            outcome(at(0, w - 1), user, "impression")
        for _ in range(clicks):
            outcome(at(0, w - 1), user, "click")
        # Outside every window: after it, before the pre-period, and outcomes of no one.
        outcome(at(w + 60, w + 86400), user, "add_to_cart")
        outcome(at(-2 * w - 86400, -w - 60), user, "add_to_cart")
        if i % 5 == 0:
            outcome(at(0, 60), None, "add_to_cart")
        if cross:
            truth.excluded += 1
            continue
        truth.add(arm, carts=carts, pre=pre, value=value, clicks=clicks, impressions=impressions)
    events.sort(key=lambda e: e["timestamp"])
    return events, truth


def write_jsonl(events: list[dict[str, Any]], path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")))
            f.write("\n")
