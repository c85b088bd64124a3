"""`POST /api/v1/routing/explain`: the decision the router would take for a submission (text,
kind, place, optionally the subject chosen), with its evidence, recording nothing. For the
triage desk and for anyone checking the router; the answer holds nothing the request did not
(matched terms are fragments of the text sent)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from eungdapso_router.decision import Decider, Decision, Submission
from eungdapso_router.directory_store import LiveDirectory
from eungdapso_schemas.codes import District, Kind, MessageClass
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import Office, Place, RoutingEvidence
from eungdapso_schemas.subjects import SubjectCode

router = APIRouter(tags=["routing"])


class ExplainRequest(BaseModel):
    """A submission's body, as a channel would send it (contact data is not needed here)."""

    model_config = ConfigDict(extra="ignore")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    kind: Kind = Kind.COMPLAINT
    place: Place | None = None
    #: The subject the citizen or desk chose (민원 유형), if any.
    subject: SubjectCode | None = None


class InstantAnswerAnswer(BaseModel):
    id: str
    question: str
    answer: str
    confidence: float


class Explanation(BaseModel):
    field: AdminField
    message_class: MessageClass
    subject: str
    #: A district of Seoul, or null when no place is given or implied (or it is outside Seoul).
    district: District | None
    office: Office
    confidential: bool
    confidence: float
    evidence: RoutingEvidence
    #: The rule that decided, as the assignment would record it.
    rule: str
    #: Answered at once from the standard answers (inquiries and communication messages).
    instant_answer: InstantAnswerAnswer | None = None


def explanation(decision: Decision) -> Explanation:
    r = decision.reading
    answer = decision.instant_answer
    return Explanation(
        field=r.field,
        message_class=r.message_class,
        subject=r.subject,
        district=r.district,
        office=decision.office.ref,
        confidential=r.confidential,
        confidence=r.confidence,
        evidence=r.evidence,
        rule=decision.rule,
        instant_answer=None
        if answer is None
        else InstantAnswerAnswer(
            id=answer.answer_id, question=answer.question, answer=answer.answer, confidence=answer.confidence
        ),
    )


@router.post(
    "/api/v1/routing/explain",
    response_model=Explanation,
    summary="The router's decision for a submission, recorded nowhere",
    responses={422: {"description": "An invalid submission (RFC 9457 problem)"}},
)
async def explain(request: Request, body: ExplainRequest) -> Explanation:
    decider: Decider = request.app.state.decider
    directory: LiveDirectory = request.app.state.directory
    submission = Submission(text=body.text, kind=body.kind, place=body.place, subject=body.subject)
    # Classification (and the models' first load) runs in a worker thread.
    decision = await asyncio.to_thread(decider.decide, submission, directory.current)
    return explanation(decision)
