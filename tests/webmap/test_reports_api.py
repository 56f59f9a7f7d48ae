"""The residents' channel over HTTP (issue #18): report with and without photos, follow by
code, rating rules, the phone only for planners, rate limit, outside the county,
honeypot, me-too, and a report on a light: faulty, darker roads, solved restores."""

import io

import orjson
import pytest
from PIL import Image

from webmap.app import get_store

PHONE = "13912345678"


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def a_point(app, index=5):
    light = get_store(app).features("streetlights")[index]
    return light["geometry"]["coordinates"][:2], light


def post_report(client, point, **extra):
    lon, lat = point
    body = {"lon": lon, "lat": lat, "category": "road", "description": "路面塌陷", **extra}
    return client.post("/api/reports", json=body)


def jpeg_with_exif():
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010E] = "secret-exif-description"  # ImageDescription
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def planner(app, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {app.tokens['planner']}"}
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


def patch(app, fid, props):
    body = orjson.dumps({"properties": props})
    return planner(
        app, "PATCH", f"/ogc/collections/reports/items/{fid}",
        data=body, content_type="application/merge-patch+json",
    )  # fmt: skip


def test_a_json_report_is_followed_by_its_code(app):
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    r = post_report(client, (lon, lat), phone=PHONE)
    assert r.status_code == 201, r.data
    made = orjson.loads(r.data)
    code = made["code"]
    assert len(code) >= 8 and not set(code) & set("01OIL")
    assert made["url"] == f"/reports/{code}" and made["id"].startswith("RP-")
    r = client.get(f"/api/reports/{code}")
    assert r.status_code == 200
    body = orjson.loads(r.data)
    assert body["status"] == "new" and body["category"] == "road"
    assert body["description"] == "路面塌陷" and body["township"] and body["me_too"] == 0
    assert PHONE not in r.get_data(as_text=True) and code not in r.get_data(as_text=True)
    assert client.get(f"/api/reports/{code.lower()}").status_code == 200
    assert client.get("/api/reports/ABCDEFGHJK").status_code == 404


def test_a_multipart_report_keeps_its_photos_without_exif(app):
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    data = {
        "lon": str(lon), "lat": str(lat), "category": "streetlight", "description": "灯不亮",
        "photos": [(io.BytesIO(jpeg_with_exif()), "一.jpg"), (io.BytesIO(b"\x89PNG"), "x.png")],
    }  # fmt: skip
    r = client.post("/api/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 422  # the second is no image: nothing stored
    assert get_store(app).count("reports") == len(get_store(app).features("reports"))
    before = get_store(app).count("reports")
    data["photos"] = [(io.BytesIO(jpeg_with_exif()), "一.jpg")]
    r = client.post("/api/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 201, r.data
    assert get_store(app).count("reports") == before + 1
    body = orjson.loads(client.get(f"/api/reports/{orjson.loads(r.data)['code']}").data)
    (url,) = body["photos"]
    photo = client.get(url)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert b"secret-exif-description" not in photo.data
    assert b"secret-exif-description" in jpeg_with_exif()


@pytest.mark.parametrize(
    "change",
    [{"category": "ufo"}, {"description": ""}, {"description": "x" * 501}, {"lon": "abc"},
     {"phone": "call me"}],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(app, change):
    (lon, lat), _ = a_point(app)
    before = get_store(app).count("reports")
    r = post_report(app.test_client(), (lon, lat), **change)
    assert r.status_code in (400, 422)
    assert orjson.loads(r.data)["error"]["message"]
    assert get_store(app).count("reports") == before


def test_a_location_outside_the_county_is_refused(app):
    client = app.test_client()
    r = post_report(client, (116.4, 39.9))
    assert r.status_code == 422
    message = orjson.loads(r.data)["error"]["problems"][0]["message"]
    assert "116.400000, 39.900000" in message and "山阴县" in message
    r = client.post("/api/reports?lang=en", json={"lon": 116.4, "lat": 39.9,
                    "category": "road", "description": "x"})  # fmt: skip
    assert "outside" in orjson.loads(r.data)["error"]["problems"][0]["message"]


def test_the_honeypot_looks_accepted_but_stores_nothing(app):
    (lon, lat), _ = a_point(app)
    before = get_store(app).count("reports")
    r = post_report(app.test_client(), (lon, lat), website="http://spam.example")
    assert r.status_code == 201 and orjson.loads(r.data)["code"]
    assert get_store(app).count("reports") == before


def test_more_reports_than_the_hourly_limit_get_429(app):
    app.extensions["villageworks.settings"] = type(app.extensions["villageworks.settings"])(
        **{**app.extensions["villageworks.settings"].__dict__, "reports_per_hour": 2}
    )
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    assert post_report(client, (lon, lat)).status_code == 201
    assert post_report(client, (lon, lat)).status_code == 201
    r = post_report(client, (lon, lat))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
    assert "每小时最多 2 条" in orjson.loads(r.data)["error"]["message"]
    other = app.test_client()
    r = other.post("/api/reports", json={"lon": lon, "lat": lat, "category": "road",
                   "description": "x"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})  # fmt: skip
    assert r.status_code == 201


def test_a_cross_site_post_is_refused(app):
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    r = client.post("/api/reports", json={"lon": lon, "lat": lat, "category": "road",
                    "description": "x"}, headers={"Origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403


def _texts(response):
    """The response's bytes, and those of every member when it is a zip (xlsx, shp)."""
    import zipfile

    data = response.data
    out = [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            out += [archive.read(name) for name in archive.namelist()]
    return out


PUBLIC_PATHS = [
    "/ogc/collections/reports/items",
    "/ogc/collections/reports/items?f=html",
    "/ogc/collections/reports/items/{fid}",
    "/ogc/collections/reports/items/{fid}?f=html",
    "/ogc/collections/reports/schema",
    "/ogc/collections/reports",
    "/ogc/api",
    "/export/reports.geojson",
    "/export/reports.csv",
    "/export/reports.xlsx",
    "/export/reports.kml",
    "/export/reports.gpkg",
    "/export/reports.shp.zip",
    "/export/all.xlsx",
    "/api/layers/reports/features?bbox=100,30,130,50",
    "/features/reports/{fid}",
    "/",
    "/api/reports",
    "/api/reports/{code}",
    "/api/reports/similar?lon={lon}&lat={lat}&category=road",
]


@pytest.fixture
def reported(app):
    (lon, lat), _ = a_point(app)
    made = orjson.loads(post_report(app.test_client(), (lon, lat), phone=PHONE).data)
    assert patch(app, made["id"], {"status": "accepted", "reply": "已派人"}).status_code == 200
    return {**made, "fid": made["id"], "lon": lon, "lat": lat}


@pytest.fixture(params=["sent now", "demo"])
def reported_any(request, app):
    if request.param == "sent now":
        return request.getfixturevalue("reported")
    found = next(
        f
        for f in get_store(app).features("reports")
        if f["properties"].get("phone") and f["properties"]["status"] == "in_progress"
    )
    lon, lat = found["geometry"]["coordinates"][:2]
    props = found["properties"]
    return {"fid": found["id"], "code": props["code"], "lon": lon, "lat": lat,
            "phone": props["phone"]}  # fmt: skip


def test_the_phone_never_reaches_a_public_response(app, reported_any):
    reported = reported_any
    phone = reported.get("phone", PHONE).encode()
    client = app.test_client()
    field = {"Authorization": f"Bearer {app.tokens['field']}"}
    for path in PUBLIC_PATHS:
        url = path.format(**reported)
        for headers in ({}, field):
            r = client.get(url, headers=headers)
            assert r.status_code == 200, (url, r.status_code)
            for text in _texts(r):
                assert phone not in text, url
                if "{code}" not in path:
                    assert reported["code"].encode() not in text, url
    for url in ("/ogc/collections/reports/items?phone=", "/export/reports.csv?phone="):
        assert client.get(url + phone.decode()).status_code == 400  # no filter by it either


def test_planners_read_the_phone(app, reported):
    fid = reported["fid"]
    for path in (f"/ogc/collections/reports/items/{fid}", "/export/reports.csv",
                 f"/features/reports/{fid}", "/ogc/collections/reports/schema"):  # fmt: skip
        r = planner(app, "GET", path)
        assert r.status_code == 200
        assert PHONE.encode() in r.data or b'"phone"' in r.data, path


def dark_m(app):
    from layers.analyses import run_gaps

    return float(run_gaps(get_store(app), "lighting", min_gap_m=60)["length_m"].sum())


def test_a_report_on_a_light_makes_it_faulty_until_solved(app):
    store = get_store(app)
    light = store.get("streetlights", "SL-000009")
    assert light["properties"]["status"] == "working"
    lon, lat = light["geometry"]["coordinates"][:2]
    made = orjson.loads(post_report(app.test_client(), (lon, lat), category="streetlight").data)
    dark_before = dark_m(app)
    r = patch(app, made["id"], {"feature": "streetlights/SL-000009", "status": "accepted"})
    assert r.status_code == 200, r.data
    assert store.get("streetlights", "SL-000009")["properties"]["status"] == "faulty"
    assert store.get("reports", made["id"])["properties"]["feature_status_before"] == "working"
    assert dark_m(app) > dark_before + 50  # the faulty light no longer lights its stretch
    r = patch(app, made["id"], {"status": "solved", "reply": "已修复"})
    assert r.status_code == 200, r.data
    restored = store.get("streetlights", "SL-000009")["properties"]
    assert restored["status"] == "working" and restored["updated_by"] == "planner1"
    assert restored["review"] == "approved"
    report = store.get("reports", made["id"])["properties"]
    assert "feature_status_before" not in report and report["solved_date"]
    assert dark_m(app) == pytest.approx(dark_before)


def test_status_rules_hold_on_the_ogc_api(app):
    (lon, lat), _ = a_point(app)
    made = orjson.loads(post_report(app.test_client(), (lon, lat)).data)
    fid = made["id"]
    r = patch(app, fid, {"status": "closed"})
    assert r.status_code == 422 and "resident_bad_transition" in r.get_data(as_text=True)
    r = patch(app, fid, {"status": "rejected"})
    assert r.status_code == 422 and "reject_reason" in r.get_data(as_text=True)
    r = patch(app, fid, {"rating": 5})
    assert r.status_code == 422 and "resident_rating_too_early" in r.get_data(as_text=True)
    assert patch(app, fid, {"status": "rejected", "reject_reason": "重复"}).status_code == 200
    field = {"Authorization": f"Bearer {app.tokens['field']}"}
    r = app.test_client().patch(
        f"/ogc/collections/reports/items/{fid}", headers=field,
        data=orjson.dumps({"properties": {"status": "accepted"}}),
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert r.status_code == 403


def test_rating_comes_once_after_solving_and_a_low_one_reopens(app):
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    made = orjson.loads(post_report(client, (lon, lat)).data)
    code, fid = made["code"], made["id"]
    rate = f"/api/reports/{code}/rating"
    r = client.post(rate, json={"rating": 5})
    assert r.status_code == 409 and orjson.loads(r.data)["error"]["message"]
    assert patch(app, fid, {"status": "accepted", "department": "县住建局"}).status_code == 200
    assert patch(app, fid, {"status": "solved", "reply": "已处理"}).status_code == 200
    assert client.post(rate, json={"rating": 9}).status_code == 400
    r = client.post(rate, json={"rating": 2, "comment": "还是坏的"})
    assert r.status_code == 200, r.data
    body = orjson.loads(r.data)
    assert body["status"] == "in_progress" and body["rating"] == 2
    assert body["replies"][-1]["text"] == "已处理" and body["replies"][-1]["date"]
    assert get_store(app).get("reports", fid)["properties"]["reopened"] is True
    assert client.post(rate, json={"rating": 4}).status_code == 409


def test_the_public_list_and_similar_reports_and_me_too(app):
    (lon, lat), _ = a_point(app)
    client = app.test_client()
    made = orjson.loads(post_report(client, (lon, lat), phone=PHONE).data)
    fid = made["id"]
    listed = orjson.loads(client.get("/api/reports").data)["reports"]
    assert fid not in {r["id"] for r in listed}  # new: hidden until accepted
    similar = f"/api/reports/similar?lon={lon}&lat={lat + 0.0001}&category=road"
    assert fid not in {r["id"] for r in orjson.loads(client.get(similar).data)["reports"]}
    assert client.post(f"/api/reports/{fid}/me-too").status_code == 409
    assert patch(app, fid, {"status": "accepted"}).status_code == 200
    listed = orjson.loads(client.get("/api/reports?status=accepted").data)["reports"]
    (row,) = [r for r in listed if r["id"] == fid]
    assert "phone" not in row and "code" not in row
    (near,) = [r for r in orjson.loads(client.get(similar).data)["reports"] if r["id"] == fid]
    assert 5 < near["distance_m"] < 30
    far = f"/api/reports/similar?lon={lon}&lat={lat + 0.001}&category=road"
    assert fid not in {r["id"] for r in orjson.loads(client.get(far).data)["reports"]}
    r = client.post(f"/api/reports/{fid}/me-too")
    assert r.status_code == 200 and orjson.loads(r.data)["me_too"] == 1
    assert client.post(f"/api/reports/{fid}/me-too").status_code == 429
    other = client.post(f"/api/reports/{fid}/me-too", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert orjson.loads(other.data)["me_too"] == 2
    assert client.post("/api/reports/RP-999999/me-too").status_code == 404


def test_a_description_is_text_never_a_template(app):
    (lon, lat), _ = a_point(app)
    payload = "{{7*7}}vw {% if 1 %}tag{% endif %} <img src=x onerror=alert(1)>"
    made = orjson.loads(post_report(app.test_client(), (lon, lat), description=payload).data)
    assert patch(app, made["id"], {"status": "accepted"}).status_code == 200
    client = app.test_client()
    for url in ("/", f"/features/reports/{made['id']}", f"/api/reports/{made['code']}"):
        page = client.get(url).get_data(as_text=True)
        at = page.find("49vw")
        assert at < 0, (url, page[at - 300 : at + 50])
        assert "<img src=x" not in page or url.startswith("/api/"), url  # JSON is data
    body = orjson.loads(client.get(f"/api/reports/{made['code']}").data)
    assert body["description"] == payload


def test_a_planner_works_only_the_reports_of_their_townships(app):
    from layers.users import UserStore

    store = get_store(app)
    (lon, lat), light = a_point(app)
    made = orjson.loads(post_report(app.test_client(), (lon, lat)).data)
    township = store.get("reports", made["id"])["properties"]["township"]
    own = next(
        f["id"]
        for f in store.features("boundaries")
        if f["properties"]["level"] == "township" and f["properties"]["name"] == township
    )
    other = next(
        f["id"]
        for f in store.features("boundaries")
        if f["properties"]["level"] == "township" and f["properties"]["name"] != township
    )
    users = UserStore(app.config["DATA_DIR"])
    tokens = {}
    for name, area in (("near", own), ("far", other)):
        users.add(name, "planner", "correct-horse-9", areas=[area])
        tokens[name] = users.new_token(name)
    body = orjson.dumps({"properties": {"status": "accepted"}})
    url = f"/ogc/collections/reports/items/{made['id']}"
    for name, expected in (("far", 403), ("near", 200)):
        r = app.test_client().patch(
            url, data=body, content_type="application/merge-patch+json",
            headers={"Authorization": f"Bearer {tokens[name]}"},
        )  # fmt: skip
        assert r.status_code == expected, (name, r.data)
    assert store.get("reports", made["id"])["properties"]["status"] == "accepted"


def test_a_work_outside_the_planners_townships_is_left_alone(app):
    from layers.users import UserStore

    store = get_store(app)
    (lon, lat), _ = a_point(app)
    made = orjson.loads(post_report(app.test_client(), (lon, lat), category="streetlight").data)
    township = store.get("reports", made["id"])["properties"]["township"]
    own = next(
        f["id"]
        for f in store.features("boundaries")
        if f["properties"]["level"] == "township" and f["properties"]["name"] == township
    )
    far_light = next(
        f
        for f in store.features("streetlights")
        if f["properties"].get("township") not in (township, None)
        and f["properties"]["status"] == "working"
    )
    users = UserStore(app.config["DATA_DIR"])
    users.add("near", "planner", "correct-horse-9", areas=[own])
    token = users.new_token("near")
    body = {"properties": {"status": "accepted", "feature": f"streetlights/{far_light['id']}"}}
    r = app.test_client().patch(
        f"/ogc/collections/reports/items/{made['id']}", data=orjson.dumps(body),
        content_type="application/merge-patch+json", headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert r.status_code == 200, r.data
    assert store.get("streetlights", far_light["id"])["properties"]["status"] == "working"


def test_a_new_report_shows_to_the_public_only_once_accepted(app):
    (lon, lat), _ = a_point(app)
    made = orjson.loads(post_report(app.test_client(), (lon, lat), description="新报事甲").data)
    fid = made["id"]
    client = app.test_client()
    hidden = [f"/ogc/collections/reports/items/{fid}", f"/features/reports/{fid}"]
    listed = ["/ogc/collections/reports/items?limit=1000", "/export/reports.csv", "/",
              "/api/layers/reports/features?bbox=100,30,130,50"]  # fmt: skip
    for url in hidden:
        assert client.get(url).status_code == 404, url
    for url in listed:
        assert "新报事甲" not in client.get(url).get_data(as_text=True), url
    assert planner(app, "GET", hidden[0]).status_code == 200
    assert "新报事甲" in planner(app, "GET", "/export/reports.csv").get_data(as_text=True)
    assert client.get(f"/api/reports/{made['code']}").status_code == 200  # its resident
    assert patch(app, fid, {"status": "accepted"}).status_code == 200
    for url in hidden:
        assert client.get(url).status_code == 200, url
    for url in listed:
        assert "新报事甲" in client.get(url).get_data(as_text=True), url
