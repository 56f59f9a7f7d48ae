"""Field capture (page, JSON endpoint, photos, offline shell) and the upload pages."""

import hashlib
import io
import json
import re
from pathlib import Path

import orjson
import pytest

from layers import photos as photos_module
from layers.photos import PhotoStore, photos_for

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "tests" / "data" / "photos"
SHANYIN = ROOT / "tests" / "data" / "import" / "shanyin"
PASSWORD = "correct-horse-9"
HERE = {"type": "Point", "coordinates": [112.8201, 39.5121]}


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


@pytest.fixture
def store(app):
    return app.extensions["villageworks.store"]


def headers(app, role="field", key=None):
    out = {"Authorization": f"Bearer {app.tokens[role]}", "Accept": "application/json"}
    if key:
        out["Idempotency-Key"] = key
    return out


def capture_json(app, body, role="field", key=None):
    return app.test_client().post(
        "/api/capture",
        data=orjson.dumps(body),
        headers=headers(app, role, key),
        content_type="application/json",
    )


def capture_multipart(app, body, files, key=None):
    data = {
        "capture": json.dumps(body),
        "photos": [(io.BytesIO(content), name) for name, content in files],
    }
    return app.test_client().post(
        "/api/capture", data=data, headers=headers(app, key=key), content_type="multipart/form-data"
    )


def light(**extra):
    return {
        "layer": "streetlights",
        "geometry": HERE,
        "accuracy_m": 6.0,
        "location_source": "gps",
        "properties": {"power_source": "solar", "pole_height_m": "8"},
        **extra,
    }


def login(client, name):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"name": name, "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


# ------------------------------------------------------------------ capture endpoint
def test_capture_creates_one_feature_checked_by_the_spec(app, store):
    before = store.count("streetlights")
    response = capture_json(app, light(), key="cap-0001-aaaa")
    assert response.status_code == 201, response.json
    body = response.json
    feature = store.get("streetlights", body["id"])
    assert feature["properties"]["power_source"] == "solar"
    assert feature["properties"]["pole_height_m"] == 8.0  # "8" from the form, converted
    assert feature["properties"]["source"] == "capture"
    assert feature["properties"]["created_by"] == "field1"
    assert feature["geometry"]["coordinates"] == HERE["coordinates"]
    assert store.count("streetlights") == before + 1


def test_retries_with_one_key_land_exactly_once(app, store):
    before = store.count("streetlights")
    answers = [capture_json(app, light(), key="cap-retry-0001") for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 200, 200, 200]
    assert len({a.json["id"] for a in answers}) == 1
    assert [a.json["replayed"] for a in answers] == [False, True, True, True]
    assert store.count("streetlights") == before + 1
    other = capture_json(app, light(), key="cap-retry-0002")  # a new capture, same place
    assert other.status_code == 201
    assert "capture_duplicate" in [w["code"] for w in other.json["warnings"]]


def test_keys_of_two_users_do_not_collide(app, accounts, store):
    from layers.users import UserStore

    users = UserStore(app.config["DATA_DIR"])
    users.add("field2", "field", PASSWORD)
    app.tokens["field2"] = users.new_token("field2")
    first = capture_json(app, light(), key="same-key-0001")
    second = capture_json(app, light(), role="field2", key="same-key-0001")
    assert second.status_code == 201 and second.json["id"] != first.json["id"]


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 101, "<script>x</script>"])
def test_malformed_keys_are_refused(app, key):
    response = capture_json(app, light(), key=key)
    assert response.status_code == 400 and response.json["error"]["code"] == "capture_bad_key"


def test_accuracy_limit_refuses_then_warns_when_confirmed(app, store):
    before = store.count("streetlights")
    refused = capture_json(app, light(accuracy_m=35.0), key="acc-0000-0001")
    assert refused.status_code == 422
    problem = refused.json["error"]["problems"][0]
    assert problem["code"] == "accuracy_too_low"
    assert "35" in problem["message"] and "20" in problem["message"]
    assert store.count("streetlights") == before
    accepted = capture_json(
        app, light(accuracy_m=35.0, accept_low_accuracy=True), key="acc-0000-0002"
    )
    assert accepted.status_code == 201
    assert [w["code"] for w in accepted.json["warnings"]] == ["accuracy_over_limit"]
    tapped = capture_json(app, light(accuracy_m=None, location_source="map"), key="acc-0000-0003")
    assert tapped.status_code == 201 and tapped.json["location_source"] == "map"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"geometry": {"type": "Point", "coordinates": [13.7, 45.3]}}, "capture_outside_area"),
        ({"geometry": {"type": "Point", "coordinates": [0, 0]}}, "capture_null_island"),
        ({"geometry": {"type": "Point", "coordinates": [112.8, "39.5"]}}, "capture_bad_location"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}},
            "capture_bad_location",
        ),
        ({"geometry": None}, "capture_no_location"),
        ({"properties": {"pole_height_m": "8"}}, "required"),
        ({"properties": {"power_source": "wind"}}, "not_allowed"),
    ],
)
def test_refused_captures_name_the_problem_and_write_nothing(app, store, change, code):
    before = store.count("streetlights")
    response = capture_json(app, light(**change), key="bad-capture-01")
    assert response.status_code == 422
    problems = response.json["error"]["problems"]
    assert code in [p["code"] for p in problems]
    if code == "capture_outside_area":
        assert "山阴县" in problems[0]["message"]
    assert store.count("streetlights") == before
    assert not app.extensions["villageworks.store"].files.list("photos")


