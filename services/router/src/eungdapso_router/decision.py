"""Where a complaint goes (배정 규칙): what the router reads in it, and the office that takes it.

`Decider.decide` reads a submission (text, kind, place, the subject the citizen or desk chose)
and decides, in this order, each step named in the evidence's rules:

1. **Confidential reports** (a confidential kind, or one the classifier's kind check found in
   the text) go to the office that investigates them: corruption and whistleblowing to the
   audit committee (`seoul.audit`), human rights to the human-rights office
   (`seoul.human_rights`), whatever the topic or the confidence. Never to triage.
2. **Outside Seoul**: a place in a neighbouring government is transferred to it at once (이송).
3. **Instant answers**: an inquiry, or a communication-class message, that a standard answer
   covers (`FaqIndex.best_answer`) is answered at once by the desk; the complaint is still
   assigned, for the record, to the office of its subject (to Eung-Dap-So itself when the
   subject is nobody's, `other`).
4. **Low confidence**: below `triage_below_confidence`, a person at the triage desk decides.
5. Otherwise the directory says who takes the subject at the place
   (`Directory.office_for(subject, district)`).

The subject is the classifier's, unless the citizen chose one (an Open311 service, a form's
list): the choice is a prior of `CHOSEN_SUBJECT_PRIOR` (citizens mostly choose right), the
classifier's probabilities the likelihood; the chosen subject wins unless the text clearly
says otherwise, and its confidence falls when the text disputes it (then triage decides).

`next_after_rejection` decides where a rejected complaint goes: the next-best subject of the
evidence, or the city-level office; after `REJECTIONS_TO_TRIAGE` rejections, the triage desk.

Decisions are pure: the same submission and directory give the same decision, recorded or
not (`POST /api/v1/routing/explain` records nothing).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from eungdapso_router.directory import TRIAGE, Directory, DirectoryOffice
from eungdapso_router.domainmodel import REJECTIONS_TO_TRIAGE, Reading, Routing
from eungdapso_router.morphology import Morphology, shared_morphology
from eungdapso_router.places import NO_PLACE, PlaceResolution, PlaceResolver
from eungdapso_router.textmodel import Analysis
from eungdapso_schemas.codes import Kind, MessageClass, OfficeLevel
from eungdapso_schemas.events import Place, PlaceEvidence, RoutingEvidence
from eungdapso_schemas.subjects import SUBJECTS, subject

#: How likely a subject the citizen chose is right before the text is read.
CHOSEN_SUBJECT_PRIOR = 0.8
#: A rejected complaint goes to the next subject of its evidence only if the classifier gave
#: that subject at least this probability; otherwise to the city-level office.
NEXT_SUBJECT_MIN = 0.1
#: Confidential kinds and the offices that investigate them (DOMAIN.md).
INVESTIGATORS: dict[Kind, str] = {
    Kind.CORRUPTION_REPORT: "seoul.audit",
    Kind.WHISTLEBLOWING: "seoul.audit",
    Kind.HUMAN_RIGHTS: "seoul.human_rights",
}
MAX_RULES = 20
#: The default triage threshold: least expected cost on 5-fold out-of-fold readings of the
#: training data, a misroute costing 3 triage decisions (threshold.py; 0.08 at 2, 0.23 at 5).
TRIAGE_BELOW = 0.11


# ---------------------------------------------------------------------- what it reads with
class Classified(Protocol):
    """The classifier's answer (`eungdapso_router.classifier.Classification`)."""

    @property
    def field(self) -> object: ...
    @property
    def message_class(self) -> MessageClass: ...
    @property
    def subject(self) -> str: ...
    @property
    def confidential(self) -> bool: ...
    @property
    def confidence(self) -> float: ...
    @property
    def evidence(self) -> ClassifiedEvidence: ...


