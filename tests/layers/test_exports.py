"""layers.exports: every format read back (pyogrio, openpyxl) equals the layer."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely
from geometries import point

from layers.exports import (
    FORMATS,
    as_text,
    columns,
    export_layer,
    export_layers,
    shapefile_names,
)
from layers.store_base import BaseStore

HOSTILE = "白坊村<script>alert(1)</script>&\"'${x}`"
FORMULA = '=HYPERLINK("http://x","点我")'
SQUARE = [[112.70, 39.40], [112.72, 39.40], [112.72, 39.42], [112.70, 39.42], [112.70, 39.40]]
HOLE = [
    [112.705, 39.405],
    [112.707, 39.405],
    [112.707, 39.407],
    [112.705, 39.407],
    [112.705, 39.405],
]


def populate(store: BaseStore) -> None:
    """A little county: points, lines, a polygon with a hole, a multipolygon, no geometry."""
    store.create(
        "villages",
        point(112.8, 39.5),
        {"name": HOSTILE, "township": "岱岳镇", "households": 320, "notes": "多行\n备注"},
        user="t",
    )
    lights = [
        (
            [112.81, 39.51],
            {
                "power_source": "solar",
                "status": "working",
                "road": "人民路",
                "pole_height_m": 6.5,
                "installed_date": "2021-05-01",
            },
        ),
        (
            [112.82, 39.52],
            {"power_source": "grid", "status": "faulty", "road": FORMULA, "lamp_power_w": 60},
        ),
        ([112.90, 39.60], {"power_source": "太阳能", "status": "planned"}),
    ]
    for coords, props in lights:
        store.create("streetlights", {"type": "Point", "coordinates": coords}, props, user="t")
    store.create(
        "greenhouses",
        {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
        {"frame_type": "steel", "crop": "西红柿", "built_date": "2020-04-01"},
        user="t",
    )
    store.create(
        "greenhouses",
        point(112.75, 39.45),
        {"frame_type": "bamboo", "crop": "黄瓜"},
        user="t",
    )
    store.create(
        "pipes",
        {"type": "LineString", "coordinates": [[112.8, 39.5], [112.81, 39.505], [112.82, 39.5]]},
        {"purpose": "irrigation", "diameter_mm": 110, "material": "PE管"},
        user="t",
    )
    store.create(
        "boundaries",
        {
            "type": "MultiPolygon",
            "coordinates": [
                [SQUARE],
                [[[113.0, 39.0], [113.1, 39.0], [113.1, 39.1], [113.0, 39.0]]],
            ],
        },
        {"level": "county", "name": "山阴县"},
        user="t",
    )
    store.create(
        "plantings",
        {"type": "MultiPoint", "coordinates": [[112.7, 39.4], [112.71, 39.41]]},
        {"species": "油松", "count": 2},
        user="t",
    )
    store.create(
        "plantings",
        point(112.72, 39.42),
        {"species": "山杏", "count": 1},
        user="t",
    )
    store.create(
        "ledger",
        None,
        {
            "title": "新建太阳能路灯 200 盏",
            "category": "streetlights",
            "target": 200,
            "status": "in_progress",
        },
        user="t",
    )


@pytest.fixture
def store(store_at, tmp_path: Path) -> BaseStore:
    """The little county on each backend (see tests/conftest.py)."""
    store = store_at(tmp_path / "data")
    populate(store)
    return store


def by_id(features: list[dict]) -> dict[str, dict]:
    return {f["id"]: f for f in features}


def same_geometry(a: object, b: dict) -> bool:
    """Same shape and vertices (ring orientation may differ: Shapefile reorders rings)."""
    expected = shapely.normalize(shapely.geometry.shape(b))
    return bool(shapely.equals_exact(shapely.normalize(a), expected, tolerance=1e-9))


def test_formats_offered_are_the_six_planners_exchange():
    assert set(FORMATS) == {"geojson", "gpkg", "shp", "kml", "csv", "xlsx"}


@pytest.mark.parametrize("layer", ["streetlights", "greenhouses", "ledger", "boundaries"])
def test_geojson_round_trips_exactly(store, layer):
    doc = orjson.loads(export_layer(store, layer, "geojson"))
    assert doc["type"] == "FeatureCollection"
    got = by_id(doc["features"])
    assert set(got) == {f["id"] for f in store.features(layer)}
    for feature in store.features(layer):
        assert got[feature["id"]]["properties"] == feature["properties"]
        assert got[feature["id"]]["geometry"] == feature["geometry"]
    assert not any(k.startswith("vw:") for k in doc)  # no store bookkeeping


def test_geojson_of_a_filtered_view_holds_only_those_features(store):
    chosen = store.query("streetlights", equals={"status": "working"}).features
    doc = orjson.loads(export_layer(store, "streetlights", "geojson", chosen))
    assert [f["id"] for f in doc["features"]] == [chosen[0]["id"]]


def check_attributes(frame, store: BaseStore, layer: str, names=None) -> None:
    """Every attribute of every feature in ``frame`` equals the store's, as text."""
    names = names or {c: c for c in columns(store.spec(layer))}
    expected = by_id(store.features(layer))
    assert sorted(frame[names["id"]]) == sorted(expected)
    for record in frame.to_dict("records"):
        feature = expected[record[names["id"]]]
        for column, short in names.items():
            want = as_text(feature["id"] if column == "id" else feature["properties"].get(column))
            got = record[short]
            got = "" if got is None or got != got else got  # None / NaN
            if isinstance(got, bool):
                got = "true" if got else "false"
            if isinstance(got, pd.Timestamp):  # a GeoPackage's DATE or DATETIME column
                assert got.timestamp() == pd.Timestamp(want).timestamp(), (layer, column)
                continue
            assert as_text(got) == want, (layer, column)
        if record.get("geometry") is not None:
            assert same_geometry(record["geometry"], feature["geometry"])