def test_capture_needs_a_field_account_and_a_point_layer(app):
    assert capture_json(app, light(), role="viewer").status_code == 403
    pipes = capture_json(app, {**light(), "layer": "pipes"})
    assert pipes.status_code == 400
    assert pipes.json["error"]["code"] == "capture_not_point_layer"
    bad = app.test_client().post(
        "/api/capture", data=b"{not json", headers=headers(app), content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json["error"]["code"] == "capture_bad_payload"


def test_session_capture_needs_the_csrf_token(app):
    client = app.test_client()
    login(client, "field1")
    body = orjson.dumps(light())
    assert (
        client.post(
            "/api/capture",
            data=body,
            content_type="application/json",
            headers={"Accept": "application/json"},
        ).status_code
        == 400
    )
    page = client.get("/capture").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    ok = client.post(
        "/api/capture",
        data=body,
        content_type="application/json",
        headers={"X-CSRF-Token": token, "Idempotency-Key": "sess-cap-001"},
    )
    assert ok.status_code == 201


# --------------------------------------------------------------------------- photos
def test_photo_is_stored_linked_and_served(app, store):
    jpeg = (PHOTOS / "Canon_40D.jpg").read_bytes()
    response = capture_multipart(app, light(), [("我的照片.jpg", jpeg)], key="photo-0001-a")
    assert response.status_code == 201, response.json
    fid, [photo_id] = response.json["id"], response.json["photos"]
    stored = store.files.read(f"photos/{photo_id}.jpg") or b""  # re-encoded, no EXIF
    assert stored[:3] == b"\xff\xd8\xff" and b"Exif\x00\x00" not in stored
    linked = photos_for(store.files, "streetlights", fid)
    assert [p["id"] for p in linked] == [photo_id]
    assert linked[0]["filename"] == "我的照片.jpg" and linked[0]["kind"] == "jpeg"
    assert linked[0]["sha256"] == hashlib.sha256(jpeg).hexdigest()
    assert "photos" not in store.get("streetlights", fid)["properties"]  # spec untouched
    served = app.test_client().get(response.json["photo_urls"][0])
    assert served.status_code == 200 and served.data == stored
    assert served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_photo_with_gps_places_and_dates_the_feature(app, store):
    body = {
        "layer": "streetlights",
        "geometry": None,
        "location_source": "photo",
        "properties": {"power_source": "solar"},
    }
    jpeg = (PHOTOS / "shanyin_phone.jpg").read_bytes()
    response = capture_multipart(app, body, [("IMG_0001.jpg", jpeg)], key="photo-gps-0001")
    assert response.status_code == 201, response.json
    assert response.json["location_source"] == "photo"
    feature = store.get("streetlights", response.json["id"])
    assert feature["geometry"]["coordinates"] == pytest.approx([112.8123, 39.5071], abs=1e-7)
    assert feature["properties"]["installed_date"] == "2023-06-01"


def test_photo_without_gps_cannot_place_a_feature(app):
    body = {"layer": "streetlights", "geometry": None, "properties": {"power_source": "solar"}}
    response = capture_multipart(app, body, [("a.jpg", (PHOTOS / "Canon_40D.jpg").read_bytes())])
    assert response.status_code == 422
    assert response.json["error"]["problems"][0]["code"] == "capture_no_location"
    assert not app.extensions["villageworks.store"].files.list("photos")


@pytest.mark.parametrize(
    "content",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"<html>hi</html>",
        b"GIF89a\x01\x00\x01\x00",
        b"\xff\xd8",
    ],
)
def test_files_that_are_not_jpeg_or_png_are_refused(app, store, content):
    before = store.count("streetlights")
    response = capture_multipart(app, light(), [("photo.jpg", content)], key="notimage-0001")
    assert response.status_code == 422
    assert response.json["error"]["problems"][0]["code"] == "photo_not_image"
    assert store.count("streetlights") == before
    assert not app.extensions["villageworks.store"].files.list("photos")


