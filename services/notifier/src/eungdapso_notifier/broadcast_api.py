"""The emergency broadcast's admin API, its keys, and how it is wired into the notifier.

    POST /api/v1/broadcasts        (admin key with scope `broadcast`; Idempotency-Key advised)
    GET  /api/v1/broadcasts/{id}   what went out: each account's outcome, SMS counts

Keys (hashed, audited in `notifier.broadcast_admin_key_events`) are the platform's
credentials:

    python -m eungdapso_notifier admin-keys create --name N   (the key alone on the last line)
    python -m eungdapso_notifier admin-keys revoke --name N
    python -m eungdapso_notifier admin-keys list
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from eungdapso_notifier.broadcast import (
    OUTBOX,
    AccountCode,
    Broadcast,
    BroadcastsApplication,
    CityAccounts,
    NoSubscribers,
    SmsSubscribers,
    account_target,
)
from eungdapso_notifier.broadcast_delivery import BroadcastDelivery, BroadcastSettings
from eungdapso_notifier.providers.registry import Providers
from eungdapso_platform import credentials
from eungdapso_platform.clock import Clock
from eungdapso_platform.credentials import CredentialTables
from eungdapso_platform.db import Database
from eungdapso_platform.domain import acting_as
from eungdapso_platform.eventstore import IntegrityError, derived_id, within
from eungdapso_platform.migrations import Migration
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.problems import Problem
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.codes import District, Language
from eungdapso_schemas.events import BroadcastText, ShortText

TABLES = CredentialTables(clients="broadcast_admin_keys", events="broadcast_admin_key_events")
#: Their own component's numbering, apart from the notices' migrations.
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration(
        "notifier.broadcast", 1, "broadcast administrators' keys (hashed) and their audit trail"
    ),
)


class AdminScope(StrEnum):
    BROADCAST = "broadcast"


class BroadcastAdminKeys(credentials.ClientDirectory[AdminScope]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, tables=TABLES, scope=AdminScope)


async def broadcaster(
    request: Request, key: Annotated[str | None, Depends(credentials.presented_key)]
) -> credentials.Client[AdminScope]:
    """A dependency: an administrator's key with scope `broadcast`, or a 401/403 problem."""
    wiring: BroadcastWiring = request.app.state.broadcasts
    return await credentials.admit(wiring.keys, key, AdminScope.BROADCAST)


# -- The API -------------------------------------------------------------------------------
class BroadcastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    #: In Korean; SNS accounts post it.
    text: BroadcastText
    #: For SMS subscribers who chose another language.
    translations: dict[Language, BroadcastText] = Field(default_factory=dict)
    #: The districts concerned; none: the whole city.
    districts: Annotated[list[District], Field(max_length=25)] = Field(default_factory=list)
    #: The accounts to post to; none given: every connected account.
    accounts: Annotated[list[AccountCode], Field(max_length=100)] | None = None
    #: Also SMS to the citizens of those districts who opted in to emergency alerts.
    sms: bool = False


class BroadcastAccepted(BaseModel):
    broadcast_id: uuid.UUID
    accounts: int
    sms_recipients: int
    status: str


router = APIRouter(prefix="/api/v1/broadcasts", tags=["emergency broadcasts"])


