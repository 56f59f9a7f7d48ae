"""The capture page's "position in the photos" option (issue #16): photos from Chinese map
apps carry a GCJ-02 position in their EXIF; ``photo_crs=gcj02`` on the capture POST makes
the server turn it back into WGS84 (the iterative inverse of ``geo.crs``) before placing
the feature. Also: thumbnails served at ``/photos/<id>/thumb``, made on first request for
photos stored before thumbnails."""

from __future__ import annotations

import io
import json
import math

import orjson
import pytest
from PIL import Image

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.exif import read_exif
from layers.photos import PhotoStore, photo_id_for

# A lamp post in Shanyin county, as the GPS chip sees it (WGS84).
TRUE_WGS84 = (112.8201, 39.5121)


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


@pytest.fixture
def store(app):
    return app.extensions["villageworks.store"]


def dms(value: float) -> tuple[float, float, float]:
    degrees = math.floor(value)
    minutes = math.floor((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def jpeg_at(lon: float, lat: float) -> bytes:
    """A real JPEG (Pillow) whose EXIF GPS block holds ``lon``, ``lat``."""
    image = Image.new("RGB", (64, 48), (90, 140, 60))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[1] - b[1]) * 111_320.0
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, dy)


def post_capture(app, photo: bytes, lang="en", key="exif-crs-0001", **form):
    body = {
        "layer": "streetlights",
        "geometry": None,
        "location_source": "photo",
        "properties": {"power_source": "solar"},
    }
    data = {"capture": json.dumps(body), "photos": [(io.BytesIO(photo), "IMG_0001.jpg")], **form}
    return app.test_client().post(
        f"/api/capture?lang={lang}",
        data=data,
        headers={
            "Authorization": f"Bearer {app.tokens['field']}",
            "Accept": "application/json",
            "Idempotency-Key": key,
        },
        content_type="multipart/form-data",
    )


def gcj_photo() -> tuple[bytes, tuple[float, float]]:
    """A photo whose EXIF holds the GCJ-02 position of TRUE_WGS84, and that position as
    the EXIF block stores it (rationals)."""
    glon, glat = wgs84_to_gcj02(*TRUE_WGS84)
    photo = jpeg_at(float(glon), float(glat))
    position = read_exif(photo).position
    assert position is not None
    return photo, position


def test_gcj02_photo_position_is_converted_to_wgs84(app, store):
    photo, exif_position = gcj_photo()
    response = post_capture(app, photo, photo_crs="gcj02")
    assert response.status_code == 201, response.json
    assert response.json["location_source"] == "photo"
    stored = tuple(store.get("streetlights", response.json["id"])["geometry"]["coordinates"])
    exact = tuple(float(v) for v in gcj02_to_wgs84(*exif_position))
    assert metres_between(stored, exact) < 0.1, (stored, exact)
    # ... which is where the lamp is (EXIF rationals keep about 1 cm), not the GCJ-02 spot.
    assert metres_between(stored, TRUE_WGS84) < 0.5
    assert metres_between(exif_position, TRUE_WGS84) > 100


def test_without_the_option_the_exif_position_is_taken_as_wgs84(app, store):
    photo, exif_position = gcj_photo()
    for key, form in (("exif-crs-0002", {}), ("exif-crs-0003", {"photo_crs": "wgs84"})):
        response = post_capture(app, photo, key=key, **form)
        assert response.status_code == 201, response.json
        stored = tuple(store.get("streetlights", response.json["id"])["geometry"]["coordinates"])
        assert metres_between(stored, exif_position) < 0.01
        assert metres_between(stored, TRUE_WGS84) > 100


