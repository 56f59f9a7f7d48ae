"""Downloads of map views (/export/<layer>.<fmt>?<filters>) and `villageworks export`."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote

import openpyxl
import orjson
import pyogrio
import pytest
from flask import render_template_string
from geometries import COUNTY_RING, point, polygon

from layers.exports import FORMATS
from layers.store import Change, GeoJSONStore
from webmap.app import create_app, get_store
from webmap.cli import main as cli_main

N_LIGHTS = 40
# Holds the streetlights 0-14 (see populate).
TOWNSHIP = [
    [112.555, 39.255],
    [112.745, 39.255],
    [112.745, 39.445],
    [112.555, 39.445],
    [112.555, 39.255],
]


def populate(store: GeoJSONStore) -> None:
    store.create(
        "villages",
        point(112.8, 39.5),
        {"name": "白坊村", "township": "岱岳镇"},
        user="t",
    )
    changes = [
        Change(
            "create",
            geometry=point(112.6 + i * 0.01, 39.3 + i * 0.01),
            properties={
                "power_source": "solar",
                "status": "working" if i % 2 else "faulty",
                "road": f"{i % 4}号路",
                "installed_date": f"202{i % 3}-06-01",
            },
        )
        for i in range(N_LIGHTS)
    ]
    store.commit("streetlights", changes, user="t", source="test")
    store.create("ledger", None, {"title": "路灯工程", "category": "streetlights"}, user="t")
    store.create(
        "boundaries",
        polygon(COUNTY_RING),
        {"level": "county", "name": "山阴县"},
        user="t",
    )
    store.create(
        "boundaries",
        {"type": "Polygon", "coordinates": [TOWNSHIP]},
        {"level": "township", "name": "岱岳镇"},
        user="t",
    )


@pytest.fixture
def app(tmp_path: Path):
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "SEED_DEMO": False})
    populate(get_store(app))
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app) -> GeoJSONStore:
    return get_store(app)


def download(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    return response


def test_csv_of_a_filtered_view_holds_exactly_those_features(client, store):
    response = download(client, "/export/streetlights.csv?status=working&road=1号路")
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="streetlights.csv"')
    assert unquote(disposition.split("UTF-8''")[1]) == "路灯.csv"
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    expected = store.query("streetlights", equals={"status": "working", "road": "1号路"})
    assert sorted(r["id"] for r in rows) == sorted(f["id"] for f in expected.features)
    assert rows and all(r["road"] == "1号路" for r in rows)


def township_id(store) -> str:
    return next(
        f["id"] for f in store.features("boundaries") if f["properties"]["level"] == "township"
    )


def light_ids(store, numbers) -> set[str]:
    ordered = sorted(store.features("streetlights"), key=lambda f: f["geometry"]["coordinates"])
    return {ordered[i]["id"] for i in numbers}


def test_the_maps_own_filters_mean_what_they_mean_on_the_map(client, store):
    place = township_id(store)
    url = (
        f"/export/streetlights.geojson?township={place}&status=working"
        "&from=2021-01-01&to=2021-12-31"
    )
    doc = orjson.loads(download(client, url).data)
    wanted = [i for i in range(15) if i % 2 == 1 and i % 3 == 1]
    assert {f["id"] for f in doc["features"]} == light_ids(store, wanted)
    assert client.get("/export/streetlights.csv?township=BD-999999").status_code == 400


def test_all_layers_with_the_maps_filters_and_layer_choice(client, store):
    place = township_id(store)
    book = openpyxl.load_workbook(
        io.BytesIO(download(client, f"/export/all.xlsx?township={place}").data)
    )
    rows = {name: book[name].max_row - 1 for name in book.sheetnames}
    assert rows["路灯"] == 15  # work layers: only what lies in the township
    assert rows["村庄"] == 0
    assert rows["台账事项"] == 1  # other layers are left alone, as on the map
    assert rows["行政区界"] == 2
    book = openpyxl.load_workbook(
        io.BytesIO(download(client, "/export/all.xlsx?layers=streetlights,villages").data)
    )
    assert book.sheetnames == ["路灯", "村庄"]


def test_bbox_and_datetime_filters_apply_to_downloads(client, store):
    bbox = (112.6, 39.3, 112.75, 39.45)
    url = "/export/streetlights.geojson?bbox=" + ",".join(map(str, bbox))
    doc = orjson.loads(download(client, url).data)
    expected = store.query("streetlights", bbox=bbox).features
    assert sorted(f["id"] for f in doc["features"]) == sorted(f["id"] for f in expected)
    latlon = download(
        client, "/export/streetlights.geojson?bbox=39.3,112.6,39.45,112.75&bbox-crs=EPSG:4326"
    )
    assert len(orjson.loads(latlon.data)["features"]) == len(expected)
    book = openpyxl.load_workbook(
        io.BytesIO(
            download(client, "/export/streetlights.xlsx?datetime=2021-01-01/2021-12-31").data
        )
    )
    header = [c.value for c in book["路灯"][1]]
    rows = list(book["路灯"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == sum(1 for i in range(N_LIGHTS) if i % 3 == 1)
    assert all(row[header.index("安装日期")].year == 2021 for row in rows)


@pytest.mark.parametrize("key", list(FORMATS))
def test_every_format_downloads_and_reads_back(client, store, tmp_path, key):
    response = download(client, f"/export/streetlights.{key}")
    assert response.content_type.startswith(FORMATS[key].media_type.split(";")[0])
    path = tmp_path / f"lights{FORMATS[key].suffix}"
    path.write_bytes(response.data)
    if key == "xlsx":
        rows = openpyxl.load_workbook(path)["路灯"].max_row - 1
    elif key == "shp":
        with zipfile.ZipFile(path) as archive:
            archive.extractall(tmp_path / "shp")
        rows = len(pyogrio.read_dataframe(tmp_path / "shp" / "streetlights.shp"))
    elif key == "csv":
        rows = len(pyogrio.read_dataframe(path, X_POSSIBLE_NAMES="lon", Y_POSSIBLE_NAMES="lat"))
    else:
        rows = len(pyogrio.read_dataframe(path))
    assert rows == N_LIGHTS


def test_shapefile_also_answers_at_shp_zip(client):
    assert download(client, "/export/streetlights.shp.zip").mimetype == "application/zip"


def test_all_layers_in_one_workbook_or_geopackage(client, store, tmp_path):
    book = openpyxl.load_workbook(io.BytesIO(download(client, "/export/all.xlsx").data))
    assert len(book.sheetnames) == len(store.layer_names())
    assert "台账事项" in book.sheetnames
    path = tmp_path / "all.gpkg"
    path.write_bytes(download(client, "/export/all.gpkg?bbox=112,39,113,40").data)
    layers = set(pyogrio.list_layers(path)[:, 0])
    assert "streetlights" in layers and "ledger" not in layers  # bbox needs a geometry
    assert client.get("/export/all.csv").status_code == 400


@pytest.mark.parametrize(
    "url, status",
    [
        ("/export/streetlights.doc", 400),
        ("/export/nope.csv", 404),
        ("/export/streetlights.csv?colour=red", 400),
        ("/export/streetlights.csv?bbox=1,2", 400),
        ("/export/villages.csv?datetime=2021-01-01", 400),
    ],
)
def test_bad_downloads(client, url, status):
    page = client.get(url, headers={"Accept": "text/html"})
    assert page.status_code == status and page.mimetype == "text/html"
    response = client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == status
    assert orjson.loads(response.data)["error"]["status"] == status


def test_downloads_follow_anonymous_read(tmp_path):
    app = create_app(
        {
            "DATA_DIR": str(tmp_path / "d"),
            "TESTING": True,
            "SEED_DEMO": False,
            "ANONYMOUS_READ": False,
        }
    )
    assert app.test_client().get("/export/streetlights.csv").status_code == 401


def test_export_links_keep_the_view_filters_only(app):
    with app.test_request_context("/ogc/collections/streetlights/items"):
        html = render_template_string(
            '{% set layer = "streetlights" %}{% set filters = {"status": "working", '
            '"limit": 5, "bbox": "112,39,113,40"} %}{% include "ogc/export_links.html" %}'
        )
    for key in FORMATS:
        assert f'data-format="{key}"' in html
    hrefs = dict(re.findall(r'href="([^"?]+)\?([^"]*)" data-format', html))
    query = parse_qs(hrefs["/export/streetlights.kml"].replace("&amp;", "&"))
    assert query == {"status": ["working"], "bbox": ["112,39,113,40"]}


@pytest.mark.parametrize("key", list(FORMATS))
def test_cli_export_every_format(app, tmp_path, key, capsys):
    out = tmp_path / f"out{FORMATS[key].suffix}"
    code = cli_main(
        [
            "export",
            "--layer",
            "streetlights",
            "--format",
            key,
            "-o",
            str(out),
            "--data",
            app.config["DATA_DIR"],
        ]
    )
    assert code == 0
    assert out.stat().st_size > 0
    if key in ("geojson", "gpkg", "kml"):
        assert len(pyogrio.read_dataframe(out)) == N_LIGHTS


def test_cli_refuses_an_unknown_format(app, tmp_path, capsys):
    code = cli_main(
        [
            "export",
            "--layer",
            "streetlights",
            "--format",
            "dwg",
            "-o",
            str(tmp_path / "x"),
            "--data",
            app.config["DATA_DIR"],
        ]
    )
    assert code == 2
    assert "xlsx" in capsys.readouterr().err


def test_every_layer_of_the_demo_county_exports_in_every_format(tmp_path):
    """Whatever the demo holds (its contents change), every layer exports everywhere."""
    from webmap.settings import DEMO_DIR

    if not (DEMO_DIR / "layers").is_dir():
        pytest.skip("no demo county in data/demo")
    config = {"DATA_DIR": str(tmp_path / "demo"), "TESTING": True, "SEED_DEMO": True}
    # Far more than a visitor may make in a minute (tests/reliability/test_hardening_content).
    app = create_app({**config, "ANONYMOUS_EXPORTS_PER_MINUTE": 10_000})
    client = app.test_client()
    store = get_store(app)
    for key, export_format in FORMATS.items():
        if export_format.multi_layer:
            assert download(client, f"/export/all.{key}").data, key
        for layer in store.layer_names():
            assert download(client, f"/export/{layer}.{key}").data, (layer, key)


def test_export_links_of_all_layers_keep_the_maps_filters(app):
    with app.test_request_context("/"):
        links = render_template_string(
            "{% for key, label, url in export_links('all', {'township': 'BD-000002', "
            "'layers': 'streetlights,wells', 'limit': 5}) %}{{ key }} {{ url }}\n{% endfor %}"
        )
    keys = [line.split()[0] for line in links.strip().splitlines()]
    assert keys == [k for k, f in FORMATS.items() if f.multi_layer]
    assert "township=BD-000002" in links and "layers=streetlights" in links
    assert "limit" not in links
