"""The services of the system and the paths each answers behind the one base URL.

This table is the one place a service is declared. The local stack starts what it lists,
the gateway routes by it (as the Kubernetes Ingress will), the stream registry may only
name its services (or a party outside the system, `EXTERNAL_PARTIES`) as owners and
consumers, and a contract test fails when the workspace (`services/*`, the root
`pyproject.toml`) or a service's default port disagrees with it.
Adding a service is: its package under `services/<name>/`, a line here, and its line in
the root `pyproject.toml` (the test says so if it is missing).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """An Ingress rule: one path prefix (or exact path) belongs to one service."""

    path: str
    exact: bool = False

    def matches(self, path: str) -> bool:
        return path == self.path if self.exact else path.startswith(self.path)


@dataclass(frozen=True)
class Service:
    name: str
    #: Default HTTP port when run alone (the local stack picks free ports).
    port: int
    title: str
    routes: tuple[Route, ...] = ()

    @property
    def module(self) -> str:
        return f"eungdapso_{self.name}"


SERVICES: tuple[Service, ...] = (
    Service(
        "intake",
        8001,
        "intake (접수)",
        routes=(
            Route("/api/v1/complaints", exact=True),
            Route("/api/v1/attachments"),
            Route("/api/v1/channels/"),
            Route("/open311/"),
        ),
    ),
    Service(
        "router",
        8002,
        "router (배정)",
        routes=(
            Route("/api/v1/directory"),
            Route("/api/v1/faq"),
            Route("/api/v1/routing/"),
            Route("/api/v1/triage/"),
        ),
    ),
    Service("sla", 8003, "SLA deadlines (처리기한)", routes=(Route("/api/v1/deadlines"),)),
    Service(
        "notifier",
        8004,
        "notifier (알림)",
        routes=(Route("/api/v1/broadcasts"), Route("/api/v1/notifications"), Route("/api/v1/follow/")),
    ),
    Service(
        "publisher",
        8005,
        "publisher (공개)",
        routes=(
            Route("/api/v1/complaints/"),
            Route("/api/v1/statistics"),
            Route("/api/v1/board"),
            Route("/api/v1/feed"),
            Route("/api/v1/search"),
            # The citizen pages and the live board (pages.py), and the assets every page uses.
            Route("/", exact=True),
            Route("/file"),
            Route("/follow/"),
            Route("/rate"),
            Route("/board"),
            Route("/static/"),
        ),
    ),
    Service("rating", 8006, "rating (만족도)", routes=(Route("/api/v1/ratings"),)),
    Service(
        "casework",
        8007,
        "casework (처리)",
        # The staff pages (inbox, review queue, triage desk) beside the inbox API.
        routes=(Route("/api/v1/inbox/"), Route("/staff/")),
    ),
)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
#: Parties outside the system that own or read a stream (nothing of theirs runs here):
#: channel integrators publish submissions over Kafka and read intake's answers; department
#: services read their own office's feed of cases.
EXTERNAL_PARTIES: tuple[str, ...] = ("integrators", "departments")


def service(name: str) -> Service:
    for s in SERVICES:
        if s.name == name:
            return s
    raise LookupError(f"no service {name!r} in the registry")


def ingress_routes() -> tuple[tuple[Route, str], ...]:
    """Every path rule with its service, most specific first (exact before prefix, longer
    prefixes before shorter), then each service's own endpoints under /services/<name>/."""
    rules = [(route, s.name) for s in SERVICES for route in s.routes]
    rules.sort(key=lambda rule: (not rule[0].exact, -len(rule[0].path)))
    rules += [(Route(f"/services/{s.name}/"), s.name) for s in SERVICES]
    paths = [(r.path, r.exact) for r, _ in rules]
    if len(paths) != len(set(paths)):
        raise RuntimeError("two services claim the same path")
    return tuple(rules)
