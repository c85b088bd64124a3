"""The subject taxonomy every service shares loads, and every field has subjects."""

from __future__ import annotations

import pytest

from eungdapso_schemas.codes import Field, OfficeLevel
from eungdapso_schemas.subjects import SUBJECTS, subject


def test_every_field_has_subjects_and_codes_are_unique() -> None:
    assert {s.field for s in SUBJECTS} == set(Field)
    assert len({s.code for s in SUBJECTS}) == len(SUBJECTS) >= 40


def test_district_subjects_name_a_division_role_and_others_an_office_code() -> None:
    for s in SUBJECTS:
        if s.level is OfficeLevel.DISTRICT:
            assert "." not in s.role, s.code
        else:
            assert s.role.startswith(("seoul.", "ext.")), s.code


def test_unknown_subject_is_a_clear_error() -> None:
    assert subject("illegal_parking").level is OfficeLevel.DISTRICT
    with pytest.raises(LookupError, match="no subject"):
        subject("ufo_sighting")
