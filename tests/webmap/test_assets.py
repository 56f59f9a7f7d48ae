"""webmap.assets: every asset of a folium page is served by the app itself."""

import re
from urllib.parse import urlsplit

import folium
import pytest
from branca.element import JavascriptLink
from folium import plugins
from folium.elements import JSCSSMixin

from webmap.assets import (
    ASSET_URLS,
    DEFAULT_STATIC_URL,
    VENDOR_DIR,
    UnvendoredAssetError,
    chart_js_url,
    localise,
)

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# URLs the browser would fetch: src=/href= attributes (also inside JS strings) and CSS url().
FETCHED_URL = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*\\?["']?|url\(\s*["']?)([^"'\s)\\>]+)""", re.IGNORECASE
)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\`]+""", re.IGNORECASE)
HTTP_URL = re.compile(r"""https?://[^\s"'<>)\\`]+""", re.IGNORECASE)


def every_plugin_map(tiles: str | None = None) -> folium.Map:
    """A map using folium.Map's own assets and every plugin VillageWorks uses."""
    m = folium.Map(location=[30.0, 120.0], zoom_start=12, tiles=tiles)
    villages = folium.FeatureGroup(name="villages").add_to(m)
    folium.Marker([30.0, 120.0], tooltip="well", icon=folium.Icon(icon="info-sign")).add_to(
        villages
    )
    folium.Marker([30.01, 120.0], icon=folium.Icon(icon="road", prefix="fa", angle=45)).add_to(
        villages
    )
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
    plugins.MiniMap(tile_layer=folium.TileLayer(OSM_TILES, attr="OpenStreetMap")).add_to(m)
    plugins.TimestampedGeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [120.0, 30.0]},
                    "properties": {"times": ["2024-01-01", "2024-02-01"]},
                }
            ],
        }
    ).add_to(m)
    plugins.Draw().add_to(m)
    return m


def tile_layer_urls(m: folium.Map) -> set[str]:
    """Tile URL templates and attribution links: the only absolute URLs allowed."""
    allowed = set()
    stack = [m.get_root()]
    while stack:
        element = stack.pop()
        stack.extend(element._children.values())
        if isinstance(element, folium.TileLayer):
            allowed.add(element.tiles)
            allowed.update(HTTP_URL.findall(element.options.get("attribution", "")))
    return allowed


def vendor_file(url: str, static_url: str = DEFAULT_STATIC_URL):
    assert url.startswith(static_url + "/"), url
    return VENDOR_DIR / urlsplit(url).path.removeprefix(static_url + "/")


@pytest.fixture
def page() -> tuple[folium.Map, str]:
    m = every_plugin_map(tiles="OpenStreetMap")
    localise(m)
    return m, m.get_root().render()


def test_unlocalised_page_reaches_cdns():
    # Guards the tests below: they would pass vacuously if folium emitted no URLs.
    html = every_plugin_map().get_root().render()
    assert "cdn.jsdelivr.net" in html and "cdnjs.cloudflare.com" in html


def test_localised_page_fetches_nothing_from_other_hosts(page):
    m, html = page
    fetched = FETCHED_URL.findall(html)
    assert len(fetched) > 30
    allowed = tile_layer_urls(m)
    assert [url for url in fetched if ABSOLUTE_URL.match(url) and url not in allowed] == []


def test_localised_page_names_no_other_absolute_url(page):
    m, html = page
    allowed = tile_layer_urls(m)
    assert OSM_TILES in allowed
    named = {
        url
        for line in html.splitlines()
        if not line.lstrip().startswith("//")  # a JavaScript comment fetches nothing
        for url in HTTP_URL.findall(line)
    }
    assert sorted(named - allowed) == []


def test_every_local_reference_exists(page):
    _, html = page
    local = [url for url in FETCHED_URL.findall(html) if url.startswith(DEFAULT_STATIC_URL)]
    # One per folium asset name except the shared jQuery, counted once in the header.
    assert len(set(local)) >= 33
    assert [url for url in local if not vendor_file(url).is_file()] == []