def test_photo_size_is_capped(app, monkeypatch):
    monkeypatch.setattr(photos_module, "MAX_PHOTO_BYTES", 1000)
    response = capture_multipart(
        app, light(), [("big.jpg", (PHOTOS / "Canon_40D.jpg").read_bytes())]
    )
    assert response.status_code == 422
    assert response.json["error"]["problems"][0]["code"] == "photo_too_large"


def test_retried_capture_with_photo_keeps_one_file_and_one_link(app):
    jpeg = (PHOTOS / "DSCN0010.jpg").read_bytes()
    first = capture_multipart(app, light(), [("a.jpg", jpeg)], key="photo-retry-001")
    again = capture_multipart(app, light(), [("a.jpg", jpeg)], key="photo-retry-001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["photos"] == again.json["photos"]
    files = app.extensions["villageworks.store"].files
    assert len([p for p in files.list("photos") if p.startswith("photos/P-")]) == 1
    assert len(PhotoStore(files).for_feature("streetlights", first.json["id"])) == 1


@pytest.mark.parametrize(
    "photo_id", ["nope", "P-" + "0" * 24, "..%2Fusers.json", "P-../../secret_key"]
)
def test_unknown_or_malformed_photo_ids_are_404(app, photo_id):
    assert app.test_client().get(f"/photos/{photo_id}").status_code == 404


# ------------------------------------------------------------------------ capture page
def test_capture_page_asks_for_login_then_field_role(app):
    client = app.test_client()
    response = client.get("/capture")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "viewer1")
    assert client.get("/capture").status_code == 403


def test_capture_form_comes_from_the_specs(app):
    client = app.test_client()
    login(client, "field1")
    page = client.get("/capture").get_data(as_text=True)
    assert 'name="csrf-token"' in page and 'rel="manifest"' in page
    fieldset = page.split('data-layer="streetlights"')[1].split("</fieldset>")[0]
    assert '<option value="solar" >太阳能</option>' in fieldset
    assert 'name="power_source" required' in fieldset
    assert '<abbr class="req"' in fieldset
    assert '灯杆高度 <span class="unit">(米)</span>' in fieldset  # units in Chinese (#16)
    assert '灯具功率 <span class="unit">(瓦)</span>' in fieldset
    assert 'type="number" inputmode="decimal" step="any" min="0" max="40"' in fieldset
    assert 'name="installed_date" type="date"' in fieldset
    assert '<option value="working" selected>正常</option>' in fieldset  # spec default
    assert "本图层要求定位精度不超过 20 米" in fieldset
    assert 'data-accuracy-limit="20"' in page
    assert 'data-layer="pipes"' not in page  # lines cannot be captured as a point
    english = client.get("/capture?lang=en").get_data(as_text=True)
    assert '<option value="solar" >Solar</option>' in english
    assert '<span class="unit">(m)</span>' in english
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not url.startswith(("http:", "https:", "//")), url


def test_capture_page_config_is_safe_json(app, store):
    store.create(
        "villages",
        {"type": "Point", "coordinates": [112.7, 39.6]},
        {"name": "</script><script>alert(1)</script>", "township": "岱岳镇"},
        user="t",
    )
    client = app.test_client()
    login(client, "field1")
    page = client.get("/capture").get_data(as_text=True)
    assert "</script><script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # a ref option
    config = re.search(
        r'<script type="application/json" id="cap-config">(.*?)</script>', page, re.S
    ).group(1)
    assert json.loads(config)["layers"]["streetlights"]["accuracy_limit_m"] == 20


