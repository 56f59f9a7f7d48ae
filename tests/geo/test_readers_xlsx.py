"""Excel workbooks through read_upload: real .xlsx files written with openpyxl here."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from openpyxl import Workbook

from geo.problems import InputError
from geo.readers import read_upload


def xlsx(*sheets: tuple[str, list[list[object]]], merge: dict[str, str] | None = None) -> bytes:
    """A workbook of ``(title, rows)`` sheets; ``merge`` maps a sheet to a range to merge."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        if merge and title in merge:
            ws.merge_cells(merge[title])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def refused(data: bytes, name: str, **kwargs: object) -> list:
    with pytest.raises(InputError) as info:
        read_upload(data, name, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


LIGHTS = [
    ["名称", "经度", "纬度", "安装日期"],
    ["东街1号", 112.85, 39.52, dt.datetime(2021, 8, 15)],
    ["东街2号", 112.86, 39.53, dt.datetime(2021, 8, 16, 10, 30)],
]


def test_a_sheet_is_read_like_a_csv_with_excel_row_numbers() -> None:
    result = read_upload(xlsx(("路灯", LIGHTS)), "lights.xlsx")
    assert result.format == "xlsx"
    assert result.sheets == ["路灯"] and result.sheet == "路灯"
    assert result.rows == [2, 3]
    assert [g.coords[0] for g in result.gdf.geometry] == [(112.85, 39.52), (112.86, 39.53)]
    assert list(result.gdf["名称"]) == ["东街1号", "东街2号"]
    assert result.gdf.crs is None and result.crs_source == "none"
    assert result.problems[0].code == "xlsx_sheet_read"


def test_excel_dates_become_iso_dates_and_datetimes() -> None:
    result = read_upload(xlsx(("路灯", LIGHTS)), "lights.xlsx")
    assert list(result.gdf["安装日期"]) == ["2021-08-15", "2021-08-16T10:30:00"]


def test_merged_title_rows_above_the_header_are_passed_over() -> None:
    rows = [["山阴县 2021 年太阳能路灯台账"], ["填报单位：县交通局"], [], *LIGHTS]
    result = read_upload(xlsx(("台账", rows), merge={"台账": "A1:D1"}), "t.xlsx")
    assert result.rows == [5, 6]
    assert result.problems[0].params["header_row"] == 4
    assert "第 4 行" in result.problems[0].message("zh")


def test_numbers_typed_as_text_read_as_numbers_typed_as_numbers() -> None:
    rows = [["lon", "lat", "功率"], ["112.85", " 39.52 ", "30"], [112.86, 39.53, 40.0]]
    result = read_upload(xlsx(("S", rows)), "t.xlsx")
    assert [g.coords[0] for g in result.gdf.geometry] == [(112.85, 39.52), (112.86, 39.53)]
    assert list(result.gdf["功率"]) == ["30", "40"]


def test_dms_text_cells_are_read_as_in_csv() -> None:
    rows = [["经度", "纬度"], ["112°51'00\"", "39度31分12秒"]]
    (point,) = read_upload(xlsx(("S", rows)), "t.xlsx").gdf.geometry
    assert point.x == pytest.approx(112.85) and point.y == pytest.approx(39.52)


def test_gauss_kruger_numbers_are_kept_whole_for_the_crs_logic() -> None:
    rows = [["X", "Y", "名称"], [38_450_123.25, 4_375_456.5, "井1"], [38450200, 4375500, "井2"]]
    result = read_upload(xlsx(("S", rows)), "gk.xlsx")
    coords = [g.coords[0] for g in result.gdf.geometry]
    assert coords == [(38_450_123.25, 4_375_456.5), (38_450_200.0, 4_375_500.0)]


def test_the_first_sheet_with_coordinates_is_read_and_another_can_be_chosen() -> None:
    notes = [["说明"], ["本表为示例"]]
    other = [["名称", "lon", "lat"], ["井", 112.9, 39.6]]
    data = xlsx(("说明", notes), ("路灯", LIGHTS), ("水井", other))
    first = read_upload(data, "w.xlsx")
    assert first.sheet == "路灯" and first.sheets == ["说明", "路灯", "水井"]
    chosen = read_upload(data, "w.xlsx", sheet="水井")
    assert chosen.sheet == "水井" and list(chosen.gdf["名称"]) == ["井"]


def test_a_named_sheet_that_is_missing_or_has_no_coordinates_is_refused_by_name() -> None:
    data = xlsx(("说明", [["说明"]]), ("路灯", LIGHTS))
    (problem,) = refused(data, "w.xlsx", sheet="水井")
    assert problem.code == "xlsx_no_sheet"
    assert "水井" in problem.message("zh") and "说明, 路灯" in problem.message("en")
    (problem,) = refused(data, "w.xlsx", sheet="说明")
    assert problem.code == "xlsx_sheet_no_coordinates"
    assert "“说明”" in problem.message("zh") and "Choose another sheet" in problem.message("en")


def test_a_workbook_without_coordinate_columns_names_its_sheets() -> None:
    (problem,) = refused(xlsx(("甲", [["名称", "数量"]]), ("乙", [["a"]])), "n.xlsx")
    assert problem.code == "xlsx_no_coordinates"
    assert "甲, 乙" in problem.message("zh")


def test_a_broken_cell_names_sheet_row_and_column_in_both_languages() -> None:
    rows = [["台账"], ["名称", "经度", "纬度"], ["a", 112.85, 39.52], ["b", "东经一百一十二", 39.5]]
    result = read_upload(xlsx(("路灯", rows)), "b.xlsx")
    assert result.rows == [3]
    (bad,) = [p for p in result.problems if p.severity == "error"]
    assert (bad.code, bad.row, bad.params["column"]) == ("xlsx_bad_coordinate", 4, "B")
    assert bad.message("zh") == (
        "工作表“路灯”第 4 行 B 列（“经度”）的值“东经一百一十二”不是有效坐标，该行已跳过。"
    )
    assert bad.message("en") == (
        "Sheet “路灯”, row 4, column B (“经度”): value “东经一百一十二” is not a valid "
        "coordinate; row skipped."
    )


def test_an_empty_coordinate_and_extra_cells_say_where() -> None:
    rows = [["名称", "经度", "纬度"], ["a", 112.85, None], ["b", 112.8, 39.5, "多余"]]
    result = read_upload(xlsx(("S", rows)), "e.xlsx")
    codes = {p.code: p for p in result.problems}
    assert codes["xlsx_missing_coordinate"].row == 2
    assert "C 列" in codes["xlsx_missing_coordinate"].message("zh")
    assert codes["xlsx_extra_cells"].row == 3
    assert "column D" in codes["xlsx_extra_cells"].message("en")


def test_blank_rows_are_left_out_and_all_bad_rows_refuse_the_file() -> None:
    rows = [["经度", "纬度"], [], [None, None], ["x", "y"]]
    problems = refused(xlsx(("S", rows)), "bad.xlsx")
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.row, p.params["column"]) for p in errors] == [(4, "A"), (4, "B")]


