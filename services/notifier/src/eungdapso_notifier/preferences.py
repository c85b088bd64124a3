"""Citizens' preferences: opted out of notices, and the language they prefer. Keyed by a
digest of the address (`tables.citizen_key`): the same phone number or e-mail address is the
same citizen across complaints, and the table holds no address.

And who opted in to emergency SMS (긴급 알림 문자) for which districts (`EmergencySms`, the
broadcasts' `SmsSubscribers`): that table holds the phone number, which the alert goes to;
broadcasts and their events name the citizen by the key only."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eungdapso_notifier.broadcast import Subscriber
from eungdapso_notifier.tables import citizen_key
from eungdapso_platform.db import Database
from eungdapso_schemas.codes import District, Language


@dataclass(frozen=True)
class Preference:
    opted_out: bool = False
    language: Language | None = None


class Preferences:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of_many(self, addresses: list[str]) -> dict[str, Preference]:
        """The preferences of these addresses that have any, in one query, by citizen key."""
        keys = {citizen_key(a) for a in addresses}
        if not keys:
            return {}

        async def read(conn: object) -> dict[str, Preference]:
            cursor = await conn.execute(  # type: ignore[attr-defined]
                self.db.sql(
                    "SELECT citizen, opted_out, language FROM {schema}.preferences WHERE citizen = ANY(%s)"
                ),
                (list(keys),),
            )
            return {
                row["citizen"]: Preference(
                    row["opted_out"], Language(row["language"]) if row["language"] else None
                )
                for row in await cursor.fetchall()
            }

        return await self.db.run(read)

    async def set(self, address: str, preference: Preference, at: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql(
                    "INSERT INTO {schema}.preferences (citizen, opted_out, language, updated_at)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (citizen) DO UPDATE SET"
                    " opted_out = EXCLUDED.opted_out, language = EXCLUDED.language,"
                    " updated_at = EXCLUDED.updated_at"
                ),
                (
                    citizen_key(address),
                    preference.opted_out,
                    preference.language.value if preference.language else None,
                    at,
                ),
            )


class EmergencySms:
    """Citizens opted in to emergency SMS, by district (none: the whole city)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def opted_in(self, districts: Collection[District]) -> Sequence[Subscriber]:
        """Those who opted in for any of `districts`, or for the whole city (a broadcast to
        no district in particular is for the whole city: everyone who opted in)."""
        wanted = sorted(d.value for d in districts)

        async def read(conn: Any) -> list[Subscriber]:
            cursor = await conn.execute(
                self.db.sql(
                    "SELECT citizen, phone, language FROM {schema}.emergency_sms"
                    " WHERE cardinality(%s::text[]) = 0 OR cardinality(districts) = 0"
                    " OR districts && %s::text[]"
                    " ORDER BY citizen"
                ),
                (wanted, wanted),
            )
            return [Subscriber(r["citizen"], r["phone"], r["language"]) for r in await cursor.fetchall()]

        return await self.db.run(read)

    async def opt_in(
        self, phone: str, districts: Collection[District], language: Language, at: datetime
    ) -> str:
        """Opt in (again: the districts and language replace those before); the citizen's key."""
        key = citizen_key(phone)
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql(
                    "INSERT INTO {schema}.emergency_sms (citizen, phone, language, districts, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (citizen) DO UPDATE SET"
                    " phone = EXCLUDED.phone, language = EXCLUDED.language,"
                    " districts = EXCLUDED.districts, updated_at = EXCLUDED.updated_at"
                ),
                (key, phone, language.value, sorted({d.value for d in districts}), at),
            )
        return key

    async def opt_out(self, phone: str) -> bool:
        """Forget the citizen's number; False if they had not opted in."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                self.db.sql("DELETE FROM {schema}.emergency_sms WHERE citizen = %s RETURNING citizen"),
                (citizen_key(phone),),
            )
            return await cursor.fetchone() is not None
