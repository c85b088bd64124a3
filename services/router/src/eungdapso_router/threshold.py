"""The triage threshold (`TRIAGE_BELOW_CONFIDENCE`), chosen on the training data only.

Below the threshold a person at the triage desk decides where a complaint goes; above it the
router sends it to the office of the subject it read. Each choice has a cost: a complaint sent
to triage costs one decision of a person there; a complaint sent to the wrong office costs
more, since that office reads it, rejects it, the router reassigns it and the citizen waits
(`MISROUTE_COST` triage decisions, a judgement: 3, and the curve is printed for 2 and 5 too).

The threshold is the one of least expected cost per complaint over the out-of-fold
classifications of 5-fold cross-validation on the training data (each example read by a model
that did not train on it: `classifier.out_of_fold`), on a grid of 0.01. "Wrong office" means
the subject read belongs to another office than the labelled one (level and role: two subjects
the same office handles are not a misroute). The evaluation set is never read here, so the
figures `make eval-routing` prints are not tuned to it.

`python -m eungdapso_router.evaluate --choose-threshold` prints the curve and the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eungdapso_schemas.subjects import subject

#: What a complaint at the wrong office costs, in triage decisions.
MISROUTE_COST = 3.0
GRID = tuple(round(0.01 * n, 2) for n in range(0, 100))


@dataclass(frozen=True)
class Outcome:
    """One complaint read: the router's confidence, and whether its subject's office is right."""

    confidence: float
    right_office: bool


@dataclass(frozen=True)
class Point:
    threshold: float
    #: Shares of all complaints: to triage, routed to the right office, routed wrongly.
    triaged: float
    right: float
    wrong: float

    def cost(self, misroute_cost: float = MISROUTE_COST) -> float:
        return self.triaged + misroute_cost * self.wrong


def same_office(read: str, labelled: str) -> bool:
    a, b = subject(read), subject(labelled)
    return (a.level, a.role) == (b.level, b.role)


def curve(outcomes: Sequence[Outcome], grid: Sequence[float] = GRID) -> list[Point]:
    n = max(1, len(outcomes))
    points = []
    for t in grid:
        routed = [o for o in outcomes if o.confidence >= t]
        right = sum(o.right_office for o in routed)
        points.append(Point(t, (len(outcomes) - len(routed)) / n, right / n, (len(routed) - right) / n))
    return points


def choose(outcomes: Sequence[Outcome], misroute_cost: float = MISROUTE_COST) -> Point:
    """The threshold of least cost (the lowest among equals: fewer people's decisions)."""
    return min(curve(outcomes), key=lambda p: (round(p.cost(misroute_cost), 9), p.threshold))
