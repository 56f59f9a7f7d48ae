"""Sheets printed to PDF and pages on a phone, in headless Chromium, offline.

The village sheet of the G208 village is printed to an A4 PDF (``page.pdf``) and its text
read back with pypdf: every work of the village is on the paper, with the print and data
dates. /ledger and /dashboard at 390x844: no sideways scroll of the page, the item name
column stays in view while the table scrolls, township names are not broken one
character per line, and the header menu collapses to a button that opens it. Screenshots
go to test-artifacts/screenshots/.
"""

import io
import re
from pathlib import Path

import pytest
import shapely
from pypdf import PdfReader

from webmap.app import get_store
from webmap.extensions import get_county_view

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
G208_VILLAGE = "VL-000073"  # 薛圐圙村: 84 streetlights along the G208, a well, visits, a shop
A4_PT = (595.3, 841.9)


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return demo_app


@pytest.fixture
def site(app, live_server_factory):
    return live_server_factory(app)


def shot(page, name, full_page=False):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def village_work_ids(app, village_id):
    """Every work whose point (or a point on its surface) lies in the village's area."""
    with app.app_context():
        area = get_county_view(app).places.village(village_id).geometry
    store = get_store(app)
    out = set()
    for spec in store.specs:
        if spec.kind == "work" and spec.spatial and spec.name != "villages":
            for f in store.features(spec.name):
                if area.intersects(shapely.point_on_surface(shapely.geometry.shape(f["geometry"]))):
                    out.add(f["id"])
    return out


def test_village_sheet_prints_every_work_on_a4(app, site, page_checked):
    expected = village_work_ids(app, G208_VILLAGE)
    assert len([i for i in expected if i.startswith("SL-")]) == 84
    page = page_checked.page
    page_checked.goto(f"{site}/villages/{G208_VILLAGE}?lang=en")
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    page.emulate_media(media="print")
    shot(page, "village_sheet_print")
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    on_paper = set(re.findall(r"\b[A-Z]{2}-\d{6}\b", text))
    missing = expected - on_paper
    assert not missing, f"{len(missing)} works not printed, e.g. {sorted(missing)[:5]}"
    width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
    assert width == pytest.approx(A4_PT[0], abs=1) and height == pytest.approx(A4_PT[1], abs=1)
    assert "Printed" in text and "Data as of" in text and "31 Oct 2026" in text


def test_ledger_on_a_phone_scrolls_its_table_with_the_name_in_view(site, page_checked):
    page = page_checked.page
    page.set_viewport_size(PHONE)
    page_checked.goto(f"{site}/ledger")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # it scrolls, the page not
    name = page.locator("#ledger-table tbody tr:first-child th").first
    before = name.bounding_box()
    wrap.evaluate("w => { w.scrollLeft = 400; }")
    page.wait_for_timeout(100)
    after = name.bounding_box()
    assert after["x"] == pytest.approx(before["x"], abs=1) and after["x"] >= 0
    township = page.locator("#ledger-table tbody tr:first-child td").nth(1)
    size = township.evaluate("td => parseFloat(getComputedStyle(td).fontSize)")
    assert township.bounding_box()["height"] < 2.5 * size * 1.6  # one line, not a column
    shot(page, "phone_ledger_scrolled")

    menu = page.locator("header nav")
    button = page.locator("[data-nav-toggle]")
    assert button.is_visible() and not menu.is_visible()
    assert page.locator(".topbar").bounding_box()["height"] < 70
    button.click()
    assert menu.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert page.locator("header nav a[href='/dashboard']").is_visible()
    shot(page, "phone_ledger_menu_open")
    button.click()
    assert not menu.is_visible() and button.get_attribute("aria-expanded") == "false"


def test_dashboard_on_a_phone_keeps_the_township_column_in_view(site, page_checked):
    page = page_checked.page
    page.set_viewport_size(PHONE)
    page_checked.goto(f"{site}/dashboard")
    page.wait_for_selector("html[data-dash-ready]", state="attached")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    table = page.locator("table.dash-table:has(tbody th a[href^='/townships/'])").first
    wrap = table.locator("xpath=ancestor::div[contains(@class,'table-wrap')][1]")
    name = table.locator("tbody tr:first-child th").first
    before = name.bounding_box()
    wrap.evaluate("w => { w.scrollLeft = 500; }")
    page.wait_for_timeout(100)
    assert name.bounding_box()["x"] == pytest.approx(before["x"], abs=1)
    name.scroll_into_view_if_needed()
    shot(page, "phone_dashboard_table")
    assert page.locator("[data-nav-toggle]").is_visible()
    assert not page.locator("header nav").is_visible()


def test_township_sheet_prints_every_village_with_its_dates(app, site, page_checked):
    with app.app_context():
        villages = get_county_view(app).places.villages_of("BD-000007")  # 薛圐圙乡
    assert len(villages) > 10
    page = page_checked.page
    page_checked.goto(f"{site}/townships/BD-000007?lang=zh")
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    page.emulate_media(media="print")
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))
    text = re.sub(r"\s+", "", "\n".join(p.extract_text() for p in pdf.pages))
    missing = [v.name for v in villages if v.name not in text]
    assert not missing, missing
    assert "打印日期" in text and "数据日期" in text and "2026年10月31日" in text
