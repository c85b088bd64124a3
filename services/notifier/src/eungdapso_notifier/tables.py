"""The notifier's tables beside its event store, each written in the same transaction as the
events that change it:

- `pending_notices`: the dispatcher's work list, one row per notice not yet sent, failed or
  withheld, with when to try next and who holds it (`claimed_until`);
- `citizen_page`, `letter_queue`, `callback_tasks`: where the local media deliver (the web
  page shows the first, the mail room prints the second, 120 agents work the third);
- `preferences`: per citizen (by a digest of their address: the table never holds it),
  opted out, and the language they prefer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "notifier",
        1,
        "pending notices (the dispatcher's work list), the citizen page, the letter queue, "
        "callback tasks and citizens' preferences",
        (
            "CREATE TABLE {schema}.pending_notices ("
            " notice_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " stage text NOT NULL,"
            " medium text NOT NULL,"
            " next_at timestamptz NOT NULL,"
            " claimed_until timestamptz,"
            " version integer NOT NULL)",
            "CREATE INDEX pending_notices_next ON {schema}.pending_notices (next_at)",
            "CREATE INDEX pending_notices_complaint ON {schema}.pending_notices (complaint_id)",
            "CREATE TABLE {schema}.citizen_page ("
            " notice_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " stage text NOT NULL,"
            " language text NOT NULL,"
            " subject text NOT NULL,"
            " body text NOT NULL,"
            " at timestamptz NOT NULL)",
            "CREATE INDEX citizen_page_receipt ON {schema}.citizen_page (receipt_no, at)",
            "CREATE TABLE {schema}.letter_queue ("
            " notice_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " address text NOT NULL,"
            " language text NOT NULL,"
            " subject text NOT NULL,"
            " body text NOT NULL,"
            " queued_at timestamptz NOT NULL,"
            " printed_at timestamptz)",
            "CREATE TABLE {schema}.callback_tasks ("
            " task_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " phone text NOT NULL,"
            " language text NOT NULL,"
            " script text NOT NULL,"
            " created_at timestamptz NOT NULL,"
            " done_at timestamptz,"
            " done_by text,"
            " outcome text)",
            "CREATE INDEX callback_tasks_open ON {schema}.callback_tasks (created_at) WHERE done_at IS NULL",
            "CREATE TABLE {schema}.preferences ("
            " citizen text PRIMARY KEY,"
            " opted_out boolean NOT NULL DEFAULT false,"
            " language text,"
            " updated_at timestamptz NOT NULL)",
        ),
    ),
)

#: Notifier migration 3 (2 is `keys.MIGRATIONS`).
EMERGENCY_SMS = Migration(
    "notifier",
    3,
    "citizens who opted in to emergency SMS, by district",
    (
        # The phone number is what the alert is sent to: it stays here, in the notifier's store,
        # like the letter queue's addresses. Keyed by the citizen's key (an opaque reference
        # broadcasts name); no districts: the whole city.
        "CREATE TABLE {schema}.emergency_sms ("
        " citizen text PRIMARY KEY,"
        " phone text NOT NULL,"
        " language text NOT NULL,"
        " districts text[] NOT NULL,"
        " updated_at timestamptz NOT NULL)",
        "CREATE INDEX emergency_sms_districts ON {schema}.emergency_sms USING gin (districts)",
    ),
)


def citizen_key(address: str) -> str:
    """A citizen's key in `preferences`: the digest of their normalised address (a phone
    number's digits, an e-mail address in lower case), so the table holds no address."""
    text = address.strip().lower()
    digits = "".join(c for c in text if c.isdigit())
    if "@" not in text and len(digits) >= 7:
        text = digits.removeprefix("82") if digits.startswith("82") else digits
        text = text if text.startswith("0") else "0" + text
    return hashlib.sha256(text.encode()).hexdigest()


_UPSERT_PENDING = (
    "INSERT INTO {schema}.pending_notices AS t"
    " (notice_id, complaint_id, stage, medium, next_at, claimed_until, version)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (notice_id) DO UPDATE SET next_at=EXCLUDED.next_at,"
    " claimed_until=EXCLUDED.claimed_until, version=EXCLUDED.version"
    " WHERE t.version <= EXCLUDED.version"
)


def pending(
    notice_id: UUID,
    complaint_id: UUID,
    stage: str,
    medium: str,
    next_at: datetime,
    version: int,
    *,
    claimed_until: datetime | None = None,
) -> Write:
    return Write(_UPSERT_PENDING, (notice_id, complaint_id, stage, medium, next_at, claimed_until, version))


def done(notice_id: UUID) -> Write:
    return Write("DELETE FROM {schema}.pending_notices WHERE notice_id = %s", (notice_id,))


def answer_now(complaint_id: UUID, now: datetime) -> Write:
    """The rating link came: the answer notices waiting for it go at once."""
    return Write(
        "UPDATE {schema}.pending_notices SET next_at = %s"
        " WHERE complaint_id = %s AND stage = 'answered' AND next_at > %s",
        (now, complaint_id, now),
    )


def on_citizen_page(
    notice_id: UUID,
    complaint_id: UUID,
    receipt_no: str,
    stage: str,
    language: str,
    subject: str,
    body: str,
    at: datetime,
) -> Write:
    return Write(
        "INSERT INTO {schema}.citizen_page"
        " (notice_id, complaint_id, receipt_no, stage, language, subject, body, at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (notice_id) DO NOTHING",
        (notice_id, complaint_id, receipt_no, stage, language, subject, body, at),
    )


def in_letter_queue(
    notice_id: UUID,
    complaint_id: UUID,
    receipt_no: str,
    address: str,
    language: str,
    subject: str,
    body: str,
    at: datetime,
) -> Write:
    return Write(
        "INSERT INTO {schema}.letter_queue"
        " (notice_id, complaint_id, receipt_no, address, language, subject, body, queued_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (notice_id) DO NOTHING",
        (notice_id, complaint_id, receipt_no, address, language, subject, body, at),
    )


def callback_task(
    notice_id: UUID, complaint_id: UUID, receipt_no: str, phone: str, language: str, script: str, at: datetime
) -> Write:
    return Write(
        "INSERT INTO {schema}.callback_tasks"
        " (task_id, complaint_id, receipt_no, phone, language, script, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (task_id) DO NOTHING",
        (notice_id, complaint_id, receipt_no, phone, language, script, at),
    )
