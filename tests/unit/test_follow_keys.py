"""The private follow link: derived from the complaint id under a shared secret, so intake
(which hands it out) and the notifier (which serves the page) agree without storing it, and
nobody without the secret can make one."""

from __future__ import annotations

import re
import uuid

import pytest
from pydantic import SecretStr

from eungdapso_platform.follow import KEY_PATTERN, FollowKeys

SECRET = SecretStr("s" * 40)


def test_the_same_complaint_gets_the_same_key_and_another_complaint_another() -> None:
    keys = FollowKeys(SECRET)
    a, b = uuid.uuid4(), uuid.uuid4()
    assert keys.key_for(a) == FollowKeys(SECRET).key_for(a)  # a replay hands out the same link
    assert keys.key_for(a) != keys.key_for(b)
    assert re.fullmatch(KEY_PATTERN, keys.key_for(a))


def test_a_key_opens_only_its_own_complaint_and_only_under_the_same_secret() -> None:
    keys, other = FollowKeys(SECRET), FollowKeys(SecretStr("t" * 40))
    a, b = uuid.uuid4(), uuid.uuid4()
    assert keys.matches(a, keys.key_for(a))
    assert not keys.matches(b, keys.key_for(a))
    assert not keys.matches(a, other.key_for(a))
    assert not keys.matches(a, "")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FollowKeys(SecretStr("short"))


def test_the_link_keeps_the_key_in_the_fragment_out_of_every_log() -> None:
    link = FollowKeys.link("https://eungdapso.seoul.go.kr/", "2026-0000001", "k" * 32)
    assert link == "https://eungdapso.seoul.go.kr/follow/2026-0000001#key=" + "k" * 32
