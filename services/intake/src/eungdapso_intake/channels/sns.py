"""SNS channel: mentions, replies, comments and direct messages to the city's connected
X (Twitter) and Facebook accounts (`sns_accounts.toml`), answered through the same account.

- X, Account Activity API (`/api/v1/channels/sns/x/webhook`): `GET ?crc_token=` answers the
  challenge-response check; `POST` deliveries are signed (`x-twitter-webhooks-signature`)
  with the app's consumer secret. `tweet_create_events` that mention (or reply to) the
  account named by `for_user_id`, and `direct_message_events` to it, are complaints.
- Facebook Page webhooks (`/api/v1/channels/sns/facebook/webhook`): `GET` answers the
  subscription check (`hub.verify_token`); `POST` deliveries are signed
  (`X-Hub-Signature-256`) with the app secret. Page messages (`messaging`) and visitors'
  posts and comments on the page (`feed` changes) are complaints.

The city's own posts, its replies and the echoes of its own messages are not complaints.
A delivery may carry several events: each becomes one complaint, once per platform event
id, so a platform's redelivery records nothing new; the delivery is answered 200 with counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, SecretStr, StringConstraints

from eungdapso_intake.channels.delivery import (
    ChannelMessage,
    command_of,
    complaint_text,
    parse_json,
    parse_model,
    record,
    redeliver_later,
    refusals,
    request_body,
)
from eungdapso_intake.channels.signatures import (
    bad_signature,
    facebook_signature,
    matches,
    x_crc_response,
    x_signature,
)
from eungdapso_intake.channels.sns_accounts import Platform, SnsAccount, SnsAccounts
from eungdapso_intake.services import Idempotency, SubmissionFailed
from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Kind, ReplyMedium
from eungdapso_schemas.events import Citizen, ReplyAddress

log = get_logger("eungdapso.intake.sns")
router = APIRouter(prefix="/api/v1/channels/sns", tags=["channels"])

#: A platform's numeric id (user, page, tweet, DM).
NumericId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")]
#: Facebook's ids of posts and comments (`<page>_<post>`) and messages (`m_…`, `mid.…`).
FacebookRef = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,150}$")]
#: A name as a platform shows it: cut to what intake keeps (a blank one dropped), never refused.
DisplayName = Annotated[
    str | None, BeforeValidator(lambda v: (v.strip()[:200] or None) if isinstance(v, str) else v)
]

_REFUSALS = refusals(
    "Bad signature, or wrong verify token",
    "This platform is not connected",
    "Not a delivery of this platform",
)


class PlatformPayload(BaseModel):
    """A part of a platform's delivery: platforms add fields, which are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True)
class SnsChannel:
    accounts: SnsAccounts
    x_consumer_secret: SecretStr | None = None
    facebook_app_secret: SecretStr | None = None
    facebook_verify_token: SecretStr | None = None

    def secret(self, platform: Platform) -> str:
        secret = self.x_consumer_secret if platform is Platform.X else self.facebook_app_secret
        if secret is None:
            raise Problem(
                404, "Not connected", f"No {platform.value} app is connected.", type_="not-connected"
            )
        return secret.get_secret_value()


def sns_of(request: Request) -> SnsChannel:
    channel: SnsChannel = request.app.state.sns
    return channel


class DeliveryOut(BaseModel):
    """What became of a delivery's events (counts only: no ids, nothing personal)."""

    recorded: int
    replayed: int
    ignored: int


@dataclass(frozen=True)
class CitizenPost:
    """A citizen's post, comment or message to a city account, as every platform has it."""

    platform: Platform
    #: The platform's id of the event, unique on the platform: `tweet:<id>`, `dm:<id>`, ...
    event: str
    account: SnsAccount
    #: The citizen's user id on the platform: the reply goes there.
    author_id: str
    handle: str | None
    name: str | None
    words: str | None
    #: The post, comment or message the reply answers (its id; `reply_to.thread` adds the kind).
    thread: str
    media: tuple[str, ...] = ()

    def message(self) -> ChannelMessage | None:
        text = complaint_text(self.words, media=len(self.media))
        if text is None:
            return None
        command = command_of(
            channel=Channel.SNS,
            kind=Kind.COMPLAINT,
            text=text,
            citizen=Citizen(name=self.name, sns_handle=self.handle),
            channel_ref=f"{self.platform.value}:{self.event}",
            reply_to=ReplyAddress(
                medium=ReplyMedium.SNS,
                address=self.author_id,
                account=self.account.code,
                # With its kind (`dm:<id>`, `tweet:<id>`, ...): a direct message must be answered
                # by a direct message, never by a public reply.
                thread=f"{self.event.partition(':')[0]}:{self.thread}",
            ),
        )
        idempotency = Idempotency.channel_message(Channel.SNS, self.platform.value, self.event)
        return ChannelMessage(command, idempotency, f"sns:{self.account.code}", self.media)


