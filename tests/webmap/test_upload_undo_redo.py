"""Undoing an upload asks for confirmation and can be redone (issue #14): GET shows what
will be undone (how many features) with a button, POST does it; an undone upload's
features come back through the store's restore, as they were, each with its history;
both for planners only, with CSRF, through the same store commit."""

import io
import re
from pathlib import Path

import orjson
import pytest

from webmap.app import get_store

PASSWORD = "correct-horse-9"
ROOT = Path(__file__).resolve().parents[2]
LIGHTS_CSV = ROOT / "tests" / "data" / "import" / "shanyin" / "lights_excel_gbk.csv"
SYSTEM = ("version", "updated_at", "updated_by")


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def upload(app):
    """Three lights uploaded by the field account: the upload's id and its features."""
    form = {"file": (io.BytesIO(LIGHTS_CSV.read_bytes()), "路灯.csv"), "layer": "streetlights"}
    r = app.test_client().post(
        "/api/uploads",
        data=form,
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert r.status_code in (200, 201), r.get_data(as_text=True)[:500]
    upload_id = r.get_json()["upload_id"]
    return upload_id, mine(app, upload_id)


def mine(app, upload_id):
    return {
        f["id"]: f
        for f in get_store(app).features("streetlights")
        if f["properties"].get("source") == f"upload:{upload_id}"
    }


def without_system(feature):
    props = {k: v for k, v in feature["properties"].items() if k not in SYSTEM}
    return {**feature, "properties": props}


def test_undo_asks_first_and_redo_brings_the_features_back_with_history(app):
    upload_id, before = upload(app)
    assert len(before) == 3
    planner = signed_in(app)
    listing = planner.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert f'href="/uploads/{upload_id}/undo"' in listing
    page = planner.get(f"/uploads/{upload_id}/undo?lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "撤销，删除 3 个要素" in html and 'id="up-confirm-form"' in html
    assert len(mine(app, upload_id)) == 3  # looking changes nothing
    r = planner.post(f"/uploads/{upload_id}/undo", data={"csrf_token": csrf(html)})
    assert r.status_code == 302
    assert mine(app, upload_id) == {}
    listing = planner.get("/uploads").get_data(as_text=True)
    assert f'href="/uploads/{upload_id}/redo"' in listing
    page = planner.get(f"/uploads/{upload_id}/redo?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Redo: restore 3 features" in html
    assert mine(app, upload_id) == {}
    r = planner.post(f"/uploads/{upload_id}/redo", data={"csrf_token": csrf(html)})
    assert r.status_code == 302
    after = mine(app, upload_id)
    assert {k: without_system(v) for k, v in after.items()} == {
        k: without_system(v) for k, v in before.items()
    }
    fid = sorted(after)[0]
    sources = [h["source"] for h in get_store(app).history("streetlights", fid)]
    assert sources[-2:] == [f"undo:upload:{upload_id}", f"redo:upload:{upload_id}"]
    assert after[fid]["properties"]["updated_by"] == "planner1"
    detail = planner.get(f"/uploads/{upload_id}?lang=zh").get_data(as_text=True)
    assert "已导入" in detail and "重做：planner1" in detail
    again = planner.get(f"/uploads/{upload_id}/undo").get_data(as_text=True)
    assert "3" in re.search(r'data-count="(\d+)"', again).group(1)  # it can be undone again


def test_redo_brings_back_only_what_the_undo_deleted(app):
    upload_id, before = upload(app)
    planner = signed_in(app)
    gone = sorted(before)[0]
    page = planner.get(f"/features/streetlights/{gone}").get_data(as_text=True)
    r = planner.post(
        f"/features/streetlights/{gone}/delete", data={"csrf_token": csrf(page), "reason": "重复"}
    )
    assert r.status_code == 302
    html = planner.get(f"/uploads/{upload_id}/undo").get_data(as_text=True)
    assert re.search(r'data-count="(\d+)"', html).group(1) == "2"
    planner.post(f"/uploads/{upload_id}/undo", data={"csrf_token": csrf(html)})
    html = planner.get(f"/uploads/{upload_id}/redo").get_data(as_text=True)
    assert re.search(r'data-count="(\d+)"', html).group(1) == "2"
    planner.post(f"/uploads/{upload_id}/redo", data={"csrf_token": csrf(html)})
    assert sorted(mine(app, upload_id)) == sorted(before)[1:]
    assert get_store(app).get("streetlights", gone) is None


def test_undo_and_redo_need_a_planner_csrf_and_the_right_state(app):
    upload_id, before = upload(app)
    field = signed_in(app, "field1")
    assert field.get(f"/uploads/{upload_id}/undo").status_code == 403
    assert f"/uploads/{upload_id}/undo" not in field.get("/uploads").get_data(as_text=True)
    planner = signed_in(app)
    refused = planner.get(f"/uploads/{upload_id}/redo?lang=en")
    assert refused.status_code == 409
    assert "was not undone" in refused.get_data(as_text=True)
    assert 'id="up-confirm-form"' not in refused.get_data(as_text=True)
    token = csrf(planner.get(f"/uploads/{upload_id}/undo").get_data(as_text=True))
    assert planner.post(f"/uploads/{upload_id}/redo", data={"csrf_token": token}).status_code == 400
    assert planner.post(f"/uploads/{upload_id}/undo").status_code == 400  # no CSRF token
    assert len(mine(app, upload_id)) == 3
    assert planner.post(f"/uploads/{upload_id}/undo", data={"csrf_token": token}).status_code == 302
    assert planner.post(f"/uploads/{upload_id}/redo").status_code == 400  # no CSRF token
    own = csrf(field.get("/uploads/new").get_data(as_text=True))
    assert field.post(f"/uploads/{upload_id}/redo", data={"csrf_token": own}).status_code == 403
    assert mine(app, upload_id) == {}
    refused = planner.get(f"/uploads/{upload_id}/undo?lang=zh")
    assert refused.status_code == 409 and "已撤销，不能再撤销" in refused.get_data(as_text=True)


def test_an_upload_undone_before_redo_existed_is_redone_from_its_history(app):
    """A record undone by an older version holds no ``undone_ids``: the features whose
    last change was that undo come back (and not one deleted by hand before it)."""
    upload_id, before = upload(app)
    planner = signed_in(app)
    gone = sorted(before)[0]
    page = planner.get(f"/features/streetlights/{gone}").get_data(as_text=True)
    planner.post(
        f"/features/streetlights/{gone}/delete", data={"csrf_token": csrf(page), "reason": "重复"}
    )
    html = planner.get(f"/uploads/{upload_id}/undo").get_data(as_text=True)
    planner.post(f"/uploads/{upload_id}/undo", data={"csrf_token": csrf(html)})
    files, meta_path = app.extensions["villageworks.store"].files, f"uploads/{upload_id}/meta.json"
    meta = orjson.loads(files.read(meta_path))
    del meta["undone_ids"]
    files.write(meta_path, orjson.dumps(meta))
    html = planner.get(f"/uploads/{upload_id}/redo").get_data(as_text=True)
    assert re.search(r'data-count="(\d+)"', html).group(1) == "2"
    planner.post(f"/uploads/{upload_id}/redo", data={"csrf_token": csrf(html)})
    assert sorted(mine(app, upload_id)) == sorted(before)[1:]
