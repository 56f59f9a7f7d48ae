"""OGC API - Features at /ogc: Part 1 core, Part 2 CRS, Part 4 writes, HTML and OpenAPI."""

from __future__ import annotations

import builtins
from pathlib import Path

import orjson
import pyproj
import pytest
from geometries import COUNTY_RING, point, polygon

from layers.memtable import FeatureTable
from layers.store import Change, GeoJSONStore
from layers.users import UserStore
from webmap.app import create_app, get_store
from webmap.ogc.documents import CONFORMANCE

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
HOSTILE = "白坊村<script>alert(1)</script>"
N_LIGHTS = 150


def populate(store: GeoJSONStore) -> None:
    store.create(
        "boundaries",
        polygon(COUNTY_RING),
        {"level": "county", "name": "山阴县"},
        user="t",
    )
    store.create(
        "villages",
        point(112.8, 39.5),
        {"name": HOSTILE, "township": "岱岳镇", "households": 320},
        user="t",
    )
    changes = [
        Change(
            "create",
            geometry=point(112.6 + i * 0.003, 39.3 + i * 0.002),
            properties={
                "power_source": "solar" if i % 3 else "grid",
                "status": "working" if i % 2 else "faulty",
                "road": f"{i % 5}号路",
                "installed_date": f"202{i % 4}-0{1 + i % 9}-15",
            },
        )
        for i in range(N_LIGHTS)
    ]
    store.commit("streetlights", changes, user="t", source="test")
    # Wells west of 112.5E: their Gauss-Kruger zone is CM 111E (EPSG:4546).
    store.create(
        "wells",
        point(112.0, 39.4),
        {"name": "一号井", "status": "working"},
        user="t",
    )


@pytest.fixture
def app(tmp_path: Path):
    app = create_app(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
            "OGC_MAX_LIMIT": 120,
        }
    )
    populate(get_store(app))
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app) -> GeoJSONStore:
    return get_store(app)


def bearer(app, name: str, role: str) -> dict[str, str]:
    users = UserStore(app.config["DATA_DIR"])
    users.add(name, role, "password123")
    return {"Authorization": f"Bearer {users.new_token(name)}"}


