"""CSV (comma, semicolon or tab separated) with lon/lat, x/y or WKT columns."""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.problems import Problem
from geo.readers.coordinates import parse_coordinate
from geo.readers.result import MAX_WKT_NESTING, _fail, _problem, _RowError, _Table, _unique
from geo.safety import (
    MAX_COLUMNS,
)

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


_LON_NAMES = ("经度", "东经", "lon", "lng", "long", "longitude", "longitudedd")
_LAT_NAMES = ("纬度", "北纬", "lat", "latitude", "latitudedd")
_X_NAMES = ("x", "x坐标", "坐标x", "pointx", "xcoord", "xcoordinate", "横坐标")
_Y_NAMES = ("y", "y坐标", "坐标y", "pointy", "ycoord", "ycoordinate", "纵坐标")
_WKT_NAMES = ("wkt", "geometry", "几何", "geom", "thegeom", "wktgeom", "空间信息")
_EWKT = re.compile(r"^\s*SRID=(\d+)\s*;(.*)$", re.IGNORECASE | re.DOTALL)


def _norm_header(header: str) -> str:
    """A header folded for matching: full-width to ASCII, lower case, units dropped."""
    text = unicodedata.normalize("NFKC", header).strip().lower()
    text = re.sub(r"[(\[【].*?[)\]】]", "", text)
    return re.sub(r"[\s_\-.:：]", "", text)


def _decode_csv(data: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, encoding name): the given encoding, else UTF-16 by BOM, UTF-8, GB18030."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeError, LookupError) as exc:  # wrong, unknown or not a text codec
            raise _fail("csv_encoding", value=encoding) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        # utf-8 first: gb18030 decodes most UTF-8 bytes too, into the wrong characters.
        candidates = ["utf-8-sig", "gb18030"]
    for name in candidates:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
            name = "utf-8"
        return text, name
    raise _fail("csv_encoding", value="UTF-8, GB18030")


def _first_line(text: str) -> str:
    """The first non-blank line of ``text`` as ``str.splitlines`` cuts it, or ``""``.

    Reads a growing head of the text rather than splitting all of a large file.
    """
    size = 4096
    while True:
        lines = text[:size].splitlines()
        if size < len(text):
            lines = lines[:-1]  # the last one may go on past the head
        line = next((line for line in lines if line.strip()), None)
        if line is not None or size >= len(text):
            return line or ""
        size *= 8


