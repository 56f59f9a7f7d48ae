"""Guards for hostile uploads: size caps, XML without DTDs, safe unzipping, shallow JSON.

Every guard raises :class:`geo.problems.InputError` carrying :class:`geo.problems.Problem`
objects whose codes are texted in :mod:`geo.msg_readers`. Nothing here trusts a declared
size, a file name or a parser's defaults:

- XML is refused when it contains ``<!DOCTYPE`` or ``<!ENTITY`` (in any case, in any
  byte-oriented or UTF-16/32 encoding) *before* parsing, and is then parsed by defusedxml
  with DTDs forbidden, a second line of defence.
- ZIP archives are checked entry by entry from the central directory (names, link bits,
  declared sizes, ratio) and again while decompressing, counting the bytes actually read.
- JSON is parsed by orjson (which stops at depth 1024 with an error, never a crash) and then
  measured without recursion against a much lower limit.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DefusedET
import orjson

from geo.problems import InputError, Problem, short_value

MB = 1024 * 1024
MAX_JSON_DEPTH = 64
#: Most vertices one feature may have. A county's pipe or road needs a few thousand; a
#: million-vertex line costs seconds of CPU at every step and every later rewrite of its
#: layer, so it is refused with advice to simplify.
MAX_FEATURE_VERTICES = 100_000
#: Most columns (fields) a file may have: a work list needs dozens; each costs time at
#: every step, so a file of a million columns is refused at once.
MAX_COLUMNS = 1000
_ZIP_CHUNK = 64 * 1024
#: Entries smaller than this are never refused for their ratio alone: small text files
#: (a DBF full of blank padding, a KML of repeated styles) compress far better than 200:1,
#: and the total cap bounds what many such entries can add up to.
_RATIO_FLOOR_BYTES = 1 * MB
_XML_FORBIDDEN = (b"<!doctype", b"<!entity")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _mb(n_bytes: int) -> str:
    """``n_bytes`` in megabytes, for messages (``"50"``, ``"0.5"``)."""
    return f"{n_bytes / MB:.3g}"


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse ``data`` longer than ``max_bytes``.

    Parameters
    ----------
    data : bytes
        The upload.
    max_bytes : int
        Largest accepted length.

    Raises
    ------
    InputError
        Code ``too_large``, with the size and the limit in MB.

    Examples
    --------
    >>> check_size(b"abc", 10)
    >>> check_size(b"", 0)
    """
    if len(data) > max_bytes:
        raise InputError(
            [Problem("too_large", params={"size_mb": _mb(len(data)), "limit_mb": _mb(max_bytes)})]
        )


# --- XML ---------------------------------------------------------------------------------


def refuse_xml_declarations(data: bytes) -> None:
    """Refuse XML that declares a DTD or entities, whatever its encoding.

    NUL bytes are dropped before the case-insensitive search, so UTF-16 and UTF-32 text
    (where ASCII letters are padded with NULs) is caught like UTF-8.

    Raises
    ------
    InputError
        Code ``xml_dtd_forbidden``.

    Examples
    --------
    >>> refuse_xml_declarations(b"<gpx/>")
    >>> refuse_xml_declarations("<!DOCTYPE x><x/>".encode("utf-16"))
    Traceback (most recent call last):
    ...
    geo.problems.InputError: ...
    """
    folded = data.replace(b"\x00", b"").lower()
    for marker in _XML_FORBIDDEN:
        if marker in folded:
            raise InputError([Problem("xml_dtd_forbidden", value=marker.decode().upper())])


def parse_xml(data: bytes) -> Element:
    """Parse untrusted XML ``data`` into an ElementTree root, safely.

    Parameters
    ----------
    data : bytes
        The document; its encoding comes from its BOM or XML declaration.

    Returns
    -------
    xml.etree.ElementTree.Element
        The root element.

    Raises
    ------
    InputError
        ``xml_dtd_forbidden`` for DTDs or entities, ``xml_invalid`` (with line and column)
        for text that is not well-formed, ``xml_encoding`` for an encoding the parser
        cannot read.
    """
    refuse_xml_declarations(data)
    try:
        root = DefusedET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise InputError([Problem("xml_dtd_forbidden", value=type(exc).__name__)]) from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise InputError(
            [
                Problem(
                    "xml_invalid",
                    value=short_value(str(exc)),
                    params={"line": line, "column": column, "detail": short_value(str(exc))},
                )
            ]
        ) from exc
    except (ValueError, LookupError) as exc:
        # pyexpat refuses multi-byte encodings it has no table for ("GB2312") this way.
        raise InputError([Problem("xml_encoding", value=short_value(str(exc)))]) from exc
    return root