async def record_posts(request: Request, posts: list[CitizenPost], *, ignored: int) -> DeliveryOut | Response:
    """Every post of a delivery, checked first (bad input records nothing), then recorded."""
    messages = [m for m in (p.message() for p in posts) if m is not None]
    ignored += len(posts) - len(messages)
    recorded = replayed = 0
    for message in messages:
        try:
            result = await record(request, message)
        except SubmissionFailed as exc:
            # The platform delivers it all again; what was recorded is then replayed.
            return redeliver_later(request, exc)
        replayed += result.replayed
        recorded += not result.replayed
    log.info("sns_delivery", recorded=recorded, replayed=replayed, ignored=ignored)
    return DeliveryOut(recorded=recorded, replayed=replayed, ignored=ignored)


@dataclass(frozen=True)
class Webhook:
    """How a platform signs its deliveries and what citizens' posts a delivery holds."""

    header: str
    sign: Callable[[str, bytes], str]
    posts: Callable[[bytes, SnsAccounts], tuple[list[CitizenPost], int]]


async def deliver(
    request: Request, channel: SnsChannel, platform: Platform, signature: str | None
) -> DeliveryOut | Response:
    webhook = WEBHOOKS[platform]
    body = await request.body()
    if not matches(webhook.sign(channel.secret(platform), body), signature):
        raise bad_signature(f"{webhook.header} does not match the body for the app's secret.")
    posts, ignored = webhook.posts(body, channel.accounts)
    return await record_posts(request, posts, ignored=ignored)


# --- X (Twitter) Account Activity API -----------------------------------------------------


class XUser(PlatformPayload):
    id_str: NumericId
    screen_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    name: DisplayName | None = None


class XMention(PlatformPayload):
    id_str: NumericId


class XMedia(PlatformPayload):
    type: str = "photo"
    media_url_https: HttpUrl


class XEntities(PlatformPayload):
    user_mentions: tuple[XMention, ...] = ()
    media: tuple[XMedia, ...] = ()


class XExtendedTweet(PlatformPayload):
    full_text: str
    entities: XEntities = XEntities()
    extended_entities: XEntities | None = None


class XTweet(PlatformPayload):
    """A Tweet object (v1.1), as `tweet_create_events` carries it."""

    id_str: NumericId
    text: str = ""
    user: XUser
    entities: XEntities = XEntities()
    extended_entities: XEntities | None = None
    #: A tweet longer than 140 characters keeps its whole text and media here.
    extended_tweet: XExtendedTweet | None = None
    in_reply_to_user_id_str: NumericId | None = None
    #: Present on a retweet: a retweet is not a message to the city.
    retweeted_status: dict[str, Any] | None = None

    @property
    def full_text(self) -> str:
        return self.extended_tweet.full_text if self.extended_tweet else self.text

    def addresses(self, account_id: str) -> bool:
        entities = [self.entities, *([self.extended_tweet.entities] if self.extended_tweet else [])]
        mentioned = any(m.id_str == account_id for e in entities for m in e.user_mentions)
        return mentioned or self.in_reply_to_user_id_str == account_id

    def photos(self) -> tuple[str, ...]:
        where = self.extended_tweet or self
        entities = where.extended_entities or where.entities
        return tuple(str(m.media_url_https) for m in entities.media if m.type == "photo")


class XDmAttachment(PlatformPayload):
    type: str
    media: XMedia | None = None


class XDmMessageData(PlatformPayload):
    text: str = ""
    attachment: XDmAttachment | None = None


class XDmTarget(PlatformPayload):
    recipient_id: NumericId


class XMessageCreate(PlatformPayload):
    target: XDmTarget
    sender_id: NumericId
    message_data: XDmMessageData


class XDmEvent(PlatformPayload):
    type: str
    id: NumericId
    message_create: XMessageCreate | None = None


class XDmUser(PlatformPayload):
    id: NumericId
    screen_name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    name: DisplayName | None = None


class XActivity(PlatformPayload):
    """An Account Activity API delivery (the event types this channel reads)."""

    #: The subscribed account the events are about.
    for_user_id: NumericId
    tweet_create_events: tuple[XTweet, ...] = ()
    direct_message_events: tuple[XDmEvent, ...] = ()
    #: The users a delivery of direct messages names, by id.
    users: dict[str, XDmUser] = Field(default_factory=dict)


