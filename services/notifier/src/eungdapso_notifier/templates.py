"""The notices' words in six languages (data/templates.toml), chosen by the complaint's
language (or the citizen's preference), with moments rendered in Asia/Seoul for the reader
and office names in Korean, with the English name where the office code says it."""

from __future__ import annotations

import html
import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from eungdapso_notifier.channels import SEOUL
from eungdapso_schemas.codes import District, Language

#: Media where a long answer is cut to a summary and a link to the whole answer.
SHORT_MEDIA: frozenset[str] = frozenset({"sms", "x", "facebook"})
SUMMARY_CHARS = 200


@dataclass(frozen=True)
class Facts:
    """What a notice says (personal: the answer; never logged)."""

    receipt_no: str
    follow_link: str
    office: str = ""
    due: datetime | None = None
    new_due: datetime | None = None
    reason: str = ""
    to_office: str = ""
    answer: str = ""
    rating_link: str | None = None
    duplicate_of: str | None = None
    score: int | None = None


@dataclass(frozen=True)
class Rendered:
    language: Language
    subject: str
    text: str
    html: str | None = None


class Templates:
    def __init__(self, data: dict[str, Any]) -> None:
        missing = [
            f"{lang.value}.{stage}" for lang in Language for stage in _CITIZEN if stage not in data[lang]
        ]
        missing += [f"ko.{stage}" for stage in _OFFICE if stage not in data["ko"]]
        if missing:
            raise ValueError(f"templates missing: {', '.join(missing)}")
        self.data = data

    @classmethod
    def packaged(cls) -> Templates:
        text = resources.files("eungdapso_notifier").joinpath("data/templates.toml").read_text("utf-8")
        return cls(tomllib.loads(text))

    def moment(self, at: datetime, language: Language) -> str:
        """A moment as the reader writes it, in Seoul time (the deadlines are Seoul's)."""
        local = at.astimezone(SEOUL)
        lang = self.data[language.value]
        months = lang.get("months")
        fields = {
            "y": local.year,
            "m": local.month,
            "d": local.day,
            "wd": lang["weekdays"][local.weekday()],
            "mon": months[local.month - 1] if months else local.month,
            "H": f"{local.hour:02d}",
            "M": f"{local.minute:02d}",
        }
        return str(lang["date"]).format(**fields)

    def render(self, stage: str, language: Language, facts: Facts, medium: str) -> Rendered:
        if stage.startswith("office_"):
            language = Language.KO  # the city's own staff
        lang = self.data[language.value]
        template = lang[stage]
        answer = facts.answer
        if medium in SHORT_MEDIA and len(answer) > SUMMARY_CHARS:
            # A text message or a post carries a summary; the whole answer is on the page.
            answer = (
                answer[:SUMMARY_CHARS].rstrip() + "… " + lang["full_answer"].format(link=facts.follow_link)
            )
        values = {
            "receipt_no": facts.receipt_no,
            "follow_link": facts.follow_link,
            "office": facts.office,
            "due": self.moment(facts.due, language) if facts.due else "",
            "new_due": self.moment(facts.new_due, language) if facts.new_due else "",
            "reason": facts.reason,
            "to_office": facts.to_office,
            "answer": answer,
            "rating_line": lang["rating_line"].format(link=facts.rating_link) if facts.rating_link else "",
            "duplicate_line": (
                lang["duplicate_line"].format(duplicate_of=facts.duplicate_of) if facts.duplicate_of else ""
            ),
            "score": facts.score if facts.score is not None else "",
        }
        text = "\n".join(line.strip() for line in str(template["text"]).format(**values).splitlines())
        text = text.strip().replace("\n\n", "\n")
        subject = str(template["subject"]).format(**values)
        body = None
        if medium == "email":
            body = "<p>" + "<br>".join(html.escape(line) for line in text.splitlines()) + "</p>"
        return Rendered(language=language, subject=subject, text=text, html=body)


def office_label(code: str | None, name: str | None, language: Language) -> str:
    """The office as the reader knows it: its Korean name; for readers of other languages
    with the English name of the district or the city the code names."""
    korean = name or code or ""
    if language is Language.KO or code is None:
        return korean
    english = _english(code)
    return f"{korean} ({english})" if english else korean


def _english(code: str) -> str | None:
    parts = code.split(".")
    if parts[0] == "district" and len(parts) > 1 and parts[1] in District.__members__.values():
        return f"{parts[1].capitalize()}-gu Office"
    if parts[0] == "seoul":
        return "Seoul Metropolitan Government"
    return None


_CITIZEN = ("received", "assigned", "extended", "transferred", "answered", "rating_invited")
_OFFICE = ("office_new_case", "office_deadline_warning", "office_breach", "office_low_rating")