def test_table_points_at_existing_files():
    missing = [a.path for a in ASSET_URLS.values() if not (VENDOR_DIR / a.path).is_file()]
    assert missing == []


def test_vendored_css_references_resolve_locally():
    css_files = sorted(VENDOR_DIR.rglob("*.css"))
    assert len(css_files) >= 15
    problems = []
    for css in css_files:
        for ref in re.findall(r"""url\(\s*["']?([^"')]+)""", css.read_text("utf-8")):
            if ref.startswith(("data:", "#")):  # inline data; IE's VML behaviour
                continue
            target = (css.parent / urlsplit(ref).path).resolve()
            if ABSOLUTE_URL.match(ref) or not target.is_file():
                problems.append(f"{css.relative_to(VENDOR_DIR)}: {ref}")
            elif VENDOR_DIR.resolve() not in target.parents:
                problems.append(f"{css.relative_to(VENDOR_DIR)}: {ref} leaves the vendor dir")
    assert problems == []


def test_font_awesome_webfonts_keep_relative_layout():
    css = VENDOR_DIR / "@fortawesome/fontawesome-free@6.2.0/css/all.min.css"
    assert "../webfonts/fa-solid-900.woff2" in css.read_text("utf-8")
    assert (css.parent.parent / "webfonts/fa-solid-900.woff2").is_file()


def test_static_url_prefix_is_configurable():
    m = folium.Map(tiles=None)
    localise(m, static_url="/vw/assets/")
    html = m.get_root().render()
    assert 'src="/vw/assets/leaflet@1.9.3/dist/leaflet.js?v=' in html


def test_localise_twice_is_harmless():
    m = every_plugin_map()
    localise(m)
    localise(m)
    assert "https://cdn" not in m.get_root().render()


def test_localise_after_a_render_replaces_header_links():
    m = folium.Map(tiles=None)
    m.get_root().render()
    localise(m)
    assert "https://" not in m.get_root().render()


def test_folium_defaults_stay_untouched():
    localise(every_plugin_map())
    assert dict(folium.Map.default_js)["leaflet"] == ASSET_URLS["leaflet"].upstream_url
    assert ASSET_URLS["leaflet"].upstream_url in folium.Map(tiles=None).get_root().render()


class _NewPlugin(JSCSSMixin):
    default_js = [("leaflet_new_thing", "https://unpkg.com/leaflet-new-thing@1.0.0/x.js")]


def test_asset_without_vendored_copy_raises_naming_it():
    m = folium.Map(tiles=None)
    _NewPlugin().add_to(m)
    with pytest.raises(UnvendoredAssetError, match="leaflet_new_thing") as info:
        localise(m)
    assert info.value.url == "https://unpkg.com/leaflet-new-thing@1.0.0/x.js"


def test_asset_whose_upstream_version_changed_raises():
    m = folium.Map(tiles=None)
    newer = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
    m.default_js = [("leaflet", newer), *m.default_js[1:]]
    with pytest.raises(UnvendoredAssetError, match=r"'leaflet'.*1\.9\.4.*differs"):
        localise(m)


def test_protocol_relative_url_counts_as_external():
    m = folium.Map(tiles=None)
    m.default_css = [*m.default_css, ("extra_css", "//example.org/extra.css")]
    with pytest.raises(UnvendoredAssetError, match="extra_css"):
        localise(m)


def test_header_links_are_localised_by_url_or_rejected():
    m = folium.Map(tiles=None)
    m.get_root().header.add_child(JavascriptLink(ASSET_URLS["moment"].upstream_url))
    localise(m)
    assert f"{DEFAULT_STATIC_URL}/moment@2.18.1/min/moment.min.js" in m.get_root().render()

    m.get_root().header.add_child(JavascriptLink("https://example.org/tracker.js"))
    with pytest.raises(UnvendoredAssetError, match="example.org/tracker.js"):
        localise(m)


def test_chart_js_url_points_at_umd_build():
    url = chart_js_url()
    assert url.split("?v=")[0] == f"{DEFAULT_STATIC_URL}/chart.js@4.6.1/dist/chart.umd.min.js"
    assert "Chart" in vendor_file(url).read_text("utf-8")[:2000]
