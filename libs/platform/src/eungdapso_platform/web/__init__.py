"""Server-rendered pages, written once for every service that serves some (the publisher's
citizen pages and live board, casework's staff pages).

Pages are Jinja2 templates over a base layout, in Korean or English: `?lang=` wins, then a
`lang` cookie (set when the reader switches), then `Accept-Language`, then Korean. The
strings live in `messages.toml` beside the templates, one table per language, so a reader
of one service's pages knows every service's. Static assets, the vendored libraries among
them, are served under `/static/` (by the publisher; the Ingress sends `/static/` there) and
nothing is loaded from another host: the pages send a Content-Security-Policy that says so.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")
#: Only this origin: scripts, styles, images (the map's own tiles are none: it draws the
#: district boundaries), and connections (the APIs, the feed).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
STATIC_DIR = Path(str(files("eungdapso_platform.web") / "static"))


@cache
def messages() -> Mapping[str, Mapping[str, str]]:
    data = tomllib.loads((files("eungdapso_platform.web") / "messages.toml").read_text(encoding="utf-8"))
    ko, en = data["ko"], data["en"]
    if set(ko) != set(en):
        raise RuntimeError(f"messages.toml: keys only in one language: {sorted(set(ko) ^ set(en))}")
    return data


def language_of(request: Request) -> Lang:
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked in LANGS:
        return "ko" if asked == "ko" else "en"
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.startswith("ko"):
            return "ko"
        if tag.startswith("en"):
            return "en"
    return "ko"


class Pages:
    """One service's pages: its own templates first, then the shared layout."""

    def __init__(self, package: str) -> None:
        self.env = Environment(
            loader=ChoiceLoader(
                [PackageLoader(package, "templates"), PackageLoader("eungdapso_platform.web")]
            ),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = language_of(request)
        text = messages()[lang]
        html = self.env.get_template(template).render(
            lang=lang,
            t=text,
            other_lang="en" if lang == "ko" else "ko",
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Vary"] = "Accept-Language, Cookie"
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax")
        return response
