"""Pages: Jinja2 templates in `web/templates`, in the page's language, with a switch.

A page's language is the one asked for with `?lang=zh|en` (kept in a cookie), else the
engagement's (or, on the portfolio, the viewer's first engagement's). Templates say every text
in both languages through `t("中文", "English")`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import tr

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
LANG_COOKIE = "rentian_lang"
_LANGS = {"zh": "zh-CN", "en": "en"}

env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html", "xml")),
    trim_blocks=True, lstrip_blocks=True,
)  # fmt: skip


def locale_of(request: Request, default: str) -> str:
    """The page's locale: `?lang=`, else the cookie a switch left, else `default`."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return _LANGS.get(asked, default if default in ("zh-CN", "en") else "zh-CN")


def page(
    request: Request, template: str, locale: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render `template` in `locale`; `?lang=` is kept in a cookie for the pages after."""

    def t(zh: str, en: str, **values: Any) -> str:
        return tr(locale, zh, en, **values)

    html = env.get_template(template).render(
        request=request, locale=locale, t=t, lang="en" if locale == "en" else "zh",
        path=request.url.path, **context,
    )  # fmt: skip
    response = HTMLResponse(html, status_code=status_code)
    asked = request.query_params.get("lang")
    if asked in _LANGS:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")  # fmt: skip
    return response
