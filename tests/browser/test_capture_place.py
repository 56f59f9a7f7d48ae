"""On the phone, /capture fills township and village in from the GPS fix and never types
over what the worker chose (issue #16), in Chromium at 390x844."""

from pathlib import Path

import pytest

from layers.places import where_is
from layers.users import UserStore
from webmap.app import create_app
from webmap.page_maps import snapshot

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"
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


def test_township_and_village_come_from_the_fix(app, live_server_factory, page_checked):
    with app.test_request_context():
        point = {"geometry": {"type": "Point", "coordinates": [GPS["longitude"], GPS["latitude"]]}}
        township, village = where_is(snapshot().places, point)
    base = live_server_factory(app)
    page = page_checked.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.context.grant_permissions(["geolocation"], origin=base)
    page.context.set_geolocation(GPS)
    page_checked.goto(f"{base}/login?next=/capture")
    page.fill("input[name=name]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    page.select_option("#cap-layer", "streetlights")
    page.click("#cap-locate")
    page.wait_for_function(
        "name => document.querySelector('#f-streetlights-township').value === name",
        arg=township.name,
    )
    assert page.input_value("#f-streetlights-village_id") == village.id
    assert township.name in page.inner_text("#cap-place")
    page.fill("#f-streetlights-township", "岱岳镇")  # the worker knows better
    with page.expect_response(lambda r: "/api/capture/place" in r.url):
        page.click("#cap-locate")
    page.wait_for_function(  # the answer was applied: the note now names the village only
        "name => !document.querySelector('#cap-place').textContent.includes(name)",
        arg=township.name,
    )
    assert page.input_value("#f-streetlights-township") == "岱岳镇"
    assert page_checked.problems() == {}
