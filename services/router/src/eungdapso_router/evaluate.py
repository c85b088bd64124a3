"""`make eval-routing`: top-1 accuracy of the router's reading of complaints on the labelled
evaluation set (services/router/eval/routing_eval.jsonl), which nothing trains or tunes on.

Prints accuracy for field, message class, subject and the confidentiality check, and, when
the place resolver (`eungdapso_router.places.PlaceResolver`) is installed, district and
office; a confusion table for field; the misses (with `--misses`); the classification time
per complaint. The labelled office codes are `district.<district>.<role>` for subjects a
district handles and the subject's own office code otherwise (a district subject with no place
has none); `office_directory` compares instead what the organisation directory names for the
expected and the read subject and district (its area offices, its fallbacks for no place).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from eungdapso_router.classifier import Classifier
from eungdapso_router.settings import RouterSettings
from eungdapso_router.textmodel import json_lines
from eungdapso_schemas.codes import District, Field, Kind, OfficeLevel
from eungdapso_schemas.events import Place
from eungdapso_schemas.subjects import subject

EVAL_SET = Path(__file__).resolve().parents[2] / "eval" / "routing_eval.jsonl"


def office_code(subject_code: str, district: str | None) -> str | None:
    s = subject(subject_code)
    if s.level is OfficeLevel.DISTRICT:
        return f"district.{district}.{s.role}" if district else None
    return s.role


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    kind: Kind
    channel: str
    place: Place | None
    field: str
    message_class: str
    subject: str
    district: str | None
    office: str | None
    confidential: bool


def load_cases(path: Path = EVAL_SET) -> list[Case]:
    cases = []
    for _, row in json_lines(path):
        cases.append(
            Case(
                id=row["id"],
                text=row["text"],
                kind=Kind(row["kind"]),
                channel=row["channel"],
                place=Place(**row["place"]) if row.get("place") else None,
                field=row["field"],
                message_class=row["message_class"],
                subject=row["subject"],
                district=row.get("district"),
                office=row.get("office"),
                confidential=bool(row.get("confidential", False)),
            )
        )
    return cases


DistrictOf = Callable[[Place | None, str], str | None]


def place_resolver() -> DistrictOf | None:
    """The place resolver when it is installed (built in parallel, see issue 7), else None."""
    try:
        places = importlib.import_module("eungdapso_router.places")
    except ImportError:
        return None
    resolver: Any = places.PlaceResolver.default()

    def district_of(place: Place | None, text: str) -> str | None:
        district = resolver.resolve(place, text).district
        return None if district is None else str(district)

    return district_of


OfficeOf = Callable[[str, str | None], str]


def directory_office() -> OfficeOf | None:
    """The organisation directory's choice (area offices, fallbacks for no place), when it is
    installed: the office the assignment would really name."""
    try:
        module = importlib.import_module("eungdapso_router.directory")
    except ImportError:
        return None
    directory: Any = module.packaged_directory()

    def office_of(subject_code: str, district: str | None) -> str:
        return str(directory.office_for(subject_code, District(district) if district else None).code)

    return office_of


def confusion_table(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> list[str]:
    """Rows: expected, columns: predicted."""
    counts = Counter(pairs)
    short = {label: label[:8] for label in labels}
    lines = ["expected \\ predicted".ljust(22) + "".join(f"{short[p]:>9}" for p in labels)]
    for e in labels:
        lines.append(f"{e:22}" + "".join(f"{counts[(e, p)] or '.':>9}" for p in labels))
    return lines


def evaluate(
    cases: Sequence[Case], classifier: Classifier, out: TextIO, *, misses: bool = False
) -> dict[str, float]:
    district_of = place_resolver()
    office_of = directory_office() if district_of is not None else None
    hits: Counter[str] = Counter()
    field_pairs: list[tuple[str, str]] = []
    timings: list[float] = []
    missed: list[str] = []
    for case in cases:
        started = time.perf_counter()
        c = classifier.classify(case.text, case.kind)
        timings.append(time.perf_counter() - started)
        hits["field"] += c.field.value == case.field
        hits["message_class"] += c.message_class.value == case.message_class
        hits["subject"] += c.subject == case.subject
        hits["confidential"] += c.confidential == case.confidential
        field_pairs.append((case.field, c.field.value))
        district = None
        if district_of is not None:
            district = district_of(case.place, case.text)
            hits["district"] += district == case.district
            hits["office"] += office_code(c.subject, district) == case.office
            if office_of is not None:
                expected = office_of(case.subject, case.district)
                hits["office_directory"] += office_of(c.subject, district) == expected
        if misses and (c.field.value != case.field or c.subject != case.subject):
            missed.append(
                f"{case.id} {case.subject}->{c.subject} ({c.field.value}, {c.confidence:.2f}) "
                f"{case.text[:60]}"
            )
    n = len(cases)
    names = ["field", "message_class", "subject", "confidential"]
    if district_of is not None:
        names += ["district", "office"]
    if office_of is not None:
        names += ["office_directory"]
    result = {name: hits[name] / n for name in names}
    out.write(f"routing evaluation: {n} complaints ({EVAL_SET.name})\n")
    for name in (
        "field",
        "message_class",
        "subject",
        "confidential",
        "district",
        "office",
        "office_directory",
    ):
        value = f"{result[name]:.3f}" if name in result else "n/a (place resolver or directory not installed)"
        out.write(f"  top-1 {name:16s} {value}\n")
    timings.sort()
    p50 = timings[n // 2] * 1000
    p99 = timings[min(n - 1, int(n * 0.99))] * 1000
    out.write(f"  classification per complaint: p50 {p50:.1f} ms, p99 {p99:.1f} ms\n\nfield confusion:\n")
    for line in confusion_table(field_pairs, [f.value for f in Field]):
        out.write(line + "\n")
    if missed:
        out.write("\nmisses (field or subject):\n" + "\n".join(missed) + "\n")
    return result


def routed(cases: Sequence[Case], threshold: float, out: TextIO) -> dict[str, float]:
    """Where the router's whole decision (`Decider.decide`, with the threshold; confidential
    kinds, instant answers, the directory) sends each complaint: to the office the directory
    names for the labelled subject and district, to the triage desk, or elsewhere."""
    from eungdapso_router.decision import Decider, RoutingModels, Submission, Thresholds
    from eungdapso_router.directory import packaged_directory

    decider = Decider(RoutingModels(), Thresholds(triage_below=threshold))
    directory = packaged_directory()
    counts: Counter[str] = Counter()
    for case in cases:
        decision = decider.decide(Submission(case.text, case.kind, case.place), directory)
        district = District(case.district) if case.district else None
        expected = directory.office_for(case.subject, district).code
        right = decision.office.code == expected
        counts["triage" if decision.at_triage else "right" if right else "other"] += 1
    shares = {k: counts[k] / len(cases) for k in ("right", "triage", "other")}
    out.write(
        f"  decisions at threshold {threshold:.2f}: {shares['right']:.1%} to the labelled office, "
        f"{shares['triage']:.1%} to the triage desk, {shares['other']:.1%} to another office\n"
    )
    return shares


def choose_threshold(out: TextIO) -> float:
    """The triage threshold chosen by cross-validation on the training data (threshold.py)."""
    from eungdapso_router.classifier import out_of_fold
    from eungdapso_router.threshold import MISROUTE_COST, Outcome, choose, curve, same_office

    outcomes = [Outcome(c.confidence, same_office(c.subject, e.subject)) for e, c in out_of_fold()]
    out.write(
        f"triage threshold by 5-fold cross-validation on the training data ({len(outcomes)} examples;"
        " the evaluation set is not read)\n"
        "threshold  to triage  right office  wrong office  cost (misroute = 2 / 3 / 5 triage decisions)\n"
    )
    for p in curve(outcomes):
        if round(p.threshold * 100) % 5 == 0:
            out.write(
                f"  {p.threshold:.2f}     {p.triaged:7.1%}  {p.right:10.1%}  {p.wrong:10.1%}"
                f"      {p.cost(2):.3f} / {p.cost(3):.3f} / {p.cost(5):.3f}\n"
            )
    for cost in (2.0, MISROUTE_COST, 5.0):
        best = choose(outcomes, cost)
        out.write(
            f"least cost with a misroute = {cost:g} triage decisions: {best.threshold:.2f}"
            f" ({best.triaged:.1%} to triage, {best.wrong:.1%} to a wrong office)"
            f"{'  <- chosen' if cost == MISROUTE_COST else ''}\n"
        )
    return choose(outcomes).threshold


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eungdapso_router.evaluate")
    parser.add_argument("--set", type=Path, default=EVAL_SET, help="labelled complaints (JSON lines)")
    parser.add_argument("--misses", action="store_true", help="list the complaints read wrongly")
    parser.add_argument(
        "--choose-threshold",
        action="store_true",
        help="choose the triage threshold by cross-validation on the training data (no evaluation set)",
    )
    args = parser.parse_args(argv)
    if args.choose_threshold:
        choose_threshold(sys.stdout)
        return 0
    started = time.perf_counter()
    classifier = Classifier.load()
    sys.stdout.write(f"classifier loaded in {time.perf_counter() - started:.1f}s (kiwi included)\n")
    cases = load_cases(args.set)
    evaluate(cases, classifier, sys.stdout, misses=args.misses)
    if place_resolver() is not None:
        routed(cases, RouterSettings().triage_below_confidence, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