@router.post("", status_code=202, response_model=BroadcastAccepted)
async def post_broadcast(
    request: Request,
    body: BroadcastRequest,
    admin: Annotated[credentials.Client[AdminScope], Depends(broadcaster)],
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    wiring: BroadcastWiring = request.app.state.broadcasts
    broadcast, created = await wiring.post(body, by=admin.name, idempotency_key=idempotency_key)
    accepted = BroadcastAccepted(
        broadcast_id=broadcast.id,
        accounts=len(broadcast.accounts),
        sms_recipients=len(broadcast.subscribers),
        status=f"/api/v1/broadcasts/{broadcast.id}",
    )
    return JSONResponse(
        accepted.model_dump(mode="json"),
        status_code=202 if created else 200,
        headers={"Location": accepted.status},
    )


@router.get("/{broadcast_id}")
async def broadcast_status(
    request: Request,
    broadcast_id: uuid.UUID,
    admin: Annotated[credentials.Client[AdminScope], Depends(broadcaster)],
) -> dict[str, Any]:
    wiring: BroadcastWiring = request.app.state.broadcasts
    broadcast = await wiring.find(broadcast_id)
    if broadcast is None:
        raise Problem(404, "Not found", "No broadcast has this id.", type_="not-found")
    return status_of(broadcast)


def status_of(broadcast: Broadcast) -> dict[str, Any]:
    """What went out, without personal data: accounts by code, SMS as counts."""

    def outcome(target: str) -> dict[str, Any]:
        if target in broadcast.delivered:
            return {"outcome": "delivered", "provider_message_id": broadcast.delivered[target]}
        if target in broadcast.failed:
            return {"outcome": "failed", "reason": broadcast.failed[target]}
        return {"outcome": "pending"}

    sms = [f"sms:{r}" for r in broadcast.subscribers]
    return {
        "broadcast_id": str(broadcast.id),
        "title": broadcast.title,
        "text": broadcast.text,
        "districts": list(broadcast.districts),
        "posted_at": broadcast.posted_at.isoformat(),
        "posted_by": broadcast.posted_by,
        "accounts": {code: outcome(account_target(code)) for code in broadcast.accounts},
        "sms": {
            "recipients": len(sms),
            "delivered": sum(t in broadcast.delivered for t in sms),
            "failed": sum(t in broadcast.failed for t in sms),
        },
        "done": not broadcast.pending(),
    }


# -- Wiring --------------------------------------------------------------------------------
@dataclass
class BroadcastWiring:
    """Everything broadcasts add to the notifier: its event store, relay, delivery, API."""

    settings: ServiceSettings
    application: BroadcastsApplication
    accounts: CityAccounts
    subscribers: SmsSubscribers
    keys: BroadcastAdminKeys
    relay: OutboxRelay
    delivery: BroadcastDelivery
    clock: Clock
    routers: list[APIRouter] = field(default_factory=lambda: [router])

    async def find(self, broadcast_id: uuid.UUID) -> Broadcast | None:
        found: Broadcast | None = await asyncio.to_thread(
            within, self._deadline(), self.application.find, broadcast_id
        )
        return found

    def _deadline(self) -> float:
        return time.monotonic() + self.settings.request_deadline_s

    async def post(
        self, body: BroadcastRequest, *, by: str, idempotency_key: str | None
    ) -> tuple[Broadcast, bool]:
        """The broadcast recorded (and whether by this call: the same Idempotency-Key again
        answers the first one's)."""
        accounts = body.accounts if body.accounts is not None else list(self.accounts.codes())
        unknown = sorted(set(accounts) - set(self.accounts.codes()))
        if unknown:
            raise Problem(
                422,
                "Unknown accounts",
                f"Not connected accounts: {', '.join(unknown)}.",
                type_="unknown-accounts",
                accounts=unknown,
            )
        broadcast_id = derived_id("broadcast", f"{by}:{idempotency_key}") if idempotency_key else uuid.uuid4()
        if idempotency_key and (earlier := await self.find(broadcast_id)) is not None:
            return self._same(earlier, body), False
        subscribers = await self.subscribers.opted_in(body.districts) if body.sms else ()
        with acting_as(f"admin:{by}"):
            broadcast = Broadcast(
                id=broadcast_id,
                title=body.title,
                text=body.text,
                translations={lang.value: text for lang, text in body.translations.items()},
                districts=tuple(d.value for d in body.districts),
                accounts=tuple(dict.fromkeys(accounts)),
                subscribers=tuple(dict.fromkeys(s.ref for s in subscribers)),
                posted_at=self.clock.now(),
                posted_by=by,
            )
        try:
            await asyncio.to_thread(within, self._deadline(), self.application.save, broadcast)
        except IntegrityError:
            # The same key posted at the same moment: the other request recorded it.
            earlier = await self.find(broadcast_id)
            if earlier is None:
                raise
            return self._same(earlier, body), False
        self.relay.wake()
        self.delivery.wake()
        return broadcast, True

    @staticmethod
    def _same(earlier: Broadcast, body: BroadcastRequest) -> Broadcast:
        if (earlier.title, earlier.text) != (body.title, body.text):
            raise Problem(
                409,
                "Idempotency-Key reused",
                "This Idempotency-Key was used for another broadcast.",
                type_="idempotency-key-reused",
            )
        return earlier


def broadcast_wiring(
    settings: ServiceSettings,
    broadcast_settings: BroadcastSettings,
    *,
    db: Database,
    providers: Providers,
    clock: Clock,
    eventsourcing_env: dict[str, str],
    subscribers: SmsSubscribers | None = None,
) -> BroadcastWiring:
    application = BroadcastsApplication(env=eventsourcing_env)
    accounts = CityAccounts.load(broadcast_settings.broadcast_accounts_file)
    relay = OutboxRelay(
        name="notifier.broadcasts", application=application, translate=OUTBOX, db=db, settings=settings
    )
    delivery = BroadcastDelivery(
        application=application,
        providers=providers,
        accounts=accounts,
        subscribers=subscribers or NoSubscribers(),
        db=db,
        settings=broadcast_settings,
        clock=clock,
        connect_timeout_s=settings.postgres_connect_timeout_s,
        on_recorded=relay.wake,
    )
    return BroadcastWiring(
        settings=settings,
        application=application,
        accounts=accounts,
        subscribers=subscribers or NoSubscribers(),
        keys=BroadcastAdminKeys(db),
        relay=relay,
        delivery=delivery,
        clock=clock,
    )


# -- The admin-keys command ----------------------------------------------------------------
def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("admin-keys", help="broadcast administrators' API keys: create, revoke, list")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new key; printed alone on the last line")
    create.add_argument(
        "--name", required=True, type=credentials.name_argument, help="unique, e.g. safety-duty"
    )
    credentials.add_revoke_and_list(actions, what="a broadcast administrator's key")


def run(args: argparse.Namespace, settings: ServiceSettings, migrations: tuple[Migration, ...]) -> int:
    async def work(db: Database) -> int:
        return await credentials.key_command(
            BroadcastAdminKeys(db),
            args,
            [AdminScope.BROADCAST],
            what="broadcast admin key",
            list_command="admin-keys list",
        )

    return credentials.run_command(settings, migrations, work, name="notifier-admin-keys")
