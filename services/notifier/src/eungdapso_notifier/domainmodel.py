"""The notifier's aggregates.

- `Correspondence` (one per complaint): what the notifier has learned that it must tell
  (the citizen's contact and language, the office, deadlines, transfers, the answer, the
  rating link) and which stages it has planned a notice for. It holds personal data (the
  reply address, the answer), which stays in the notifier's own store.
- `Notice` (one per complaint, stage, occurrence and medium; its id is derived from them, so
  planning it twice is a conflict, never a second notice): planned, attempted (recorded
  *before* the provider is called), then sent, retried, failed (the next medium gets its own
  notice) or withheld (the citizen opted out). Its events hold ids and codes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict, get_args
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict

from eungdapso_platform.domain import RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_schemas.codes import Channel, Language, ReplyMedium
from eungdapso_schemas.events import AnsweredBy, NoticeMedium, NoticeStage, ReplyAddress

CITIZEN_STAGES: tuple[NoticeStage, ...] = tuple(
    s for s in get_args(NoticeStage) if not s.startswith("office_")
)
OFFICE_STAGES: tuple[NoticeStage, ...] = tuple(s for s in get_args(NoticeStage) if s.startswith("office_"))
Recipient = Literal["citizen", "office"]


def correspondence_id(complaint_id: UUID) -> UUID:
    return derived_id("notifier.correspondence", str(complaint_id))


def notice_id(complaint_id: UUID, stage: str, occurrence: int, medium: str) -> UUID:
    """At most one notice per complaint, stage (its n-th occurrence) and medium."""
    return derived_id("notifier.notice", f"{complaint_id}:{stage}:{occurrence}:{medium}")


class Contact(BaseModel):
    """How the citizen can be reached (personal data): the reply address the channel gave,
    and the contact details the citizen left, as fallbacks."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: Channel
    language: Language = Language.KO
    reply_to: ReplyAddress | None = None
    email: str | None = None
    phone: str | None = None

    @property
    def asked_for_callback(self) -> bool:
        return (
            self.reply_to is not None and self.reply_to.medium is ReplyMedium.PHONE and self.reply_to.consent
        )


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    by: AnsweredBy
    text: str
    at: datetime
    office: str | None = None
    #: A linked duplicate: the receipt number of the complaint whose answer this is.
    duplicate_of: str | None = None