def _sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever the header line has most of."""
    header = _first_line(text)
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    # One column only (a lone WKT column): split on nothing, so "1 2, 3 4" stays whole.
    return best if counts[best] else "\x1f"


def _plain_lines(text: str) -> list[str] | None:
    """The lines of a text without quotes, cut as csv.reader cuts them; None if it has any.

    Without quotes a record is exactly one line: csv.reader can read these lines instead of
    a StringIO copy of the text, which a large file makes costly.
    """
    if '"' in text:
        return None
    if "\r" in text:  # csv.reader ends a line at "\r\n", "\r" or "\n"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":  # after the final line end: no record
        lines.pop()
    return lines


def _csv_records(text: str, lines: list[str] | None) -> CsvReader:
    """csv.reader over ``text`` (or its ``lines``, see :func:`_plain_lines`).

    With the sniffed delimiter and a field size fit for WKT.
    """
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    source = io.StringIO(text, newline="") if lines is None else iter(lines)
    return csv.reader(source, delimiter=_sniff_delimiter(text))


def _find_columns(norm: list[str]) -> tuple[str, list[int]] | None:
    """``("wkt", [i])`` or ``("xy", [ix, iy])`` for normalised headers, or None.

    A WKT column wins (it can hold lines and polygons); then lon/lat names; then x/y.
    """
    for i, h in enumerate(norm):
        if h in _WKT_NAMES:
            return "wkt", [i]
    for lon_names, lat_names in ((_LON_NAMES, _LAT_NAMES), (_X_NAMES, _Y_NAMES)):
        ix = next((i for i, h in enumerate(norm) if h in lon_names), None)
        iy = next((i for i, h in enumerate(norm) if h in lat_names), None)
        if ix is not None and iy is not None:
            return "xy", [ix, iy]
    return None


def _read_csv(data: bytes, encoding: str | None) -> _Table:
    """CSV (comma, semicolon or tab) with lon/lat, x/y or WKT columns into a table.

    Files with x/y columns are read column by column when that gives the same result (see
    :class:`_CsvColumns`), row by row otherwise.
    """
    text, used = _decode_csv(data, encoding)
    if "\x00" in text:
        raise _fail("unknown_format", value="NUL")
    lines = _plain_lines(text)
    records = _csv_records(text, lines)
    try:
        headers = next(h for h in records if any(c.strip() for c in h))
    except StopIteration:
        raise _fail("empty_file") from None
    if len(headers) > MAX_COLUMNS:
        raise _fail("too_many_columns", count=len(headers), limit=MAX_COLUMNS)
    found = _find_columns([_norm_header(h) for h in headers])
    if found is None:
        raise _fail("csv_no_geometry_columns", value=" | ".join(headers))
    taken: set[str] = set()
    names = [_unique(h.strip(), taken) for h in headers]
    table = _Table(columns=list(headers), encoding=used)
    table.base = [n for i, n in enumerate(names) if i not in found[1]]
    remaining: Iterator[list[str]] = records
    if _CSV_COLUMNWISE and found[0] == "xy":
        with _gc_paused():
            remaining, uniform = _uniform_cells(lines, records, len(headers))
            if uniform is not None and _CsvColumns(names, found[1], table).read(uniform):
                return table
    parse = _CsvRow(headers, names, found[0], found[1], table)
    row = 0
    try:
        for row, cells in enumerate(remaining, 1):
            if any(c.strip() for c in cells):
                parse.read(row, cells)
    except csv.Error as exc:
        raise _fail("csv_invalid", value=str(exc), row=row + 1) from exc
    parse.finish()
    return table


class _CsvRow:
    """Reads data rows of one CSV file into its table."""

    def __init__(
        self, headers: list[str], names: list[str], mode: str, idx: list[int], table: _Table
    ):
        self.headers, self.names, self.mode, self.idx, self.table = headers, names, mode, idx, table
        self.srids: set[str] = set()
        self.xy: list[tuple[float, float]] = []

    def read(self, row: int, cells: list[str]) -> None:
        """One row: kept with its geometry, or reported."""
        width = len(self.headers)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            self.table.problems.append(
                _problem(
                    "csv_extra_cells", row=row, value=" | ".join(cells[width:]), severity="warning"
                )
            )
        cells = cells[:width] + [""] * (width - len(cells))
        try:
            geom = None
            if self.mode == "wkt":
                geom = self.wkt(row, cells)
            else:
                self.point(row, cells)
        except _RowError as exc:
            self.table.problems.extend(exc.problems)
            return
        record = {
            name: (cell.strip() or None)
            for i, (name, cell) in enumerate(zip(self.names, cells, strict=True))
            if i not in self.idx
        }
        self.table.add(row, record, geom)

    def point(self, row: int, cells: list[str]) -> None:
        """Note the x/lon, y/lat of a row (points are made at the end, in one go).

        All bad cells of the row are reported together.
        """
        values: list[float] = []
        problems: list[Problem] = []
        for i in self.idx:
            raw = cells[i].strip()
            if not raw:
                problems.append(_problem("csv_missing_coordinate", row=row, field=self.headers[i]))
                continue
            try:
                values.append(parse_coordinate(raw))
            except ValueError:
                problems.append(
                    _problem("csv_bad_coordinate", row=row, field=self.headers[i], value=raw)
                )
        if problems:
            raise _RowError(*problems)
        self.xy.append((values[0], values[1]))

    def wkt(self, row: int, cells: list[str]) -> BaseGeometry:
        """A geometry from the WKT (or EWKT) cell."""
        header = self.headers[self.idx[0]]
        raw = cells[self.idx[0]].strip()
        if not raw:
            raise _RowError(_problem("csv_missing_coordinate", row=row, field=header))
        match = _EWKT.match(raw)
        if match:
            self.srids.add(match.group(1))
        text = match.group(2) if match else raw
        if _paren_depth(text) > MAX_WKT_NESTING:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw))
        try:
            with np.errstate(all="ignore"):
                geom = shapely.from_wkt(text)
        except (shapely.errors.ShapelyError, ValueError, TypeError) as exc:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw)) from exc
        if geom is None:
            raise _RowError(_problem("csv_bad_wkt", row=row, field=header, value=raw))
        return geom

    def finish(self) -> None:
        """Make the points of an x/y file; take the CRS of an EWKT file."""
        if self.mode == "xy":
            coords = np.array(self.xy, dtype=float).reshape(-1, 2)
            points: Any = shapely.points(coords)  # an array here: coords is 2-D
            self.table.geoms = list(points)
        self.set_crs()

    def set_crs(self) -> None:
        """An EWKT ``SRID=`` shared by every row declares the CRS."""
        if len(self.srids) != 1:
            return
        try:
            self.table.crs = pyproj.CRS.from_epsg(int(next(iter(self.srids))))
            self.table.crs_source = "file"
        except (pyproj.exceptions.CRSError, ValueError, OverflowError):
            self.table.problems.append(
                _problem("csv_srid_unknown", value=next(iter(self.srids)), severity="warning")
            )


def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting in ``text``, computed without a Python loop."""
    raw = np.frombuffer(text.encode("utf-8", "ignore"), dtype=np.uint8)
    steps = (raw == ord("(")).astype(np.int32) - (raw == ord(")")).astype(np.int32)
    return int(np.cumsum(steps).max()) if len(steps) else 0


