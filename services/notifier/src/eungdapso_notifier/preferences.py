"""Citizens' preferences: opted out of notices, and the language they prefer. Keyed by a
digest of the address (`tables.citizen_key`): the same phone number or e-mail address is the
same citizen across complaints, and the table holds no address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eungdapso_notifier.tables import citizen_key
from eungdapso_platform.db import Database
from eungdapso_schemas.codes import Language


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
