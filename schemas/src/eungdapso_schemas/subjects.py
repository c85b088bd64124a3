"""The subjects complaints are about (민원 유형): one taxonomy for the router (classification
and assignment), Open311's service list, the SLA periods and the statistics.

The data lives in `data/subjects.toml` (versioned with the code); codes are stable and never
reused. `level` and `role` say who normally handles a subject: for `district` subjects the
role is a division role inside the district office of the place (`roads`, `parking`, ...);
otherwise it is the code of the office itself.

Events and commands carry a subject by its code (`SubjectCode`): bounded by a pattern every
reader can check (JSON Schema), and refused when the taxonomy does not know it. A new code
is known to a service only once it runs the taxonomy version that adds it: deploy the
consumers of `complaint.received` before the channels that let citizens choose it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic import Field as PydanticField

from eungdapso_schemas.codes import Field, OfficeLevel

SUBJECT_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,59}$"


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
    if any(re.fullmatch(SUBJECT_CODE_PATTERN, code) is None for code in codes):
        raise RuntimeError(f"a subject code in subjects.toml does not match {SUBJECT_CODE_PATTERN}")
    return int(data["version"]), subjects


TAXONOMY_VERSION, SUBJECTS = _load()
_BY_CODE = {s.code: s for s in SUBJECTS}


def subject(code: str) -> Subject:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise LookupError(f"no subject {code!r} in the taxonomy") from None


def _known(code: str) -> str:
    if code not in _BY_CODE:
        raise ValueError(f"{code!r} is not a subject of the taxonomy (version {TAXONOMY_VERSION})")
    return code


#: A subject's code (`pothole`, `illegal_parking`, ...): one the taxonomy knows.
SubjectCode = Annotated[
    str,
    StringConstraints(pattern=SUBJECT_CODE_PATTERN),
    AfterValidator(_known),
    PydanticField(
        description="민원 유형: a code of the subject taxonomy (eungdapso_schemas/data/subjects.toml)"
    ),
]