def x_posts(activity: XActivity, accounts: SnsAccounts) -> tuple[list[CitizenPost], int]:
    """The citizens' tweets and DMs to the account, and how many events were not theirs."""
    account = accounts.find(Platform.X, activity.for_user_id)
    events = len(activity.tweet_create_events) + len(activity.direct_message_events)
    if account is None:
        log.error("sns_account_not_connected", platform="x", events=events)
        return [], events
    city = accounts.ids(Platform.X)
    posts = []
    for tweet in activity.tweet_create_events:
        if (
            tweet.user.id_str in city
            or tweet.retweeted_status is not None
            or not tweet.addresses(account.platform_id)
        ):
            continue
        posts.append(
            CitizenPost(
                platform=Platform.X,
                event=f"tweet:{tweet.id_str}",
                account=account,
                author_id=tweet.user.id_str,
                handle=f"@{tweet.user.screen_name}",
                name=tweet.user.name,
                words=tweet.full_text,
                thread=tweet.id_str,
                media=tweet.photos(),
            )
        )
    for dm in activity.direct_message_events:
        created = dm.message_create
        if dm.type != "message_create" or created is None or created.sender_id in city:
            continue  # read receipts and the like; the city's own DMs echoed back
        sender = activity.users.get(created.sender_id)
        attachment = created.message_data.attachment
        photo = attachment.media if attachment is not None and attachment.media is not None else None
        posts.append(
            CitizenPost(
                platform=Platform.X,
                event=f"dm:{dm.id}",
                account=account,
                author_id=created.sender_id,
                handle=f"@{sender.screen_name}" if sender and sender.screen_name else None,
                name=sender.name if sender else None,
                words=created.message_data.text,
                thread=dm.id,
                media=(str(photo.media_url_https),) if photo is not None and photo.type == "photo" else (),
            )
        )
    return posts, events - len(posts)


class CrcResponse(BaseModel):
    response_token: str


@router.get("/x/webhook", summary="X challenge-response check (CRC)", response_model=CrcResponse)
async def x_crc(
    crc_token: Annotated[str, Query(min_length=1, max_length=500)],
    channel: Annotated[SnsChannel, Depends(sns_of)],
) -> CrcResponse:
    return CrcResponse(response_token=x_crc_response(channel.secret(Platform.X), crc_token))


@router.post(
    "/x/webhook",
    summary="X Account Activity delivery (mentions, replies, DMs)",
    response_model=DeliveryOut,
    responses=_REFUSALS,
    openapi_extra=request_body(XActivity),
)
async def x_activity(
    request: Request,
    channel: Annotated[SnsChannel, Depends(sns_of)],
    signature: Annotated[str | None, Header(alias="x-twitter-webhooks-signature")] = None,
) -> DeliveryOut | Response:
    return await deliver(request, channel, Platform.X, signature)


# --- Facebook Page webhooks ---------------------------------------------------------------


class FacebookParty(PlatformPayload):
    id: NumericId
    name: DisplayName | None = None


class FacebookAttachmentPayload(PlatformPayload):
    url: HttpUrl | None = None


class FacebookAttachment(PlatformPayload):
    type: str
    payload: FacebookAttachmentPayload | None = None


class FacebookMessage(PlatformPayload):
    mid: FacebookRef
    text: str | None = None
    #: A message the page itself sent, echoed back.
    is_echo: bool = False
    attachments: tuple[FacebookAttachment, ...] = ()

    def media(self) -> tuple[str, ...]:
        kinds = {"image", "video", "audio", "file"}
        return tuple(
            str(a.payload.url) for a in self.attachments if a.type in kinds and a.payload and a.payload.url
        )


class FacebookMessaging(PlatformPayload):
    sender: FacebookParty
    recipient: FacebookParty
    #: Absent on deliveries, reads and postbacks.
    message: FacebookMessage | None = None


class FacebookFeed(PlatformPayload):
    """The value of a `feed` change: a post, photo or comment on the page."""

    item: str
    verb: str
    #: Absent on some changes (a post's reactions, a page's own edits).
    from_: FacebookParty | None = Field(default=None, alias="from")
    post_id: FacebookRef | None = None
    comment_id: FacebookRef | None = None
    message: str | None = None
    #: A comment's photo.
    photo: HttpUrl | None = None
    #: A photo post's photo (`link`) or photos.
    link: HttpUrl | None = None
    photos: tuple[HttpUrl, ...] = ()

    def media(self) -> tuple[str, ...]:
        photos = [self.photo, *(self.photos or ([self.link] if self.item == "photo" else []))]
        return tuple(str(p) for p in photos if p is not None)


