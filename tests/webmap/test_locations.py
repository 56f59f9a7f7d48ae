"""Every spatial create and update gets the same location checks, whatever the entry
point: the OGC API goes through the change planner with the AREA_MARGIN_M setting, and
its duplicates are those an upload finds."""

import math

import orjson
import pytest
import shapely

from layers.locations import working_area
from layers.users import UserStore
from tests.conftest import copy_demo
from webmap.app import create_app
from webmap.extensions import get_store

LIGHT = {"power_source": "solar", "status": "installed"}


def _app(tmp_path, margin_m):
    data = copy_demo(tmp_path / "data")
    config = {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t", "AREA_MARGIN_M": margin_m}
    app = create_app(config)
    users = UserStore(app.config["DATA_DIR"])
    if users.get("planner1") is None:  # on PostGIS both apps of a test share the accounts
        users.add("planner1", "planner", "password123")
    app.auth_header = {"Authorization": f"Bearer {users.new_token('planner1')}"}
    return app


def _outside_by_1_km(app):
    """A point 1 km east of the county's easternmost vertex."""
    area = working_area(get_store(app))
    coords = shapely.get_coordinates(area)
    x, y = coords[coords[:, 0].argmax()]
    return [float(x) + 1000 / (111_320 * math.cos(math.radians(y))), float(y)]


def _post(app, coordinates, query=""):
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": coordinates}}
    body["properties"] = LIGHT
    return app.test_client().post(
        f"/ogc/collections/streetlights/items{query}",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/geo+json", **app.auth_header},
    )


def test_a_point_1_km_outside_is_refused_with_margin_500_and_accepted_with_2000(tmp_path):
    strict = _app(tmp_path / "a", 500)
    before = get_store(strict).count("streetlights")
    response = _post(strict, _outside_by_1_km(strict), "?lang=en")
    assert response.status_code == 422, response.data
    problems = orjson.loads(response.data)["error"]["problems"]
    outside = [p for p in problems if p["code"] == "outside_area"]
    assert outside and "500 m" in outside[0]["message"] and "outside" in outside[0]["message"]
    assert get_store(strict).count("streetlights") == before
    loose = _app(tmp_path / "b", 2000)
    assert _post(loose, _outside_by_1_km(loose)).status_code == 201


def test_moving_a_feature_outside_is_refused_too(tmp_path):
    app = _app(tmp_path, 500)
    fid = get_store(app).features("streetlights")[0]["id"]
    patch = {"geometry": {"type": "Point", "coordinates": _outside_by_1_km(app)}}
    response = app.test_client().patch(
        f"/ogc/collections/streetlights/items/{fid}",
        data=orjson.dumps(patch),
        headers={"Content-Type": "application/merge-patch+json", **app.auth_header},
    )
    assert response.status_code == 422
    assert "outside_area" in {p["code"] for p in orjson.loads(response.data)["error"]["problems"]}


@pytest.mark.parametrize(
    "policy, status", [("", 201), ("?duplicates=keep", 201), ("?duplicates=skip", 422)]
)
def test_an_exact_duplicate_is_treated_as_an_upload_treats_it(tmp_path, policy, status):
    app = _app(tmp_path, 2000)
    store = get_store(app)
    existing = store.features("streetlights")[0]
    before = store.count("streetlights")
    response = _post(app, existing["geometry"]["coordinates"], policy)
    assert response.status_code == status, response.data
    if status == 201:
        assert response.headers["VillageWorks-Warnings"] == "duplicate_existing"
        assert store.count("streetlights") == before + 1
    else:
        (problem,) = orjson.loads(response.data)["error"]["problems"]
        assert problem["code"] == "duplicate_existing"
        assert existing["id"] in problem["message"]
        assert store.count("streetlights") == before


def test_moving_a_feature_a_little_is_no_duplicate_of_itself(tmp_path):
    app = _app(tmp_path, 2000)
    feature = get_store(app).features("streetlights")[0]
    x, y = feature["geometry"]["coordinates"]
    patch = {"geometry": {"type": "Point", "coordinates": [x + 1e-6, y]}}
    response = app.test_client().patch(
        f"/ogc/collections/streetlights/items/{feature['id']}",
        data=orjson.dumps(patch),
        headers={"Content-Type": "application/merge-patch+json", **app.auth_header},
    )
    assert response.status_code == 200, response.data
    assert "VillageWorks-Warnings" not in response.headers
