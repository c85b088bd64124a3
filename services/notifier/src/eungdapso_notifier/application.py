"""The notifier's event store and what it publishes (eungdapso.notifier.events): notices
sent and failed, ids and codes only (the address, the text and the rating link stay here)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg.sql import SQL, Identifier

from eungdapso_notifier.domainmodel import Answer, Contact, Notice
from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.codes import Language
from eungdapso_schemas.events import NoticeFailedV1, NoticeMedium, NoticeSentV1, NoticeStage

SOURCE = "/eungdapso/notifier"


class NotifierApplication(EventSourcedApplication):
    name = "Notifier"
    transcoded_types = (Contact, Answer)

    def find_many(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any]:
        """The aggregates as recorded (None: not recorded), read in one query rather than one
        per aggregate: the dispatcher reads a batch's notices, then their correspondence."""
        recorder: Any = self.recorder
        if not isinstance(recorder, PostgresAggregateRecorder):  # in memory (unit tests)
            return {i: self.find(i) for i in aggregate_ids}
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
            " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, [list(aggregate_ids)])
            rows = cursor.fetchall()
        events: dict[UUID, list[Any]] = {i: [] for i in aggregate_ids}
        for row in rows:
            stored = StoredEvent(
                row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
            )
            events[row["originator_id"]].append(self.mapper.to_domain_event(stored))
        return {i: project_aggregate(None, found) if found else None for i, found in events.items()}


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
