"""A stand-in delivery provider for the notifier's integration tests: one JSON file per
message under a directory (`<medium>/<notice id>.json`), written once per notice id (the
idempotency key every provider honours), with switchable outages and refusals. The real
adapters (the file outbox, SMTP, the SMS gateway, X, Facebook) are tested on their own."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eungdapso_notifier.application import NotifierApplication
from eungdapso_notifier.dispatcher import Dispatcher
from eungdapso_notifier.preferences import Preferences
from eungdapso_notifier.providers import Delivered, MessageRefused, OutgoingMessage, ProviderUnavailable
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_notifier.templates import Templates
from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.directory import DirectoryQueries

EXTERNAL_MEDIA = ("sms", "email", "x", "facebook")


class RecordingOutbox:
    name = "test-outbox"

    def __init__(self, root: Path) -> None:
        self.root = root
        #: How many more calls fail per medium (unavailable), and media that refuse everything.
        self.down: dict[str, int] = {}
        self.refusing: set[str] = set()
        self.calls: Counter[str] = Counter()

    async def send(self, message: OutgoingMessage) -> Delivered:
        self.calls[message.notice_id] += 1
        if self.down.get(message.medium, 0) > 0:
            self.down[message.medium] -= 1
            raise ProviderUnavailable(self.name, "gateway answered 503")
        if message.medium in self.refusing:
            raise MessageRefused(self.name, "number not in service")
        path = self.root / message.medium / f"{message.notice_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(message), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        return Delivered(self.name, message.notice_id, form=message.medium)

    def providers(self) -> dict[str, Any]:
        return {m: self for m in EXTERNAL_MEDIA}

    def messages(self, medium: str) -> list[dict[str, Any]]:
        folder = self.root / medium
        if not folder.exists():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]

    def to(self, medium: str, address: str) -> list[dict[str, Any]]:
        return [m for m in self.messages(medium) if m["to"] == address]


def dispatcher(
    application: NotifierApplication,
    db: Database,
    outbox: RecordingOutbox,
    settings: NotifierSettings,
    clock: Clock,
) -> Dispatcher:
    """A dispatcher alone (no consumers), delivering to `outbox`."""
    return Dispatcher(
        application=application,
        db=db,
        providers=outbox.providers(),
        templates=Templates.packaged(),
        preferences=Preferences(db),
        directory=DirectoryQueries(db),
        settings=settings,
        clock=clock,
    )