def test_legacy_xls_gets_a_clear_message_in_both_languages() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    (problem,) = refused(ole, "台账.xls")
    assert problem.code == "excel_not_supported"
    assert ".xls" in problem.message("zh") and ".xlsx" in problem.message("zh")
    assert "Save As" in problem.message("en") and "CSV" in problem.message("en")


def test_a_file_named_xlsx_that_is_no_workbook_is_refused() -> None:
    (problem,) = refused(b"just some words", "t.xlsx")
    assert problem.code == "excel_not_supported"


def test_a_zip_bomb_disguised_as_xlsx_is_refused_before_openpyxl() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (20 * 1024 * 1024))
    assert len(buf.getvalue()) < 100_000
    (problem,) = refused(buf.getvalue(), "bomb.xlsx")
    assert problem.code == "zip_ratio"


def test_a_lying_dimension_does_not_pad_rows() -> None:
    data = xlsx(("S", LIGHTS))
    buf = io.BytesIO()
    lie = b'<dimension ref="A1:XFD3"/>'
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                content = content.replace(b'<dimension ref="A1:D3"/>', lie)
                assert lie in content
            dst.writestr(info, content)
    result = read_upload(buf.getvalue(), "d.xlsx")
    assert result.rows == [2, 3] and result.columns == ["名称", "经度", "纬度", "安装日期"]
    assert not [p for p in result.problems if p.code == "xlsx_extra_cells"]


def test_empty_columns_left_of_the_header_are_no_columns_and_letters_stay_excels() -> None:
    rows = [[None, "名称", "经度", "纬度"], [None, "a", 112.85, 39.52], [None, "b", "x", 39.5]]
    result = read_upload(xlsx(("S", rows)), "m.xlsx")
    assert result.columns == ["名称", "经度", "纬度"] and list(result.gdf["名称"]) == ["a"]
    (bad,) = [p for p in result.problems if p.severity == "error"]
    assert (bad.row, bad.params["column"]) == (3, "C")


def test_office_documents_that_are_no_spreadsheet_say_so() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert refused(ole, "通知.doc")[0].code == "office_not_supported"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")
    (problem,) = refused(buf.getvalue(), "通知.docx")
    assert problem.code == "office_not_supported" and ".xlsx" in problem.message("zh")
