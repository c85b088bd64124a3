"""The notifier's choices without infrastructure: the channel and its fallback order, the
templates in six languages, quiet hours, and which stages a complaint's correspondence makes
due (once each)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest

from eungdapso_notifier.channels import (
    SEOUL,
    citizen_routes,
    extra_routes,
    fallback_after,
    quiet_until,
    sns_thread,
    waits_for_quiet_hours,
)
from eungdapso_notifier.domainmodel import Answer, Contact, Correspondence, Notice, notice_id
from eungdapso_notifier.tables import citizen_key
from eungdapso_notifier.templates import Facts, Templates, office_label
from eungdapso_schemas.codes import Channel, Language, ReplyMedium
from eungdapso_schemas.events import ReplyAddress

RECEIPT = "2026-0000042"
TEMPLATES = Templates.packaged()


def contact(medium: ReplyMedium | None, address: str = "010-1234-5678", **values: object) -> Contact:
    reply = None
    if medium is not None:
        reply = ReplyAddress(
            medium=medium,
            address=address,
            consent=bool(values.pop("consent", True)),
            account=values.pop("account", None),  # type: ignore[arg-type]
            thread=values.pop("thread", None),  # type: ignore[arg-type]
        )
    return Contact(channel=Channel.WEB, reply_to=reply, **values)  # type: ignore[arg-type]


def media(c: Contact) -> list[str]:
    return [r.medium for r in citizen_routes(c, RECEIPT)]


# -- channel choice and the fallback order -------------------------------------------------------
def test_sms_with_consent_first_then_the_citizen_page() -> None:
    assert media(contact(ReplyMedium.SMS)) == ["sms", "web"]


def test_no_consent_no_text_message_but_an_email_left_is_tried_before_the_page() -> None:
    c = contact(ReplyMedium.SMS, consent=False, email="citizen@example.kr")
    assert media(c) == ["email", "web"]
    assert media(contact(ReplyMedium.PHONE, consent=False)) == ["web"]


def test_sns_answers_through_the_same_account_and_thread() -> None:
    c = contact(ReplyMedium.SNS, address="884211", account="transport.x", thread="x:1888000111")
    best = citizen_routes(c, RECEIPT)[0]
    assert (best.medium, best.to, best.account, best.thread) == ("x", "884211", "transport.x", "x:1888000111")
    fb = citizen_routes(contact(ReplyMedium.SNS, address="u1", account="mayor.facebook"), RECEIPT)[0]
    assert fb.medium == "facebook" and fb.account == "mayor.facebook"


@pytest.mark.parametrize(
    ("thread", "channel_ref", "told"),
    [
        ("dm:1711", "x:dm:1711", "dm:1711"),  # as intake records it now
        ("1712", "x:dm:1712", "dm:1712"),  # recorded before: the channel reference says the kind
        ("m_ab", "facebook:msg:m_ab", "msg:m_ab"),
        ("778899_1", "facebook:comment:778899_1", "comment:778899_1"),
        ("1899", "x:tweet:1899", "tweet:1899"),
        ("1899", "twilio:SM1", "1899"),  # nothing says the kind: as it came
        ("1899", None, "1899"),
        (None, "x:dm:1", None),
    ],
)
def test_an_sns_thread_carries_its_kind(
    thread: str | None, channel_ref: str | None, told: str | None
) -> None:
    assert sns_thread(thread, channel_ref) == told


def test_email_post_and_web_channels() -> None:
    assert media(contact(ReplyMedium.EMAIL, address="a@b.kr")) == ["email", "web"]
    assert media(contact(ReplyMedium.POST, address="서울 중구 세종대로 110")) == ["letter", "web"]
    assert media(contact(ReplyMedium.WEB, address="web")) == ["web"]
    assert media(contact(None)) == ["web"]


def test_a_120_caller_who_asked_for_a_callback_gets_a_task_for_the_answer_only() -> None:
    c = contact(ReplyMedium.PHONE, consent=True)
    assert [r.medium for r in extra_routes(c, "answered")] == ["callback"]
    assert extra_routes(c, "assigned") == []
    assert media(c) == ["sms", "web"]
    assert extra_routes(contact(ReplyMedium.SMS), "answered") == []


def test_fallback_after_a_failed_medium_is_the_next_one() -> None:
    c = contact(ReplyMedium.SMS, email="citizen@example.kr")
    assert media(c) == ["sms", "email", "web"]
    after_sms = fallback_after(c, RECEIPT, "sms")
    assert after_sms is not None and after_sms.medium == "email"
    after_email = fallback_after(c, RECEIPT, "email")
    assert after_email is not None and after_email.medium == "web"
    assert fallback_after(c, RECEIPT, "web") is None


# -- quiet hours ----------------------------------------------------------------------------------
def kst(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=SEOUL).astimezone(UTC)


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (kst(2, 22), kst(3, 8)),
        (kst(2, 21), kst(3, 8)),
        (kst(3, 7, 59), kst(3, 8)),
        (kst(3, 0, 30), kst(3, 8)),
        (kst(3, 8), None),
        (kst(2, 20, 59), None),
        (kst(2, 12), None),
    ],
)
def test_quiet_hours_21_to_8_in_seoul(at: datetime, until: datetime | None) -> None:
    assert quiet_until(at, time(21), time(8)) == until


def test_quiet_hours_hold_text_messages_but_not_the_receipt_or_other_media() -> None:
    assert waits_for_quiet_hours("sms", "assigned")
    assert waits_for_quiet_hours("sms", "answered")
    assert not waits_for_quiet_hours("sms", "received")  # the reply to what they just sent
    assert not waits_for_quiet_hours("email", "answered")
    assert quiet_until(kst(2, 23), time(8), time(8)) is None  # equal bounds: no quiet hours


# -- templates ------------------------------------------------------------------------------------
FACTS = Facts(
    receipt_no=RECEIPT,
    follow_link="https://eungdapso.seoul.go.kr/complaints/2026-0000042",
    office=office_label("district.yongsan.roads", "용산구 도로과", Language.EN),
    due=datetime(2026, 11, 10, 9, 0, tzinfo=UTC),  # 18:00 in Seoul
    answer="보도블록을 교체했습니다.",
    rating_link="https://eungdapso.seoul.go.kr/rate#token=abcdefghijklmnop",
)

#: A word each language's notice must say (its own, not another language's).
RECEIVED_WORDS = {
    Language.KO: "접수번호",
    Language.EN: "Receipt no.",
    Language.ZH: "受理号",
    Language.JA: "受付番号",
    Language.VI: "Số tiếp nhận",
    Language.MN: "Хүлээн авсан дугаар",
}
DUE_IN = {
    Language.KO: "2026년 11월 10일(화) 18:00",
    Language.EN: "Tue 10 Nov 2026, 18:00",
    Language.ZH: "2026年11月10日（周二）18:00",
    Language.JA: "2026年11月10日（火）18:00",
    Language.VI: "18:00, thứ Ba, ngày 10/11/2026",
    Language.MN: "2026 оны 11 сарын 10 (Мягмар) 18:00",
}


@pytest.mark.parametrize("language", list(Language))
def test_each_language_has_its_own_words_and_dates_in_seoul_time(language: Language) -> None:
    received = TEMPLATES.render("received", language, FACTS, "email")
    assert received.language is language
    assert RECEIVED_WORDS[language] in received.text and RECEIPT in received.text
    assert FACTS.follow_link in received.text
    others = {w for lang, w in RECEIVED_WORDS.items() if lang is not language}
    assert not any(w in received.text for w in others)
    assigned = TEMPLATES.render("assigned", language, FACTS, "sms")
    assert DUE_IN[language] in assigned.text
    answered = TEMPLATES.render("answered", language, FACTS, "email")
    assert FACTS.answer in answered.text and FACTS.rating_link in answered.text  # type: ignore[operator]
    assert answered.html is not None and "<br>" in answered.html


def test_every_stage_renders_in_every_language_without_a_placeholder_left() -> None:
    for language in Language:
        for stage in ("received", "assigned", "extended", "transferred", "answered", "rating_invited"):
            text = TEMPLATES.render(stage, language, FACTS, "email").text
            assert "{" not in text and "}" not in text


def test_the_rating_invitation_carries_the_link_in_each_language_in_its_own_words() -> None:
    texts = {lang: TEMPLATES.render("rating_invited", lang, FACTS, "sms") for lang in Language}
    assert all(FACTS.rating_link in t.text and FACTS.receipt_no in t.text for t in texts.values())  # type: ignore[operator]
    assert len({t.subject for t in texts.values()}) == len(Language)


def test_office_names_korean_with_the_english_name_the_code_gives() -> None:
    assert office_label("district.yongsan.roads", "용산구 도로과", Language.KO) == "용산구 도로과"
    assert office_label("district.yongsan.roads", "용산구 도로과", Language.EN) == (
        "용산구 도로과 (Yongsan-gu Office)"
    )
    assert office_label("seoul.transport", "교통정책과", Language.JA) == (
        "교통정책과 (Seoul Metropolitan Government)"
    )


def test_a_long_answer_is_a_summary_with_a_link_on_short_media_and_whole_by_email() -> None:
    long = Facts(receipt_no=RECEIPT, follow_link="https://x.kr/c/1", answer="가" * 1000)
    sms = TEMPLATES.render("answered", Language.KO, long, "sms").text
    assert "가" * 200 in sms and "가" * 201 not in sms and "전체 답변 보기: https://x.kr/c/1" in sms
    assert "가" * 1000 in TEMPLATES.render("answered", Language.KO, long, "email").text


def test_without_a_rating_link_the_answer_has_no_rating_line() -> None:
    plain = Facts(receipt_no=RECEIPT, follow_link="https://x.kr/c/1", answer="답변")
    assert "만족도" not in TEMPLATES.render("answered", Language.KO, plain, "email").text


def test_office_notices_are_in_korean_whatever_the_citizen_speaks() -> None:
    facts = Facts(receipt_no=RECEIPT, follow_link="x", due=FACTS.due, score=1)
    assert "처리기한" in TEMPLATES.render("office_breach", Language.EN, facts, "email").text
    assert "1점" in TEMPLATES.render("office_low_rating", Language.VI, facts, "email").text


# -- what a complaint's correspondence makes due -------------------------------------------------
def correspondence() -> Correspondence:
    return Correspondence.start(uuid.uuid4(), RECEIPT)


def test_nothing_is_told_before_the_receipt_then_everything_known_in_order() -> None:
    c = correspondence()
    c.learn_assignment("district.yongsan.roads", "용산구 도로과")
    c.learn_deadline(datetime(2026, 11, 10, 9, tzinfo=UTC), "district.yongsan.roads")
    assert c.citizen_stages_due() == []
    c.learn_contact(contact(ReplyMedium.SMS))
    assert c.citizen_stages_due() == [("received", 1), ("assigned", 1)]
    for stage, n in c.citizen_stages_due():
        assert c.plan(stage, n)
    assert c.citizen_stages_due() == []
    assert not c.plan("received")  # once


def test_transfers_count_and_an_answer_makes_earlier_steps_history() -> None:
    c = correspondence()
    c.learn_contact(contact(ReplyMedium.EMAIL, address="a@b.kr"))
    c.plan("received")
    c.learn_transfer("ext.molit", "국토교통부 소관")
    c.learn_transfer("district.mapo.parks", "관할 구청")
    assert c.citizen_stages_due() == [("transferred", 1), ("transferred", 2)]
    late = correspondence()
    late.learn_extension(datetime(2026, 11, 20, tzinfo=UTC), "현장 조사")
    late.learn_answer(Answer(by="office", text="done", at=datetime(2026, 11, 5, tzinfo=UTC)))
    late.learn_contact(contact(ReplyMedium.SMS))
    assert late.citizen_stages_due() == [("received", 1), ("answered", 1)]


def test_the_first_answer_is_the_one_told() -> None:
    c = correspondence()
    c.learn_answer(Answer(by="instant", text="first", at=datetime(2026, 11, 5, tzinfo=UTC)))
    c.learn_answer(Answer(by="office", text="second", at=datetime(2026, 11, 6, tzinfo=UTC)))
    assert c.answer is not None and c.answer.text == "first"


def test_a_notice_id_is_derived_from_complaint_stage_occurrence_and_medium() -> None:
    cid = uuid.uuid4()
    one = Notice.plan(cid, RECEIPT, "assigned", 1, "sms")
    assert one.id == notice_id(cid, "assigned", 1, "sms")
    assert len({notice_id(cid, "assigned", 1, m) for m in ("sms", "email", "web")}) == 3
    assert notice_id(cid, "transferred", 1, "sms") != notice_id(cid, "transferred", 2, "sms")
    assert one.recipient == "citizen"
    assert Notice.plan(cid, RECEIPT, "office_breach", 1, "email", "x.y").recipient == "office"


def test_a_notice_is_attempted_before_it_is_sent_and_counts_its_attempts() -> None:
    n = Notice.plan(uuid.uuid4(), RECEIPT, "received", 1, "sms")
    now = datetime(2026, 11, 2, 1, tzinfo=UTC)
    n.next_attempt(now)
    assert n.status == "sending" and n.attempts == 1
    n.retrying(attempt=1, provider="sms-http", reason="503", retry_at=now)
    n.next_attempt(now)
    n.sent(language="ko", provider="sms-http", at=now, form="sms")
    assert n.done and n.attempts == 2
    published = n.collect_events()[-1]
    assert isinstance(published, Notice.Sent) and published.attempt == 2


def test_preferences_key_one_citizen_whatever_the_phone_number_looks_like() -> None:
    assert citizen_key("010-1234-5678") == citizen_key("+82 10 1234 5678") == citizen_key("01012345678")
    assert citizen_key("Citizen@Example.kr") == citizen_key("citizen@example.kr")
    assert citizen_key("010-1234-5678") != citizen_key("010-1234-5679")


def test_a_moved_deadline_is_the_one_told_next_and_an_extended_one_moves_the_extension() -> None:
    c = correspondence()
    c.learn_deadline(datetime(2026, 11, 10, 9, tzinfo=UTC), "x.y")
    c.move_deadline(datetime(2026, 11, 11, 9, tzinfo=UTC))
    assert c.due == c.current_due == datetime(2026, 11, 11, 9, tzinfo=UTC)
    c.learn_extension(datetime(2026, 11, 20, 9, tzinfo=UTC), "현장 조사")
    c.move_deadline(datetime(2026, 11, 23, 9, tzinfo=UTC))
    assert c.current_due == datetime(2026, 11, 23, 9, tzinfo=UTC) and c.due == datetime(
        2026, 11, 11, 9, tzinfo=UTC
    )
