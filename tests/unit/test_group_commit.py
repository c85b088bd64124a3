"""Group commit: concurrent saves share a transaction; a conflicting one fails alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.eventstore import IntegrityError
from eungdapso_platform.groupcommit import GroupCommit
from tests.support.complaints import a_complaint


def complaint(cid: uuid.UUID) -> Complaint:
    return a_complaint(id=cid)


async def test_concurrent_saves_are_committed_together() -> None:
    app = IntakeApplication()
    commits = GroupCommit(app.save)
    ids = [uuid.uuid4() for _ in range(50)]
    await asyncio.gather(*(commits.save(complaint(cid)) for cid in ids))
    assert all(app.find(cid) is not None for cid in ids)
    assert commits.commits < 10  # 50 requests, a handful of transactions


async def test_a_conflict_fails_only_its_own_request() -> None:
    app = IntakeApplication()
    commits = GroupCommit(app.save)
    taken = uuid.uuid4()
    await commits.save(complaint(taken))
    others = [uuid.uuid4() for _ in range(5)]
    results = await asyncio.gather(
        *(commits.save(complaint(cid)) for cid in [*others[:2], taken, *others[2:]]),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [type(None)] * 2 + [IntegrityError] + [type(None)] * 3
    assert all(app.find(cid) is not None for cid in others)


async def test_a_failing_store_fails_every_waiting_request() -> None:
    def broken(*_: object) -> None:
        raise ConnectionError("database down")

    commits = GroupCommit(broken)
    with pytest.raises(ConnectionError):
        await commits.save(complaint(uuid.uuid4()))
