"""The notifier service's composition root.

A skeleton for now: it connects to its database and to Kafka and reports ready; its
consumers, event store and API arrive with the issue that needs them.
"""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts, create_app, make_broker


def bootstrap(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    db = Database(settings.postgres_conninfo(), settings.db_schema)
    parts = ServiceParts(settings=settings, db=db, broker=make_broker(settings))
    return create_app(parts, title="Eung-Dap-So notifier (알림)")
