"""The subjects complaints are about (민원 유형): one taxonomy for the router (classification
and assignment), Open311's service list, the SLA periods and the statistics.

The data lives in `data/subjects.toml` (versioned with the code); codes are stable and never
reused. `level` and `role` say who normally handles a subject: for `district` subjects the
role is a division role inside the district office of the place (`roads`, `parking`, ...);
otherwise it is the code of the office itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files

from eungdapso_schemas.codes import Field, OfficeLevel


@dataclass(frozen=True)
class Subject:
    code: str
    ko: str
    en: str
    field: Field
    level: OfficeLevel
    role: str
    keywords: tuple[str, ...]


def _load() -> tuple[int, tuple[Subject, ...]]:
    data = tomllib.loads(files("eungdapso_schemas").joinpath("data/subjects.toml").read_text("utf-8"))
    subjects = tuple(
        Subject(
            code=s["code"],
            ko=s["ko"],
            en=s["en"],
            field=Field(s["field"]),
            level=OfficeLevel(s["level"]),
            role=s["role"],
            keywords=tuple(s["keywords"]),
        )
        for s in data["subject"]
    )
    codes = [s.code for s in subjects]
    if len(codes) != len(set(codes)):
        raise RuntimeError("a subject code appears twice in subjects.toml")
    return int(data["version"]), subjects


TAXONOMY_VERSION, SUBJECTS = _load()
_BY_CODE = {s.code: s for s in SUBJECTS}


def subject(code: str) -> Subject:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise LookupError(f"no subject {code!r} in the taxonomy") from None
