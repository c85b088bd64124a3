"""The sla service's composition root.

A skeleton for now: it connects to its database and to Kafka and reports ready; its
consumers, event store and API arrive with the issue that needs them.
"""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_platform.service import create_skeleton_app
from eungdapso_schemas.system import service
from eungdapso_sla.settings import SlaSettings


def bootstrap(settings: SlaSettings | None = None) -> FastAPI:
    return create_skeleton_app(settings or SlaSettings(), title=f"Eung-Dap-So {service('sla').title}")
