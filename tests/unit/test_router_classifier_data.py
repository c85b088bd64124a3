"""The classifier's data: the checked-in artefact is exactly what the training data build
(a drift check, like `make check-schemas`), and the evaluation set is kept apart from
everything the model learns from, near-duplicates included."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eungdapso_router.classifier import (
    ARTEFACT,
    LEXICON,
    Classifier,
    build,
    load_lexicon,
    load_training,
    source_digest,
)
from eungdapso_router.evaluate import EVAL_SET, load_cases, office_code
from eungdapso_router.textmodel import read_artefact
from eungdapso_schemas.codes import District, Field, Kind, MessageClass
from eungdapso_schemas.subjects import SUBJECTS, subject

RETRAIN = "python -m eungdapso_router.classifier train"


def test_artefact_was_built_from_the_current_training_data() -> None:
    assert read_artefact(ARTEFACT)["digest"] == source_digest(), f"training data changed: run `{RETRAIN}`"


def test_training_again_gives_the_checked_in_model(tmp_path: Path) -> None:
    rebuilt = tmp_path / "classifier.json.gz"
    build(rebuilt)
    assert read_artefact(rebuilt) == read_artefact(ARTEFACT), (
        f"artefact differs from its data: run `{RETRAIN}`"
    )


def test_the_artefact_is_small_and_loads_fast() -> None:
    import time

    from eungdapso_router.morphology import shared_morphology

    morphology = shared_morphology()  # kiwi's own load is not the model's
    started = time.perf_counter()
    Classifier.load(morphology=morphology)
    assert time.perf_counter() - started < 1.0
    assert ARTEFACT.stat().st_size < 2_000_000


def test_training_data_covers_every_subject_in_every_style() -> None:
    examples = load_training()
    per_subject = Counter(e.subject for e in examples)
    assert set(per_subject) == {s.code for s in SUBJECTS}
    assert min(per_subject.values()) >= 25
    assert {e.message_class for e in examples} == set(MessageClass)
    assert {e.channel for e in examples} >= {"web", "app", "phone", "sms", "sns", "visit", "fax", "mail"}
    assert set(load_lexicon()) == {s.code for s in SUBJECTS}
    assert LEXICON.exists()


# --- the evaluation set ----------------------------------------------------------------


def _grams(text: str) -> set[str]:
    squeezed = re.sub(r"[^0-9a-z가-힣]", "", text.lower())
    return {squeezed[i : i + 3] for i in range(len(squeezed) - 2)}


def test_no_evaluation_text_is_in_the_training_data_not_even_nearly() -> None:
    training = [e.text for e in load_training()]
    training += [term for terms in load_lexicon().values() for term in terms]
    train_grams = [(t, _grams(t)) for t in training]
    for case in load_cases():
        grams = _grams(case.text)
        for text, other in train_grams:
            if not grams or not other:
                continue
            jaccard = len(grams & other) / len(grams | other)
            contained = len(grams & other) / min(len(grams), len(other))
            assert jaccard < 0.5, f"{case.id} is nearly a training example: {text}"
            assert not (contained > 0.9 and min(len(grams), len(other)) >= 8), f"{case.id} contains {text}"


def test_training_never_reads_the_evaluation_set() -> None:
    source = Path(__file__).resolve().parents[2] / "services/router/src/eungdapso_router"
    for module in ("classifier.py", "textmodel.py", "morphology.py"):
        assert "routing_eval" not in (source / module).read_text("utf-8")
    assert not EVAL_SET.is_relative_to(source)


def test_evaluation_set_is_labelled_and_spread() -> None:
    cases = load_cases()
    assert len(cases) >= 300
    assert len({c.id for c in cases}) == len(cases)
    for c in cases:
        s = subject(c.subject)
        assert c.field == s.field.value, c.id
        assert MessageClass(c.message_class)
        assert c.district is None or District(c.district)
        assert c.office == office_code(c.subject, c.district), c.id
        assert c.confidential == (c.kind.confidential or c.confidential), c.id
    assert {c.field for c in cases} == {f.value for f in Field}
    assert {c.kind for c in cases} == set(Kind)
    assert {c.channel for c in cases} >= {
        "web",
        "app",
        "phone",
        "sms",
        "sns",
        "visit",
        "fax",
        "mail",
        "integration",
    }
    assert {c.district for c in cases if c.district} == {d.value for d in District}
    assert sum(c.district is None for c in cases) >= len(cases) / 3 - 1
    assert sum(c.channel == "sns" for c in cases) >= len(cases) / 5


@pytest.mark.parametrize("line", EVAL_SET.read_text("utf-8").splitlines()[:1])
def test_evaluation_rows_carry_what_the_brief_names(line: str) -> None:
    row = json.loads(line)
    assert set(row) >= {
        "text",
        "kind",
        "channel",
        "place",
        "field",
        "message_class",
        "subject",
        "district",
        "office",
    }
