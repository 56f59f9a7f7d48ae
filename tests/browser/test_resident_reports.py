"""The residents' channel in a phone-sized headless Chromium (issue #18).

A resident reports a problem on /report (GPS or a tap on the map, with or without a
photo) and gets a tracking code, remembered on the phone; follows it on /reports/<code>;
a planner accepts, replies and solves it from /reports and the feature editor; the
resident rates it once. A report near an open one of the same category is offered as "the
same problem? +1". Without signal the report waits ("待发送") and is sent when the phone
is online again. The phone number never reaches a public page.
"""

import io
import os
import shutil
from pathlib import Path

import orjson
import pytest
from PIL import Image

from layers.changes import Change
from layers.photos import PhotoStore
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-9"
PHONE = "13912345678"
PHONE_SIZE = {"width": 390, "height": 844}
# Near a Shanyin road, inside the county.
GPS = {"latitude": 39.5151, "longitude": 112.8233, "accuracy": 8}
XSS = '<img src=x onerror="window.__vwXss=1">路灯不亮 ${alert(1)}'


@pytest.fixture
def app(tmp_path):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("planner1", "planner", PASSWORD)
    return app


def store_of(app):
    return app.extensions["villageworks.store"]


@pytest.fixture
def jpeg(tmp_path):
    path = tmp_path / "路灯.jpg"
    image = Image.new("RGB", (64, 48), (30, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    path.write_bytes(buffer.getvalue())
    return path


def poll(page, expression, tries=100):
    """Wait until ``expression`` (evaluated in the page) is truthy."""
    for _ in range(tries):
        value = page.evaluate(expression)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def shot(page, name):
    """A screenshot for the README (docs/screenshots/resident-*.png when asked)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"resident-{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("VILLAGEWORKS_UPDATE_DOCS"):
        shutil.copyfile(path, ROOT / "docs" / "screenshots" / f"resident-{name}.png")


def open_report(page_checked, base, path="/report"):
    page = page_checked.page
    page.set_viewport_size(PHONE_SIZE)
    page.context.grant_permissions(["geolocation"], origin=base)
    page.context.set_geolocation(GPS)
    page_checked.goto(base + path)
    page.wait_for_selector("#rp-map.leaflet-container")
    return page


def fill_report(page, category="streetlight", description=XSS, phone=PHONE, photo=None):
    page.click("#rp-locate")
    page.wait_for_selector("#rp-where[data-state=set]")
    page.select_option("#rp-category", category)
    page.fill("#rp-description", description)
    if phone:
        page.fill("#rp-phone", phone)
    if photo:
        page.set_input_files("#rp-photos", str(photo))


def sent_code(page):
    page.wait_for_selector("#rp-done:not([hidden])")
    return page.inner_text("#rp-code").strip()


def the_report(app, code):
    found = [f for f in store_of(app).features("reports") if f["properties"].get("code") == code]
    assert len(found) == 1, code
    return found[0]


def test_a_report_with_a_photo_gets_a_code_and_is_followed(app, live_server_factory,
                                                           page_checked, jpeg):  # fmt: skip
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    fill_report(page, description="村口第三根路灯晚上不亮", photo=jpeg)
    assert "精度约 8 米" in page.inner_text("#rp-where")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "report")
    page.fill("#rp-description", XSS)
    page.click("#rp-send")
    code = sent_code(page)
    assert len(code) >= 8
    assert page.get_attribute("#rp-code-link", "href") == f"/reports/{code}"
    assert page.inner_text("#rp-link-text").endswith(f"/reports/{code}")
    feature = the_report(app, code)
    props = feature["properties"]
    assert props["category"] == "streetlight" and props["description"] == XSS.strip()
    assert props["phone"] == PHONE and props["status"] == "new"
    assert len(PhotoStore(store_of(app).files).for_feature("reports", feature["id"])) == 1
    mine = page.evaluate("JSON.parse(localStorage.getItem('vw-my-reports'))")
    assert [m["code"] for m in mine] == [code]
    assert page.locator("#rp-mine-list a", has_text=code).count() == 1
    page.click("#rp-copy")
    poll(page, "document.getElementById('rp-copy').textContent === '已复制'")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "confirmation")

    page.click("#rp-code-link")
    page.wait_for_selector("#rp-status[data-state=loaded]")
    assert page.inner_text("#rp-state") == "待受理"
    assert page.inner_text("#rp-description") == XSS.strip()  # shown as text
    assert page.evaluate("window.__vwXss") is None
    assert page.locator("#rp-photos img").count() == 1
    poll(page, "document.querySelector('#rp-photos img').naturalWidth === 64")
    assert page.is_visible("#rp-rating-later") and not page.is_visible("#rp-rating-form")
    assert PHONE not in page.content()


def test_a_report_without_photos_from_a_tap_on_the_map_in_english(app, live_server_factory,
                                                                  page_checked):  # fmt: skip
    base = live_server_factory(app)
    page = open_report(page_checked, base, "/report?lang=en")
    box = page.locator("#rp-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#rp-where[data-state=set]")
    assert "Placed on the map" in page.inner_text("#rp-where")
    page.click("#rp-send")
    assert page.inner_text("#rp-error") == "Choose a category"
    page.select_option("#rp-category", "road")
    page.click("#rp-send")
    assert page.inner_text("#rp-error") == "Write a description"
    page.fill("#rp-description", "A pothole at the crossing")
    page.click("#rp-send")
    code = sent_code(page)
    assert "Sent, thank you!" in page.inner_text("#rp-done")
    feature = the_report(app, code)
    assert feature["properties"]["category"] == "road" and not feature["properties"].get("phone")
    assert PhotoStore(store_of(app).files).for_feature("reports", feature["id"]) == []
    lon, lat = feature["geometry"]["coordinates"][:2]
    assert 112.0 < lon < 113.5 and 39.0 < lat < 40.0


def planner_sets(page, base, fid, status, reply):
    page.goto(f"{base}/features/reports/{fid}")
    page.select_option("#vw-edit-form select[name=status]", status)
    page.fill("#vw-edit-form [name=reply]", reply)
    page.click("#vw-edit-save")
    page.wait_for_selector("#vw-saved")


def log_in(page, base, name="planner1"):
    page.goto(f"{base}/login?next=/reports")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/reports")


def test_a_planner_accepts_replies_and_solves_then_the_resident_rates_once(
    app, live_server_factory, page_checked, browser
):
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    fill_report(page, description="村口路灯不亮")
    page.click("#rp-send")
    code = sent_code(page)
    fid = the_report(app, code)["id"]

    staff = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        desk = staff.new_page()
        log_in(desk, base)
        row = desk.locator(f"#rp-awaiting-list li[data-id='{fid}']")
        assert "村口路灯不亮" in row.inner_text()
        row.locator("a.rp-editor-link").click()
        desk.wait_for_url(f"{base}/features/reports/{fid}")
        assert PHONE in desk.content()  # planners may call the resident back
        planner_sets(desk, base, fid, "accepted", "已受理，明天派人查看")
        page.goto(f"{base}/reports/{code}")
        page.wait_for_selector("#rp-status[data-state=loaded]")
        assert page.inner_text("#rp-state") == "已受理"
        assert page.is_visible("#rp-rating-later") and not page.is_visible("#rp-rating-form")
        planner_sets(desk, base, fid, "solved", "已更换灯具，谢谢您的反映")
    finally:
        staff.close()

    other = page.context.new_page()  # the same phone, a second tab opened before rating
    other.goto(f"{base}/reports/{code}")
    other.wait_for_selector("#rp-status[data-state=loaded]")
    page.reload()
    page.wait_for_selector("#rp-status[data-state=loaded]")
    assert page.inner_text("#rp-state") == "已解决"
    replies = page.locator("#rp-replies .rp-text").all_inner_texts()
    assert replies == ["已受理，明天派人查看", "已更换灯具，谢谢您的反映"]
    assert page.locator("#rp-dates li[data-event=solved]").count() == 1
    assert page.is_visible("#rp-rating-form") and not page.is_visible("#rp-rating-later")
    page.click("#rp-rate")
    assert page.inner_text("#rp-rating-error") == "请选择 1 到 5 分"
    page.check("input[name=rating][value='4']")
    page.fill("#rp-comment", "修得很快")
    page.click("#rp-rate")
    page.wait_for_selector("#rp-rating[data-state=rated]")
    assert "4 / 5" in page.inner_text("#rp-rating-shown")
    assert not page.is_visible("#rp-rating-form")
    props = the_report(app, code)["properties"]
    assert props["rating"] == 4 and props["rating_comment"] == "修得很快"
    shot(page, "status")

    # The second tab still offers the form: the server refuses the second rating.
    other.check("input[name=rating][value='1']")
    other.click("#rp-rate")
    poll(other, "document.getElementById('rp-rating-error').textContent.length > 0")
    assert "已经评价过" in other.inner_text("#rp-rating-error")
    assert the_report(app, code)["properties"]["rating"] == 4
    page_checked.failed_loads[:] = [f for f in page_checked.failed_loads if "/rating" not in f]
    other.close()

    page.reload()
    page.wait_for_selector("#rp-rating[data-state=rated]")
    assert not page.is_visible("#rp-rating-form") and "修得很快" in page.inner_text("#rp-rating")
    assert PHONE not in page.content()

    page.goto(f"{base}/reports")
    page.wait_for_selector("#rp-list[data-state=loaded]")
    item = page.locator(f"#rp-list li[data-id='{fid}']")
    assert "已解决" in item.inner_text() and "村口路灯不亮" in item.inner_text()
    assert page.locator(".rp-editor-link").count() == 0  # not for residents
    drawn = page.locator("#rp-list-map path.leaflet-interactive").count()
    assert drawn == page.locator("#rp-list li.rp-list-item").count() >= 1
    assert PHONE not in page.content()
    shot(page, "list")
    page.select_option("#rp-filter-status", "accepted")
    poll(page, "location.search === '?status=accepted'")
    page.wait_for_selector("#rp-list[data-state=loaded]")
    assert page.locator(f"#rp-list li[data-id='{fid}']").count() == 0
    statuses = page.locator("#rp-list li.rp-list-item").evaluate_all(
        "items => items.map(li => li.getAttribute('data-status'))"
    )
    assert set(statuses) <= {"accepted"}
    town = the_report(app, code)["properties"]["township"]
    page.select_option("#rp-filter-status", "solved")
    page.select_option("#rp-filter-township", town)
    poll(page, "location.search.indexOf('township=') > 0")
    # The solved list without the township filter holds this report too: wait until the
    # township-filtered answer has replaced it (every row of that township), not for the row.
    towns_js = (
        "Array.from(document.querySelectorAll('#rp-list .rp-list-head .hint'))"
        ".map(e => e.innerText)"
    )
    poll(page, f"(t => t.length > 0 && t.every(x => x.includes({town!r})))({towns_js})", 300)
    assert page.locator(f"#rp-list li[data-id='{fid}']").count() == 1


def open_report_near_gps(app):
    client = app.test_client()
    body = {"lon": GPS["longitude"] + 0.00005, "lat": GPS["latitude"], "category": "streetlight",
            "description": "这盏灯一直闪", "phone": PHONE}  # fmt: skip
    made = orjson.loads(client.post("/api/reports", json=body).data)
    store = store_of(app)
    feature = store.get("reports", made["id"])
    change = Change("update", id=made["id"], properties={"status": "accepted"},
                    if_version=int(feature["properties"]["version"]))  # fmt: skip
    store.commit("reports", [change], user="planner1", source="form")
    return made


def test_a_report_near_an_open_one_is_offered_as_the_same_problem(app, live_server_factory,
                                                                 page_checked):  # fmt: skip
    made = open_report_near_gps(app)
    before = len(store_of(app).features("reports"))
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    page.click("#rp-locate")
    page.wait_for_selector("#rp-where[data-state=set]")
    page.select_option("#rp-category", "water")
    page.wait_for_timeout(300)
    assert not page.is_visible("#rp-similar")  # another category
    page.select_option("#rp-category", "streetlight")
    page.wait_for_selector("#rp-similar:not([hidden])")
    item = page.locator(f"#rp-similar-list li[data-id='{made['id']}']")
    assert "这盏灯一直闪" in item.inner_text()
    button = item.locator("button.rp-me-too")
    assert button.inner_text() == "是同一个问题吗？+1"
    button.click()
    page.wait_for_selector(f"#rp-similar-list li[data-id='{made['id']}'][data-state=done]")
    assert "1 人也反映了" in item.inner_text()
    assert store_of(app).get("reports", made["id"])["properties"]["me_too"] == 1
    assert len(store_of(app).features("reports")) == before  # no duplicate
    assert PHONE not in page.content()


def forget_expected_failures(checked, marker="/api/reports"):
    """The POSTs this test made fail on purpose (offline)."""
    checked.failed_loads[:] = [f for f in checked.failed_loads if marker not in f]
    checked.console_errors[:] = [
        e for e in checked.console_errors if not (marker in e and "net::ERR_" in e)
    ]


def test_offline_the_report_waits_and_is_sent_when_back_online(app, live_server_factory,
                                                              page_checked):  # fmt: skip
    before = len(store_of(app).features("reports"))
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    poll(page, "navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    page.reload()  # served by the page's service worker
    page.wait_for_selector("#rp-map.leaflet-container")
    fill_report(page, description="水管漏水")
    page.click("#rp-send")
    page.wait_for_selector("#rp-queue-list li[data-state=queued]")
    assert "待发送" in page.inner_text("#rp-queue-list")
    assert "没有网络" in page.inner_text("#rp-net")
    assert len(store_of(app).features("reports")) == before

    page.context.set_offline(False)
    code = sent_code(page)
    assert the_report(app, code)["properties"]["description"] == "水管漏水"
    poll(page, "document.querySelectorAll('#rp-queue-list li').length === 0")
    assert page.evaluate("JSON.parse(localStorage.getItem('vw-my-reports'))")[0]["code"] == code
    assert len(store_of(app).features("reports")) == before + 1
    forget_expected_failures(page_checked)


# What an old in-app browser lacks: the page must work with XMLHttpRequest, without a
# service worker, IndexedDB, the clipboard API or crypto.randomUUID.
OLD_BROWSER = """
function gone(owner, name) {
  Object.defineProperty(owner, name, { get: function () { return undefined; },
                                       configurable: true });
}
window.fetch = undefined;
gone(window, "indexedDB");
gone(Navigator.prototype, "serviceWorker");
gone(Navigator.prototype, "clipboard");
gone(Crypto.prototype, "randomUUID");
"""


def test_an_old_in_app_browser_still_sends_the_report_and_rates(app, live_server_factory,
                                                                 page_checked):  # fmt: skip
    page_checked.page.add_init_script(OLD_BROWSER)
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    assert page.evaluate("window.fetch === undefined && window.indexedDB === undefined")
    fill_report(page, description="井盖丢了", category="road")
    page.click("#rp-send")
    code = sent_code(page)
    assert the_report(app, code)["properties"]["description"] == "井盖丢了"
    page.click("#rp-copy")
    poll(page, "document.getElementById('rp-copy').textContent === '已复制'")
    assert page.evaluate("navigator.serviceWorker") is None

    feature = the_report(app, code)
    store = store_of(app)
    for status in ("accepted", "solved"):
        version = int(store.get("reports", feature["id"])["properties"]["version"])
        change = Change("update", id=feature["id"], properties={"status": status},
                        if_version=version)  # fmt: skip
        store.commit("reports", [change], user="planner1", source="form")
    page.goto(f"{base}/reports/{code}")
    page.check("input[name=rating][value='5']")
    page.click("#rp-rate")
    page.wait_for_selector("#rp-rating[data-state=rated]")
    assert the_report(app, code)["properties"]["rating"] == 5


def test_the_capture_pages_worker_leaves_the_report_pages_offline_copy(app, live_server_factory,
                                                                      page_checked):  # fmt: skip
    UserStore(app.config["DATA_DIR"]).add("field1", "field", PASSWORD)
    base = live_server_factory(app)
    page = open_report(page_checked, base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    poll(page, "navigator.serviceWorker.controller !== null")
    poll(page, "caches.has('vw-report-v1')")
    # A field worker signs in on the same phone: the capture page's worker installs and
    # activates, clearing its own old caches only.
    page.goto(f"{base}/login?next=/capture")
    page.fill("input[name=name]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    poll(page, "navigator.serviceWorker.controller !== null")
    poll(page, "caches.keys().then(k => k.some(n => n.indexOf('vw-capture-') === 0))")
    assert page.evaluate("caches.has('vw-report-v1')")
    page.context.set_offline(True)
    page.goto(f"{base}/report")
    page.wait_for_selector("#rp-map.leaflet-container")
    assert page.is_visible("#rp-send")
    page.context.set_offline(False)
