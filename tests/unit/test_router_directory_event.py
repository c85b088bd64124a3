"""The directory version as the router publishes it on its stream: every office of the edition
with its code, name, level and kind, under the fixed key, small enough for one record."""

from __future__ import annotations

import uuid
from collections import Counter

from eungdapso_router.application import OUTBOX
from eungdapso_router.directory import TRIAGE, packaged_directory
from eungdapso_router.domainmodel import DirectoryVersion
from eungdapso_schemas.envelope import MAX_VALUE_BYTES, decode, encode
from eungdapso_schemas.events import DIRECTORY_KEY, DirectoryPublishedV1


def test_a_published_version_carries_every_office_with_its_kind_under_the_fixed_key() -> None:
    edition = packaged_directory()
    version = DirectoryVersion.publish(
        version=3,
        content_hash=edition.content_hash,
        edition=edition.edition,
        source="package",
        published_hashes=(edition.content_hash,),
        offices=edition.offices,
    )
    [recorded] = version.collect_events()
    envelope = OUTBOX(recorded)
    assert envelope is not None and envelope.subject == DIRECTORY_KEY
    record = encode(envelope)
    assert record.key == DIRECTORY_KEY.encode() and len(record.value) < MAX_VALUE_BYTES // 4
    published = decode(record.headers, record.key, record.value).data
    assert isinstance(published, DirectoryPublishedV1)
    assert (published.version, published.content_hash) == (3, edition.content_hash)
    assert [o.code for o in published.offices] == [o.code for o in edition.offices]
    kinds = {o.code: o.kind for o in published.offices}
    assert kinds["ext.seoul_police"] == "agency" and kinds["ext.goyang"] == "local_government"
    assert kinds["district.gangnam"] == "office" and kinds["district.gangnam.parking"] == "division"
    assert kinds[TRIAGE] == "division"
    counted = Counter(kinds.values())
    assert counted["division"] > counted["office"] > 0
    # The same recorded event always publishes the same CloudEvent id (consumers deduplicate).
    assert OUTBOX(recorded).id == envelope.id and uuid.UUID(envelope.id)  # type: ignore[union-attr]
