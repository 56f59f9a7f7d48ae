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
