"""Real clients read the running app: GDAL's OAPIF driver (ogrinfo/ogr2ogr, and pyogrio's
own GDAL) and owslib. The app runs on a real port in a thread (werkzeug make_server).

The ``gdal`` tests skip only when ogrinfo is missing and ``CI`` is unset; in CI a missing
ogrinfo fails them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading

import orjson
import pyogrio
import pyproj
import pytest
import shapely
from geometries import COUNTY_RING, polygon
from werkzeug.serving import make_server

from layers.store import Change, GeoJSONStore
from webmap.app import create_app, get_store

N_LIGHTS = 130


def populate(store: GeoJSONStore) -> None:
    """Every kind of geometry, Chinese text, and fields that only late features fill (so a
    client guessing the schema from the first page would miss them)."""
    store.create(
        "boundaries",
        polygon(COUNTY_RING),
        {"level": "county", "name": "山阴县"},
        user="t",
    )
    for i, name in enumerate(["白坊村", "古城村", '<b>新村</b> & "东"']):
        store.create(
            "villages",
            {"type": "Point", "coordinates": [112.7 + i / 10, 39.5]},
            {"name": name, "township": "岱岳镇", "households": 100 + i},
            user="t",
        )
    lights = []
    for i in range(N_LIGHTS):
        props = {"power_source": "solar" if i % 2 else "grid", "status": "working"}
        if i >= 100:
            props.update(road=f"人民路{i}号", lamp_power_w=60.5, installed_date="2022-03-01")
        coords = [112.55 + i * 0.004, 39.25 + i * 0.003]
        lights.append(
            Change("create", geometry={"type": "Point", "coordinates": coords}, properties=props)
        )
    store.commit("streetlights", lights, user="t", source="test")
    store.create(
        "greenhouses",
        {
            "type": "Polygon",
            "coordinates": [
                [[112.7, 39.4], [112.72, 39.4], [112.72, 39.42], [112.7, 39.42], [112.7, 39.4]]
            ],
        },
        {"frame_type": "steel", "crop": "西红柿"},
        user="t",
    )
    store.create(
        "greenhouses",
        {"type": "Point", "coordinates": [112.75, 39.45]},
        {"crop": "黄瓜", "built_date": "2019-05-05"},
        user="t",
    )
    store.create(
        "pipes",
        {"type": "LineString", "coordinates": [[112.8, 39.5], [112.82, 39.51]]},
        {"purpose": "drinking", "material": "PE管"},
        user="t",
    )
    store.create(
        "ledger", None, {"title": "路灯工程", "category": "streetlights", "target": 200}, user="t"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL of /ogc, store) of the app running on a free port."""
    app = create_app(
        {
            "DATA_DIR": str(tmp_path_factory.mktemp("clients") / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
        }
    )
    populate(get_store(app))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    patch = pytest.MonkeyPatch()
    for name in ("NO_PROXY", "no_proxy"):
        patch.setenv(name, "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/ogc", get_store(app)
    finally:
        patch.undo()
        httpd.shutdown()
        thread.join(5)


def need_ogrinfo() -> None:
    if shutil.which("ogrinfo") and shutil.which("ogr2ogr"):
        return
    if os.environ.get("CI"):
        pytest.fail("ogrinfo/ogr2ogr (gdal-bin) must be installed in CI")
    pytest.skip("ogrinfo (gdal-bin) is not installed")


def need_pyogrio_oapif() -> None:
    if "OAPIF" in pyogrio.list_drivers():
        return
    if os.environ.get("CI"):
        pytest.fail("pyogrio's GDAL has no OAPIF driver")
    pytest.skip("pyogrio's GDAL has no OAPIF driver")


def gdal(*args: str) -> str:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "GDAL_HTTP_TIMEOUT": "60"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def same_value(got, want) -> bool:
    if want is None:
        return got is None
    if isinstance(want, bool):
        return got in (want, int(want))
    if isinstance(want, int | float):
        return got == pytest.approx(want)
    return str(got) == str(want)


def assert_features_equal(got: dict[str, dict], store: GeoJSONStore, layer: str) -> None:
    """GDAL's features (id -> properties and geometry) hold exactly the store's values."""
    expected = {f["id"]: f for f in store.features(layer)}
    assert set(got) == set(expected), layer
    for fid, feature in expected.items():
        props, mine = got[fid]["properties"], feature["properties"]
        for name in (*store.spec(layer).field_names, "version", "created_at", "created_by"):
            assert same_value(props.get(name), mine.get(name)), (layer, fid, name)
        if feature["geometry"] is None:
            assert got[fid]["geometry"] is None
        else:
            shape = shapely.geometry.shape(got[fid]["geometry"])
            assert shapely.equals_exact(
                shape, shapely.geometry.shape(feature["geometry"]), tolerance=1e-7
            ), (layer, fid)


# ------------------------------------------------------------------ ogrinfo / ogr2ogr
@pytest.mark.gdal
def test_ogrinfo_lists_every_layer_with_its_feature_count(server):
    need_ogrinfo()
    url, store = server
    out = gdal("ogrinfo", "-ro", "-so", "-al", f"OAPIF:{url}")
    names = re.findall(r"^Layer name: (\S+)$", out, re.MULTILINE)
    counts = [int(n) for n in re.findall(r"^Feature Count: (\d+)$", out, re.MULTILINE)]
    # Each mixed layer is followed by one collection per geometry kind (webmap/ogc/parts.py).
    parts = {"greenhouses-points": 1, "greenhouses-polygons": 1}
    parts |= {"plantings-points": 0, "plantings-polygons": 0}
    assert [n for n in names if n not in parts] == store.layer_names()
    assert dict(zip(names, counts, strict=True)) == {**store.counts(), **parts}
    # Titles come from the layer labels, fields and types from the JSON schema.
    assert "TITLE=路灯" in out
    block = out.split("Layer name: streetlights")[1].split("Layer name:")[0]
    assert re.search(r"^lamp_power_w: Real", block, re.MULTILINE)
    assert re.search(r"^installed_date: Date", block, re.MULTILINE)
    # Without the schema GDAL guesses from the first page, where every field is named.
    out = gdal("ogrinfo", "-ro", "-so", "-oo", "IGNORE_SCHEMA=YES", f"OAPIF:{url}", "streetlights")
    assert re.search(r"^lamp_power_w: ", out, re.MULTILINE)
    assert re.search(r"^road: ", out, re.MULTILINE)


@pytest.mark.gdal
@pytest.mark.parametrize(
    "layer", ["streetlights", "villages", "greenhouses", "pipes", "boundaries", "ledger"]
)
def test_ogr2ogr_reads_every_feature_with_the_store_values(server, layer):
    need_ogrinfo()
    url, store = server
    out = gdal("ogr2ogr", "-f", "GeoJSON", "/vsistdout/", f"OAPIF:{url}", layer)
    features = orjson.loads(out)["features"]
    got = {f["properties"]["id"]: f for f in features}
    assert len(features) == store.count(layer)
    assert_features_equal(got, store, layer)


@pytest.mark.gdal
def test_ogrinfo_spatial_filter_is_answered_by_the_server(server):
    need_ogrinfo()
    url, store = server
    bbox = (112.6, 39.25, 112.8, 39.4)
    out = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{url}", "streetlights", "-spat", *map(str, bbox))
    count = int(re.search(r"^Feature Count: (\d+)$", out, re.MULTILINE).group(1))
    assert count == store.query("streetlights", bbox=bbox).number_matched > 0


# ----------------------------------------------------------- pyogrio's GDAL (newer)
# pyogrio keeps the GIL while GDAL talks to the server, and the server is a thread of this
# process: so the reading happens in a child process, which prints GeoJSON.
PYOGRIO_READ = """
import sys, pyogrio
url, layer, crs = sys.argv[1:4]
options = {"CRS": crs} if crs else {}
info = pyogrio.read_info("OAPIF:" + url, layer=layer, **options)
frame = pyogrio.read_dataframe("OAPIF:" + url, layer=layer, **options)
kinds = dict(zip(info["fields"], info["ogr_types"]))
for name, kind in kinds.items():
    if kind == "OFTDate":
        frame[name] = frame[name].map(lambda v: None if v != v else str(v)[:10])
    elif kind == "OFTDateTime":
        frame[name] = frame[name].map(
            lambda v: None if v != v else v.strftime("%Y-%m-%dT%H:%M:%SZ"))
print((frame.crs and frame.crs.to_epsg()) or "")
print(frame.to_json(na="null", drop_id=True))
"""


def pyogrio_read(url: str, layer: str, crs: str = "") -> tuple[int | None, list[dict]]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run(
        [sys.executable, "-c", PYOGRIO_READ, url, layer, crs],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    epsg, body = done.stdout.split("\n", 1)
    return (int(epsg) if epsg else None), orjson.loads(body)["features"]


@pytest.mark.gdal
@pytest.mark.parametrize("layer", ["streetlights", "villages", "greenhouses", "ledger"])
def test_pyogrio_reads_layers_equal_to_the_store(server, layer):
    need_pyogrio_oapif()
    url, store = server
    _, features = pyogrio_read(url, layer)
    assert_features_equal({f["properties"]["id"]: f for f in features}, store, layer)


@pytest.mark.gdal
def test_pyogrio_reads_in_cgcs2000_and_gauss_kruger(server):
    """OGC API Part 2 through a real client: GDAL asks for ?crs=..., reads the server's
    axis order (lat/lon, northing/easting) and hands back x/y."""
    need_pyogrio_oapif()
    url, store = server
    village = store.features("villages")[0]
    lon, lat = village["geometry"]["coordinates"]
    epsg, features = pyogrio_read(url, "villages", "EPSG:4490")
    got = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in features}
    assert epsg == 4490
    assert got[village["id"]] == pytest.approx([lon, lat], abs=1e-7)
    epsg, features = pyogrio_read(url, "villages", "EPSG:4547")
    got = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in features}
    north, east = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4547").transform(lon, lat)
    assert epsg == 4547
    assert got[village["id"]] == pytest.approx([east, north], abs=0.01)


# ------------------------------------------------------------------------- owslib
def test_owslib_reads_collections_and_items(server):
    from owslib.ogcapi.features import Features

    url, store = server
    api = Features(url)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    collections = api.collections()["collections"]
    assert [c["id"] for c in collections if "vw:layer" not in c] == store.layer_names()
    assert api.collection("villages")["title"] == "村庄"
    page = api.collection_items("streetlights", limit=50)
    assert (page["numberMatched"], page["numberReturned"]) == (N_LIGHTS, 50)
    ids = [f["id"] for f in page["features"]]
    while True:
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        offset = int(re.search(r"offset=(\d+)", nxt[0]["href"]).group(1))
        page = api.collection_items("streetlights", limit=50, offset=offset)
        ids += [f["id"] for f in page["features"]]
    assert sorted(ids) == sorted(f["id"] for f in store.features("streetlights"))
    bbox = [112.6, 39.25, 112.8, 39.4]
    hits = api.collection_items("streetlights", bbox=bbox, limit=1000)
    assert hits["numberMatched"] == store.query("streetlights", bbox=tuple(bbox)).number_matched
    name = store.features("villages")[2]["properties"]["name"]
    item = api.collection_item("villages", store.features("villages")[2]["id"])
    assert item["properties"]["name"] == name
    assert "/collections/{collectionId}/items" in api.api()["paths"]
