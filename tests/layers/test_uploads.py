"""The upload pipeline: every format, every coordinate system, every rule, all or nothing.

Control points are WGS84 positions inside Shanyin County. Projected test files are written
with pyproj (independent of geo.crs); GCJ-02/BD-09 files with the published formulas coded
again below. A refused upload must leave the data directory byte-identical.
"""

import hashlib
import math
import shutil
import time
from pathlib import Path

import pyproj
import pytest

from geo.readers import read_upload
from layers.errors import BadRequest, NotFound, TooLarge, ValidationFailed
from layers.store import GeoJSONStore
from layers.uploads import Staging, UploadLog, UploadOptions, run_upload, undo_upload

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHANYIN = DATA / "import" / "shanyin"
RULES = DATA / "import" / "rules"
GPX = DATA / "gpx"
CONTROL = [(112.8012, 39.5034), (112.7501, 39.5202), (112.9001, 39.4501), (112.5203, 39.6911)]


# ---------------------------------------------------------------------------- helpers
@pytest.fixture
def store(tmp_path):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    return GeoJSONStore(data)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``. Lock files are empty flock targets that any
    reader creates; they are checked to be empty and left out."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(root))
        if rel.startswith("locks/") and path.suffix == ".lock":
            assert path.stat().st_size == 0
            continue
        hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def metres(a, b):
    """Great-circle distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def upload(store, data, name, layer="streetlights", **options):
    return run_upload(store, data, name, UploadOptions(layer=layer, **options), user="tester")


def coords_of(report):
    return [tuple(f["geometry"]["coordinates"]) for f in report.features]


# ------------------------------------------------- GCJ-02 / BD-09, written again here
_A, _EE = 6378245.0, 0.00669342162296594323


def _t_lat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _t_lon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return r


def wgs_to_gcj(lon, lat):
    d_lat, d_lon = _t_lat(lon - 105.0, lat - 35.0), _t_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sq) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sq * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


def gcj_to_bd(lon, lat):
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def xy_csv(points, header="x,y"):
    lines = [f"{header},power_source"] + [f"{x!r},{y!r},solar" for x, y in points]
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------ coordinate systems
PROJECTED = {
    4526: ("CGCS2000", "zone 38"),
    4547: ("CGCS2000", "CM 114E"),
    4546: ("CGCS2000", "CM 111E"),
    4497: ("CGCS2000", "zone 19"),
    4508: ("CGCS2000", "CM 111E"),
    2362: ("Xian 1980", "zone 38"),
    2383: ("Xian 1980", "CM 114E"),
    2414: ("Beijing 1954", "zone 38"),
    2435: ("Beijing 1954", "CM 114E"),
    32649: ("UTM", "49N"),
    4490: ("China Geodetic Coordinate System 2000", ""),
}


@pytest.mark.parametrize("epsg", sorted(PROJECTED))
def test_projected_and_geographic_crs_against_pyproj_control_points(store, epsg):
    datum, zone = PROJECTED[epsg]
    name = pyproj.CRS.from_epsg(epsg).name
    assert datum in name and zone in name, name  # the code is what we think it is
    forward = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    points = [forward.transform(lon, lat) for lon, lat in CONTROL]
    report = upload(store, xy_csv(points), "survey.csv", crs=f"EPSG:{epsg}", dry_run=True)
    assert report.accepted == len(CONTROL) and report.rejected == 0
    assert report.crs_key == f"EPSG:{epsg}"
    for got, want in zip(coords_of(report), CONTROL, strict=True):
        assert metres(got, want) < 0.05, (got, want)


def test_zone_prefixed_gauss_kruger_is_guessed_but_must_be_confirmed(store):
    forward = pyproj.Transformer.from_crs(4326, 4526, always_xy=True)
    points = [forward.transform(lon, lat) for lon, lat in CONTROL]
    report = upload(store, xy_csv(points), "survey.csv", dry_run=True)
    assert report.crs_key == "EPSG:4526" and report.crs_source == "none"
    assert [p.code for p in report.problems if p.row is None] == ["crs_guessed"]
    assert report.crs_guesses[0].choice.epsg == 4526
    for got, want in zip(coords_of(report), CONTROL, strict=True):
        assert metres(got, want) < 0.05


def test_northing_first_survey_table_is_swapped_when_guessed(store):
    forward = pyproj.Transformer.from_crs(4326, 4526, always_xy=True)
    points = [forward.transform(lon, lat)[::-1] for lon, lat in CONTROL]
    report = upload(store, xy_csv(points, "X,Y"), "survey.csv", dry_run=True)
    assert report.swapped
    assert "crs_swapped" in [p.code for p in report.problems]
    assert all(metres(g, w) < 0.05 for g, w in zip(coords_of(report), CONTROL, strict=True))
    confirmed = upload(
        store, xy_csv(points, "X,Y"), "survey.csv", crs="EPSG:4526", swap_xy=True, dry_run=True
    )
    assert coords_of(confirmed) == coords_of(report)


def test_northing_first_with_the_crs_named_is_swapped_with_a_warning(store):
    # Issue #16: with crs=EPSG:4526 named, X = northing first was refused as "inf, inf".
    forward = pyproj.Transformer.from_crs(4326, 4526, always_xy=True)
    points = [forward.transform(lon, lat)[::-1] for lon, lat in CONTROL]
    report = upload(store, xy_csv(points, "X,Y"), "survey.csv", crs="EPSG:4526", dry_run=True)
    assert report.swapped and report.accepted == len(CONTROL) and report.rejected == 0
    assert "crs_swapped" in [p.code for p in report.problems]
    assert all(metres(g, w) < 0.05 for g, w in zip(coords_of(report), CONTROL, strict=True))
    as_told = upload(
        store, xy_csv(points, "X,Y"), "survey.csv", crs="EPSG:4526", swap_xy=False, dry_run=True
    )
    assert not as_told.swapped


@pytest.mark.parametrize("kind", ["gcj02", "bd09"])
def test_chinese_map_app_offsets_against_an_independent_formula(store, kind):
    shifted = [wgs_to_gcj(lon, lat) for lon, lat in CONTROL]
    if kind == "bd09":
        shifted = [gcj_to_bd(lon, lat) for lon, lat in shifted]
    assert all(metres(s, c) > 100 for s, c in zip(shifted, CONTROL, strict=True))
    report = upload(store, xy_csv(shifted, "lng,lat"), "amap.csv", crs=kind, dry_run=True)
    assert report.crs_key == kind
    for got, want in zip(coords_of(report), CONTROL, strict=True):
        assert metres(got, want) < 0.5, (got, want)


def test_wgs84_and_swapped_lat_lon(store):
    report = upload(store, xy_csv(CONTROL, "lon,lat"), "gps.csv", crs="wgs84", dry_run=True)
    assert coords_of(report) == [pytest.approx(c, abs=1e-9) for c in CONTROL]
    swapped = upload(
        store, xy_csv([(y, x) for x, y in CONTROL], "lon,lat"), "gps.csv", dry_run=True
    )
    assert swapped.swapped and coords_of(swapped) == coords_of(report)


# ------------------------------------------------------------------------- formats
FORMATS = [
    # file, layer, options, expected count, a (lon, lat) that must be among the results
    ("lights_excel_gbk.csv", "streetlights", {}, 3, (112.8012, 39.5034)),
    (
        "lights_ovital.kmz",
        "streetlights",
        {"defaults": {"power_source": "solar"}},
        3,
        (112.8112, 39.5101),
    ),
    ("wells_bom.csv", "wells", {}, 2, (112.7501, 39.5202)),
    ("wells.geojson", "wells", {}, 2, (112.7601, 39.5302)),
    ("pipes_track.gpx", "pipes", {"defaults": {"purpose": "irrigation"}}, 1, (112.7501, 39.5202)),
    ("visits_google_earth.kml", "visits", {}, 1, (112.7001, 39.6002)),
    ("greenhouses_4547_shp.zip", "greenhouses", {"column_map": {"built": "built_date"}}, 2, None),
    ("plantings_4526.gpkg", "plantings", {}, 2, (112.9001, 39.4501)),
]


@pytest.mark.parametrize(("name", "layer", "options", "count", "point"), FORMATS)
def test_every_format_commits_in_one_go(store, name, layer, options, count, point):
    data = (SHANYIN / name).read_bytes()
    before = store.count(layer)
    preview = upload(store, data, name, layer, dry_run=True, **options)
    assert (preview.accepted, preview.rejected) == (count, 0), preview.problems
    committed = upload(store, data, name, layer, **options)
    assert committed.status == "committed" and len(committed.ids) == count
    assert store.count(layer) == before + count
    if point is not None:
        first = committed.features[0]["geometry"]["coordinates"]
        first = first[0] if isinstance(first[0], list) else first
        assert metres(tuple(first), point) < 0.05
    record = UploadLog(store.files).get(committed.upload_id)
    assert record["filename"] == name and record["status"] == "committed"
    assert UploadLog(store.files).original(committed.upload_id) == data
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_gbk_csv_from_excel_keeps_chinese_and_converts_values(store):
    report = upload(store, (SHANYIN / "lights_excel_gbk.csv").read_bytes(), "路灯台账.csv")
    props = [f["properties"] for f in report.features]
    assert [p["road"] for p in props] == ["薛圐圙环岛", "薛圐圙环岛", "G208"]
    assert [p["power_source"] for p in props] == ["solar", "solar", "grid"]
    assert [p["status"] for p in props] == ["working", "working", "faulty"]
    assert [p["installed_date"] for p in props] == ["2021-08-15", "2021-08-15", "2021-08-16"]
    assert UploadLog(store.files).get(report.upload_id)["filename"] == "路灯台账.csv"
    stored = store.files.list(f"uploads/{report.upload_id}")
    assert [p.rsplit("/", 1)[1] for p in stored] == ["meta.json", "original.bin"]


def test_shapefile_crs_comes_from_its_prj_and_polygons_land_in_place(store):
    data = (SHANYIN / "greenhouses_4547_shp.zip").read_bytes()
    report = upload(
        store, data, "大棚.zip", "greenhouses", dry_run=True, column_map={"built": "built_date"}
    )
    assert report.crs_source == "file" and report.crs_key == "EPSG:4547"
    ring = report.features[0]["geometry"]["coordinates"][0]
    centre = (sum(p[0] for p in ring[:4]) / 4, sum(p[1] for p in ring[:4]) / 4)
    assert metres(centre, (112.85, 39.55)) < 0.05
    props = report.features[0]["properties"]
    assert props["crop"] == "蔬菜" and props["built_date"] == "2023-04-01"
    assert props["area_m2"] == pytest.approx(800, rel=0.01)  # 40 m x 20 m, computed


def test_batch_defaults_and_column_map(store):
    data = (SHANYIN / "lights_ovital.kmz").read_bytes()
    report = upload(
        store,
        data,
        "奥维.kmz",
        dry_run=True,
        defaults={"power_source": "太阳能", "installed_date": "2021-08"},
        column_map={"description": "road"},
    )
    props = [f["properties"] for f in report.features]
    assert {p["power_source"] for p in props} == {"solar"}
    assert {p["installed_date"] for p in props} == {"2021-08-01"}
    assert props[0]["road"] == "太阳能路灯" and "road" not in props[1]
    assert report.mapping == {"description": "road"}
    assert set(report.unmapped_columns) == {"name", "folder"}


def test_a_bad_default_refuses_the_whole_batch(store):
    with pytest.raises(ValidationFailed) as info:
        upload(
            store,
            (SHANYIN / "lights_ovital.kmz").read_bytes(),
            "a.kmz",
            defaults={"power_source": "wind"},
        )
    assert info.value.problems[0].code == "not_allowed"


# ------------------------------------------------------------------- outside the area
def _gpx_layer(path):
    kinds = set(read_upload(path.read_bytes(), path.name).gdf.geometry.geom_type)
    if not kinds:
        return None, {}
    if kinds & {"LineString", "MultiLineString"}:
        return "pipes", {"purpose": "irrigation"}
    return "visits", {"kind": "visit", "date": "2024-05-06"}


@pytest.mark.parametrize("path", sorted(GPX.glob("*.gpx")), ids=lambda p: p.name)
def test_real_gpx_from_slovenia_is_named_outside_the_working_area(store, path):
    layer, defaults = _gpx_layer(path)
    before = tree_hashes(store.data_dir)
    with pytest.raises(ValidationFailed) as info:
        upload(store, path.read_bytes(), path.name, layer or "visits", defaults=defaults)
    if layer is None:  # metadata only, no waypoint, route or track
        assert [p.code for p in info.value.problems] == ["upload_empty"]
        assert tree_hashes(store.data_dir) == before
        return
    outside = [p for p in info.value.problems if p.code == "outside_working_area"]
    assert outside, [p.code for p in info.value.problems]
    assert "山阴县" in outside[0].message("zh") and "工作区域" in outside[0].message("zh")
    assert "outside the working area (山阴县" in outside[0].message("en")
    assert tree_hashes(store.data_dir) == before


def test_a_file_entirely_elsewhere_gets_one_clear_file_level_message(store):
    data = (GPX / "route.gpx").read_bytes()
    report = upload(
        store, data, "route.gpx", "pipes", dry_run=True, defaults={"purpose": "irrigation"}
    )
    first = report.problems[0]
    assert first.code == "all_outside_working_area" and first.row is None
    assert "None of the 1 locations" in first.message("en")
    assert "7" in first.message("en")  # thousands of km away


# ---------------------------------------------------------------------------- rules
RULE_FILES = [
    # file, layer, problem code, text the English message must contain
    ("required.csv", "streetlights", "required", "required field 'Power source'"),
    ("not_a_number.csv", "streetlights", "not_a_number", "'Pole height' must be a number"),
    ("below_min.csv", "streetlights", "below_min", "below the minimum 0"),
    ("above_max.csv", "streetlights", "above_max", "above the maximum 40"),
    ("not_allowed.csv", "streetlights", "not_allowed", "'风能' is not one of"),
    ("not_a_date.csv", "streetlights", "not_a_date", "must be a date"),
    ("not_an_integer.csv", "plantings", "not_an_integer", "must be a whole number"),
    ("not_a_boolean.csv", "wells", "not_a_boolean", "must be yes or no"),
    ("bad_pattern.csv", "villages", "bad_pattern", "has the wrong format"),
    ("too_long.csv", "villages", "too_long", "longer than 60 characters"),
    ("ref_missing.csv", "streetlights", "ref_missing", "VL-999999"),
    ("null_island.csv", "streetlights", "null_island", "(0, 0)"),
    ("geometry_type.geojson", "streetlights", "geometry_type_not_allowed", "LineString"),
    ("bad_coordinate.csv", "streetlights", "csv_bad_coordinate", "abc"),
    ("missing_coordinate.csv", "streetlights", "csv_missing_coordinate", "is empty"),
    ("no_coordinates.csv", "streetlights", "csv_no_geometry_columns", ""),
    ("bad_wkt.csv", "streetlights", "csv_bad_wkt", ""),
    ("nan.geojson", "streetlights", "json_nan", "NaN"),
    ("entity_expansion.kml", "streetlights", "xml_dtd_forbidden", ""),
    ("external_entity.gpx", "streetlights", "xml_dtd_forbidden", ""),
    ("zip_slip.kmz", "streetlights", "zip_unsafe_name", ""),
    ("zip_bomb.kmz", "streetlights", "zip_ratio", ""),
    ("empty.csv", "streetlights", "empty_file", ""),
    ("program.exe", "streetlights", "unknown_format", ""),
]


@pytest.mark.parametrize(("name", "layer", "code", "text"), RULE_FILES)
@pytest.mark.parametrize("dry_run", [False, True], ids=["commit", "dry_run"])
def test_each_rule_is_named_and_nothing_is_written(store, name, layer, code, text, dry_run):
    before = tree_hashes(store.data_dir)
    data = (RULES / name).read_bytes()
    try:
        report = upload(store, data, name, layer, dry_run=dry_run)
        problems = report.problems
        assert dry_run and report.rejected == report.total
    except ValidationFailed as exc:
        problems = exc.problems
    found = [p for p in problems if p.code == code]
    assert found, [p.code for p in problems]
    assert text in found[0].message("en")
    assert found[0].message("zh") != found[0].message("en")
    assert tree_hashes(store.data_dir) == before


def test_swapped_axes_are_an_error_when_the_crs_is_given(store):
    before = tree_hashes(store.data_dir)
    with pytest.raises(ValidationFailed) as info:
        upload(store, (RULES / "swapped_axes.csv").read_bytes(), "s.csv", crs="wgs84")
    assert "swapped_axes" in [p.code for p in info.value.problems]
    assert tree_hashes(store.data_dir) == before


def test_unknown_crs_and_bad_option_write_nothing(store):
    before = tree_hashes(store.data_dir)
    data = xy_csv(CONTROL, "lon,lat")
    with pytest.raises(ValidationFailed) as info:
        upload(store, data, "a.csv", crs="EPSG:999999")
    assert info.value.problems[0].code == "crs_unknown"
    with pytest.raises(BadRequest):
        upload(store, data, "a.csv", on_duplicate="replace")
    with pytest.raises(NotFound):
        upload(store, data, "a.csv", layer="no_such_layer")
    with pytest.raises(TooLarge):
        run_upload(
            store, data, "a.csv", UploadOptions(layer="streetlights"), user="t", max_bytes=10
        )
    assert tree_hashes(store.data_dir) == before


# ------------------------------------------------------------ all or nothing, dups
def _mixed_file():
    good = [(112.8012, 39.5034), (112.8021, 39.5041)]
    rows = [f"{x},{y},solar" for x, y in good] + ["112.8030,39.5048,wind"]
    return ("lon,lat,power_source\n" + "\n".join(rows) + "\n").encode()


def test_a_file_with_rejected_rows_writes_nothing_unless_asked(store):
    before_hashes, before = tree_hashes(store.data_dir), store.count("streetlights")
    with pytest.raises(ValidationFailed) as info:
        upload(store, _mixed_file(), "mixed.csv")
    codes = [p.code for p in info.value.problems]
    assert "not_allowed" in codes and "upload_has_rejected_rows" in codes
    assert tree_hashes(store.data_dir) == before_hashes
    report = upload(store, _mixed_file(), "mixed.csv", skip_rejected=True)
    assert (report.accepted, report.rejected) == (2, 1)
    assert store.count("streetlights") == before + 2


def test_duplicates_skip_keep_merge(store):
    data = (SHANYIN / "lights_excel_gbk.csv").read_bytes()
    first = upload(store, data, "a.csv")
    count = store.count("streetlights")
    again = upload(store, data, "a.csv")
    assert (again.skipped, again.accepted, again.status) == (3, 0, "nothing_to_write")
    assert store.count("streetlights") == count
    changed = data.replace("正常".encode("gbk"), "故障".encode("gbk"))
    merged = upload(store, changed, "a.csv", on_duplicate="merge")
    assert merged.merged == 3 and store.count("streetlights") == count
    feature = store.get("streetlights", first.ids[0])
    assert feature["properties"]["status"] == "faulty"
    assert feature["properties"]["version"] == 2
    assert feature["properties"]["road"] == "薛圐圙环岛"  # untouched values stay
    kept = upload(store, data, "a.csv", on_duplicate="keep")
    assert kept.accepted == 3 and store.count("streetlights") == count + 3


def test_duplicate_rows_within_one_file(store):
    row = "112.8012,39.5034,solar"
    data = f"lon,lat,power_source\n{row}\n{row}\n".encode()
    report = upload(store, data, "twice.csv", dry_run=True)
    assert (report.accepted, report.skipped) == (1, 1)
    assert "duplicate_in_batch" in [p.code for p in report.problems]


def test_undo_removes_features_and_keeps_history(store):
    before = store.count("wells")
    report = upload(store, (SHANYIN / "wells.geojson").read_bytes(), "wells.geojson", "wells")
    assert store.count("wells") == before + 2
    meta = undo_upload(store, report.upload_id, user="planner1")
    assert meta["status"] == "undone" and meta["removed"] == 2 and meta["undone_by"] == "planner1"
    assert store.count("wells") == before
    history = store.history("wells", report.ids[0])
    assert len(history) >= 2
    with pytest.raises(BadRequest):
        undo_upload(store, report.upload_id, user="planner1")


def test_same_idempotency_key_lands_once(store):
    data = (SHANYIN / "wells.geojson").read_bytes()
    before = store.count("wells")
    first = upload(store, data, "w.geojson", "wells", idempotency_key="retry-123456")
    second = upload(store, data, "w.geojson", "wells", idempotency_key="retry-123456")
    assert second.status == "replayed" and second.upload_id == first.upload_id
    assert second.ids == first.ids
    assert store.count("wells") == before + 2
    assert len(UploadLog(store.files).list()) == 1


def test_a_pending_record_is_settled_after_a_crash(store):
    report = upload(store, (SHANYIN / "wells.geojson").read_bytes(), "w.geojson", "wells")
    log = UploadLog(store.files)
    log.mark(report.upload_id, status="pending")  # as if the process died after the commit
    orphan = "uploads/U-20240101-abcdef/meta.json"
    store.files.write(
        orphan,
        b'{"upload_id": "U-20240101-abcdef", "status": "pending", "layer": "wells", "at": "2024"}',
    )
    assert log.recover_pending(store) == {"committed": 1, "removed": 1}
    assert log.get(report.upload_id)["status"] == "committed"
    assert not store.files.exists(orphan)


# ---------------------------------------------------------------------------- staging
def test_staging_keeps_files_by_random_token_for_their_owner_only(store):
    staging = Staging(store.files)
    token = staging.put(b"lon,lat\n1,2\n", "路灯.csv", UploadOptions(layer="wells"), user="a")
    assert len(token) == 32
    assert staging.data(token, user="a") == b"lon,lat\n1,2\n"
    assert staging.meta(token, user="a")["filename"] == "路灯.csv"
    assert staging.options(token, user="a").layer == "wells"
    for bad_user, bad_token in (("b", token), ("a", "../../layers"), ("a", "x" * 32)):
        with pytest.raises(NotFound):
            staging.data(bad_token, user=bad_user)


def test_staged_files_expire(store):
    staging = Staging(store.files, ttl_s=60)
    old = staging.put(b"a", "a.csv", UploadOptions(layer="wells"), user="a")
    assert staging.expire(now=time.time() + 30) == 0
    assert staging.expire(now=time.time() + 120) == 1
    with pytest.raises(NotFound):
        staging.meta(old, user="a")


def test_ledger_imports_share_the_staging_with_owner_and_expiry(tmp_path):
    from layers.staging import Staging as StagedFiles

    now = [1000.0]
    staging = StagedFiles(tmp_path, "ledger_imports/staging", ttl_s=60, clock=lambda: now[0])
    token = staging.put(b"xlsx", "upload.xlsx", user="planner1")
    assert staging.data(token, user="planner1") == b"xlsx"
    with pytest.raises(NotFound):
        staging.data(token, user="planner2")
    now[0] += 61  # a minute later the preview is gone, even for its owner
    with pytest.raises(NotFound):
        staging.meta(token, user="planner1")
    staging.put(b"next", "upload.csv", user="planner1")  # staging purges the expired one
    assert not (tmp_path / "ledger_imports" / "staging" / token).exists()


def _two_segment_gpx(gap_deg):
    second = 112.7553 + gap_deg
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="2bulu" xmlns="http://www.topografix.com/GPX/1/1"><trk>
<name>东干渠管道</name>
<trkseg><trkpt lat="39.5202" lon="112.7501"/><trkpt lat="39.5251" lon="112.7553"/></trkseg>
<trkseg><trkpt lat="39.5251" lon="{second}"/><trkpt lat="39.5290" lon="{second + 0.004}"/></trkseg>
</trk></gpx>""".encode()


def test_a_track_paused_once_goes_to_a_line_layer_joined_with_a_warning(store):
    # Issue #16: a GPX track with two <trkseg> could not go to pipes.
    report = upload(
        store,
        _two_segment_gpx(0.0003),
        "pipe.gpx",
        layer="pipes",
        dry_run=True,
        defaults={"purpose": "irrigation"},
    )
    assert report.accepted == 1 and report.rejected == 0
    [feature] = report.features
    assert feature["geometry"]["type"] == "LineString"
    assert len(feature["geometry"]["coordinates"]) == 4
    [joined] = [p for p in report.problems if p.code == "track_segments_joined"]
    assert joined.severity == "warning" and "2 segments" in joined.message("en")
    assert "26 m" in joined.message("en")


def test_segments_far_apart_are_not_joined(store):
    report = upload(
        store,
        _two_segment_gpx(0.02),
        "pipe.gpx",
        layer="pipes",
        dry_run=True,
        defaults={"purpose": "irrigation"},
    )
    codes = [p.code for p in report.problems]
    assert report.accepted == 0 and report.rejected == 1
    assert "geometry_type_not_allowed" in codes and "track_segments_joined" not in codes
