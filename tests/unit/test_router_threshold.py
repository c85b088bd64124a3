"""The triage threshold is the one of least expected cost on out-of-fold readings of the
training data: a misroute costs more than a person's decision at the triage desk."""

from __future__ import annotations

import pytest

from eungdapso_router.threshold import Outcome, choose, curve, same_office


def outcomes(*groups: tuple[float, int, int]) -> list[Outcome]:
    """(confidence, how many read right, how many read wrong)."""
    return [
        Outcome(confidence, right)
        for confidence, n_right, n_wrong in groups
        for right in [True] * n_right + [False] * n_wrong
    ]


def test_a_band_mostly_wrong_goes_to_triage_and_a_band_mostly_right_does_not() -> None:
    # Readings at 0.2 are right 1 time in 4, at 0.5 3 times in 4, at 0.9 always.
    read = outcomes((0.2, 10, 30), (0.5, 30, 10), (0.9, 100, 0))
    chosen = choose(read, misroute_cost=3.0)
    # Routing the 0.2 band costs 30 misroutes x 3 > 40 triage decisions; routing the 0.5 band
    # costs 10 x 3 = 30 < 40: the threshold sits between them, at the lowest such value.
    assert chosen.threshold == 0.21
    assert chosen.triaged == pytest.approx(40 / 180) and chosen.wrong == pytest.approx(10 / 180)


def test_dearer_misroutes_raise_the_threshold() -> None:
    read = outcomes((0.2, 10, 30), (0.5, 30, 10), (0.9, 100, 0))
    assert choose(read, misroute_cost=5.0).threshold == 0.51
    assert choose(read, misroute_cost=1.0).threshold == 0.0  # a misroute no dearer: route all


def test_the_curve_accounts_for_every_complaint() -> None:
    read = outcomes((0.1, 1, 1), (0.6, 2, 1))
    for point in curve(read):
        assert point.triaged + point.right + point.wrong == pytest.approx(1.0)
    assert curve(read, [0.0])[0].wrong == pytest.approx(2 / 5)


def test_two_subjects_of_the_same_office_are_not_a_misroute() -> None:
    assert same_office("pothole", "sidewalk")  # both the district's road division
    assert not same_office("pothole", "illegal_parking")
