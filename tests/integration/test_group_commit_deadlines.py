"""Group commit on a real PostgreSQL when commits are slow: deadlines, withdrawal, the truth."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.groupcommit import DeadlineExpired, GroupCommit
from tests.support.complaints import a_complaint

pytestmark = pytest.mark.integration


def complaint(cid: uuid.UUID) -> Complaint:
    return a_complaint(id=cid)


@pytest.fixture
def app(database: PostgresTarget) -> Iterator[IntakeApplication]:
    settings = IntakeSettings(**{k.lower(): v for k, v in database.env().items()})  # type: ignore[arg-type]
    application = IntakeApplication(env=settings.eventsourcing_env())
    yield application
    application.close()


def stored_events(database: PostgresTarget) -> int:
    with psycopg.connect(database.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM intake.intake_events").fetchone()
        assert row is not None
        return int(row[0])


async def test_requests_queued_behind_a_slow_commit_are_withdrawn_not_written(
    database: PostgresTarget, app: IntakeApplication
) -> None:
    commits = GroupCommit(app.save)
    # Another session holds the event table's lock: the next commit waits for it.
    holder = psycopg.connect(database.conninfo())
    holder.execute("LOCK TABLE intake.intake_events IN EXCLUSIVE MODE")
    try:
        first = uuid.uuid4()
        slow = asyncio.create_task(commits.save(complaint(first), deadline=time.monotonic() + 20))
        await asyncio.sleep(0.5)  # its batch is in flight, waiting for the lock
        assert not slow.done()

        queued_ids = [uuid.uuid4() for _ in range(3)]
        started = time.monotonic()
        queued = await asyncio.gather(
            *(commits.save(complaint(cid), deadline=time.monotonic() + 1) for cid in queued_ids),
            return_exceptions=True,
        )
        waited = time.monotonic() - started
        assert [type(r) for r in queued] == [DeadlineExpired] * 3
        assert waited < 2, f"queued requests answered after {waited:.1f} s"
        assert not slow.done()  # the slow commit is still under way
    finally:
        holder.rollback()  # the lock goes; the slow commit completes
        holder.close()
    await slow

    await asyncio.sleep(1)  # anything still queued would have been written by now
    assert app.find(first) is not None
    assert all(app.find(cid) is None for cid in queued_ids)
    assert stored_events(database) == 1
    assert commits.commits == 1
