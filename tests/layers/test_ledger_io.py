"""The ledger as county offices' spreadsheets: xlsx layout with subtotals, CSV, and imports
that check every row (row, column, value, message) and write all or nothing."""

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from layers.ledger import ledger_progress
from layers.ledger_io import (
    COLUMNS,
    apply_import,
    category_code,
    ledger_csv,
    ledger_xlsx,
    plan_import,
)
from webmap.app import get_store

AS_OF = dt.date(2026, 10, 31)
HEADERS = [c.zh for c in COLUMNS]
COL = {c.key: i for i, c in enumerate(COLUMNS)}


@pytest.fixture
def demo(demo_app):
    return get_store(demo_app)


def sheet_rows(data):
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return sheet, [list(r) for r in sheet.iter_rows(values_only=True)]


def test_xlsx_layout_has_chinese_headers_items_and_subtotals_equal_to_progress(demo):
    items = ledger_progress(demo, today=AS_OF, as_of=AS_OF)
    sheet, rows = sheet_rows(ledger_xlsx(demo, items, as_of=AS_OF))
    assert rows[0][0] == "山阴县为民办实事台账" and "2026-10-31" in rows[1][0]
    assert rows[2] == HEADERS
    body = rows[3:]
    item_rows = [r for r in body if isinstance(r[COL["seq"]], int)]
    subtotals = [r for r in body if r[COL["seq"]] == "小计"]
    assert [r[COL["seq"]] for r in item_rows] == list(range(1, len(items) + 1))
    by_id = {p.id: p for p in items}
    for row in item_rows:
        progress = by_id[row[COL["id"]]]
        assert row[COL["actual"]] == progress.actual
        assert row[COL["target"]] == progress.target
        assert row[COL["pct"]] == progress.pct
    # One subtotal per township with items, in boundary-code order, county level last.
    assert [r[COL["title"]] for r in subtotals] == [
        "岱岳镇（3项）",
        "薛圐圙乡（7项）",
        "合盛堡乡（2项）",
        "县级事项（6项）",  # with the 2021, 2025 and carried training items
    ]
    daiyue = subtotals[0]
    assert daiyue[COL["status"]] == "已完成2/3项" and "滞后1项" in daiyue[COL["flags"]]
    assert daiyue[COL["target"]] is None  # 盏, 个 and 处 do not add up
    hesheng = subtotals[2]
    assert hesheng[COL["pct"]] == 100  # pipes in 米 and wells in 眼: mean of the items
    total = body[-1]
    assert total[COL["seq"]] == "合计" and total[COL["title"]] == "山阴县（18项）"
    training = next(r for r in item_rows if r[COL["id"]] == "LG-000014")
    assert (training[COL["category"]], training[COL["status"]], training[COL["flags"]]) == (
        "培训",
        "推进中",
        "滞后",
    )
    assert training[COL["deadline"]] == dt.datetime(2026, 12, 31)
    assert sheet.freeze_panes == "C4" and sheet.page_setup.orientation == "landscape"


def test_csv_is_utf8_with_bom_one_row_per_item(demo):
    items = ledger_progress(demo, today=AS_OF, as_of=AS_OF)
    data = ledger_csv(demo, items)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS and len(rows) == 1 + len(items)
    lights = next(r for r in rows if r[COL["id"]] == "LG-000002")
    assert (lights[COL["actual"]], lights[COL["target"]], lights[COL["pct"]]) == ("12", "40", "30")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_imports_back_unchanged(demo, fmt):
    items = ledger_progress(demo, today=AS_OF)
    data = ledger_xlsx(demo, items, as_of=AS_OF) if fmt == "xlsx" else ledger_csv(demo, items)
    plan = plan_import(demo, data, f"ledger.{fmt}")
    assert (plan.ok, plan.created, plan.updated, plan.unchanged) == (True, 0, 0, 18)


def workbook(*rows, headers=HEADERS):
    book = openpyxl.Workbook()
    book.active.append(["某县台账"])
    book.active.append(headers)
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row(**values):
    return [values.get(c.key) for c in COLUMNS]


def test_import_creates_and_updates_in_one_commit(demo):
    before = demo.count("ledger")
    data = workbook(
        row(
            title="村道硬化",
            category="其他",
            township="玉井镇",
            target=3,
            unit="公里",
            measure="进度填报",
            deadline="2026/12/31",
            status="未开始",
        ),
        row(
            title="县城文化路路灯改造（二期）",
            category="路灯",
            township="岱岳镇",
            target=50,
            unit="盏",
            measure="个数",
            status="推进中",
            id="LG-000002",
            actual=999,
        ),
        row(seq="小计", title="岱岳镇（2项）", target=53),
    )
    plan = plan_import(demo, data, "x.xlsx")
    assert (plan.ok, plan.created, plan.updated, plan.unchanged) == (True, 1, 1, 0)
    result = apply_import(demo, plan, user="planner1", source="import:test", key="k1")
    assert demo.count("ledger") == before + 1
    new = demo.get("ledger", result.ids[0])["properties"]
    assert (new["category"], new["measure"], new["deadline"], new["status"]) == (
        "other",
        "entries",
        "2026-12-31",
        "not_started",
    )
    assert new["created_by"] == "planner1" and new["source"] == "import:test"
    edited = demo.get("ledger", "LG-000002")["properties"]
    assert edited["target"] == 50 and edited["version"] == 2
    assert "responsible_unit" not in edited  # a blank cell clears the field
    # Done is computed, never read: 999 in the file changed nothing.
    [lights] = [p for p in ledger_progress(demo, today=AS_OF) if p.id == "LG-000002"]
    assert lights.actual == 12.0
    # The same confirmation twice writes once.
    assert apply_import(demo, plan, user="planner1", source="import:test", key="k1").replayed


