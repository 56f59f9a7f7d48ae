"""A resident's report sent again with its ``Idempotency-Key`` lands once.

A phone that loses the answer to ``POST /api/reports`` sends the same report again with
the same key (``static/js/report.js`` keeps it with the queued report): the retry gets
the first report's 201 body (code, id, url) and stores nothing, on both stores, through
another app over the same data (another worker; on PostGIS another host over the same
database) and under gunicorn with concurrent retries. Its photos are stored and linked
once. The honeypot and the hourly limit answer before the key is looked up."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests
from live_servers import gunicorn_server
from PIL import Image

from layers.photos import INDEX
from webmap.app import create_app, get_store

KEY = "report-key-0001"


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return demo_app


def a_point(app, index=5):
    return get_store(app).features("streetlights")[index]["geometry"]["coordinates"][:2]


def body(point, **extra):
    lon, lat = point
    return {"lon": lon, "lat": lat, "category": "road", "description": "路面塌陷", **extra}


def post(client, point, key=KEY, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/reports", json=body(point, **extra), headers=headers)


def jpeg(colour):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


def post_multipart(client, point, photo, key=KEY):
    lon, lat = point
    data = {
        "lon": str(lon), "lat": str(lat), "category": "streetlight", "description": "灯不亮",
        "photos": [(io.BytesIO(photo), "灯.jpg")],
    }  # fmt: skip
    return client.post(
        "/api/reports", data=data, content_type="multipart/form-data",
        headers={"Idempotency-Key": key},
    )  # fmt: skip


def reports(app):
    return get_store(app).count("reports")


def photo_index(app):
    raw = get_store(app).files.read(INDEX)
    doc = orjson.loads(raw) if raw else {"photos": {}, "features": {}}
    linked = {k: v for k, v in doc["features"].items() if k.startswith("reports/")}
    return set(doc["photos"]), linked


def test_a_retried_report_lands_once_with_the_first_answer(app):
    client, point = app.test_client(), a_point(app)
    before = reports(app)
    first = post(client, point)
    assert first.status_code == 201, first.data
    assert "Idempotent-Replayed" not in first.headers
    again = [post(client, point) for _ in range(3)]
    assert [r.status_code for r in again] == [201] * 3
    assert all(r.data == first.data for r in again), "the same code, id and url"
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in again)
    assert reports(app) == before + 1
    code = first.json["code"]
    assert client.get(f"/api/reports/{code}").status_code == 200


def test_two_keys_make_two_reports(app):
    client, point = app.test_client(), a_point(app)
    before = reports(app)
    one = post(client, point, key="report-key-aaaa")
    two = post(client, point, key="report-key-bbbb")
    assert one.status_code == two.status_code == 201
    assert one.json["code"] != two.json["code"] and one.json["id"] != two.json["id"]
    assert reports(app) == before + 2


def test_without_a_key_each_post_is_a_report(app):
    client, point = app.test_client(), a_point(app)
    before = reports(app)
    assert post(client, point, key=None).json["id"] != post(client, point, key=None).json["id"]
    assert reports(app) == before + 2


def test_a_retried_multipart_report_stores_its_photo_once(app):
    client, point = app.test_client(), a_point(app)
    before = reports(app)
    photos_before, _ = photo_index(app)
    first = post_multipart(client, point, jpeg((200, 10, 10)))
    assert first.status_code == 201, first.data
    again = post_multipart(client, point, jpeg((200, 10, 10)))
    assert again.status_code == 201 and again.data == first.data
    # A retry whose photo differs (re-taken, re-compressed): still the first report, and
    # its photo is neither stored nor linked.
    other = post_multipart(client, point, jpeg((10, 10, 200)))
    assert other.status_code == 201 and other.data == first.data
    assert reports(app) == before + 1
    photos_after, linked = photo_index(app)
    assert len(photos_after - photos_before) == 1, "one photo file, once"
    assert list(linked.values()) == [list(photos_after - photos_before)]
    shown = client.get(f"/api/reports/{first.json['code']}").json["photos"]
    assert len(shown) == 1


def test_a_used_key_with_another_body_gets_the_first_answer_as_a_capture_does(app):
    client, point = app.test_client(), a_point(app)
    first = post(client, point)
    before = reports(app)
    changed = post(client, a_point(app, 9), description="另一件事", phone="13900001111")
    assert changed.status_code == 201 and changed.data == first.data
    assert reports(app) == before
    # Still checked first, as a capture is: a malformed body is refused, not answered.
    bad = post(client, point, category="no-such-category")
    assert bad.status_code == 400


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 101, "<script>x</script>"])
def test_a_malformed_key_is_refused_with_the_capture_message(app, key):
    client, point = app.test_client(), a_point(app)
    before = reports(app)
    zh = post(client, point, key=key)
    assert zh.status_code == 400 and zh.json["error"]["code"] == "capture_bad_key"
    assert "幂等键" in zh.json["error"]["message"]
    en = client.post("/api/reports?lang=en", json=body(point), headers={"Idempotency-Key": key})
    assert en.status_code == 400 and "Idempotency-Key is malformed" in en.json["error"]["message"]
    assert reports(app) == before


def test_the_honeypot_never_answers_with_the_report_of_a_used_key(app):
    client, point = app.test_client(), a_point(app)
    first = post(client, point)
    before = reports(app)
    bot = post(client, point, website="http://spam.example")
    assert bot.status_code == 201
    assert bot.json["code"] != first.json["code"] and "Idempotent-Replayed" not in bot.headers
    fresh = post(client, point, key="never-used-key-1", website="http://spam.example")
    assert fresh.status_code == 201 and set(fresh.json) == set(bot.json)
    assert reports(app) == before


def test_past_the_hourly_limit_a_retry_waits_like_a_new_report(app):
    config = {"DATA_DIR": app.config["DATA_DIR"], "TESTING": True, "SECRET_KEY": "test"}
    client = create_app({**config, "REPORTS_PER_HOUR": 2}).test_client()
    point = a_point(app)
    first = post(client, point)
    assert first.status_code == 201
    assert post(client, point).status_code == 201  # a retry is counted too
    used, unused = post(client, point), post(client, point, key="never-used-key-2")
    assert used.status_code == unused.status_code == 429
    assert used.headers["Retry-After"] and unused.headers["Retry-After"]
    assert used.json["error"]["message"] == unused.json["error"]["message"]
    assert first.json["code"] not in used.get_data(as_text=True)


def test_a_retry_through_another_worker_or_host_lands_once(app, tmp_path, request):
    """On GeoJSON another app over the same data directory (another worker); on PostGIS
    another app with its own empty data directory over the same database (another host)."""
    postgis = request.config.getoption("backend") == "postgis"
    data = str(tmp_path / "other") if postgis else app.config["DATA_DIR"]
    other = create_app({"DATA_DIR": data, "TESTING": True, "SECRET_KEY": "test"})
    point = a_point(app)
    before = reports(app)
    first = post(app.test_client(), point)
    again = post(other.test_client(), point)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert reports(app) == reports(other) == before + 1


def test_concurrent_retries_under_gunicorn_land_once(app, tmp_path):
    """Two workers, six copies of one multipart report at once (a phone retrying on a
    flaky line): one report, one photo, every answer the same."""
    point = a_point(app)
    photo = jpeg((20, 200, 20))
    before = reports(app)
    photos_before, _ = photo_index(app)
    with gunicorn_server(
        app.config["DATA_DIR"], tmp_path, workers=2, VILLAGEWORKS_REPORTS_PER_HOUR="50"
    ) as url:

        def send(_: int) -> tuple[int, bytes]:
            files = {"photos": ("灯.jpg", photo, "image/jpeg")}
            data = {"lon": str(point[0]), "lat": str(point[1]), "category": "streetlight",
                    "description": "灯不亮"}  # fmt: skip
            answer = requests.post(
                f"{url}/api/reports", data=data, files=files, timeout=120,
                headers={"Idempotency-Key": "gunicorn-retry-01"},
            )  # fmt: skip
            return answer.status_code, answer.content

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, range(6)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({content for _, content in answers}) == 1, answers
    fresh = create_app({"DATA_DIR": app.config["DATA_DIR"], "TESTING": True, "SECRET_KEY": "t"})
    assert reports(fresh) == before + 1
    photos_after, linked = photo_index(fresh)
    assert len(photos_after - photos_before) == 1
    assert list(linked.values()) == [list(photos_after - photos_before)]
