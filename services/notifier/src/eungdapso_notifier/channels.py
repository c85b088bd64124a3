"""Which channel a notice takes, in which order (the fallback order), and when text messages
must wait (quiet hours). Pure functions of the citizen's contact and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from eungdapso_notifier.domainmodel import Contact
from eungdapso_schemas.codes import ReplyMedium
from eungdapso_schemas.events import NoticeMedium, NoticeStage

SEOUL = ZoneInfo("Asia/Seoul")
SNS_MEDIA: frozenset[str] = frozenset({"x", "facebook"})
#: Delivered by the notifier itself into its own tables (the citizen page, the letter queue,
#: the agents' callback tasks): written in the same transaction that records them sent.
LOCAL_MEDIA: frozenset[str] = frozenset({"web", "letter", "callback"})
#: Told even in quiet hours: the receipt answers a message the citizen has just sent.
URGENT_STAGES: frozenset[str] = frozenset({"received"})


@dataclass(frozen=True)
class Route:
    """One way to reach the citizen (personal: never logged)."""

    medium: NoticeMedium
    to: str
    account: str | None = None
    thread: str | None = None


#: What an SNS thread is, as intake names it (`<kind>:<id>`): the adapters answer a direct
#: message (`dm`, Messenger's `msg`) by a private message, the others by a public reply.
SNS_THREAD_KINDS: frozenset[str] = frozenset({"tweet", "dm", "msg", "comment", "post"})


def sns_thread(thread: str | None, channel_ref: str | None) -> str | None:
    """The thread with its kind. Intake writes it so (`dm:<id>`); a complaint recorded before
    that carries the bare id, and its `channel_ref` (`<platform>:<kind>:<id>`) says the kind.
    A bare id on X would otherwise be answered by a public reply, even to a direct message."""
    if thread is None or thread.partition(":")[0] in SNS_THREAD_KINDS:
        return thread
    _platform, _, event = (channel_ref or "").partition(":")
    kind, _, ref = event.partition(":")
    return f"{kind}:{thread}" if kind in SNS_THREAD_KINDS and ref == thread else thread


def citizen_routes(contact: Contact, receipt_no: str) -> list[Route]:
    """The citizen's channels, best first: the channel they wrote on (SMS and the 120 call's
    number only with consent; SNS through the same account and thread; e-mail; a postal
    address → the letter queue), then an e-mail address they left, then the citizen page,
    which always works (the receipt number finds it)."""
    routes: list[Route] = []
    reply = contact.reply_to
    if reply is not None:
        if reply.medium in (ReplyMedium.SMS, ReplyMedium.PHONE):
            if reply.consent:
                routes.append(Route("sms", reply.address))
        elif reply.medium is ReplyMedium.SNS:
            platform = (reply.account or "").rsplit(".", 1)[-1]
            if platform in SNS_MEDIA:
                medium: NoticeMedium = "x" if platform == "x" else "facebook"
                routes.append(Route(medium, reply.address, account=reply.account, thread=reply.thread))
        elif reply.medium is ReplyMedium.EMAIL:
            routes.append(Route("email", reply.address))
        elif reply.medium is ReplyMedium.POST:
            routes.append(Route("letter", reply.address))
    if contact.email and not any(r.medium == "email" for r in routes):
        routes.append(Route("email", contact.email))
    routes.append(Route("web", receipt_no))
    return routes


def extra_routes(contact: Contact, stage: NoticeStage) -> list[Route]:
    """Told besides the best channel: a 120 caller who asked to be called back gets the
    answer from an agent (a callback task), and a text message too where they consented."""
    if stage == "answered" and contact.asked_for_callback and contact.reply_to is not None:
        return [Route("callback", contact.reply_to.address)]
    return []


def route_for(contact: Contact, receipt_no: str, medium: str) -> Route | None:
    every = citizen_routes(contact, receipt_no) + extra_routes(contact, "answered")
    return next((r for r in every if r.medium == medium), None)


def fallback_after(contact: Contact, receipt_no: str, medium: str) -> Route | None:
    """The next channel after `medium` failed (None after the last, or for a callback)."""
    routes = citizen_routes(contact, receipt_no)
    media = [r.medium for r in routes]
    if medium not in media:
        return None
    following = routes[media.index(medium) + 1 :]
    return following[0] if following else None


def quiet_until(now: datetime, start: time, end: time) -> datetime | None:
    """The end of the quiet hours `now` is in (Asia/Seoul), or None outside them."""
    local = now.astimezone(SEOUL)
    at = local.time()
    if start == end:
        return None
    overnight = start > end
    inside = (at >= start or at < end) if overnight else (start <= at < end)
    if not inside:
        return None
    day = local.date() if at < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, SEOUL)


def waits_for_quiet_hours(medium: str, stage: str) -> bool:
    return medium == "sms" and stage not in URGENT_STAGES
