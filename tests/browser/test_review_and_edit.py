"""Review and editing in Chromium (issue #14): a planner on a phone-sized page approves a
selection of field submissions at once and returns one with a comment; on a feature page
a planner changes the status with the form's select and the change shows at once."""

from pathlib import Path

import pytest

from layers.changes import Author, Change
from layers.users import UserStore
from webmap.app import create_app, get_store

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(tmp_path):
    import shutil

    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("planner1", "planner", PASSWORD)
    return app


def submitted(app, n):
    field = Author("field1", "field", [])
    changes = [
        Change(
            "create",
            geometry={"type": "Point", "coordinates": [112.8161 + i * 0.004, 39.5268]},
            properties={"power_source": "solar", "status": "working"},
        )
        for i in range(n)
    ]
    return get_store(app).commit("streetlights", changes, user=field, source="capture").ids


def sign_in(page_checked, base, target):
    page = page_checked.page
    page_checked.goto(f"{base}/login?next={target}")
    page.fill("input[name=name]", "planner1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}{target}")
    return page


def test_bulk_approve_and_return_with_a_comment_on_a_phone(app, live_server_factory, page_checked):
    ids = submitted(app, 3)
    base = live_server_factory(app)
    page_checked.page.set_viewport_size(PHONE)
    page = sign_in(page_checked, base, "/review")
    assert page.locator(".vw-review-card").count() == 3
    for fid in ids[:2]:
        page.check(f'input[form="vw-bulk"][value="streetlights/{fid}"]')
    page.click("#vw-approve-selected")
    page.wait_for_selector("#vw-review-notice")
    assert page.locator(".vw-review-card").count() == 1
    card = page.locator(f'.vw-review-card[data-id="{ids[2]}"]')
    card.locator("textarea[name=comment]").fill("灯杆位置不对，请重新定位")
    card.locator('button[value="returned"]').click()
    page.wait_for_selector("#vw-review-empty")
    states = [get_store(app).get("streetlights", i)["properties"]["review"] for i in ids]
    assert states == ["approved", "approved", "returned"]
    assert page_checked.problems() == {}


def test_select_all_ticks_every_card(app, live_server_factory, page_checked):
    submitted(app, 2)
    base = live_server_factory(app)
    page = sign_in(page_checked, base, "/review")
    page.check("#vw-select-all")
    assert page.locator('input[form="vw-bulk"]:checked').count() == 2
    assert page_checked.problems() == {}


def test_status_changed_on_the_feature_page(app, live_server_factory, page_checked):
    base = live_server_factory(app)
    fid = get_store(app).features("streetlights")[0]["id"]
    page = sign_in(page_checked, base, f"/features/streetlights/{fid}")
    old = get_store(app).get("streetlights", fid)["properties"]["status"]
    new = "faulty" if old != "faulty" else "working"
    page.select_option("#vw-edit-form select[name=status]", new)
    page.click("#vw-edit-save")
    page.wait_for_selector("#vw-saved")
    assert get_store(app).get("streetlights", fid)["properties"]["status"] == new
    row = page.locator('#vw-fields tr[data-field="status"] td').inner_text()
    field = get_store(app).spec("streetlights").field("status")
    assert row.strip() == field.value_label(new, "zh")
    assert page_checked.problems() == {}
