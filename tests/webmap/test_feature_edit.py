"""Editing a feature on its page (issue #14): the form built from the spec with a status
select, typed coordinates in any CRS, a stale form refused with a message, delete and
restore with a reason, and the same rights and CSRF check as every other write."""

import re

import pytest

from geo.chinese_offsets import wgs84_to_gcj02
from webmap.app import get_store

PASSWORD = "correct-horse-9"
LIGHT = "/features/streetlights/SL-000001"


@pytest.fixture
def app(demo_app, accounts):
    accounts(demo_app)
    return demo_app


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="planner1"):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def form_of(client, url=LIGHT):
    html = client.get(url).get_data(as_text=True)
    form = re.search(r'<form[^>]*id="vw-edit-form".*?</form>', html, re.S)
    assert form, "no edit form"
    return html, form.group(0)


def version_in(form):
    return re.search(r'name="version" value="(\d+)"', form).group(1)


def test_planner_sees_the_form_with_a_status_select_and_saves_a_status(app):
    client = signed_in(app)
    html, form = form_of(client)
    assert re.search(r'<select[^>]*name="status"', form)
    before = get_store(app).get("streetlights", "SL-000001")
    new_status = "faulty" if before["properties"]["status"] != "faulty" else "working"
    r = client.post(
        f"{LIGHT}/edit",
        data={"csrf_token": csrf(html), "version": version_in(form), "status": new_status},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    after = get_store(app).get("streetlights", "SL-000001")
    assert after["properties"]["status"] == new_status
    assert after["properties"]["version"] == before["properties"]["version"] + 1
    assert after["properties"]["updated_by"] == "planner1"
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="vw-saved"' in page
    assert get_store(app).history("streetlights", "SL-000001")[-1]["source"] == "page"


def test_typed_gcj02_coordinates_are_stored_as_wgs84(app):
    client = signed_in(app)
    html, form = form_of(client)
    lon, lat = 112.8123456, 39.5234567
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = client.post(
        f"{LIGHT}/edit",
        data={"csrf_token": csrf(html), "version": version_in(form), "crs": "gcj02",
              "x": f"{glon:.7f}", "y": f"{glat:.7f}"},
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    x, y = get_store(app).get("streetlights", "SL-000001")["geometry"]["coordinates"]
    assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6


def test_a_stale_form_is_refused_with_a_message_not_overwritten(app):
    client = signed_in(app)
    html, form = form_of(client)
    stale = version_in(form)
    first = client.post(f"{LIGHT}/edit", data={"csrf_token": csrf(html), "version": stale,
                                               "status": "faulty"})  # fmt: skip
    assert first.status_code == 302
    second = client.post(f"{LIGHT}/edit", data={"csrf_token": csrf(html), "version": stale,
                                                "status": "working"})  # fmt: skip
    assert second.status_code == 409
    assert 'id="vw-edit-conflict"' in second.get_data(as_text=True)
    assert get_store(app).get("streetlights", "SL-000001")["properties"]["status"] == "faulty"


def test_bad_values_are_listed_and_nothing_is_written(app):
    client = signed_in(app)
    html, form = form_of(client)
    before = get_store(app).get("streetlights", "SL-000001")
    data = {"csrf_token": csrf(html), "version": version_in(form), "status": "exploded"}
    r = client.post(f"{LIGHT}/edit", data={**data, "pole_height_m": "-3"})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "exploded" in text and 'id="vw-edit-problems"' in text
    assert get_store(app).get("streetlights", "SL-000001") == before


def test_typed_coordinates_that_are_not_numbers_say_so(app):
    client = signed_in(app)
    html, form = form_of(client)
    r = client.post(f"{LIGHT}/edit", data={"csrf_token": csrf(html), "version": version_in(form),
                                           "x": "112,5", "y": "abc"})  # fmt: skip
    assert r.status_code == 400 and "112,5" in r.get_data(as_text=True)


def test_edit_needs_the_csrf_token_and_an_account(app):
    before = get_store(app).get("streetlights", "SL-000001")
    anonymous = app.test_client()
    assert anonymous.post(f"{LIGHT}/edit", data={"status": "faulty"}).status_code in (400, 401)
    viewer = signed_in(app, "viewer1")
    assert 'id="vw-edit-form"' not in viewer.get(LIGHT).get_data(as_text=True)
    client = signed_in(app)
    r = client.post(f"{LIGHT}/edit", data={"status": "faulty"})  # no token
    assert r.status_code == 400
    assert get_store(app).get("streetlights", "SL-000001") == before


def test_field_account_cannot_edit_a_reference_layer_on_its_page(app):
    client = signed_in(app, "field1")
    html = client.get("/features/roads/" + get_store(app).features("roads")[0]["id"]).get_data(
        as_text=True
    )
    assert 'id="vw-edit-form"' not in html
    rid = get_store(app).features("roads")[0]["id"]
    r = client.post(f"/features/roads/{rid}/edit", data={"csrf_token": csrf(html), "name": "x"})
    assert r.status_code == 403


def test_delete_and_restore_need_a_reason_and_are_in_the_history(app):
    client = signed_in(app)
    html, form = form_of(client)
    token = csrf(html)
    refused = client.post(f"{LIGHT}/delete", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400
    assert get_store(app).get("streetlights", "SL-000001") is not None
    gone = client.post(f"{LIGHT}/delete", data={"csrf_token": token, "reason": "重复录入"})
    assert gone.status_code == 302
    assert get_store(app).get("streetlights", "SL-000001") is None
    page = client.get(LIGHT)
    assert page.status_code == 404 and 'id="vw-restore-form"' in page.get_data(as_text=True)
    back = client.post(f"{LIGHT}/restore", data={"csrf_token": token, "reason": "误删"})
    assert back.status_code == 302
    assert get_store(app).get("streetlights", "SL-000001") is not None
    sources = [h["source"] for h in get_store(app).history("streetlights", "SL-000001")[-2:]]
    assert sources == ["page: 重复录入", "page: 误删"]


def test_a_planner_marks_many_lights_repaired_at_once(app):
    store = get_store(app)
    faulty = [
        f["id"] for f in store.features("streetlights") if f["properties"]["status"] == "faulty"
    ]
    assert len(faulty) >= 4
    client = signed_in(app)
    page = client.get("/features/streetlights/bulk?status=faulty")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(f'value="{fid}"' in html for fid in faulty)
    assert re.search(r'<select name="status" required>', html)
    chosen = faulty[:3]
    data = {"csrf_token": csrf(html), "status": "working", "id": chosen}
    data.update({f"v:{fid}": str(store.get("streetlights", fid)["properties"]["version"])
                 for fid in chosen})  # fmt: skip
    r = client.post("/features/streetlights/bulk?status=faulty", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    assert [store.get("streetlights", f)["properties"]["status"] for f in chosen] == ["working"] * 3
    assert store.get("streetlights", faulty[3])["properties"]["status"] == "faulty"
    after = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="vw-bulk-done"' in after and all(f'value="{f}"' not in after for f in chosen)


def test_a_bulk_change_with_one_stale_version_changes_nothing(app):
    store = get_store(app)
    ids = [f["id"] for f in store.features("streetlights")][:3]
    client = signed_in(app)
    html = client.get("/features/streetlights/bulk").get_data(as_text=True)
    data = {"csrf_token": csrf(html), "status": "removed", "id": ids}
    data.update({f"v:{fid}": "1" for fid in ids})
    data[f"v:{ids[1]}"] = str(store.get("streetlights", ids[1])["properties"]["version"] + 5)
    before = [store.get("streetlights", f) for f in ids]
    r = client.post("/features/streetlights/bulk", data=data)
    assert r.status_code == 412 and 'id="vw-bulk-error"' in r.get_data(as_text=True)
    assert [store.get("streetlights", f) for f in ids] == before


def test_a_field_account_sees_no_edit_form_on_an_approved_work_and_no_bulk_page(app):
    field = signed_in(app, "field1")
    assert 'id="vw-edit-form"' not in field.get(LIGHT).get_data(as_text=True)
    assert field.get("/features/streetlights/bulk").status_code == 403
    planner = signed_in(app)
    assert 'id="vw-bulk-link"' in planner.get(LIGHT).get_data(as_text=True)
