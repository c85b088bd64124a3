"""The notifier service's composition root.

A skeleton for now: it connects to its database and to Kafka and reports ready; its
consumers, event store and API arrive with the issue that needs them.
"""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import create_skeleton_app
from eungdapso_schemas.system import service


def bootstrap(settings: NotifierSettings | None = None) -> FastAPI:
    return create_skeleton_app(
        settings or NotifierSettings(), title=f"Eung-Dap-So {service('notifier').title}"
    )
