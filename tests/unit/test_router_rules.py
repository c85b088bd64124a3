from eungdapso_router.rules import DEFAULT, choose_office
from eungdapso_schemas.codes import Field, Kind


def test_field_decides_the_office() -> None:
    office, rule = choose_office(Kind.COMPLAINT, Field.ROADS_TRAFFIC)
    assert (office.code, office.name, rule) == ("seoul.transport", "도시교통실", "field:roads_traffic")


def test_confidential_reports_go_to_investigators_whatever_the_field() -> None:
    assert choose_office(Kind.CORRUPTION_REPORT, Field.ROADS_TRAFFIC)[0].code == "seoul.audit"
    assert choose_office(Kind.HUMAN_RIGHTS, None)[0].code == "seoul.human_rights"


def test_every_field_has_an_office_and_no_field_goes_to_the_desk() -> None:
    for field in Field:
        office, _ = choose_office(Kind.COMPLAINT, field)
        assert office.code.startswith("seoul.")
    assert choose_office(Kind.INQUIRY, None) == (DEFAULT, "default")
