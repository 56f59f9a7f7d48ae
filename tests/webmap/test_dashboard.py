"""/dashboard, its gap exports, the ledger export and the ``villageworks gaps`` command, on
the demo county as of 2026-10-31 (its last day of data)."""

import csv
import datetime as dt
import io
import json
import re

import openpyxl
import pyogrio
import pytest

from layers.analyses import run_gaps
from layers.ledger import ledger_progress
from webmap.app import get_store
from webmap.cli import main

AS_OF = dt.date(2026, 10, 31)
HOSTILE = "<img src=x onerror=alert(1)>${alert(2)}`"


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def page(client, url="/dashboard?as_of=2026-10-31"):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]
    return response.get_data(as_text=True)


def test_dashboard_tells_a_leader_what_is_behind_and_where(client):
    html = page(client)  # its time is a row of scripts/bench.py: dashboard
    headline = re.search(r'id="dash-headline">([^<]+)<', html).group(1)
    assert headline == (
        "15 项实事已完成 12 项，2 项滞后于计划；全县无路灯路段共 173.1 公里；"
        "133 个村中有 67 个村超过 90 天未走访，另有 47 个村问题未解决完（共 114 个村待走访）。"
    )
    assert html.count('<article class="kpi') == 11
    lights = re.search(r'data-category="streetlights" data-unit="盏">(.*?)</article>', html, re.S)
    # The 2026 plan year only: the 84 solar lights are the 2021 list's.
    assert 'data-value="12.0"' in lights.group(1) and 'data-value="40.0"' in lights.group(1)
    behind = re.search(r'id="dash-behind">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r'data-item="([^"]+)"', behind) == ["LG-000002", "LG-000014"]
    # Township and village rows link to their pages by id.
    assert '<a href="/townships/BD-000002">岱岳镇</a>' in html
    assert '<a href="/villages/VL-000001">白坊村</a>' in html
    townships = re.search(r'id="dash-townships">(.*?)</table>', html, re.S).group(1)
    assert townships.count("<tr data-township=") == 10  # nine townships and county level
    gaps = re.search(r'data-kind="lighting" data-count="(\d+)"', html)
    assert gaps.group(1) == "17" and 'data-km="173.142"' in html


def test_dashboard_is_offline_and_localised(client):
    html = page(client)
    assets = [a.split("?v=")[0] for a in re.findall(r'(?:src|href)="([^"]+)"', html)]
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert "/static/vendor/chart.js@4.6.1/dist/chart.umd.min.js" in assets
    assert "/static/vendor/leaflet@1.9.3/dist/leaflet.js" in assets
    assert "bootstrap" not in html and "jquery" not in html
    assert "tile.openstreetmap.org" not in html  # no tiles unless asked for
    assert "window.VWDash.drawMap(map_" in html
    osm = page(client, "/dashboard?as_of=2026-10-31&basemap=osm")
    assert "tile.openstreetmap.org" in osm
    english = page(client, "/dashboard?as_of=2026-10-31&lang=en")
    assert (
        "Leaders&#39; dashboard" in english and "173.1 km of road have no working light" in english
    )


def test_replaying_an_earlier_day_and_changing_thresholds(client):
    html = page(client, "/dashboard?as_of=2026-04-15&max_days=30&min_gap_m=500")
    assert 'data-as-of="2026-04-15"' in html
    assert re.search(r'data-kind="targets" data-count="(\d+)"', html).group(1) == "5"
    assert 'name="max_days" value="30"' in html and 'name="min_gap_m" value="500"' in html
    link = re.search(r'href="(/dashboard/gaps/lighting\.xlsx\?[^"]+)"', html).group(1)
    assert "min_gap_m=500" in link and "as_of=2026-04-15" in link


