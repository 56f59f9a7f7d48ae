"""Tables as the spreadsheet files county offices open: CSV for Excel, and xlsx.

Every table the app writes for people (a layer's export, a gap analysis, the ledger) goes
through :func:`csv_bytes` or :func:`xlsx_bytes`, so the rules that keep a spreadsheet
safe live here once:

- **Formula defusing** (CSV injection, OWASP): a CSV cell Excel or LibreOffice would run
  as a formula gets a leading apostrophe (:func:`defuse`). That is a text cell starting
  with ``=``, ``+``, ``-``, ``@`` (or their full-width forms, which Chinese input
  methods type), also after leading blanks, or starting with a tab or carriage return.
  Numbers written as numbers are never changed (``-5`` stays ``-5``); the same text in a
  text column is (``'-5``), since a text cell is whatever the user typed.
- **xlsx cells hold text as text**: a string is always a string cell (openpyxl would make
  ``=...`` a formula), so the user's text reads back unchanged and never runs.
- **Cell size**: an xlsx cell holds at most :data:`XLSX_CELL_MAX` characters; longer
  text is cut there, and characters XML cannot carry (control characters) are dropped.

CSV files are UTF-8 with a byte order mark (so Excel shows Chinese) and CRLF line ends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: Longest text an Excel cell holds.
XLSX_CELL_MAX = 32767
#: A cell starting with one of these (after blanks) is run as a formula by a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: A cell starting with one of these is a formula start too (OWASP: tab, carriage return).
_CONTROL_START = ("\t", "\r")
#: Characters XML 1.0 cannot hold (openpyxl refuses them).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
DATE_FORMAT = "yyyy-mm-dd"


def defuse(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading apostrophe when it would run.

    Examples
    --------
    >>> [defuse(t) for t in ("=HYPERLINK(1)", "+1", "-1+2", "@SUM(A1)", "\\tx", " =1")]
    ["'=HYPERLINK(1)", "'+1", "'-1+2", "'@SUM(A1)", "'\\tx", "' =1"]
    >>> defuse("人民路 -1"), defuse("")
    ('人民路 -1', '')
    """
    if text.startswith(_CONTROL_START) or text.lstrip().startswith(FORMULA_START):
        return "'" + text
    return text


def as_text(value: Any) -> str:
    """A value as plain text: blank for None/NaN, ``true``/``false``, ``6`` rather than
    ``6.0``, ISO dates.

    >>> as_text(None), as_text(True), as_text(6.0), as_text(2.5), as_text(dt.date(2026, 1, 2))
    ('', 'true', '6', '2.5', '2026-01-02')
    """
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return ""
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_cell(value: Any) -> str:
    """What a CSV cell holds: text defused, any other value as :func:`as_text`.

    >>> csv_cell("=1+1"), csv_cell(-5), csv_cell("-5"), csv_cell(None)
    ("'=1+1", '-5', "'-5", '')
    """
    return defuse(value) if isinstance(value, str) else as_text(value)


def csv_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file for Excel: UTF-8 with a BOM, CRLF, every cell through :func:`csv_cell`.

    >>> csv_bytes(["name", "n"], [["@SUM(1)", 3], [None, 2.0]]).decode("utf-8-sig")
    "name,n\\r\\n'@SUM(1),3\\r\\n,2\\r\\n"
    >>> csv_bytes(["a"], []) == "\\ufeffa\\r\\n".encode()
    True
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(v) for v in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_text(text: str) -> str:
    """Text as an xlsx cell can hold it: no control characters, at most
    :data:`XLSX_CELL_MAX` characters.

    >>> xlsx_text("a\\x00b\\tc"), len(xlsx_text("x" * 40000))
    ('ab\\tc', 32767)
    """
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)
    return text[:XLSX_CELL_MAX]


def fits_cell(text: str) -> bool:
    """Whether ``text`` fits an xlsx cell uncut (a WKT that does not is left out)."""
    return len(text) <= XLSX_CELL_MAX


# ---------------------------------------------------------------------------- sheets


@dataclass(frozen=True)
class Style:
    """How a row's cells look: bold, a fill colour (``RRGGBB``), a font size, centred."""

    bold: bool = False
    fill: str | None = None
    size: float | None = None
    centered: bool = False


@dataclass(frozen=True)
class Row:
    """A row of values drawn in a :class:`Style` (plain rows are bare sequences)."""

    values: Sequence[Any]
    style: Style