def test_the_option_does_not_move_a_gps_fix(app, store):
    photo, _ = gcj_photo()
    body = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": list(TRUE_WGS84)},
        "location_source": "gps",
        "properties": {"power_source": "solar"},
        "photo_crs": "gcj02",  # also read from the JSON body
    }
    response = app.test_client().post(
        "/api/capture",
        data={"capture": json.dumps(body), "photos": [(io.BytesIO(photo), "a.jpg")]},
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Idempotency-Key": "gps-0001"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    stored = store.get("streetlights", response.json["id"])["geometry"]["coordinates"]
    assert stored == list(TRUE_WGS84)


def test_gcj02_in_the_json_body_converts_too(app, store):
    photo, exif_position = gcj_photo()
    body = {
        "layer": "streetlights",
        "location_source": "photo",
        "properties": {"power_source": "solar"},
        "photo_crs": "GCJ02",
    }
    response = app.test_client().post(
        "/api/capture",
        data={"capture": json.dumps(body), "photos": [(io.BytesIO(photo), "a.jpg")]},
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Idempotency-Key": "json-0001"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    stored = tuple(store.get("streetlights", response.json["id"])["geometry"]["coordinates"])
    assert metres_between(stored, tuple(map(float, gcj02_to_wgs84(*exif_position)))) < 0.1


@pytest.mark.parametrize(("lang", "words"), [("en", "photo_crs"), ("zh", "照片位置坐标系")])
def test_an_unknown_photo_crs_is_refused_saying_so(app, store, lang, words):
    before = store.count("streetlights")
    photo, _ = gcj_photo()
    response = post_capture(app, photo, lang=lang, key=f"bad-crs-{lang}-01", photo_crs="bd09")
    assert response.status_code == 400
    text = orjson.dumps(response.json).decode()
    assert words in text and "bd09" in text and "gcj02" in text
    assert store.count("streetlights") == before
    assert not store.files.exists(f"photos/{photo_id_for(photo)}.jpg")


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("zh", "照片位置来自国内地图应用（GCJ-02）"),
        ("en", "Photo position from a Chinese map app (GCJ-02)"),
    ],
)
def test_the_capture_page_offers_the_option(app, lang, label):
    client = app.test_client()
    response = client.get(
        f"/capture?lang={lang}", headers={"Authorization": f"Bearer {app.tokens['field']}"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="photo_crs"' in page and 'value="gcj02"' in page and 'value="wgs84"' in page
    assert label in page
    assert "js/photo_crs.js" in page
    script = client.get("/static/js/photo_crs.js")
    assert script.status_code == 200 and b"localStorage" in script.data


# ------------------------------------------------------------------------- thumbnails
def test_thumbnail_route_serves_a_jpeg_made_on_first_request(app, store):
    image = Image.new("RGB", (1000, 500), (10, 10, 10))
    out = io.BytesIO()
    image.save(out, "JPEG")
    data = out.getvalue()
    photo_id = photo_id_for(data)
    store.files.write(f"photos/{photo_id}.jpg", data)  # stored before thumbnails were made
    index = {"features": {}, "photos": {photo_id: {"kind": "jpeg", "size": len(data)}}}
    store.files.write("photos/index.json", orjson.dumps(index))
    client = app.test_client()
    response = client.get(f"/photos/{photo_id}/thumb")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(response.data)) as thumb:
        assert thumb.size == (320, 160)
    assert PhotoStore(store.files).thumb_name(photo_id, make=False) is not None
    assert client.get("/photos/P-000000000000000000000000/thumb").status_code == 404


def test_a_popup_gets_a_features_photos_as_thumbnails(app, store):
    photo, _ = gcj_photo()
    response = post_capture(app, photo, key="popup-photos-01")
    assert response.status_code == 201, response.json
    fid, photo_id = response.json["id"], response.json["photos"][0]
    client = app.test_client()
    listed = client.get(f"/features/streetlights/{fid}/photos.json?lang=en")
    assert listed.status_code == 200
    assert listed.json["photos"] == [
        {
            "url": f"/photos/{photo_id}",
            "thumb": f"/photos/{photo_id}/thumb",
            "alt": listed.json["photos"][0]["alt"],
        }
    ]
    assert listed.json["photos"][0]["alt"].startswith("Photo 1 of ")
    for url in ("/features/streetlights/SL-999999/photos.json", "/features/nope/x/photos.json"):
        empty = client.get(url)
        assert empty.status_code == 200 and empty.json == {"photos": []}


def test_the_review_page_shows_thumbnails(app):
    photo, _ = gcj_photo()
    response = post_capture(app, photo, key="review-thumb-01")
    assert response.status_code == 201, response.json
    photo_id = response.json["photos"][0]
    page = app.test_client().get(
        "/review?lang=en", headers={"Authorization": f"Bearer {app.tokens['planner']}"}
    )
    assert page.status_code == 200
    assert f'src="/photos/{photo_id}/thumb"' in page.get_data(as_text=True)


def test_size_thumb_on_the_photo_route_is_the_thumbnail(app):
    photo, _ = gcj_photo()
    response = post_capture(app, photo, key="size-thumb-01")
    photo_id = response.json["photos"][0]
    client = app.test_client()
    thumb = client.get(f"/photos/{photo_id}?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data == client.get(f"/photos/{photo_id}/thumb").data
    assert client.get(f"/photos/{photo_id}").data != thumb.data