class FacebookChange(PlatformPayload):
    field: str
    #: Read as `FacebookFeed` when `field` is `feed`; other fields are not complaints.
    value: dict[str, Any] = Field(default_factory=dict)


class FacebookEntry(PlatformPayload):
    #: The page.
    id: NumericId
    messaging: tuple[FacebookMessaging, ...] = ()
    changes: tuple[FacebookChange, ...] = ()


class FacebookDelivery(PlatformPayload):
    object: Literal["page"]
    entry: tuple[FacebookEntry, ...]


#: Feed items a citizen writes; `verb` `add` only (an edit or removal is no new message).
CITIZEN_FEED_ITEMS = frozenset({"comment", "post", "status", "photo", "video"})


def facebook_posts(delivery: FacebookDelivery, accounts: SnsAccounts) -> tuple[list[CitizenPost], int]:
    city = accounts.ids(Platform.FACEBOOK)
    posts: list[CitizenPost] = []
    events = 0
    for entry in delivery.entry:
        events += len(entry.messaging) + len(entry.changes)
        account = accounts.find(Platform.FACEBOOK, entry.id)
        if account is None:
            log.error(
                "sns_account_not_connected",
                platform="facebook",
                events=len(entry.messaging) + len(entry.changes),
            )
            continue
        posts.extend(_page_messages(entry, account, city))
        posts.extend(_page_feed(entry, account, city))
    return posts, events - len(posts)


def _page_messages(entry: FacebookEntry, account: SnsAccount, city: frozenset[str]) -> Iterator[CitizenPost]:
    for messaging in entry.messaging:
        message = messaging.message
        if message is None or message.is_echo or messaging.sender.id in city:
            continue
        yield CitizenPost(
            platform=Platform.FACEBOOK,
            event=f"msg:{message.mid}",
            account=account,
            author_id=messaging.sender.id,
            # A page-scoped id is all Messenger says of the sender.
            handle=messaging.sender.id,
            name=messaging.sender.name,
            words=message.text,
            thread=message.mid,
            media=message.media(),
        )


def _page_feed(entry: FacebookEntry, account: SnsAccount, city: frozenset[str]) -> Iterator[CitizenPost]:
    for change in entry.changes:
        if change.field != "feed":
            continue
        feed = parse_model(FacebookFeed, change.value)
        author = feed.from_
        if feed.verb != "add" or feed.item not in CITIZEN_FEED_ITEMS or author is None or author.id in city:
            continue
        ref = feed.comment_id if feed.item == "comment" else feed.post_id
        if ref is None:
            continue
        yield CitizenPost(
            platform=Platform.FACEBOOK,
            event=f"{'comment' if feed.item == 'comment' else 'post'}:{ref}",
            account=account,
            author_id=author.id,
            handle=author.id,
            name=author.name,
            words=feed.message,
            thread=ref,
            media=feed.media(),
        )


@router.get(
    "/facebook/webhook",
    summary="Facebook subscription check",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The challenge"}, **_REFUSALS},
)
async def facebook_verification(
    channel: Annotated[SnsChannel, Depends(sns_of)],
    mode: Annotated[str, Query(alias="hub.mode", max_length=50)],
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=500)],
    challenge: Annotated[str, Query(alias="hub.challenge", min_length=1, max_length=500)],
) -> PlainTextResponse:
    expected = channel.facebook_verify_token
    if mode != "subscribe" or expected is None or not matches(expected.get_secret_value(), verify_token):
        raise Problem(403, "Not verified", "hub.verify_token does not match.", type_="bad-verify-token")
    return PlainTextResponse(challenge)


@router.post(
    "/facebook/webhook",
    summary="Facebook Page delivery (messages, posts and comments)",
    response_model=DeliveryOut,
    responses=_REFUSALS,
    openapi_extra=request_body(FacebookDelivery),
)
async def facebook_delivery(
    request: Request,
    channel: Annotated[SnsChannel, Depends(sns_of)],
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> DeliveryOut | Response:
    return await deliver(request, channel, Platform.FACEBOOK, signature)


WEBHOOKS = {
    Platform.X: Webhook(
        "x-twitter-webhooks-signature", x_signature, lambda body, a: x_posts(parse_json(XActivity, body), a)
    ),
    Platform.FACEBOOK: Webhook(
        "X-Hub-Signature-256",
        facebook_signature,
        lambda body, a: facebook_posts(parse_json(FacebookDelivery, body), a),
    ),
}