@dataclass
class Sheet:
    """One worksheet: its rows (the header is the first, or the first after a title),
    column widths, frozen panes, merged ranges and print settings.

    ``number_formats`` maps a column index (from 0) to the format of its non-integer
    numbers (``"0.0"``); dates are always ``yyyy-mm-dd``. ``auto_filter`` is a range
    such as ``"A1:F20"``. ``fit_width`` prints A4 landscape, one page wide.
    """

    title: str
    rows: Iterable[Sequence[Any] | Row]
    widths: Sequence[float] = ()
    freeze: str | None = None
    auto_filter: str | None = None
    merges: Sequence[str] = ()
    number_formats: Mapping[int, str] = field(default_factory=dict)
    print_title_rows: str | None = None
    fit_width: bool = False


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """An xlsx workbook of ``sheets``, written in openpyxl's streaming mode.

    >>> from openpyxl import load_workbook
    >>> data = xlsx_bytes([Sheet("t", [["name"], ["=HYPERLINK(1)"], [dt.date(2026, 1, 2)]])])
    >>> cells = list(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2))
    >>> cells[0][0].value, cells[0][0].data_type, cells[1][0].value.date()
    ('=HYPERLINK(1)', 's', datetime.date(2026, 1, 2))
    """
    from openpyxl import Workbook  # imported on use: half of the app's start-up otherwise

    workbook = Workbook(write_only=True)
    for sheet in sheets:
        _write_sheet(workbook.create_sheet(sheet.title), sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_sheet(target: WriteOnlyWorksheet, sheet: Sheet) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    # A write-only sheet takes its settings before its rows.
    for index, width in enumerate(sheet.widths, start=1):
        target.column_dimensions[get_column_letter(index)].width = width
    if sheet.freeze:
        target.freeze_panes = sheet.freeze
    if sheet.auto_filter:
        target.auto_filter.ref = sheet.auto_filter
    for merged in sheet.merges:
        target.merged_cells.add(merged)
    if sheet.print_title_rows:
        target.print_title_rows = sheet.print_title_rows
    if sheet.fit_width:
        target.page_setup.orientation = "landscape"
        target.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        target.page_setup.fitToWidth = 1
        target.page_setup.fitToHeight = 0
        target.sheet_properties.pageSetUpPr.fitToPage = True
    styles = _Styles()
    for row in sheet.rows:
        values, style = (row.values, row.style) if isinstance(row, Row) else (row, None)
        target.append(
            [
                _cell(target, value, style, sheet.number_formats.get(col), styles)
                for col, value in enumerate(values)
            ]
        )


class _Styles:
    """The openpyxl font, fill and alignment of each :class:`Style`, made once."""

    def __init__(self) -> None:
        self._made: dict[Style, tuple[Any, Any, Any]] = {}

    def of(self, style: Style) -> tuple[Any, Any, Any]:
        from openpyxl.styles import Alignment, Font, PatternFill

        if style not in self._made:
            font = Font(bold=style.bold, size=style.size)
            fill = PatternFill("solid", fgColor=style.fill) if style.fill else None
            align = Alignment(horizontal="center") if style.centered else None
            self._made[style] = (font, fill, align)
        return self._made[style]


def _cell(
    sheet: WriteOnlyWorksheet,
    value: Any,
    style: Style | None,
    number_format: str | None,
    styles: _Styles,
) -> Any:
    """A value as appended: plain values bare; text, dates, formatted numbers and styled
    cells as cells of their own."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, np.generic):
        value = value.item()
    is_text = isinstance(value, str)
    if is_text:
        value = xlsx_text(value)
    is_date = isinstance(value, dt.date)
    formatted = number_format is not None and isinstance(value, float)
    if style is None and not is_date and not formatted and not (is_text and value[:1] == "="):
        return value
    cell: WriteOnlyCell = WriteOnlyCell(sheet, value=value)
    if is_text:
        cell.data_type = "s"  # openpyxl would store "=..." as a formula; user text never is
    if is_date:
        cell.number_format = DATE_FORMAT
    elif formatted:
        cell.number_format = number_format
    if style is not None:
        font, fill, align = styles.of(style)
        cell.font = font
        if fill is not None:
            cell.fill = fill
        if align is not None:
            cell.alignment = align
    return cell
