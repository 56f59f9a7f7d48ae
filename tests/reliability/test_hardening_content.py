"""Hardening of what users put in (issue #15): upload idempotency keys per user, stray
upload folders, photo size and re-encoding, vertex caps, display simplification and the
anonymous export throttle.

Everything runs against the real app: gunicorn on loopback over a real data directory
(``tests/reliability/conftest.py``), real files, real Pillow images, real Chromium.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from layers.backends import open_store
from layers.site_files import site_files
from layers.users import UserStore

pytestmark = pytest.mark.slow


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, (filename, data, ctype) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def collection(points: list[tuple[float, float]], road: str) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
            "properties": {"road": f"{road}-{i}", "power_source": "solar", "status": "working"},
        }
        for i, (x, y) in enumerate(points)
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def upload(rel: Any, base: str, token: str, data: bytes, key: str) -> tuple[int, dict]:
    body, ctype = multipart(
        {"layer": "streetlights", "crs": "wgs84"},
        {"file": ("lights.geojson", data, "application/geo+json")},
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": key,
        "Content-Type": ctype,
        "Accept": "application/json",
    }
    status, _, raw = rel.http("POST", f"{base}/api/uploads", body, headers)
    return status, json.loads(raw or b"{}")


@pytest.fixture
def site(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    """The demo county under gunicorn (2 workers), with two field accounts."""
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    users = UserStore(data)
    users.add("field2", "field", rel.PASSWORD)
    tokens["field2"] = users.new_token("field2")
    server = gunicorn(data, workers=2)
    server.tokens = tokens
    return server


# ----------------------------------------------------------------- 4: idempotency keys
def test_upload_idempotency_keys_are_scoped_per_user(site: Any, rel: Any) -> None:
    points = rel.grid_points(site.data_dir, "streetlights", 4)
    key = "shared-key-0001"
    first, first_body = upload(
        rel, site.url, site.tokens["field"], collection(points[:2], "a"), key
    )
    assert first == 201, first_body
    # The same user retrying the same key: a replay of that upload.
    again, again_body = upload(
        rel, site.url, site.tokens["field"], collection(points[:2], "a"), key
    )
    assert again == 200 and again_body["status"] == "replayed", again_body
    assert again_body["upload_id"] == first_body["upload_id"]
    # Another user with the same key: a new upload of their own rows.
    other, other_body = upload(
        rel, site.url, site.tokens["field2"], collection(points[2:], "b"), key
    )
    assert other == 201, other_body
    assert other_body["status"] == "committed"
    assert other_body["upload_id"] != first_body["upload_id"]
    assert len(other_body["ids"]) == 2
    store = open_store(site.data_dir, rel.database_url())
    try:
        roads = {f["properties"]["road"]: f for f in store.features("streetlights")}
    finally:
        store.close()
    assert {"b-0", "b-1"} <= set(roads)
    assert roads["b-0"]["properties"]["created_by"] == "field2"


# ----------------------------------------------------------------- 12: stray upload folders
def test_an_upload_killed_before_its_record_leaves_no_folder_after_a_restart(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    from layers.upload_log import stray_upload_dirs, stray_upload_problems

    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    points = rel.grid_points(data, "streetlights", 2)
    crashing = gunicorn(data, workers=1, VILLAGEWORKS_CRASH_AT="upload_begin:1")
    with pytest.raises(OSError):  # the worker dies (like kill -9) inside the upload
        upload(rel, crashing.url, tokens["field"], collection(points, "c"), "crash-key-0001")
    crashing.kill9()
    files = site_files(data, rel.database_url())
    on_disk = files.kind == "dir"  # in PostgreSQL the claim died with the session
    folders = [p for p in (data / "uploads").glob("U-*")]
    assert len(folders) == on_disk and not any((f / "meta.json").exists() for f in folders)
    # What a failed upload of an earlier version left: a folder holding only its lock file.
    older = "U-20260101-abcdef"
    files.write(f"uploads/{older}/{'writing.lock' if on_disk else 'original.bin'}", b"")
    # `villageworks check` material: both are reported, in both languages.
    strays = sorted([f.name for f in folders] + [older])
    assert stray_upload_dirs(files) == strays
    problems = stray_upload_problems(files)
    assert len(problems) == len(strays)
    assert strays[-1] in problems[-1].message("en") and "上传" in problems[-1].message("zh")
    # A restart cleans them up; a retry with the key then lands once.
    server = gunicorn(data, workers=1)
    assert not any(f.exists() for f in folders) and not files.list(f"uploads/{older}")
    assert stray_upload_dirs(files) == []
    status, body = upload(
        rel, server.url, tokens["field"], collection(points, "c"), "crash-key-0001"
    )
    assert status == 201, body
    ids = {p.split("/")[1] for p in files.list("uploads") if p.startswith("uploads/U-")}
    assert ids == {body["upload_id"]}
    files.close()


# ----------------------------------------------------------------- 14: photos
def huge_png(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG of ``width`` x ``height`` pixels, all black: a few hundred KB
    on the wire, gigabytes once decoded. Built row by row (never held decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def oriented_jpeg() -> bytes:
    """A 200 x 100 JPEG, blue top-left quadrant, EXIF orientation 6 (turn 90 degrees
    clockwise to view), a GPS position in Shanyin county, a date and a camera serial."""
    from PIL import Image

    image = Image.new("RGB", (200, 100), (200, 30, 30))
    image.paste((20, 20, 200), (0, 0, 100, 50))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0132] = "2024:05:06 10:20:30"
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber: nothing the app keeps
    exif[0x8825] = {1: "N", 2: (39.0, 30.0, 25.56), 3: "E", 4: (112.0, 48.0, 44.28)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def capture(
    rel: Any,
    base: str,
    token: str,
    photos: list[tuple[str, bytes]],
    key: str,
    lang: str = "en",
    geometry: dict | None = None,
) -> tuple[int, dict]:
    body = {
        "layer": "streetlights",
        "geometry": geometry,
        "location_source": "photo" if geometry is None else "gps",
        "properties": {"power_source": "solar", "status": "working"},
    }
    files = {f"photos{i}": (name, data, "image/jpeg") for i, (name, data) in enumerate(photos)}
    raw, ctype = multipart({"capture": json.dumps(body)}, files)
    raw = raw.replace(b'name="photos0"', b'name="photos"').replace(
        b'name="photos1"', b'name="photos"'
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": key,
        "Content-Type": ctype,
        "Accept": "application/json",
    }
    status, _, answer = rel.http("POST", f"{base}/api/capture?lang={lang}", raw, headers)
    return status, json.loads(answer or b"{}")


def test_a_photo_with_too_many_pixels_is_refused_from_its_header(site: Any, rel: Any) -> None:
    png = huge_png(20000, 20000)
    assert len(png) < 400_000  # small on the wire
    (here,) = rel.grid_points(site.data_dir, "streetlights", 1)
    point = {"type": "Point", "coordinates": list(here)}
    for lang in ("zh", "en"):
        key = f"huge-photo-{lang}"
        status, body = capture(
            rel, site.url, site.tokens["field"], [("big.png", png)], key, lang, point
        )
        assert status == 422, body
        (problem,) = body["error"]["problems"]
        assert problem["code"] == "photo_too_many_pixels"
        assert "20000×20000" in problem["message"] and "400.0" in problem["message"]
        assert ("像素" in problem["message"]) == (lang == "zh"), problem
    assert not site_files(site.data_dir, rel.database_url()).list("photos")
    from geo.problems import Problem

    refused = Problem(
        "photo_too_many_pixels",
        value="big.png",
        params={"width": 20000, "height": 20000, "megapixels": 400.0, "limit_mp": 40.0},
    )
    assert "20000×20000" in refused.message("zh") and "像素" in refused.message("zh")
    assert "40.0 megapixels" in refused.message("en")


def test_the_photo_pixel_cap_is_a_setting(tmp_path: Path, rel: Any, gunicorn: Any) -> None:
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=1, VILLAGEWORKS_MAX_PHOTO_PIXELS="10000")
    status, body = capture(
        rel, server.url, tokens["field"], [("a.jpg", oriented_jpeg())], "cap-setting-1"
    )
    assert status == 422 and body["error"]["problems"][0]["code"] == "photo_too_many_pixels"
    assert "200×100" in body["error"]["problems"][0]["message"]


def test_accepted_photos_are_reencoded_upright_without_metadata(site: Any, rel: Any) -> None:
    from PIL import Image

    original = oriented_jpeg()
    status, body = capture(
        rel, site.url, site.tokens["field"], [("IMG_1.jpg", original)], "reencode-0001"
    )
    assert status == 201, body
    # The EXIF of the original placed and dated the feature.
    assert body["location_source"] == "photo"
    assert body["feature"]["geometry"]["coordinates"] == pytest.approx(
        [112.8123, 39.5071], abs=1e-6
    )
    (photo_id,) = body["photos"]
    status, headers, served = rel.http("GET", site.url + body["photo_urls"][0])
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert served != original
    image = Image.open(io.BytesIO(served))
    assert image.size == (100, 200)  # turned upright
    assert not image.getexif() and b"SERIAL-12345" not in served and b"Exif" not in served
    assert image.getpixel((95, 5))[2] > 150 and image.getpixel((5, 5))[0] > 150
    index = site_files(site.data_dir, rel.database_url()).read("photos/index.json") or b""
    meta = json.loads(index)["photos"][photo_id]
    assert meta["exif"]["lon"] == pytest.approx(112.8123) and meta["exif"]["orientation"] == 6
    assert (meta["width"], meta["height"]) == (100, 200) and meta["size"] == len(served)


@pytest.mark.browser
def test_feature_pages_show_captured_photos_as_lazy_thumbnails(site: Any, rel: Any) -> None:
    import shutil
    import threading

    photos = [
        ("IMG_1.jpg", oriented_jpeg()),
        ("IMG_2.jpg", (rel.ROOT / "tests" / "data" / "photos" / "DSCN0010.jpg").read_bytes()),
    ]
    status, body = capture(rel, site.url, site.tokens["field"], photos, "feature-photos-1")
    assert status == 201, body
    page_url = f"{site.url}/features/streetlights/{body['id']}?lang=en"
    status, _, html = rel.http("GET", page_url)
    assert status == 200
    assert html.count(b'loading="lazy"') >= 2 and b"/thumb" in html
    for photo_id in body["photos"]:
        status, headers, thumb = rel.http("GET", f"{site.url}/photos/{photo_id}/thumb")
        assert status == 200 and headers["Content-Type"] == "image/jpeg", status
        assert headers["X-Content-Type-Options"] == "nosniff"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("chromium not found (apt-get install chromium)")
    shots = rel.ROOT / "test-artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}

    def look() -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                for name, size in (("desktop", (1280, 900)), ("phone", (390, 844))):
                    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
                    page = context.new_page()
                    page.goto(page_url)
                    grid = page.locator(".vw-photo-grid")
                    grid.scroll_into_view_if_needed()
                    page.wait_for_load_state("networkidle")
                    found[name] = page.locator(".vw-photo-grid img").evaluate_all(
                        """els => els.map(e => ({src: e.getAttribute('src'), alt: e.alt,
                        loading: e.loading, loaded: e.complete && e.naturalWidth > 0,
                        href: e.closest('a').getAttribute('href'),
                        shown: e.getBoundingClientRect().width}))"""
                    )
                    page.screenshot(path=str(shots / f"feature-photos-{name}.png"), full_page=True)
                    context.close()
            finally:
                browser.close()

    errors: list[BaseException] = []

    def run() -> None:  # Playwright's sync API wants a thread without an event loop
        try:
            look()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    for name, images in found.items():
        assert len(images) == 2, (name, images)
        for n, (image, photo_id) in enumerate(zip(images, body["photos"], strict=True), 1):
            assert image["src"] == f"/photos/{photo_id}/thumb", image
            assert image["href"] == f"/photos/{photo_id}", image
            assert image["loading"] == "lazy" and image["loaded"], (name, image)
            assert image["alt"].startswith(f"Photo {n} of "), image
            assert 0 < image["shown"] <= 400, (name, image)


# ----------------------------------------------------------------- 18: heavy features
def gps_pipe(start: tuple[float, float], vertices: int, seed: int = 18) -> dict[str, Any]:
    """A pipe as a GPS logger records it: a vertex every 0.2 m eastwards, 0.3 m of noise."""
    import random

    noise = random.Random(seed)
    x0, y0 = start
    coords = [
        [
            round(x0 + i * 2.3e-6 + noise.uniform(-3e-6, 3e-6), 7),
            round(y0 + 0.0004 * (i / vertices) + noise.uniform(-3e-6, 3e-6), 7),
        ]
        for i in range(vertices)
    ]
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {"purpose": "irrigation"},
    }


def ogc_post(rel: Any, base: str, token: str, layer: str, feature: dict) -> tuple[int, dict]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/geo+json",
        "Accept": "application/json",
    }
    status, _, raw = rel.http(
        "POST", f"{base}/ogc/collections/{layer}/items", orjson.dumps(feature), headers
    )
    return status, json.loads(raw or b"{}")


def test_a_feature_over_the_layers_vertex_cap_is_refused(site: Any, rel: Any) -> None:
    (start,) = rel.grid_points(site.data_dir, "pipes", 1, spacing_deg=0.01)
    over = gps_pipe(start, 10_001)
    status, body = ogc_post(rel, site.url, site.tokens["field"], "pipes", over)
    assert status == 422, body
    (problem,) = [p for p in body["error"]["problems"] if p["severity"] == "error"]
    assert problem["code"] == "feature_too_many_vertices" and problem["field"] == "geometry"
    assert "10001" in problem["message"] and "10000" in problem["message"]
    # The same row through an upload: rejected with the same problem, in Chinese too.
    collection = orjson.dumps({"type": "FeatureCollection", "features": [over]})
    raw, ctype = multipart(
        {"layer": "pipes", "crs": "wgs84", "dry_run": "true"},
        {"file": ("pipe.geojson", collection, "application/geo+json")},
    )
    headers = {"Authorization": f"Bearer {site.tokens['field']}", "Content-Type": ctype}
    status, _, answer = rel.http("POST", f"{site.url}/api/uploads?lang=zh", raw, headers)
    report = json.loads(answer)
    assert status == 200 and report["rejected"] == 1, report
    (problem,) = [p for p in report["problems"] if p["code"] == "feature_too_many_vertices"]
    assert problem["row"] == 1 and "10001" in problem["message"] and "上限" in problem["message"]
    # At the cap it is taken.
    status, body = ogc_post(rel, site.url, site.tokens["field"], "pipes", gps_pipe(start, 10_000))
    assert status == 201, body


def test_a_pipe_at_the_cap_does_not_make_pages_heavy(site: Any, rel: Any) -> None:
    pages = ("/dashboard", "/")
    before = {page: len(rel.http("GET", site.url + page)[2]) for page in pages}
    (start,) = rel.grid_points(site.data_dir, "pipes", 1, spacing_deg=0.01)
    status, body = ogc_post(rel, site.url, site.tokens["field"], "pipes", gps_pipe(start, 10_000))
    assert status == 201, body
    stored = orjson.loads(
        rel.http("GET", f"{site.url}/ogc/collections/pipes/items/{body['id']}")[2]
    )
    assert len(stored["geometry"]["coordinates"]) == 10_000  # kept as sent
    for page in pages:
        status, _, html = rel.http("GET", site.url + page)
        assert status == 200
        # Unsimplified, the pipe alone would add about 220 KB.
        assert len(html) <= before[page] * 1.05 + 5_000, (page, before[page], len(html))


def test_anonymous_exports_are_rate_limited_per_minute(
    tmp_path: Path, rel: Any, gunicorn: Any
) -> None:
    data = rel.demo_data_dir(tmp_path / "data")
    tokens = rel.make_accounts(data)
    server = gunicorn(data, workers=2, VILLAGEWORKS_ANONYMOUS_EXPORTS_PER_MINUTE="3")
    url = f"{server.url}/export/wells.geojson"
    answers = [rel.http("GET", url) for _ in range(3)]  # two workers share one count
    assert [status for status, _, _ in answers] == [200, 200, 200]
    for lang, word in (("en", "log in"), ("zh", "登录")):
        status, headers, raw = rel.http(
            "GET", f"{url}?lang={lang}", headers={"Accept": "application/json"}
        )
        assert status == 429, raw[:300]
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert word in json.loads(raw)["error"]["message"]
    # Logged-in users are not limited.
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert [rel.http("GET", url, headers=auth)[0] for _ in range(5)] == [200] * 5
