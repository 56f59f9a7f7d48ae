"""CSV (comma, semicolon or tab separated) with lon/lat, x/y or WKT columns.

One reader, column by column: the text is cut into a grid of cells once, each geometry
column is parsed whole, and only the cells that whole-column pass cannot read (blank, DMS,
full-width digits, bad WKT…) are looked at one by one, for their value or for a row-level
problem naming the row, the header and the cell, as a user sees them in a spreadsheet.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.problems import Problem
from geo.readers.coordinates import parse_coordinate
from geo.readers.result import MAX_WKT_NESTING, _fail, _problem, _Table, _unique
from geo.safety import MAX_COLUMNS

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

    The file is cut into a grid of cells once (see :func:`_grid`), then read column by
    column (see :class:`_CsvColumns`); unusual cells cost a per-cell look, never a second
    reader.
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
    columns = _header_columns(headers, used)
    with _gc_paused():
        columns.read(_grid(lines, records, len(headers)))
    return columns.table


def _header_columns(headers: list[str], encoding: str | None) -> _CsvColumns:
    """The column reader for a header row: its geometry columns found, its names unique.

    Shared by CSV and spreadsheets (:mod:`geo.readers.xlsx`): the same header checks.
    """
    if len(headers) > MAX_COLUMNS:
        raise _fail("too_many_columns", count=len(headers), limit=MAX_COLUMNS)
    found = _find_columns([_norm_header(h) for h in headers])
    if found is None:
        raise _fail("csv_no_geometry_columns", value=" | ".join(headers))
    taken: set[str] = set()
    names = [_unique(h.strip(), taken) for h in headers]
    table = _Table(columns=list(headers), encoding=encoding)
    table.base = [n for i, n in enumerate(names) if i not in found[1]]
    return _CsvColumns(headers, names, found, table)


def has_geometry_columns(headers: list[str]) -> bool:
    """Whether a header row names lon/lat, x/y or WKT columns, as the CSV reader finds them.

    >>> has_geometry_columns(["名称", "经度", "纬度"]), has_geometry_columns(["县路灯台账"])
    (True, False)
    """
    return _find_columns([_norm_header(str(h)) for h in headers]) is not None


def read_cells(headers: list[str], records: list[list[str]], rows: list[int]) -> _Table:
    """A sheet already cut into cells (text), read exactly as a CSV's cells are.

    ``rows`` are the row numbers to report for ``records`` (a spreadsheet's own). Blank
    records are left out; records wider or narrower than the header are cut or padded.
    """
    columns = _header_columns(headers, None)
    width = len(headers)
    with _gc_paused():
        if set(map(len, records)) <= {width}:
            flat = list(chain.from_iterable(records))
            grid = _Grid(flat, rows, _has_space("\x00".join(flat), "\x00"))
        else:
            grid = _ragged(records, rows, width)
        columns.read(grid)
    return columns.table


def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting in ``text``, computed without a Python loop."""
    raw = np.frombuffer(text.encode("utf-8", "ignore"), dtype=np.uint8)
    steps = (raw == ord("(")).astype(np.int32) - (raw == ord(")")).astype(np.int32)
    return int(np.cumsum(steps).max()) if len(steps) else 0


#: In a column of cells each preceded by a newline, matches before any cell that is not a
#: plain number, i.e. not one ``parse_coordinate`` reads as ``float(cell)`` at first sight
#: (ASCII only, on purpose: anything else is read cell by cell with ``parse_coordinate``).
_NOT_PLAIN = re.compile(r"\n(?![ \t]*-?[0-9]{1,9}(?:\.[0-9]{1,20})?[ \t]*(?:\n|\Z))")
#: One plain number, as ``_NOT_PLAIN`` accepts it.
_PLAIN_CELL = re.compile(r"[ \t]*-?[0-9]{1,9}(?:\.[0-9]{1,20})?[ \t]*")
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
class _Grid:
    """The data cells of a CSV file, each record cut or padded to the header's width."""

    #: The cells, row after row.
    flat: list[str]
    #: Row number of each data row (blank records in between count, but are not kept).
    rows: list[int]
    #: Whether some cell may hold whitespace: if not, no cell needs stripping.
    spaced: bool
    #: ``csv_extra_cells`` warnings of the records that were cut.
    extra: list[Problem] = field(default_factory=list)
    #: Whether every record was already as wide as the header (then a row of blank cells
    #: is a blank record, left out as a spreadsheet would; records that were cut or padded
    #: have been checked for blankness whole, before).
    uniform: bool = True

    def blank(self, pos: int, width: int) -> bool:
        """True if the record at ``pos`` is blank: no cell holds anything but whitespace."""
        return self.uniform and not any(
            c.strip() for c in self.flat[pos * width : (pos + 1) * width]
        )

    def column(self, i: int, width: int) -> list[str]:
        """The cells of column ``i``."""
        return self.flat[i::width]


def _grid(lines: list[str] | None, records: CsvReader, width: int) -> _Grid:
    """The cells after the header row, as a grid ``width`` cells wide.

    ``lines`` are those of a text without quotes (see :func:`_plain_lines`), ``records``
    the reader that has just read the header.
    """
    if lines is not None:  # a line is a record: split it at each delimiter
        sep = records.dialect.delimiter
        rows, kept = _numbered(lines[records.line_num :])
        if set(map(str.count, kept, repeat(sep))) <= {width - 1}:
            joined = sep.join(kept)
            flat = joined.split(sep) if kept else []
            return _Grid(flat, rows, _has_space(joined, sep))
        return _ragged([line.split(sep) for line in kept], rows, width)
    rest: list[list[str]] = []
    try:
        rest.extend(records)  # keeps the records read before an error
    except csv.Error as exc:  # no row is read from a file csv cannot cut
        raise _fail("csv_invalid", value=str(exc), row=len(rest) + 1) from exc
    rows, quoted = _numbered(rest)
    if set(map(len, quoted)) <= {width}:
        flat = list(chain.from_iterable(quoted))
        return _Grid(flat, rows, _has_space("\x00".join(flat), "\x00"))  # no NUL in a CSV
    return _ragged(quoted, rows, width)


def _ragged(records: list[list[str]], rows: list[int], width: int) -> _Grid:
    """Records of several widths as a grid: blank ones left out, others cut or padded.

    Cut cells that hold something are reported as a ``csv_extra_cells`` warning.
    """
    grid = _Grid([], [], True, uniform=False)
    for row, cells in zip(rows, records, strict=True):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            grid.extra.append(
                _problem(
                    "csv_extra_cells", row=row, value=" | ".join(cells[width:]), severity="warning"
                )
            )
        grid.flat.extend(cells[:width])
        grid.flat.extend([""] * (width - len(cells)))
        grid.rows.append(row)
    return grid


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
    """Reads the grid of one CSV file into its table, column by column.

    Geometry columns are parsed whole (``np.fromstring``, ``shapely.from_wkt``); only the
    cells that pass fails are looked at one by one, for their value or their problem.
    Problems come out row after row, each row's ``csv_extra_cells`` warning first, then
    its geometry cells in header order, then a file-wide ``csv_srid_unknown``.
    """

    def __init__(
        self, headers: list[str], names: list[str], found: tuple[str, list[int]], table: _Table
    ):
        self.headers, self.names, self.table = headers, names, table
        self.mode, self.idx = found
        self.width = len(headers)

    def read(self, grid: _Grid) -> None:
        """Fill the table from ``grid``."""
        if self.mode == "xy":
            x, x_bad = _coordinates(grid.column(self.idx[0], self.width))
            y, y_bad = _coordinates(grid.column(self.idx[1], self.width))
            bad = [x_bad, y_bad]
            srids: set[str] = set()
        else:
            wkt, wkt_bad, srids = _wkt_geometries(grid.column(self.idx[0], self.width))
            bad = [wkt_bad]
        keep = self.problems(grid, bad)
        if self.mode == "xy":
            points: Any = shapely.points(x[keep], y[keep])  # an array here: x and y are
            self.table.geoms = list(points)
            self.table.clean = True  # 2D, finite and small by construction
        else:
            self.table.geoms = list(wkt[keep])
        self.table.rows = [grid.rows[p] for p in keep]
        if keep:  # else no records: typed as any other reader's empty table
            self.table.columnar = self.attributes(grid, keep)
        self.set_crs(srids)

    def problems(self, grid: _Grid, bad: list[dict[int, str]]) -> list[int]:
        """Report the rows with unreadable geometry cells; the positions of the others.

        ``bad`` maps, for each geometry column, a row's position to its stripped cell.
        """
        failed = sorted(set().union(*bad))
        found: list[Problem] = []
        for pos in failed:
            if all(not column.get(pos, "x") for column in bad) and grid.blank(pos, self.width):
                continue  # a blank record: no row, no problem
            row = grid.rows[pos]
            for i, column in zip(self.idx, bad, strict=True):
                if pos in column:
                    found.append(self.problem(row, self.headers[i], column[pos]))
        # Stable sort: a row's extra-cells warning stays before its geometry problems.
        self.table.problems.extend(sorted(grid.extra + found, key=lambda p: p.row or 0))
        if not failed:
            return list(range(len(grid.rows)))
        gone = set(failed)
        return [p for p in range(len(grid.rows)) if p not in gone]

    def problem(self, row: int, header: str, raw: str) -> Problem:
        """The problem of one unreadable geometry cell (``raw`` stripped, "" when blank)."""
        if not raw:
            return _problem("csv_missing_coordinate", row=row, field=header)
        code = "csv_bad_coordinate" if self.mode == "xy" else "csv_bad_wkt"
        return _problem(code, row=row, field=header, value=raw)

    def attributes(self, grid: _Grid, keep: list[int]) -> dict[str, Any]:
        """Each non-geometry column of the kept rows, stripped, with blank cells as None."""
        width = self.width
        flat = grid.flat
        if len(keep) != len(grid.rows):
            flat = list(chain.from_iterable(flat[p * width : (p + 1) * width] for p in keep))
        others = [(i, name) for i, name in enumerate(self.names) if i not in self.idx]
        if grid.spaced:
            return {name: [c.strip() or None for c in flat[i::width]] for i, name in others}
        if "" in flat or not flat:
            return {name: [c or None for c in flat[i::width]] for i, name in others}
        cells = np.fromiter(flat, dtype=object, count=len(flat)).reshape(-1, width)
        # Strings only: give them the type pandas would infer, without the inferring.
        return {name: pd.array(cells[:, i], dtype=_STR_DTYPE) for i, name in others}

    def set_crs(self, srids: set[str]) -> None:
        """An EWKT ``SRID=`` shared by every row declares the CRS."""
        if len(srids) != 1:
            return
        try:
            self.table.crs = pyproj.CRS.from_epsg(int(next(iter(srids))))
            self.table.crs_source = "file"
        except (pyproj.exceptions.CRSError, ValueError, OverflowError):
            self.table.problems.append(
                _problem("csv_srid_unknown", value=next(iter(srids)), severity="warning")
            )


def _coordinates(column: list[str]) -> tuple[np.ndarray, dict[int, str]]:
    """The cells of a coordinate column as floats, and those that are no coordinate.

    Plain numbers are parsed in one go; the other cells one by one with
    :func:`parse_coordinate` (DMS, full-width digits, decimal commas…). Unreadable cells
    map their position to the stripped cell ("" when blank) and read as NaN.
    """
    values = _plain_numbers(column)
    if values is not None:
        return values, {}
    odd = _odd_cells(column)
    patched = list(column)
    for pos in odd:
        patched[pos] = "0"
    values = _plain_numbers(patched)
    if values is None:  # pragma: no cover - every cell left is plain; kept for safety
        values = np.array([parse_coordinate(c) for c in patched])
    bad: dict[int, str] = {}
    for pos in odd:
        raw = column[pos].strip()
        if raw:
            try:
                values[pos] = parse_coordinate(raw)
                continue
            except ValueError:
                pass
        values[pos] = math.nan
        bad[pos] = raw
    return values, bad


def _odd_cells(column: list[str]) -> list[int]:
    """Positions of the cells that are not one plain number (see ``_NOT_PLAIN``)."""
    joined = "\n" + "\n".join(column)
    if joined.count("\n") != len(column):  # a quoted cell holds a line break
        return [pos for pos, cell in enumerate(column) if not _PLAIN_CELL.fullmatch(cell)]
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    found = np.fromiter((m.start() for m in _NOT_PLAIN.finditer(joined)), dtype=np.int64)
    return np.searchsorted(starts, found).tolist()


def _plain_numbers(column: list[str]) -> np.ndarray | None:
    """The cells as floats, or None unless each is one plain number (see ``_NOT_PLAIN``)."""
    if not column:
        return np.zeros(0)
    joined = "\n" + "\n".join(column)
    if joined.count("\n") != len(column) or _NOT_PLAIN.search(joined):
        return None
    # NumPy parses each number with PyOS_string_to_double, as float() does: same values.
    values = np.fromstring(joined, sep="\n")
    return values if len(values) == len(column) else None


def _wkt_geometries(column: list[str]) -> tuple[np.ndarray, dict[int, str], set[str]]:
    """The cells of a WKT column as geometries, those that are none, and the EWKT SRIDs.

    Unreadable cells map their position to the stripped cell ("" when blank). A cell
    nested deeper than ``MAX_WKT_NESTING`` is refused before GEOS, which parses WKT
    recursively, sees it.
    """
    texts = [cell.strip() for cell in column]
    bad = {pos: "" for pos, text in enumerate(texts) if not text}
    srids: set[str] = set()
    wkt = list(texts)
    for pos in [pos for pos, text in enumerate(texts) if ";" in text]:
        match = _EWKT.match(texts[pos])
        if match:
            srids.add(match.group(1))
            wkt[pos] = match.group(2)
    for pos in [pos for pos, text in enumerate(wkt) if text.count("(") > MAX_WKT_NESTING]:
        if _paren_depth(wkt[pos]) > MAX_WKT_NESTING:
            bad[pos] = texts[pos]
    for pos in bad:
        wkt[pos] = ""  # parsed as None, never handed to GEOS
    with np.errstate(all="ignore"):
        geoms = shapely.from_wkt(np.array(wkt, dtype=object), on_invalid="ignore")
    for pos in np.flatnonzero(shapely.is_missing(geoms)).tolist():
        bad.setdefault(pos, texts[pos])
    return geoms, bad, srids
