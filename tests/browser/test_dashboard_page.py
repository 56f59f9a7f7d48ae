"""The leaders' dashboard in headless Chromium, offline (basemap "none").

``page_checked`` fails a test on any console error, uncaught exception, failed load or
request to another host, and saves a screenshot of the page as it ends.
"""

import pytest

from webmap.app import get_store

XSS_NAME = "<img src=x onerror=window.__xss=1></script>${window.__xss=1}"


@pytest.fixture
def site(demo_app, live_server_factory):
    """The demo county, with one village whose name is hostile markup."""
    store = get_store(demo_app)
    point = {"type": "Point", "coordinates": [112.80, 39.52]}
    store.create("villages", point, {"name": XSS_NAME, "township": "岱岳镇"}, user="test")
    return live_server_factory(demo_app)


def open_dashboard(checked, url):
    checked.goto(url)
    checked.page.wait_for_selector("html[data-dash-ready]", state="attached")
    return checked.page


def test_dashboard_shows_kpis_and_gap_map_offline(site, page_checked):
    page_checked.page.set_viewport_size({"width": 1280, "height": 900})
    page = open_dashboard(page_checked, site + "/dashboard?as_of=2026-10-31")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    headline = page.locator("#dash-headline").inner_text()
    assert "173.1 公里" in headline and "68 个村超过 90 天未走访" in headline
    assert page.locator("#dash-kpis .kpi").count() >= 8
    assert page.locator("#dash-kpis .kpi-behind").count() == 2
    layers = {layer["key"]: layer for layer in page.evaluate("window.vwDashLayers")}
    assert layers["gap-dark_road"]["count"] == 17 and layers["gap-dark_road"]["show"]
    assert layers["villages"]["count"] == 134
    # Dark roads and villages are drawn as SVG in the map pane; sparklines and charts ran.
    assert page.locator("#dash-map path.leaflet-interactive").count() > 150
    assert page.evaluate("window.vwDashCharts.length") == 2
    assert page.locator("canvas[data-trend]").count() == page.locator("#dash-kpis .kpi").count()
    # The hostile name is text in the village table and never ran.
    assert page.locator("#dash-villages").get_by_text(XSS_NAME, exact=True).count() == 1
    assert page.evaluate("window.__xss") is None


def test_tables_sort_and_village_click_opens_its_page(site, page_checked):
    page = open_dashboard(page_checked, site + "/dashboard?as_of=2026-10-31")
    days = page.locator("#dash-villages thead th").nth(3)
    days.locator("button").click()
    days.locator("button").click()  # descending: never visited first, then the longest ago
    first = page.locator("#dash-villages tbody tr").first
    assert first.locator("td").nth(1).inner_text() == "从未走访"
    assert days.get_attribute("aria-sort") == "descending"
    # A village marker: hover shows its name (as text), a click opens /villages/<id>.
    page.route(
        "**/villages/VL-000001",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>village</p>"),
    )
    point = page.evaluate("VWDash.pointOf('/villages/VL-000001', 15)")
    page.mouse.move(point["x"], point["y"])
    tooltip = page.locator(".leaflet-tooltip", has_text="白坊村")
    assert tooltip.inner_text() == "白坊村"
    with page.expect_navigation():
        page.mouse.click(point["x"], point["y"])
    assert page.url.endswith("/villages/VL-000001")


def test_hostile_village_name_is_text_in_the_map_tooltip(site, page_checked):
    page = open_dashboard(page_checked, site + "/dashboard?as_of=2026-10-31&lang=en")
    village_id = page.locator("#dash-villages tbody tr", has_text="onerror").get_attribute(
        "data-village"
    )
    tooltip = page.locator(".leaflet-tooltip", has_text="onerror")
    # Hover again until the tooltip opens: on a busy machine the first move can land while
    # the map is still redrawing after the jump, and a missed hover is never repeated.
    for _ in range(20):
        point = page.evaluate(f"VWDash.pointOf('/villages/{village_id}', 16)")
        page.mouse.move(0, 0)
        page.mouse.move(point["x"], point["y"])
        if tooltip.count():
            break
        page.wait_for_timeout(250)
    assert tooltip.inner_text() == XSS_NAME
    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_dashboard_on_a_phone_and_printed(site, page_checked):
    page_checked.page.set_viewport_size({"width": 390, "height": 844})
    page = open_dashboard(page_checked, site + "/dashboard?as_of=2026-10-31")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # wide tables scroll inside their own box
    page.emulate_media(media="print")
    assert page.locator(".dash-controls").is_hidden()
    assert page.locator("#dash-map").is_visible()
    page.emulate_media(media="screen")