def get_json(client, url: str, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.data[:500]
    return orjson.loads(response.data)


def rels(doc) -> dict[str, dict]:
    return {link["rel"]: link for link in doc["links"]}


# ----------------------------------------------------------------------------- core
def test_landing_page_links_to_api_conformance_and_data(client):
    response = client.get("/ogc/")
    assert response.mimetype == "application/json"
    links = rels(orjson.loads(response.data))
    assert links["service-desc"]["href"].endswith("/ogc/api?f=json")
    assert links["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    assert links["service-doc"]["type"] == "text/html"
    assert links["conformance"]["href"].endswith("/ogc/conformance")
    assert links["data"]["href"].endswith("/ogc/collections")


def test_conformance_declares_parts_1_2_and_4(client):
    classes = set(get_json(client, "/ogc/conformance")["conformsTo"])
    assert classes == set(CONFORMANCE)
    for part in (
        "features-1/1.0/conf/core",
        "features-1/1.0/conf/geojson",
        "features-1/1.0/conf/html",
        "features-1/1.0/conf/oas30",
        "features-2/1.0/conf/crs",
        "features-4/1.0/conf/create-replace-delete",
        "features-4/1.0/conf/update",
    ):
        assert any(c.endswith(part) for c in classes), part


def test_collections_one_per_layer_with_extent_description_and_crs(client, store):
    doc = get_json(client, "/ogc/collections")
    by_id = {c["id"]: c for c in doc["collections"]}
    parts = {c["id"] for c in doc["collections"] if "vw:layer" in c}  # greenhouses-points...
    assert set(by_id) - parts == set(store.layer_names())
    lights = by_id["streetlights"]
    assert lights["title"] == "路灯"
    assert lights["description"]
    assert lights["extent"]["spatial"]["bbox"] == [list(store.extent("streetlights"))]
    assert lights["extent"]["temporal"]["interval"] == [
        ["2020-01-15T00:00:00Z", "2023-09-15T23:59:59Z"]
    ]
    assert lights["storageCrs"] == CRS84
    assert lights["crs"] == [CRS84, EPSG.format(4326), EPSG.format(4490), EPSG.format(4547)]
    # The zone advertised is the one holding the layer's centre.
    assert by_id["wells"]["crs"][-1] == EPSG.format(4546)
    # A layer without features gets the county's zone; one without geometry no extent.
    assert by_id["pipes"]["crs"][-1] == EPSG.format(4547)
    assert "spatial" not in by_id["ledger"].get("extent", {})
    assert {"items", "self"} <= set(rels(lights))


def test_collection_in_english(client):
    assert get_json(client, "/ogc/collections/streetlights?lang=en")["title"] == "Streetlights"


def test_unknown_collection_is_404_in_the_json_error_shape(client):
    response = client.get("/ogc/collections/nope/items")
    assert response.status_code == 404
    assert orjson.loads(response.data)["error"]["status"] == 404


def test_items_page_default_limit_next_prev_and_counts(client):
    first = client.get("/ogc/collections/streetlights/items")
    assert first.mimetype == "application/geo+json"
    assert first.headers["Content-Crs"] == f"<{CRS84}>"
    doc = orjson.loads(first.data)
    assert doc["type"] == "FeatureCollection"
    assert (doc["numberMatched"], doc["numberReturned"]) == (N_LIGHTS, 100)
    links = rels(doc)
    assert "prev" not in links
    second = get_json(client, links["next"]["href"])
    assert second["numberReturned"] == N_LIGHTS - 100
    assert "next" not in rels(second)
    assert "offset" not in rels(second)["prev"]["href"]
    ids = [f["id"] for f in doc["features"] + second["features"]]
    assert len(set(ids)) == N_LIGHTS


def test_limit_is_capped_by_the_setting_and_checked(client):
    doc = get_json(client, "/ogc/collections/streetlights/items?limit=5000")
    assert doc["numberReturned"] == 120
    for bad in ("limit=0", "limit=x", "offset=-1"):
        assert client.get(f"/ogc/collections/streetlights/items?{bad}").status_code == 400


def test_next_link_keeps_the_filters(client):
    doc = get_json(client, "/ogc/collections/streetlights/items?status=working&limit=10")
    assert "status=working" in rels(doc)["next"]["href"]
    assert doc["numberMatched"] == N_LIGHTS // 2


def test_bbox_equality_and_datetime_filters_match_the_store(client, store):
    bbox = (112.6, 39.3, 112.75, 39.4)
    url = "/ogc/collections/streetlights/items?limit=120&bbox=" + ",".join(map(str, bbox))
    doc = get_json(client, url)
    expected = store.query("streetlights", bbox=bbox)
    assert doc["numberMatched"] == expected.number_matched > 0
    assert {f["id"] for f in doc["features"]} == {f["id"] for f in expected.features}
    doc = get_json(client, "/ogc/collections/streetlights/items?power_source=grid&road=0号路")
    assert doc["numberMatched"] == len([i for i in range(N_LIGHTS) if i % 3 == 0 and i % 5 == 0])
    assert all(f["properties"]["power_source"] == "grid" for f in doc["features"])
    for value, wanted in (
        ("2021-02-15", lambda d: d == "2021-02-15"),
        ("2021-01-01/2021-12-31", lambda d: d.startswith("2021")),
        ("../2020-12-31T23:59:59Z", lambda d: d < "2021"),
        ("2022-01-01/..", lambda d: d >= "2022"),
    ):
        doc = get_json(client, f"/ogc/collections/streetlights/items?limit=120&datetime={value}")
        days = [f["properties"]["installed_date"] for f in doc["features"]]
        assert days and all(wanted(d) for d in days), value
        total = sum(
            wanted(f["properties"]["installed_date"]) for f in store.features("streetlights")
        )
        assert doc["numberMatched"] == total


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=113,39,112,40",
        "bbox=a,b,c,d",
        "bbox=112,-100,113,40",
        "datetime=yesterday",
        "datetime=2021-12-31/2021-01-01",
        "datetime=../..",
        "colour=red",
        "crs=EPSG:3857",
        "bbox-crs=EPSG:2000&bbox=1,2,3,4",
        "f=xml",
    ],
)
def test_bad_parameters_are_400(client, query):
    response = client.get(f"/ogc/collections/streetlights/items?{query}")
    assert response.status_code == 400
    assert orjson.loads(response.data)["error"]["code"] == "bad_request"


