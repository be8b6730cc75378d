"""vario.analysis through the wheel: gbstats' golden numbers and the shapes the module returns."""

import math

import pytest

import vario
from vario.analysis import MeanStats, ProportionStats, adjust, compare, mde, preference, sequential_bounds, srm


def test_gbstats_golden_numbers() -> None:
    r = compare(MeanStats(3407, 1396.87, 52377.9767), MeanStats(3461, 2422.7, 134698.29))
    assert r.abs_effect == pytest.approx(0.29)
    assert r.abs_ci == pytest.approx((0.04538, 0.53462), abs=5e-5)
    assert r.p_value == pytest.approx(0.02016, abs=5e-5)
    assert r.rel_effect == pytest.approx(0.70732, abs=5e-5)
    assert r.rel_ci == pytest.approx((-0.03526, 1.44989), abs=5e-5)
    assert r.rel_p_value == pytest.approx(0.06191, abs=5e-5)
    assert r.adjustments == []


def test_proportions_srm_adjust_preference() -> None:
    p = ProportionStats(1000, 100) + ProportionStats(1000, 100)
    assert p.to_mean().mean == pytest.approx(0.1)
    r = compare(ProportionStats(5000, 500), ProportionStats(5000, 600))
    assert r.abs_effect == pytest.approx(0.02) and r.p_value < 0.01
    s = srm([5000, 5200], [50, 50])
    assert (s.dof, s.mismatch) == (1, False)
    assert s.p_value == pytest.approx(math.erfc(math.sqrt(s.chi2 / 2)))
    assert adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust([0.01, 0.04, 0.03, 0.005], "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    pr = preference(60, 40)
    assert pr.delta == pytest.approx(0.1) and pr.ci[0] < 0.1 < pr.ci[1] and pr.impressions == 100


@pytest.mark.parametrize(
    "call",
    [
        lambda: compare(MeanStats(1, 1, 1), MeanStats(10, 1, 1)),
        lambda: compare(MeanStats(10, 1, 1), MeanStats(10, 1, 1), alpha=2),
        lambda: srm([1, 2], [1]),
        lambda: adjust([0.5], "bonferroni"),  # type: ignore[arg-type]
        lambda: adjust([1.5]),
        lambda: preference(0, 0),
        lambda: sequential_bounds([0.5, 0.4]),
        lambda: sequential_bounds([1.0], spending="haybittle"),  # type: ignore[arg-type]
        lambda: mde(100, 1, power=1.5),
    ],
)
def test_bad_input_is_an_invalid_request(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vario.InvalidRequestError) as e:
        call()
    assert e.value.code == "INVALID_REQUEST"


def test_sequential_bounds_and_mde() -> None:
    assert sequential_bounds([1.0]) == pytest.approx([1.959964], abs=1e-5)
    b = sequential_bounds([0.25, 0.5, 0.75, 1.0], spending="pocock")
    assert len(b) == 4 and all(2.2 < x < 2.5 for x in b)
    assert mde(1000, 1.0) == pytest.approx(0.125291, abs=1e-5)
