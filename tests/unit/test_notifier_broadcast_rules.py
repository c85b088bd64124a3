"""The emergency broadcast's rules (notifier broadcast.py): one outcome per target, never
two; the city's accounts file validated; what the stream learns carries no phone number."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eungdapso_notifier.broadcast import OUTBOX, Broadcast, BroadcastsApplication, CityAccounts
from eungdapso_platform.errors import DomainError
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.events import BroadcastDeliveredV1, BroadcastPostedV1

AT = datetime(2026, 7, 14, 6, 0, tzinfo=UTC)


def posted() -> Broadcast:
    return Broadcast(
        id=uuid.uuid4(),
        title="호우경보",
        text="잠수교 보행 통제",
        translations={"en": "Jamsugyo closed"},
        districts=("yongsan",),
        accounts=("seoulcity.x", "seoulcity.facebook"),
        subscribers=("pref-1",),
        posted_at=AT,
        posted_by="safety-duty",
    )


def test_each_target_gets_one_outcome_and_only_targets_do() -> None:
    broadcast = posted()
    assert broadcast.pending() == ["account:seoulcity.x", "account:seoulcity.facebook", "sms:pref-1"]
    broadcast.deliver("account:seoulcity.x", "x", "t-1", AT)
    broadcast.fail("sms:pref-1", "sms-http", "HTTP 400", 1, AT)
    assert broadcast.pending() == ["account:seoulcity.facebook"]
    with pytest.raises(DomainError):
        broadcast.deliver("account:seoulcity.x", "x", "t-2", AT)  # never posted twice
    with pytest.raises(DomainError):
        broadcast.deliver("sms:pref-1", "sms-http", "g", AT)  # a failure is final too
    with pytest.raises(DomainError):
        broadcast.deliver("account:mayor.x", "x", None, AT)
    assert broadcast.text_in("en") == "Jamsugyo closed" and broadcast.text_in("vi") == "잠수교 보행 통제"


def test_a_broadcast_read_back_from_the_store_knows_what_is_done() -> None:
    app = BroadcastsApplication(env=ServiceSettings.in_memory_env())
    broadcast = posted()
    broadcast.deliver("account:seoulcity.x", "x", "t-1", AT)
    app.save(broadcast)
    again: Broadcast = app.repository.get(broadcast.id)
    assert again.pending() == ["account:seoulcity.facebook", "sms:pref-1"]
    assert again.delivered == {"account:seoulcity.x": "t-1"}


def test_the_stream_learns_counts_and_references_not_subscribers() -> None:
    broadcast = posted()
    broadcast.deliver("sms:pref-1", "sms-http", "g-1", AT)
    first, second = (OUTBOX(e) for e in broadcast.collect_events())
    assert first is not None and second is not None
    assert isinstance(first.data, BroadcastPostedV1) and first.data.sms_recipients == 1
    assert first.subject == str(broadcast.id)
    assert isinstance(second.data, BroadcastDeliveredV1) and second.data.target == "sms:pref-1"


def test_the_shipped_accounts_load_and_a_bad_file_is_refused(tmp_path: Path) -> None:
    shipped = CityAccounts.load()
    assert "seoulcity.x" in shipped.codes() and shipped.by_code["mayor.facebook"].platform == "facebook"
    twice = tmp_path / "twice.toml"
    twice.write_text('[[account]]\ncode="a.x"\nplatform="x"\nname="A"\n' * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="same code"):
        CityAccounts.load(twice)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[account]]\ncode="a.m"\nplatform="mastodon"\nname="A"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="platform"):
        CityAccounts.load(unknown)
