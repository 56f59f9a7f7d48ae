"""Excel workbooks (.xlsx, .xlsm): one sheet read as the CSV reader reads its cells.

The workbook has been unzipped by :func:`geo.safety.safe_unzip` before it gets here (an
.xlsx is a ZIP: the same entry, size and ratio guards as any archive), and openpyxl opens
it read-only, values only (formulas give their cached result). Each cell becomes the text
a CSV saved from Excel would hold: numbers typed as numbers or as text read alike, Excel
dates become ISO dates (``2021-08-15``) or date-times (``2021-08-15T10:30:00``). The
header row is the first of the top rows that names coordinate columns, so merged title
rows above it are passed over. The sheet is the one named, else the first with
coordinate columns. Row numbers are Excel's own, and row problems name the sheet and the
column letter too.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from geo.problems import InputError, Problem
from geo.readers.csvfile import has_geometry_columns, read_cells
from geo.readers.result import _fail, _Table

#: How many rows from the top of a sheet may come before its header row (titles, notes).
HEADER_SCAN_ROWS = 30
#: Codes of the CSV reader's row problems, and the spreadsheet codes that say where.
_CELL_CODES = {
    "csv_missing_coordinate": "xlsx_missing_coordinate",
    "csv_bad_coordinate": "xlsx_bad_coordinate",
    "csv_bad_wkt": "xlsx_bad_wkt",
    "csv_extra_cells": "xlsx_extra_cells",
}


@dataclass
class SheetTable:
    """What one sheet of a workbook gave: the table, its sheet and the workbook's sheets."""

    table: _Table
    sheet: str
    sheets: list[str]
    header_row: int


def column_letter(index: int) -> str:
    """Excel's name of the column at 0-based ``index``.

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(702)
    ('A', 'Z', 'AA', 'AAA')
    """
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV saved from Excel holds ("" for an empty cell).

    >>> cell_text(112.5), cell_text(3.0), cell_text(38500123), cell_text(None)
    ('112.5', '3', '38500123', '')
    >>> cell_text(0.1 + 0.2), cell_text(38450123.25), cell_text(True)
    ('0.3', '38450123.25', 'true')
    >>> cell_text(dt.datetime(2021, 8, 15)), cell_text(dt.datetime(2021, 8, 15, 10, 30))
    ('2021-08-15', '2021-08-15T10:30:00')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"  # the digits Excel shows and saves to CSV: 0.1 + 0.2 is 0.3
    return str(value)


def _row_cells(values: tuple[Any, ...]) -> list[str]:
    """A sheet row as text cells, without the empty cells after its last value."""
    cells = [cell_text(v) for v in values]
    while cells and not cells[-1].strip():
        cells.pop()
    return cells


def _open_workbook(data: bytes, filename: str) -> Any:
    """The workbook, read-only and values only; ``excel_not_supported`` if openpyxl cannot."""
    from openpyxl import load_workbook  # imported on use: it is slow to import

    try:
        with warnings.catch_warnings():
            # "Data Validation extension is not supported", "no default style", ...
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise _fail("excel_not_supported", value=filename, reason=type(exc).__name__) from exc


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """(Excel row number, text cells) of every row of ``sheet``, from row 1."""
    sheet.reset_dimensions()  # a lying <dimension> must not pad each row to 16,384 cells
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, _row_cells(values)


def _find_header(rows: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]] | None:
    """The header row among the top ``HEADER_SCAN_ROWS`` rows: the first naming
    coordinate columns (title rows, merged or not, hold no such names)."""
    for number, cells in rows:
        if number > HEADER_SCAN_ROWS:
            return None
        if cells and has_geometry_columns(cells):
            return number, cells
    return None


def _first_headers(sheet: Any) -> str:
    """The first non-blank row of ``sheet``, joined, for a message."""
    for number, cells in _sheet_rows(sheet):
        if number > HEADER_SCAN_ROWS:
            break
        if any(c.strip() for c in cells):
            return " | ".join(cells)
    return ""


def _choose(
    workbook: Any, wanted: str | None
) -> tuple[Any, Iterator[tuple[int, list[str]]], int, list[str]]:
    """The sheet to read, its rows after the header, the header's row and the header."""
    sheets = list(workbook.worksheets)
    names = [s.title for s in sheets]
    listed = ", ".join(names)
    if wanted:
        chosen = [s for s in sheets if s.title == wanted]
        if not chosen:
            raise _fail("xlsx_no_sheet", value=wanted, sheets=listed)
        sheets = chosen
    for sheet in sheets:
        rows = _sheet_rows(sheet)
        header = _find_header(rows)
        if header is not None:
            return sheet, rows, header[0], header[1]
    if wanted:
        raise _fail(
            "xlsx_sheet_no_coordinates",
            value=wanted,
            sheets=listed,
            headers=_first_headers(sheets[0]),
        )
    raise _fail("xlsx_no_coordinates", value=listed, sheets=listed)


def read_xlsx(data: bytes, filename: str, sheet: str | None = None) -> SheetTable:
    """Read one sheet of an .xlsx workbook (already checked by ``safe_unzip``) into a table.

    Raises
    ------
    InputError
        ``excel_not_supported`` (openpyxl cannot open it), ``xlsx_no_sheet`` (no sheet
        ``sheet``), ``xlsx_sheet_no_coordinates`` / ``xlsx_no_coordinates`` (no header
        row naming coordinate columns in the top rows), or the CSV reader's file errors.
    """
    workbook = _open_workbook(data, filename)
    try:
        names = [s.title for s in workbook.worksheets]
        chosen, rows, header_row, headers = _choose(workbook, sheet)
        # Empty columns left of the header (a margin) are no columns of the table.
        skip = next(i for i, h in enumerate(headers) if h.strip())
        numbers: list[int] = []
        records: list[list[str]] = []
        for number, cells in rows:
            if len(cells) > skip:
                numbers.append(number)
                records.append(cells[skip:])
    finally:
        workbook.close()
    headers = headers[skip:]
    where = (chosen.title, headers, skip)
    try:
        table = read_cells(headers, records, numbers)
    except InputError as exc:
        raise InputError([_located(p, *where) for p in exc.problems]) from None
    table.problems = [_located(p, *where) for p in table.problems]
    table.encoding = None
    return SheetTable(table, chosen.title, names, header_row)


def _located(problem: Problem, sheet: str, headers: list[str], skip: int) -> Problem:
    """A CSV reader's row problem said the spreadsheet way: sheet, row and column letter
    (``skip``: the sheet's columns left of the first header)."""
    code = _CELL_CODES.get(problem.code)
    if code is None:
        return replace(problem, params={**problem.params, "sheet": sheet})
    column = ""
    if problem.field is not None and problem.field in headers:
        column = column_letter(headers.index(problem.field) + skip)
    elif problem.code == "csv_extra_cells":
        column = column_letter(len(headers) + skip)
    params = {**problem.params, "sheet": sheet, "column": column}
    return replace(problem, code=code, params=params)
