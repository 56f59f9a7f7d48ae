"""Coordinates typed by people: decimal, full-width, decimal comma, D°M'S"."""

from __future__ import annotations

import math
import re
import unicodedata

_DMS = re.compile(r"^(\d+(?:\.\d+)?)°(?:(\d+(?:\.\d+)?)'(?:(\d+(?:\.\d+)?)\")?)?$")
_PLAIN_NUMBER = re.compile(r"\s*-?\d{1,9}(?:\.\d{1,20})?\s*")
_HEMISPHERE = re.compile(r"^(东经|西经|北纬|南纬|[NSEW东西南北])?(.*?)([NSEW东西南北])?$")
#: Degrees, minutes and seconds separated by spaces or colons (``112 46 48.5``,
#: ``112:46:48.5``, ``39 30.25``): whole degrees, then minutes and seconds below 60.
_SEPARATED_DMS = re.compile(
    r"(?<![\d.])(\d{1,3})(?:\s+|\s*:\s*)(\d{1,2}(?:\.\d+)?)"
    r"(?:(?:\s+|\s*:\s*)(\d{1,2}(?:\.\d+)?))?(?![\d.:])"
)


def parse_coordinate(text: str) -> float:
    """A coordinate typed by a person: decimal, full-width, decimal comma or D°M'S".

    Full-width digits and punctuation are folded to ASCII. One comma and no dot is a
    decimal comma (``112,5``); otherwise commas are thousands separators. Degrees,
    minutes, seconds (``°'"``, ``′″``, ``度分秒``, or separated by spaces or colons as GPS
    units and spreadsheets write them: ``112 46 48.5``, ``112:46:48.5``; minutes and
    seconds below 60) and a hemisphere letter or word
    (``N``/``S``/``E``/``W``, ``北纬``…; ``S``/``W``/``南``/``西`` are negative) are understood.

    Raises
    ------
    ValueError
        For anything else, NaN and infinities included.

    Examples
    --------
    >>> parse_coordinate("112.5"), parse_coordinate("１１２．５"), parse_coordinate("112,5")
    (112.5, 112.5, 112.5)
    >>> parse_coordinate("112°48'36\\""), parse_coordinate("北纬36度30分")
    (112.81, 36.5)
    >>> parse_coordinate("112 48 36"), parse_coordinate("112:48:36"), parse_coordinate("N 39 30")
    (112.81, 112.81, 39.5)
    """
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)  # the common case, without the folding below
    s = unicodedata.normalize("NFKC", text).strip().upper()
    s = s.replace("−", "-").replace("′′", '"').replace("″", '"').replace("′", "'")
    s = s.replace("''", '"').replace("度", "°").replace("分", "'").replace("秒", '"')
    if "°" not in s:
        s = _SEPARATED_DMS.sub(_as_dms, s, count=1)
    s = re.sub(r"\s+", "", s)
    match = _HEMISPHERE.match(s)
    if match is None:  # pragma: no cover - the pattern matches any string
        raise ValueError(text)
    prefix, body, suffix = match.groups()
    if prefix and suffix:
        raise ValueError(text)
    sign = -1.0 if (prefix or suffix or "") in ("S", "W", "西经", "南纬", "西", "南") else 1.0
    if body.startswith("-"):
        sign, body = -sign, body[1:]
    elif body.startswith("+"):
        body = body[1:]
    value = _dms(body) if "°" in body else _decimal(body)
    if not math.isfinite(value):
        raise ValueError(text)
    return sign * value


def _as_dms(match: re.Match[str]) -> str:
    """``112 46 48.5`` or ``112:46:48.5`` written as ``112°46'48.5"``."""
    deg, minutes, seconds = match.groups()
    return f"{deg}°{minutes}'" + (f'{seconds}"' if seconds else "")


def _dms(body: str) -> float:
    """Degrees, minutes, seconds (``112°48'36"``) as decimal degrees."""
    match = _DMS.match(body)
    if match is None:
        raise ValueError(body)
    deg, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    if minutes >= 60 or seconds >= 60:
        raise ValueError(body)
    return deg + minutes / 60 + seconds / 3600


def _decimal(body: str) -> float:
    """A decimal number with an optional decimal comma or thousands separators."""
    if "," in body:
        body = (
            body.replace(",", "") if "." in body or body.count(",") > 1 else body.replace(",", ".")
        )
    if not re.fullmatch(r"\d+(?:\.\d*)?(?:E[+-]?\d+)?|\.\d+(?:E[+-]?\d+)?", body):
        raise ValueError(body)
    return float(body)


# --- CSV, column by column ---------------------------------------------------------------