def test_geopackage_holds_every_layer_typed_and_equal(store, tmp_path):
    layers = ["streetlights", "greenhouses", "pipes", "boundaries", "ledger", "wells"]
    data = export_layers(store, {name: None for name in layers}, "gpkg")
    path = tmp_path / "out.gpkg"
    path.write_bytes(data)
    assert sorted(pyogrio.list_layers(path)[:, 0]) == sorted(layers)
    for layer in layers:
        frame = pyogrio.read_dataframe(path, layer=layer)
        assert len(frame) == store.count(layer)
        check_attributes(frame, store, layer)
    info = pyogrio.read_info(path, layer="streetlights")
    assert info["crs"] == "EPSG:4326"
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["pole_height_m"] == "float64"
    assert pyogrio.read_info(path, layer="greenhouses")["geometry_type"] == "Unknown"


def test_zipped_shapefile_has_prj_cpg_and_keeps_chinese(store, tmp_path):
    data = export_layer(store, "greenhouses", "shp")
    folder = tmp_path / "shp"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        archive.extractall(folder)
    for stem in ("greenhouses_point", "greenhouses_polygon"):
        assert {f"{stem}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        assert (folder / f"{stem}.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
        assert "WGS" in (folder / f"{stem}.prj").read_text()
    assert "README.txt" in names
    short = shapefile_names(store.spec("greenhouses"))
    assert all(len(s) <= 10 for s in short.values())
    assert len(set(short.values())) == len(short)
    points = pyogrio.read_dataframe(folder / "greenhouses_point.shp")
    polygons = pyogrio.read_dataframe(folder / "greenhouses_polygon.shp")
    assert list(points[short["crop"]]) == ["黄瓜"]
    assert list(polygons[short["crop"]]) == ["西红柿"]
    assert len(polygons.geometry[0].interiors) == 1
    for frame in (points, polygons):
        view = _only(store, "greenhouses", set(frame[short["id"]]))
        check_attributes(frame, view, "greenhouses", short)


def _only(store: BaseStore, layer: str, ids: set[str]):
    """A stand-in store whose layer holds only ``ids`` (for split shapefiles)."""

    class View:
        def features(self, name):
            return [f for f in store.features(name) if f["id"] in ids]

        def spec(self, name):
            return store.spec(name)

    return View()


def test_shapefile_holds_points_and_multipoints_together(store, tmp_path):
    with zipfile.ZipFile(io.BytesIO(export_layer(store, "plantings", "shp"))) as archive:
        archive.extractall(tmp_path)
    points = pyogrio.read_dataframe(tmp_path / "plantings_point.shp")
    assert sorted(points[shapefile_names(store.spec("plantings"))["species"]]) == ["山杏", "油松"]
    assert {g.geom_type for g in points.geometry} == {"MultiPoint"}
    assert sorted(len(g.geoms) for g in points.geometry) == [1, 2]


def test_shapefile_of_a_layer_without_geometry_is_a_dbf(store, tmp_path):
    with zipfile.ZipFile(io.BytesIO(export_layer(store, "ledger", "shp"))) as archive:
        archive.extractall(tmp_path)
    frame = pyogrio.read_dataframe(tmp_path / "ledger.dbf")
    assert list(frame[shapefile_names(store.spec("ledger"))["title"]]) == ["新建太阳能路灯 200 盏"]


def test_kml_names_descriptions_and_data(store, tmp_path):
    data = export_layer(store, "villages", "kml")
    path = tmp_path / "villages.kml"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path)
    (fid,) = [f["id"] for f in store.features("villages")]
    record = frame.to_dict("records")[0]
    assert record["Name"] == HOSTILE  # the title field, as text
    assert record["id"] == fid
    assert record["households"] == 320
    # The balloon is HTML: user text in it is escaped, so Google Earth shows it as text.
    assert html.escape(HOSTILE) in record["description"]
    assert "<script>" not in record["description"]
    assert "户数" in record["description"]
    assert same_geometry(record["geometry"], store.features("villages")[0]["geometry"])
    root = ET.fromstring(data)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert root.find(".//k:Placemark/k:name", ns).text == HOSTILE


