"""webmap.display: one formatting of field values for every page, the feature pages and
the OGC API's HTML alike, built on layers.exports.display_value."""

import html
import re

import pytest

from layers import exports
from layers.specs import SpecRegistry
from webmap import display, mapdata

SPECS = SpecRegistry.load()


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
