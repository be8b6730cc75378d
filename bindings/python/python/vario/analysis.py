"""Experiment analysis on sufficient statistics (the ``vario-stats`` crate, through the wheel).

Sufficient statistics are counts and sums that a warehouse aggregates and that add up (``+``
merges days or strata), so nothing here needs the raw rows::

    from vario.analysis import MeanStats, compare, srm, adjust
    c = MeanStats(n=3407, sum=1396.87, sum_sq=52377.9767)
    t = MeanStats(n=3461, sum=2422.7, sum_sq=134698.29)
    r = compare(c, t)              # r.abs_effect, r.abs_ci, r.p_value, r.rel_effect, ...
    srm([5000, 5200], [50, 50])    # SrmResult(chi2=3.92, dof=1, p_value=0.0477, mismatch=False)

Every error is a ``vario.InvalidRequestError`` (code ``INVALID_REQUEST``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

from . import _vario

__all__ = [
    "Comparison",
    "MeanStats",
    "Preference",
    "ProportionStats",
    "SrmResult",
    "adjust",
    "compare",
    "mde",
    "preference",
    "sequential_bounds",
    "srm",
]


@dataclass(frozen=True)
class MeanStats:
    """A mean metric of one arm: units, the sum of their values and of their squares."""

    n: float
    sum: float
    sum_sq: float

    def __add__(self, other: MeanStats) -> MeanStats:
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float:
        return self.sum / self.n


@dataclass(frozen=True)
class ProportionStats:
    """A proportion of one arm (e.g. units with at least one ``add_to_cart``)."""

    n: float
    successes: float

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.successes + other.successes)

    def to_mean(self) -> MeanStats:
        """As a mean metric whose variance is ``p(1 - p)`` (gbstats' convention)."""
        p = self.successes / self.n
        return MeanStats(self.n, self.successes, p * (1 - p) * (self.n - 1) + self.successes * p)


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: Welch's t for the difference, the delta method for the lift."""

    control_mean: float
    treatment_mean: float
    abs_effect: float
    abs_ci: tuple[float, float]
    p_value: float
    rel_effect: float
    rel_ci: tuple[float, float]
    rel_p_value: float
    dof: float
    adjustments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio mismatch: chi-square over the arms with a positive weight."""

    chi2: float
    dof: int
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class Preference:
    """Interleaving preference for ranking ``a``: ``delta`` > 0 favours ``a``."""

    delta: float
    ci: tuple[float, float]
    p_value: float
    impressions: int


def _stats(m: MeanStats | ProportionStats) -> tuple[float, float, float]:
    s = m.to_mean() if isinstance(m, ProportionStats) else m
    return (float(s.n), float(s.sum), float(s.sum_sq))


def compare(control: MeanStats | ProportionStats, treatment: MeanStats | ProportionStats, alpha: float = 0.05) -> Comparison:
    """Compares two arms at two-sided level ``alpha``."""
    return Comparison(**_vario._compare(_stats(control), _stats(treatment), alpha))


def srm(observed: Sequence[int], weights: Sequence[float], alpha: float = 0.01) -> SrmResult:
    """Tests units per arm against the intended weights; zero-weight arms are left out."""
    return SrmResult(**_vario._srm(list(observed), [float(w) for w in weights], alpha))


def adjust(p_values: Sequence[float], method: Literal["bh", "holm"] = "bh") -> list[float]:
    """Adjusted p-values in the input's order: Benjamini–Hochberg (``bh``) or Holm."""
    return _vario._adjust([float(p) for p in p_values], method)


def preference(wins_a: int, wins_b: int, ties: int = 0, alpha: float = 0.05) -> Preference:
    """The preference score with its CI and the sign-test p-value, from per-impression winners."""
    return Preference(**_vario._preference(wins_a, wins_b, ties, alpha))


def sequential_bounds(
    fractions: Sequence[float], alpha: float = 0.05, spending: Literal["pocock", "obrien_fleming"] = "obrien_fleming"
) -> list[float]:
    """Two-sided z bounds for looks at these information fractions (Lan–DeMets alpha spending)."""
    return _vario._sequential_bounds([float(t) for t in fractions], alpha, spending)


def mde(n_per_arm: float, variance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The minimum detectable absolute effect of a two-arm test."""
    return _vario._mde(n_per_arm, variance, alpha, power)
