"""The admin actions and changing many at once, in Chromium (issue #14): an admin limits a
field account to one township and resets its password (shown once, the old one stops
working); a planner marks several faulty lights working from the bulk page."""

from pathlib import Path

import pytest

from layers.scopes import townships
from layers.users import UserStore
from webmap.app import create_app, get_store

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"


@pytest.fixture
def app(tmp_path):
    import shutil

    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    users = UserStore(data)
    for name, role in (("admin1", "admin"), ("planner1", "planner"), ("field1", "field")):
        users.add(name, role, PASSWORD)
    return app


def sign_in(page_checked, base, name, target):
    page = page_checked.page
    page_checked.goto(f"{base}/login?next={target}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}{target}")
    return page


def test_admin_scopes_an_account_and_resets_its_password(app, live_server_factory, page_checked):
    base = live_server_factory(app)
    page = sign_in(page_checked, base, "admin1", "/admin/users")
    home = townships(get_store(app)).resolve("薛圐圙乡")
    row = page.locator('tr[data-user="field1"]')
    row.locator("select[name=areas]").select_option([home])
    row.locator("select[name=areas] + button").click()
    page.wait_for_selector(f'tr[data-user="field1"][data-areas="{home}"]')
    users = UserStore(Path(app.config["DATA_DIR"]))
    assert list(users.get("field1").areas) == [home]
    page.locator('tr[data-user="field1"]').locator(
        'form[action$="/field1/password"] button'
    ).click()
    shown = page.locator("#admin-password code").inner_text().strip()
    assert len(shown) >= 8 and shown != PASSWORD
    assert users.authenticate("field1", shown) is not None
    assert users.authenticate("field1", PASSWORD) is None
    assert page_checked.problems() == {}


def test_a_planner_marks_faulty_lights_working_at_once(app, live_server_factory, page_checked):
    store = get_store(app)
    faulty = sorted(f["id"] for f in store.features("streetlights")
                    if f["properties"]["status"] == "faulty")  # fmt: skip
    base = live_server_factory(app)
    page = sign_in(page_checked, base, "planner1", "/features/streetlights/bulk?status=faulty")
    for fid in faulty[:2]:
        page.check(f'#vw-bulk-table input[name=id][value="{fid}"]')
    page.select_option("#vw-bulk-form select[name=status]", "working")
    page.click("#vw-bulk-apply")
    page.wait_for_selector("#vw-bulk-done")
    assert [store.get("streetlights", f)["properties"]["status"] for f in faulty[:2]] == [
        "working",
        "working",
    ]
    assert store.get("streetlights", faulty[2])["properties"]["status"] == "faulty"
    assert page_checked.problems() == {}
