"""One collection per geometry kind beside a mixed layer (issue #19 section 8):
``greenhouses`` holds 30 points and 30 polygons; ``greenhouses-points`` and
``greenhouses-polygons`` serve each kind whole, to the Flask client and to GDAL."""

from __future__ import annotations

import json

import pytest
from geometries import nth_point, square
from live_app import need_gdal, run_gdal, serving

from layers.store import Change
from webmap.app import get_store

N = 30


@pytest.fixture
def app(empty_app, accounts):
    changes = []
    for i in range(N):
        when = f"2020-01-{i + 1:02d}"
        changes.append(
            Change(
                "create",
                geometry=nth_point(i, 0.002),
                properties={"crop": f"点{i}", "built_date": when},
            )
        )
        changes.append(
            Change(
                "create",
                geometry=square(112.9, 39.3 + i * 0.003),
                properties={"crop": f"面{i}", "built_date": f"2021-03-{i + 1:02d}"},
            )
        )
    get_store(empty_app).commit("greenhouses", changes, user="t", source="test")
    empty_app.tokens = accounts(empty_app)
    return empty_app


def types(features) -> set[str]:
    return {f["geometry"]["type"] for f in features}


def test_collections_list_the_parts_after_the_mixed_layer_with_titles_and_links(app):
    client = app.test_client()
    listed = client.get("/ogc/collections").json["collections"]
    ids = [c["id"] for c in listed]
    at = ids.index("greenhouses")
    assert ids[at : at + 3] == ["greenhouses", "greenhouses-points", "greenhouses-polygons"]
    assert "streetlights-points" not in ids and "greenhouses-lines" not in ids
    points = listed[at + 1]
    assert points["title"] == "温室大棚（点）"
    en = client.get("/ogc/collections/greenhouses-polygons?lang=en").json
    assert en["title"] == "Greenhouses (polygons)"
    related = {
        link["href"].split("/collections/")[1].split("?")[0]
        for link in listed[at]["links"]
        if link["rel"] == "related"
    }
    assert related == {"greenhouses-points", "greenhouses-polygons"}
    back = [link for link in points["links"] if link["rel"] == "related"]
    assert back[0]["href"].endswith("/collections/greenhouses")
    items = [link for link in points["links"] if link["rel"] == "items"]
    assert all("/collections/greenhouses-points/items" in link["href"] for link in items)


def test_counts_extents_and_intervals_of_each_part_are_exact(app):
    client = app.test_client()
    points = client.get("/ogc/collections/greenhouses-points").json
    assert points["vw:numberMatched"] == N
    (x0, y0, x1, y1) = points["extent"]["spatial"]["bbox"][0]
    polygons = client.get("/ogc/collections/greenhouses-polygons").json
    (px0, py0, px1, py1) = polygons["extent"]["spatial"]["bbox"][0]
    assert x1 < px0  # the points lie west of the squares: each extent is its own
    assert points["extent"]["temporal"]["interval"][0] == [
        "2020-01-01T00:00:00Z",
        "2020-01-30T23:59:59Z",
    ]
    assert polygons["extent"]["temporal"]["interval"][0][0] == "2021-03-01T00:00:00Z"


def test_items_of_a_part_are_of_its_kind_with_exact_counts_and_paging(app):
    client = app.test_client()
    page = client.get("/ogc/collections/greenhouses-points/items?limit=20").json
    assert page["numberMatched"] == N and page["numberReturned"] == 20
    assert types(page["features"]) == {"Point"}
    following = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "/collections/greenhouses-points/items" in following
    rest = client.get(following.split("localhost", 1)[1]).json
    assert rest["numberReturned"] == N - 20 and types(rest["features"]) == {"Point"}
    seen = {f["id"] for f in page["features"]} | {f["id"] for f in rest["features"]}
    assert len(seen) == N
    mixed = client.get("/ogc/collections/greenhouses/items?limit=100").json
    assert mixed["numberMatched"] == 2 * N
    filtered = client.get("/ogc/collections/greenhouses-polygons/items?crop=面3").json
    assert filtered["numberMatched"] == 1 and types(filtered["features"]) == {"Polygon"}


def test_an_item_of_another_kind_is_not_in_the_part(app):
    client = app.test_client()
    point_id = client.get("/ogc/collections/greenhouses-points/items?limit=1").json["features"][0][
        "id"
    ]
    assert client.get(f"/ogc/collections/greenhouses-points/items/{point_id}").status_code == 200
    assert client.get(f"/ogc/collections/greenhouses-polygons/items/{point_id}").status_code == 404
    assert client.get("/ogc/collections/greenhouses-points/schema").status_code == 200
    assert client.get("/ogc/collections/streetlights-points").status_code == 404


