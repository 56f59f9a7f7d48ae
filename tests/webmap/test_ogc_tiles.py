"""OGC API - Tiles: Mapbox Vector Tiles of every collection, read back by GDAL's MVT driver.

The demo county is seeded into the test's backend (``--backend geojson`` or ``postgis``);
what each tile should hold is computed here from the store's features with shapely, so a
run on either backend checks the same answer.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import shape

from layers.tiles import MAX_FEATURES, tile_query_box
from layers.users import UserStore
from webmap.app import create_app, get_store

MVT = "application/vnd.mapbox-vector-tile"
TILES = "/ogc/collections/{}/tiles/WebMercatorQuad"
PASSWORD = "correct-horse-9"
needs_gdal = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin missing")


@pytest.fixture
def app(tmp_path: Path):
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "SECRET_KEY": "t"})
    users = UserStore(app.config["DATA_DIR"])
    users.add("planner1", "planner", PASSWORD)
    app.planner = {"Authorization": f"Bearer {users.new_token('planner1')}"}
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def county_tile(app, z: int, layer: str = "streetlights") -> tuple[int, int, int]:
    """The tile at zoom ``z`` holding the first feature of ``layer``."""
    first = get_store(app).features(layer)[0]
    anchor = shape(first["geometry"]).representative_point()
    return tile_of(anchor.x, anchor.y, z)


def expected_ids(app, layer: str, zxy, shown=lambda props: True) -> set[str]:
    """Ids of the layer's features whose geometry intersects the tile and its buffer."""
    box = shapely.box(*tile_query_box(*zxy))
    return {
        f["id"]
        for f in get_store(app).features(layer)
        if f.get("geometry") and box.intersects(shape(f["geometry"])) and shown(f["properties"])
    }


def decoded(body: bytes, layer: str) -> list[dict]:
    return mapbox_vector_tile.decode(body).get(layer, {}).get("features", []) if body else []


def get_tile(client, layer: str, zxy, **kwargs):
    z, x, y = zxy
    return client.get(f"{TILES.format(layer)}/{z}/{x}/{y}", **kwargs)


# ------------------------------------------------------------------------- metadata


def test_tile_matrix_set_is_the_standard_web_mercator_quad(client):
    listed = client.get("/ogc/tileMatrixSets").get_json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad"]
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").get_json()
    assert tms["uri"] == "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    assert tms["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    matrices = tms["tileMatrices"]
    assert [m["id"] for m in matrices] == [str(z) for z in range(23)]
    assert matrices[0]["scaleDenominator"] == pytest.approx(559082264.028717)
    assert matrices[14]["matrixWidth"] == 2**14 and matrices[14]["tileWidth"] == 256
    assert client.get("/ogc/tileMatrixSets/WorldCRS84Quad").status_code == 404


def test_collection_links_its_vector_tilesets_and_the_tileset_its_tiles(client):
    doc = client.get("/ogc/collections/streetlights").get_json()
    rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    (tilesets_link,) = [link for link in doc["links"] if link["rel"] == rel]
    assert tilesets_link["href"].endswith(TILES.format("streetlights")[: -len("/WebMercatorQuad")])
    listed = client.get(tilesets_link["href"]).get_json()["tilesets"]
    assert [t["dataType"] for t in listed] == ["vector"]
    (self_link,) = [link for link in listed[0]["links"] if link["rel"] == "self"]
    tileset = client.get(self_link["href"]).get_json()
    assert tileset["dataType"] == "vector"
    assert tileset["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    (item,) = [link for link in tileset["links"] if link["rel"] == "item"]
    assert item["type"] == MVT
    assert item["href"].endswith("/WebMercatorQuad/{tileMatrix}/{tileCol}/{tileRow}")
    z, x, y = county_tile(client.application, 12)
    url = item["href"].format(tileMatrix=z, tileCol=x, tileRow=y)
    assert client.get(url).status_code == 200
    assert decoded(client.get(url).data, "streetlights")


def test_only_whole_layers_link_tiles_not_their_part_collections(client):
    rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    whole = client.get("/ogc/collections/greenhouses").get_json()["links"]
    assert [link["rel"] for link in whole].count(rel) == 1
    part = client.get("/ogc/collections/greenhouses-points").get_json()["links"]
    assert rel not in [link["rel"] for link in part]
    tile = get_tile(client, "greenhouses", county_tile(client.application, 8, "greenhouses"))
    kinds = {f["geometry"]["type"] for f in decoded(tile.data, "greenhouses")}
    assert kinds == {"Point", "Polygon"}  # a mixed layer's tiles hold both kinds


def test_conformance_and_openapi_name_the_tiles(client):
    conforms = client.get("/ogc/conformance").get_json()["conformsTo"]
    for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt"):
        assert f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{c}" in conforms
    paths = client.get("/ogc/api?f=json").get_json()["paths"]
    tile_path = (
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileCol}/{tileRow}"
    )
    assert MVT in paths[tile_path]["get"]["responses"]["200"]["content"]
    assert "/tileMatrixSets/{tileMatrixSetId}" in paths