class ClassifiedEvidence(Protocol):
    @property
    def scores(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def detected_kind(self) -> Kind | None: ...
    def as_routing_evidence(self, place: PlaceEvidence | None = None) -> RoutingEvidence: ...


class TextClassifier(Protocol):
    def classify(self, text: str | Analysis, kind: Kind) -> Classified: ...


class StandardAnswer(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def subject(self) -> str: ...


class StandardAnswers(Protocol):
    def best_answer(
        self,
        text: str,
        *,
        kind: Kind | None = None,
        message_class: MessageClass | None = None,
        analysis: Analysis | None = None,
    ) -> tuple[StandardAnswer, float] | None: ...


@dataclass(frozen=True)
class Models:
    classifier: TextClassifier
    answers: StandardAnswers
    places: PlaceResolver
    #: The kiwi both read with (the process's one, `shared_morphology`, when not given).
    morphology: Morphology | None = None

    def read(self, text: str) -> Analysis:
        """The complaint's text read once (kiwi's morphemes), for the classifier and the
        standard answers both: kiwi is most of what reading a complaint costs."""
        return Analysis.of(self.morphology or shared_morphology(), text)


def load_models() -> Models:
    """kiwi, the classifier, the standard answers and the gazetteer (seconds, once)."""
    from eungdapso_router.classifier import Classifier
    from eungdapso_router.faq import FaqIndex

    morphology = shared_morphology()
    return Models(
        Classifier.load(morphology=morphology),
        FaqIndex.load(morphology=morphology),
        PlaceResolver.default(),
        morphology,
    )


class RoutingModels:
    """The process's models, loaded at most once, by whoever needs them first: the
    assignment's worker thread, an explain request (in a worker thread too), or `warm` when
    the service starts. Never on the event loop."""

    def __init__(self, load: Callable[[], Models] = load_models) -> None:
        self._load = load
        self._models: Models | None = None
        self._lock = threading.Lock()

    def get(self) -> Models:
        models = self._models
        if models is None:
            with self._lock:
                if self._models is None:
                    self._models = self._load()
                models = self._models
        return models

    async def warm(self) -> None:
        await asyncio.to_thread(self.get)


@cache
def shared_models() -> RoutingModels:
    """The process's one set of models (read-only once loaded: every thread shares them)."""
    return RoutingModels()


# ---------------------------------------------------------------------- the decision
@dataclass(frozen=True)
class Submission:
    text: str
    kind: Kind
    place: Place | None = None
    #: The subject the citizen or the desk chose, if any.
    subject: str | None = None


@dataclass(frozen=True)
class InstantAnswer:
    answer_id: str
    question: str
    answer: str
    confidence: float


@dataclass(frozen=True)
class Decision:
    office: DirectoryOffice
    rule: str
    reading: Reading
    place: PlaceResolution
    instant_answer: InstantAnswer | None = None

    @property
    def at_triage(self) -> bool:
        return self.office.code == TRIAGE


@dataclass(frozen=True)
class Thresholds:
    #: Below this confidence in the subject, a person at the triage desk decides. Chosen by
    #: cross-validation on the training data (threshold.py: `evaluate --choose-threshold`).
    triage_below: float = TRIAGE_BELOW


class Decider:
    def __init__(self, models: RoutingModels, thresholds: Thresholds = Thresholds()) -> None:
        self.models = models
        self.thresholds = thresholds

    def decide(self, submission: Submission, directory: Directory) -> Decision:
        """Blocking (the classifier runs): call it from a worker thread."""
        models = self.models.get()
        analysis = models.read(submission.text)
        classified = models.classifier.classify(analysis, submission.kind)
        place = models.places.resolve(submission.place, submission.text)
        return decide(
            classified, place, submission, directory, models.answers, self.thresholds, analysis=analysis
        )


def decide(
    classified: Classified,
    place: PlaceResolution,
    submission: Submission,
    directory: Directory,
    answers: StandardAnswers,
    thresholds: Thresholds,
    *,
    analysis: Analysis | None = None,
) -> Decision:
    #: The decision's own rules, after the classifier's.
    rules: list[str] = []
    scores = tuple(classified.evidence.scores)
    subject_code, confidence = _subject(classified, submission.subject, scores, rules)
    investigated = _investigated_kind(submission.kind, classified)

    def decided(office: DirectoryOffice, rule: str, answer: InstantAnswer | None = None) -> Decision:
        rules.append(rule)
        reading = Reading(
            message_class=classified.message_class,
            field=subject(subject_code).field,
            subject=subject_code,
            district=place.district,
            confidential=investigated is not None,
            confidence=round(min(1.0, max(0.0, confidence)), 3),
            evidence=_with_rules(classified.evidence.as_routing_evidence(place.as_event_evidence()), rules),
        )
        return Decision(office=office, rule=rule, reading=reading, place=place, instant_answer=answer)

    if investigated is not None:
        code = INVESTIGATORS[investigated]
        if submission.kind.confidential:
            confidence = 1.0  # registered as such: a rule, not a guess
        return decided(directory.office(code), f"confidential:{investigated.value} → {code}")
    if place.outside is not None and place.district is None:
        return decided(directory.office(place.outside), f"outside Seoul: transfer to {place.outside}")
    found = answers.best_answer(
        submission.text, kind=submission.kind, message_class=classified.message_class, analysis=analysis
    )
    if found is not None:
        entry, coverage = found
        if confidence < thresholds.triage_below and entry.subject != subject_code:
            # The answer knows what it is about better than an unsure classifier.
            rules.append(f"subject:{entry.subject} (of standard answer {entry.id})")
            subject_code, confidence = entry.subject, coverage
        office = directory.office_for(subject_code, place.district)
        if office.code == TRIAGE and office.parent is not None:
            office = directory.office(office.parent)  # nobody else's: the desk that answered it
        answer = InstantAnswer(entry.id, entry.question, entry.answer, coverage)
        return decided(
            office, f"instant answer {entry.id}; for the record: {_lookup(subject_code, place)}", answer
        )
    if confidence < thresholds.triage_below:
        return decided(
            directory.triage, f"confidence {confidence:.2f} < {thresholds.triage_below:.2f}: triage desk"
        )
    return decided(directory.office_for(subject_code, place.district), _lookup(subject_code, place))


def unread(submission: Submission, directory: Directory, error: Exception) -> Decision:
    """The decision when reading the complaint failed (a bug in a model, a text it chokes on):
    a person decides, or the investigators for a confidential kind. A complaint is never lost
    because the router could not read it."""
    code = INVESTIGATORS.get(submission.kind)
    office = directory.office(code) if code else directory.triage
    rule = f"reading failed ({type(error).__name__}): {office.code}"
    reading = Reading(
        message_class=MessageClass.GENERAL,
        field=subject("other").field,
        subject="other",
        confidential=code is not None,
        confidence=0.0,
        evidence=RoutingEvidence(rules=(rule,)),
    )
    return Decision(office=office, rule=rule, reading=reading, place=NO_PLACE)


def _with_rules(evidence: RoutingEvidence, rules: list[str]) -> RoutingEvidence:
    """The classifier's evidence with the decision's rules after its own (the last
    `MAX_RULES` kept: the decision's are the ones that say where the complaint went)."""
    every = (*evidence.rules, *(r[:200] for r in rules))
    return evidence.model_copy(update={"rules": every[-MAX_RULES:]})


def _lookup(subject_code: str, place: PlaceResolution) -> str:
    return f"subject:{subject_code} district:{place.district.value if place.district else 'none'}"


def _subject(
    classified: Classified, chosen: str | None, scores: tuple[tuple[str, float], ...], rules: list[str]
) -> tuple[str, float]:
    """The subject and the confidence in it: the classifier's, or the chosen one weighed
    against what the text says (Bayes: the choice is the prior, the classifier the likelihood)."""
    if chosen is None or (chosen == classified.subject and classified.confidence >= CHOSEN_SUBJECT_PRIOR):
        if chosen is not None:
            rules.append(f"subject-chosen:{chosen} (the text agrees)")
        return classified.subject, classified.confidence
    probability = dict(scores)
    # A subject the classifier did not rank in its best few shares what the others left.
    rest = max(0.0, 1.0 - sum(probability.values())) / max(1, len(SUBJECTS) - len(probability))
    likelihood = probability.get(chosen, rest)
    others = (1.0 - CHOSEN_SUBJECT_PRIOR) / (len(SUBJECTS) - 1)
    posterior = (
        CHOSEN_SUBJECT_PRIOR * likelihood / (CHOSEN_SUBJECT_PRIOR * likelihood + others * (1 - likelihood))
    )
    best_other = max(((s, p) for s, p in scores if s != chosen), key=lambda sp: sp[1], default=None)
    if best_other is not None and others * best_other[1] > CHOSEN_SUBJECT_PRIOR * likelihood:
        rules.append(f"subject-chosen:{chosen} overruled by the text ({best_other[0]} p={best_other[1]:.2f})")
        return best_other[0], best_other[1]
    verdict = "agrees" if classified.subject == chosen else f"says {classified.subject}"
    rules.append(
        f"subject-chosen:{chosen} (prior {CHOSEN_SUBJECT_PRIOR}; the text {verdict}; p={posterior:.2f})"
    )
    return chosen, posterior


def _investigated_kind(kind: Kind, classified: Classified) -> Kind | None:
    """The confidential kind the complaint is (registered, or found in the text), or None."""
    if kind in INVESTIGATORS:
        return kind
    if classified.confidential and classified.evidence.detected_kind in INVESTIGATORS:
        return classified.evidence.detected_kind
    return None


# ---------------------------------------------------------------------- after a rejection
@dataclass(frozen=True)
class Reassignment:
    office: DirectoryOffice
    rule: str
    reading: Reading | None


def next_after_rejection(routing: Routing, rejected_by: str, directory: Directory) -> Reassignment:
    """Where a complaint goes when the office that has it rejects it: the next-best subject of
    its evidence (if the classifier gave it some weight), else the city-level office; never an
    office that rejected it before; after REJECTIONS_TO_TRIAGE rejections, the triage desk."""
    rejections = routing.rejections + 1
    reading = routing.reading
    if rejections >= REJECTIONS_TO_TRIAGE:
        return Reassignment(directory.triage, f"rejected {rejections} times: triage desk", reading)
    tried = {*routing.rejected_by, rejected_by}
    if reading is None:
        return Reassignment(directory.triage, f"rejected by {rejected_by}; nothing read: triage desk", None)
    if reading.confidential:
        # A confidential report stays with the investigators: the other one, or triage.
        for code in dict.fromkeys(INVESTIGATORS.values()):
            if code not in tried:
                return Reassignment(directory.office(code), f"rejected by {rejected_by}: {code}", reading)
        return Reassignment(directory.triage, f"rejected by {rejected_by}: triage desk", reading)
    for score in reading.evidence.scores:
        if score.subject == reading.subject or score.score < NEXT_SUBJECT_MIN:
            continue
        office = directory.office_for(score.subject, reading.district)
        if office.code not in tried and office.code != TRIAGE:
            changed = reading.model_copy(
                update={
                    "subject": score.subject,
                    "field": subject(score.subject).field,
                    "confidence": score.score,
                }
            )
            return Reassignment(office, f"rejected by {rejected_by}: next subject {score.subject}", changed)
    for office in _city_level(reading.subject, rejected_by, directory):
        if office.code not in tried and office.code != TRIAGE:
            return Reassignment(office, f"rejected by {rejected_by}: city-level office", reading)
    return Reassignment(directory.triage, f"rejected by {rejected_by}: no other office: triage desk", reading)


def _city_level(subject_code: str, rejected_by: str, directory: Directory) -> list[DirectoryOffice]:
    """The city's offices above a complaint's: the one that takes the subject when no district
    is known, then the bureaus above the office that rejected it."""
    found = [directory.office_for(subject_code, None)]
    try:
        parent = directory.office(rejected_by).parent
    except LookupError:
        parent = None
    while parent is not None:
        office = directory.office(parent)
        if office.level is not OfficeLevel.DISTRICT:
            found.append(office)
        parent = office.parent
    return found
