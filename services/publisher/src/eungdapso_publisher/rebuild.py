"""`python -m eungdapso_publisher rebuild`: rebuild the public read model from history
(the topics) beside the live one and swap it in, while the service keeps running.

It refuses to swap in a model built from less history than the live one has seen, unless
`--force`. Replay needs the topics' full history: on Apache Kafka give them
`retention.ms=-1` (see README).
"""

from __future__ import annotations

import asyncio

from eungdapso_platform.db import Database
from eungdapso_platform.logging import configure_logging
from eungdapso_platform.readmodel import IncompleteRebuild
from eungdapso_platform.rebuild import RebuildReport, rebuild_read_model
from eungdapso_platform.settings import load_settings
from eungdapso_publisher.bootstrap import public_status, statistics
from eungdapso_publisher.settings import PublisherSettings


async def rebuild(
    settings: PublisherSettings, *, force: bool = False, read_model: str = "public_status"
) -> RebuildReport:
    db = Database.for_service(settings)
    await db.open()
    try:
        live = statistics(settings, db) if read_model == "statistics" else public_status(settings, db)
        return await rebuild_read_model(live, settings, force=force)
    finally:
        await db.close()


def main(force: bool = False, read_model: str = "public_status") -> None:
    settings = load_settings(PublisherSettings)
    configure_logging("publisher-rebuild", settings.log_level)
    try:
        asyncio.run(rebuild(settings, force=force, read_model=read_model))
    except IncompleteRebuild as exc:
        import sys

        sys.stderr.write(f"rebuild refused: {exc}\n")
        raise SystemExit(3) from None
