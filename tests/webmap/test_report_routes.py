"""/ledger/report.docx and /ledger/report.pdf, and ``villageworks report`` (#17): the
figures are those of /ledger/export.csv?year=Y row by row, the PDF's text holds the title
and every item, parameters are checked (422, both languages), reading follows the
export's rule, the ledger and dashboard pages link to it."""

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import docx
import pypdf
import pytest

from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
YEAR = 2026


def csv_rows(client, query=""):
    response = client.get(f"/ledger/export.csv?year={YEAR}{query}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    return rows[0], rows[1:]


def flat(text):
    return re.sub(r"\s+", "", text)


def test_the_word_report_has_the_figures_of_the_csv_export_row_by_row(demo_app):
    client = demo_app.test_client()
    response = client.get(f"/ledger/report.docx?year={YEAR}")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    assert "attachment" in response.headers["Content-Disposition"]
    header, rows = csv_rows(client)
    by_seq = {row[0]: row for row in rows}
    document = docx.Document(io.BytesIO(response.get_data()))
    assert document.paragraphs[0].text.startswith(f"山阴县{YEAR}年为民办实事项目进展情况（截至")
    seen = []
    items = [t for t in document.tables if t.rows[0].cells[3].text == "目标数量"]
    assert items  # then the gaps (and the residents' reports when there are some)
    for table in items:
        labels = [c.text for c in table.rows[0].cells]
        assert {"目标数量", "单位", "完成数量", "完成率（%）", "计划进度（%）"} <= set(labels)
        assert {"责任单位", "完成时限", "预警"} <= set(labels)
        columns = [header.index(label) for label in labels]
        for row in table.rows[1:]:
            cells = [c.text for c in row.cells]
            assert cells == [by_seq[cells[0]][i] for i in columns]
            seen.append(cells[0])
    assert sorted(seen, key=int) == [row[0] for row in rows]
    assert len(document.inline_shapes) == 1  # the map


def test_the_pdf_report_has_the_title_every_item_and_the_map(demo_app):
    client = demo_app.test_client()
    response = client.get(f"/ledger/report.pdf?year={YEAR}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.get_data()))
    text = flat("".join(page.extract_text() for page in reader.pages))
    assert f"山阴县{YEAR}年为民办实事项目进展情况（截至" in text
    _, rows = csv_rows(client)
    assert rows
    for row in rows:
        assert flat(row[1]) in text
    assert sum(len(page.images) for page in reader.pages) == 1


def test_month_township_and_english(demo_app):
    client = demo_app.test_client()
    response = client.get(f"/ledger/report.pdf?year={YEAR}&month=6&township=BD-000007&lang=en")
    assert response.status_code == 200
    assert "BD-000007" in response.headers["Content-Disposition"]
    text = flat("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages))
    assert flat(f"progress of the {YEAR} practical works for the people (as of 30 Jun)") in text
    assert flat("Scope: 薛圐圙乡") in text
    _, rows = csv_rows(client, "&as_of=2026-06-30")
    for row in rows:
        inside = row[3] == "薛圐圙乡"
        assert (flat(row[1]) in text) == inside, row[1]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("year=abc", ("年份无效：abc", "The year is not valid: abc")),
        ("year=2026&month=0", ("月份无效：0", "The month is not valid: 0")),
        ("year=2999&month=1", ("年份无效", "The year is not valid")),
        ("year=2026&township=nowhere", ("没有这个乡镇：nowhere", "no such township")),
        ("year=2026&lang=fr", ("不支持的语言", "Unsupported language")),
    ],
)
def test_a_bad_parameter_answers_422_in_both_languages(demo_app, query, words):
    client = demo_app.test_client()
    for fmt in ("docx", "pdf"):
        response = client.get(
            f"/ledger/report.{fmt}?{query}", headers={"Accept": "application/json"}
        )
        assert response.status_code == 422
        message = response.get_json()["error"]["message"]
        assert all(w in message for w in words), message


def test_an_unknown_format_is_not_found(demo_app):
    assert demo_app.test_client().get(f"/ledger/report.xlsx?year={YEAR}").status_code == 404


def test_reading_follows_the_rule_of_the_csv_export(demo_app, accounts):
    tokens = accounts(demo_app)
    closed = create_app(
        {
            "DATA_DIR": demo_app.config["DATA_DIR"],
            "TESTING": True,
            "SECRET_KEY": "test",
            "ANONYMOUS_READ": False,
        }
    )
    client = closed.test_client()
    anonymous = client.get(f"/ledger/report.docx?year={YEAR}")
    assert anonymous.status_code == client.get(f"/ledger/export.csv?year={YEAR}").status_code
    assert anonymous.status_code == 401
    bearer = {"Authorization": f"Bearer {tokens['viewer']}"}
    export = client.get(f"/ledger/export.csv?year={YEAR}", headers=bearer)
    report = client.get(f"/ledger/report.docx?year={YEAR}", headers=bearer)
    assert export.status_code == report.status_code == 200


def test_the_ledger_and_dashboard_pages_link_to_the_report(demo_app):
    client = demo_app.test_client()
    ledger = client.get(f"/ledger?year={YEAR}").get_data(as_text=True)
    assert re.search(rf'href="/ledger/report\.docx\?year={YEAR}[^"]*"', ledger)
    assert re.search(rf'href="/ledger/report\.pdf\?year={YEAR}[^"]*"', ledger)
    assert "进展情况报告" in ledger
    dashboard = client.get("/dashboard?lang=en").get_data(as_text=True)
    assert re.search(r'href="/ledger/report\.pdf\?year=\d{4}[^"]*lang=en', dashboard)
    assert "Progress report (PDF)" in dashboard


def villageworks(*args):
    return subprocess.run(
        [sys.executable, "-m", "webmap.cli", *args],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_writes_the_report_file(demo_app, tmp_path):
    data = demo_app.config["DATA_DIR"]
    out = tmp_path / "报告.pdf"
    done = villageworks("report", "--year", str(YEAR), "--output", str(out), "--data", data)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    text = flat(pypdf.PdfReader(out).pages[0].extract_text())
    assert f"山阴县{YEAR}年为民办实事项目进展情况" in text
    word = tmp_path / "report.docx"
    done = villageworks(
        "report", "--year", str(YEAR), "--month", "6", "--township", "薛圐圙乡",
        "--format", "docx", "--lang", "en", "--output", str(word), "--data", data,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "as of 30 Jun" in docx.Document(word).paragraphs[0].text
    bad = villageworks("report", "--year", "2026", "--month", "13", "-o", str(word), "--data", data)
    assert bad.returncode == 2 and "月份无效：13" in bad.stderr


def test_a_county_without_ledger_or_boundaries_still_gets_a_report(empty_app):
    client = empty_app.test_client()
    response = client.get(f"/ledger/report.docx?year={YEAR}")
    assert response.status_code == 200
    texts = [p.text for p in docx.Document(io.BytesIO(response.data)).paragraphs]
    assert "本年度台账中没有事项。" in texts
    assert client.get(f"/ledger/report.pdf?year={YEAR}&lang=en").status_code == 200
