"""The plan year (计划年度) in headless Chromium: the county map's replay starts on
``?year=``, and the year selector of the dashboard and the ledger switches years while
keeping the page's other parameters."""

import pytest


@pytest.fixture
def site(demo_app, live_server_factory):
    """The demo county (a copy), with no basemap: nothing but the app is asked for."""
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return live_server_factory(demo_app)


def test_the_map_replay_offers_plan_years_and_starts_on_the_chosen_one(site, page_checked):
    page_checked.goto(site + "/?layers=streetlights&year=2021")
    page = page_checked.page
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    options = page.locator(".vw-replay-year option").evaluate_all(
        "(els) => els.map((e) => e.value)"
    )
    assert options == ["2021", "2025", "2026"]  # no 1998 from old wells
    assert page.locator(".vw-replay-year").input_value() == "2021"
    page.evaluate(
        """() => { const r = document.querySelector('.vw-replay-month');
                   r.value = '12'; r.dispatchEvent(new Event('input')); }"""
    )
    assert page.locator(".vw-replay-label").inner_text().startswith("2021年1月—2021年12月")


def test_the_year_selector_switches_the_ledger_and_keeps_other_parameters(site, page_checked):
    page_checked.goto(site + "/ledger?as_of=2026-10-31&lang=en")
    page = page_checked.page
    assert page.locator("#ledger-year").get_attribute("data-year") == "2026"
    page.select_option("#year-select-year", "2021")
    with page.expect_navigation():
        page.locator("#year-select button[type=submit]").click()
    assert "year=2021" in page.url and "as_of=2026-10-31" in page.url and "lang=en" in page.url
    assert page.locator("#ledger-year").get_attribute("data-year") == "2021"
    assert page.locator("#ledger-table").get_by_text("国道208沿线太阳能路灯").count() == 1
