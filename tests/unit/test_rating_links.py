"""Rating links and invitations, in memory: the token's rules (genuine, unexpired, bound to its
complaint) and the invitation's (invited once, rated once, low scores ask for a review)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from eungdapso_platform.settings import load_settings
from eungdapso_rating.domainmodel import AlreadyRated, Invitation, InvitationExpired, invitation_id
from eungdapso_rating.links import ExpiredLink, ForeignLink, ForgedLink, Link, LinkSigner
from eungdapso_rating.settings import RatingSettings
from eungdapso_schemas.events import RatingLinkIssuedV1

KEY = "k" * 40
ANSWERED = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
EXPIRES = ANSWERED + timedelta(days=30)


def a_link() -> Link:
    complaint = uuid.uuid4()
    return Link(invitation_id(complaint), complaint, EXPIRES)


def test_a_token_reads_back_as_the_link_it_was_issued_for_and_fits_the_contract() -> None:
    signer, link = LinkSigner(KEY), a_link()
    token = signer.issue(link)
    assert signer.read(token, ANSWERED) == link
    assert signer.issue(link) == token  # deterministic: a replay issues the link that was sent
    # The contract's pattern for the token on eungdapso.rating.links.
    issued = RatingLinkIssuedV1.model_validate(RatingLinkIssuedV1.example().model_dump() | {"token": token})
    assert issued.token == token


def test_a_token_signed_with_another_key_or_altered_is_forged() -> None:
    link = a_link()
    token = LinkSigner(KEY).issue(link)
    with pytest.raises(ForgedLink):
        LinkSigner("x" * 40).read(token, ANSWERED)
    # Another link's claims under this one's signature.
    other = LinkSigner(KEY).issue(a_link())
    altered = other.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    with pytest.raises(ForgedLink):
        LinkSigner(KEY).read(altered, ANSWERED)
    for junk in ("", "not-a-token-at-all", token[:-2], token + "x"):
        with pytest.raises(ForgedLink):
            LinkSigner(KEY).read(junk, ANSWERED)


def test_a_token_expires_at_its_expiry() -> None:
    signer, link = LinkSigner(KEY), a_link()
    token = signer.issue(link)
    assert signer.read(token, EXPIRES - timedelta(seconds=1)) == link
    with pytest.raises(ExpiredLink) as refused:
        signer.read(token, EXPIRES)
    assert refused.value.expired_at == EXPIRES


def test_a_token_for_another_complaint_than_the_one_named_is_foreign() -> None:
    signer, link = LinkSigner(KEY), a_link()
    token = signer.issue(link)
    assert signer.read(token, ANSWERED, complaint_id=link.complaint_id) == link
    with pytest.raises(ForeignLink):
        signer.read(token, ANSWERED, complaint_id=uuid.uuid4())


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        LinkSigner("short")


def an_invitation() -> Invitation:
    return Invitation(
        id=invitation_id(uuid.UUID(int=7)),
        complaint_id=uuid.UUID(int=7),
        receipt_no="2026-0000007",
        office="district.yongsan.roads",
        answered_by="office",
        answered_at=ANSWERED,
        expires_at=EXPIRES,
    )


def names(invitation: Invitation) -> list[str]:
    return [type(e).__name__ for e in invitation.collect_events()]


def test_a_link_is_issued_once_and_a_second_answer_changes_nothing_published() -> None:
    invitation = an_invitation()
    invitation.issue_link("t" * 20)
    invitation.issue_link("u" * 20)
    invitation.answered_again(answered_by="duplicate", office="district.mapo.roads", answered_at=EXPIRES)
    assert names(invitation) == ["Invited", "LinkIssued", "AnsweredAgain"]
    assert (invitation.token, invitation.office, invitation.answered_at) == (
        "t" * 20,
        "district.yongsan.roads",
        ANSWERED,
    )


def test_rated_once_and_a_low_score_requests_a_review() -> None:
    high, low = an_invitation(), an_invitation()
    high.rate(4, None, ANSWERED + timedelta(days=1))
    low.rate(2, "현장과 다릅니다", ANSWERED + timedelta(days=1))
    assert names(high)[-1] == "Rated"
    assert names(low)[-2:] == ["Rated", "ReviewRequested"]
    with pytest.raises(AlreadyRated):
        high.rate(5, None, ANSWERED + timedelta(days=2))
    assert high.score == 4


def test_no_rating_once_the_invitation_expired() -> None:
    invitation = an_invitation()
    with pytest.raises(InvitationExpired):
        invitation.rate(5, None, EXPIRES)
    assert not invitation.rated


def test_a_configured_link_key_shorter_than_32_characters_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINK_SECRET", "too-short")
    with pytest.raises(SystemExit) as exited:
        load_settings(RatingSettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "LINK_SECRET='…'" in err and "at least 32" in err and "too-short" not in err
    monkeypatch.setenv("LINK_SECRET", "s" * 32)
    assert load_settings(RatingSettings).link_secret is not None