class Correspondence(RecordedAggregate):
    class Started(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str

    class ContactLearned(RecordedAggregate.Event):
        contact: Contact

    class AssignmentLearned(RecordedAggregate.Event):
        office: str
        office_name: str

    class DeadlineLearned(RecordedAggregate.Event):
        due: datetime
        office: str | None

    class DeadlineMoved(RecordedAggregate.Event):
        due: datetime

    class ExtensionLearned(RecordedAggregate.Event):
        due: datetime
        reason: str

    class TransferLearned(RecordedAggregate.Event):
        to_office: str
        reason: str

    class AnswerLearned(RecordedAggregate.Event):
        answer: Answer

    class RatingLinkLearned(RecordedAggregate.Event):
        token: str
        expires_at: datetime

    class ReviewLearned(RecordedAggregate.Event):
        score: int

    class StagePlanned(RecordedAggregate.Event):
        stage: str
        occurrence: int

    @event(Started)
    def __init__(self, id: UUID, complaint_id: UUID, receipt_no: str) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.contact: Contact | None = None
        self.office: str | None = None
        self.office_name: str | None = None
        self.due: datetime | None = None
        self.extension: tuple[datetime, str] | None = None
        self.transfers: list[tuple[str, str]] = []
        self.answer: Answer | None = None
        self.rating_token: str | None = None
        self.low_score: int | None = None
        self.planned: set[tuple[str, int]] = set()

    @classmethod
    def start(cls, complaint_id: UUID, receipt_no: str) -> Correspondence:
        return cls(id=correspondence_id(complaint_id), complaint_id=complaint_id, receipt_no=receipt_no)

    # -- what it learns (each once: the same event published again teaches nothing) ---------
    @event(ContactLearned)
    def _contact(self, contact: Contact) -> None:
        self.contact = contact

    def learn_contact(self, contact: Contact) -> None:
        if self.contact is None:
            self._contact(contact)

    @event(AssignmentLearned)
    def _assignment(self, office: str, office_name: str) -> None:
        self.office, self.office_name = office, office_name

    def learn_assignment(self, office: str, office_name: str) -> bool:
        if (office, office_name) == (self.office, self.office_name):
            return False
        self._assignment(office, office_name)
        return True

    @event(DeadlineLearned)
    def _deadline(self, due: datetime, office: str | None) -> None:
        self.due = due
        if self.office is None:
            self.office = office

    def learn_deadline(self, due: datetime, office: str | None) -> None:
        if self.due is None:
            self._deadline(due, office)

    @event(DeadlineMoved)
    def _moved(self, due: datetime) -> None:
        if self.extension is not None:
            self.extension = (due, self.extension[1])
        else:
            self.due = due

    def move_deadline(self, due: datetime) -> None:
        """A holiday declared at run time moved the deadline: notices not yet sent tell the
        new one (the citizen is not sent a notice of the move itself)."""
        if due != self.current_due:
            self._moved(due)

    @event(ExtensionLearned)
    def _extension(self, due: datetime, reason: str) -> None:
        self.extension = (due, reason)

    def learn_extension(self, due: datetime, reason: str) -> None:
        if self.extension is None:
            self._extension(due, reason)

    @event(TransferLearned)
    def _transfer(self, to_office: str, reason: str) -> None:
        self.transfers = [*self.transfers, (to_office, reason)]

    def learn_transfer(self, to_office: str, reason: str) -> None:
        self._transfer(to_office, reason)

    @event(AnswerLearned)
    def _answer(self, answer: Answer) -> None:
        self.answer = answer

    def learn_answer(self, answer: Answer) -> None:
        if self.answer is None:  # the first answer the citizen gets is the one told
            self._answer(answer)

    @event(RatingLinkLearned)
    def _link(self, token: str, expires_at: datetime) -> None:
        self.rating_token = token

    def learn_rating_link(self, token: str, expires_at: datetime) -> bool:
        if self.rating_token is not None:
            return False
        self._link(token, expires_at)
        return True

    @event(ReviewLearned)
    def learn_review(self, score: int) -> None:
        self.low_score = score

    @property
    def current_due(self) -> datetime | None:
        return self.extension[0] if self.extension is not None else self.due

    # -- planning ---------------------------------------------------------------------------
    @event(StagePlanned)
    def _planned(self, stage: str, occurrence: int) -> None:
        self.planned = self.planned | {(stage, occurrence)}

    def plan(self, stage: NoticeStage, occurrence: int = 1) -> bool:
        """Record that `stage` (its n-th time) is to be told; False if it already was."""
        if (stage, occurrence) in self.planned:
            return False
        self._planned(stage, occurrence)
        return True

    def citizen_stages_due(self) -> list[tuple[NoticeStage, int]]:
        """The citizen's stages known and not yet planned, in the order they happened. Nothing
        before the contact is known; once answered, the steps before the answer are history
        (a citizen told the answer is not told afterwards that the case was assigned)."""
        if self.contact is None:
            return []
        due: list[tuple[NoticeStage, int]] = [("received", 1)]
        if self.answer is None:
            if self.office is not None and self.due is not None:
                due.append(("assigned", 1))
            if self.extension is not None:
                due.append(("extended", 1))
            due += [("transferred", n) for n in range(1, len(self.transfers) + 1)]
        else:
            due.append(("answered", 1))
        return [(stage, n) for stage, n in due if (stage, n) not in self.planned]


class _Published(TypedDict):
    complaint_id: UUID
    receipt_no: str
    stage: str
    occurrence: int
    medium: str
    recipient: str
    office: str | None
    language: str
    provider: str
    attempt: int
    at: datetime


class Notice(RecordedAggregate):
    class Planned(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        stage: str
        occurrence: int
        medium: str
        recipient: str
        office: str | None

    class Attempted(RecordedAggregate.Event):
        attempt: int
        at: datetime

    class Published(RecordedAggregate.Event):
        complaint_id: UUID
        receipt_no: str
        stage: str
        occurrence: int
        medium: str
        recipient: str
        office: str | None
        language: str
        provider: str
        attempt: int
        at: datetime

    class Sent(Published):
        form: str | None

    class Retrying(RecordedAggregate.Event):
        attempt: int
        provider: str
        reason: str
        retry_at: datetime

    class Failed(Published):
        reason: str
        fallback: str | None

    class Withheld(RecordedAggregate.Event):
        reason: str

    class RatingLinkCame(RecordedAggregate.Event):
        """The rating link came while this answer notice waited: it is told with the link.
        Recorded on the notice so that a dispatcher that made its text before (without the
        link) conflicts on recording the attempt, and makes it again."""

    @event(Planned)
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        stage: str,
        occurrence: int,
        medium: str,
        recipient: str,
        office: str | None,
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.stage = stage
        self.occurrence = occurrence
        self.medium = medium
        self.recipient = recipient
        self.office = office
        self.attempts = 0
        self.status: Literal["planned", "sending", "sent", "failed", "withheld"] = "planned"

    @classmethod
    def plan(
        cls,
        complaint_id: UUID,
        receipt_no: str,
        stage: NoticeStage,
        occurrence: int,
        medium: NoticeMedium,
        office: str | None = None,
    ) -> Notice:
        recipient: Recipient = "office" if stage in OFFICE_STAGES else "citizen"
        return cls(
            id=notice_id(complaint_id, stage, occurrence, medium),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            stage=stage,
            occurrence=occurrence,
            medium=medium,
            recipient=recipient,
            office=office,
        )

    @property
    def done(self) -> bool:
        return self.status in ("sent", "failed", "withheld")

    def _published(self, language: str, provider: str, at: datetime) -> _Published:
        return {
            "complaint_id": self.complaint_id,
            "receipt_no": self.receipt_no,
            "stage": self.stage,
            "occurrence": self.occurrence,
            "medium": self.medium,
            "recipient": self.recipient,
            "office": self.office,
            "language": language,
            "provider": provider,
            "attempt": max(self.attempts, 1),
            "at": at,
        }

    @event(Attempted)
    def attempt(self, attempt: int, at: datetime) -> None:
        """Recorded before the provider is called: a crash after this and before the outcome
        leaves the notice `sending`, and the next attempt carries the same notice id."""
        self.attempts = attempt
        self.status = "sending"

    def next_attempt(self, at: datetime) -> None:
        self.attempt(self.attempts + 1, at)

    @event(Sent)
    def _sent(
        self,
        complaint_id: UUID,
        receipt_no: str,
        stage: str,
        occurrence: int,
        medium: str,
        recipient: str,
        office: str | None,
        language: str,
        provider: str,
        attempt: int,
        at: datetime,
        form: str | None,
    ) -> None:
        self.status = "sent"

    def sent(self, *, language: str, provider: str, at: datetime, form: str | None) -> None:
        self._sent(form=form, **self._published(language, provider, at))

    @event(Retrying)
    def retrying(self, attempt: int, provider: str, reason: str, retry_at: datetime) -> None:
        self.status = "planned"

    @event(Failed)
    def _failed(
        self,
        complaint_id: UUID,
        receipt_no: str,
        stage: str,
        occurrence: int,
        medium: str,
        recipient: str,
        office: str | None,
        language: str,
        provider: str,
        attempt: int,
        at: datetime,
        reason: str,
        fallback: str | None,
    ) -> None:
        self.status = "failed"

    def failed(
        self, *, language: str, provider: str, at: datetime, reason: str, fallback: NoticeMedium | None
    ) -> None:
        self._failed(reason=reason[:2000], fallback=fallback, **self._published(language, provider, at))

    @event(Withheld)
    def withheld(self, reason: str) -> None:
        self.status = "withheld"

    @event(RatingLinkCame)
    def rating_link_came(self) -> None:
        pass

    @property
    def waiting(self) -> bool:
        """Not yet handed to a provider: its text is still to be made (a retry makes it again)."""
        return self.status == "planned"
