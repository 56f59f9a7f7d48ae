"""/capture fills township and village in from the location (issue #16): the township by
its boundary, the village by the area the village pages count it in; the village list is
sorted by name."""

import re

import orjson
import pytest

from layers.places import where_is
from webmap.app import get_store
from webmap.page_maps import snapshot

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def test_the_place_of_a_point_is_its_township_and_village(app):
    store = get_store(app)
    light = store.features("streetlights")[5]
    lon, lat = light["geometry"]["coordinates"]
    headers = {"Authorization": f"Bearer {app.tokens['field']}"}
    r = app.test_client().get(f"/api/capture/place?lon={lon}&lat={lat}", headers=headers)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store, private"
    body = orjson.loads(r.data)
    with app.test_request_context():
        township, village = where_is(snapshot().places, light)
    assert body["township"] == {"id": township.id, "name": township.name}
    assert body["village"] == {"id": village.id, "name": village.name}  # the village pages'


@pytest.mark.parametrize("query", ["", "?lon=abc&lat=1", "?lon=500&lat=39", "?lon=nan&lat=39"])
def test_a_bad_point_is_400(app, query):
    headers = {"Authorization": f"Bearer {app.tokens['field']}"}
    assert app.test_client().get(f"/api/capture/place{query}", headers=headers).status_code == 400


def test_the_place_needs_a_field_account(app):
    assert app.test_client().get("/api/capture/place?lon=112.8&lat=39.5").status_code == 401


def test_the_village_list_is_sorted_by_name(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"name": "field1", "password": PASSWORD, "csrf_token": token})
    html = client.get("/capture").get_data(as_text=True)
    select = re.search(r'<select id="f-streetlights-village_id".*?</select>', html, re.S).group(0)
    names = re.findall(r'<option value="VL-\d+" >([^<]+?) · VL-', select)
    assert len(names) > 100 and names == sorted(names)
