"""Interface language: Simplified Chinese by default, English on request.

Strings live in ``translations/<area>.<lang>.json`` (one file per area of the app, merged);
each area's zh and en files have the same keys (a test checks). The language comes from
``?lang=``, then the ``lang`` cookie, then the ``DEFAULT_LANG`` setting.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request

LANGS = ("zh", "en")
_DIR = Path(__file__).with_name("translations")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of ``lang``, merged from every area's file."""
    merged: dict[str, str] = {}
    for path in sorted(_DIR.glob(f"*.{lang}.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def current_lang() -> str:
    """The language of the current request."""
    lang = getattr(g, "lang", None)
    if lang:
        return lang
    wanted = request.args.get("lang") or request.cookies.get("lang")
    lang = wanted if wanted in LANGS else current_app.config.get("DEFAULT_LANG", "zh")
    g.lang = lang
    return lang


def translate(key: str, lang: str | None = None, **params: Any) -> str:
    """The text of ``key`` in ``lang`` (default: the request's), with ``params`` filled."""
    lang = lang or current_lang()
    text = catalogue(lang).get(key) or catalogue("zh").get(key) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def format_number(value: Any, lang: str | None = None, decimals: int = 0) -> str:
    """A number with thousands separators (both languages use ``,`` and ``.``)."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if decimals == 0 and number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.{decimals or 2}f}".rstrip("0").rstrip(".")


def format_date(value: Any, lang: str | None = None) -> str:
    """A date as ``2021年8月15日`` (zh) or ``15 Aug 2021`` (en); other text unchanged."""
    lang = lang or current_lang()
    if isinstance(value, str) and len(value) >= 10:
        try:
            day = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    elif isinstance(value, dt.date):
        day = value
    else:
        return "" if value is None else str(value)
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.strftime("%-d %b %Y")


def init_app(app: Flask) -> None:
    """Make ``_``, ``lang``, ``fmt_number`` and ``fmt_date`` available in templates and
    remember a ``?lang=`` choice in a cookie."""

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {
            "_": translate,
            "lang": current_lang(),
            "fmt_number": format_number,
            "fmt_date": format_date,
            "LANGS": LANGS,
        }

    @app.after_request
    def _remember(response: Any) -> Any:
        wanted = request.args.get("lang")
        if wanted in LANGS and request.cookies.get("lang") != wanted:
            response.set_cookie(
                "lang", wanted, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response
