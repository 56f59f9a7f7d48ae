"""The ledger pages: a planner creates an item, links features and sees progress computed;
entries keep who and when; roles and CSRF guard every change; xlsx import previews, then
writes all or nothing."""

import io
import re

import openpyxl
import orjson
import pytest
from geometries import point

from layers.ledger_io import COLUMNS
from layers.store import Change
from webmap.app import get_store

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(demo_app, accounts):
    accounts(demo_app)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    client.csrf = csrf(client.get("/ledger/import").get_data(as_text=True))  # a new session
    return client


def post(client, url, **data):
    return client.post(url, data={"csrf_token": client.csrf, **data})


def new_item(client, **fields):
    values = {
        "title": "文化路三期路灯",
        "category": "streetlights",
        "township": "岱岳镇",
        "target": "5",
        "unit": "盏",
        "measure": "count",
        "status": "in_progress",
        "start_date": "2026-11-01",
        "deadline": "2026-12-31",
        **fields,
    }
    response = post(client, "/ledger/new", **values)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    return response.headers["Location"].rsplit("/", 1)[1]


def actual_on_page(client, item_id):
    html = client.get(f"/ledger/{item_id}").get_data(as_text=True)
    return float(re.search(r'id="item-actual" data-value="([^"]+)"', html).group(1))


def add_lights(store, n, source="upload:U-20261101-abcdef"):
    changes = [
        Change(
            "create",
            geometry=point(112.83 + i / 1000, 39.52),
            properties={"power_source": "solar", "status": "working"},
        )
        for i in range(n)
    ]
    return store.commit("streetlights", changes, user="field1", source=source).ids


def test_planner_creates_an_item_links_features_and_sees_progress(app):
    client = signed_in(app)
    form = client.get("/ledger/new").get_data(as_text=True)
    assert 'name="title"' in form and '<option value="streetlights"' in form
    item_id = new_item(client)
    assert actual_on_page(client, item_id) == 0.0
    store = get_store(app)
    lights = add_lights(store, 4)
    page = client.get(f"/ledger/{item_id}").get_data(as_text=True)
    assert all(f'value="{fid}"' in page for fid in lights)  # offered for linking

    response = post(
        client,
        f"/ledger/{item_id}/link",
        layer="streetlights",
        ids=lights[:2],
        ids_text=f"{lights[2]}，{lights[3]}",
    )
    assert response.status_code == 302
    assert actual_on_page(client, item_id) == 4.0
    listing = client.get("/ledger").get_data(as_text=True)
    row = re.search(rf'data-item="{item_id}">(.*?)</tr>', listing, re.S).group(1)
    assert 'class="num actual" data-value="4.0"' in row and 'data-value="80.0"' in row

    post(client, f"/ledger/{item_id}/unlink", layer="streetlights", ids=[lights[0]])
    assert actual_on_page(client, item_id) == 3.0
    # Undoing the upload the lights came from lowers progress again.
    store.undo_source("streetlights", "upload:U-20261101-abcdef", user="planner1")
    assert actual_on_page(client, item_id) == 0.0


def test_unknown_or_foreign_ids_change_nothing(app):
    client = signed_in(app)
    item_id = new_item(client)
    response = post(client, f"/ledger/{item_id}/link", layer="streetlights", ids_text="SL-999999")
    assert response.status_code == 302
    assert "SL-999999" in client.get(f"/ledger/{item_id}").get_data(as_text=True)
    # A light of another item cannot be unlinked from this one.
    theirs = get_store(app).features("streetlights")[0]
    post(client, f"/ledger/{item_id}/unlink", layer="streetlights", ids=[theirs["id"]])
    assert (
        get_store(app).get("streetlights", theirs["id"])["properties"]["ledger_item"] == "LG-000001"
    )
    assert post(client, f"/ledger/{item_id}/link", layer="ledger", ids_text="x").status_code == 404


def test_entries_keep_who_and_when_and_count(app):
    client = signed_in(app)
    item_id = new_item(
        client, title="电商培训", category="training", measure="entries", target="3", unit="期"
    )
    response = post(
        client, f"/ledger/{item_id}/progress", date="2026-11-10", quantity="2", notes="第一、二期"
    )
    assert response.status_code == 302
    page = client.get(f"/ledger/{item_id}").get_data(as_text=True)
    entries = re.search(r'id="entries-table">(.*?)</table>', page, re.S).group(1)
    assert "planner1" in entries and "2026年11月10日" in entries and "第一、二期" in entries
    assert actual_on_page(client, item_id) == 2.0
    bad = post(client, f"/ledger/{item_id}/progress", date="later", quantity="-1")
    assert bad.status_code == 422
    problems = re.search(r'id="entry-problems"[^>]*>(.*?)</ul>', bad.get_data(as_text=True), re.S)
    assert "日期" in problems.group(1) and "不能小于 0" in problems.group(1)
    entry_id = get_store(app).features("ledger_progress")[-1]["id"]
    post(client, f"/ledger/{item_id}/progress/{entry_id}/delete")
    assert actual_on_page(client, item_id) == 0.0


def test_form_problems_are_shown_in_the_users_language(app):
    client = signed_in(app)
    response = post(client, "/ledger/new?lang=en", title="", category="streetlights", target="x")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "required field &#39;Title&#39; is missing" in html
    assert "&#39;Target&#39; must be a number" in html
    zh = post(client, "/ledger/new?lang=zh", title="", category="streetlights").get_data(
        as_text=True
    )
    assert "缺少必填字段“事项”" in zh


