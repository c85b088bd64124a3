"""The file adapter (the default on the local stack): what would be sent, one file per
message, under `<OUTBOX_DIR>/<medium>/<notice id>.<ext>`, for a person to read.

- e-mail: `.eml`, the very MIME message the SMTP adapter would send (any mail client opens it);
- text messages: `.txt`, with the form the carriers' byte rules give (sms, lms, mms) and the
  text as the gateway would get it;
- X and Facebook: `.json`, what would be posted where (account, kind, thread, text);
- other media (the citizen page, the letter queue, callbacks): `.txt`.

A file appears whole or not at all (written beside, then linked into place), and a notice
id already written is not written again: the second attempt answers what the first did.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from eungdapso_notifier.providers import Delivered, OutgoingMessage
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.smtp import build_email
from eungdapso_notifier.providers.sns import plan_facebook, plan_x
from eungdapso_notifier.providers.text import plan_sms
from eungdapso_notifier.providers.web import log

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(notice_id: str) -> str:
    """A file name for the notice id: itself when it is safe, otherwise a safe form with a
    short hash (two ids never share a file)."""
    safe = _SAFE.sub("_", notice_id).lstrip(".")[:150]
    if safe == notice_id:
        return safe
    return f"{safe}-{hashlib.sha256(notice_id.encode()).hexdigest()[:12]}"


def render(message: OutgoingMessage, settings: ProviderSettings) -> tuple[str, bytes, str | None]:
    """(extension, content, form) of what would be sent."""
    if message.medium == "email":
        mail = build_email(message, sender=settings.smtp_from, domain=settings.smtp_message_id_domain)
        return "eml", bytes(mail), "multipart" if message.html else "text"
    if message.medium == "sms":
        plan = plan_sms(message.text, subject=message.subject, media=len(message.media))
        head = [f"To: {message.to}", f"From: {settings.sms_sender}", f"Form: {plan.form}"]
        if plan.subject:
            head.append(f"Subject: {plan.subject}")
        head += [f"Media: {m}" for m in message.media]
        return "txt", ("\n".join(head) + "\n\n" + plan.text + "\n").encode(), plan.form
    if message.medium in ("x", "facebook"):
        sns = plan_x(message) if message.medium == "x" else plan_facebook(message)
        post = {
            "platform": message.medium,
            "account": message.account,
            "kind": sns.kind,
            "thread": message.thread,
            "to": message.to,
            "language": message.language,
            "text": sns.text,
        }
        return "json", (json.dumps(post, ensure_ascii=False, indent=2) + "\n").encode(), sns.kind
    head = [f"To: {message.to}", f"Language: {message.language}"]
    if message.subject:
        head.append(f"Subject: {message.subject}")
    return "txt", ("\n".join(head) + "\n\n" + message.text + "\n").encode(), None


class FileOutbox:
    name = "file"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.root = settings.outbox()

    def path_of(self, message: OutgoingMessage) -> Path:
        extension, _, _ = render(message, self.settings)
        return self.root / message.medium / f"{file_name(message.notice_id)}.{extension}"

    async def send(self, message: OutgoingMessage) -> Delivered:
        extension, content, form = render(message, self.settings)
        path = self.root / message.medium / f"{file_name(message.notice_id)}.{extension}"
        written = await asyncio.to_thread(_write_once, path, content)
        log.info("notice_written", notice_id=message.notice_id, medium=message.medium, again=not written)
        return Delivered(self.name, path.name, form)

    async def close(self) -> None:
        return None


def _write_once(path: Path, content: bytes) -> bool:
    """Write `content` at `path` unless it exists; True if this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.link(temporary, path)  # fails if another writer got there first: never two copies
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
