"""Photos and thumbnails shared by two app servers over one database (issue #19 §1).

Two apps with different, empty data directories over one PostgreSQL schema: a photo
captured through A is served by B byte for byte (streamed from ``vw_files`` with its
Content-Length, an ETag from the photo id, 304 on a match), its thumbnail too; a photo
stored before thumbnails gets its thumbnail on its first request to B, stored for A as
well. Neither data directory gains photos or uploads.
"""

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from layers.photos import PhotoStore, photo_id_for
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "tests" / "data" / "photos" / "Canon_40D.jpg"
HERE = {"type": "Point", "coordinates": [112.8201, 39.5121]}


@pytest.fixture
def apps(request, tmp_path):
    """Apps A (seeds the demo county into the database) and B, each its own directory."""
    if request.config.getoption("backend") == "geojson":
        pytest.skip("two servers share a PostgreSQL database: PostGIS only")
    url = request.getfixturevalue("pg_url")
    made = []
    for name in ("a", "b"):
        config = {"DATA_DIR": str(tmp_path / name), "DATABASE_URL": url}
        made.append(create_app(config | {"TESTING": True, "SECRET_KEY": "test"}))
        made[-1].config["DEFAULT_BASEMAP"] = "none"
    users = UserStore(store_of(made[0]).files)
    users.add("field1", "field", "correct-horse-9")
    made[0].token = users.new_token("field1")
    return made


def store_of(app):
    return app.extensions["villageworks.store"]


def assert_no_photo_files(app):
    folder = Path(app.config["DATA_DIR"])
    names = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith(("photos", "uploads"))], names


def capture(app, photo: bytes):
    body = {
        "layer": "streetlights",
        "geometry": HERE,
        "accuracy_m": 6.0,
        "location_source": "gps",
        "properties": {"power_source": "solar", "pole_height_m": "8"},
    }
    data = {"capture": json.dumps(body), "photos": [(io.BytesIO(photo), "灯.jpg")]}
    headers = {"Authorization": f"Bearer {app.token}", "Idempotency-Key": "shared-photo-01"}
    return app.test_client().post(
        "/api/capture", data=data, headers=headers, content_type="multipart/form-data"
    )


def test_a_photo_captured_on_a_is_served_by_b_with_its_thumbnail(apps):
    a, b = apps
    made = capture(a, PHOTO.read_bytes())
    assert made.status_code == 201, made.json
    fid, [photo_id] = made.json["id"], made.json["photos"]
    stored = store_of(a).files.read(f"photos/{photo_id}.jpg")
    assert stored and stored[:3] == b"\xff\xd8\xff"
    client_b = b.test_client()
    served = client_b.get(f"/photos/{photo_id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data == stored == a.test_client().get(f"/photos/{photo_id}").data
    assert served.headers["Content-Length"] == str(len(stored))
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    etag = served.headers["ETag"]
    assert photo_id in etag
    again = client_b.get(f"/photos/{photo_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    thumb = client_b.get(f"/photos/{photo_id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data == store_of(a).files.read(f"photos/thumbs/{photo_id}.jpg")
    assert client_b.get(f"/photos/{photo_id}?size=thumb").data == thumb.data
    with Image.open(io.BytesIO(thumb.data)) as small:
        assert max(small.size) <= 320
    linked = PhotoStore(store_of(b).files).for_feature("streetlights", fid)
    assert [p["id"] for p in linked] == [photo_id]
    listed = client_b.get(f"/features/streetlights/{fid}/photos.json")
    assert [p["thumb"] for p in listed.json["photos"]] == [f"/photos/{photo_id}/thumb"]
    assert client_b.get("/photos/P-000000000000000000000000").status_code == 404
    for app in apps:
        assert_no_photo_files(app)


def test_a_thumbnail_made_on_first_request_to_b_is_stored_for_a(apps):
    a, b = apps
    out = io.BytesIO()
    Image.new("RGB", (1000, 500), (10, 120, 10)).save(out, "JPEG")
    data = out.getvalue()
    photo_id = photo_id_for(data)
    files = store_of(a).files  # a photo stored before thumbnails were made
    files.write(f"photos/{photo_id}.jpg", data)
    index = {"features": {}, "photos": {photo_id: {"kind": "jpeg", "size": len(data)}}}
    files.write("photos/index.json", json.dumps(index).encode())
    assert not files.exists(f"photos/thumbs/{photo_id}.jpg")
    thumb = b.test_client().get(f"/photos/{photo_id}/thumb")
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.data)) as small:
        assert small.size == (320, 160)
    assert files.read(f"photos/thumbs/{photo_id}.jpg") == thumb.data
    assert a.test_client().get(f"/photos/{photo_id}/thumb").data == thumb.data
    assert PhotoStore(store_of(a).files).missing_thumbs() == []
    for app in apps:
        assert_no_photo_files(app)
