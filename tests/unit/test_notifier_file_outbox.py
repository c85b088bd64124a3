"""The file adapter (the local stack's default): one readable file per message, written
whole, and never twice for the same notice."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from pathlib import Path

from eungdapso_notifier.providers import OutgoingMessage
from eungdapso_notifier.providers.files import FileOutbox, file_name
from eungdapso_notifier.providers.registry import providers
from eungdapso_notifier.providers.settings import ProviderSettings


def outbox(tmp_path: Path) -> FileOutbox:
    return FileOutbox(ProviderSettings(run_dir=tmp_path))


async def test_each_medium_is_written_as_a_person_reads_it(tmp_path: Path) -> None:
    files = outbox(tmp_path)
    mail = OutgoingMessage(
        "n-mail", "email", "c@example.kr", "ko", "본문", subject="제목", html="<b>본문</b>"
    )
    sms = OutgoingMessage("n-sms", "sms", "01012345678", "ko", "가" * 46)
    x = OutgoingMessage("n-x", "x", "44196397", "ko", "답변", account="transport.x", thread="tweet:1899")
    assert (await files.send(mail)).form == "multipart"
    assert (await files.send(sms)).form == "lms"  # 92 bytes: over an SMS
    assert (await files.send(x)).form == "reply"

    eml = email.message_from_bytes(
        (tmp_path / "outbox/email/n-mail.eml").read_bytes(), policy=email.policy.default
    )
    assert eml["Subject"] == "제목" and eml.get_content_type() == "multipart/alternative"
    text = (tmp_path / "outbox/sms/n-sms.txt").read_text()
    assert "Form: lms" in text and "가" * 46 in text
    post = json.loads((tmp_path / "outbox/x/n-x.json").read_text())
    assert post == {
        "platform": "x",
        "account": "transport.x",
        "kind": "reply",
        "thread": "tweet:1899",
        "to": "44196397",
        "language": "ko",
        "text": "답변",
    }


async def test_the_same_notice_twice_is_written_once_even_at_the_same_moment(tmp_path: Path) -> None:
    files = outbox(tmp_path)
    first = OutgoingMessage("n-1", "sms", "01012345678", "ko", "첫 번째")
    later = OutgoingMessage("n-1", "sms", "01012345678", "ko", "두 번째")
    results = await asyncio.gather(*(files.send(first) for _ in range(8)))
    assert {r.provider_message_id for r in results} == {"n-1.txt"}
    await files.send(later)
    written = list((tmp_path / "outbox/sms").iterdir())
    assert [p.name for p in written] == ["n-1.txt"]  # no second file, no temporary left behind
    assert "첫 번째" in written[0].read_text()


def test_unsafe_notice_ids_become_distinct_safe_file_names() -> None:
    assert file_name("n-2026-0000001-received") == "n-2026-0000001-received"
    unsafe = file_name("../../etc/passwd")
    assert "/" not in unsafe and not unsafe.startswith(".")
    assert file_name("a:b") != file_name("a/b")


def test_every_medium_writes_files_unless_an_adapter_is_chosen(tmp_path: Path) -> None:
    chosen = providers(ProviderSettings(run_dir=tmp_path, email_provider="smtp", sms_provider="sms-http"))
    assert chosen["email"].name == "smtp"
    assert chosen["sms"].name == "sms-http"
    assert chosen["x"].name == chosen["facebook"].name == chosen["letter"].name == "file"
    assert {m: p.name for m, p in chosen.external().items()} == {
        "email": "smtp",
        "sms": "sms-http",
        "x": "file",
        "facebook": "file",
    }