def test_edit_saves_with_the_version_seen_and_refuses_a_stale_one(app):
    client = signed_in(app)
    page = client.get("/ledger/LG-000002").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    fields = {c.field: "" for c in COLUMNS if c.field and c.field != "id"}
    fields.update(
        title="文化路二期（调整）",
        category="streetlights",
        township="岱岳镇",
        target="45",
        unit="盏",
        measure="count",
        status="in_progress",
    )
    assert post(client, "/ledger/LG-000002", version=version, **fields).status_code == 302
    item = get_store(app).get("ledger", "LG-000002")["properties"]
    assert (item["title"], item["target"], item["updated_by"]) == (
        "文化路二期（调整）",
        45,
        "planner1",
    )
    stale = post(client, "/ledger/LG-000002", version=version, **fields)
    assert stale.status_code == 412


def test_roles_and_csrf_guard_every_change(app):
    anonymous = app.test_client()
    assert anonymous.get("/ledger").status_code == 200
    assert anonymous.get("/ledger/LG-000014").status_code == 200
    assert 'id="ledger-edit"' not in anonymous.get("/ledger/LG-000014").get_data(as_text=True)
    assert anonymous.get("/ledger/new").status_code == 401
    viewer = signed_in(app, "viewer1")
    assert post(viewer, "/ledger/new", title="x", category="other").status_code == 403
    assert (
        post(viewer, "/ledger/LG-000014/progress", date="2026-11-01", quantity="1").status_code
        == 403
    )
    planner = signed_in(app)
    no_token = planner.post("/ledger/new", data={"title": "x", "category": "other"})
    assert no_token.status_code == 400
    assert get_store(app).count("ledger") == 18
    assert planner.get("/ledger/LG-999999").status_code == 404


def test_titles_are_text_everywhere(app):
    client = signed_in(app)
    item_id = new_item(client, title="<script>alert(1)</script>")
    for url in ("/ledger", f"/ledger/{item_id}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def workbook(rows):
    book = openpyxl.Workbook()
    book.active.append([c.zh for c in COLUMNS])
    for values in rows:
        book.active.append([values.get(c.key) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_import_previews_then_writes_everything_once(app):
    client = signed_in(app)
    assert 'type="file"' in client.get("/ledger/import").get_data(as_text=True)
    data = workbook(
        [
            {
                "title": "村道硬化",
                "category": "其他",
                "target": 3,
                "unit": "公里",
                "measure": "进度填报",
            },
            {
                "title": "农机培训",
                "category": "培训",
                "target": 2,
                "unit": "期",
                "measure": "进度填报",
            },
        ]
    )
    preview = client.post(
        "/ledger/import",
        data={"csrf_token": client.csrf, "file": (io.BytesIO(data), "台账.xlsx")},
        content_type="multipart/form-data",
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-created="2"' in html
    assert get_store(app).count("ledger") == 18  # nothing written yet
    token = re.search(r'name="token" value="([A-Za-z0-9_-]{32})"', html).group(1)
    done = post(client, "/ledger/import/confirm", token=token, ext="xlsx")
    assert done.status_code == 302 and get_store(app).count("ledger") == 20
    assert "导入完成：新增 2 项" in client.get("/ledger").get_data(as_text=True)
    assert post(client, "/ledger/import/confirm", token=token, ext="xlsx").status_code == 404
    assert (
        post(client, "/ledger/import/confirm", token="../../secret_key", ext="xlsx").status_code
        == 404
    )


def _staged_import(app, client):
    data = workbook([{"title": "新项", "category": "路灯", "target": 3, "unit": "盏"}])
    preview = client.post(
        "/ledger/import",
        data={"csrf_token": client.csrf, "file": (io.BytesIO(data), "台账.xlsx")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    return re.search(r'name="token" value="([A-Za-z0-9_-]{32})"', html).group(1)


def test_a_previewed_import_is_its_importers_only(app):
    from layers.users import UserStore

    UserStore(app.config["DATA_DIR"]).add("planner2", "planner", PASSWORD)
    token = _staged_import(app, signed_in(app))
    other = signed_in(app, "planner2")
    assert post(other, "/ledger/import/confirm", token=token, ext="xlsx").status_code == 404
    assert get_store(app).count("ledger") == 18


def test_a_previewed_import_expires_after_a_day(app):
    client = signed_in(app)
    token = _staged_import(app, client)
    files, meta_path = get_store(app).files, f"ledger_imports/staging/{token}/meta.json"
    meta = orjson.loads(files.read(meta_path))
    meta["created"] -= 25 * 3600
    files.write(meta_path, orjson.dumps(meta))
    assert post(client, "/ledger/import/confirm", token=token, ext="xlsx").status_code == 404
    assert get_store(app).count("ledger") == 18


def test_import_with_problems_lists_them_and_writes_nothing(app):
    client = signed_in(app)
    data = workbook(
        [
            {"title": "好", "category": "路灯"},
            {"title": "坏", "category": "路灯", "deadline": "明年"},
        ]
    )
    response = client.post(
        "/ledger/import?lang=en",
        data={"csrf_token": client.csrf, "file": (io.BytesIO(data), "ledger.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    table = re.search(
        r'id="import-problems">(.*?)</table>', response.get_data(as_text=True), re.S
    ).group(1)
    assert '<td class="num">3</td><td>Deadline</td><td>明年</td>' in table
    assert "import-confirm" not in response.get_data(as_text=True)
    assert get_store(app).count("ledger") == 18
