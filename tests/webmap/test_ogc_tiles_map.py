"""The map pages draw a big layer from vector tiles when nothing narrows the view, and
fetch it from the bbox API otherwise (filters, GCJ-02 drawing)."""

import json
import re

import pytest

from webmap.app import create_app

LAYER_PAYLOAD = re.compile(r"vw\.layer\([^,]+, (\{.*?\})\);\n", re.S)
VECTORGRID = "/static/vendor/leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js"


@pytest.fixture
def client(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "SECRET_KEY": "t"})
    app.config.update(DEFAULT_BASEMAP="none", EMBED_MAX_FEATURES=40)
    return app.test_client()


def payloads(html):
    return {p["name"]: p for p in map(json.loads, LAYER_PAYLOAD.findall(html))}


def test_a_big_layer_is_drawn_from_tiles_and_the_page_loads_the_plugin(client):
    html = client.get("/?layers=streetlights,wells").get_data(as_text=True)
    lights, wells = payloads(html)["streetlights"], payloads(html)["wells"]
    assert lights["mode"] == "tiles" and lights["cluster"] is False
    assert lights["tiles"] == "/ogc/collections/streetlights/tiles/WebMercatorQuad/{z}/{x}/{y}"
    assert "data" not in lights
    assert wells["mode"] == "tiles"
    assert VECTORGRID in html and "/static/js/vtiles.js?v=" in html
    template = lights["tiles"].format(z=10, x=832, y=387)
    assert client.get(template).status_code == 200


@pytest.mark.parametrize("query", ["status=working", "basemap=amap"])
def test_a_narrowed_or_shifted_view_still_fetches_from_the_bbox_api(client, query):
    html = client.get(f"/?layers=streetlights&{query}").get_data(as_text=True)
    lights = payloads(html)["streetlights"]
    assert lights["mode"] == "fetch" and lights["api"] == "/api/layers/streetlights/features"


def test_a_page_of_small_layers_does_not_load_the_plugin(client):
    client.application.config["EMBED_MAX_FEATURES"] = 100_000
    html = client.get("/").get_data(as_text=True)
    assert all(p["mode"] == "embed" for p in payloads(html).values())
    assert "vectorgrid" not in html.lower() and "vtiles.js" not in html
