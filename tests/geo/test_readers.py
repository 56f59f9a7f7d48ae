"""Tests of geo.readers: every format, real-world corpora, encodings, wrong names, fuzzing."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import orjson
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.messages import MESSAGES
from geo.problems import InputError, Problem
from geo.readers import FORMATS, ReadResult, parse_coordinate, read_upload, sniff_kind

DATA = Path(__file__).resolve().parents[1] / "data"
GPX_FILES = sorted((DATA / "gpx").glob("*.gpx"))
GOOD_GEOJSON = sorted((DATA / "geojson-hint" / "good").glob("*.geojson"))
BAD_GEOJSON = sorted((DATA / "geojson-hint" / "bad").glob("*.geojson"))
IMPORT = DATA / "import"


def assert_clean_problems(problems: list[Problem]) -> None:
    """Every problem has texts in both languages with all placeholders filled."""
    for p in problems:
        assert p.code in MESSAGES, p.code
        assert p.code != "read_failed", p
        for lang in ("zh", "en"):
            text = p.message(lang)
            assert text
            # What the file said (a header "0{_}") may look like a placeholder: take it out.
            for said in (p.value, p.field, *p.params.values()):
                if isinstance(said, str) and said:
                    text = text.replace(said, "")
            assert not re.search(r"\{[a-z_]+\}", text), (p, text)


def read(path: Path, name: str | None = None, **kwargs: object) -> ReadResult:
    result = read_upload(path.read_bytes(), name or path.name, **kwargs)  # type: ignore[arg-type]
    assert_clean_problems(result.problems)
    assert len(result.rows) == len(result.gdf)
    assert result.format in FORMATS
    assert not result.gdf.geometry.has_z.any()
    return result


def refused(data: bytes, filename: str, **kwargs: object) -> list[Problem]:
    with pytest.raises(InputError) as info:
        read_upload(data, filename, **kwargs)  # type: ignore[arg-type]
    assert info.value.problems
    assert_clean_problems(info.value.problems)
    return info.value.problems


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


# --- GPX ---------------------------------------------------------------------------------


def test_corpus_is_complete() -> None:
    assert len(GPX_FILES) == 28
    assert (DATA / "gpx" / "LICENSE.txt").exists()
    assert len(GOOD_GEOJSON) == 18 and len(BAD_GEOJSON) == 44


@pytest.mark.parametrize("path", GPX_FILES, ids=lambda p: p.name)
def test_every_gpx_file_parses(path: Path) -> None:
    result = read(path)
    assert result.format == "gpx"
    assert result.crs_source == "format" and result.gdf.crs.to_epsg() == 4326
    assert set(result.gdf.columns) >= {"gpx_type", "name", "ele", "geometry"}
    text = path.read_bytes().decode("utf-8-sig")
    n_items = len(re.findall(r"<(?:wpt|rte|trk)[\s>]", text))
    skipped = [p for p in result.problems if p.code == "empty_line"]
    assert len(result.gdf) + len(skipped) == n_items


@pytest.mark.parametrize(
    ("name", "waypoints", "routes", "tracks"),
    [
        # counted by hand: cerknicko has 8 <trk>, the first one without any <trkpt>
        ("cerknicko-jezero.gpx", 7, 0, 7),
        ("korita-zbevnica.gpx", 2, 0, 3),
        ("gpx1.0_with_all_fields.gpx", 2, 2, 1),
        ("gpx1.1_with_all_fields.gpx", 2, 2, 1),
        ("route.gpx", 0, 1, 0),
        ("unicode.gpx", 6, 0, 0),
        ("unicode2.gpx", 0, 0, 0),
        ("default_schema_locations.gpx", 0, 0, 0),
    ],
)
def test_gpx_counts(name: str, waypoints: int, routes: int, tracks: int) -> None:
    kinds = list(read(DATA / "gpx" / name).gdf["gpx_type"])
    assert (kinds.count("waypoint"), kinds.count("route"), kinds.count("track")) == (
        waypoints,
        routes,
        tracks,
    )


def test_gpx_track_points_and_times() -> None:
    result = read(DATA / "gpx" / "Mojstrovka.gpx")
    line = result.gdf.geometry.iloc[0]
    assert line.geom_type == "LineString"
    assert len(line.coords) == 184  # grep -c "<trkpt" Mojstrovka.gpx
    korita = read(DATA / "gpx" / "korita-zbevnica.gpx").gdf
    track = korita[korita["gpx_type"] == "track"].iloc[1]  # the first one has no <time>
    assert korita[korita["gpx_type"] == "track"]["start_time"].isna().tolist() == [
        True,
        False,
        False,
    ]
    assert track["start_time"] < track["end_time"]
    route = read(DATA / "gpx" / "route.gpx").gdf.geometry.iloc[0]
    assert route.geom_type == "LineString" and len(route.coords) == 55


def test_gpx_track_with_an_empty_segment_keeps_the_other() -> None:
    line = read(DATA / "gpx" / "track-with-empty-segment.gpx").gdf.geometry.iloc[0]
    assert line.geom_type == "LineString" and len(line.coords) == 9


def test_gpx_waypoint_fields() -> None:
    gdf = read(DATA / "gpx" / "gpx1.1_with_all_fields.gpx").gdf
    wpt = gdf.iloc[0]
    assert (wpt.geometry.x, wpt.geometry.y) == (45.6, 12.3)  # lon, lat
    assert wpt["name"] == "example name" and wpt["desc"] == "example desc"
    assert wpt["ele"] == 75.1 and wpt["time"] == "2013-01-02T02:03:00Z"


def test_gpx_unicode_and_bom_without_encoding() -> None:
    assert read(DATA / "gpx" / "unicode.gpx").gdf["name"].iloc[0] == "šđčćž"
    assert len(read(DATA / "gpx" / "unicode_with_bom_noencoding.gpx").gdf) == 1


def test_gpx_several_segments_become_a_multilinestring() -> None:
    gpx = b"""<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>t</name>
    <trkseg><trkpt lat="38.1" lon="112.1"/><trkpt lat="38.2" lon="112.2"/></trkseg>
    <trkseg><trkpt lat="38.3" lon="112.3"/><trkpt lat="38.4" lon="112.4"/></trkseg></trk></gpx>"""
    geom = read_upload(gpx, "t.gpx").gdf.geometry.iloc[0]
    assert geom.geom_type == "MultiLineString" and len(geom.geoms) == 2


def test_gpx_bad_waypoint_is_reported_with_row_and_field() -> None:
    gpx = b"""<gpx version="1.1"><wpt lat="38.1" lon="112.1"/><wpt lat="abc" lon="112.2"/>
    <wpt lat="38.3" lon="112.3"/></gpx>"""
    result = read_upload(gpx, "w.gpx")
    assert result.rows == [1, 3]
    (problem,) = result.problems
    assert (problem.code, problem.row, problem.field, problem.value) == (
        "gpx_bad_coordinate",
        2,
        "lat",
        "abc",
    )
    assert "2" in problem.message("en") and "abc" in problem.message("zh")


# --- GeoJSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD_GEOJSON, ids=lambda p: p.name)
def test_every_good_geojson_reads(path: Path) -> None:
    result = read(path)
    assert result.format == "geojson" and len(result.gdf) >= 1
    assert result.gdf.crs.to_epsg() == 4326 and result.crs_source == "format"
    assert not [p for p in result.problems if p.severity == "error"]


@pytest.mark.parametrize("path", BAD_GEOJSON, ids=lambda p: p.name)
def test_every_bad_geojson_reads_or_is_refused_with_a_message(path: Path) -> None:
    try:
        result = read(path)
    except InputError as exc:
        assert_clean_problems(exc.problems)
        assert all(len(p.message("en")) > 20 for p in exc.problems)
    else:
        assert len(result.gdf) >= 1


@pytest.mark.parametrize(
    ("name", "code", "row"),
    [
        ("badfeature.geojson", "geojson_bad_feature", 1),
        ("different-first-last.geojson", "geojson_ring_not_closed", 1),
        ("short-line.geojson", "geojson_too_few_points", 1),
        ("point-string.geojson", "geojson_bad_position", 1),
        ("bad-json.geojson", "json_invalid", None),
        ("rootstring.geojson", "geojson_not_object", None),
        ("featurecollection-type-case.geojson", "geojson_bad_type", None),
    ],
)
def test_bad_geojson_problems_name_the_feature(name: str, code: str, row: int | None) -> None:
    problems = refused((DATA / "geojson-hint" / "bad" / name).read_bytes(), name)
    assert problems[0].code == code and problems[0].row == row


def test_bad_feature_among_good_ones_is_skipped_with_its_index() -> None:
    result = read(DATA / "geojson-hint" / "bad" / "stringcoord.geojson")
    assert result.rows == [2]
    assert codes(result.problems) == ["geojson_bad_position"]
    assert result.problems[0].row == 1 and result.problems[0].field == "coordinates"


def test_geojson_properties_ids_and_elevation() -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "well-7",
                "geometry": {"type": "Point", "coordinates": [112.7, 38.4, 1050.0]},
                "properties": {"name": "井", "tags": {"a": 1}, "geometry": "x"},
            },
            {"type": "Feature", "id": 8, "geometry": None, "properties": None},
        ],
    }
    result = read_upload(orjson.dumps(doc), "w.geojson")
    gdf = result.gdf
    assert list(gdf["source_id"]) == ["well-7", 8]
    assert gdf["name"].iloc[0] == "井" and gdf["tags"].iloc[0] == '{"a":1}'
    assert gdf["geometry_attr"].iloc[0] == "x"  # a property may not shadow the geometry
    assert gdf["ele"].iloc[0] == 1050.0 and not gdf.geometry.iloc[0].has_z
    assert gdf.geometry.iloc[1] is None
    assert result.columns == ["name", "tags", "geometry"]


@pytest.mark.parametrize(
    ("crs", "epsg"),
    [
        ({"type": "name", "properties": {"name": "EPSG:4546"}}, 4546),
        ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}, 4490),
        ({"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, 4326),
        ({"type": "EPSG", "properties": {"code": 32649}}, 32649),
    ],
)
def test_geojson_2008_crs_member_is_honoured(crs: dict, epsg: int) -> None:
    doc = {"type": "FeatureCollection", "crs": crs, "features": []}
    doc["features"] = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Point", "coordinates": [500000, 4250000]},
        }
    ]
    result = read_upload(orjson.dumps(doc), "gk.geojson")
    assert result.gdf.crs.to_epsg() == epsg and result.crs_source == "file"


def test_geojson_unknown_crs_member_leaves_crs_unset_with_a_warning() -> None:
    doc = b'{"type":"Point","coordinates":[1,2],"crs":{"type":"link","properties":{}}}'
    result = read_upload(doc, "x.geojson")
    assert result.gdf.crs is None and result.crs_source == "none"
    assert codes(result.problems) == ["geojson_crs_unknown"]


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_geojson_nan_and_infinity_are_refused(token: bytes) -> None:
    doc = b'{"type": "Point", "coordinates": [' + token + b", 38.4]}"
    (problem,) = refused(doc, "nan.geojson")
    assert problem.code == "json_nan" and problem.params["line"] == 1


def test_geojson_utf16_with_bom_reads() -> None:
    doc = '{"type": "Point", "coordinates": [112.7, 38.4]}'.encode("utf-16")
    assert read_upload(doc, "p.geojson").gdf.geometry.iloc[0].x == 112.7


# --- CSV ---------------------------------------------------------------------------------


def test_csv_chinese_headers_utf8() -> None:
    result = read(IMPORT / "streetlights_utf8.csv")
    assert result.format == "csv" and result.encoding == "utf-8"
    assert result.gdf.crs is None and result.crs_source == "none"
    assert result.columns == ["名称", "经度", "纬度", "类型", "备注"]
    assert list(result.gdf["名称"]) == ["路灯01", "路灯02", "路灯03"]
    assert result.gdf["备注"].iloc[2] == "村口, 桥头"
    assert result.gdf.geometry.iloc[0].equals(shapely.Point(112.703512, 38.41523))


def test_csv_bom_does_not_stick_to_the_first_header() -> None:
    result = read(IMPORT / "wells_utf8_bom.csv")
    assert result.encoding == "utf-8-sig"
    assert result.columns[0] == "name" and list(result.gdf["name"]) == ["Well A", "Well B"]


def test_csv_gbk_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "路灯.csv"
    path.write_text(
        "名称,经度,纬度\n东关村路灯,112.70,38.41\n西街水井,112.71,38.42\n", encoding="gbk"
    )
    result = read(path)
    assert result.encoding == "gb18030"
    assert list(result.gdf["名称"]) == ["东关村路灯", "西街水井"]
    forced = read(path, encoding="gbk")
    assert forced.encoding == "gbk" and forced.gdf["名称"].iloc[0] == "东关村路灯"


def test_csv_wrong_forced_encoding_is_a_clear_error(tmp_path: Path) -> None:
    data = "名称,经度,纬度\n路灯,112.70,38.41\n".encode("gbk")
    (problem,) = refused(data, "x.csv", encoding="utf-8")
    assert problem.code == "csv_encoding" and problem.value == "utf-8"


def test_csv_utf16_tab_text_from_excel() -> None:
    data = "name\tlon\tlat\n泵站\t112.7\t38.4\n".encode("utf-16")
    result = read_upload(data, "unicode.txt")
    assert result.encoding == "utf-16" and result.gdf["name"].iloc[0] == "泵站"


def test_csv_semicolon_with_decimal_comma_and_xy_headers() -> None:
    result = read(IMPORT / "semicolon_decimal_comma.csv")
    assert [(g.x, g.y) for g in result.gdf.geometry] == [(112.7035, 38.4152), (112.704, 38.4156)]
    assert "X" not in result.gdf.columns and result.gdf["note"].iloc[0] == "decimal comma"


def test_csv_tab_separated_txt() -> None:
    result = read(IMPORT / "tab_separated.txt")
    assert result.format == "csv" and result.gdf.geometry.iloc[1].equals(
        shapely.Point(112.71, 38.42)
    )


def test_csv_wkt_column() -> None:
    gdf = read(IMPORT / "pipes_wkt.csv").gdf
    assert list(gdf.geom_type) == ["LineString", "Point", "Polygon"]
    assert len(gdf.geometry.iloc[0].coords) == 3


def test_csv_lone_wkt_column_with_unquoted_commas() -> None:
    data = b"WKT\nLINESTRING (1 2, 3 4)\n"
    assert (
        read_upload(data, "l.csv").gdf.geometry.iloc[0].equals(shapely.LineString([(1, 2), (3, 4)]))
    )


def test_csv_ewkt_srid_sets_the_crs() -> None:
    data = b'geometry,name\n"SRID=4546;POINT Z (500000 4250000 12)",a\n'
    result = read_upload(data, "gk.csv")
    assert result.gdf.crs.to_epsg() == 4546 and result.crs_source == "file"
    assert result.gdf["ele"].iloc[0] == 12.0 and not result.gdf.geometry.has_z.any()


def test_csv_dms_and_full_width_values() -> None:
    gdf = read(IMPORT / "dms_fullwidth.csv").gdf
    for geom in gdf.geometry:
        assert geom.x == pytest.approx(112.7035, abs=1e-4)
        assert geom.y == pytest.approx(38.41519, abs=1e-4)


def test_csv_bad_rows_are_reported_with_row_field_value() -> None:
    result = read(IMPORT / "bad_rows.csv")
    assert result.rows == [1, 4] and list(result.gdf["name"]) == ["ok 1", "ok 2"]
    bad, missing = result.problems
    assert (bad.code, bad.row, bad.field, bad.value) == ("csv_bad_coordinate", 2, "lng", "112.7O")
    assert (missing.code, missing.row, missing.field) == ("csv_missing_coordinate", 3, "lat")
    assert "第 2 行" in bad.message("zh") and "112.7O" in bad.message("zh")
    assert "Row 2" in bad.message("en") and "lng" in bad.message("en")


def test_csv_every_row_bad_is_refused() -> None:
    problems = refused(b"lon,lat\nx,y\n,\n1,z\n", "bad.csv")
    assert [(p.row, p.field) for p in problems] == [(1, "lon"), (1, "lat"), (3, "lat")]


def test_csv_rows_count_blank_lines_like_a_spreadsheet() -> None:
    result = read_upload(b"lon,lat\n1,2\n\n3,4\n", "b.csv")
    assert result.rows == [1, 3]


def test_csv_without_coordinate_columns_names_the_headers() -> None:
    (problem,) = refused("名称,地址\n路灯,东街\n".encode(), "x.csv")
    assert problem.code == "csv_no_geometry_columns" and "名称 | 地址" in problem.message("zh")


def test_csv_header_only_reads_empty_with_a_warning() -> None:
    result = read_upload(b"lon,lat,name\n", "h.csv")
    assert len(result.gdf) == 0 and codes(result.problems) == ["no_features"]


def test_csv_extra_cells_are_a_warning() -> None:
    result = read_upload(b"lon,lat\n1,2,surprise\n", "e.csv")
    assert len(result.gdf) == 1
    assert result.problems[0].code == "csv_extra_cells" and result.problems[0].severity == "warning"


def test_csv_deeply_nested_wkt_is_refused_not_crashing() -> None:
    wkt = "GEOMETRYCOLLECTION (" * 5000 + "POINT (1 2)" + ")" * 5000
    problems = refused(f'wkt\n"{wkt}"\n'.encode(), "deep.csv")
    assert problems[0].code == "csv_bad_wkt" and problems[0].row == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("112.5", 112.5),
        ("-0.5", -0.5),
        (" 38.25 ", 38.25),
        ("１１２．５", 112.5),
        ("112,5", 112.5),
        ("4,250,000.5", 4250000.5),
        ("112°30'", 112.5),
        ("112°48'36\"", 112.81),
        ("112°48′36″E", 112.81),
        ("36°30'S", -36.5),
        ("W 0°30'", -0.5),
        ("北纬36度30分", 36.5),
        ("东经112度30分36秒", 112.51),
        ("1.5e2", 150.0),
    ],
)
def test_parse_coordinate(text: str, value: float) -> None:
    assert parse_coordinate(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text", ["", "abc", "nan", "inf", "-Infinity", "112°61'", "1.2.3", "N36°S", "0x10", "1e999"]
)
def test_parse_coordinate_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_coordinate(text)


# --- KML / KMZ ---------------------------------------------------------------------------


def test_google_earth_kml() -> None:
    result = read(IMPORT / "google_earth.kml")
    gdf = result.gdf
    assert result.format == "kml" and gdf.crs.to_epsg() == 4326 and result.crs_source == "format"
    assert result.rows == [1, 2, 3, 4, 5]
    well, pipe, greenhouse, orchard, pump = (gdf.iloc[i] for i in range(5))
    assert well["folder"] == "Water/Wells" and pipe["folder"] == "Water"
    assert well["ele"] == 1052.5 and well["time"] == "2024-05-01T08:30:00Z"
    assert well["depth_m"] == "120" and well["owner"] == "Village committee"  # SchemaData
    assert pipe["diameter_mm"] == "200" and pipe["material"] == "PE"  # Data/value
    assert well["description"] == "<b>Deep</b> well, checked 2024"
    assert pipe.geometry.geom_type == "LineString" and len(pipe.geometry.coords) == 3
    assert greenhouse.geometry.geom_type == "Polygon"
    assert len(greenhouse.geometry.interiors) == 1
    assert orchard.geometry.geom_type == "MultiPolygon" and len(orchard.geometry.geoms) == 2
    assert pump.geometry.geom_type == "GeometryCollection"
    assert [g.geom_type for g in pump.geometry.geoms] == ["Point", "Polygon"]


def test_ovital_kml_with_chinese_names_and_folders() -> None:
    result = read(IMPORT / "ovital.kml")
    gdf = result.gdf
    assert list(gdf["name"]) == ["路灯01", "路灯02", "3号机井", "主干管道", "蔬菜大棚1"]
    assert list(gdf["folder"]) == ["东关村/路灯", "东关村/路灯", "东关村/水井", "东关村", "东关村"]
    assert gdf["ele"].isna().tolist() == [True, True, False, True, True]  # altitude 0 = none
    assert list(gdf.geom_type) == ["Point", "Point", "Point", "LineString", "Polygon"]
    assert codes(result.problems) == ["kml_ring_closed"] and result.problems[0].row == 5
    assert gdf.geometry.iloc[4].is_valid


def test_ovital_kmz_reads_doc_kml() -> None:
    kmz = read(IMPORT / "ovital.kmz")
    kml = read(IMPORT / "ovital.kml")
    assert kmz.format == "kmz"
    assert list(kmz.gdf["name"]) == list(kml.gdf["name"])
    assert kmz.gdf.geometry.equals(kml.gdf.geometry)


def test_kmz_without_doc_kml_takes_the_first_kml(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("images/a.png", b"\x89PNG")
        z.writestr("layers/lights.kml", (IMPORT / "ovital.kml").read_bytes())
    assert len(read_upload(buf.getvalue(), "lights.kmz").gdf) == 5


def test_2bulu_track_kml_with_gx_track() -> None:
    result = read(IMPORT / "2bulu_track.kml")
    gdf = result.gdf
    assert list(gdf["name"]) == ["起点", "巡检轨迹", "两段轨迹", "终点"]
    track = gdf.iloc[1]
    assert track.geometry.geom_type == "LineString" and len(track.geometry.coords) == 4
    assert track.geometry.coords[0] == (112.7001, 38.4002)
    assert (track["start_time"], track["end_time"]) == (
        "2024-05-06T01:00:00Z",
        "2024-05-06T01:05:10Z",
    )
    assert track["里程"] == "0.35" and track["类型"] == "徒步"
    multi = gdf.iloc[2].geometry
    assert multi.geom_type == "MultiLineString" and len(multi.geoms) == 2
    assert gdf["ele"].iloc[0] == 1010.0


def test_empty_point_beside_a_track_keeps_the_track_with_a_warning() -> None:
    # Issue #16: Google Location History writes <Point/> beside gx:Track; it was refused whole.
    result = read(IMPORT / "location_history.kml")
    [line] = result.gdf.geometry.tolist()
    assert line.geom_type == "LineString" and len(line.coords) == 3
    assert result.gdf.iloc[0]["end_time"] == "2026-05-01T08:10:00Z"
    [warning] = [p for p in result.problems if p.code == "kml_empty_point_skipped"]
    assert warning.severity == "warning" and "empty Point" in warning.message("en")


def test_a_placemark_with_only_an_empty_point_is_still_refused() -> None:
    kml = (
        b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>a</name>'
        b"<Point><coordinates></coordinates></Point></Placemark></Document></kml>"
    )
    with pytest.raises(InputError) as caught:
        read_upload(kml, "empty.kml")
    assert [p.code for p in caught.value.problems] == ["kml_bad_geometry"]


def test_kml_declared_gb2312_is_transcoded() -> None:
    kml = (
        '<?xml version="1.0" encoding="GB2312"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Placemark><name>水井</name><Point><coordinates>112.7,38.4</coordinates></Point>"
        "</Placemark></kml>"
    ).encode("gb2312")
    result = read_upload(kml, "gb.kml")
    assert result.gdf["name"].iloc[0] == "水井" and not result.problems


def test_kml_gbk_bytes_under_utf8_label_are_guessed() -> None:
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml><Placemark><name>蔬菜大棚</name>'
        "<Point><coordinates>112.7,38.4</coordinates></Point></Placemark></kml>"
    ).encode("gbk")
    result = read_upload(kml, "mislabelled.kml")
    assert result.gdf["name"].iloc[0] == "蔬菜大棚"
    assert codes(result.problems) == ["xml_encoding_guessed"]


def test_kml_21_namespace_and_network_link_is_never_fetched() -> None:
    kml = b"""<kml xmlns="http://earth.google.com/kml/2.1"><Document>
    <NetworkLink><name>remote</name><Link><href>http://127.0.0.1:1/x.kml</href></Link></NetworkLink>
    <Placemark><name>a</name><Point><coordinates>112.7,38.4,0</coordinates></Point></Placemark>
    </Document></kml>"""
    result = read_upload(kml, "n.kml")
    assert len(result.gdf) == 1 and codes(result.problems) == ["kml_networklink_ignored"]


def test_kml_bad_placemark_is_skipped_with_its_number() -> None:
    kml = b"""<kml><Document>
    <Placemark><name>ok</name><Point><coordinates>112.7,38.4</coordinates></Point></Placemark>
    <Placemark><name>bad</name><LineString><coordinates>112.7,abc 1,2</coordinates></LineString>
    </Placemark>
    <Placemark><name>model</name><Model><Location/></Model></Placemark>
    </Document></kml>"""
    result = read_upload(kml, "b.kml")
    assert result.rows == [1]
    assert [(p.code, p.row) for p in result.problems] == [
        ("kml_bad_geometry", 2),
        ("kml_unsupported_geometry", 3),
    ]
    assert "112.7,abc" in result.problems[0].message("zh")


def test_kml_deeply_nested_folders_do_not_recurse() -> None:
    depth = 20000
    kml = (
        b"<kml>"
        + b"<Folder><name>f</name>" * depth
        + b"<Placemark><Point><coordinates>1,2</coordinates></Point></Placemark>"
        + b"</Folder>" * depth
        + b"</kml>"
    )
    result = read_upload(kml, "deep.kml")
    # The folder path keeps the outermost 32 names: copying a 20,000-name path at every
    # level was quadratic (tests/reliability/test_hostile.py, 100,000 folders).
    assert result.gdf["folder"].iloc[0] == "/".join(["f"] * 32)


def test_kml_deeply_nested_multigeometry_is_flattened() -> None:
    depth = 20000
    kml = (
        b"<kml><Placemark>"
        + b"<MultiGeometry>" * depth
        + b"<Point><coordinates>1,2</coordinates></Point>"
        + b"<Point><coordinates>3,4</coordinates></Point>"
        + b"</MultiGeometry>" * depth
        + b"</Placemark></kml>"
    )
    geom = read_upload(kml, "deep.kml").gdf.geometry.iloc[0]
    assert geom.geom_type == "MultiPoint" and len(geom.geoms) == 2


def test_unknown_xml_is_refused_by_root_name() -> None:
    (problem,) = refused(b"<html><body>404</body></html>", "lights.kml")
    assert problem.code == "xml_unknown_root" and problem.value == "html"


# --- Shapefile and GeoPackage ------------------------------------------------------------


def _lights(crs: str = "EPSG:4546") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["路灯一号", "水井"], "n": [1, 2]},
        geometry=[shapely.Point(37500000, 4250000), shapely.Point(37500100, 4250100)],
        crs=crs,
    )


def _zip_dir(folder: Path, prefix: str = "", skip: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in skip:
                z.write(path, prefix + path.name)
    return buf.getvalue()


def test_zipped_shapefile_with_cpg_and_prj(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="GBK")
    assert (tmp_path / "lights.cpg").read_text() == "GBK"
    result = read_upload(_zip_dir(tmp_path, "export/"), "lights.zip")
    assert result.format == "shapefile" and result.encoding == "GBK"
    assert result.gdf.crs.to_epsg() == 4546 and result.crs_source == "file"
    assert list(result.gdf["名称"]) == ["路灯一号", "水井"] and result.rows == [1, 2]
    assert result.gdf.geometry.iloc[0].equals(shapely.Point(37500000, 4250000))


def test_zipped_shapefile_gbk_dbf_without_cpg(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="GBK")
    result = read_upload(_zip_dir(tmp_path, skip=(".cpg",)), "lights.zip")
    assert result.encoding == "GBK"
    assert list(result.gdf["名称"]) == ["路灯一号", "水井"]
    assert result.columns == ["名称", "n"]


def test_zipped_shapefile_utf8_dbf_without_cpg(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="UTF-8")
    result = read_upload(_zip_dir(tmp_path, skip=(".cpg",)), "lights.zip")
    assert result.encoding == "UTF-8" and result.gdf["名称"].iloc[1] == "水井"


def test_zipped_shapefile_with_lying_cpg_falls_back(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="GBK")
    (tmp_path / "lights.cpg").write_text("UTF-8")
    result = read_upload(_zip_dir(tmp_path), "lights.zip")
    assert result.gdf["名称"].iloc[0] == "路灯一号" and result.encoding == "GBK"


def test_zipped_shapefile_without_prj_has_no_crs(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="UTF-8")
    result = read_upload(_zip_dir(tmp_path, skip=(".prj",)), "lights.zip")
    assert result.gdf.crs is None and result.crs_source == "none"


def test_zip_with_two_shapefiles_reads_the_named_one(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="UTF-8")
    pyogrio.write_dataframe(_lights().iloc[[1]], tmp_path / "wells.shp", encoding="UTF-8")
    data = _zip_dir(tmp_path)
    first = read_upload(data, "two.zip")
    assert len(first.gdf) == 2 and codes(first.problems) == ["several_layers"]
    wells = read_upload(data, "two.zip", layer="wells")
    assert list(wells.gdf["名称"]) == ["水井"] and not wells.problems


def test_zip_with_one_shapefile_is_read_without_a_layer_warning(tmp_path: Path) -> None:
    # Issue #16: uploading lights.zip to streetlights always warned "no layer streetlights".
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp", encoding="UTF-8")
    result = read_upload(_zip_dir(tmp_path), "lights.zip", layer="streetlights")
    assert len(result.gdf) == 2 and codes(result.problems) == []


def test_zipped_shapefile_missing_shx_is_named(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp")
    (problem,) = refused(_zip_dir(tmp_path, skip=(".shx",)), "lights.zip")
    assert problem.code == "shapefile_missing_part" and problem.value == ".shx"


def test_shapefile_point_z_keeps_elevation(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[shapely.Point(112.7, 38.4, 1050)], crs="EPSG:4326"
    )
    pyogrio.write_dataframe(gdf, tmp_path / "z.shp")
    result = read_upload(_zip_dir(tmp_path), "z.zip")
    assert result.gdf["ele"].iloc[0] == 1050 and not result.gdf.geometry.has_z.any()


def test_bare_shp_asks_for_a_zip(tmp_path: Path) -> None:
    pyogrio.write_dataframe(_lights(), tmp_path / "lights.shp")
    (problem,) = refused((tmp_path / "lights.shp").read_bytes(), "lights.shp")
    assert problem.code == "shapefile_needs_zip"
    assert refused((tmp_path / "lights.dbf").read_bytes(), "lights.dbf")[0].code == (
        "shapefile_needs_zip"
    )


def test_geopackage_first_layer_and_named_layer(tmp_path: Path) -> None:
    path = tmp_path / "works.gpkg"
    pyogrio.write_dataframe(_lights(), path, layer="lights")
    wells = _lights().iloc[[1]]
    pyogrio.write_dataframe(wells, path, layer="wells", append=True)
    result = read(path)
    assert result.format == "gpkg" and result.gdf.crs.to_epsg() == 4546
    assert result.crs_source == "file" and result.rows == [1, 2]
    assert list(result.gdf["名称"]) == ["路灯一号", "水井"]
    assert codes(result.problems) == ["several_layers"]
    named = read(path, layer="wells")
    assert list(named.gdf["名称"]) == ["水井"]
    other = read(path, layer="roads")  # a preference: the first layer, with a warning
    assert list(other.gdf["名称"]) == ["路灯一号", "水井"]
    assert codes(other.problems) == ["layer_not_found"] and "lights" in other.problems[0].message()


@pytest.mark.gdal
@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs ogr2ogr")
def test_geopackage_made_by_ogr2ogr(tmp_path: Path) -> None:
    src = DATA / "geojson-hint" / "good" / "good-featurecollection.geojson"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(tmp_path / "o.gpkg"), str(src)], check=True)
    result = read(tmp_path / "o.gpkg", "wrongly_named.csv")
    assert result.format == "gpkg" and len(result.gdf) == 3
    assert list(result.gdf.geom_type) == ["Point", "LineString", "Polygon"]


def test_corrupt_geopackage_is_a_clear_error() -> None:
    problems = refused(b"SQLite format 3\x00" + b"\x00" * 200, "broken.gpkg")
    assert problems[0].code == "gis_read_failed"


# --- detection by content ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "fmt"),
    [
        (DATA / "gpx" / "route.gpx", "route.csv", "gpx"),
        (IMPORT / "ovital.kml", "points.gpx", "kml"),
        (IMPORT / "ovital.kmz", "points.zip", "kmz"),
        (IMPORT / "ovital.kmz", "points.kml", "kmz"),
        (IMPORT / "streetlights_utf8.csv", "lights.kml", "csv"),
        (IMPORT / "streetlights_utf8.csv", "lights", "csv"),
        (DATA / "geojson-hint" / "good" / "good-point.geojson", "p.txt", "geojson"),
    ],
)
def test_wrong_extension_still_works(source: Path, name: str, fmt: str) -> None:
    assert read(source, name).format == fmt


def test_zip_with_one_geojson_inside() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data/p.geojson", (DATA / "geojson-hint/good/good-point.geojson").read_bytes())
    assert read_upload(buf.getvalue(), "p.zip").format == "geojson"


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"", "empty.csv", "empty_file"),
        (b" \r\n\t ", "blank.geojson", "empty_file"),
        (b"\xef\xbb\xbf\r\n", "bom.csv", "empty_file"),
        (bytes(range(256)) * 4, "garbage.csv", "unknown_format"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.kml", "unknown_format"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "excel_not_supported"),
        (b"Rar!\x1a\x07\x00" + b"\x00" * 20, "a.rar", "archive_not_supported"),
        (b"null", "n.geojson", "geojson_not_object"),
        (b"just some words", "notes.txt", "csv_no_geometry_columns"),
        (b"<gpx><wpt lat='1' lon='2'>", "cut.gpx", "xml_invalid"),
        (b"GPS track export failed", "track.gpx", "xml_expected"),
    ],
)
def test_unusable_files_are_refused_clearly(data: bytes, name: str, code: str) -> None:
    assert refused(data, name)[0].code == code


def test_xlsx_is_refused_with_advice() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    (problem,) = refused(buf.getvalue(), "lights.xlsx")
    assert problem.code == "excel_not_supported" and "CSV" in problem.message("zh")


def test_too_large_upload() -> None:
    (problem,) = refused(b"lon,lat\n1,2\n" * 100, "big.csv", max_bytes=1000)
    assert problem.code == "too_large"


def test_sniff_kind_prefers_content() -> None:
    assert sniff_kind(b"  \n<kml/>", "x.csv") == "xml"
    assert sniff_kind(b"PK\x03\x04rest", "x.csv") == "zip"
    assert sniff_kind(b"lon,lat", "x.geojson") == "json"  # ambiguous text: the name decides
    assert sniff_kind(b"lon,lat", "x.kml") == "text"  # cannot be XML without "<"
    assert sniff_kind(b"lon,lat", "x.csv") == "text"


# --- fuzzing: any bytes end in a ReadResult or an InputError -----------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAMES = st.sampled_from(
    ["x.csv", "x.gpx", "x.kml", "x.kmz", "x.zip", "x.geojson", "x.json", "x.gpkg", "x", "x.txt"]
)


def _read_or_refuse(data: bytes, name: str) -> None:
    try:
        result = read_upload(data, name)
    except InputError as exc:
        assert exc.problems
        assert_clean_problems(exc.problems)
    else:
        assert isinstance(result.gdf, gpd.GeoDataFrame)
        assert len(result.rows) == len(result.gdf)
        assert_clean_problems(result.problems)


@FUZZ
@given(data=st.binary(max_size=2000), name=NAMES)
def test_random_bytes_never_crash(data: bytes, name: str) -> None:
    _read_or_refuse(data, name)


@FUZZ
@given(text=st.text(max_size=300), name=NAMES)
def test_random_text_never_crashes(text: str, name: str) -> None:
    _read_or_refuse(text.encode("utf-8"), name)


def _seeds() -> list[tuple[bytes, str]]:
    seeds = [
        (IMPORT / "google_earth.kml", "g.kml"),
        (IMPORT / "2bulu_track.kml", "t.kml"),
        (IMPORT / "ovital.kmz", "o.kmz"),
        (IMPORT / "pipes_wkt.csv", "p.csv"),
        (IMPORT / "dms_fullwidth.csv", "d.csv"),
        (DATA / "gpx" / "gpx1.1_with_all_fields.gpx", "a.gpx"),
        (DATA / "geojson-hint" / "good" / "good-featurecollection.geojson", "f.geojson"),
        (DATA / "geojson-hint" / "good" / "multipolygon.geojson", "m.geojson"),
    ]
    return [(p.read_bytes(), n) for p, n in seeds]


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    data, name = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = draw(
                st.sampled_from(
                    [b"<", b">", b"{", b"]", b",", b'"', b"\x00", b"NaN", b"-", b"<!--", b"\xff"]
                )
            )
        elif buf:
            del buf[pos : pos + draw(st.integers(1, 50))]
    return bytes(buf), name


@FUZZ
@given(case=mutated())
def test_mutated_valid_files_never_crash(case: tuple[bytes, str]) -> None:
    _read_or_refuse(*case)


@settings(max_examples=40, deadline=None, database=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_mutated_geopackage_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]]
) -> None:
    path = tmp_path_factory.mktemp("gpkg") / "m.gpkg"
    pyogrio.write_dataframe(_lights(), path, layer="lights")
    buf = bytearray(path.read_bytes())
    for pos, byte in flips:
        buf[pos % len(buf)] = byte
    _read_or_refuse(bytes(buf), "m.gpkg")
