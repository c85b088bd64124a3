"""The rating service's composition root.

A skeleton for now: it connects to its database and to Kafka and reports ready; its
consumers, event store and API arrive with the issue that needs them.
"""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts, create_app, make_broker
from eungdapso_rating.settings import RatingSettings


def bootstrap(settings: RatingSettings | None = None) -> FastAPI:
    settings = settings or RatingSettings()
    db = Database(settings.postgres_conninfo(), settings.db_schema)
    parts = ServiceParts(settings=settings, db=db, broker=make_broker(settings))
    return create_app(parts, title="Eung-Dap-So rating (만족도)")