# --- JSON --------------------------------------------------------------------------------


def json_depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value, without recursion.

    Scalars have depth 0, ``[]`` and ``{}`` depth 1. The walk stops as soon as ``limit``
    is exceeded and returns ``limit + 1``.

    Examples
    --------
    >>> json_depth(1), json_depth([]), json_depth({"a": [[1]]})
    (0, 1, 3)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def load_json(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON ``data`` with orjson and refuse deep nesting.

    NaN and Infinity tokens and numbers that overflow a double are refused (they are not
    JSON); so is any nesting deeper than ``max_depth``.

    Raises
    ------
    InputError
        ``json_invalid`` (with line and column), ``json_nan`` or ``json_too_deep``.

    Examples
    --------
    >>> load_json(b'{"type": "Point", "coordinates": [1, 2]}')["type"]
    'Point'
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError([_json_problem(data, exc, max_depth)]) from exc
    if json_depth(obj, max_depth) > max_depth:
        raise InputError([Problem("json_too_deep", params={"limit": max_depth})])
    return obj


def _json_problem(data: bytes, exc: orjson.JSONDecodeError, max_depth: int) -> Problem:
    """The problem matching one orjson error."""
    where = {"line": exc.lineno, "column": exc.colno}
    if "depth limit" in exc.msg or "recursion" in exc.msg:
        return Problem("json_too_deep", params={"limit": max_depth})
    token = data[exc.pos : exc.pos + 9].lstrip(b"-+")
    if token.startswith((b"NaN", b"Infinity")) or "infinity" in exc.msg:
        bad = data[exc.pos : exc.pos + 12].decode("utf-8", "replace")
        return Problem("json_nan", value=short_value(bad), params=where)
    return Problem("json_invalid", value=short_value(exc.msg), params={**where, "detail": exc.msg})


# --- ZIP ---------------------------------------------------------------------------------


def _declared_entry_count(data: bytes) -> tuple[int, int] | None:
    """(entries, central directory bytes) from the end-of-central-directory record.

    Read before :class:`zipfile.ZipFile` builds one object per entry, so a 50 MB archive
    declaring a million entries is refused without allocating a million objects.
    """
    tail_start = max(0, len(data) - (22 + 65535))
    pos = data.rfind(b"PK\x05\x06", tail_start)
    if pos < 0 or pos + 22 > len(data):
        return None
    _sig, _disk, _cd_disk, _n_disk, n_total, cd_size, _cd_off, _clen = struct.unpack(
        "<4s4H2LH", data[pos : pos + 22]
    )
    if n_total == 0xFFFF or cd_size == 0xFFFFFFFF:
        pos64 = data.rfind(b"PK\x06\x06", 0, pos)
        if pos64 >= 0 and pos64 + 56 <= len(data):
            n_total, cd_size = struct.unpack("<QQ", data[pos64 + 32 : pos64 + 48])
    return n_total, cd_size


def _safe_entry_name(name: str) -> str:
    """``name`` with ``/`` separators, or an InputError if it could escape a folder."""
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise InputError([Problem("zip_unsafe_name", value=short_value(name))])
    parts = re.split(r"[\\/]+", name)
    if any(part == ".." for part in parts):
        raise InputError([Problem("zip_unsafe_name", value=short_value(name))])
    return "/".join(part for part in parts if part not in ("", "."))


def _check_declared(info: zipfile.ZipInfo, max_entry: int, max_ratio: int) -> None:
    """Refuse one central-directory entry by its flags and declared sizes."""
    name = short_value(info.filename)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError([Problem("zip_symlink", value=name)])
    if info.flag_bits & 0x1:
        raise InputError([Problem("zip_encrypted", value=name)])
    if info.file_size > max_entry:
        raise InputError(
            [Problem("zip_entry_too_large", value=name, params={"limit_mb": _mb(max_entry)})]
        )
    _check_ratio(info, info.file_size, max_ratio)


def _check_ratio(info: zipfile.ZipInfo, size: int, max_ratio: int) -> None:
    """Refuse an entry whose ``size`` is more than ``max_ratio`` times its packed size."""
    if size > _RATIO_FLOOR_BYTES and size > max_ratio * max(info.compress_size, 1):
        ratio = size // max(info.compress_size, 1)
        raise InputError(
            [
                Problem(
                    "zip_ratio",
                    value=short_value(info.filename),
                    params={"ratio": ratio, "limit": max_ratio},
                )
            ]
        )


def _read_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    used: int,
    limits: tuple[int, int, int],
) -> bytes:
    """Decompress one entry in chunks, counting actual bytes against every limit.

    ``used`` is what earlier entries decompressed to; ``limits`` is
    ``(max_total, max_entry, max_ratio)``.
    """
    max_total, max_entry, max_ratio = limits
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as stream:
        while chunk := stream.read(_ZIP_CHUNK):
            size += len(chunk)
            if size > max_entry:
                raise InputError(
                    [
                        Problem(
                            "zip_entry_too_large",
                            value=short_value(info.filename),
                            params={"limit_mb": _mb(max_entry)},
                        )
                    ]
                )
            if used + size > max_total:
                raise InputError(
                    [Problem("zip_total_too_large", params={"limit_mb": _mb(max_total)})]
                )
            _check_ratio(info, size, max_ratio)
            chunks.append(chunk)
    return b"".join(chunks)


