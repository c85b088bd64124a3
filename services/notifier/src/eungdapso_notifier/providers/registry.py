"""Which adapter delivers each medium, from the settings: the composition root asks for
`providers(settings)` once and closes them when the service stops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from eungdapso_notifier.providers import Medium, Provider
from eungdapso_notifier.providers.files import FileOutbox
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.sms import SmsGateway
from eungdapso_notifier.providers.smtp import SmtpMail
from eungdapso_notifier.providers.sns import FacebookReplies, XReplies

EXTERNAL_MEDIA: tuple[Medium, ...] = ("email", "sms", "x", "facebook")


class ClosableProvider(Provider, Protocol):
    async def close(self) -> None: ...


class Providers:
    """One adapter per medium; media without a configured adapter write files."""

    def __init__(self, by_medium: Mapping[Medium, ClosableProvider], fallback: ClosableProvider) -> None:
        self.by_medium = dict(by_medium)
        self.fallback = fallback

    def __getitem__(self, medium: Medium) -> ClosableProvider:
        return self.by_medium.get(medium, self.fallback)

    def external(self) -> dict[Medium, ClosableProvider]:
        """The adapter of each medium that leaves the notifier (e-mail, text, X, Facebook); the
        citizen page, the letter queue and callbacks are the notifier's own to write."""
        return {m: self[m] for m in EXTERNAL_MEDIA}

    async def close(self) -> None:
        for provider in {id(p): p for p in (*self.by_medium.values(), self.fallback)}.values():
            await provider.close()


def providers(settings: ProviderSettings) -> Providers:
    files = FileOutbox(settings)
    chosen: dict[Medium, ClosableProvider] = {}
    if settings.email_provider == "smtp":
        chosen["email"] = SmtpMail(settings)
    if settings.sms_provider == "sms-http":
        chosen["sms"] = SmsGateway(settings)
    if settings.x_provider == "x":
        chosen["x"] = XReplies(settings)
    if settings.facebook_provider == "facebook":
        chosen["facebook"] = FacebookReplies(settings)
    return Providers(chosen, files)
