"""The county map draws a big layer from the app's vector tiles (Leaflet.VectorGrid), in
headless Chromium, offline: tiles are asked for, features drawn, popups are text."""

from pathlib import Path

import pytest

from layers.store import Change
from webmap.app import get_store

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
XSS = "<img src=x onerror=window.__xss=1>${window.__xss=1}"
N_LIGHTS = 20_000
COLUMNS = 200


def light_xy(i: int) -> tuple[float, float]:
    return 112.5 + (i % COLUMNS) * 0.002, 39.3 + (i // COLUMNS) * 0.002


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    store = get_store(demo_app)
    old = [Change("delete", id=f["id"]) for f in store.features("streetlights")]
    new = [
        Change(
            "create",
            geometry={"type": "Point", "coordinates": list(light_xy(i))},
            properties={"power_source": "solar", "status": "working" if i % 7 else "faulty",
                        "road": XSS if i == 0 else f"{i % 9}号路"},
        )
        for i in range(N_LIGHTS)
    ]  # fmt: skip
    store.commit("streetlights", old + new, user="t", source="test")
    return demo_app


def wait_for(page, expression, arg=None, tries=200):
    """Poll ``expression`` until it is truthy (wait_for_function cannot run under the CSP
    and does not wait for Promises); returns its value."""
    for _ in range(tries):
        value = page.evaluate(expression, arg)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def settled_count(page, layer):
    """The number of features the loaded tiles draw, once it stops changing."""
    last = -1
    for _ in range(100):
        count = page.evaluate("(l) => vw.tileCount(l)", layer)
        pending = page.evaluate(
            "(l) => Object.values(vw.maps[0].byName[l].grid._tiles).some((t) => !t.loaded)", layer
        )
        if count and count == last and not pending:
            return count
        last = count
        page.wait_for_timeout(150)
    raise AssertionError("tiles never settled")


def in_view(page) -> int:
    west, south, east, north = page.evaluate(
        "() => { const b = vw.maps[0].map.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"
    )
    return sum(
        1
        for i in range(N_LIGHTS)
        if west <= light_xy(i)[0] <= east and south <= light_xy(i)[1] <= north
    )


def test_county_map_draws_a_big_layer_from_vector_tiles(app, live_server_factory, page_checked):
    site = live_server_factory(app)
    page = page_checked.page
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_default_navigation_timeout(120_000)  # the first build of a 20k-light county
    page_checked.goto(site + "/?layers=streetlights,boundaries")
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    page.evaluate("() => { vw.maps[0].map.setView([39.4, 112.7], 14, {animate: false}); }")
    count = settled_count(page, "streetlights")
    tiles = [u for u in asked if "/tiles/WebMercatorQuad/" in u]
    base = f"{site}/ogc/collections/streetlights/tiles/WebMercatorQuad/"
    assert tiles and all(u.startswith(base) for u in tiles)
    assert any(u.startswith(f"{base}14/") for u in tiles)
    assert not [u for u in asked if "/api/layers/streetlights/features" in u]
    # Every light in the view is drawn (the tiles around it hold a few more).
    assert in_view(page) <= count < N_LIGHTS
    note = page.locator('[data-vw-note="streetlights"]').inner_text()
    assert "矢量瓦片" in note
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map_tiles_desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("() => { vw.maps[0].map.invalidateSize({animate: false}); }")
    settled_count(page, "streetlights")
    page.screenshot(path=str(SHOTS / "map_tiles_phone.png"))


def test_a_tile_feature_opens_its_popup_as_text(app, live_server_factory, page_checked):
    site = live_server_factory(app)
    page = page_checked.page
    page.set_viewport_size({"width": 1024, "height": 768})
    page.set_default_navigation_timeout(120_000)
    page_checked.goto(site + "/?layers=streetlights")
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    lon, lat = light_xy(0)
    page.evaluate(f"() => {{ vw.maps[0].map.setView([{lat}, {lon}], 17, {{animate: false}}); }}")
    settled_count(page, "streetlights")
    point = page.evaluate(
        f"""() => {{ const m = vw.maps[0].map; const p = m.latLngToContainerPoint([{lat}, {lon}]);
                 const b = m.getContainer().getBoundingClientRect();
                 return {{x: b.left + p.x, y: b.top + p.y}}; }}"""
    )
    page.mouse.click(point["x"], point["y"])
    popup = page.wait_for_selector(".leaflet-popup .vw-popup")
    text = popup.inner_text()
    assert XSS in text  # shown as text, never parsed
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".leaflet-popup img[src='x']").count() == 0
    box = (lon - 1e-6, lat - 1e-6, lon + 1e-6, lat + 1e-6)
    (first,) = get_store(app).query("streetlights", bbox=box).features
    assert first["id"] in page.locator(".vw-popup-more").get_attribute("href")
