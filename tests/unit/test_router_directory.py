"""The organisation directory: the packaged edition covers every subject in every district,
lookups answer as the city divides work, a bad file is refused with every problem named, and
publication in the event store (in memory here; tests/integration on PostgreSQL) keeps
versions without gaps, leaves a run-time publication in force across restarts, and reaches a
running router."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from eungdapso_platform.problems import install_problem_handlers
from eungdapso_router import directory_api
from eungdapso_router.__main__ import main
from eungdapso_router.application import RouterApplication
from eungdapso_router.directory import (
    DISTRICT_ROLES,
    TRIAGE,
    Directory,
    DirectoryError,
    packaged_directory,
    parse_directory,
)
from eungdapso_router.directory_store import DirectoryStore, LiveDirectory
from eungdapso_router.domainmodel import DirectoryVersion
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import District, OfficeLevel
from eungdapso_schemas.events import Office as AssignedOffice
from eungdapso_schemas.subjects import SUBJECTS

PACKAGED = files("eungdapso_router").joinpath("data/organisation.toml").read_text("utf-8")
NEIGHBOURS = [
    "고양",
    "의정부",
    "남양주",
    "구리",
    "하남",
    "성남",
    "과천",
    "안양",
    "광명",
    "부천",
    "김포",
    "양주",
]


@pytest.fixture(scope="module")
def directory() -> Directory:
    return packaged_directory()


def edition(name: str, text: str = PACKAGED) -> str:
    return text.replace('edition = "2026-11-22.1"', f'edition = "{name}"', 1)


# ---------------------------------------------------------------------- the packaged edition
@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda s: s.code)
def test_every_subject_resolves_to_an_office_in_every_district_and_without_one(
    directory: Directory, subject: object
) -> None:
    code = subject.code  # type: ignore[attr-defined]
    level = subject.level  # type: ignore[attr-defined]
    for district in [*District, None]:
        office = directory.office_for(code, district)
        assert directory.office(office.code) is office
        if level is OfficeLevel.DISTRICT and district is not None:
            assert office.district is district and office.code == f"district.{district.value}.{subject.role}"  # type: ignore[attr-defined]
        elif level is OfficeLevel.DISTRICT:
            # No district known: the city office that takes the role and passes it on.
            assert office.district is None and subject.role in office.roles  # type: ignore[attr-defined]
        else:
            assert office.level is level and code in directory.subjects_of(office.code)


def test_the_directory_is_the_real_organisation(directory: Directory) -> None:
    assert len(directory.offices) > 600  # 25 districts x (office + 20 divisions), city, outside
    parking = directory.office_for("illegal_parking", District.GANGNAM)
    assert parking.ko == "강남구 주차관리과" and not parking.generic_name
    assert directory.office_for("public_health", District.MAPO).ko == "마포구보건소"
    assert directory.office_for("road_markings", District.NOWON).generic_name  # 노원구 교통행정과: generic
    assert directory.office_for("bus", District.MAPO).ko == "버스정책과"
    assert directory.office_for("taxi", None).code == "seoul.transport.taxi_logistics"
    assert directory.office_for("bike_share", None).parent == "seoul.transport.pedestrian"
    assert directory.office_for("subway", District.JUNG).ko == "서울교통공사"
    assert directory.office_for("water_supply", District.JUNG).code == "seoul.waterworks"
    assert directory.office_for("han_river_park", None).code == "seoul.hangang"
    assert directory.office_for("labour", District.GURO).code == "ext.moel"
    assert directory.office_for("crime_police", None).ko == "서울경찰청"
    assert directory.office_for("other", District.GANGNAM).code == TRIAGE == directory.triage.code
    assert directory.office("seoul.civil_service").ko == "시민봉사담당관"


def test_area_offices_take_their_parents_subjects_in_their_districts(directory: Directory) -> None:
    assert directory.office_for("arterial_road", None).code == "seoul.road_offices"
    by_district = {d: directory.office_for("arterial_road", d) for d in District}
    assert {o.parent for o in by_district.values()} == {"seoul.road_offices"}
    assert by_district[District.MAPO].ko == "서부도로사업소"
    assert by_district[District.GANGSEO].ko == "강서도로사업소"


def test_an_office_as_events_name_it(directory: Directory) -> None:
    assert directory.office_for("pothole", District.GANGNAM).ref == AssignedOffice(
        code="district.gangnam.roads", name="강남구 도로과", level=OfficeLevel.DISTRICT
    )


def test_an_unknown_subject_or_office_is_a_clear_error(directory: Directory) -> None:
    with pytest.raises(LookupError, match="no subject"):
        directory.office_for("ufo_sighting", None)
    with pytest.raises(LookupError, match=r"no office 'seoul\.nowhere'"):
        directory.office("seoul.nowhere")


@pytest.mark.parametrize("name", NEIGHBOURS)
def test_each_neighbouring_city_by_its_names(directory: Directory, name: str) -> None:
    office = directory.neighbour(name)
    assert office.parent == "ext.gyeonggi" and office.local_government
    assert directory.neighbour(f"{name}시") is office
    assert directory.neighbour(f"경기도 {name}시") is office
    assert directory.neighbour(office.en.upper()) is office
    assert directory.neighbour(office.code) is office


def test_neighbour_lookups(directory: Directory) -> None:
    assert directory.neighbour("경기도 성남시 분당구").code == "ext.seongnam"
    assert directory.neighbour("인천").code == directory.neighbour("인천광역시").code == "ext.incheon"
    assert directory.neighbour("경기도").code == "ext.gyeonggi"
    for not_a_neighbour in ("노동청", "부산", "강남구", ""):
        with pytest.raises(LookupError):
            directory.neighbour(not_a_neighbour)


def test_the_same_content_has_the_same_hash_in_toml_and_json(directory: Directory) -> None:
    again = parse_directory(PACKAGED)
    assert again.content_hash == directory.content_hash
    import tomllib

    as_json = parse_directory(json.dumps(tomllib.loads(PACKAGED), ensure_ascii=False))
    assert as_json.content_hash == directory.content_hash
    assert parse_directory(edition("next")).content_hash != directory.content_hash


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.replace('fallback_for = ["parking"]\n', ""), "no city office takes 'parking'"),
        (
            lambda t: t.replace('code = "seoul.metro"', 'code = "seoul.subway"'),
            "subject 'subway': no office 'seoul.metro'",
        ),
        (
            lambda t: t.replace(
                'level = "city_office"\nparent = "seoul"\naliases = ["아리수"]',
                'level = "headquarters"\nparent = "seoul"\naliases = ["아리수"]',
            ),
            "seoul.waterworks is headquarters, the taxonomy says city_office",
        ),
        (
            lambda t: t.replace('parent = "seoul.transport"\n', 'parent = "seoul.traffic"\n', 1),
            "parent 'seoul.traffic' is not in the directory",
        ),
        (
            lambda t: t.replace('code = "seoul.planning"', 'code = "seoul.transport"'),
            "office codes appear twice: seoul.transport",
        ),
        (
            lambda t: t.replace('tax = { ko = "세무1과", en = "Tax Division 1" }\n', ""),
            "district_roles lacks 'tax'",
        ),
        (
            lambda t: t.replace('code = "seoul.eungdapso_triage"', 'code = "seoul.eungdapso_desk"'),
            "triage desk",
        ),
        (
            lambda t: t.replace('serves = ["dongdaemun", "jungnang"]', 'serves = ["dongdaemun", "mapo"]'),
            "mapo is served by two offices",
        ),
        (lambda t: t.replace('level = "external"', 'level = "ministry"', 1), ".level: Input should be"),
        (
            lambda t: t.replace(
                '[[office]]\ncode = "seoul"\n', '[[office]]\ncolour = "blue"\ncode = "seoul"\n'
            ),
            "office.0.colour",
        ),
        (lambda t: t + '\n[[district]]\ncode = "busan"\nko = "부산"\nen = "Busan"\n', "district.25.code"),
        (lambda t: t.replace("edition =", "edition = = "), "not a TOML or JSON document"),
    ],
)
def test_a_bad_directory_is_refused_saying_what_is_wrong(change: object, problem: str) -> None:
    text = change(PACKAGED)  # type: ignore[operator]
    assert text != PACKAGED
    with pytest.raises(DirectoryError) as refused:
        parse_directory(text)
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_every_problem_is_named_not_just_the_first() -> None:
    text = PACKAGED.replace('fallback_for = ["parking"]\n', "").replace('fallback_for = ["tax"]\n', "")
    with pytest.raises(DirectoryError) as refused:
        parse_directory(text)
    assert {"parking", "tax"} <= {
        r for r in DISTRICT_ROLES if any(f"'{r}'" in p for p in refused.value.problems)
    }


# ---------------------------------------------------------------------- publication
@pytest.fixture
def store() -> DirectoryStore:
    return DirectoryStore(RouterApplication(env=RouterSettings.in_memory_env()))


def test_a_packaged_edition_is_published_once_and_a_later_publication_stays_in_force(
    store: DirectoryStore,
) -> None:
    package = packaged_directory()
    first = store.publish(package, source="package", packaged=True)
    assert (first.version, first.recorded) == (1, True)
    assert store.publish(package, source="package", packaged=True).recorded is False  # a restart

    hotfix = parse_directory(edition("hotfix"))
    assert store.publish(hotfix, source="file:hotfix.toml") == type(first)(2, hotfix.content_hash, True)
    # Routers restarting with the same package (or an old replica mid-deploy) keep the hotfix.
    assert store.publish(package, source="package", packaged=True).recorded is False
    current = store.current()
    assert current is not None and current.version == 2 and current.directory.edition == "hotfix"
    assert current.source == "file:hotfix.toml"
    # A new package (a deploy with new data) is published; publishing it again changes nothing.
    deployed = parse_directory(edition("2026-12-01.1"))
    assert store.publish(deployed, source="package", packaged=True).version == 3
    assert store.publish(deployed, source="file:same.toml").recorded is False
    # A run-time publication of an older content is a rollback: recorded.
    assert store.publish(hotfix, source="file:hotfix.toml").version == 4


def test_versions_have_no_gaps_whoever_publishes_at_once(store: DirectoryStore) -> None:
    editions = [parse_directory(edition(f"concurrent-{i}")) for i in range(6)]
    together = threading.Barrier(len(editions))

    failures: list[BaseException] = []

    def publish(directory: Directory) -> None:
        together.wait()
        try:
            store.publish(directory, source="test")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=publish, args=(d,)) for d in editions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and store.latest_version() == 6
    recorded = {store.read(v).edition for v in range(1, 7)}  # type: ignore[union-attr]
    assert recorded == {d.edition for d in editions}
    assert store.read(7) is None


def test_latest_version_finds_the_head_from_any_known_version(store: DirectoryStore) -> None:
    for i in range(11):
        store.publish(parse_directory(edition(f"e{i}")), source="test")
    assert [store.latest_version(k) for k in (0, 1, 5, 10, 11)] == [11] * 5


async def test_a_running_router_takes_up_a_new_version_within_the_poll_interval(
    store: DirectoryStore,
) -> None:
    live = LiveDirectory(store, package=packaged_directory(), poll_interval_s=0.05)
    assert live.published is None and live.current is packaged_directory()
    await live.start()
    try:
        assert live.published is not None and live.published.version == 1
        store.publish(parse_directory(edition("live")), source="file:live.toml")
        started = time.monotonic()
        while live.current.edition != "live":
            assert time.monotonic() - started < 2, "not taken up"
            await asyncio.sleep(0.01)
        assert live.published.version == 2
    finally:
        await live.stop()


def test_a_poll_that_finds_nothing_new_reads_no_version(store: DirectoryStore) -> None:
    live = LiveDirectory(store, package=packaged_directory(), poll_interval_s=1)
    assert live.sync() is True and live.published is not None
    reads: list[int] = []
    read = store.read

    def counted(version: int) -> DirectoryVersion.Published | None:
        reads.append(version)
        return read(version)

    store.read = counted  # type: ignore[method-assign]
    assert [live.sync() for _ in range(3)] == [False] * 3
    assert reads == []  # the version in force is not read and validated again
    store.publish(parse_directory(edition("next")), source="file:next.toml")
    reads.clear()  # publishing read the head
    assert live.sync() is True and live.current.edition == "next" and reads == [2]


async def test_a_version_this_code_cannot_use_leaves_the_current_one_in_force(store: DirectoryStore) -> None:
    live = LiveDirectory(store, package=packaged_directory(), poll_interval_s=0.05)
    await live.start()
    try:
        # Recorded by a router whose taxonomy had no subway office (or some other code).
        broken = tuple(o for o in packaged_directory().offices if o.code != "seoul.metro")
        store.application.save(
            DirectoryVersion.publish(
                version=2,
                content_hash="x" * 64,
                edition="broken",
                source="test",
                published_hashes=(),
                offices=broken,
            )
        )
        await asyncio.sleep(0.3)
        assert live.published is not None and live.published.version == 1
        assert live.current.office_for("subway", None).code == "seoul.metro"
    finally:
        await live.stop()


async def test_the_packaged_edition_serves_while_the_store_cannot_be_read() -> None:
    class Down(DirectoryStore):
        def latest_version(self, known: int = 0) -> int:
            raise ConnectionError("database down")

    live = LiveDirectory(
        Down(RouterApplication(env=RouterSettings.in_memory_env())),
        package=packaged_directory(),
        poll_interval_s=0.05,
    )
    await live.start()
    try:
        assert live.published is None and live.current is packaged_directory()
    finally:
        await live.stop()


# ---------------------------------------------------------------------- the API and the CLI
def test_the_directory_api_answers_the_version_in_force_and_filters(store: DirectoryStore) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(directory_api.router)
    app.state.directory = live = LiveDirectory(store, package=packaged_directory(), poll_interval_s=1)
    with TestClient(app) as http:
        before = http.get("/api/v1/directory").json()
        assert (
            before["version"] is None and before["edition"] == "2026-11-22.1" and len(before["offices"]) > 600
        )
        live.sync()
        answer = http.get("/api/v1/directory", params={"district": "gangnam"}).json()
        assert answer["version"] == 1 and answer["content_hash"] == packaged_directory().content_hash
        assert len(answer["offices"]) == 1 + len(DISTRICT_ROLES)
        parking = next(o for o in answer["offices"] if o["code"] == "district.gangnam.parking")
        assert parking["ko"] == "강남구 주차관리과" and "illegal_parking" in parking["subjects"]
        external = http.get("/api/v1/directory", params={"level": "external"}).json()["offices"]
        assert {o["level"] for o in external} == {"external"} and len(external) >= 24
        bad = http.get("/api/v1/directory", params={"district": "busan"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_directory_check_validates_a_file_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(PACKAGED, encoding="utf-8")
    bad.write_text(PACKAGED.replace('fallback_for = ["parking"]\n', ""), encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["directory", "check", str(good)])
    assert done.value.code == 0 and f"sha256 {packaged_directory().content_hash}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["directory", "check", str(bad)])
    assert done.value.code == 1 and "no city office takes 'parking'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["directory", "check", str(tmp_path / "missing.toml")])
    assert done.value.code == 1 and "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["directory", "publish"])
    assert done.value.code == 2


def test_loading_the_packaged_directory_is_fast() -> None:
    started = time.perf_counter()
    parse_directory(PACKAGED)
    elapsed = time.perf_counter() - started
    print(f"directory parse + validation: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0


def test_two_stored_types_of_the_same_name_are_refused() -> None:
    """Values are stored tagged by class name: the directory's office is `DirectoryOffice` so
    that it can never be read back as the events' `Office` (or the other way round)."""
    from pydantic import BaseModel

    class Office(BaseModel):
        code: str

    class Clashing(RouterApplication):
        transcoded_types = (Office,)

    with pytest.raises(TypeError, match="both stored as 'model:Office'"):
        Clashing(env=RouterSettings.in_memory_env())
