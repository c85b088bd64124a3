"""Text → field, message class, subject (민원 유형), with the evidence of each decision.

Two softmax regressions over Korean terms (textmodel.py) decide the subject and the message
class; a few rules, each named in the evidence, settle what a model should not guess:

- the subject decides the field (subjects.toml), unless the probabilities summed per field
  favour another field clearly (`field:marginal`);
- a "complaint" about an official taking money or favours is a corruption report, one by an
  insider about a company or a subsidy is whistleblowing, one about discrimination, abuse or
  harassment is a human-rights case: confidential, whatever kind the citizen chose
  (메시지민원 처리규정 and the confidential kinds of DOMAIN.md);
- confidential reports are general complaints (investigated, not fixed on site), proposals
  registered as such are proposals, a message that only thanks is communication;
- several issues in one message: the message as a whole decides the main one, each sentence
  that clearly names another subject is listed in the evidence.

`Classifier.load()` reads the checked-in artefact (`data/classifier.json.gz`); build it with
`python -m eungdapso_router.classifier train` after changing anything under data/training/
or data/lexicon.toml (a test fails until you do). `... cv` prints cross-validated accuracy on
the training data, the only tuning this model gets (the evaluation set is never read here).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from eungdapso_router.morphology import Morphology, sentence_spans, shared_morphology
from eungdapso_router.textmodel import (
    Analysis,
    FeatureConfig,
    LinearModel,
    SparseRows,
    Vectorizer,
    digest,
    fit_softmax,
    json_lines,
    read_artefact,
    write_artefact,
)
from eungdapso_schemas.codes import CONFIDENTIAL_KINDS, Field, Kind, MessageClass
from eungdapso_schemas.events import PlaceEvidence, RoutingEvidence, SubjectScore
from eungdapso_schemas.subjects import SUBJECTS, TAXONOMY_VERSION, subject

DATA = Path(str(files("eungdapso_router").joinpath("data")))
TRAINING = DATA / "training"
LEXICON = DATA / "lexicon.toml"
ARTEFACT = DATA / "classifier.json.gz"
CONFIG = FeatureConfig()
ARTEFACT_VERSION = 1

SUBJECT_CODES = tuple(sorted(s.code for s in SUBJECTS))
CLASSES = tuple(c.value for c in MessageClass)
#: A sentence names another issue when it is at least this sure of a different subject.
OTHER_ISSUE_MIN = 0.5
#: The offices that investigate these reports are decided by the kind, not by the topic.
FORCED_SUBJECT = {Kind.CORRUPTION_REPORT: "corruption", Kind.HUMAN_RIGHTS: "human_rights"}
#: The summed probability of another field must beat the subject's field by this much.
FIELD_OVERRIDE_MARGIN = 0.2


@dataclass(frozen=True)
class Evidence:
    """Why: the terms that pushed the subject, the three best subjects, the rules that fired,
    the other issues found in the message, the confidential kind detected in the text."""

    matched_terms: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]
    rules: tuple[str, ...]
    field_scores: tuple[tuple[str, float], ...] = ()
    class_scores: tuple[tuple[str, float], ...] = ()
    other_issues: tuple[tuple[str, float], ...] = ()
    detected_kind: Kind | None = None

    def as_routing_evidence(self, place: PlaceEvidence | None = None) -> RoutingEvidence:
        """The evidence as `ComplaintAssignedV2.evidence` records it (its limits applied;
        the detected kind and the other issues are among the rules)."""
        rules = list(self.rules)
        if self.detected_kind is not None:
            rules.append(f"detected-kind:{self.detected_kind.value}")
        return RoutingEvidence(
            matched_terms=tuple(t[:60] for t in self.matched_terms if t.strip())[:20],
            scores=tuple(SubjectScore(subject=s, score=p) for s, p in self.scores)[:5],
            place=place or PlaceEvidence(method="none"),
            rules=tuple(r[:200] for r in rules)[:20],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched_terms": list(self.matched_terms),
            "scores": [{"subject": s, "probability": p} for s, p in self.scores],
            "rules": list(self.rules),
            "field_scores": [{"field": f, "probability": p} for f, p in self.field_scores],
            "class_scores": [{"message_class": c, "probability": p} for c, p in self.class_scores],
            "other_issues": [{"subject": s, "probability": p} for s, p in self.other_issues],
            "detected_kind": self.detected_kind.value if self.detected_kind else None,
        }


@dataclass(frozen=True)
class Classification:
    field: Field
    message_class: MessageClass
    subject: str
    confidential: bool
    #: Probability of the subject chosen (the office depends on it), 0..1.
    confidence: float
    evidence: Evidence


# --- kind checks: the confidential reports hidden in ordinary complaints -----------------

# Only public officials: a shop assistant asking for cash is not corruption.
_OFFICIAL = (
    r"(공무원|주무관|공직자|단속반|감독관|구청장|구의원|시의원|"
    r"(구청|시청|주민센터|동사무소|행정복지센터|공단|공사|사업소|보건소|시 산하|구 산하)[^.]{0,15}"
    r"(직원|담당자|담당|과장|팀장|계장|간부|국장))"
)
_BRIBE = (
    r"(뇌물|금품|돈\s?봉투|뒷돈|현금을?\s?(요구|받|줬|주고|건네)|상품권|향응|골프\s?접대|접대|청탁|"
    r"리베이트|떡값|촌지|돈을?\s?(요구|받|달라)|대가로|유착|특혜|부정\s?채용|횡령|봐주|무마|허위로?\s?청구)"
)
_CORRUPTION_STRONG = r"(뇌물|부패\s?신고|공직\s?비리|금품\s?수수|공무원\s?비리)"
_WHISTLE = (
    r"(공익\s?신고|내부\s?고발|내부자|부정\s?수급|보조금을?\s?(빼돌|편취|가로채|부정)|"
    r"(회사|업체|공장)(가|에서)?\s?몰래\s?(폐수|방류|버리|배출|조작)|장부\s?조작|회계\s?조작)"
)
_HUMAN_RIGHTS = (
    r"(인권\s?침해|인권을?\s?(무시|침해)|차별|성희롱|성추행|직장\s?내\s?괴롭힘|괴롭힘|혐오\s?발언|"
    r"(시설|요양원|복지관|보호소|병원)[^.]{0,30}(학대|폭행|폭언|묶어|감금)|인격\s?모독|모욕적)"
)
_NOT_HUMAN = r"(동물\s?학대|고양이|강아지|개를|유기견|길냥이|동물)"


def detect_confidential(text: str) -> tuple[Kind | None, str | None]:
    """The confidential kind a text reveals, with the rule that saw it."""
    if re.search(_CORRUPTION_STRONG, text) or (re.search(_OFFICIAL, text) and re.search(_BRIBE, text)):
        return Kind.CORRUPTION_REPORT, "kind-check:corruption (official + money or favour)"
    if re.search(_WHISTLE, text):
        return Kind.WHISTLEBLOWING, "kind-check:whistleblowing (insider report of fraud)"
    if re.search(_HUMAN_RIGHTS, text) and not re.search(_NOT_HUMAN, text):
        return Kind.HUMAN_RIGHTS, "kind-check:human_rights (discrimination, abuse, harassment)"
    return None, None


_THANKS = re.compile(r"(감사|고맙|고마워|칭찬|수고|최고|좋아요|좋네요|응원|화이팅|파이팅)")
_REQUEST = re.compile(
    r"(해\s?주세요|해\s?주시|부탁|요청|바랍니다|주십시오|단속|고쳐|치워|수리|조치|신고|"
    r"어떻게|어디|언제|나요|까요|\?|줘요|주라|해줘|하라|안\s?돼|안\s?됨|못\s)"
)
_PRIORITY = re.compile(r"(우선|무엇보다|가장\s?(급한|시급|큰)|제일\s?(급한|시급|큰)|먼저)")
_CALL_SUMMARY = re.compile(
    r"^(민원인|고객|시민|신고자|방문 민원)|(문의함|요청함|신고함|안내함|전달함|접수함)"
)


class Classifier:
    """Built once per process (`load()`); `classify` only reads the model, so one instance
    serves every thread."""

    def __init__(
        self,
        morphology: Morphology,
        config: FeatureConfig,
        subject_vectorizer: Vectorizer,
        subject_model: LinearModel,
        class_vectorizer: Vectorizer,
        class_model: LinearModel,
        *,
        source_digest: str = "",
    ) -> None:
        self.morphology = morphology
        self.config = config
        self.subject_vectorizer = subject_vectorizer
        self.subject_model = subject_model
        self.class_vectorizer = class_vectorizer
        self.class_model = class_model
        self.source_digest = source_digest
        self._field_of = np.array([subject(c).field.value for c in subject_model.labels])

    # --- building ------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path = ARTEFACT, morphology: Morphology | None = None) -> Classifier:
        data = read_artefact(path)
        if data["version"] != ARTEFACT_VERSION:
            raise RuntimeError(f"classifier artefact version {data['version']}, expected {ARTEFACT_VERSION}")
        config = _config_from(data["config"])
        sv = Vectorizer(data["subject"]["vocabulary"], data["subject"]["idf"], config)
        cv = Vectorizer(data["message_class"]["vocabulary"], data["message_class"]["idf"], config)
        return cls(
            morphology or shared_morphology(),
            config,
            sv,
            LinearModel.from_json(data["subject"]["model"], len(sv.vocabulary)),
            cv,
            LinearModel.from_json(data["message_class"]["model"], len(cv.vocabulary)),
            source_digest=data["digest"],
        )

    @classmethod
    def train(
        cls,
        examples: Sequence[TrainingExample],
        lexicon: dict[str, list[str]],
        morphology: Morphology,
        config: FeatureConfig = CONFIG,
    ) -> Classifier:
        analyses = [Analysis.of(morphology, e.text) for e in examples]
        lex = [
            (Analysis.of(morphology, term), code) for code, terms in sorted(lexicon.items()) for term in terms
        ]
        s_docs = [a.subject_terms(config) for a in analyses] + [a.subject_terms(config) for a, _ in lex]
        s_labels = [e.subject for e in examples] + [code for _, code in lex]
        sv = Vectorizer.fit(s_docs, config)
        subject_model = _fit(sv.rows(s_docs), s_labels, SUBJECT_CODES, config)
        c_docs = [a.class_terms(e.kind.value) for a, e in zip(analyses, examples, strict=True)]
        cv = Vectorizer.fit(c_docs, config)
        class_model = _fit(cv.rows(c_docs), [e.message_class.value for e in examples], CLASSES, config)
        return cls(morphology, config, sv, subject_model, cv, class_model)

    def to_artefact(self, source_digest: str) -> dict[str, Any]:
        return {
            "version": ARTEFACT_VERSION,
            "digest": source_digest,
            "config": self.config.as_dict(),
            "subject": {
                "vocabulary": list(self.subject_vectorizer.vocabulary),
                "idf": [float(v) for v in self.subject_vectorizer.idf],
                "model": self.subject_model.to_json(self.config.prune),
            },
            "message_class": {
                "vocabulary": list(self.class_vectorizer.vocabulary),
                "idf": [float(v) for v in self.class_vectorizer.idf],
                "model": self.class_model.to_json(self.config.prune),
            },
        }

    # --- classifying ---------------------------------------------------------------------

    def subject_probabilities(self, analysis: Analysis, span: tuple[int, int] | None = None) -> np.ndarray:
        idx, values = self.subject_vectorizer.vector(analysis.subject_terms(self.config, span))
        return self.subject_model.probabilities(idx, values)

    def read(self, text: str) -> Analysis:
        """The text normalised and cut by kiwi: what `classify` and the standard answers'
        search both read (the router analyses each complaint once)."""
        return Analysis.of(self.morphology, text)

    def classify(self, text: str | Analysis, kind: Kind) -> Classification:
        analysis = text if isinstance(text, Analysis) else self.read(text)
        rules: list[str] = list(analysis.slang)
        if _CALL_SUMMARY.search(analysis.text):
            rules.append("style:call-summary")
        idx, values = self.subject_vectorizer.vector(analysis.subject_terms(self.config))
        probs = self.subject_model.probabilities(idx, values)
        labels = self.subject_model.labels
        field_probs: dict[str, float] = {}
        for f, p in zip(self._field_of, probs, strict=True):
            field_probs[str(f)] = field_probs.get(str(f), 0.0) + float(p)
        best = int(np.argmax(probs))
        field_code = str(self._field_of[best])
        top_field, top_field_p = max(field_probs.items(), key=lambda kv: kv[1])
        if top_field != field_code and top_field_p >= field_probs[field_code] + FIELD_OVERRIDE_MARGIN:
            in_field = np.where(self._field_of == top_field, probs, -1.0)
            best = int(np.argmax(in_field))
            rules.append(f"field:marginal ({top_field} {top_field_p:.2f} > {field_code})")
            field_code = top_field
        subject_code = labels[best]
        sentences = self._sentence_subjects(analysis)
        for code, p, marked in sentences:
            if marked and code != subject_code and code != "other":
                # "우선 가로등부터": the citizen says which issue comes first.
                rules.append(f"several-issues: main {code} (marked first, p={p:.2f})")
                best = labels.index(code)
                subject_code = code
                field_code = subject(code).field.value
                break

        detected, why = detect_confidential(analysis.text)
        if why:
            rules.append(why)
        effective = kind if kind in CONFIDENTIAL_KINDS else detected
        confidential = effective is not None
        if kind in CONFIDENTIAL_KINDS:
            rules.append(f"kind:{kind.value} (registered confidential)")
        forced = FORCED_SUBJECT.get(effective) if effective is not None else None
        if forced and forced != subject_code:
            rules.append(f"subject:{forced} (confidential {effective})")
            best = labels.index(forced)
            subject_code = forced
            field_code = subject(forced).field.value

        message_class, class_scores = self._message_class(analysis, kind, confidential, rules)
        others = self._other_issues(sentences, subject_code)
        if others:
            rules.append(f"several-issues: main {subject_code}, also {', '.join(s for s, _ in others)}")
        top3 = np.argsort(-probs, kind="stable")[:3]
        evidence = Evidence(
            matched_terms=self._matched_terms(idx, values, best),
            scores=tuple((labels[i], round(float(probs[i]), 3)) for i in top3),
            rules=tuple(rules),
            field_scores=tuple(
                (f, round(p, 3)) for f, p in sorted(field_probs.items(), key=lambda kv: -kv[1])[:3]
            ),
            class_scores=class_scores,
            other_issues=others,
            detected_kind=detected,
        )
        return Classification(
            field=Field(field_code),
            message_class=message_class,
            subject=subject_code,
            confidential=confidential,
            confidence=round(float(probs[best]), 3),
            evidence=evidence,
        )

    def _message_class(
        self, analysis: Analysis, kind: Kind, confidential: bool, rules: list[str]
    ) -> tuple[MessageClass, tuple[tuple[str, float], ...]]:
        idx, values = self.class_vectorizer.vector(analysis.class_terms(kind.value))
        probs = self.class_model.probabilities(idx, values)
        scores = tuple(
            (self.class_model.labels[i], round(float(probs[i]), 3)) for i in np.argsort(-probs, kind="stable")
        )
        if confidential:
            rules.append("class:general (a confidential report is investigated)")
            return MessageClass.GENERAL, scores
        if kind is Kind.PROPOSAL:
            rules.append("class:proposal (registered as a proposal)")
            return MessageClass.PROPOSAL, scores
        if _THANKS.search(analysis.text) and not _REQUEST.search(analysis.text):
            rules.append("class:communication (thanks or praise only)")
            return MessageClass.COMMUNICATION, scores
        return MessageClass(scores[0][0]), scores

    def _sentence_subjects(self, analysis: Analysis) -> list[tuple[str, float, bool]]:
        """Each sentence's clear subject (p >= OTHER_ISSUE_MIN), and whether the citizen
        marked it as the one that matters most."""
        spans = sentence_spans(analysis.text, analysis.tokens)
        if len(spans) < 2:
            return []
        found: list[tuple[str, float, bool]] = []
        for span in spans:
            probs = self.subject_probabilities(analysis, span)
            i = int(np.argmax(probs))
            if probs[i] >= OTHER_ISSUE_MIN:
                marked = bool(_PRIORITY.search(analysis.text[span[0] : span[1]]))
                found.append((self.subject_model.labels[i], round(float(probs[i]), 3), marked))
        return found

    @staticmethod
    def _other_issues(sentences: list[tuple[str, float, bool]], main: str) -> tuple[tuple[str, float], ...]:
        found: dict[str, float] = {}
        for code, p, _ in sentences:
            if code not in (main, "other"):
                found[code] = max(found.get(code, 0.0), p)
        return tuple(sorted(found.items(), key=lambda kv: -kv[1]))

    def _matched_terms(
        self, idx: np.ndarray, values: np.ndarray, label: int, limit: int = 8
    ) -> tuple[str, ...]:
        shown: list[str] = []
        for feature, _push in self.subject_model.contributions(idx, values, label):
            term = self.subject_vectorizer.vocabulary[feature]
            readable = term[2:].replace("_", " ")
            if any(readable in s for s in shown):
                continue
            shown.append(readable)
            if len(shown) == limit:
                break
        return tuple(shown)


def _fit(
    x: SparseRows, labels: Sequence[str], label_set: Sequence[str], config: FeatureConfig
) -> LinearModel:
    y = np.asarray([label_set.index(label) for label in labels], dtype=np.int64)
    w, b = fit_softmax(x, y, len(label_set), l2=config.l2, steps=config.steps)
    # What the artefact keeps: the model classifies exactly as it will after loading.
    w = np.where(np.abs(w) >= config.prune, w.astype(np.float32).astype(np.float64), 0.0)
    return LinearModel(tuple(label_set), w, np.round(b, 4))


def _config_from(data: dict[str, Any]) -> FeatureConfig:
    return FeatureConfig(
        group_weights=dict(data["group_weights"]),
        char_sizes=tuple(data["char_sizes"]),
        min_df=int(data["min_df"]),
        l2=float(data["l2"]),
        steps=int(data["steps"]),
        prune=float(data["prune"]),
    )


# --- training data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingExample:
    text: str
    subject: str
    message_class: MessageClass
    kind: Kind
    channel: str = "web"


def training_files(directory: Path = TRAINING) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def load_training(directory: Path = TRAINING) -> list[TrainingExample]:
    examples: list[TrainingExample] = []
    for path in training_files(directory):
        for n, row in json_lines(path):
            try:
                subject(row["subject"])
                examples.append(
                    TrainingExample(
                        text=row["text"],
                        subject=row["subject"],
                        message_class=MessageClass(row["message_class"]),
                        kind=Kind(row["kind"]),
                        channel=row.get("channel", "web"),
                    )
                )
            except (KeyError, ValueError, LookupError) as exc:
                raise ValueError(f"{path.name}:{n}: {exc}") from None
    return examples


def load_lexicon(path: Path = LEXICON) -> dict[str, list[str]]:
    """The lexicon, with each subject's own name and keywords from the taxonomy."""
    data = tomllib.loads(path.read_text("utf-8"))
    unknown = set(data) - set(SUBJECT_CODES)
    if unknown:
        raise ValueError(f"lexicon.toml names subjects not in the taxonomy: {sorted(unknown)}")
    return {s.code: list(dict.fromkeys([s.ko, *s.keywords, *data.get(s.code, [])])) for s in SUBJECTS}


