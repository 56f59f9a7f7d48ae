"""webmap.display: one formatting of field values for every page, the feature pages and
the OGC API's HTML alike, built on layers.exports.display_value."""

import html
import io
import json
import re

import pytest

from geo.crs import wgs84_to_gcj02
from geo.display import display_mapping
from layers import exports
from layers.specs import SpecRegistry
from webmap import display, mapdata

SPECS = SpecRegistry.load()
PASSWORD = "correct-horse-9"


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def test_page_and_file_styles_share_one_function():
    wells = SPECS["wells"]
    assert display.display_value(wells, "status", "faulty", "en") == "Faulty"
    assert exports.display_value(wells.field("status"), "faulty", "en") == "Faulty"
    assert display.display_value(wells, "depth_m", 1234.5, "en") == "1,234.5 m"
    assert exports.display_value(wells.field("depth_m"), 1234.5, "en") == "1234.5 m"
    assert display.display_value(wells, "completed_date", "2024-03-05", "zh") == "2024年3月5日"
    assert exports.display_value(wells.field("completed_date"), "2024-03-05", "zh") == "2024-03-05"
    # A boolean field reads yes/no in both, also when stored as text.
    assert display.display_value(wells, "yield_increased", "true", "en") == "Yes"
    assert exports.display_value(wells.field("yield_increased"), False, "zh") == "否"
    assert display.display_value(wells, "depth_m", float("nan"), "zh") == ""


def test_mapdata_names_are_the_display_ones():
    for name in ("display_value", "field_rows", "history_rows", "feature_title", "ref_titles"):
        assert getattr(mapdata, name) is getattr(display, name)


def _cells(page: str) -> set[str]:
    return {html.unescape(c).strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", page)}


def test_ogc_html_and_the_feature_page_show_the_same_values(client):
    wells = SPECS["wells"]
    ogc = client.get("/ogc/collections/wells/items/WL-000001?f=html&lang=zh").get_data(as_text=True)
    feature = client.get("/features/wells/WL-000001?lang=zh").get_data(as_text=True)
    doc = client.get("/ogc/collections/wells/items/WL-000001?f=json").get_json()
    shown = 0
    for fspec in wells.fields:
        value = doc["properties"].get(fspec.name)
        text = display.display_value(wells, fspec.name, value, "zh")
        if not text or fspec.type == "ref":
            continue
        assert text in _cells(ogc), fspec.name
        assert text in _cells(feature), fspec.name
        shown += 1
    assert shown >= 3


def _preview_map(app, basemap: str) -> dict:
    app.config["DEFAULT_BASEMAP"] = basemap
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"name": "field1", "password": PASSWORD, "csrf_token": token})
    page = client.get("/uploads/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = "name,lon,lat,power_source,status\n灯,112.8012,39.5034,solar,working\n".encode()
    staged = client.post(
        "/uploads/new",
        data={
            "csrf_token": token,
            "layer": "streetlights",
            "crs": "EPSG:4326",
            "file": (io.BytesIO(data), "lights.csv"),
        },
        content_type="multipart/form-data",
    )
    page = client.get(staged.headers["Location"]).get_data(as_text=True)
    found = re.search(
        r'<script type="application/json" id="up-map-data">(.*?)</script>', page, re.S
    )
    return json.loads(found.group(1))


def test_the_upload_preview_is_shifted_by_the_one_display_shift(demo_app, accounts):
    accounts(demo_app)
    plain = _preview_map(demo_app, "none")
    gaode = _preview_map(demo_app, "amap")
    assert not plain["gcj02"] and gaode["gcj02"]
    (before,) = [f["geometry"] for f in plain["features"]]
    (after,) = [f["geometry"] for f in gaode["features"]]
    assert before["coordinates"] == [112.8012, 39.5034]
    assert after == display_mapping(before, gcj02=True, decimals=None)
    assert after["coordinates"] == list(wgs84_to_gcj02(112.8012, 39.5034))
    assert gaode["outline"] == display_mapping(plain["outline"], gcj02=True, decimals=None)