def test_kml_without_title_field_is_named_by_id_and_keeps_polygon_holes(store, tmp_path):
    path = tmp_path / "gh.kml"
    path.write_bytes(export_layer(store, "greenhouses", "kml"))
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["Name"]) == sorted(f["id"] for f in store.features("greenhouses"))
    polygon = [g for g in frame.geometry if g.geom_type == "Polygon"][0]
    assert len(polygon.interiors) == 1
    check_attributes(
        frame.drop(columns=["Name"]),
        store,
        "greenhouses",
        {c: c for c in columns(store.spec("greenhouses"))},
    )


def test_kml_of_several_layers_has_a_folder_each(store, tmp_path):
    path = tmp_path / "all.kml"
    path.write_bytes(export_layers(store, {"streetlights": None, "pipes": None}, "kml"))
    assert sorted(pyogrio.list_layers(path)[:, 0]) == sorted(["管道", "路灯"])
    lights = pyogrio.read_dataframe(path, layer="路灯")
    assert sorted(lights["id"]) == sorted(f["id"] for f in store.features("streetlights"))


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_point_layer_has_lon_lat_and_equal_values(store, tmp_path):
    data = export_layer(store, "streetlights", "csv")
    rows = read_csv(data)
    expected = by_id(store.features("streetlights"))
    assert len(rows) == len(expected)
    for row in rows:
        feature = expected[row["id"]]
        assert [float(row["lon"]), float(row["lat"])] == feature["geometry"]["coordinates"]
        for name in columns(store.spec("streetlights"))[1:]:
            want = as_text(feature["properties"].get(name))
            if want.startswith("="):
                want = "'" + want  # Excel would run it as a formula
            assert row[name] == want, name
    path = tmp_path / "lights.csv"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path, X_POSSIBLE_NAMES="lon", Y_POSSIBLE_NAMES="lat")
    assert sorted(frame["id"]) == sorted(expected)
    assert "人民路" in set(frame["road"])


def test_csv_other_geometries_are_wkt(store):
    rows = read_csv(export_layer(store, "pipes", "csv"))
    (feature,) = store.features("pipes")
    assert "lon" not in rows[0]
    assert same_geometry(shapely.from_wkt(rows[0]["wkt"]), feature["geometry"])
    assert rows[0]["material"] == "PE管"
    assert rows[0]["length_m"] == as_text(feature["properties"]["length_m"])


def test_csv_formula_text_is_defused_but_negative_numbers_are_not():
    from layers.exports import LayerExport, write_csv
    from layers.specs import SpecRegistry

    spec = SpecRegistry.load()["streetlights"]
    feature = {
        "id": "SL-1",
        "geometry": {"type": "Point", "coordinates": [112.8, 39.5]},
        "properties": {"road": "=1+1", "pole_height_m": -5, "lamp_power_w": -1.5},
    }
    (row,) = read_csv(write_csv([LayerExport(spec, [feature])], "zh"))
    assert row["road"] == "'=1+1"
    assert (row["pole_height_m"], row["lamp_power_w"]) == ("-5", "-1.5")