def test_service_worker_and_manifest(app):
    client = app.test_client()
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert "no-cache" in sw.headers["Cache-Control"]
    text = sw.get_data(as_text=True)
    assert '"capture"' in text and "static/js/capture.js" in text
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    doc = manifest.json
    assert doc["start_url"] == "/capture" and doc["display"] == "standalone"
    for icon in doc["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    for path in re.findall(r'"(static/[^"]+)"', text):
        assert client.get("/" + path).status_code == 200, path


# ----------------------------------------------------------------------- upload pages
def stage(client, content, name, layer="streetlights", crs="auto"):
    page = client.get("/uploads/new").get_data(as_text=True)
    return client.post(
        "/uploads/new",
        data={
            "csrf_token": csrf_of(page),
            "layer": layer,
            "crs": crs,
            "file": (io.BytesIO(content), name),
        },
        content_type="multipart/form-data",
    )


def test_upload_page_preview_confirm_commit(app, store):
    client = app.test_client()
    login(client, "field1")
    before = store.count("streetlights")
    staged = stage(client, (SHANYIN / "lights_excel_gbk.csv").read_bytes(), "路灯台账.csv")
    assert staged.status_code == 302
    preview_url = staged.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "路灯台账.csv" in page and "将导入 3" in page
    assert 'id="up-crs-confirm"' in page and 'id="up-commit"' not in page  # guess: confirm
    assert '<option value="EPSG:4326" selected>' in page
    token = csrf_of(page)
    confirmed = client.post(
        preview_url,
        data={
            "csrf_token": token,
            "layer": "streetlights",
            "crs": "EPSG:4326",
            "swap_xy": "no",
            "duplicates": "skip",
            "action": "preview",
            "map.名称": "",
            "default.road": "",
        },
    )
    assert confirmed.status_code == 302
    page = client.get(preview_url).get_data(as_text=True)
    assert 'id="up-crs-confirm"' not in page and 'id="up-commit"' in page
    assert store.count("streetlights") == before  # previews write no feature
    form = {
        "csrf_token": token,
        "layer": "streetlights",
        "crs": "EPSG:4326",
        "swap_xy": "no",
        "duplicates": "skip",
        "map.名称": "",
    }
    changed = client.post(
        preview_url, data={**form, "default.township": "薛圐圙乡", "action": "commit"}
    )
    assert changed.status_code == 302 and changed.headers["Location"].endswith(preview_url)
    assert store.count("streetlights") == before  # changed since the preview: no commit
    done = client.post(
        preview_url, data={**form, "default.township": "薛圐圙乡", "action": "commit"}
    )
    assert done.status_code == 302 and "/uploads/U-" in done.headers["Location"]
    assert store.count("streetlights") == before + 3
    added = store.features("streetlights")[-1]["properties"]
    assert added["township"] == "薛圐圙乡"
    again = client.post(preview_url, data={**form, "action": "commit"})
    assert again.status_code == 302 and store.count("streetlights") == before + 3
    listing = client.get("/uploads").get_data(as_text=True)
    assert "路灯台账.csv" in listing and "WGS 84 (EPSG:4326)" in listing


def test_upload_pages_refuse_without_csrf_and_for_other_users(app):
    client = app.test_client()
    login(client, "field1")
    no_csrf = client.post(
        "/uploads/new",
        data={"layer": "wells", "file": (io.BytesIO(b"a"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert no_csrf.status_code == 400
    preview_url = stage(
        client, (SHANYIN / "wells.geojson").read_bytes(), "w.geojson", "wells"
    ).headers["Location"]
    other = app.test_client()
    login(other, "planner1")
    assert other.get(preview_url).status_code == 404
    assert client.get("/uploads/staged/../../users.json").status_code == 404


def test_file_and_column_names_are_shown_as_text(app):
    client = app.test_client()
    login(client, "field1")
    hostile = "<img src=x onerror=alert(1)>"
    content = f'lon,lat,"{hostile}"\n112.8012,39.5034,solar\n'.encode()
    preview_url = stage(client, content, f"{hostile}.csv").headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert hostile not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_unreadable_file_preview_shows_the_problem(app):
    client = app.test_client()
    login(client, "field1")
    bad = (ROOT / "tests" / "data" / "import" / "rules" / "entity_expansion.kml").read_bytes()
    page = client.get(stage(client, bad, "evil.kml").headers["Location"]).get_data(as_text=True)
    assert 'id="up-error"' in page and 'data-code="xml_dtd_forbidden"' in page
    assert 'id="up-commit"' not in page


def test_undo_from_the_list_needs_a_planner_and_csrf(app, store):
    from layers.uploads import UploadOptions, run_upload

    before = store.count("wells")
    report = run_upload(
        store,
        (SHANYIN / "wells.geojson").read_bytes(),
        "w.geojson",
        UploadOptions(layer="wells"),
        user="field1",
    )
    path = f"/uploads/{report.upload_id}/undo"
    field = app.test_client()
    login(field, "field1")
    listing = field.get("/uploads").get_data(as_text=True)
    assert path not in listing  # no undo button for field staff
    assert (
        field.post(
            path, data={"csrf_token": csrf_of(field.get("/uploads/new").get_data(as_text=True))}
        ).status_code
        == 403
    )
    planner = app.test_client()
    login(planner, "planner1")
    listing = planner.get("/uploads").get_data(as_text=True)
    assert path in listing
    assert planner.post(path).status_code == 400  # no CSRF token
    assert planner.post(path, data={"csrf_token": csrf_of(listing)}).status_code == 302
    assert store.count("wells") == before
    assert "已撤销" in planner.get("/uploads").get_data(as_text=True)
