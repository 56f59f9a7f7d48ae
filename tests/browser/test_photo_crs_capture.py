"""The capture page's "position in the photos" choice in Chromium (issue #16): remembered
on the phone, sent as ``photo_crs``, and a GCJ-02 photo lands at its WGS84 place."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import pytest
from PIL import Image

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.exif import read_exif
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"
TRUE_WGS84 = (112.8233, 39.5151)


@pytest.fixture
def app(tmp_path):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("field1", "field", PASSWORD)
    return app


def dms(value: float) -> tuple[float, float, float]:
    degrees = math.floor(value)
    minutes = math.floor((value - degrees) * 60)
    return float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 4)


def gcj_photo(path: Path) -> tuple[float, float]:
    """A JPEG at ``path`` whose EXIF holds the GCJ-02 position of TRUE_WGS84; returns
    that position as stored in the EXIF block."""
    glon, glat = (float(v) for v in wgs84_to_gcj02(*TRUE_WGS84))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: dms(glat), 3: "E", 4: dms(glon)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(out, "JPEG", exif=exif.tobytes())
    path.write_bytes(out.getvalue())
    position = read_exif(out.getvalue()).position
    assert position is not None
    return position


def test_the_choice_is_remembered_and_converts_the_photo_position(
    app, live_server_factory, page_checked, tmp_path
):
    store = app.extensions["villageworks.store"]
    before = store.count("streetlights")
    exif_position = gcj_photo(tmp_path / "IMG_gcj.jpg")
    base = live_server_factory(app)
    page = page_checked.page
    page.set_default_timeout(60_000)  # a busy 2-core machine
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/login?next=/capture", wait_until="load")
    page.fill("input[name=name]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    assert page.input_value("#cap-photo-crs") == "wgs84"
    page.select_option("#cap-photo-crs", "gcj02")
    page.reload(wait_until="load")
    assert page.input_value("#cap-photo-crs") == "gcj02"  # remembered on the phone

    page.select_option("#cap-layer", "streetlights")
    page.select_option("#f-streetlights-power_source", "solar")
    page.set_input_files("#cap-photos", str(tmp_path / "IMG_gcj.jpg"))
    page.click("#cap-save")
    for _ in range(100):  # poll until the capture is sent and listed as done
        if page.evaluate("document.querySelectorAll('#cap-done-list li').length") == 1:
            break
        page.wait_for_timeout(200)
    assert store.count("streetlights") == before + 1
    stored = store.features("streetlights")[-1]["geometry"]["coordinates"]
    exact = [float(v) for v in gcj02_to_wgs84(*exif_position)]
    assert stored == pytest.approx(exact, abs=1e-6)  # about 0.1 m
    assert stored == pytest.approx(list(TRUE_WGS84), abs=1e-5)
