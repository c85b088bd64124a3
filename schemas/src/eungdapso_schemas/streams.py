"""The stream registry: every topic, who owns it, which event types it carries and who
consumes each (DESIGN.md, "One stream per owner").

Each owning service publishes all its events about complaints to its own topic, keyed by
complaint id, told apart by the CloudEvents `type`: one owner's events about one complaint
stay in order (assigned → transferred → assigned again), which per-type topics could not
promise. Consumers are named `<service>.<component>` (a component has its own consumer
group and ledger). The outbox relay picks the topic from the payload type, consumers
subscribe through this registry, and the AsyncAPI document is generated from it, so the
document cannot name a topic, type or consumer the code does not have.

Topic names changed in v2 of the contract: `eungdapso.complaint.received` and
`eungdapso.complaint.assigned` (one type per topic) became `eungdapso.intake.events` and
`eungdapso.router.events`; the payloads themselves are unchanged. 2.1 adds
`complaint.received.v2` (channel reference, reply address, disclosure, attachments,
first-contact resolution), which intake publishes from then on; v1 records stay readable.
2.2 adds the integrators' stream (`complaint.submitted`, owned by the integrators, outside
the system) and intake's answers to them (`eungdapso.intake.replies`). 2.3 adds
`complaint.assigned.v2` (message class, field, subject, district, evidence, confidence, who
decided, reassignment count); v1 assignments stay readable. 2.4 adds casework's stream
(`eungdapso.casework.events`: cases opened and withdrawn, accepted, rejected, extension
requested, transferred, answered, closed) and the per-office feeds
(`eungdapso.casework.office.{office}`), copies of it that department services read, each its
own office's only. 2.5 adds the SLA service's stream (`eungdapso.sla.events`: deadlines set,
extended, moved by a declared holiday, warned, breached, met) and its `sla.deadlines` consumer
of receipts, assignments and casework's extension requests, transfers and answers.
2.6 adds the router's instant answers (`complaint.answered_instantly`) and duplicate links
(`complaint.linked`), each just after the complaint's assignment on the router's stream; the
router reads casework's rejections, transfers and answers.
2.7 adds the rating service's stream (`eungdapso.rating.events`: invitations to rate an
answer, ratings, review requests after a low score). A rating's comment is personal; the
single-use rating token travels only on `eungdapso.rating.links`, which only the notifier reads.
Casework's stream gains `case.duplicate_answered`: a linked duplicate answered with the
answer to the complaint it duplicates.
2.8 adds the router's `directory.published` (each version of the organisation directory, keyed
`organisation-directory`), which casework reads to check transfer targets; `case.withdrawn`
gains an optional `because` (reassigned, answered instantly, linked as a duplicate). Casework
reads instant answers and links, the SLA stream (deadlines in the inbox) and review requests.
2.8 also adds the notifier's stream (`eungdapso.notifier.events`); its emergency broadcasts
(`notifier.broadcast_posted`, `_delivered`, `_delivery_failed`, keyed by broadcast id) carry
no personal data: an SMS recipient is an opaque reference; so do its notices sent and failed
(`notifier.notice_sent`, `notifier.notice_failed`: ids, stage, medium, provider, attempt), and its
`notifier.notices` consumer reads every stage of a complaint.
"""

from __future__ import annotations

from dataclasses import dataclass

from eungdapso_schemas.events import (
    BroadcastDeliveredV1,
    BroadcastDeliveryFailedV1,
    BroadcastPostedV1,
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseEvent,
    CaseOpenedV1,
    CaseRejectedV1,
    CaseTransferredV1,
    CaseWithdrawnV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    ComplaintSubmittedV1,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMetV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DeadlineWarnedV1,
    DirectoryPublishedV1,
    DuplicateAnsweredV1,
    ExtensionRequestedV1,
    NoticeFailedV1,
    NoticeSentV1,
    Payload,
    RatedV1,
    RatingInvitedV1,
    RatingLinkIssuedV1,
    ReviewRequestedV1,
    SubmissionAnsweredV1,
)

#: Version of the stream layout (topics and which types travel where), in the AsyncAPI info.
CONTRACT_VERSION = "2.8.0"


