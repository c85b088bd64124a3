"""The notifier's event store and what it publishes (eungdapso.notifier.events): notices
sent and failed, ids and codes only (the address, the text and the rating link stay here)."""

from __future__ import annotations

from typing import cast

from eungdapso_notifier.domainmodel import Answer, Contact, Notice
from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.codes import Language
from eungdapso_schemas.events import NoticeFailedV1, NoticeMedium, NoticeSentV1, NoticeStage

SOURCE = "/eungdapso/notifier"


class NotifierApplication(EventSourcedApplication):
    name = "Notifier"
    transcoded_types = (Contact, Answer)


def _ids(e: Notice.Published) -> dict[str, object]:
    return {
        "complaint_id": e.complaint_id,
        "receipt_no": e.receipt_no,
        "notice_id": e.originator_id,
        "stage": cast(NoticeStage, e.stage),
        "occurrence": e.occurrence,
        "medium": cast(NoticeMedium, e.medium),
        "language": Language(e.language),
        "recipient": e.recipient,
        "office": e.office,
        "provider": e.provider,
        "attempt": e.attempt,
        "at": e.at,
    }


def sent_v1(e: Notice.Sent) -> NoticeSentV1:
    return NoticeSentV1.model_validate({**_ids(e), "form": e.form})


def failed_v1(e: Notice.Failed) -> NoticeFailedV1:
    return NoticeFailedV1.model_validate({**_ids(e), "reason": e.reason, "fallback": e.fallback})


OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Notice.Sent, sent_v1)
OUTBOX.translate(Notice.Failed, failed_v1)
