"""`POST requests`: a GeoReport v2 form, as clients send it, turned into the one intake
command (`ReceiveComplaint`).

What the form may carry (the spec, and what FixMyStreet and SeeClickFix-style clients
send): `service_code`; a location (`lat` and `long`, or `address_string`, or
`address_id`); `attribute[CODE]=value` (and `attribute[CODE][]=value`); `description`;
`media_url` (repeated by clients that send several photos); the citizen's `first_name`,
`last_name`, `email`, `phone`; `device_id` (`deviceid`) and `account_id`. An empty value is
no value (the spec's "optional argument" rule).

The service a client chose is recorded as the complaint's subject (a field's service: its
field only); the citizen's description is the complaint's text, as written. The spec lets a
request come without one (a street light out at a place says it all): the text is then the
service's name, since a complaint always has a text.

Personal data goes where the web form's goes (`citizen`, `reply_to`): never into a log or a
public answer. `device_id` and `account_id` are accepted and not kept: nobody can answer
the citizen through them, so keeping them would only be keeping a tracking id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from starlette.datastructures import FormData

from eungdapso_intake.open311 import catalogue
from eungdapso_intake.open311.errors import Invalid
from eungdapso_intake.services import ReceiveComplaint, reply_address_of
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Disclosure, Kind, Language
from eungdapso_schemas.events import MAX_ATTACHMENTS, AttachmentRef, Citizen, Place

#: The spec's limit on `description` (and `ReceiveComplaint.text`'s).
MAX_DESCRIPTION = 4000
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass
class Open311Submission:
    """What the form asks for, before its photos are fetched."""

    service: catalogue.Service
    text: str
    kind: Kind
    language: Language
    disclosure: Disclosure
    place: Place
    citizen: Citizen | None
    media_urls: tuple[str, ...]
    #: Things to tell the client in `service_notice` (attributes ignored, photos missing).
    notes: list[str] = field(default_factory=list)

    def command(self, *, client: str, attachments: tuple[AttachmentRef, ...]) -> ReceiveComplaint:
        return ReceiveComplaint(
            text=self.text,
            kind=self.kind,
            field=self.service.field,
            subject=self.service.subject,
            language=self.language,
            place=self.place,
            disclosure=self.disclosure,
            # Open311 clients are citizens' apps and sites; which one is `registered_by`.
            channel=Channel.APP,
            citizen=self.citizen,
            reply_to=reply_address_of(self.citizen),
            registered_by=f"open311:{client}",
            attachments=attachments,
        )


def value(form: FormData, name: str) -> str | None:
    """The parameter's value, or None when absent or empty; a file where text belongs is bad."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid([(name, "must be a text value, not a file")])
    return value.strip() or None


