"""Localised folium pages work in Chromium with no host but the app itself."""

import base64
from pathlib import Path

import folium
import pytest
from flask import Flask, Response
from folium import plugins

import webmap
from webmap.assets import chart_js_url, localise

STATIC_DIR = Path(webmap.__file__).resolve().parent / "static"
# A 1x1 transparent PNG, served as every tile of the local test tile layer.
BLANK_TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def offline_app(html: str) -> Flask:
    """Serve webmap/static, one page, and blank tiles under /tiles/."""
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")

    @app.get("/")
    def page() -> str:
        return html

    @app.get("/tiles/<int:z>/<int:x>/<int:y>.png")
    def tile(z: int, x: int, y: int) -> Response:
        return Response(BLANK_TILE, mimetype="image/png")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    return app


def tileless_map(zoom_start: int) -> folium.Map:
    # folium hands max_zoom only to a tile layer; without one, MarkerCluster throws
    # "Map has no maxZoom specified" unless the map itself gets the option.
    return folium.Map(location=[30.0, 120.0], zoom_start=zoom_start, tiles=None, maxZoom=18)


def clustered_map() -> folium.Map:
    m = tileless_map(zoom_start=10)
    cluster = plugins.MarkerCluster().add_to(m)
    for i in range(20):
        folium.Marker([30.0 + i * 1e-4, 120.0 + i * 1e-4]).add_to(cluster)
    plugins.Fullscreen().add_to(m)
    plugins.MeasureControl().add_to(m)
    plugins.LocateControl().add_to(m)
    return m


def every_plugin_map() -> folium.Map:
    m = tileless_map(zoom_start=12)
    villages = folium.FeatureGroup(name="villages").add_to(m)
    folium.Marker([30.0, 120.0], tooltip="well", icon=folium.Icon(icon="info-sign")).add_to(
        villages
    )
    folium.Marker([30.01, 120.0], icon=folium.Icon(icon="road", prefix="fa")).add_to(villages)
    roads = folium.FeatureGroup(name="roads").add_to(m)
    cluster = plugins.MarkerCluster(name="lights").add_to(m)
    folium.Marker([30.02, 120.01]).add_to(cluster)
    plugins.FastMarkerCluster([[30.03, 120.02], [30.03, 120.03]]).add_to(m)
    plugins.FeatureGroupSubGroup(cluster, name="lamps").add_to(m)
    plugins.Fullscreen().add_to(m)
    plugins.MeasureControl().add_to(m)
    plugins.LocateControl().add_to(m)
    plugins.Search(villages, search_label="tooltip").add_to(m)
    plugins.GroupedLayerControl({"layers": [villages, roads]}).add_to(m)
    local_tiles = folium.TileLayer("/tiles/{z}/{x}/{y}.png", attr="test tiles")
    plugins.MiniMap(tile_layer=local_tiles).add_to(m)
    point = {"type": "Point", "coordinates": [120.0, 30.0]}
    feature = {"type": "Feature", "geometry": point, "properties": {"times": ["2024-01-01"]}}
    plugins.TimestampedGeoJson({"type": "FeatureCollection", "features": [feature]}).add_to(m)
    plugins.Draw().add_to(m)
    return m


def open_map(m: folium.Map, live_server_factory, page_checked):
    localise(m)
    page_checked.goto(live_server_factory(offline_app(m.get_root().render())))
    page = page_checked.page
    page.wait_for_selector(".leaflet-container")
    page.evaluate("document.fonts.ready.then(() => true)")
    return page


def test_clustered_map_runs_offline(live_server_factory, page_checked):
    page = open_map(clustered_map(), live_server_factory, page_checked)

    assert page.evaluate("typeof window.L === 'object' && L.version") == "1.9.3"
    for control in ("zoom-fullscreen", "measure", "locate"):
        assert page.locator(f".leaflet-control-{control}").count() == 1, control
    clusters = page.locator(".marker-cluster")
    assert clusters.count() == 1
    assert clusters.inner_text().strip() == "20"
    assert page.locator(".leaflet-tile").count() == 0
    page_checked.assert_clean()


def test_every_plugin_runs_offline(live_server_factory, page_checked):
    page = open_map(every_plugin_map(), live_server_factory, page_checked)

    for selector in (
        ".leaflet-control-zoom-fullscreen",
        ".leaflet-control-measure",
        ".leaflet-control-locate",
        ".leaflet-control-search",
        ".leaflet-control-minimap",
        ".leaflet-bar-timecontrol",
        ".leaflet-draw-toolbar",
        ".awesome-marker .glyphicon-info-sign",
        ".awesome-marker .fa-road",
    ):
        assert page.locator(selector).count() >= 1, selector
    # The icon fonts came from the vendor folder (a 404 would also be a failed load).
    font_loaded = (
        "name => [...document.fonts].some(f => f.family.includes(name) && f.status === 'loaded')"
    )
    for family in ("Glyphicons Halflings", "Font Awesome 6 Free"):
        assert page.evaluate(font_loaded, family), family
    page_checked.assert_clean()


def test_chart_js_runs_offline(live_server_factory, page_checked):
    html = f"""<!DOCTYPE html><html><head><script src="{chart_js_url()}"></script></head>
    <body><canvas id="c" width="300" height="150"></canvas><script>
    new Chart(document.getElementById("c"),
      {{type: "bar", data: {{labels: ["a", "b"], datasets: [{{data: [1, 2]}}]}}}});
    </script></body></html>"""
    page_checked.goto(live_server_factory(offline_app(html)))

    assert page_checked.page.evaluate("Chart.version").startswith("4.")
    page_checked.assert_clean()


def test_checker_catches_external_requests(live_server_factory, page_checked):
    # The harness itself must be able to fail: an unlocalised map reaches the CDNs.
    html = clustered_map().get_root().render()
    page_checked.goto(live_server_factory(offline_app(html)))

    assert any("cdn" in url for url in page_checked.external_requests)
    with pytest.raises(AssertionError, match="requests to other hosts"):
        page_checked.assert_clean()
    # Clear what was seen so this test's own teardown check passes.
    page_checked.external_requests.clear()
    page_checked.console_errors.clear()
    page_checked.page_errors.clear()