def test_datetime_on_a_layer_without_dates_is_400(client):
    assert client.get("/ogc/collections/villages/items?datetime=2021-01-01").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/collections/facilities/items?township=%40%00",  # NUL in a filter
        "/ogc/collections/streetlights/items?id=SL%00",
        "/ogc/collections/streetlights/items?offset=15427981955750086205044385092993024",
    ],
)
def test_values_postgresql_cannot_take_match_nothing_on_both_backends(client, url):
    # Found by schemathesis on PostGIS: NUL in text and offsets past bigint were 500s.
    r = client.get(url)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["numberReturned"] == 0


@pytest.mark.parametrize(
    "url", ["/ogc/collections/streetlights/items/SL%00", "/features/streetlights/SL%00"]
)
def test_an_id_with_nul_is_not_found(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.geojson_only
def test_bbox_query_uses_the_in_memory_index_not_the_file(client, store, monkeypatch):
    get_json(client, "/ogc/collections/streetlights/items?bbox=112,39,113,40")  # warm up
    queries = []
    # The store's spatial index (a grid for points, an STRtree for other geometries).
    original = FeatureTable.bbox_rows

    def spy(self, *args, **kwargs):
        queries.append(args)
        return original(self, *args, **kwargs)

    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        assert not str(file).endswith(".geojson"), "the layer file was read again"
        return real_open(file, *args, **kwargs)

    def no_read(path, *args, **kwargs):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(FeatureTable, "bbox_rows", spy)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(Path, "read_bytes", no_read)
    monkeypatch.setattr(Path, "read_text", no_read)
    doc = get_json(client, "/ogc/collections/streetlights/items?bbox=112.6,39.3,112.7,39.4")
    assert len(queries) == 1
    assert (
        doc["numberMatched"]
        == store.query("streetlights", bbox=(112.6, 39.3, 112.7, 39.4)).number_matched
        > 0
    )


def test_single_item_with_etag_and_not_modified(client, store):
    fid = store.features("villages")[0]["id"]
    response = client.get(f"/ogc/collections/villages/items/{fid}")
    assert response.mimetype == "application/geo+json"
    assert response.headers["ETag"] == '"1"'
    doc = orjson.loads(response.data)
    assert doc["id"] == fid
    assert doc["properties"]["name"] == HOSTILE
    assert rels(doc)["collection"]["href"].endswith("/ogc/collections/villages")
    again = client.get(f"/ogc/collections/villages/items/{fid}", headers={"If-None-Match": '"1"'})
    assert again.status_code == 304
    assert client.get("/ogc/collections/villages/items/VL-999999").status_code == 404


# ----------------------------------------------------------------------- negotiation
def test_html_by_f_or_accept_and_json_otherwise(client):
    for url, headers in (
        ("/ogc/?f=html", {}),
        ("/ogc/", {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}),
        ("/ogc/collections/streetlights/items", {"Accept": "text/html"}),
    ):
        assert client.get(url, headers=headers).mimetype == "text/html", url
    for url, headers in (
        ("/ogc/", {"Accept": "*/*"}),
        ("/ogc/?f=json", {"Accept": "text/html"}),
        ("/ogc/collections/streetlights/items", {"Accept": "application/geo+json"}),
    ):
        assert client.get(url, headers=headers).mimetype != "text/html", url


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/?f=html",
        "/ogc/conformance?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/villages?f=html",
        "/ogc/collections/villages/items?f=html",
        "/ogc/collections/villages/items/VL-000001?f=html",
        "/ogc/api?f=html",
    ],
)
def test_html_pages_escape_user_text(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    if "items" in url:
        assert "白坊村&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_items_html_links_the_exports_of_the_same_view(client):
    page = client.get("/ogc/collections/streetlights/items?f=html&status=working").get_data(
        as_text=True
    )
    assert "/export/streetlights.xlsx?status=working" in page
    assert "/export/streetlights.shp?status=working" in page


# ------------------------------------------------------------------------ Part 2 CRS
def test_crs_4326_and_4490_are_lat_lon_and_gk_is_northing_easting(client, store):
    fid = store.features("villages")[0]["id"]
    url = f"/ogc/collections/villages/items/{fid}"
    for code in (4326, 4490):
        response = client.get(f"{url}?crs={EPSG.format(code)}")
        assert response.headers["Content-Crs"] == f"<{EPSG.format(code)}>"
        assert orjson.loads(response.data)["geometry"]["coordinates"] == [39.5, 112.8]
    response = client.get(f"{url}?crs=EPSG:4547")
    north, east = orjson.loads(response.data)["geometry"]["coordinates"]
    expected = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4547").transform(112.8, 39.5)
    assert (north, east) == pytest.approx(expected, abs=0.001)
    assert 4_300_000 < north < 4_500_000 and 300_000 < east < 500_000
    assert client.get(f"{url}?crs=EPSG:4546").status_code == 400  # not the layer's zone


def test_bbox_crs_in_the_crs_axis_order(client, store):
    base = "/ogc/collections/streetlights/items?limit=120"
    plain = get_json(client, f"{base}&bbox=112.6,39.3,112.75,39.4")
    latlon = get_json(client, f"{base}&bbox=39.3,112.6,39.4,112.75&bbox-crs=EPSG:4326")
    assert latlon["numberMatched"] == plain["numberMatched"] > 0
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4547")
    n0, e0 = to_gk.transform(112.6, 39.3)
    n1, e1 = to_gk.transform(112.75, 39.4)
    gk = get_json(
        client,
        f"{base}&bbox={min(n0, n1)},{min(e0, e1)},{max(n0, n1)},{max(e0, e1)}"
        f"&bbox-crs={EPSG.format(4547)}",
    )
    assert {f["id"] for f in plain["features"]} <= {f["id"] for f in gk["features"]}


def test_items_in_a_projected_crs_are_all_converted(client, store):
    doc = get_json(client, "/ogc/collections/streetlights/items?limit=3&crs=EPSG:4547")
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4547")
    for feature in doc["features"]:
        lon, lat = store.get("streetlights", feature["id"])["geometry"]["coordinates"]
        assert feature["geometry"]["coordinates"] == pytest.approx(
            list(to_gk.transform(lon, lat)), abs=0.001
        )


# ------------------------------------------------------------------------- OpenAPI
def test_openapi_document_is_valid_openapi_30(client, app):
    response = client.get("/ogc/api")
    assert response.mimetype == "application/vnd.oai.openapi+json"
    doc = orjson.loads(response.data)
    assert doc["openapi"].startswith("3.0")
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 120)
    params = {
        p.get("name") for p in doc["paths"]["/collections/streetlights/items"]["get"]["parameters"]
    }
    assert {"status", "power_source", "installed_date", "id"} <= params
    item_ops = doc["paths"]["/collections/{collectionId}/items/{featureId}"]
    assert set(item_ops) == {"get", "put", "patch", "delete"}
    assert_refs_resolve(doc, doc)
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def assert_refs_resolve(node, doc) -> None:
    """Every $ref points at something in the document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref:
            target = doc
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
        for value in node.values():
            assert_refs_resolve(value, doc)
    elif isinstance(node, list):
        for value in node:
            assert_refs_resolve(value, doc)


# ------------------------------------------------------------------------- Part 4
NEW_LIGHT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [112.85, 39.55]},
    "properties": {"power_source": "太阳能", "status": "installed", "road": "新建路（东段）"},
}


def post(client, headers, body=NEW_LIGHT, layer="streetlights", **extra):
    return client.post(
        f"/ogc/collections/{layer}/items",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/geo+json", **headers, **extra},
    )


def test_create_needs_an_account_with_role_field(client, app, store):
    # Without any credentials auth's CSRF guard answers first (400), else 401.
    assert post(client, {}).status_code in (400, 401)
    assert post(client, bearer(app, "viewer1", "viewer")).status_code == 403
    assert store.count("streetlights") == N_LIGHTS


def test_create_returns_201_location_etag_and_the_stored_feature(client, app, store):
    response = post(client, bearer(app, "field1", "field"))
    assert response.status_code == 201, response.data
    assert response.headers["ETag"] == '"1"'
    doc = orjson.loads(response.data)
    assert response.headers["Location"].endswith(f"/ogc/collections/streetlights/items/{doc['id']}")
    stored = store.get("streetlights", doc["id"])
    assert stored["properties"]["power_source"] == "solar"
    assert stored["properties"]["road"] == "新建路（东段）"
    assert stored["properties"]["created_by"] == "field1"
    assert stored["properties"]["source"] == "ogcapi"
    fetched = get_json(client, response.headers["Location"])
    assert {k: v for k, v in fetched["properties"].items() if v is not None} == stored["properties"]
    # Every declared field is named (null when not set), for clients that sniff fields.
    assert fetched["properties"]["pole_height_m"] is None
    assert set(store.spec("streetlights").field_names) <= set(doc["properties"])


def test_create_with_idempotency_key_writes_once(client, app, store):
    headers = {**bearer(app, "field1", "field"), "Idempotency-Key": "phone-42"}
    first, second = post(client, headers), post(client, headers)
    assert orjson.loads(first.data)["id"] == orjson.loads(second.data)["id"]
    assert store.count("streetlights") == N_LIGHTS + 1


def test_create_with_content_crs_converts_to_lon_lat(client, app, store):
    north, east = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4490").transform(112.85, 39.55)
    body = {**NEW_LIGHT, "geometry": {"type": "Point", "coordinates": [north, east]}}
    response = post(
        client, bearer(app, "field1", "field"), body, **{"Content-Crs": f"<{EPSG.format(4490)}>"}
    )
    assert response.status_code == 201, response.data
    stored = store.get("streetlights", orjson.loads(response.data)["id"])
    assert stored["geometry"]["coordinates"] == pytest.approx([112.85, 39.55], abs=1e-7)


@pytest.mark.parametrize(
    "body, code",
    [
        (
            {**NEW_LIGHT, "properties": {"power_source": "nuclear", "status": "working"}},
            "not_allowed",
        ),
        ({**NEW_LIGHT, "properties": {"status": "working"}}, "required"),
        (
            {
                **NEW_LIGHT,
                "geometry": {"type": "LineString", "coordinates": [[112.8, 39.5], [112.9, 39.6]]},
            },
            "geometry_type",
        ),
        ({**NEW_LIGHT, "geometry": {"type": "Point", "coordinates": [0, 0]}}, "null_island"),
        (
            {**NEW_LIGHT, "geometry": {"type": "Point", "coordinates": [116.4, 39.9]}},
            "outside_area",
        ),
        (
            {**NEW_LIGHT, "geometry": {"type": "Point", "coordinates": [39.55, 112.85]}},
            "swapped_axes",
        ),
    ],
)
def test_create_is_validated_like_uploads(client, app, store, body, code):
    response = post(client, bearer(app, "field1", "field"), body)
    assert response.status_code == 422, response.data
    problems = orjson.loads(response.data)["error"]["problems"]
    assert code in {p["code"] for p in problems}
    assert store.count("streetlights") == N_LIGHTS


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"type": "Point"}'])
def test_create_with_a_malformed_body_is_400(client, app, data):
    response = client.post(
        "/ogc/collections/streetlights/items",
        data=data,
        headers={**bearer(app, "field1", "field"), "Content-Type": "application/geo+json"},
    )
    assert response.status_code == 400


def test_cookie_session_writes_need_the_csrf_token(client, app):
    UserStore(app.config["DATA_DIR"]).add("field2", "field", "password123")
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    login = client.post(
        "/login", data={"name": "field2", "password": "password123", "csrf_token": token}
    )
    assert login.status_code == 302
    response = client.post(
        "/ogc/collections/streetlights/items",
        data=orjson.dumps(NEW_LIGHT),
        headers={"Content-Type": "application/geo+json"},
    )
    assert response.status_code == 400
    assert orjson.loads(response.data)["error"]["code"] == "csrf_failed"


def test_field_creates_but_only_planner_replaces_updates_deletes(client, app, store):
    field = bearer(app, "field1", "field")
    fid = orjson.loads(post(client, field).data)["id"]
    url = f"/ogc/collections/streetlights/items/{fid}"
    assert client.put(url, data=orjson.dumps(NEW_LIGHT), headers=field).status_code == 403
    assert client.patch(url, data=b"{}", headers=field).status_code == 403
    assert client.delete(url, headers=field).status_code == 403


def test_replace_with_if_match_and_412_on_a_stale_version(client, app, store):
    planner = bearer(app, "planner1", "planner")
    fid = store.features("streetlights")[0]["id"]
    url = f"/ogc/collections/streetlights/items/{fid}"
    body = {**NEW_LIGHT, "id": fid}
    response = client.put(
        url,
        data=orjson.dumps(body),
        headers={**planner, "If-Match": '"1"', "Content-Type": "application/geo+json"},
    )
    assert response.status_code == 200, response.data
    assert response.headers["ETag"] == '"2"'
    stored = store.get("streetlights", fid)
    assert stored["properties"]["road"] == "新建路（东段）"
    assert "installed_date" not in stored["properties"]  # replaced, not merged
    assert stored["geometry"]["coordinates"] == [112.85, 39.55]
    stale = client.put(url, data=orjson.dumps(body), headers={**planner, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert store.get("streetlights", fid)["properties"]["version"] == 2
    without = client.put(url, data=orjson.dumps(body), headers=planner)
    assert without.status_code == 200 and without.headers["ETag"] == '"3"'
    other_id = {**body, "id": "SL-999999"}
    assert client.put(url, data=orjson.dumps(other_id), headers=planner).status_code == 400


def test_patch_is_a_json_merge_patch(client, app, store):
    planner = bearer(app, "planner1", "planner")
    feature = store.features("streetlights")[1]
    fid = feature["id"]
    url = f"/ogc/collections/streetlights/items/{fid}"
    patch = {"properties": {"status": "faulty", "road": None}}
    response = client.patch(
        url,
        data=orjson.dumps(patch),
        headers={**planner, "Content-Type": "application/merge-patch+json", "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.data
    props = store.get("streetlights", fid)["properties"]
    assert props["status"] == "faulty"
    assert "road" not in props
    assert props["installed_date"] == feature["properties"]["installed_date"]
    assert store.get("streetlights", fid)["geometry"] == feature["geometry"]
    assert props["updated_by"] == "planner1"
    required_null = {"properties": {"power_source": None}}
    response = client.patch(
        url,
        data=orjson.dumps(required_null),
        headers={**planner, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 422
    assert store.get("streetlights", fid)["properties"]["power_source"]
    geometry = {"geometry": {"type": "Point", "coordinates": [112.9, 39.6]}}
    response = client.patch(
        url,
        data=orjson.dumps(geometry),
        headers={**planner, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    assert store.get("streetlights", fid)["geometry"]["coordinates"] == [112.9, 39.6]
    json_patch = client.patch(
        url, data=b"[]", headers={**planner, "Content-Type": "application/json-patch+json"}
    )
    assert json_patch.status_code == 415


def test_delete_honours_if_match_and_hides_the_feature(client, app, store):
    planner = bearer(app, "planner1", "planner")
    fid = store.features("streetlights")[2]["id"]
    url = f"/ogc/collections/streetlights/items/{fid}"
    assert client.delete(url, headers={**planner, "If-Match": '"7"'}).status_code == 412
    assert client.delete(url, headers={**planner, "If-Match": '"1"'}).status_code == 204
    assert client.get(url).status_code == 404
    assert store.count("streetlights") == N_LIGHTS - 1
    assert get_json(client, "/ogc/collections/streetlights/items")["numberMatched"] == N_LIGHTS - 1
    assert client.delete(url, headers=planner).status_code == 404