def safe_unzip(
    data: bytes,
    *,
    max_entries: int = 1000,
    max_total: int = 200 * MB,
    max_entry: int = 100 * MB,
    max_ratio: int = 200,
) -> dict[str, bytes]:
    """Unpack a ZIP archive into memory, refusing anything a hostile archive could abuse.

    Every entry, directories included, is checked twice: from the central directory
    (name, symlink bit, encryption, declared size and ratio) and while it is decompressed,
    counting the bytes actually produced. Entries above ``max_ratio`` are refused only from
    1 MB of output, so small, very compressible text files pass.

    Parameters
    ----------
    data : bytes
        The archive.
    max_entries : int
        Most entries accepted (directories count).
    max_total : int
        Most bytes all entries may decompress to together.
    max_entry : int
        Most bytes one entry may decompress to.
    max_ratio : int
        Highest accepted uncompressed/compressed ratio of one entry.

    Returns
    -------
    dict[str, bytes]
        File contents by name, with ``/`` separators; directory entries are left out.

    Raises
    ------
    InputError
        ``zip_invalid``, ``zip_too_many_entries``, ``zip_unsafe_name``, ``zip_symlink``,
        ``zip_encrypted``, ``zip_duplicate_name``, ``zip_entry_too_large``,
        ``zip_total_too_large`` or ``zip_ratio``.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("doc.kml", "<kml/>")
    >>> safe_unzip(buf.getvalue())
    {'doc.kml': b'<kml/>'}
    """
    declared = _declared_entry_count(data)
    if declared is None:
        raise InputError([Problem("zip_invalid", value="no end of central directory")])
    n_declared, cd_size = declared
    # 46 bytes of fixed header plus a generous 1 KB of name and extra data per entry.
    if n_declared > max_entries or cd_size > max_entries * (46 + 1024):
        raise InputError(
            [Problem("zip_too_many_entries", params={"count": n_declared, "limit": max_entries})]
        )
    try:
        return _unzip_checked(data, max_entries, (max_total, max_entry, max_ratio))
    except InputError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
        OSError,
        struct.error,
    ) as exc:
        # Corrupt streams, CRC mismatches, unknown compression methods, lying headers.
        raise InputError([Problem("zip_invalid", value=short_value(str(exc)))]) from exc


def _unzip_checked(data: bytes, max_entries: int, limits: tuple[int, int, int]) -> dict[str, bytes]:
    """The body of :func:`safe_unzip`, once the archive's end record looks sane."""
    max_total, max_entry, max_ratio = limits
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise InputError(
                [
                    Problem(
                        "zip_too_many_entries", params={"count": len(infos), "limit": max_entries}
                    )
                ]
            )
        names = [_safe_entry_name(info.filename) for info in infos]
        for info in infos:
            _check_declared(info, max_entry, max_ratio)
        if sum(info.file_size for info in infos) > max_total:
            raise InputError([Problem("zip_total_too_large", params={"limit_mb": _mb(max_total)})])
        out: dict[str, bytes] = {}
        total = 0
        for info, name in zip(infos, names, strict=True):
            content = _read_entry(archive, info, total, limits)
            total += len(content)
            if info.is_dir() or not name:
                continue
            if name in out:
                raise InputError([Problem("zip_duplicate_name", value=short_value(name))])
            out[name] = content
    return out
