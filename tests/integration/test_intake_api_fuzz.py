"""Schemathesis over intake's own OpenAPI document, against intake served by uvicorn on a
real socket and a real PostgreSQL: whatever the generator sends (valid, edge and invalid
values, every operation the document lists), intake never answers 5xx.

Bounded (`MAX_EXAMPLES` per operation), so it runs in `make test` in well under a minute."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from eungdapso_devstack.infra import PostgresTarget, free_port
from eungdapso_intake.bootstrap import bootstrap
from tests.integration.test_intake_http import settings_for

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def intake_url(postgres_server: PostgresTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = PostgresTarget(
        postgres_server.host,
        postgres_server.port,
        postgres_server.user,
        postgres_server.password,
        f"eds_fuzz_{uuid.uuid4().hex[:10]}",
    )
    target.create_database(admin_db=postgres_server.dbname)
    app = bootstrap(
        settings_for(
            target,
            web_rate_per_minute=1_000_000,
            attachments_dir=tmp_path_factory.mktemp("blobs"),
            # The channels connected, so that their routes are fuzzed past "not connected".
            sms_gateways={"twilio": "fuzz-token", "munja": "fuzz-secret"},
            x_consumer_secret="fuzz-x",
            facebook_app_secret="fuzz-fb",
            facebook_verify_token="fuzz-verify",
        )
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "intake did not start"
        time.sleep(0.05)
    assert httpx.get(f"{url}/healthz").status_code == 200
    yield url
    server.should_exit = True
    thread.join(timeout=30)
    target.drop_database(admin_db=postgres_server.dbname)


@pytest.fixture(scope="module")
def intake_schema(intake_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{intake_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("intake_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_intake_never_answers_5xx(case: schemathesis.Case, intake_url: str) -> None:
    response = case.call(base_url=intake_url, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}"
    )


def test_the_fuzzed_document_lists_every_intake_entry_point(intake_url: str) -> None:
    """The run above cannot pass by fuzzing nothing: intake's document lists its entry points."""
    paths = httpx.get(f"{intake_url}/openapi.json").json()["paths"]
    assert {"/api/v1/complaints", "/api/v1/attachments"} <= set(paths)
    assert {"/api/v1/channels/sms/{gateway}", "/api/v1/channels/sns/x/webhook"} <= set(paths)
    assert all(not path.startswith(("/healthz", "/readyz")) for path in paths)