# ---------------------------------------------------------------------------- tiles


@pytest.mark.parametrize("layer", ["streetlights", "roads", "boundaries", "villages"])
def test_a_tile_holds_exactly_the_features_that_intersect_it(client, layer):
    for z in (8, 12):
        zxy = county_tile(client.application, z, layer)
        r = get_tile(client, layer, zxy)
        assert r.status_code == 200 and r.mimetype == MVT
        tile = mapbox_vector_tile.decode(r.data)
        assert list(tile) == [layer]
        assert tile[layer]["extent"] == 4096
        ids = [f["properties"]["id"] for f in tile[layer]["features"]]
        assert len(ids) == len(set(ids))
        assert set(ids) == expected_ids(client.application, layer, zxy)


def test_a_tile_without_features_is_an_empty_200(client):
    r = get_tile(client, "streetlights", (12, 0, 0))
    assert r.status_code == 200 and r.mimetype == MVT and r.data == b""


def test_properties_are_what_the_reader_sees(client):
    zxy = county_tile(client.application, 8)
    (light, *_) = decoded(get_tile(client, "streetlights", zxy).data, "streetlights")
    stored = get_store(client.application).get("streetlights", light["properties"]["id"])
    assert light["properties"]["road"] == stored["properties"]["road"]
    assert light["properties"]["status"] == stored["properties"]["status"]


def test_private_fields_and_hidden_reports_only_for_planners(client, app):
    zxy = county_tile(app, 8, "reports")
    anonymous = decoded(get_tile(client, "reports", zxy).data, "reports")
    public = expected_ids(app, "reports", zxy, lambda p: p.get("status") not in ("new", "rejected"))
    assert {f["properties"]["id"] for f in anonymous} == public
    assert anonymous and not any("phone" in f["properties"] for f in anonymous)
    assert not any("code" in f["properties"] for f in anonymous)
    planner = decoded(get_tile(client, "reports", zxy, headers=app.planner).data, "reports")
    assert {f["properties"]["id"] for f in planner} == expected_ids(app, "reports", zxy)
    assert len(planner) > len(anonymous)
    assert any("phone" in f["properties"] for f in planner)