#: Read clean x/y CSV files column by column. False forces the row-by-row reader (the
#: tests compare the two).
_CSV_COLUMNWISE = True
#: In a column of cells each preceded by a newline, matches before any cell that is not a
#: plain number, i.e. not one ``parse_coordinate`` reads as ``float(cell)`` at first sight
#: (ASCII only, on purpose: anything else is left to the row-by-row reader).
_NOT_PLAIN = re.compile(r"\n(?![ \t]*-?[0-9]{1,9}(?:\.[0-9]{1,20})?[ \t]*(?:\n|\Z))")
#: The type pandas gives a column of strings (``str`` since pandas 3).
_STR_DTYPE: Any = pd.Series(["text"]).dtype
#: Every character ``str.strip()`` removes, i.e. every one ``str.isspace()`` accepts.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause automatic garbage collection while making objects that all stay alive.

    A 100,000-row file makes close to a million objects (cells, points); the collections
    their allocation triggers would walk them all again and again, for nothing, taking
    about half the reading time. Collection resumes afterwards unless it was off already,
    so overlapping uses (threads) leave it on in the end if it was on at first.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Cells:
    """The data cells of a CSV file whose data rows are all exactly as wide as its header."""

    #: The cells, row after row.
    flat: list[str]
    #: Row number of each data row (blank records in between count, but are not kept).
    rows: list[int]
    #: Whether some cell may hold whitespace: if not, no cell needs stripping.
    spaced: bool


def _uniform_cells(
    lines: list[str] | None, records: CsvReader, width: int
) -> tuple[Iterator[list[str]], _Cells | None]:
    """The cells after the header row, or None unless every data row has ``width`` cells.

    ``lines`` are those of a text without quotes (see :func:`_plain_lines`), ``records``
    the reader that has just read the header. Also returns the records the row-by-row
    reader should go on with: ``records`` itself, or the ones read from it here.
    """
    if lines is not None:  # a line is a record: split it at each delimiter
        data = lines[records.line_num :]
        return records, _unquoted_cells(data, records.dialect.delimiter, width)
    rest: list[list[str]] = []
    try:
        rest.extend(records)  # keeps the records read before an error
    except csv.Error as exc:  # as the row-by-row reader would fail, whatever rows came before
        raise _fail("csv_invalid", value=str(exc), row=len(rest) + 1) from exc
    return iter(rest), _quoted_cells(rest, width)


