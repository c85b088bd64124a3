"""The connected city SNS accounts: the shipped list (DOMAIN.md's 16) and refusal of a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from eungdapso_intake.channels.sns_accounts import Platform, SnsAccounts

ENTRY = """
[[account]]
code = "{code}"
platform = "{platform}"
platform_id = "{platform_id}"
handle = "@seoul_test"
name = "시험 계정"
office = "seoul.test"
"""


def test_the_shipped_list_has_the_16_connected_accounts_of_the_domain() -> None:
    accounts = SnsAccounts.load()
    assert len(accounts.accounts) == 16
    assert {a.platform for a in accounts.accounts} == {Platform.X, Platform.FACEBOOK}
    codes = {a.code for a in accounts.accounts}
    for owner in ("mayor", "eungdapso", "transport", "hanriver", "water", "roads", "women_welfare"):
        assert any(code.startswith(owner + ".") for code in codes), owner
    for owner in ("civil_service", "environment"):
        assert any(code.startswith(owner + ".") for code in codes), owner
    eungdapso = accounts.find(Platform.X, "1201480002")
    assert eungdapso is not None and eungdapso.code == "eungdapso.x" and eungdapso.office == "seoul.eungdapso"
    assert accounts.find(Platform.FACEBOOK, "1201480002") is None


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        ([("a.x", "x", "1"), ("a.x", "facebook", "2")], "same code"),
        ([("a.x", "x", "1"), ("b.x", "x", "1")], "same platform id"),
        ([("a.x", "myspace", "1")], "platform"),
        ([("A X", "x", "1")], "code"),
        ([("a.x", "x", "not-a-number")], "platform_id"),
        ([], "account"),
    ],
)
def test_a_bad_accounts_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, entries: list[tuple[str, str, str]], says: str
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(
        "".join(ENTRY.format(code=c, platform=p, platform_id=i) for c, p, i in entries), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=says) as refused:
        SnsAccounts.load(path)
    assert str(path) in str(refused.value)


def test_a_missing_or_malformed_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SNS accounts file"):
        SnsAccounts.load(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("[[account]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="SNS accounts file"):
        SnsAccounts.load(tmp_path / "bad.toml")
