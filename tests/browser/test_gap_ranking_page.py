"""The ranked gaps in headless Chromium, offline: numbered markers of the first ten of
each kind on the county map and the dashboard's gap map, the list that zooms to them,
and a hostile road name shown as text."""

import pytest
from geometries import line

from layers.store import Change
from webmap.app import get_store

XSS = "<img src=x onerror=window.__xss=1>${window.__xss=1}`"


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return demo_app


@pytest.fixture
def site(app, live_server_factory):
    return live_server_factory(app)


def rank_state(page):
    return page.evaluate(
        """() => {
            const s = window.VWRank.maps[window.VWRank.maps.length - 1];
            const b = s.map.getBounds();
            return {zoom: s.map.getZoom(), selected: s.selected, n: s.items.length,
                    bounds: [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]};
        }"""
    )


def inside(outer, box, slack=1e-6):
    (s, w), (n, e) = box
    return (
        outer[0] <= s + slack
        and outer[1] <= w + slack
        and outer[2] >= n - slack
        and outer[3] >= e - slack
    )


def test_county_map_numbers_the_longest_dark_stretches_and_zooms_to_one(app, site, page_checked):
    # The longest unlit road of all, named to attack the page: first of its kind.
    longest = line((112.62, 39.30), (112.62, 39.79))
    road = Change("create", geometry=longest, properties={"name": XSS})
    get_store(app).commit("roads", [road], user="t", source="test")
    page = page_checked.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page_checked.goto(site + "/")
    page.wait_for_selector("html[data-vw-rank-ready]", state="attached")
    lighting = page.locator('.vw-rank-kind[data-rank-kind="lighting"]')
    rows = lighting.locator("button.vw-rank-item")
    assert rows.count() == 10
    first = rows.nth(0)
    assert first.locator(".vw-rank-label").inner_text().startswith(XSS)
    assert first.locator(".vw-rank-figure").inner_text().endswith("公里")
    assert page.evaluate("window.__xss") is None
    assert lighting.locator(".vw-rank-covers").inner_text().startswith("无路灯路段")
    assert "淡色" in lighting.inner_text()  # the rest: drawn faintly
    numbers = page.locator(".vw-rank-marker.vw-rank-circle .vw-rank-num").all_inner_texts()
    assert sorted(int(n) for n in numbers) == list(range(1, 11))

    before = rank_state(page)
    rows.nth(1).click()
    after = rank_state(page)
    item = page.evaluate(
        """() => window.VWRank.maps[0].items.find(
               (i) => i.data.k === "lighting" && i.data.r === 2).data.b"""
    )
    assert after["selected"] == "lighting:2" and after["zoom"] > before["zoom"]
    assert inside(after["bounds"], item)
    page.locator(".vw-rank-item").first.scroll_into_view_if_needed()


def test_dashboard_gap_map_lists_each_kind_and_zooms(site, page_checked):
    page = page_checked.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page_checked.goto(site + "/dashboard?lang=en")
    page.wait_for_selector("html[data-vw-rank-ready]", state="attached")
    kinds = page.locator(".vw-rank-kind").evaluate_all(
        "nodes => nodes.map((n) => n.getAttribute('data-rank-kind'))"
    )
    assert kinds == ["lighting", "irrigation", "visits"]
    visits = page.locator('.vw-rank-kind[data-rank-kind="visits"]')
    assert visits.locator(".vw-rank-figure").first.inner_text() == "never visited"
    assert "Villages to visit" in visits.locator(".vw-rank-covers").inner_text()
    # The list sits under the map (between it and the legend).
    map_box = page.locator("#dash-map").bounding_box()
    assert page.locator(".vw-rank").bounding_box()["y"] >= map_box["y"] + map_box["height"] - 1
    greenhouse = page.locator('.vw-rank-kind[data-rank-kind="irrigation"] button').first
    greenhouse.click()
    state = rank_state(page)
    assert state["selected"] == "irrigation:1" and state["zoom"] >= 14
    page.locator("#dash-map").scroll_into_view_if_needed()
