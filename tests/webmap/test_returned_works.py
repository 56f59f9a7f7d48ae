"""Back to the submitter (issue #14): a work a planner returned appears for the account
that submitted it, on /capture (fetched, never in the page the service worker keeps) and
on its upload list, with the planner's comment; that account corrects it on the feature
page and sends it again (``submitted``); a field account edits nothing else there.
Phone captures are listed on /uploads like file uploads."""

import io
import re
from pathlib import Path

import orjson
import pytest

from layers.users import UserStore
from webmap.app import get_store

PASSWORD = "correct-horse-9"
ROOT = Path(__file__).resolve().parents[2]
LIGHTS_CSV = ROOT / "tests" / "data" / "import" / "shanyin" / "lights_excel_gbk.csv"
COMMENT = "灯杆位置偏了 <b>请重新定位</b>"


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    UserStore(demo_app.config["DATA_DIR"]).add("field2", "field", PASSWORD)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def capture(app, key="returned-test-1", lon=112.8161):
    body = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": [lon, 39.5268]},
        "accuracy_m": 5.0,
        "location_source": "gps",
        "properties": {"power_source": "solar", "status": "working"},
    }
    r = app.test_client().post(
        "/api/capture",
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Idempotency-Key": key},
        content_type="application/json",
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["feature"]["id"]


def decide(planner, fid, decision, comment=""):
    page = planner.get("/review").get_data(as_text=True)
    r = planner.post(
        "/review/decide",
        data={
            "csrf_token": csrf(page),
            "decision": decision,
            "item": f"streetlights/{fid}",
            "comment": comment,
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-500:]


def returned_json(client, lang=""):
    r = client.get("/api/capture/returned" + (f"?lang={lang}" if lang else ""))
    assert r.status_code == 200
    assert "no-store" in r.headers["Cache-Control"]
    return r.get_json()["returned"]


def edit_form(client, fid):
    html = client.get(f"/features/streetlights/{fid}").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="vw-edit-form".*?</form>', html, re.S)
    assert form, "no edit form"
    version = re.search(r'name="version" value="(\d+)"', form.group(0)).group(1)
    return csrf(html), version


def no_edit_form(app, client, fid):
    """The page offers no form (the account may not change the work), yet a hand-made
    post gets a token and the version: what it then sends must still be refused."""
    html = client.get(f"/features/streetlights/{fid}").get_data(as_text=True)
    assert 'id="vw-edit-form"' not in html
    version = get_store(app).get("streetlights", fid)["properties"]["version"]
    return csrf(html), str(version)


def test_a_returned_capture_is_listed_for_its_submitter_with_the_comment(app):
    fid = capture(app)
    field = signed_in(app, "field1")
    assert returned_json(field) == []
    decide(signed_in(app), fid, "returned", COMMENT)
    [item] = returned_json(field)
    assert (item["layer"], item["id"], item["comment"]) == ("streetlights", fid, COMMENT)
    assert item["layer_label"] == get_store(app).spec("streetlights").label_in("zh")
    assert item["url"] == f"/features/streetlights/{fid}#vw-edit"
    [en] = returned_json(field, "en")
    assert en["layer_label"] == get_store(app).spec("streetlights").label_in("en")
    assert en["url"] == f"/features/streetlights/{fid}?lang=en#vw-edit"
    assert returned_json(signed_in(app, "field2")) == []  # not theirs
    # The page (kept offline by the service worker) holds the section, never the works.
    page = field.get("/capture?lang=zh").get_data(as_text=True)
    assert 'id="cap-returned"' in page and "退回给我的" in page
    assert fid not in page and "灯杆位置偏了" not in page
    assert "Returned to me" in field.get("/capture?lang=en").get_data(as_text=True)
    assert app.test_client().get("/api/capture/returned").status_code in (302, 401)


def test_the_submitter_corrects_a_returned_work_and_sends_it_again(app):
    fid = capture(app)
    planner = signed_in(app)
    decide(planner, fid, "returned", COMMENT)
    field = signed_in(app, "field1")
    token, version = edit_form(field, fid)
    r = field.post(
        f"/features/streetlights/{fid}/edit",
        data={"csrf_token": token, "version": version, "status": "faulty",
              "power_source": "solar", "x": "112.8170", "y": "39.5270", "crs": "wgs84"},
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    props = get_store(app).get("streetlights", fid)["properties"]
    assert (props["review"], props["status"], props["updated_by"]) == (
        "submitted",
        "faulty",
        "field1",
    )
    assert get_store(app).get("streetlights", fid)["geometry"]["coordinates"][:2] == [
        112.817,
        39.527,
    ]
    assert returned_json(field) == []
    assert fid in planner.get("/review").get_data(as_text=True)
    history = get_store(app).history("streetlights", fid)
    assert [h["source"] for h in history] == ["capture", "review", "page"]


def test_a_field_account_edits_only_its_own_works_that_are_not_approved(app):
    fid = capture(app)
    planner = signed_in(app)
    decide(planner, fid, "returned", COMMENT)
    other = signed_in(app, "field2")
    token, version = no_edit_form(app, other, fid)
    r = other.post(
        f"/features/streetlights/{fid}/edit",
        data={"csrf_token": token, "version": version, "status": "faulty"},
    )
    assert r.status_code == 403
    assert "field2" in r.get_data(as_text=True) and "只能修改自己提交" in r.get_data(as_text=True)
    before = get_store(app).get("streetlights", "SL-000001")
    field = signed_in(app, "field1")
    token, version = no_edit_form(app, field, "SL-000001")
    r = field.post(
        "/features/streetlights/SL-000001/edit?lang=en",
        data={"csrf_token": token, "version": version, "status": "faulty"},
    )
    assert r.status_code == 403
    assert "may change only works it submitted" in r.get_data(as_text=True)
    assert get_store(app).get("streetlights", "SL-000001") == before
    decide(planner, fid, "approved")  # its own work, once approved, is the planners'
    token, version = no_edit_form(app, field, fid)
    r = field.post(
        f"/features/streetlights/{fid}/edit",
        data={"csrf_token": token, "version": version, "status": "faulty"},
    )
    assert r.status_code == 403
    assert get_store(app).get("streetlights", fid)["properties"]["review"] == "approved"


def test_the_upload_list_shows_its_submitter_the_returned_rows(app):
    form = {"file": (io.BytesIO(LIGHTS_CSV.read_bytes()), "路灯.csv"), "layer": "streetlights"}
    r = app.test_client().post(
        "/api/uploads",
        data=form,
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert r.status_code in (200, 201), r.get_data(as_text=True)[:500]
    upload_id = r.get_json()["upload_id"]
    ids = [
        f["id"]
        for f in get_store(app).features("streetlights")
        if f["properties"].get("source") == f"upload:{upload_id}"
    ]
    assert len(ids) == 3
    planner = signed_in(app)
    decide(planner, ids[0], "returned", COMMENT)
    html = signed_in(app, "field1").get("/uploads?lang=zh").get_data(as_text=True)
    pattern = rf'<tr class="up-returned" data-returned-for="{upload_id}">.*?</tr>'
    row = re.search(pattern, html, re.S)
    assert row, "no returned row for the upload"
    assert "1 行被退回" in row.group(0)
    assert f"/features/streetlights/{ids[0]}#vw-edit" in row.group(0)
    assert "灯杆位置偏了 &lt;b&gt;请重新定位&lt;/b&gt;" in row.group(0)  # text, not markup
    assert ids[1] not in row.group(0)
    en = signed_in(app, "field1").get("/uploads?lang=en").get_data(as_text=True)
    assert "1 rows returned" in en
    assert "data-returned-for" not in planner.get("/uploads").get_data(as_text=True)


def test_phone_captures_are_listed_next_to_file_uploads(app):
    fid = capture(app)
    viewer = signed_in(app, "viewer1")
    html = viewer.get("/uploads").get_data(as_text=True)
    row = re.search(rf'<tr data-capture="streetlights/{fid}".*?</tr>', html, re.S)
    assert row, "the capture is not listed"
    assert "field1" in row.group(0) and "待验收" in row.group(0)
    assert f"/features/streetlights/{fid}" in row.group(0)
    decide(signed_in(app), fid, "returned", COMMENT)
    en = viewer.get("/uploads?lang=en").get_data(as_text=True)
    row = re.search(rf'<tr data-capture="streetlights/{fid}".*?</tr>', en, re.S)
    assert "returned" in row.group(0) and "Phone captures" in en
