"""XML shared by GPX and KML: encodings, element helpers, lines from point lists."""

from __future__ import annotations

import codecs
import math
import re
from typing import Any
from xml.etree.ElementTree import Element

import shapely
from shapely.geometry.base import BaseGeometry

from geo.problems import InputError, Problem
from geo.readers.result import _fail, _problem, _Table
from geo.safety import (
    parse_xml,
)

# --- XML: GPX and KML --------------------------------------------------------------------

_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_EXPAT_NATIVE = {"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii", "iso-8859-1", "latin-1"}
_CODEC_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030"}


def _local(tag: Any) -> str:
    """Local name of an element tag (``{ns}name`` → ``name``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _transcode_xml(data: bytes, codec: str) -> bytes:
    """``data`` decoded with ``codec`` and re-encoded as UTF-8 with its declaration fixed."""
    try:
        text = data.decode(_CODEC_ALIASES.get(codec.lower(), codec))
    except (UnicodeDecodeError, LookupError) as exc:
        raise _fail("xml_encoding", value=codec) from exc
    text = re.sub(
        r"^(\s*<\?xml[^>]*?encoding\s*=\s*)[\"'][^\"']*[\"']", r'\1"UTF-8"', text, count=1
    )
    return text.encode("utf-8")


def _parse_any_xml(data: bytes) -> tuple[Element, list[Problem]]:
    """Parse XML in any encoding Python knows, guessing GB18030 for mislabelled UTF-8."""
    match = _XML_DECL_ENCODING.match(data.removeprefix(codecs.BOM_UTF8))
    declared = match.group(1).decode("ascii").lower() if match else None
    if declared and declared not in _EXPAT_NATIVE:
        return parse_xml(_transcode_xml(data, declared)), []
    try:
        return parse_xml(data), []
    except InputError as exc:
        # Chinese tools sometimes write GBK bytes under a UTF-8 (or no) declaration.
        invalid = exc.problems[0].code == "xml_invalid"
        if not invalid or declared not in (None, "utf-8", "utf8") or _is_utf8(data):
            raise
    root = parse_xml(_transcode_xml(data, "gb18030"))
    return root, [_problem("xml_encoding_guessed", value="GB18030", severity="warning")]


def _is_utf8(data: bytes) -> bool:
    """True if ``data`` decodes as UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _children(el: Element) -> dict[str, Element]:
    """First direct child of each local name."""
    out: dict[str, Element] = {}
    for child in el:
        out.setdefault(_local(child.tag), child)
    return out


def _text(el: Element | None) -> str | None:
    """Stripped text of ``el``, None when absent or blank."""
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _float_or_none(text: str | None) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


# --- GPX ---
def _line_from_parts(
    parts: list[list[tuple[float, float]]], row: int, what: str, table: _Table
) -> BaseGeometry | None:
    """LineString, MultiLineString, or a warned-about Point/None for degenerate input."""
    usable = [p for p in parts if len(p) >= 2]
    if len(usable) == 1:
        return shapely.LineString(usable[0])
    if usable:
        return shapely.MultiLineString(usable)
    points = [pt for p in parts for pt in p]
    if not points:
        table.problems.append(_problem("empty_line", row=row, value=what, severity="warning"))
        return None
    table.problems.append(_problem("single_point_line", row=row, value=what, severity="warning"))
    return shapely.Point(points[0])


# --- KML ---
