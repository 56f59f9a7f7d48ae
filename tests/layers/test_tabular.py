"""layers.tabular: the one CSV/xlsx writer stops formula injection in every cell it writes,
and the layer, gap and ledger exports all go through it."""

import csv
import datetime as dt
import io

import openpyxl
import pytest

from layers import exports, gap_files, ledger_io, tabular
from layers.tabular import (
    XLSX_CELL_MAX,
    Row,
    Sheet,
    Style,
    csv_bytes,
    csv_cell,
    defuse,
    xlsx_bytes,
)

ATTACKS = [
    '=HYPERLINK("http://x","click")',
    "+1",
    "-1+2",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",  # full-width equals sign, as Chinese input methods type it
]
HARMLESS = ["人民路", "a=b", "1-2", "", "备注 -1", "'quoted"]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("text", ATTACKS)
def test_csv_cells_that_would_run_start_with_an_apostrophe(text):
    (header, row) = read_csv(csv_bytes(["name", "n"], [[text, 1]]))
    assert header == ["name", "n"]
    assert row == ["'" + text, "1"]


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_left_alone(text):
    assert defuse(text) == text
    assert read_csv(csv_bytes(["a"], [[text]]))[1] == [text]


def test_numbers_are_numbers_but_number_like_text_is_text():
    assert [csv_cell(v) for v in (-5, -1.5, 0.0, 6.0, True, None)] == [
        "-5",
        "-1.5",
        "0",
        "6",
        "true",
        "",
    ]
    assert csv_cell("-5") == "'-5"
    assert csv_cell(dt.date(2026, 1, 2)) == "2026-01-02"


def test_csv_header_is_defused_too_and_lines_end_in_crlf():
    data = csv_bytes(["=cmd", "b"], [["x", "y"]])
    assert data.decode("utf-8-sig") == "'=cmd,b\r\nx,y\r\n"


@pytest.mark.parametrize("text", ATTACKS)
def test_xlsx_text_is_a_string_cell_never_a_formula(text):
    data = xlsx_bytes([Sheet("t", [["name"], [text], Row([text], Style(bold=True))])])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    for row in (2, 3):
        cell = sheet.cell(row=row, column=1)
        assert cell.data_type == "s"
        # The text reads back as it was typed (openpyxl keeps a CR as _x000D_ escapes).
        assert cell.value.replace("_x000D_", "\r") == text


def test_xlsx_caps_long_text_and_drops_control_characters():
    data = xlsx_bytes([Sheet("t", [["a"], ["x" * (XLSX_CELL_MAX + 10)], ["a\x00b\x1fc"]])])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert len(sheet.cell(row=2, column=1).value) == XLSX_CELL_MAX
    assert sheet.cell(row=3, column=1).value == "abc"


def test_xlsx_types_dates_numbers_and_styles():
    sheet_spec = Sheet(
        "t",
        [Row(["h1", "h2"], Style(bold=True, fill="DDE3E8")), [dt.date(2026, 1, 2), 12.25]],
        widths=[12, 20],
        freeze="A2",
        merges=["A5:B5"],
        number_formats={1: "0.0"},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([sheet_spec]))).active
    head = sheet.cell(row=1, column=1)
    assert head.font.b and head.fill.fgColor.rgb.endswith("DDE3E8")
    day, number = sheet.cell(row=2, column=1), sheet.cell(row=2, column=2)
    assert day.value == dt.datetime(2026, 1, 2) and day.number_format == "yyyy-mm-dd"
    assert number.value == 12.25 and number.number_format == "0.0"
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["B"].width == 20
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A5:B5"]


def test_every_table_export_goes_through_the_one_writer():
    for module in (exports, gap_files, ledger_io):
        source = open(module.__file__, encoding="utf-8").read()
        assert "import csv" not in source or module is ledger_io, module.__name__
        assert "csv.writer(" not in source, module.__name__
        assert "Workbook(" not in source, module.__name__
        assert "FORMULA_START" not in source, module.__name__
    assert exports.as_text is tabular.as_text
