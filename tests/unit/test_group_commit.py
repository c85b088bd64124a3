"""Group commit: concurrent saves share a transaction; a conflicting one fails alone."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest

from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.eventstore import CommitOutcomeUnknown, IntegrityError, remaining_s
from eungdapso_platform.groupcommit import DeadlineExpired, GroupCommit
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


class SlowStore:
    """A store whose first commit blocks until released, recording what it was given."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.saved: list[uuid.UUID] = []
        self.calls = 0

    def save(self, *events: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self.release.wait(10)
        self.saved.extend(e.originator_id for e in events)


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_a_queued_request_is_withdrawn_at_its_deadline_and_never_written() -> None:
    store = SlowStore()
    commits = GroupCommit(store.save)
    first, late = uuid.uuid4(), uuid.uuid4()
    slow = asyncio.create_task(commits.save(complaint(first)))
    await until(lambda: store.calls == 1)  # in flight, blocked
    started = time.monotonic()
    with pytest.raises(DeadlineExpired):
        await commits.save(complaint(late), deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 1
    store.release.set()
    await slow
    await asyncio.sleep(0.1)
    assert store.saved == [first]
    assert commits.commits == 1


async def test_a_request_whose_commit_overruns_is_told_the_outcome_is_unknown() -> None:
    store = SlowStore()
    commits = GroupCommit(store.save, grace_s=0.2)
    cid = uuid.uuid4()
    started = time.monotonic()
    with pytest.raises(CommitOutcomeUnknown):
        await commits.save(complaint(cid), deadline=time.monotonic() + 0.2)
    assert 0.4 <= time.monotonic() - started < 1.5
    store.release.set()  # the commit completes after all: that is why "unknown", not "nothing"
    await until(lambda: commits.commits == 1)
    assert store.saved == [cid]


async def test_a_cancelled_request_that_was_still_queued_is_never_written() -> None:
    store = SlowStore()
    commits = GroupCommit(store.save)
    first, gone = uuid.uuid4(), uuid.uuid4()
    slow = asyncio.create_task(commits.save(complaint(first)))
    await until(lambda: store.calls == 1)
    queued = asyncio.create_task(commits.save(complaint(gone)))
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    store.release.set()
    await slow
    await asyncio.sleep(0.1)
    assert store.saved == [first]


async def test_a_batch_is_bounded_by_the_earliest_deadline_in_it() -> None:
    seen: list[float | None] = []

    def save(*_: object) -> None:
        seen.append(remaining_s())

    commits = GroupCommit(save)
    soon = time.monotonic() + 3
    await asyncio.gather(
        commits.save(complaint(uuid.uuid4()), deadline=soon + 2),
        commits.save(complaint(uuid.uuid4()), deadline=soon),
    )
    await commits.save(complaint(uuid.uuid4()))
    assert len(seen) == 2
    assert seen[0] is not None and 2 < seen[0] <= 3
    assert seen[1] is None  # without a deadline, the store's own retry policy applies
