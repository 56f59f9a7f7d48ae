"""The progress report's content model and its Word and PDF renderers (#17): the tables
hold the ledger export's cells of the year's items, the gaps come ranked from the shared
ranking, the map is a picture, Word tables are Word tables and the PDF's text (CJK font
embedded) can be extracted."""

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path

import docx
import pypdf
import pytest
from geometries import point
from PIL import Image

from layers import report_map
from layers.changes import Change
from layers.gap_ranking import ranked_gaps
from layers.ledger import ledger_progress
from layers.ledger_io import ledger_csv
from layers.progress_report import (
    RANKED_KINDS,
    TABLE_COLUMNS,
    ReportParameterError,
    build_report,
    parse_report_params,
)
from layers.report_docx import report_docx
from layers.report_map import ReportFontMissing, cjk_font_path
from layers.report_pdf import report_pdf
from layers.store import GeoJSONStore

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
TODAY = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A store over a copy of the demo county (the tests only read it)."""
    data = tmp_path_factory.mktemp("report") / "data"
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, data / sub)
    return GeoJSONStore(data)


@pytest.fixture(scope="module")
def county_zh(demo):
    return build_report(demo, parse_report_params(demo, year=2026, today=TODAY))


def csv_rows(data):
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[0], rows[1:]


def flat(text):
    return re.sub(r"\s+", "", text)


def test_tables_hold_every_item_of_the_year_with_the_cells_of_the_csv_export(demo, county_zh):
    items = ledger_progress(demo, today=TODAY, as_of=TODAY, year=2026)
    header, rows = csv_rows(ledger_csv(demo, items))
    by_seq = {row[0]: row for row in rows}
    seen = []
    for table in county_zh.tables:
        columns = [header.index(label) for label in table.headers]
        for cells in table.rows:
            assert list(cells) == [by_seq[cells[0]][i] for i in columns]
            seen.append(cells[0])
        assert {i.category for i in items if i.id in table.ids} == {table.category}
    assert sorted(seen, key=int) == [row[0] for row in rows]  # every item, once
    assert len(county_zh.tables[0].headers) == len(TABLE_COLUMNS)
    # The 2021 item is not a 2026 item.
    assert "薛圐圙乡国道208沿线太阳能路灯" not in {c[1] for t in county_zh.tables for c in t.rows}


def test_title_date_and_summary_are_worded_as_such_reports_are(demo, county_zh):
    items = ledger_progress(demo, today=TODAY, as_of=TODAY, year=2026)
    assert county_zh.title == "山阴县2026年为民办实事项目进展情况（截至10月31日）"
    assert county_zh.date_line == "2026年10月31日"
    assert county_zh.summary.startswith(f"截至目前，全县2026年为民办实事项目共{len(items)}项")
    done = sum(i.finished for i in items)
    assert f"已完成{done}项" in county_zh.summary
    assert "路灯完成12盏，目标40盏，完成率30%" in county_zh.summary


def test_month_is_the_end_of_that_month_or_today_and_never_the_future(demo):
    assert parse_report_params(demo, year=2026, month=6, today=TODAY).as_of == dt.date(2026, 6, 30)
    assert parse_report_params(demo, year="2026", month="10", today=TODAY).as_of == TODAY
    assert parse_report_params(demo, year=2025, month=2, today=TODAY).as_of == dt.date(2025, 2, 28)
    assert parse_report_params(demo, year=2026, today=TODAY).as_of == TODAY
    report = build_report(demo, parse_report_params(demo, year=2026, month=6, today=TODAY))
    assert report.title.endswith("（截至6月30日）")
    assert report.summary.startswith("截至6月30日，全县2026年为民办实事项目共")


@pytest.mark.parametrize(
    ("given", "zh", "en"),
    [
        ({"year": "20x6"}, "年份无效：20x6", "The year is not valid: 20x6"),
        ({"year": 1999}, "年份无效", "The year is not valid"),
        ({"month": "13"}, "月份无效：13", "The month is not valid: 13"),
        ({"month": "六"}, "月份无效", "The month is not valid"),
        ({"month": "11"}, "尚未开始", "has not begun yet"),
        ({"township": "不存在乡"}, "没有这个乡镇：不存在乡", "There is no such township"),
        ({"lang": "fr"}, "不支持的语言", "Unsupported language: fr"),
    ],
)
def test_a_bad_parameter_is_a_422_saying_what_in_both_languages(demo, given, zh, en):
    with pytest.raises(ReportParameterError) as caught:
        parse_report_params(demo, **{"year": 2026, **given}, today=TODAY)
    assert caught.value.status == 422
    for lang in ("zh", "en"):
        message = caught.value.user_message(lang)
        assert zh in message and en in message


def test_a_township_by_id_or_name_limits_tables_summary_and_gaps(demo):
    by_id = parse_report_params(demo, year=2026, township="BD-000007", today=TODAY)
    by_name = parse_report_params(demo, year=2026, township="薛圐圙乡", today=TODAY)
    assert by_id == by_name and by_id.township == "薛圐圙乡"
    report = build_report(demo, by_id)
    townships = {cells[2] for t in report.tables for cells in t.rows}
    assert townships == {"薛圐圙乡"}
    assert report.summary.startswith("截至目前，薛圐圙乡2026年")
    assert report.gaps and {g.township for g in report.gaps} == {"薛圐圙乡"}
    assert [g.rank for g in report.gaps] == list(range(1, len(report.gaps) + 1))


def test_gaps_come_from_the_shared_ranking_kinds_taking_turns(demo, county_zh):
    gaps = county_zh.gaps
    assert len(gaps) == 10 and [g.rank for g in gaps] == list(range(1, 11))
    present = [k for k in RANKED_KINDS if ranked_gaps(demo, TODAY, kinds=[k])]
    assert present[:3] == ["lighting", "visits", "irrigation"]
    assert [g.kind for g in gaps[: len(present)]] == present  # each kind's worst first
    lights = ranked_gaps(demo, TODAY, kinds=["lighting"])
    assert gaps[0].name == lights[0].label
    assert gaps[0].figure == f"长{lights[0].figure * 1000:,.0f}米无路灯"
    assert gaps[len(present)].kind == "lighting" and gaps[len(present)].name == lights[1].label
    never = ranked_gaps(demo, TODAY, kinds=["visits"])[0]
    assert gaps[1].name == never.label and gaps[1].figure == "从未走访"


def test_the_map_is_a_picture_with_the_gaps_marked(county_zh):
    picture = Image.open(io.BytesIO(county_zh.map_png))
    assert picture.format == "PNG" and picture.size[0] >= 800
    red = sum(
        1
        for r, g, b in picture.convert("RGB").get_flattened_data()
        if r > 200 and g < 60 and b < 60
    )
    assert red > 500  # the numbered gap markers (#d62728)


def test_the_word_document_has_word_tables_text_and_the_picture(county_zh):
    document = docx.Document(io.BytesIO(report_docx(county_zh)))
    texts = [p.text for p in document.paragraphs]
    assert county_zh.title in texts and county_zh.summary in texts
    # The categories, the gaps, the residents' reports when there are some.
    assert len(document.tables) == len(county_zh.tables) + 1 + bool(county_zh.residents)
    gap_table = document.tables[len(county_zh.tables)]
    for table, model in zip(document.tables, county_zh.tables, strict=False):
        cells = [tuple(c.text for c in row.cells) for row in table.rows]
        assert cells == [model.headers, *model.rows]
    assert [c.text for c in gap_table.rows[1].cells] == list(county_zh.gaps[0].cells())
    assert len(document.inline_shapes) == 1


def test_the_pdf_text_can_be_extracted_with_the_cjk_font_embedded(county_zh):
    reader = pypdf.PdfReader(io.BytesIO(report_pdf(county_zh)))
    text = flat("".join(page.extract_text() for page in reader.pages))
    assert flat(county_zh.title) in text
    for table in county_zh.tables:
        for cells in table.rows:
            assert flat(cells[1]) in text
    embedded = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            descriptor = font.get_object().get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                embedded.add(str(font.get_object()["/BaseFont"]))
    assert any("WenQuanYi" in name for name in embedded)
    assert sum(len(page.images) for page in reader.pages) == 1


def test_an_english_report_speaks_english(demo):
    report = build_report(demo, parse_report_params(demo, year=2026, lang="en", today=TODAY))
    assert report.title == (
        "山阴县: progress of the 2026 practical works for the people (as of 31 Oct)"
    )
    assert report.summary.startswith("As of 31 Oct 2026, the county has")
    assert report.tables[0].headers[:3] == ("No.", "Item", "Township")
    assert report.gaps[0].what == "Unlit stretch of road"
    text = flat(pypdf.PdfReader(io.BytesIO(report_pdf(report))).pages[0].extract_text())
    assert flat(report.title) in text


def test_a_missing_font_is_said_with_what_to_install(monkeypatch, tmp_path):
    assert cjk_font_path().is_file()
    monkeypatch.setattr(report_map, "FONT_CANDIDATES", (tmp_path / "none.ttc",))
    with pytest.raises(ReportFontMissing) as caught:
        cjk_font_path()
    assert "fonts-wqy-microhei" in caught.value.user_message("en")
    assert "中文字体" in caught.value.user_message("zh")


@pytest.fixture
def with_reports(tmp_path):
    """A copy of the demo county whose residents' reports are three of 2026 and one of
    2025, written here (whatever the demo holds)."""
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, data / sub)
    (data / "layers" / "reports.geojson").unlink(missing_ok=True)
    store = GeoJSONStore(data)

    def report(township, status, day, department, solved=None, rating=None):
        props = {
            "category": "streetlight",
            "description": "路灯不亮",
            "status": status,
            "reported_date": day,
            "township": township,
            "department": department,
        }
        props.update({"solved_date": solved} if solved else {})
        props.update({"rating": rating} if rating else {})
        return Change("create", geometry=point(112.83, 39.52), properties=props)

    changes = [
        report("岱岳镇", "solved", "2026-03-01", "县住建局", "2026-03-05", 5),
        report("岱岳镇", "new", "2026-04-01", "县住建局"),
        report("薛圐圙乡", "closed", "2026-05-01", "县水利局", "2026-05-11", 4),
        report("岱岳镇", "new", "2025-06-01", "县住建局"),
    ]
    store.commit("reports", changes, user="planner1", source="import")
    return store


def test_residents_reports_received_solved_and_satisfaction(with_reports):
    report = build_report(with_reports, parse_report_params(with_reports, year=2026, today=TODAY))
    header, total, *rest = report.residents
    assert header == ("分组", "名称", "收到（件）", "已解决（件）", "解决率（%）", "办理中（件）",
                      "办理天数（中位数）", "满意率（%）")  # fmt: skip
    assert total == ("合计", "全县", "3", "2", "66.7", "1", "7", "100")
    assert ("乡镇", "岱岳镇", "2", "1", "50", "1", "4", "100") in rest
    assert ("乡镇", "薛圐圙乡", "1", "1", "100", "0", "10", "100") in rest
    assert ("承办部门", "县水利局", "1", "1", "100", "0", "10", "100") in rest
    assert "收到群众反映问题3件，已解决2件（66.7%），满意率100%。" in report.summary
    document = docx.Document(io.BytesIO(report_docx(report)))
    assert [tuple(c.text for c in r.cells) for r in document.tables[-1].rows] == list(
        report.residents
    )
    assert "群众反映问题办理情况" in flat(
        pypdf.PdfReader(io.BytesIO(report_pdf(report))).pages[-1].extract_text()
    )
    one = parse_report_params(with_reports, year=2026, township="岱岳镇", today=TODAY)
    rows = build_report(with_reports, one).residents
    assert rows[1] == ("合计", "岱岳镇", "2", "1", "50", "1", "4", "100")
    assert not [r for r in rows if r[0] == "乡镇"]
    assert (
        build_report(with_reports, parse_report_params(with_reports, year=2025)).residents[1][2]
        == "1"
    )
