"""The organisation directory (조직 디렉터리): every office a complaint can be assigned or
transferred to, and which office takes which subject where.

The directory is data (`data/organisation.toml`, versioned with the code) and is recorded in
the router's event store when published (`directory_store.py`), so that a new edition takes
effect without a redeploy. A `Directory` is immutable once built: one instance is shared by
every thread that reads it, and a new edition is a new instance.

Who takes a subject (`office_for`), following the shared taxonomy (`eungdapso_schemas.subjects`):
- a district subject (`level = district`) goes to the division with the subject's role in the
  district office of the place (`district.gangnam.parking`); with no district known, to the
  city office that takes that role as a fallback (`fallback_for`: illegal parking "somewhere"
  goes to the city's 주차계획과, which finds the district and passes it on);
- any other subject goes to the office whose code is the subject's role (`seoul.metro`), or,
  when that office is divided into area offices (`serves`), to the area office of the district.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache, cached_property
from importlib.resources import files
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from eungdapso_router.placenames import compact
from eungdapso_schemas.codes import District, OfficeLevel
from eungdapso_schemas.events import Office as AssignedOffice
from eungdapso_schemas.events import OfficeCode
from eungdapso_schemas.subjects import SUBJECTS, subject

__all__ = [
    "DISTRICT_ROLES",
    "TRIAGE",
    "Directory",
    "DirectoryError",
    "DirectoryOffice",
    "packaged_directory",
    "parse_directory",
]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,40}$")]

#: The division roles inside a district office that the taxonomy's district subjects name.
DISTRICT_ROLES: tuple[str, ...] = tuple(sorted({s.role for s in SUBJECTS if s.level is OfficeLevel.DISTRICT}))
#: The Eung-Dap-So triage desk: where a person decides when the router cannot.
TRIAGE = "seoul.eungdapso_triage"


class DirectoryError(ValueError):
    """A directory that cannot be used, with every problem found (not just the first)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class DirectoryOffice(BaseModel):
    """One office of the directory, as recorded when the directory is published. (Its name is
    stored with the events, as `model:DirectoryOffice`: keep it. `eungdapso_schemas.events.Office`
    is the office as events name it: `ref`.)"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: OfficeCode
    ko: Name
    en: Name
    level: OfficeLevel
    #: The district of a district office (its divisions included).
    district: District | None = None
    parent: OfficeCode | None = None
    #: District division roles: the division's own role in a district office; for a city
    #: office, the roles it takes when a complaint names no district (`fallback_for`).
    roles: tuple[Role, ...] = ()
    #: Districts an area office covers (a road office): subjects of its parent go to it there.
    serves: tuple[District, ...] = ()
    aliases: tuple[Name, ...] = ()
    #: A neighbouring local government (complaints about places there are transferred to it).
    local_government: bool = False
    #: The district's real division name is not known: the role's generic name stands in.
    generic_name: bool = False

    @property
    def ref(self) -> AssignedOffice:
        """The office as events name it (`ComplaintAssigned.office`)."""
        return AssignedOffice(code=self.code, name=self.ko, level=self.level)


class Directory:
    """An edition of the organisation directory, validated and indexed for lookups."""

    def __init__(self, offices: Iterable[DirectoryOffice], *, edition: str) -> None:
        self.edition = edition
        self.offices: tuple[DirectoryOffice, ...] = tuple(sorted(offices, key=lambda o: o.code))
        self._by_code = {o.code: o for o in self.offices}
        self._district_division: dict[tuple[District, str], DirectoryOffice] = {}
        self._fallback: dict[str, DirectoryOffice] = {}
        self._areas: dict[str, dict[District, DirectoryOffice]] = {}
        self._neighbours: dict[str, DirectoryOffice] = {}
        problems = self._index()
        problems += self._check_subjects()
        if problems:
            raise DirectoryError(problems)
        self.content_hash = content_hash(edition, self.offices)
        self._subjects = self._subjects_by_office()

    # ------------------------------------------------------------------ lookups
    def office(self, code: str) -> DirectoryOffice:
        try:
            return self._by_code[code]
        except KeyError:
            raise LookupError(f"no office {code!r} in directory edition {self.edition}") from None

    def office_for(self, subject_code: str, district: District | None) -> DirectoryOffice:
        """The office that takes `subject_code` for a place in `district` (None: unknown place).
        Raises LookupError for a subject the taxonomy does not have."""
        s = subject(subject_code)
        if s.level is OfficeLevel.DISTRICT:
            if district is None:
                return self._fallback[s.role]
            return self._district_division[(district, s.role)]
        office = self._by_code[s.role]
        if district is not None and (area := self._areas.get(office.code, {}).get(district)) is not None:
            return area
        return office

    def district_division(self, district: District, role: str) -> DirectoryOffice:
        try:
            return self._district_division[(district, role)]
        except KeyError:
            raise LookupError(f"no {role!r} division in {district.value}") from None

    def neighbour(self, name: str) -> DirectoryOffice:
        """The local government around Seoul called `name` ("성남", "성남시", "경기도 성남시
        분당구", "Seongnam", "ext.seongnam"): the most specific part of the name that is known.
        Raises LookupError when no part is."""
        parts = [p for p in re.split(r"[\s,]+", name.strip()) if p]
        for part in reversed(parts or [name]):
            found = self._neighbours.get(compact(part))
            if found is not None:
                return found
        raise LookupError(f"no neighbouring government called {name!r}")

    @property
    def triage(self) -> DirectoryOffice:
        return self._by_code[TRIAGE]

    def subjects_of(self, code: str) -> tuple[str, ...]:
        """The subject codes an office takes (as a district division: in its own district)."""
        return self._subjects.get(code, ())

    def as_json(self) -> list[dict[str, Any]]:
        """The offices as JSON values, each with the subjects it takes (built once: read-only)."""
        return self._json

    @cached_property
    def _json(self) -> list[dict[str, Any]]:
        return [
            {**o.model_dump(mode="json"), "subjects": list(self.subjects_of(o.code))} for o in self.offices
        ]

    # ------------------------------------------------------------------ validation
    def _index(self) -> list[str]:
        problems: list[str] = []
        twice = sorted(code for code, n in Counter(o.code for o in self.offices).items() if n > 1)
        if twice:
            problems.append(f"office codes appear twice: {', '.join(twice)}")
        for o in self.offices:
            problems += self._index_office(o)
        for role in DISTRICT_ROLES:
            if role not in self._fallback:
                problems.append(f"no city office takes {role!r} when no district is known (fallback_for)")
            for d in District:
                if (d, role) not in self._district_division:
                    problems.append(f"district {d.value} has no {role!r} division")
        if TRIAGE not in self._by_code:
            problems.append(f"the triage desk {TRIAGE!r} is missing")
        return problems

    def _index_office(self, o: DirectoryOffice) -> list[str]:
        problems: list[str] = []
        if o.parent is not None and o.parent not in self._by_code:
            problems.append(f"{o.code}: parent {o.parent!r} is not in the directory")
        elif self._cycle(o):
            problems.append(f"{o.code}: its parents lead back to it")
        if o.district is not None:
            if o.level is not OfficeLevel.DISTRICT:
                problems.append(f"{o.code}: only a district office has a district")
            for role in o.roles:
                if self._district_division.setdefault((o.district, role), o) is not o:
                    problems.append(f"{o.district.value} has two {role!r} divisions")
        else:
            for role in o.roles:
                if self._fallback.setdefault(role, o) is not o:
                    problems.append(f"two city offices take {role!r} as a fallback")
        if o.serves:
            if o.parent is None:
                problems.append(f"{o.code}: an area office (serves) needs the parent it stands in for")
            areas = self._areas.setdefault(o.parent or "", {})
            for d in o.serves:
                if areas.setdefault(d, o) is not o:
                    problems.append(f"{d.value} is served by two offices of {o.parent}")
        if o.local_government:
            for key in {compact(n) for n in (o.code, o.ko, o.en, o.ko.removesuffix("시"), *o.aliases)}:
                if self._neighbours.setdefault(key, o) is not o:
                    problems.append(f"{key!r} names two neighbouring governments")
        return problems

    def _cycle(self, o: DirectoryOffice) -> bool:
        seen = {o.code}
        parent = o.parent
        while parent is not None and parent in self._by_code:
            if parent in seen:
                return True
            seen.add(parent)
            parent = self._by_code[parent].parent
        return False

    def _check_subjects(self) -> list[str]:
        problems = []
        for s in SUBJECTS:
            if s.level is OfficeLevel.DISTRICT:
                continue  # checked for every district above
            office = self._by_code.get(s.role)
            if office is None:
                problems.append(f"subject {s.code!r}: no office {s.role!r}")
            elif office.level is not s.level:
                problems.append(
                    f"subject {s.code!r}: {s.role} is {office.level.value}, the taxonomy says {s.level.value}"
                )
        return problems

    def _subjects_by_office(self) -> dict[str, tuple[str, ...]]:
        taken: dict[str, list[str]] = {}
        for s in SUBJECTS:
            if s.level is OfficeLevel.DISTRICT:
                targets = [self._fallback[s.role].code] + [
                    self._district_division[(d, s.role)].code for d in District
                ]
            else:
                targets = [s.role, *(o.code for o in self._areas.get(s.role, {}).values())]
            for code in dict.fromkeys(targets):
                taken.setdefault(code, []).append(s.code)
        return {code: tuple(codes) for code, codes in taken.items()}


def content_hash(edition: str, offices: Iterable[DirectoryOffice]) -> str:
    """SHA-256 of the directory's canonical JSON: the same content has the same hash."""
    document = {"edition": edition, "offices": [o.model_dump(mode="json") for o in offices]}
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- the file
class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OfficeEntry(_Strict):
    code: OfficeCode
    ko: Name
    en: Name
    level: OfficeLevel
    parent: OfficeCode | None = None
    fallback_for: tuple[Role, ...] = ()
    serves: tuple[District, ...] = ()
    aliases: tuple[Name, ...] = ()
    local_government: bool = False


class _RoleNames(_Strict):
    ko: Name
    en: Name


class _DistrictEntry(_Strict):
    code: District
    ko: Name
    en: Name
    #: role -> the district's real division name, where known.
    names: dict[Role, Name] = {}


class _Document(_Strict):
    edition: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    office: list[_OfficeEntry]
    district_roles: dict[Role, _RoleNames]
    district: list[_DistrictEntry]


def parse_directory(text: str) -> Directory:
    """A directory from the text of an organisation file (TOML, or JSON of the same shape).
    Raises DirectoryError saying what is wrong."""
    try:
        raw: Any = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise DirectoryError([f"not a TOML or JSON document: {exc}"]) from None
    try:
        document = _Document.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(
            f"{'.'.join(str(part) for part in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()
        ) from None
    return Directory(_expand(document), edition=document.edition)


def _expand(document: _Document) -> list[DirectoryOffice]:
    """The offices the file describes: its own, and each district office with one division
    per role."""
    offices = [
        DirectoryOffice(
            code=e.code,
            ko=e.ko,
            en=e.en,
            level=e.level,
            parent=e.parent,
            roles=e.fallback_for,
            serves=e.serves,
            aliases=e.aliases,
            local_government=e.local_government,
        )
        for e in document.office
    ]
    problems = [
        f"district_roles lacks {role!r}" for role in DISTRICT_ROLES if role not in document.district_roles
    ]
    problems += [
        f"district {d.code.value}: names a division for {role!r}, which is not in district_roles"
        for d in document.district
        for role in d.names
        if role not in document.district_roles
    ]
    if problems:
        raise DirectoryError(problems)
    for d in document.district:
        district_code = f"district.{d.code.value}"
        gu = d.ko.removesuffix("청")  # 강남구청 -> 강남구
        gu_en = d.en.removesuffix(" Office")
        offices.append(
            DirectoryOffice(
                code=district_code, ko=d.ko, en=d.en, level=OfficeLevel.DISTRICT, district=d.code, parent=None
            )
        )
        for role, generic in document.district_roles.items():
            real = d.names.get(role)
            ko = real if real is not None and real.startswith(gu) else f"{gu} {real or generic.ko}"
            offices.append(
                DirectoryOffice(
                    code=f"{district_code}.{role}",
                    ko=ko,
                    en=f"{gu_en} {generic.en}",
                    level=OfficeLevel.DISTRICT,
                    district=d.code,
                    parent=district_code,
                    roles=(role,),
                    generic_name=real is None,
                )
            )
    return offices


def directory_from_records(
    records: Iterable[DirectoryOffice | Mapping[str, Any]], *, edition: str
) -> Directory:
    """A directory from recorded offices (a published event's)."""
    return Directory(
        (r if isinstance(r, DirectoryOffice) else DirectoryOffice.model_validate(r) for r in records),
        edition=edition,
    )


@cache
def packaged_directory() -> Directory:
    """The edition packaged with this router (`data/organisation.toml`), parsed once."""
    return parse_directory(files("eungdapso_router").joinpath("data/organisation.toml").read_text("utf-8"))