def parse(form: FormData) -> Open311Submission:
    """The submission the form describes; `Invalid` (400) naming every bad parameter, or a
    404 for a service that does not exist."""
    errors: list[tuple[str, str]] = []
    code = value(form, "service_code")
    if code is None:
        raise Invalid([("service_code", "is required (GET services lists the codes)")])
    service = catalogue.service(code)
    if service is None:
        raise Problem(
            404, "Service not found", f"service_code {code!r} not found: GET services lists the codes."
        )

    attributes, notes = _attributes(form, service, errors)
    place = _place(form, errors)
    citizen = _citizen(form, errors)
    description = value(form, "description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(("description", f"at most {MAX_DESCRIPTION} characters"))
    media_urls = tuple(u.strip() for u in form.getlist("media_url") if isinstance(u, str) and u.strip())
    if len(media_urls) > MAX_ATTACHMENTS:
        errors.append(("media_url", f"at most {MAX_ATTACHMENTS}"))
    for url in media_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
            errors.append(("media_url", "must be an http or https URL (at most 2000 characters)"))
            break
    if errors or place is None:
        raise Invalid(errors)
    return Open311Submission(
        service=service,
        text=description or service.name,
        kind=Kind(attributes["kind"]),
        language=Language(attributes["language"]),
        disclosure=Disclosure(attributes["disclosure"]),
        place=place,
        citizen=citizen,
        media_urls=media_urls,
        notes=notes,
    )


def _attributes(
    form: FormData, service: catalogue.Service, errors: list[tuple[str, str]]
) -> tuple[dict[str, str], list[str]]:
    given: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        match = _ATTRIBUTE.match(name)
        if match is not None and isinstance(value, str) and value.strip():
            given.setdefault(match.group(1), []).append(value.strip())
    chosen: dict[str, str] = {}
    for attribute in service.attributes():
        values = given.pop(attribute.code, [])
        parameter = f"attribute[{attribute.code}]"
        if not values:
            if attribute.required:
                errors.append((parameter, "is required"))
            elif attribute.default is not None:
                chosen[attribute.code] = attribute.default
            continue
        keys = [key for key, _ in attribute.values]
        if len(values) > 1:
            errors.append((parameter, "takes one value"))
        elif values[0] not in keys:
            errors.append((parameter, f"must be one of {', '.join(keys)}"))
        else:
            chosen[attribute.code] = values[0]
    # Clients send attributes of their own (FixMyStreet: `attribute[uprn]`, a report's
    # title...): ignored rather than refused, and said so.
    notes = (
        [f"알 수 없는 속성은 무시했습니다 (Ignored unknown attributes): {', '.join(sorted(given))}."]
        if given
        else []
    )
    return chosen, notes


def _place(form: FormData, errors: list[tuple[str, str]]) -> Place | None:
    lat, lon = value(form, "lat"), value(form, "long")
    address = value(form, "address_string")
    address_id = value(form, "address_id")
    if lat is None and lon is None and address is None and address_id is None:
        errors.append(("location", "required: lat and long, or address_string, or address_id"))
        return None
    if (lat is None) != (lon is None):
        errors.append(("lat" if lat is None else "long", "lat and long go together"))
        return None
    if address is None and address_id is not None:
        # The city's address register id (e.g. a road-name address number), kept as given.
        address = f"address_id {address_id}"
    values: dict[str, Any] = {"address": address}
    for name, text in (("lat", lat), ("lon", lon)):
        if text is not None:
            try:
                values[name] = float(text)
            except ValueError:
                errors.append(("long" if name == "lon" else name, "must be a number (WGS84 degrees)"))
                return None
    try:
        return Place(**values)
    except ValidationError as exc:
        for error in exc.errors():
            name = {"lon": "long", "address": "address_string"}.get(
                str(error["loc"][0]), str(error["loc"][0])
            )
            where = "inside Korea (WGS84)" if name in ("lat", "long") else "at most 300 characters"
            errors.append((name, f"must be {where}"))
        return None


def full_name(first: str | None, last: str | None) -> str | None:
    """Open311's given and family names as one name: family name first in Korean (홍 + 길동
    → 홍길동), given name first otherwise."""
    if first is None or last is None:
        return first or last
    if _HANGUL.search(first + last):
        return f"{last}{first}"
    return f"{first} {last}"


def _citizen(form: FormData, errors: list[tuple[str, str]]) -> Citizen | None:
    name = full_name(value(form, "first_name"), value(form, "last_name"))
    phone = value(form, "phone")
    if phone is not None:
        # (02) 123-4567 and 010.1234.5678 are phone numbers too.
        phone = re.sub(r"\s+", " ", re.sub(r"[().]", " ", phone)).strip()
    email = value(form, "email")
    if name is None and phone is None and email is None:
        return None
    try:
        return Citizen(name=name, phone=phone, email=email)
    except ValidationError as exc:
        messages = {
            "name": "at most 200 characters",
            "phone": "is not a phone number",
            "email": "is not an e-mail address",
        }
        for error in exc.errors():
            name_ = str(error["loc"][0])
            errors.append(({"name": "first_name"}.get(name_, name_), messages.get(name_, "is invalid")))
        return None