@dataclass(frozen=True)
class Carried:
    """One event type a stream carries, and the consumer components that read it
    (`<service>.<component>`), or an external party (`integrators`) that reads it."""

    payload: type[Payload]
    consumers: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    #: Kept forever by default: read models are rebuilt, and audits replayed, from here.
    retention_ms: int = -1

    def kafka_configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


@dataclass(frozen=True)
class Stream(Topic):
    owner: str = ""
    carries: tuple[Carried, ...] = ()

    @property
    def payloads(self) -> tuple[type[Payload], ...]:
        return tuple(c.payload for c in self.carries)

    def consumers_of(self, payload: type[Payload]) -> tuple[str, ...]:
        return next((c.consumers for c in self.carries if c.payload is payload), ())


INTAKE_EVENTS = Stream(
    name="eungdapso.intake.events",
    owner="intake",
    description="What intake recorded: complaints received through any channel (key: complaint id).",
    carries=(
        # v1: what intake published before contract 2.1; still read, so history replays.
        Carried(
            ComplaintReceivedV1,
            consumers=(
                "router.assignment",
                "publisher.public_status",
                "publisher.statistics",
                "intake.open311_requests",
                "casework.inbox",
                "sla.deadlines",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
        Carried(
            ComplaintReceivedV2,
            consumers=(
                "router.assignment",
                "publisher.public_status",
                "publisher.statistics",
                "intake.open311_requests",
                "casework.inbox",
                "sla.deadlines",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
    ),
)
ROUTER_EVENTS = Stream(
    name="eungdapso.router.events",
    owner="router",
    description=(
        "What the router decided: assignments to offices (first, reassigned, transferred), instant "
        "answers and duplicate links (key: complaint id); and each version of the organisation "
        "directory in force (key: organisation-directory)."
    ),
    carries=(
        # v1: what the router published before contract 2.3; still read, so history replays.
        Carried(
            ComplaintAssignedV1,
            consumers=(
                "publisher.public_status",
                "publisher.statistics",
                "intake.open311_requests",
                "casework.inbox",
                "sla.deadlines",
                "rating.invitations",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
        Carried(
            ComplaintAssignedV2,
            consumers=(
                "publisher.public_status",
                "publisher.statistics",
                "intake.open311_requests",
                "casework.inbox",
                "sla.deadlines",
                "rating.invitations",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
        # Casework takes these out of the offices' inboxes (the notifier and the publisher
        # read them when they learn them).
        Carried(
            ComplaintAnsweredInstantlyV1,
            consumers=(
                "casework.inbox",
                "publisher.statistics",
                "rating.invitations",
                "notifier.notices",
                "notifier.citizen_page",
                "sla.deadlines",
                "publisher.public_status",
            ),
        ),
        Carried(
            ComplaintLinkedV1,
            consumers=(
                "casework.inbox",
                "publisher.public_status",
            ),
        ),
        Carried(DirectoryPublishedV1, consumers=("casework.directory", "notifier.directory")),
    ),
)
INTEGRATOR_SUBMISSIONS = Stream(
    name="eungdapso.integrators.submissions",
    owner="integrators",
    description=(
        "Complaints channel integrators submit over Kafka (key: the integrator's choice). Intake "
        "records each CloudEvents source + id once and answers on eungdapso.intake.replies."
    ),
    carries=(Carried(ComplaintSubmittedV1, consumers=("intake.submissions",)),),
)
INTAKE_REPLIES = Stream(
    name="eungdapso.intake.replies",
    owner="intake",
    description=(
        "Intake's answers to the integrators' submissions: accepted with the receipt number, or "
        "rejected with the reason (key: the submission's source and id, separated by a space)."
    ),
    carries=(Carried(SubmissionAnsweredV1, consumers=("integrators",)),),
)
CASEWORK_EVENTS = Stream(
    name="eungdapso.casework.events",
    owner="casework",
    description=(
        "What offices did with their cases: opened (assigned) and withdrawn (reassigned), accepted, "
        "rejected, extension requested, transferred, answered, closed (key: complaint id)."
    ),
    carries=(
        Carried(CaseOpenedV1, consumers=()),
        Carried(CaseWithdrawnV1, consumers=()),
        Carried(
            CaseAcceptedV1,
            consumers=(
                "publisher.public_status",
                "notifier.citizen_page",
            ),
        ),
        # Rejections and transfers are the router's to act on (reassignment, triage).
        Carried(CaseRejectedV1, consumers=("router.assignment",)),
        Carried(ExtensionRequestedV1, consumers=("sla.deadlines",)),
        Carried(
            CaseTransferredV1,
            consumers=(
                "publisher.public_status",
                "sla.deadlines",
                "router.assignment",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
        Carried(
            CaseAnsweredV1,
            consumers=(
                "publisher.public_status",
                "sla.deadlines",
                "router.assignment",
                "publisher.statistics",
                "rating.invitations",
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
        Carried(
            CaseClosedV1,
            consumers=(
                "publisher.public_status",
                "notifier.citizen_page",
            ),
        ),
        Carried(
            DuplicateAnsweredV1,
            consumers=(
                "publisher.statistics",
                "rating.invitations",
                "notifier.notices",
                "notifier.citizen_page",
                "sla.deadlines",
                "publisher.public_status",
            ),
        ),
    ),
)
SLA_EVENTS = Stream(
    name="eungdapso.sla.events",
    owner="sla",
    description=(
        "Statutory deadlines (처리기한): set from the receipt, extended once, warned, breached, met "
        "with the statutory and actual processing periods (key: complaint id)."
    ),
    carries=(
        Carried(
            DeadlineSetV1,
            consumers=(
                "casework.deadlines",
                "notifier.notices",
                "notifier.citizen_page",
                "publisher.public_status",
            ),
        ),
        Carried(
            DeadlineExtendedV1,
            consumers=(
                "casework.deadlines",
                "notifier.notices",
                "notifier.citizen_page",
                "publisher.public_status",
            ),
        ),
        Carried(
            DeadlineMovedV1,
            consumers=(
                "casework.deadlines",
                "notifier.notices",
                "notifier.citizen_page",
                "publisher.public_status",
            ),
        ),
        Carried(
            DeadlineWarnedV1,
            consumers=(
                "casework.deadlines",
                "notifier.notices",
            ),
        ),
        Carried(
            DeadlineBreachedV1,
            consumers=(
                "casework.deadlines",
                "publisher.statistics",
                "notifier.notices",
                "publisher.public_status",
            ),
        ),
        Carried(DeadlineMetV1, consumers=("casework.deadlines", "publisher.statistics")),
    ),
)
RATING_EVENTS = Stream(
    name="eungdapso.rating.events",
    owner="rating",
    description=(
        "Satisfaction with answers (만족도): invitations to rate, ratings 1–5 (the comment is "
        "personal), review requests to the office after a score of 1–2 (key: complaint id)."
    ),
    carries=(
        Carried(RatingInvitedV1, consumers=()),
        Carried(
            RatedV1,
            consumers=(
                "publisher.statistics",
                "publisher.public_status",
            ),
        ),
        Carried(
            ReviewRequestedV1,
            consumers=(
                "casework.reviews",
                "notifier.notices",
            ),
        ),
    ),
)
RATING_LINKS = Stream(
    name="eungdapso.rating.links",
    owner="rating",
    description=(
        "The single-use rating tokens, one per invitation, for the notifier to send to the citizen. "
        "A bearer credential: in production a Kafka ACL lets only the notifier's principal read it "
        "(key: complaint id)."
    ),
    carries=(
        Carried(
            RatingLinkIssuedV1,
            consumers=(
                "notifier.notices",
                "notifier.citizen_page",
            ),
        ),
    ),
)
# -- The notifier's stream. Emergency broadcasts (issue 9); the notices' events join it.
NOTIFIER_EVENTS = Stream(
    name="eungdapso.notifier.events",
    owner="notifier",
    description=(
        "What the notifier told whom: notices sent and failed per complaint, stage and medium, with "
        "the provider and attempt (key: complaint id); emergency broadcasts posted by administrators "
        "and their delivery to each SNS account and opted-in SMS recipient (key: broadcast id). Ids "
        "and codes only, never an address or a text."
    ),
    carries=(
        Carried(NoticeSentV1, consumers=("notifier.citizen_page",)),
        Carried(NoticeFailedV1, consumers=()),
        Carried(BroadcastPostedV1, consumers=()),
        Carried(BroadcastDeliveredV1, consumers=()),
        Carried(BroadcastDeliveryFailedV1, consumers=()),
    ),
)
DEAD_LETTER = Topic(
    name="eungdapso.deadletter",
    description=(
        "Messages a consumer could not parse, validate or process, unchanged, with the reason in "
        "the `dlq_reason` header and their origin in `dlq_topic`, `dlq_partition`, `dlq_offset`, "
        "`dlq_consumer`."
    ),
)

STREAMS: tuple[Stream, ...] = (
    INTAKE_EVENTS,
    ROUTER_EVENTS,
    INTEGRATOR_SUBMISSIONS,
    INTAKE_REPLIES,
    CASEWORK_EVENTS,
    SLA_EVENTS,
    RATING_EVENTS,
    RATING_LINKS,
    NOTIFIER_EVENTS,
)
ALL_TOPICS: tuple[Topic, ...] = (*STREAMS, DEAD_LETTER)
PAYLOADS: tuple[type[Payload], ...] = tuple(p for s in STREAMS for p in s.payloads)

_BY_PAYLOAD: dict[type[Payload], Stream] = {p: s for s in STREAMS for p in s.payloads}
_BY_TYPE: dict[str, type[Payload]] = {p.cloudevents_type(): p for p in PAYLOADS}
if len(_BY_PAYLOAD) != len(PAYLOADS) or len(_BY_TYPE) != len(PAYLOADS):
    raise RuntimeError("an event type is registered twice in the stream registry")


@dataclass(frozen=True)
class Feed:
    """A family of topics, one per value of a parameter, each carrying a copy of part of an
    owner's stream: the same CloudEvents (same `ce_id`, key, headers), so a reader deduplicates
    as on the stream. The topics are created by the owner as values appear (not by the topic
    set-up), so that Kafka ACLs can grant each reader exactly its own topic."""

    #: The topic name with `{<parameter>}` where the value goes.
    pattern: str
    parameter: str
    parameter_description: str
    description: str
    #: The stream whose events are copied, by the value of `parameter` in their payload.
    source: Stream
    payloads: tuple[type[Payload], ...]
    #: Who reads the topics: parties outside the system, each granted only its own topic.
    readers: tuple[str, ...]
    retention_ms: int = -1

    @property
    def prefix(self) -> str:
        return self.pattern.split("{", 1)[0]

    def topic(self, value: str) -> str:
        return self.pattern.replace(f"{{{self.parameter}}}", value)

    def kafka_configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


OFFICE_FEEDS = Feed(
    pattern="eungdapso.casework.office.{office}",
    parameter="office",
    parameter_description="An office code of the organisation directory, e.g. district.gangnam.parking.",
    description=(
        "One topic per office: every event of eungdapso.casework.events about that office's cases "
        "(opened, withdrawn, accepted, ...), as published there (same ce_id; key: complaint id). "
        "Nothing of the citizen's (contact, the complaint's text, attachments): a department service "
        "reads the case itself through casework's inbox API with its office key. Casework creates "
        "an office's topic when its first case opens. In production, Kafka ACLs let each office's "
        "principal read only its own topic: a LITERAL "
        "topic ACL (a prefixed one on eungdapso.casework.office.district.gangnam would also grant "
        "district.gangnam.parking's topic) and a PREFIXED group ACL on eungdapso-dept:<office>: "
        "(deploy/k8s/README.md)."
    ),
    source=CASEWORK_EVENTS,
    payloads=CASEWORK_EVENTS.payloads,
    readers=("departments",),
)
FEEDS: tuple[Feed, ...] = (OFFICE_FEEDS,)
if not all(issubclass(p, CaseEvent) for p in OFFICE_FEEDS.payloads):
    raise RuntimeError("an office feed carries only events that name the office")


def stream_for(payload: type[Payload]) -> Stream:
    """The one stream an event type travels on (its owner's)."""
    try:
        return _BY_PAYLOAD[payload]
    except KeyError:
        raise LookupError(f"no stream carries {payload.__name__}: add it to the registry") from None


def payload_type(cloudevents_type: str) -> type[Payload] | None:
    """The payload model of a CloudEvents `type` such as `...complaint.received.v1`."""
    return _BY_TYPE.get(cloudevents_type)


def streams_consumed_by(consumer: str) -> tuple[Stream, ...]:
    return tuple(s for s in STREAMS if any(consumer in c.consumers for c in s.carries))