def _unquoted_cells(lines: list[str], sep: str, width: int) -> _Cells | None:
    """The cells of the data lines of a text without quotes."""
    rows, kept = _numbered(lines)
    if not kept or set(map(str.count, kept, repeat(sep))) != {width - 1}:
        return None
    joined = sep.join(kept)
    return _Cells(joined.split(sep), rows, _has_space(joined, sep))


def _quoted_cells(records: list[list[str]], width: int) -> _Cells | None:
    """The cells of the records csv.reader read from a text with quotes."""
    rows, kept = _numbered(records)
    if not kept or set(map(len, kept)) != {width}:
        return None
    flat = list(chain.from_iterable(kept))
    return _Cells(flat, rows, _has_space("\x00".join(flat), "\x00"))  # no NUL in a CSV


def _has_space(text: str, sep: str) -> bool:
    """True if ``text`` holds whitespace other than ``sep`` (a quick scan per character)."""
    return any(ch in text for ch in _WHITESPACE if ch != sep)


def _numbered(items: list[Any]) -> tuple[list[int], list[Any]]:
    """Row numbers (from 1) of the non-empty items, and those items.

    An empty item is an empty line: no record, but a row as a spreadsheet counts them.
    """
    if all(items):
        return list(range(1, len(items) + 1)), items
    rows = [i for i, item in enumerate(items, 1) if item]
    return rows, [items[i - 1] for i in rows]


class _CsvColumns:
    """Reads the data rows of an x/y CSV file column by column into its table.

    Only when every coordinate is a plain number, so that no row is refused and each
    coordinate is ``float(cell)``, exactly as :class:`_CsvRow` would read it.
    """

    def __init__(self, names: list[str], idx: list[int], table: _Table):
        self.names, self.idx, self.table = names, idx, table

    def read(self, cells: _Cells) -> bool:
        """Fill the table; False, leaving it untouched, if a coordinate is not plain."""
        width = len(self.names)
        x = _plain_numbers(cells.flat[self.idx[0] :: width])
        y = None if x is None else _plain_numbers(cells.flat[self.idx[1] :: width])
        if x is None or y is None:
            return False
        self.table.columnar = self.attributes(cells)
        points: Any = shapely.points(x, y)  # an array here: x and y are arrays
        self.table.geoms = list(points)
        self.table.rows = cells.rows
        return True

    def attributes(self, cells: _Cells) -> dict[str, Any]:
        """Each non-coordinate column, stripped, with blank cells as None (as _CsvRow)."""
        width = len(self.names)
        others = [(i, name) for i, name in enumerate(self.names) if i not in self.idx]
        if cells.spaced:
            return {name: [c.strip() or None for c in cells.flat[i::width]] for i, name in others}
        if "" in cells.flat:
            return {name: [c or None for c in cells.flat[i::width]] for i, name in others}
        grid = np.fromiter(cells.flat, dtype=object, count=len(cells.flat)).reshape(-1, width)
        # Strings only: give them the type pandas would infer, without the inferring.
        return {name: pd.array(grid[:, i], dtype=_STR_DTYPE) for i, name in others}


def _plain_numbers(column: list[str]) -> np.ndarray | None:
    """The cells as floats, or None unless each is one plain number (see ``_NOT_PLAIN``)."""
    joined = "\n" + "\n".join(column)
    if joined.count("\n") != len(column) or _NOT_PLAIN.search(joined):
        return None
    # NumPy parses each number with PyOS_string_to_double, as float() does: same values.
    values = np.fromstring(joined, sep="\n")
    return values if len(values) == len(column) else None
