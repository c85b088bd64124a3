"""One entry per service (eungdapso_schemas.system): the workspace, each service's settings,
the local stack, the gateway and the stream registry all agree with it."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from eungdapso_devstack.gateway import ROUTES
from eungdapso_devstack.infra import SERVICES as STACK_SERVICES
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.streams import STREAMS
from eungdapso_schemas.system import EXTERNAL_PARTIES, SERVICE_NAMES, SERVICES, Route, Service, ingress_routes

ROOT = Path(__file__).resolve().parents[2]


def test_every_service_directory_is_in_the_registry_and_the_other_way_round() -> None:
    on_disk = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert on_disk == set(SERVICE_NAMES)


def test_the_workspace_installs_every_registered_service() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {f"eungdapso-{name}" for name in SERVICE_NAMES}
    assert packages <= set(project["project"]["dependencies"]), "add it to [project].dependencies"
    assert packages <= set(project["tool"]["uv"]["sources"]), "add it to [tool.uv.sources]"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_package_matches_its_entry(spec: Service) -> None:
    importlib.import_module(f"{spec.module}.__main__")  # `python -m eungdapso_<name>` exists
    settings_module = importlib.import_module(f"{spec.module}.settings")
    [settings_cls] = [
        v
        for v in vars(settings_module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    settings = settings_cls()
    assert settings.service_name == spec.name
    assert settings.http_port == spec.port
    assert len({s.port for s in SERVICES}) == len(SERVICES)


def test_the_stack_and_the_gateway_are_derived_from_the_registry() -> None:
    assert STACK_SERVICES == SERVICE_NAMES
    assert {(r.path, r.exact, r.service) for r in ROUTES} == {
        (rule.path, rule.exact, name) for rule, name in ingress_routes()
    }
    # Exact rules come before prefixes, and a service's own endpoints are reachable.
    assert ROUTES[0] == type(ROUTES[0])("/api/v1/complaints", True, "intake")
    for name in SERVICE_NAMES:
        assert any(r.path == f"/services/{name}/" and r.service == name for r in ROUTES)


def test_streams_name_only_registered_services_or_parties_outside() -> None:
    parties = {*SERVICE_NAMES, *EXTERNAL_PARTIES}
    assert not set(SERVICE_NAMES) & set(EXTERNAL_PARTIES)
    for stream in STREAMS:
        assert stream.owner in parties
        for carried in stream.carries:
            for consumer in carried.consumers:
                # A service's component (`intake.submissions`), or a party outside, whole.
                service, _, component = consumer.partition(".")
                assert (service in SERVICE_NAMES and component) or consumer in EXTERNAL_PARTIES


def test_two_services_cannot_claim_one_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from eungdapso_schemas import system

    clash = (
        *SERVICES,
        Service("casework", 8007, "casework", routes=(Route("/api/v1/complaints", exact=True),)),
    )
    monkeypatch.setattr(system, "SERVICES", clash)
    with pytest.raises(RuntimeError, match="same path"):
        system.ingress_routes()
