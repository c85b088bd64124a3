"""Leadership and migrations on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.leadership import Leadership
from eungdapso_platform.migrations import PLATFORM_MIGRATIONS, Migration, migrate

pytestmark = pytest.mark.integration


async def test_one_leader_per_scope_and_role_and_a_standby_takes_over(database: PostgresTarget) -> None:
    first = Leadership(database.conninfo(), scope="sla", role="deadline-timers")
    second = Leadership(database.conninfo(), scope="sla", role="deadline-timers")
    other_role = Leadership(database.conninfo(), scope="sla", role="outbox.sla")
    other_scope = Leadership(database.conninfo(), scope="router", role="deadline-timers")
    try:
        assert await first.hold() is True
        assert await second.hold() is False
        # Leadership is per role and per service: the others lead their own.
        assert await other_role.hold() is True and await other_scope.hold() is True
        assert await first.hold() is True  # still held on its session
        # The leader's session ends (a crash closes it just the same): the standby takes over.
        await first.release()
        assert await second.hold() is True
        assert await first.hold() is False
    finally:
        for lead in (first, second, other_role, other_scope):
            await lead.release()


async def test_a_leader_whose_session_is_killed_is_no_leader(database: PostgresTarget) -> None:
    leader = Leadership(database.conninfo(), scope="sla", role="deadline-timers")
    standby = Leadership(database.conninfo(), scope="sla", role="deadline-timers")
    assert await leader.hold()
    with psycopg.connect(database.conninfo(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype='advisory' AND pid <> pg_backend_pid()"
        )
    await asyncio.sleep(0.1)
    assert await standby.hold() is True
    leader.recheck_s = 0  # confirm now rather than trusting the last check
    with pytest.raises(psycopg.Error):
        await leader.hold()
    assert leader.is_leader is False
    await standby.release()


def test_migrations_apply_once_in_order_even_from_replicas_starting_together(
    database: PostgresTarget,
) -> None:
    mine = (
        Migration("casework", 1, "inbox", ("CREATE TABLE {schema}.inbox (id int PRIMARY KEY)",)),
        Migration("casework", 2, "inbox office", ("ALTER TABLE {schema}.inbox ADD COLUMN office text",)),
    )
    applied: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: applied.append(
                migrate(database.conninfo(), "casework", (*PLATFORM_MIGRATIONS, *mine))
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(applied) == [0, 0, 0, len(PLATFORM_MIGRATIONS) + 2]
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute(
            "SELECT component, version FROM casework.schema_migrations ORDER BY component, version"
        ).fetchall()
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema='casework' AND table_name='inbox'"
        ).fetchall()
    assert rows == [("casework", 1), ("casework", 2), *[("platform", m.version) for m in PLATFORM_MIGRATIONS]]
    assert {c[0] for c in columns} == {"id", "office"}
    # Numbering must be 1, 2, 3, ...: a gap or a repeat is refused before anything runs.
    with pytest.raises(ValueError, match="numbered"):
        migrate(database.conninfo(), "casework", (mine[1],))
