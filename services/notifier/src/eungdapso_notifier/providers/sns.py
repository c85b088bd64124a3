"""Replies through the city's own SNS account the citizen wrote to, in the same thread
(`X_PROVIDER=x`, `FACEBOOK_PROVIDER=facebook`), and posts on an account's timeline (the
emergency broadcast: a message without a thread).

`message.account` is the account's code (the SNS accounts file); its access token comes
from `X_ACCOUNT_TOKENS` / `FACEBOOK_PAGE_TOKENS`. `message.thread` says what to answer, as
intake's channel reference names it (`tweet:<id>`, `dm:<id>`, `msg:<mid>`, `comment:<id>`,
`post:<id>`); a bare id is a tweet on X, and on Facebook a Messenger message if it looks
like one (`m_...`), otherwise a post or comment.

- X (API v2): a tweet is answered by a reply tweet (`POST /2/tweets` with
  `reply.in_reply_to_tweet_id`, 280 weighted characters); a direct message by a message in
  the conversation with the citizen (`POST /2/dm_conversations/with/<user id>/messages`).
- Facebook (Graph API): a Messenger message by the Send API (`POST /me/messages` with the
  citizen's page-scoped id, 2,000 characters); a post or comment by a comment on it
  (`POST /<id>/comments`, 8,000 characters); a broadcast by a Page post (`POST /me/feed`).
  Facebook answers most errors with 400 and says in `error.is_transient` (or codes 1, 2,
  4, 17, 32, 341, 613: rate limits and outages) when it is worth retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import SecretStr

from eungdapso_notifier.providers import Delivered, MessageRefused, OutgoingMessage
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.text import (
    FACEBOOK_COMMENT_MAX_CHARS,
    FACEBOOK_MESSAGE_MAX_CHARS,
    X_DM_MAX_CHARS,
    cut_chars,
    cut_x,
)
from eungdapso_notifier.providers.web import client, json_field, log, post, refused_or_unavailable

XKind = Literal["reply", "dm", "post"]
FacebookKind = Literal["message", "comment", "post"]
#: Graph API error codes that are worth retrying (unknown, service, rate limits, ...).
FACEBOOK_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})


def _thread(thread: str | None) -> tuple[str | None, str | None]:
    if thread is None:
        return None, None
    kind, sep, ref = thread.partition(":")
    return (kind, ref) if sep else (None, thread)


@dataclass(frozen=True)
class SnsPlan:
    """What a reply becomes: how it is sent, its text cut to the platform's limit, and what
    it answers (the post or comment), or whom (the citizen's id, for a direct message)."""

    kind: XKind | FacebookKind
    text: str
    ref: str | None


def plan_x(message: OutgoingMessage) -> SnsPlan:
    kind, ref = _thread(message.thread)
    if ref is None:
        return SnsPlan("post", cut_x(message.text), None)
    if kind == "dm":
        return SnsPlan("dm", cut_chars(message.text, X_DM_MAX_CHARS), message.to)
    return SnsPlan("reply", cut_x(message.text), ref)


def plan_facebook(message: OutgoingMessage) -> SnsPlan:
    kind, ref = _thread(message.thread)
    if ref is None:
        return SnsPlan("post", cut_chars(message.text, FACEBOOK_COMMENT_MAX_CHARS), None)
    if kind == "msg" or (kind is None and ref.startswith("m_")):
        return SnsPlan("message", cut_chars(message.text, FACEBOOK_MESSAGE_MAX_CHARS), message.to)
    return SnsPlan("comment", cut_chars(message.text, FACEBOOK_COMMENT_MAX_CHARS), ref)


def _token(provider: str, tokens: Mapping[str, SecretStr], account: str | None) -> str:
    token = tokens.get(account or "")
    if token is None:
        # No way to answer through that account: fall back to another channel.
        raise MessageRefused(provider, f"no access token for account {account!r}")
    return token.get_secret_value()


class XReplies:
    name = "x"

    def __init__(self, settings: ProviderSettings, http: httpx.AsyncClient | None = None) -> None:
        self.tokens = settings.x_account_tokens
        self.http = http or client(str(settings.x_api_url), settings.provider_timeout_s)

    async def send(self, message: OutgoingMessage) -> Delivered:
        token = _token(self.name, self.tokens, message.account)
        plan = plan_x(message)
        if plan.kind == "dm":
            path = f"2/dm_conversations/with/{plan.ref}/messages"
            body: dict[str, object] = {"text": plan.text}
        else:
            path = "2/tweets"
            body = {"text": plan.text}
            if plan.kind == "reply":
                body["reply"] = {"in_reply_to_tweet_id": plan.ref}
        response = await post(
            self.http,
            self.name,
            path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            notice_id=message.notice_id,
        )
        if not response.is_success:
            raise refused_or_unavailable(self.name, response)
        sent_id = json_field(response, "data", "id") or json_field(response, "data", "dm_event_id")
        log.info("x_sent", notice_id=message.notice_id, account=message.account, kind=plan.kind)
        return Delivered(self.name, sent_id, plan.kind)

    async def close(self) -> None:
        await self.http.aclose()


class FacebookReplies:
    name = "facebook"

    def __init__(self, settings: ProviderSettings, http: httpx.AsyncClient | None = None) -> None:
        self.tokens = settings.facebook_page_tokens
        self.http = http or client(str(settings.facebook_api_url), settings.provider_timeout_s)

    async def send(self, message: OutgoingMessage) -> Delivered:
        token = _token(self.name, self.tokens, message.account)
        plan = plan_facebook(message)
        body: dict[str, object]
        if plan.kind == "message":
            path = "me/messages"
            body = {
                "recipient": {"id": plan.ref},
                "messaging_type": "RESPONSE",
                "message": {"text": plan.text},
            }
        elif plan.kind == "comment":
            path, body = f"{plan.ref}/comments", {"message": plan.text}
        else:
            path, body = "me/feed", {"message": plan.text}
        response = await post(
            self.http,
            self.name,
            path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            notice_id=message.notice_id,
        )
        if not response.is_success:
            raise refused_or_unavailable(self.name, response, transient=_transient(response))
        sent_id = json_field(response, "message_id") or json_field(response, "id")
        log.info("facebook_sent", notice_id=message.notice_id, account=message.account, kind=plan.kind)
        return Delivered(self.name, sent_id, plan.kind)

    async def close(self) -> None:
        await self.http.aclose()


def _transient(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return False
    if not isinstance(error, dict):
        return False
    return bool(error.get("is_transient")) or error.get("code") in FACEBOOK_TRANSIENT_CODES