def test_every_bad_row_is_reported_and_nothing_is_written(demo):
    before = [f["properties"]["version"] for f in demo.features("ledger")]
    data = workbook(
        row(title="好的一行", category="路灯", target=5),
        row(title="", category="路灯", target=5),
        row(title="坏日期", category="路灯", target=5, deadline="明年"),
        row(title="坏数字", category="路灯", target="十个"),
        row(title="负数", category="路灯", target=-3),
        row(title="未知编号", category="路灯", id="LG-999999"),
        row(title="无图层", category="招商引资", measure="个数"),
        row(title="重复", category="路灯", id="LG-000001"),
        row(title="重复", category="路灯", id="LG-000001"),
    )
    plan = plan_import(demo, data, "x.xlsx", lang="zh")
    assert not plan.ok and plan.changes == []
    found = {(p.row, p.column) for p in plan.problems}
    assert found >= {
        (4, "事项"),
        (5, "完成时限"),
        (6, "目标数量"),
        (7, "目标数量"),
        (8, "编号"),
        (9, "类别"),
        (11, "编号"),
    }
    assert (3, "事项") not in found  # the good row is fine
    by_row = {p.row: p for p in plan.problems}
    assert by_row[5].value == "明年" and by_row[5].message.startswith("第 5 行")
    english = plan_import(demo, data, "x.xlsx", lang="en")
    assert any(p.message.startswith("Row 6:") for p in english.problems)
    with pytest.raises(ValueError):
        apply_import(demo, plan, user="p", source="t")
    assert [f["properties"]["version"] for f in demo.features("ledger")] == before


def test_english_headers_and_gbk_csv_are_read(demo):
    english = [c.en for c in COLUMNS]
    data = workbook(
        row(title="Job fair", category="Other", measure="Progress entries"), headers=english
    )
    plan = plan_import(demo, data, "x.xlsx")
    assert (plan.ok, plan.created) == (True, 1)
    assert plan.changes[0].properties["category"] == "other"
    text = "事项,类别,乡镇,目标数量,单位,计量方式\r\n农机培训,培训,后所乡,2,期,进度填报\r\n"
    plan = plan_import(demo, text.encode("gb18030"), "ledger.csv")
    assert (plan.ok, plan.created) == (True, 1)
    assert plan.changes[0].properties["category"] == "training"
    assert plan.changes[0].properties["measure"] == "entries"
    # A category that is no layer cannot count features: its progress must be entries.
    counted = text.replace("进度填报", "个数").encode("gb18030")
    assert plan_import(demo, counted, "l.csv").problems[0].column == "类别"


def test_broken_files_are_refused_with_a_message(demo):
    for data, name in ((b"not a workbook", "x.xlsx"), (b"PK\x03\x04junk", "x.xlsx")):
        plan = plan_import(demo, data, name)
        assert not plan.ok and plan.problems[0].message
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/huge.xml", b"\0" * (60 * 1024 * 1024))
    assert not plan_import(demo, bomb.getvalue(), "bomb.xlsx").ok
    no_title = workbook(["x"], headers=["名称", "数量"])
    assert "事项" in plan_import(demo, no_title, "x.xlsx").problems[0].message
    assert plan_import(demo, workbook(), "x.xlsx").problems[0].message == "文件中没有台账事项"


def test_typed_text_stays_text_in_the_workbook(demo):
    demo.update("ledger", "LG-000015", properties={"title": '=HYPERLINK("x")'}, user="p")
    items = ledger_progress(demo, today=AS_OF)
    sheet, rows = sheet_rows(ledger_xlsx(demo, items, as_of=AS_OF))
    cell = next(c for c in sheet["B"] if c.value == '=HYPERLINK("x")')
    assert cell.data_type == "s"
    assert "'=HYPERLINK" in ledger_csv(demo, items).decode("utf-8-sig")


def test_category_cells_map_to_layers_or_stay_text(demo):
    specs = demo.specs
    assert category_code(specs, "路灯") == "streetlights"
    assert category_code(specs, "Streetlights") == "streetlights"
    assert category_code(specs, "其他") == "other"
    assert category_code(specs, " 招商引资 ") == "招商引资"
