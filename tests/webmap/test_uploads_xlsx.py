"""Excel workbooks through the real upload flows (issue #16): the API, the upload page's
stage -> preview -> sheet choice -> commit, and the per-layer templates read back."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from webmap.cli import main as cli

PASSWORD = "correct-horse-9"
ROOT = Path(__file__).resolve().parents[2]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


@pytest.fixture
def store(app):
    return app.extensions["villageworks.store"]


def workbook_bytes(book: Workbook) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def lights_workbook(*, notes_first: bool = True, bad_cell: bool = False) -> bytes:
    """A county-style workbook: a notes sheet, then the lights under a merged title row."""
    book = Workbook()
    first = book.active
    first.title = "说明"
    first.append(["本表由乡镇填报，坐标为 WGS84"])
    lights = book.create_sheet("路灯") if notes_first else first
    if not notes_first:
        lights.title = "路灯"
    lights.append(["山阴县 2021 年太阳能路灯台账"])
    lights.merge_cells("A1:G1")
    lights.append(["所在道路", "经度", "纬度", "供电方式", "状态", "安装日期", "灯杆高度"])
    lights.append(["东街1号", 112.8012, 39.5034, "太阳能", "正常", dt.datetime(2021, 8, 15), 6])
    lights.append(
        ["东街2号", "112.8112", "39.5134", "市电", "故障", dt.datetime(2021, 8, 16), "8.5"]
    )
    if bad_cell:
        lights.append(["东街3号", "一一二点八", 39.51, "太阳能", "正常", None, None])
    wells = book.create_sheet("水井")
    wells.append(["名称", "lon", "lat"])
    wells.append(["井1", 112.83, 39.52])
    return workbook_bytes(book)


def bearer(app, role="field"):
    return {"Authorization": f"Bearer {app.tokens[role]}", "Accept": "application/json"}


def api_upload(app, data, name, query="", **fields):
    form = {"file": (io.BytesIO(data), name), **{k: str(v) for k, v in fields.items()}}
    return app.test_client().post(
        "/api/uploads" + query,
        data=form,
        headers=bearer(app),
        content_type="multipart/form-data",
    )


def login(client, name="field1"):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 302


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def from_upload(store, upload_id):
    source = f"upload:{upload_id}"
    return [f for f in store.features("streetlights") if f["properties"].get("source") == source]


# ----------------------------------------------------------------------------- the API
def test_api_dry_run_reads_the_first_sheet_with_coordinates(app):
    r = api_upload(app, lights_workbook(), "路灯台账.xlsx", layer="streetlights", dry_run="1")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    body = r.get_json()
    assert body["format"] == "xlsx" and body["sheet"] == "路灯"
    assert body["sheets"] == ["说明", "路灯", "水井"]
    assert body["total"] == 2 and body["accepted"] == 2 and body["rejected"] == 0
    assert body["mapping"]["供电方式"] == "power_source"
    props = [f["properties"] for f in body["features"]]
    assert [p["installed_date"] for p in props] == ["2021-08-15", "2021-08-16"]
    assert [p["pole_height_m"] for p in props] == [6, 8.5]
    assert [p["power_source"] for p in props] == ["solar", "grid"]


def test_api_commit_lands_rows_and_the_sheet_can_be_named_in_the_query(app, store):
    r = api_upload(app, lights_workbook(), "t.xlsx", layer="streetlights", crs="wgs84")
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    landed = from_upload(store, r.get_json()["upload_id"])
    assert sorted(f["properties"]["road"] for f in landed) == ["东街1号", "东街2号"]
    by_name = {f["properties"]["road"]: f for f in landed}
    assert by_name["东街2号"]["geometry"]["coordinates"] == pytest.approx([112.8112, 39.5134])
    r = api_upload(
        app, lights_workbook(), "t.xlsx", query="?sheet=%E6%B0%B4%E4%BA%95", layer="wells"
    )
    body = r.get_json()
    assert body["sheet"] == "水井", body


def test_api_broken_cell_names_sheet_row_and_column_in_zh_and_en(app):
    data = lights_workbook(bad_cell=True)
    for lang, text in (
        ("zh", "工作表“路灯”第 5 行 B 列（“经度”）的值“一一二点八”不是有效坐标"),
        ("en", "Sheet “路灯”, row 5, column B (“经度”): value “一一二点八” is not a valid"),
    ):
        r = api_upload(
            app, data, "b.xlsx", query=f"?lang={lang}", layer="streetlights", dry_run="1"
        )
        body = r.get_json()
        assert body["rejected"] == 1 and body["accepted"] == 2
        (bad,) = [p for p in body["problems"] if p["severity"] == "error"]
        assert bad["row"] == 5 and bad["field"] == "经度"
        assert text in bad["message"]


def test_api_legacy_xls_and_an_xlsx_bomb_are_refused_clearly(app, store):
    before = store.count("streetlights")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024
    r = api_upload(app, ole, "台账.xls", query="?lang=en", layer="streetlights")
    assert r.status_code == 422
    (problem,) = r.get_json()["error"]["problems"]
    message = problem["message"]
    assert problem["code"] == "excel_not_supported"
    assert "Excel 97-2003" in message and ".xlsx" in message and "CSV" in message
    r = api_upload(app, ole, "台账.xls", layer="streetlights")
    assert "另存为" in r.get_json()["error"]["problems"][0]["message"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" * (30 * 1024 * 1024))
    r = api_upload(app, buf.getvalue(), "bomb.xlsx", layer="streetlights")
    assert r.status_code == 422
    assert [p["code"] for p in r.get_json()["error"]["problems"]] == ["zip_ratio"]
    assert store.count("streetlights") == before


# ------------------------------------------------------------------ the upload pages
def stage(client, data, name, **fields):
    page = client.get("/uploads/new").get_data(as_text=True)
    form = {"csrf_token": csrf_of(page), "layer": "streetlights", "crs": "wgs84", **fields}
    return client.post(
        "/uploads/new",
        data={**form, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_preview_offers_the_sheets_and_commit_lands_the_chosen_one(app, store):
    client = app.test_client()
    login(client)
    staged = stage(client, lights_workbook(), "路灯台账.xlsx")
    assert staged.status_code == 302
    url = staged.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'id="up-sheet-select"' in page
    assert '<option value="路灯" selected>路灯</option>' in page
    assert '<option value="水井" >水井</option>' in page or 'value="水井"' in page
    assert "将导入 2" in page
    form = {"csrf_token": csrf_of(page), "layer": "streetlights", "crs": "wgs84"}
    form |= {"swap_xy": "auto", "duplicates": "skip", "sheet": "说明", "action": "preview"}
    assert client.post(url, data=form).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'id="up-error"' in page and "工作表“说明”" in page
    assert '<option value="说明" selected>说明</option>' in page  # still there to change
    form["sheet"] = "路灯"
    assert client.post(url, data=form).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'id="up-commit"' in page
    before = store.count("streetlights")
    done = client.post(url, data={**form, "csrf_token": csrf_of(page), "action": "commit"})
    assert done.status_code == 302 and "/uploads/U-" in done.headers["Location"]
    assert store.count("streetlights") == before + 2


def test_upload_page_lists_templates_for_field_staff_only(app):
    anonymous = app.test_client()
    assert (
        anonymous.get("/uploads/new").status_code
        == anonymous.get("/uploads/template/streetlights.xlsx").status_code
    )
    assert anonymous.get("/uploads/template/streetlights.csv").status_code in (302, 401)
    client = app.test_client()
    login(client)
    page = client.get("/uploads/new").get_data(as_text=True)
    assert "/uploads/template/streetlights.xlsx" in page
    assert "/uploads/template/streetlights.csv" in page
    assert ".xlsx" in page.split('accept="')[1].split('"')[0]
    assert client.get("/uploads/template/streetlights.pdf").status_code == 404
    assert client.get("/uploads/template/no_such_layer.xlsx").status_code == 404


def test_xlsx_template_has_headers_drop_downs_and_notes(app, store):
    client = app.test_client()
    login(client)
    r = client.get("/uploads/template/streetlights.xlsx")
    assert r.status_code == 200 and r.mimetype == XLSX_TYPE
    assert "attachment" in r.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(r.data))
    data = book.worksheets[0]
    headers = [c.value for c in data[1]]
    spec = store.spec("streetlights")
    assert headers[:2] == ["经度", "纬度"]
    assert headers[2:] == [f.label_in("zh") for f in spec.fields if not f.computed]
    assert data.max_row == 1  # no example row that would land as a feature
    lists = {
        next(iter(dv.sqref.ranges)).coord.split(":")[0][:-1]: dv
        for dv in data.data_validations.dataValidation
    }
    column = chr(ord("A") + headers.index("供电方式"))
    check = lists[column]
    assert check.type == "list" and check.formula1 == '"太阳能,市电"'
    assert lists[chr(ord("A") + headers.index("状态"))].type == "list"
    township = lists[chr(ord("A") + headers.index("乡镇"))]  # offered, other text allowed
    assert "薛圐圙乡" in township.formula1 and not township.showErrorMessage
    notes = [[c.value for c in row] for row in book.worksheets[1].iter_rows()]
    assert any(row[0] == "供电方式" and "太阳能" in (row[3] or "") for row in notes)
    english = client.get("/uploads/template/streetlights.xlsx?lang=en")
    headers_en = [c.value for c in load_workbook(io.BytesIO(english.data)).worksheets[0][1]]
    assert headers_en[:2] == ["lon", "lat"] and "Power source" in headers_en


def test_csv_template_headers(app):
    client = app.test_client()
    login(client)
    r = client.get("/uploads/template/streetlights.csv?lang=en")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    header = r.data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:2] == ["lon", "lat"] and "Power source" in header


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_template_round_trip_rows_land(app, store, lang):
    client = app.test_client()
    login(client)
    book = load_workbook(
        io.BytesIO(client.get(f"/uploads/template/streetlights.xlsx?lang={lang}").data)
    )
    data = book.worksheets[0]
    headers = [c.value for c in data[1]]
    spec = store.spec("streetlights")
    label = {f.name: f.label_in(lang) for f in spec.fields}
    power = spec.field("power_source")
    status = spec.field("status")
    for i, (lon, lat) in enumerate(((112.8011, 39.5031), (112.8111, 39.5131)), start=1):
        row = {
            headers[0]: lon,
            headers[1]: lat,
            label["road"]: f"模板路{i}",
            label["power_source"]: power.value_label("solar", lang),
            label["status"]: status.value_label("working", lang),
            label["installed_date"]: dt.datetime(2022, 5, i),
        }
        data.append([row.get(h) for h in headers])
    r = api_upload(app, workbook_bytes(book), "filled.xlsx", layer="streetlights", crs="wgs84")
    assert r.status_code == 201, r.get_data(as_text=True)[:800]
    body = r.get_json()
    assert body["accepted"] == 2 and body["rejected"] == 0
    assert not body["unmapped_columns"]
    landed = sorted(from_upload(store, body["upload_id"]), key=lambda f: f["properties"]["road"])
    assert [f["properties"]["road"] for f in landed] == ["模板路1", "模板路2"]
    assert [f["properties"]["power_source"] for f in landed] == ["solar", "solar"]
    assert [f["properties"]["installed_date"] for f in landed] == ["2022-05-01", "2022-05-02"]


def test_preview_query_parameter_names_the_sheet_and_commit_keeps_it(app, store):
    client = app.test_client()
    login(client)
    staged = stage(client, lights_workbook(), "w.xlsx", layer="wells")
    url = staged.headers["Location"]
    page = client.get(url + "?sheet=水井").get_data(as_text=True)
    assert '<option value="水井" selected>水井</option>' in page
    assert "将导入 1" in page
    form = {"csrf_token": csrf_of(page), "layer": "wells", "crs": "wgs84", "sheet": "水井"}
    form |= {"swap_xy": "auto", "duplicates": "skip", "action": "commit"}
    before = store.count("wells")
    done = client.post(url, data=form)
    assert done.status_code == 302 and "/uploads/U-" in done.headers["Location"]
    assert store.count("wells") == before + 1


def test_line_layer_template_has_a_wkt_column_read_back(app, store):
    client = app.test_client()
    login(client, "planner1")
    r = client.get("/uploads/template/roads.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.data))
    data = book.worksheets[0]
    headers = [c.value for c in data[1]]
    assert headers == ["WKT", "名称", "等级/编号", "主要街道"]
    (check,) = data.data_validations.dataValidation
    assert str(check.sqref).startswith("D2:") and check.formula1 == '"是,否"'
    data.append(["LINESTRING (112.80 39.50, 112.81 39.51)", "模板路", "X001", "是"])
    buf = io.BytesIO()
    book.save(buf)
    form = {"file": (io.BytesIO(buf.getvalue()), "roads.xlsx"), "layer": "roads", "crs": "wgs84"}
    headers = {"Authorization": f"Bearer {app.tokens['planner']}", "Accept": "application/json"}
    r = client.post("/api/uploads", data=form, headers=headers, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)[:800]
    source = f"upload:{r.get_json()['upload_id']}"
    (road,) = [f for f in store.features("roads") if f["properties"].get("source") == source]
    assert road["properties"]["main_street"] is True and road["properties"]["name"] == "模板路"
    assert road["geometry"]["type"] == "LineString"


def test_villageworks_import_reads_a_workbook(tmp_path, capsys):
    data_dir = tmp_path / "cli"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data_dir / sub)
    path = tmp_path / "路灯台账.xlsx"
    path.write_bytes(lights_workbook())
    args = ["import", str(path), "--layer", "streetlights", "--data", str(data_dir)]
    args += ["--crs", "wgs84", "--lang", "en", "--user", "cli-test"]
    assert cli(args) == 0
    assert "added 2 feature(s) to streetlights" in capsys.readouterr().out


def test_long_or_comma_choices_go_to_a_hidden_values_sheet():
    from openpyxl import load_workbook as load

    from layers.specs import FieldSpec, LayerSpec
    from layers.upload_templates import template_xlsx

    many = tuple(f"v{i}" for i in range(80))
    labels = {"a": {"zh": "甲,乙"}, "b": {"zh": "丙"}}
    spec = LayerSpec(
        name="t",
        kind="work",
        geometry=("Point",),
        label={"zh": "测试"},
        id_prefix="T",
        fields=(
            FieldSpec("kind", "enum", {"zh": "种类"}, values=("a", "b"), value_labels=labels),
            FieldSpec("code", "enum", {"zh": "代码"}, values=many),
        ),
    )
    book = load(io.BytesIO(template_xlsx(spec, "zh", {"values": "可选值"})))
    checks = book.worksheets[0].data_validations.dataValidation
    assert [c.formula1 for c in checks] == ["'可选值'!$A$2:$A$3", "'可选值'!$B$2:$B$81"]
    lists = book["可选值"]
    assert lists.sheet_state == "hidden"
    assert [lists.cell(row=r, column=1).value for r in (1, 2, 3)] == ["种类", "甲,乙", "丙"]
    assert lists.cell(row=81, column=2).value == "v79"


def test_gauss_kruger_xy_cells_are_guessed_as_csv_ones_are(app):
    from pyproj import Transformer

    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4526", always_xy=True)
    points = [(112.8012, 39.5034), (112.8112, 39.5134)]
    book = Workbook()
    sheet = book.active
    sheet.append(["X", "Y", "供电方式", "状态"])
    for lon, lat in points:
        x, y = to_gk.transform(lon, lat)
        sheet.append([round(x, 3), f"{y:.3f}", "太阳能", "正常"])  # a number, and text
    r = api_upload(app, workbook_bytes(book), "gk.xlsx", layer="streetlights", dry_run="1")
    body = r.get_json()
    assert r.status_code == 200 and body["accepted"] == 2, body
    assert "4526" in body["crs_key"] or "4526" in body["crs"]
    got = [f["geometry"]["coordinates"] for f in body["features"]]
    for (lon, lat), (x, y) in zip(points, got, strict=True):
        assert abs(x - lon) < 1e-5 and abs(y - lat) < 1e-5