def source_digest(config: FeatureConfig = CONFIG) -> str:
    return digest(
        [*training_files(), LEXICON],
        {
            "config": config.as_dict(),
            "subjects": SUBJECT_CODES,
            "taxonomy": TAXONOMY_VERSION,
            "classes": CLASSES,
            "artefact": ARTEFACT_VERSION,
        },
    )


def build(path: Path = ARTEFACT) -> Classifier:
    classifier = Classifier.train(load_training(), load_lexicon(), shared_morphology())
    write_artefact(path, classifier.to_artefact(source_digest()))
    return classifier


# --- cross-validation (training data only) ---------------------------------------------------


def out_of_fold(
    folds: int = 5, config: FeatureConfig = CONFIG
) -> list[tuple[TrainingExample, Classification]]:
    """Each training example classified by the model trained on the other folds (the lexicon
    always trains): what cross-validation, and the triage threshold, are computed from. The
    evaluation set is not read."""
    examples = load_training()
    lexicon = load_lexicon()
    morphology = shared_morphology()
    fold_of = np.random.default_rng(7).permutation(len(examples)) % folds
    found: list[tuple[TrainingExample, Classification]] = []
    for k in range(folds):
        train = [e for e, f in zip(examples, fold_of, strict=True) if f != k]
        model = Classifier.train(train, lexicon, morphology, config)
        held_out = [e for e, f in zip(examples, fold_of, strict=True) if f == k]
        found.extend((e, model.classify(e.text, e.kind)) for e in held_out)
    return found


