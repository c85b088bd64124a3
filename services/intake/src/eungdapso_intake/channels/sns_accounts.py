"""The city's connected SNS accounts (`sns_accounts.toml`), loaded and checked at start."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from eungdapso_schemas.events import OfficeCode, ShortText


class Platform(StrEnum):
    X = "x"
    FACEBOOK = "facebook"


class SnsAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: As events name it (`reply_to.account`).
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,60}$")]
    platform: Platform
    #: X's user id, the Facebook Page id: how webhook deliveries name the account.
    platform_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")]
    handle: ShortText
    name: ShortText
    office: OfficeCode


class SnsAccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account: Annotated[list[SnsAccount], Field(min_length=1)]


class SnsAccounts:
    def __init__(self, accounts: Sequence[SnsAccount]) -> None:
        for what, key in (
            ("code", lambda a: a.code),
            ("platform id", lambda a: (a.platform, a.platform_id)),
            ("handle", lambda a: (a.platform, a.handle.lower())),
        ):
            seen: set[object] = set()
            for account in accounts:
                if key(account) in seen:
                    raise ValueError(f"two SNS accounts have the same {what} (account {account.code!r})")
                seen.add(key(account))
        self.accounts = tuple(accounts)
        self._by_id = {(a.platform, a.platform_id): a for a in accounts}

    @classmethod
    def load(cls, path: Path | None = None) -> SnsAccounts:
        """The file at `path`, or the list shipped with intake; ValueError naming what is wrong."""
        source = (
            resources.files("eungdapso_intake.channels").joinpath("sns_accounts.toml")
            if path is None
            else path
        )
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
            return cls(SnsAccountsFile.model_validate(data).account)
        except (OSError, tomllib.TOMLDecodeError, ValidationError, ValueError) as exc:
            raise ValueError(f"SNS accounts file {source}: {exc}") from None

    def find(self, platform: Platform, platform_id: str) -> SnsAccount | None:
        return self._by_id.get((platform, platform_id))

    def ids(self, platform: Platform) -> frozenset[str]:
        return frozenset(a.platform_id for a in self.accounts if a.platform is platform)
