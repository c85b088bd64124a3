"""The citizen pages render in Korean or English (`?lang=`, then the cookie it sets, then
Accept-Language), with the `lang` attribute, labels for every field, a policy that loads
nothing from another host, and every string in both languages."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from eungdapso_platform.web import CONTENT_SECURITY_POLICY, messages
from eungdapso_publisher import pages

PAGES = ["/", "/file", "/follow/", "/follow/2026-0000001", "/rate", "/board"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(pages.router)
    app.mount("/static", pages.static, name="static")
    return TestClient(app)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_both_languages_with_its_lang_attribute(client: TestClient, path: str) -> None:
    ko = client.get(path, headers={"accept-language": "ko-KR,ko;q=0.9"})
    en = client.get(path, headers={"accept-language": "en-US,en;q=0.8"})
    assert ko.status_code == en.status_code == 200
    assert '<html lang="ko">' in ko.text and '<html lang="en">' in en.text
    assert messages()["ko"]["nav_file"] in ko.text and messages()["en"]["nav_file"] in en.text
    assert messages()["en"]["nav_file"] not in ko.text
    assert ko.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_nothing_is_loaded_from_another_host_and_nothing_inline_breaks_the_policy(
    client: TestClient, path: str
) -> None:
    html = client.get(path).text
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^(https?:)?//", url), url
    assert "style=" not in html  # inline styles are refused by the page's own policy
    assert not re.search(r"<script>(?!\s*$)", html)  # no inline script either


def test_the_chosen_language_sticks_through_a_cookie_and_wins_over_the_browser(client: TestClient) -> None:
    chosen = client.get("/file?lang=en", headers={"accept-language": "ko"})
    assert '<html lang="en">' in chosen.text
    assert chosen.cookies.get("lang") == "en"
    client.cookies.set("lang", "en")
    later = client.get("/file", headers={"accept-language": "ko"})
    client.cookies.clear()
    assert '<html lang="en">' in later.text
    assert '<html lang="ko">' in client.get("/file?lang=xx", headers={"accept-language": "fr"}).text


def test_every_form_field_has_a_label(client: TestClient) -> None:
    html = client.get("/file").text
    ids = set(re.findall(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids and ids <= labelled, ids - labelled
    # radio buttons are labelled by wrapping labels
    assert len(re.findall(r'<label class="choice"><input type="radio"', html)) == 7


def test_the_assets_and_the_district_map_are_served_from_here(client: TestClient) -> None:
    for asset in [
        "/static/site.css",
        "/static/common.js",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/chartjs/chart.umd.min.js",
    ]:
        assert client.get(asset).status_code == 200, asset
    districts = client.get("/static/seoul-districts.geojson").json()
    assert len(districts["features"]) == 25
    assert client.get("/static/../pages.py").status_code == 404


def test_a_malformed_receipt_number_in_the_follow_path_is_refused(client: TestClient) -> None:
    assert client.get("/follow/not-a-receipt").status_code == 422


@pytest.mark.parametrize("path", ["/staff/", "/staff/reviews", "/staff/triage"])
def test_the_staff_pages_render_in_both_languages_and_ask_for_a_key(path: str) -> None:
    from eungdapso_casework import pages as staff_pages

    app = FastAPI()
    app.include_router(staff_pages.router)
    client = TestClient(app)
    ko, en = client.get(path + "?lang=ko"), client.get(path + "?lang=en")
    assert '<html lang="ko">' in ko.text and '<html lang="en">' in en.text
    assert '<label for="key">' in ko.text and 'type="password" id="key"' in ko.text
    assert "style=" not in ko.text