def cross_validate(folds: int = 5, config: FeatureConfig = CONFIG) -> dict[str, float]:
    """k-fold accuracy on the training examples: the numbers to tune FeatureConfig by."""
    hits: Counter[str] = Counter()
    pairs = out_of_fold(folds, config)
    for e, c in pairs:
        hits["subject"] += c.subject == e.subject
        hits["field"] += c.field is subject(e.subject).field
        hits["message_class"] += c.message_class is e.message_class
    return {name: hits[name] / len(pairs) for name in ("field", "message_class", "subject")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eungdapso_router.classifier")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="build data/classifier.json.gz from data/training and data/lexicon.toml")
    sub.add_parser("cv", help="5-fold cross-validated accuracy on the training data")
    sub.add_parser("check", help="exit 1 when the artefact is older than its training data")
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "train":
        started = time.perf_counter()
        build()
        out.write(
            f"wrote {ARTEFACT} ({ARTEFACT.stat().st_size} bytes) in {time.perf_counter() - started:.1f}s\n"
        )
    elif args.command == "cv":
        for name, value in cross_validate().items():
            out.write(f"{name:14s} {value:.3f}\n")
    else:
        stale = read_artefact(ARTEFACT)["digest"] != source_digest()
        out.write("stale: run `python -m eungdapso_router.classifier train`\n" if stale else "up to date\n")
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
