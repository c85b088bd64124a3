"""E-mail by SMTP (`EMAIL_PROVIDER=smtp`): multipart/alternative, plain text and HTML, sent
with the standard library's client in a worker thread.

The Message-ID is derived from the notice id, so a message sent again after a lost answer
is the same message to the receiving servers and mail clients.

Errors: the server refusing the recipient or the message for good (5xx) is `MessageRefused`;
a temporary refusal (4xx), credentials refused or missing (535, 530), a dropped connection, a
timeout or an unreachable server is `ProviderUnavailable`.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from eungdapso_notifier.providers import Delivered, MessageRefused, OutgoingMessage, ProviderUnavailable
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.web import log

DEFAULT_SUBJECT = {
    "ko": "서울시 응답소 알림",
    "en": "Seoul Eung-Dap-So notice",
    "zh": "首尔应答所通知",
    "ja": "ソウル市応答所のお知らせ",
    "vi": "Thông báo của Eung-Dap-So Seoul",
    "mn": "Сөүл хотын Эүндапсо мэдэгдэл",
}


def message_id(notice_id: str, domain: str) -> str:
    local = "".join(ch if ch.isalnum() or ch in "-._" else "." for ch in notice_id)
    return f"<{local}@{domain}>"


def build_email(message: OutgoingMessage, *, sender: str, domain: str) -> EmailMessage:
    """The MIME message for a notice: text, and HTML as the alternative when there is one."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject or DEFAULT_SUBJECT.get(message.language, DEFAULT_SUBJECT["ko"])
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id(message.notice_id, domain)
    mail["Content-Language"] = message.language
    mail.set_content(message.text, charset="utf-8")
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail


def valid_address(address: str) -> bool:
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError):
        return False
    return bool(parsed.username and parsed.domain and "." in parsed.domain)


class SmtpMail:
    name = "smtp"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings

    async def send(self, message: OutgoingMessage) -> Delivered:
        if not valid_address(message.to):
            raise MessageRefused(self.name, "not an e-mail address")
        mail = build_email(
            message, sender=self.settings.smtp_from, domain=self.settings.smtp_message_id_domain
        )
        await asyncio.to_thread(self._send, mail, message.notice_id)
        log.info("email_sent", notice_id=message.notice_id, html=message.html is not None)
        return Delivered(self.name, str(mail["Message-ID"]), "multipart" if message.html else "text")

    def _send(self, mail: EmailMessage, notice_id: str) -> None:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.smtp_security == "tls":
                tls = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.provider_timeout_s, context=tls)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.provider_timeout_s)
            with smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username and s.smtp_password is not None:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            # The account's credentials, not the message: an operator must act (as HTTP 401).
            log.warning("smtp_credentials_rejected", notice_id=notice_id, code=exc.smtp_code)
            raise ProviderUnavailable(self.name, f"SMTP {exc.smtp_code} (credentials rejected)") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            self._raise(codes[0] if codes else 550, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            self._raise(exc.smtp_code, type(exc).__name__)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("smtp_unavailable", notice_id=notice_id, error=type(exc).__name__)
            raise ProviderUnavailable(self.name, f"unreachable ({type(exc).__name__})") from None

    def _raise(self, code: int, what: str) -> None:
        reason = f"SMTP {code} ({what})"
        # 4xx: try again later; 530: the server wants a login the settings do not give.
        if 400 <= code < 500 or code == 530:
            raise ProviderUnavailable(self.name, reason)
        raise MessageRefused(self.name, reason)

    async def close(self) -> None:
        return None
