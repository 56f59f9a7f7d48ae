"""Format detection: what kind of container an upload is, by content first, name second."""

from __future__ import annotations

import codecs

from geo.readers.result import _fail


def _is_blank(data: bytes) -> bool:
    """True for an empty file, or one holding only a BOM and blanks."""
    for bom in _BOMS:
        data = data.removeprefix(bom)
    return not data.strip(b" \t\r\n\x00")


# --- format detection --------------------------------------------------------------------

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ARCHIVES = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SHP_MAGIC = b"\x00\x00\x27\x0a"
_SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix")
_EXT_KIND = {
    ".geojson": "json",
    ".json": "json",
    ".gpx": "xml",
    ".kml": "xml",
    ".kmz": "zip",
    ".xlsx": "zip",
    ".xlsm": "zip",
    ".zip": "zip",
    ".gpkg": "gpkg",
}


def _extension(filename: str) -> str:
    """Lower-case extension of ``filename`` (``".csv"``), or ``""``."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def _text_start(data: bytes) -> str:
    """The first non-blank character of ``data`` read as text, ignoring any BOM."""
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", "ignore")
    elif head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16-le" if head[0] else "utf-16-be", "ignore")
    else:
        text = head.decode("utf-8-sig", "ignore")
    stripped = text.lstrip(" \t\r\n\ufeff")
    return stripped[:1]


def sniff_kind(data: bytes, filename: str) -> str:
    """Container kind of an upload: ``zip``, ``gpkg``, ``xml``, ``json`` or ``text``.

    Content decides; the extension of ``filename`` only breaks ties for text that is
    neither XML nor JSON at first sight (``null`` in a ``.geojson``).

    Raises
    ------
    InputError
        For recognisably unsupported files: a bare ``.shp``/``.dbf``, legacy Excel
        ``.xls``, a damaged ``.xlsx``, RAR/7z/gzip, or binary data. (An ``.xlsx`` is a
        ``zip``: :func:`~geo.readers.read_upload` reads it.)

    Examples
    --------
    >>> sniff_kind(b'{"type": "Point"}', "a.txt"), sniff_kind(b"<gpx/>", "a.csv")
    ('json', 'xml')
    """
    ext = _extension(filename)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if data.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if data.startswith(_SHP_MAGIC):
        raise _fail("shapefile_needs_zip", value=filename)
    if data.startswith(_OLE):  # Excel 97-2003 .xls, or a password-protected .xlsx
        code = "office_not_supported" if ext in (".doc", ".ppt", ".msg") else "excel_not_supported"
        raise _fail(code, value=filename)
    if data.startswith(_ARCHIVES):
        raise _fail("archive_not_supported", value=filename)
    first = _text_start(data)
    if first == "<":
        return "xml"
    if first in ("{", "["):
        return "json"
    if ext in _SHAPE_PARTS:
        raise _fail("shapefile_needs_zip", value=filename)
    if ext == ".xls":
        raise _fail("excel_not_supported", value=filename)
    if ext in (".xlsx", ".xlsm"):  # named so, yet not a ZIP: damaged or mislabelled
        raise _fail("excel_not_supported", value=filename)
    if _looks_binary(data):
        raise _fail("unknown_format", value=filename)
    return "json" if _EXT_KIND.get(ext) == "json" else "text"


def _looks_binary(data: bytes) -> bool:
    """True for data no text editor would save: NUL bytes outside UTF-16 text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in data[:65536]


# --- shared finishing --------------------------------------------------------------------
