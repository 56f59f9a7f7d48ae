"""The capture page on a phone-sized headless Chromium: faked GPS, offline queue, retries.

The offline test proves the promise to field staff: a capture made without signal waits on
the phone (IndexedDB), survives a reload served by the service worker, and lands exactly
once when the network returns, even when the first answer is lost on the way back.
"""

from pathlib import Path

import pytest

from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "tests" / "data" / "photos" / "shanyin_phone.jpg"
GBK_CSV = ROOT / "tests" / "data" / "import" / "shanyin" / "lights_excel_gbk.csv"
PASSWORD = "correct-horse-9"
PHONE = {"width": 390, "height": 844}
# Near a Shanyin road, inside the county.
GPS = {"latitude": 39.5151, "longitude": 112.8233, "accuracy": 8}


@pytest.fixture
def app(tmp_path):
    import shutil

    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("field1", "field", PASSWORD)
    return app


def open_capture(page_checked, base, geolocation=GPS):
    page = page_checked.page
    page.set_viewport_size(PHONE)
    page.context.grant_permissions(["geolocation"], origin=base)
    page.context.set_geolocation(geolocation)
    page_checked.goto(f"{base}/login?next=/capture")
    page.fill("input[name=name]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    page.wait_for_selector("#cap-map.leaflet-container")
    return page


def fill_light(page):
    page.select_option("#cap-layer", "streetlights")
    page.select_option("#f-streetlights-power_source", "solar")
    page.fill("#f-streetlights-road", "G208 <b>测试</b>")


def forget_expected_failures(checked, marker="/api/capture"):
    """The failed POSTs this test provoked on purpose (offline, dropped answer)."""
    checked.failed_loads[:] = [f for f in checked.failed_loads if marker not in f]
    checked.console_errors[:] = [
        e for e in checked.console_errors if not (marker in e and "net::ERR_" in e)
    ]


def test_offline_capture_waits_on_the_phone_and_lands_once(app, live_server_factory, page_checked):
    store = app.extensions["villageworks.store"]
    before = store.count("streetlights")
    base = live_server_factory(app)
    page = open_capture(page_checked, base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    fill_light(page)
    page.click("#cap-locate")
    page.wait_for_selector("#cap-accuracy[data-state=ok]")
    assert "±8" in page.inner_text("#cap-accuracy")
    page.set_input_files("#cap-photos", str(PHOTO))

    page.context.set_offline(True)
    page.click("#cap-save")
    page.wait_for_selector("#cap-queue-list li[data-state=queued]")
    page.wait_for_function("document.getElementById('cap-net').dataset.state === 'offline'")
    assert store.count("streetlights") == before

    # Still offline: the page comes from the service worker, the capture from IndexedDB.
    page.reload()
    page.wait_for_selector("#cap-queue-list li[data-state=queued]")
    assert page.locator("#cap-queue-list li").count() == 1

    # The first delivery reaches the server but its answer is lost on the way back.
    posts = []

    def lose_first_answer(route):
        posts.append(route.request.headers.get("idempotency-key"))
        if len(posts) == 1:
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/capture", lose_first_answer)
    page.context.set_offline(False)
    page.wait_for_function("() => window.vwCapture && true")
    page.evaluate("window.vwCapture.flush()")
    page.wait_for_function(
        "document.querySelectorAll('#cap-done-list li').length === 1"
        " && document.querySelectorAll('#cap-queue-list li').length === 0",
        timeout=30_000,
    )
    assert len(posts) >= 2 and len(set(posts)) == 1  # retried, always with the same key
    assert store.count("streetlights") == before + 1  # exactly one feature landed

    feature = store.features("streetlights")[-1]
    assert feature["properties"]["road"] == "G208 <b>测试</b>"
    assert feature["geometry"]["coordinates"] == pytest.approx([112.8233, 39.5151], abs=1e-7)
    from layers.photos import photos_for

    files = app.extensions["villageworks.store"].files
    assert len(photos_for(files, "streetlights", feature["id"])) == 1
    done = page.inner_text("#cap-done-list li")
    assert feature["id"] in done
    forget_expected_failures(page_checked)


def test_poor_accuracy_warns_and_the_map_is_the_fallback(app, live_server_factory, page_checked):
    store = app.extensions["villageworks.store"]
    before = store.count("streetlights")
    base = live_server_factory(app)
    page = open_capture(page_checked, base, {**GPS, "accuracy": 60})
    fill_light(page)
    page.click("#cap-locate")
    page.wait_for_selector("#cap-accuracy[data-state=over]")
    assert "20" in page.inner_text("#cap-accuracy")
    assert page.is_visible("#cap-accept-low")
    page.click("#cap-save")
    assert "20" in page.inner_text("#cap-error")  # refused on the phone already
    assert page.locator("#cap-queue-list li").count() == 0

    # Tap the map instead: a deliberate placement, no accuracy limit applies.
    page.click("#cap-map", position={"x": 200, "y": 130})
    page.wait_for_function("document.getElementById('cap-accuracy').textContent.length > 0")
    assert page.get_attribute("#cap-accuracy", "data-state") is None
    page.click("#cap-save")
    page.wait_for_function("document.querySelectorAll('#cap-done-list li').length === 1")
    assert store.count("streetlights") == before + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_required_field_is_checked_on_the_phone(app, live_server_factory, page_checked):
    base = live_server_factory(app)
    page = open_capture(page_checked, base)
    page.select_option("#cap-layer", "wells")
    assert page.is_hidden("fieldset[data-layer=streetlights]")
    page.select_option("#f-wells-status", "")
    page.click("#cap-locate")
    page.wait_for_selector("#cap-accuracy[data-state=ok]")
    page.click("#cap-save")
    assert page.inner_text("#cap-error") != ""
    assert page.evaluate("document.getElementById('f-wells-status').validity.valueMissing")
    assert page.locator("#cap-queue-list li").count() == 0


def test_upload_preview_in_the_browser(app, live_server_factory, page_checked):
    base = live_server_factory(app)
    page = open_capture(page_checked, base)
    page.goto(f"{base}/uploads/new")
    page.set_input_files("input[name=file]", str(GBK_CSV))
    page.select_option("select[name=layer]", "streetlights")
    page.click("button.up-commit")
    page.wait_for_selector("#up-map.leaflet-container[data-features='3']")
    assert page.locator("#up-crs-confirm").count() == 1
    page.click("button[value=preview]")
    page.wait_for_selector("#up-commit")
    page.click("#up-commit")
    page.wait_for_url("**/uploads/U-*")
    assert "3" in page.inner_text(".up-counts")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
