"""The capture map's data for use without signal (issue #16): the county's reference
vectors and the chosen layer's works near the worker, for field accounts only, compact,
with ETags; bad parameters get a message naming the parameter and its value."""

import orjson
import pytest
import shapely
from shapely.geometry import shape

from geo.metric import distance_m
from layers.reference_vectors import MAX_NEARBY, village_sort_key
from webmap.app import get_store
from webmap.views.capture_offline import OFFLINE_BUDGET_BYTES


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def get(app, url, role="field", **headers):
    if role:
        headers["Authorization"] = f"Bearer {app.tokens[role]}"
    return app.test_client().get(url, headers=headers)


def test_reference_holds_boundaries_roads_and_villages_compactly(app):
    store = get_store(app)
    r = get(app, "/api/capture/reference")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert "private" in r.headers["Cache-Control"]
    body = orjson.loads(r.data)
    levels = sorted(f["properties"]["level"] for f in body["boundaries"]["features"])
    assert levels.count("county") == 1 and levels.count("township") == 9
    assert len(body["roads"]["features"]) == store.count("roads")
    villages = body["villages"]["features"]
    assert len(villages) == store.count("villages")
    assert set(villages[0]["properties"]) == {"name", "township"}
    keys = [
        village_sort_key(v["properties"]["township"], v["properties"]["name"], v["id"])
        for v in villages
    ]
    assert keys == sorted(keys)
    # Rounded to 5 decimals (about 1 m) and still close to the stored shapes.
    county = next(f for f in body["boundaries"]["features"] if f["properties"]["level"] == "county")
    coords = shapely.get_coordinates(shape(county["geometry"]))
    assert (abs(coords * 1e5 - (coords * 1e5).round()) < 1e-6).all()
    stored = next(f for f in store.features("boundaries") if f["properties"]["level"] == "county")
    assert shape(stored["geometry"]).hausdorff_distance(shape(county["geometry"])) < 3e-5
    assert len(r.data) < OFFLINE_BUDGET_BYTES / 10  # about 50 kB for the demo county


def test_reference_etag_follows_the_layer_versions(app):
    first = get(app, "/api/capture/reference")
    tag = first.headers["ETag"]
    again = get(app, "/api/capture/reference", **{"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    store = get_store(app)
    village = store.features("villages")[0]
    store.update("villages", village["id"], properties={"name": "新名村"}, user="test")
    changed = get(app, "/api/capture/reference", **{"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    names = [f["properties"]["name"] for f in orjson.loads(changed.data)["villages"]["features"]]
    assert "新名村" in names


@pytest.mark.parametrize("url", ["/api/capture/reference", "/api/capture/nearby?layer=wells"])
def test_the_offline_map_data_needs_a_field_account(app, url):
    assert get(app, url, role=None).status_code == 401
    assert get(app, url, role="viewer").status_code == 403
    assert get(app, url, role="planner").status_code == 200


def test_nearby_is_the_layers_features_around_the_point_nearest_first(app):
    store = get_store(app)
    light = store.features("streetlights")[10]
    lon, lat = light["geometry"]["coordinates"]
    r = get(app, f"/api/capture/nearby?layer=streetlights&lon={lon}&lat={lat}&radius_m=1000")
    assert r.status_code == 200
    body = orjson.loads(r.data)
    assert body["layer"] == "streetlights" and body["radius_m"] == 1000
    ids = [f["id"] for f in body["features"]]
    assert ids[0] == light["id"]
    dist = [f["properties"]["distance_m"] for f in body["features"]]
    assert dist == sorted(dist) and dist[-1] <= 1000
    expected = {
        f["id"]
        for f in store.features("streetlights")
        if distance_m(lon, lat, *f["geometry"]["coordinates"]) <= 999
    }
    assert expected <= set(ids)
    assert all(
        distance_m(lon, lat, *f["geometry"]["coordinates"]) < 1001
        for f in store.features("streetlights")
        if f["id"] in set(ids)
    )
    assert len(ids) <= MAX_NEARBY


def test_nearby_without_a_point_is_around_the_county_middle(app):
    body = orjson.loads(get(app, "/api/capture/nearby?layer=villages&radius_m=50000").data)
    assert len(body["features"]) == get_store(app).count("villages")


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("layer=streetlights&lon=abc&lat=39.5", 400, ["lon", "abc"]),
        ("layer=streetlights&lon=112.8&lat=39.5&radius_m=0", 400, ["radius_m", "0"]),
        ("layer=streetlights&lon=112.8&lat=95", 400, ["lat", "95"]),
        ("layer=streetlights&lon=112.8", 400, ["lon", "lat"]),
        ("layer=roads", 400, ["roads"]),
        ("layer=nosuch", 404, ["nosuch"]),
    ],
)
def test_bad_nearby_parameters_say_which_and_what(app, query, status, words):
    for lang in ("zh", "en"):
        r = get(app, f"/api/capture/nearby?{query}&lang={lang}")
        assert r.status_code == status
        message = orjson.loads(r.data)["error"]["message"]
        assert all(w in message for w in words), message
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message) == (lang == "zh"), message


def test_the_capture_page_carries_the_offline_map_config(app):
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"name": "field1", "password": "correct-horse-9", "csrf_token": token}
    )
    for lang, word in (("zh", "离线地图"), ("en", "Offline map")):
        html = client.get(f"/capture?lang={lang}").get_data(as_text=True)
        raw = re.search(
            r'<script type="application/json" id="cap-offline">(.*?)</script>', html
        ).group(1)
        config = orjson.loads(raw)
        assert config["reference"] == "/api/capture/reference"
        assert config["nearby"] == "/api/capture/nearby"
        assert word in config["text"]["map_ready"]