def test_xlsx_sheet_per_layer_with_chinese_headers_and_typed_cells(store, tmp_path):
    data = export_layers(store, {"streetlights": None, "ledger": None, "pipes": None}, "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["路灯", "台账事项", "管道"]
    sheet = book[book.sheetnames[0]]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["编号", "供电方式", "灯杆高度 (m)", "灯具功率 (W)"]
    assert header[-2:] == ["经度", "纬度"]
    rows = {
        r[0]: dict(zip(header, r, strict=True))
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    expected = by_id(store.features("streetlights"))
    assert set(rows) == set(expected)
    for fid, feature in expected.items():
        props, row = feature["properties"], rows[fid]
        assert row["供电方式"] == {"solar": "太阳能", "grid": "市电"}[props["power_source"]]
        assert row["灯杆高度 (m)"] == props.get("pole_height_m")
        assert row["所在道路"] == props.get("road")
        assert [row["经度"], row["纬度"]] == feature["geometry"]["coordinates"]
        day = props.get("installed_date")
        assert row["安装日期"] == (dt.datetime.fromisoformat(day) if day else None)
        assert row["版本"] == 1
    # Text that looks like a formula stays text (no formula cell).
    cells = [c for r in sheet.iter_rows() for c in r if c.value == FORMULA]
    assert len(cells) == 1 and cells[0].data_type == "s"
    ledger = book["台账事项"]
    assert [c.value for c in ledger[1]][:3] == ["编号", "事项", "类别（图层）"]
    assert "经度" not in [c.value for c in ledger[1]]
    assert ledger.cell(row=2, column=2).value == "新建太阳能路灯 200 盏"
    pipes = book["管道"]
    assert [c.value for c in pipes[1]][-1] == "几何（WKT）"
    assert shapely.from_wkt(pipes.cell(row=2, column=pipes.max_column).value).geom_type == (
        "LineString"
    )


def test_xlsx_in_english(store):
    book = openpyxl.load_workbook(
        io.BytesIO(export_layer(store, "streetlights", "xlsx", lang="en"))
    )
    assert book.sheetnames == ["Streetlights"]
    assert [c.value for c in book.active[1]][:2] == ["ID", "Power source"]


def test_empty_layer_exports_in_every_format(store, tmp_path):
    for key, export_format in FORMATS.items():
        data = export_layer(store, "wells", key)
        assert data, key
        if key in ("gpkg", "kml"):
            path = tmp_path / f"wells{export_format.suffix}"
            path.write_bytes(data)
            assert len(pyogrio.read_dataframe(path)) == 0


def test_single_layer_formats_refuse_several_layers(store):
    for key in ("geojson", "csv"):
        with pytest.raises(ValueError):
            export_layers(store, {"streetlights": None, "pipes": None}, key)


HOSTILE_CELLS = [
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "\uff1d1+1",  # full-width =
    "a\u001b[31mred\u0007",  # control characters: xlsx cannot hold them
]


def test_hostile_text_is_inert_in_csv_and_xlsx_and_never_breaks_the_workbook(store):
    for i, text in enumerate(HOSTILE_CELLS):
        store.create(
            "streetlights",
            point(112.8 + i / 1000, 39.5),
            {"power_source": "solar", "status": "working", "road": text},
            user="t",
        )
    by_road = {f["properties"].get("road"): f for f in store.features("streetlights")}
    chosen = [by_road[text] for text in HOSTILE_CELLS]
    ids = [f["id"] for f in chosen]
    rows = {r["id"]: r for r in read_csv(export_layer(store, "streetlights", "csv", chosen))}
    for fid, text in zip(ids, HOSTILE_CELLS, strict=True):
        assert rows[fid]["road"] == (text if text.startswith("a") else "'" + text)
    data = export_layer(store, "streetlights", "xlsx", chosen)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    road = header.index("所在道路")
    cells = {r[0].value: r[road] for r in sheet.iter_rows(min_row=2)}
    for fid, text in zip(ids, HOSTILE_CELLS, strict=True):
        assert cells[fid].data_type == "s"
    assert cells[ids[0]].value == HOSTILE_CELLS[0]
    assert cells[ids[-1]].value == "a[31mred"
