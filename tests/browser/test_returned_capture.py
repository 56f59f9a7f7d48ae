"""A returned work on a phone-sized Chromium: the field account sees it on /capture with the
planner's comment (as text), follows the link to the feature page, corrects the status
and the location, saves, and the work is submitted again and leaves the list."""

import shutil
from pathlib import Path

import pytest

from layers.capture import Capture, capture_feature
from layers.changes import Author
from layers.review import decide
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"
PHONE = {"width": 390, "height": 844}
COMMENT = "灯杆位置偏了 <b>请重新定位</b>"


@pytest.fixture
def app(tmp_path):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("field1", "field", PASSWORD)
    return app


def returned_light(store) -> str:
    """A light captured by field1 and returned by a planner with a comment; its id."""
    capture = Capture(
        layer="streetlights",
        properties={"power_source": "solar", "status": "working"},
        geometry={"type": "Point", "coordinates": [112.8233, 39.5151]},
        accuracy_m=6.0,
        location_source="gps",
    )
    result = capture_feature(
        store, capture, user=Author("field1", "field"), idempotency_key="browser-returned-1"
    )
    fid = result.feature["id"]
    decide(store, "streetlights", [fid], "returned", COMMENT, Author("planner1", "planner"))
    return fid


def test_a_returned_work_is_corrected_from_the_phone(app, live_server_factory, page_checked):
    store = app.extensions["villageworks.store"]
    fid = returned_light(store)
    base = live_server_factory(app)
    page = page_checked.page
    page.set_viewport_size(PHONE)
    page_checked.goto(f"{base}/login?next=/capture")
    page.fill("input[name=name]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    item = page.wait_for_selector(f'#cap-returned-list li[data-feature="streetlights/{fid}"]')
    assert COMMENT in item.inner_text()  # the planner's markup shown as text
    assert page.locator("#cap-returned-list b").count() == 0
    box = page.locator("#cap-returned").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]

    page.click(f'#cap-returned-list li[data-feature="streetlights/{fid}"] a')
    page.wait_for_url(f"{base}/features/streetlights/{fid}#vw-edit")
    page.select_option("#vw-edit-form select[name=status]", "faulty")
    page.fill("#vw-edit-form input[name=x]", "112.8240")
    page.fill("#vw-edit-form input[name=y]", "39.5155")
    page.click("#vw-edit-save")
    page.wait_for_selector("#vw-saved")
    after = store.get("streetlights", fid)
    assert after["properties"]["review"] == "submitted"
    assert after["properties"]["status"] == "faulty"
    assert after["geometry"]["coordinates"][:2] == [112.824, 39.5155]

    page_checked.goto(f"{base}/capture")
    page.wait_for_selector("#cap-returned-list[data-loaded='0']", state="attached")
    assert page.inner_text("#cap-returned-status") == "没有退回给您的项目"
    assert page_checked.problems() == {}