def test_etag_and_304_follow_the_layer_version_and_the_reader(client, app):
    zxy = county_tile(app, 10)
    first = get_tile(client, "streetlights", zxy)
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public")
    again = get_tile(client, "streetlights", zxy, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    assert get_tile(client, "reports", zxy).headers["Cache-Control"].startswith("private")
    planner = get_tile(client, "reports", zxy, headers=app.planner).headers["ETag"]
    assert planner != get_tile(client, "reports", zxy).headers["ETag"]
    store = get_store(app)
    fid = decoded(first.data, "streetlights")[0]["properties"]["id"]
    store.update("streetlights", fid, properties={"road": "新路"}, user="t")
    changed = get_tile(client, "streetlights", zxy, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    roads = {
        f["properties"]["id"]: f["properties"]["road"]
        for f in decoded(changed.data, "streetlights")
    }
    assert roads[fid] == "新路"


@pytest.mark.parametrize(
    ("path", "zh", "en"),
    [
        ("23/0/0", "z=23", "z=23"),
        ("3/8/0", "x=8", "x=8"),
        ("3/0/-1", "“-1”", "'-1'"),
        ("a/0/0", "“a”", "'a'"),
        ("2.5/0/0", "“2.5”", "'2.5'"),
    ],
)
def test_bad_tile_coordinates_are_400_naming_the_value(client, path, zh, en):
    url = f"{TILES.format('streetlights')}/{path}"
    r = client.get(url)
    assert r.status_code == 400
    assert zh in r.get_json()["error"]["message"]
    message = client.get(url + "?lang=en").get_json()["error"]["message"]
    assert en in message and "range" in message or "integer" in message


def test_unknown_collection_is_404(client):
    assert client.get("/ogc/collections/nothing/tiles/WebMercatorQuad/0/0/0").status_code == 404
    assert client.get("/ogc/collections/nothing/tiles").status_code == 404


def test_a_tile_is_capped_at_ten_thousand_features_by_id(app):
    from layers import tiles

    store = get_store(app)
    spec = store.spec("visits")
    zxy = county_tile(app, 8, "visits")
    every = expected_ids(app, "visits", zxy)
    body = tiles.layer_tile(store, spec, *zxy, cap=50)
    ids = [f["properties"]["id"] for f in decoded(body, "visits")]
    assert sorted(ids) == sorted(every)[:50]
    assert MAX_FEATURES == 10_000
    client = app.test_client()
    (layer,) = client.get(f"{TILES.format('visits')}?lang=en").get_json()["layers"]
    assert layer["description"] == "At most 10,000 features per tile: the first 10,000 by id"
    (layer,) = app.test_client().get(TILES.format("visits")).get_json()["layers"]
    assert "10,000" in layer["description"] and "要素" in layer["description"]


# ---------------------------------------------------------------------------- GDAL


def ogr_ids(path: Path, zxy, layer: str) -> tuple[list[str], dict]:
    z, x, y = zxy
    out = path.with_suffix(".geojson")
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(out), str(path), layer,
         "-oo", "CLIP=NO", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}",
         "-t_srs", "EPSG:4326"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    doc = json.loads(out.read_text())
    return [f["properties"]["id"] for f in doc["features"]], doc


@needs_gdal
@pytest.mark.gdal
@pytest.mark.parametrize("layer", ["streetlights", "roads", "boundaries"])
def test_gdal_reads_a_tile_with_the_stores_ids_and_places(client, tmp_path, layer):
    zxy = county_tile(client.application, 10, layer)
    path = tmp_path / f"{layer}.mvt"
    path.write_bytes(get_tile(client, layer, zxy).data)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(path), "-oo", "CLIP=NO", "-oo", f"Z={zxy[0]}",
         "-oo", f"X={zxy[1]}", "-oo", f"Y={zxy[2]}"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    expected = expected_ids(client.application, layer, zxy)
    assert f"Layer name: {layer}" in info
    assert f"Feature Count: {len(expected)}" in info
    ids, doc = ogr_ids(path, zxy, layer)
    assert sorted(ids) == sorted(expected)
    if layer == "streetlights":  # points land within a tile unit (~10 m at z10) of theirs
        store = get_store(client.application)
        for feature in doc["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            want = store.get(layer, feature["properties"]["id"])["geometry"]["coordinates"]
            assert abs(lon - want[0]) < 1e-4 and abs(lat - want[1]) < 1e-4


def test_both_backends_give_the_same_features_for_the_same_tile(tmp_path, pg_url):
    from layers import tiles
    from layers.backends import open_store, seed_if_empty
    from layers.private_fields import public_spec

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    files, database = tmp_path / "files", tmp_path / "db"
    seed_if_empty(files, demo)
    seed_if_empty(database, demo, pg_url)
    stores = [open_store(files), open_store(database, pg_url)]
    try:
        for layer in ("streetlights", "roads", "boundaries", "reports", "greenhouses"):
            spec = public_spec(stores[0].spec(layer))
            first = stores[0].features(layer)[0]
            anchor = shape(first["geometry"]).representative_point()
            for z in (6, 10, 14):
                zxy = tile_of(anchor.x, anchor.y, z)
                got = [decoded(tiles.layer_tile(s, spec, *zxy), layer) for s in stores]
                ids = [sorted(f["properties"]["id"] for f in g) for g in got]
                assert ids[0] and ids[0] == ids[1], (layer, zxy)
                keys = [{f["properties"]["id"]: set(f["properties"]) for f in g} for g in got]
                assert keys[0] == keys[1]
                kinds = [{f["properties"]["id"]: f["geometry"]["type"] for f in g} for g in got]
                assert kinds[0] == kinds[1]
    finally:
        for s in stores:
            s.close()


# --------------------------------------------- the column-wise read, the PyPI encoder


def mapbox_tile(every: list[dict], spec, zxy) -> bytes:
    """The tile as the PyPI encoder ``mapbox-vector-tile`` writes the same features of
    ``every`` feature of the layer, one dict each (what the GeoJSON store did before it
    read tiles column-wise)."""
    from layers.private_fields import hidden_names
    from layers.tiles import shown_statuses, tile_bounds_m, tile_geometries

    status, statuses = shown_statuses(spec)
    box = shapely.box(*tile_query_box(*zxy))
    features = sorted(
        (
            f
            for f in every
            if f.get("geometry") and box.intersects(shape(f["geometry"]))
            and (status is None or f["properties"].get(status) in statuses)
        ),
        key=lambda f: f["id"],
    )[:MAX_FEATURES]  # fmt: skip
    if not features:
        return b""
    hidden = hidden_names(spec)
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
    tiled = tile_geometries(geoms, tile_bounds_m(*zxy))
    kept = []
    for feature, geom in zip(features, tiled, strict=True):
        props = {
            k: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            if isinstance(v, (list, dict)) else v
            for k, v in feature["properties"].items()
            if v is not None and k not in hidden
        }  # fmt: skip
        props["id"] = feature["id"]
        if geom is not None and not geom.is_empty:
            kept.append({"geometry": geom, "properties": props})
    if not kept:
        return b""
    options = {"extents": 4096, "y_coord_down": True}
    return mapbox_vector_tile.encode({"name": spec.name, "features": kept}, default_options=options)


@pytest.mark.geojson_only
def test_the_column_wise_tile_holds_what_the_feature_dicts_give(tmp_path):
    from layers import tiles
    from layers.backends import open_store, seed_if_empty
    from layers.private_fields import public_spec

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    seed_if_empty(tmp_path, demo)
    store = open_store(tmp_path)
    compared = 0
    try:
        for layer in ("streetlights", "roads", "boundaries", "reports", "greenhouses", "visits"):
            every = store.features(layer)
            anchor = shape(every[0]["geometry"]).representative_point()
            for spec in (store.spec(layer), public_spec(store.spec(layer))):
                for z in (6, 8, 10, 12, 14):
                    zxy = tile_of(anchor.x, anchor.y, z)
                    ours = tiles.layer_tile(store, spec, *zxy)
                    theirs = mapbox_tile(every, spec, zxy)
                    assert bool(ours) == bool(theirs), (layer, zxy)
                    if ours:
                        assert decode(ours) == decode(theirs), (layer, zxy)
                    compared += bool(ours)
    finally:
        store.close()
    assert compared > 40


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


def test_the_encoder_keeps_values_and_leaves_out_what_is_absent():
    import numpy as np

    from layers.tiles import encode_features

    points = shapely.points([[1.2, 2.5], [3.5, 4.4], [5.0, 6.0], [7.0, 8.0]])
    columns = [
        ("n", np.array([1, 2.5, True, None], dtype=object)),
        ("s", ["1", float("nan"), "x", ["a", 1]]),
        ("id", ["A", "B", "C", "D"]),
    ]
    whole = {2: {"extra": "yes", "n": False, "id": "C"}}
    got = decode(encode_features("t", points, columns, whole))["t"]["features"]
    props = [f["properties"] for f in got]
    assert props[0] == {"n": 1, "s": "1", "id": "A"}
    assert props[1] == {"n": 2.5, "id": "B"}
    assert props[2] == {"extra": "yes", "n": False, "id": "C"}
    assert props[3] == {"s": '["a",1]', "id": "D"}
    assert [f["geometry"]["coordinates"] for f in got] == [[1, 2], [4, 4], [5, 6], [7, 8]]
    assert encode_features("t", points[:0], [], {}) == b""
    empty = np.array([shapely.Point()], dtype=object)
    assert encode_features("t", empty, [("id", ["A"])], {}) == b""