def test_writes_to_a_part_take_only_its_geometry_kind(app):
    client = app.test_client()
    auth = {
        "Authorization": f"Bearer {app.tokens['planner']}",
        "Content-Type": "application/geo+json",
    }
    url = "/ogc/collections/greenhouses-points/items"
    polygon = {"type": "Feature", "geometry": square(113.0, 39.9), "properties": {"crop": "x"}}
    refused = client.post(url + "?lang=en", data=json.dumps(polygon), headers=auth)
    assert refused.status_code == 400
    message = refused.json["error"]["message"]
    assert "greenhouses-points" in message and "Polygon" in message and "Point" in message
    zh = client.post(url + "?lang=zh", data=json.dumps(polygon), headers=auth)
    assert "只接受" in zh.json["error"]["message"]
    point = {"type": "Feature", "geometry": nth_point(200, 0.002), "properties": {"crop": "新"}}
    created = client.post(url, data=json.dumps(point), headers=auth)
    assert created.status_code == 201
    fid = created.json["id"]
    assert created.headers["Location"].endswith(f"/items/{fid}")
    assert client.get(url).json["numberMatched"] == N + 1
    assert client.get("/ogc/collections/greenhouses-points").json["vw:numberMatched"] == N + 1
    patch = {**auth, "Content-Type": "application/merge-patch+json"}
    turned = client.patch(
        f"{url}/{fid}", data=json.dumps({"geometry": square(113.0, 39.9)}), headers=patch
    )
    assert turned.status_code == 400
    assert (
        client.delete(
            f"/ogc/collections/greenhouses-polygons/items/{fid}", headers=auth
        ).status_code
        == 404
    )
    assert client.delete(f"{url}/{fid}", headers=auth).status_code == 204


def test_gdal_lists_the_parts_and_copies_each_kind_whole(app, tmp_path):
    need_gdal()
    with serving(app) as base:
        listing = run_gdal("ogrinfo", "-ro", "-q", f"OAPIF:{base}/ogc")
        assert listing.returncode == 0, listing.stderr
        for cid in ("greenhouses", "greenhouses-points", "greenhouses-polygons"):
            assert f" {cid} " in listing.stdout or f" {cid}\n" in listing.stdout, listing.stdout
        counts = {}
        for cid in ("greenhouses-points", "greenhouses-polygons", "greenhouses"):
            out = tmp_path / f"{cid}.geojson"
            done = run_gdal("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", cid)
            assert done.returncode == 0, done.stderr
            features = json.loads(out.read_text(encoding="utf-8"))["features"]
            counts[cid] = (len(features), types(features))
    assert counts["greenhouses-points"] == (N, {"Point"})
    assert counts["greenhouses-polygons"] == (N, {"Polygon"})
    assert counts["greenhouses"][0] == 2 * N


def test_owslib_reads_a_part(app):
    features_module = pytest.importorskip("owslib.ogcapi.features")
    with serving(app) as base:
        api = features_module.Features(f"{base}/ogc")
        ids = [c["id"] for c in api.collections()["collections"]]
        assert "greenhouses-points" in ids
        page = api.collection_items("greenhouses-points", limit=100)
    assert page["numberMatched"] == N and types(page["features"]) == {"Point"}


def test_the_html_pages_of_a_part(app):
    client = app.test_client()
    assert client.get("/ogc/collections?f=html").status_code == 200
    page = client.get("/ogc/collections/greenhouses-points?f=html")
    assert page.status_code == 200 and "温室大棚（点）" in page.get_data(as_text=True)
    items = client.get("/ogc/collections/greenhouses-points/items?f=html&limit=100")
    assert items.status_code == 200 and "点29" in items.get_data(as_text=True)
    assert "面1<" not in items.get_data(as_text=True)


def test_gdal_copies_the_demo_greenhouses_points_whole(demo_app, tmp_path):
    """The demo county's greenhouses: 30 points and 30 polygons."""
    need_gdal()
    with serving(demo_app) as base:
        counts = {}
        for cid in ("greenhouses-points", "greenhouses", "plantings-points", "plantings"):
            out = tmp_path / f"{cid}.geojson"
            done = run_gdal("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", cid)
            assert done.returncode == 0, done.stderr
            features = json.loads(out.read_text(encoding="utf-8"))["features"]
            counts[cid] = (len(features), types(features))
    assert counts["greenhouses-points"] == (30, {"Point"})
    assert counts["greenhouses"][0] == 60
    store = get_store(demo_app)
    points = [
        f for f in store.features("plantings") if f["geometry"]["type"] in ("Point", "MultiPoint")
    ]
    assert counts["plantings-points"][0] == len(points) > 0
    assert counts["plantings"][0] == store.count("plantings")