def test_bad_parameters_get_a_message_not_a_crash(client):
    assert client.get("/dashboard?as_of=2026-02-30").status_code == 400
    assert client.get("/dashboard?min_gap_m=-1").status_code == 400
    assert client.get("/dashboard/gaps/potholes.csv").status_code == 404
    assert client.get("/dashboard/gaps/lighting.shp").status_code == 404
    response = client.get(
        "/dashboard/gaps/visits.csv?max_days=abc", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert "max_days" in response.get_json()["error"]["message"]


def test_every_gap_exports_and_the_xlsx_reads_back(demo_app, client):
    store = get_store(demo_app)
    expected = run_gaps(store, "lighting", as_of=AS_OF)
    response = client.get("/dashboard/gaps/lighting.xlsx?as_of=2026-10-31")
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="gaps-lighting-2026-10-31.xlsx"'
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("问题类型", "图层", "编号", "名称", "乡镇")
    assert len(rows) == 1 + len(expected) == 18
    length = rows[0].index("长度（米）")
    assert sum(r[length] for r in rows[1:]) == pytest.approx(expected["length_m"].sum(), abs=1)
    assert {r[0] for r in rows[1:]} == {"无路灯路段"} and {r[1] for r in rows[1:]} == {"道路"}

    visits = client.get("/dashboard/gaps/visits.csv?as_of=2026-10-31&max_days=90")
    table = list(csv.reader(io.StringIO(visits.data.decode("utf-8-sig"))))
    assert visits.data.startswith(b"\xef\xbb\xbf") and table[0][-1] == "几何（WKT）"
    assert sum(r[0] == "超期未走访" for r in table[1:]) == 67

    doc = json.loads(client.get("/dashboard/gaps/services.geojson?as_of=2026-10-31").data)
    assert {f["properties"]["gap"] for f in doc["features"]} == {"far_from_rest_station"}
    fewer = json.loads(client.get("/dashboard/gaps/lighting.geojson?min_gap_m=5000").data)
    assert 0 < len(fewer["features"]) < 17

    gpkg = client.get("/dashboard/gaps/irrigation.gpkg?as_of=2026-10-31")
    path = demo_app.config["DATA_DIR"] + "/irrigation.gpkg"
    with open(path, "wb") as fh:
        fh.write(gpkg.data)
    assert len(pyogrio.read_dataframe(path)) == 224


def test_ledger_xlsx_export_reads_back_with_subtotals(demo_app, client):
    response = client.get("/ledger/export.xlsx?as_of=2026-10-31&year=2026")
    assert response.status_code == 200
    rows = list(
        openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)
    )
    header = list(rows[2])
    assert header[:9] == [
        "序号",
        "事项",
        "类别",
        "乡镇",
        "村",
        "目标数量",
        "单位",
        "完成数量",
        "完成率（%）",
    ]
    store = get_store(demo_app)
    items = {p.id: p for p in ledger_progress(store, today=AS_OF, as_of=AS_OF, year=2026)}
    ids = header.index("编号")
    listed = [r for r in rows[3:] if isinstance(r[0], int)]
    assert {r[ids]: r[7] for r in listed} == {i: p.actual for i, p in items.items()}
    assert [r[1] for r in rows[3:] if r[0] == "小计"] == [
        "岱岳镇（3项）",
        "薛圐圙乡（6项）",
        "合盛堡乡（2项）",
        "县级事项（4项）",
    ]
    csv_text = client.get("/ledger/export.csv").data
    assert csv_text.startswith("\ufeff序号,事项".encode())


def test_user_text_never_becomes_markup_on_the_dashboard(demo_app, client):
    store = get_store(demo_app)
    point = {"type": "Point", "coordinates": [112.8, 39.52]}
    store.create("villages", point, {"name": HOSTILE, "township": "岱岳镇"}, user="t")
    store.update("ledger", "LG-000002", properties={"title": "</script><b>x</b>"}, user="t")
    html = page(client)
    assert "<img src=x" not in html and "</script><b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;${alert(2)}`" in html  # the table, as text
    script = html[html.index("window.VWDash.drawMap") :]
    assert "\\u003cimg src=x onerror=alert(1)\\u003e${alert(2)}`" in script  # JSON, not a template


def test_cli_writes_each_analysis_in_the_format_of_its_extension(demo_app, tmp_path, capsys):
    data = demo_app.config["DATA_DIR"]
    for kind, name in (
        ("lighting", "dark.xlsx"),
        ("irrigation", "water.gpkg"),
        ("visits", "visits.csv"),
        ("services", "services.geojson"),
        ("targets", "targets.csv"),
    ):
        out = tmp_path / name
        args = ["gaps", kind, "--data", data, "--as-of", "2026-10-31", "-o", str(out)]
        assert main(args) == 0, kind
        assert out.stat().st_size > 0
    assert "wrote" in capsys.readouterr().err
    sheet = openpyxl.load_workbook(tmp_path / "dark.xlsx").active
    assert sheet.cell(row=1, column=1).value == "问题类型" and sheet.max_row == 18
    visits = (tmp_path / "visits.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(visits) == 1 + 114
    args = ["gaps", "visits", "--data", data, "--as-of", "2026-10-31", "--max-days", "400"]
    assert main([*args, "-o", str(tmp_path / "few.geojson")]) == 0
    assert len(json.loads((tmp_path / "few.geojson").read_text())["features"]) < 114
    assert (
        main(
            ["gaps", "lighting", "--data", data, "--min-gap-m", "-5", "-o", str(tmp_path / "x.csv")]
        )
        == 2
    )
    assert main(["gaps", "lighting", "--data", data, "-o", str(tmp_path / "x.txt")]) == 2
    assert "不支持的文件格式" in capsys.readouterr().err
