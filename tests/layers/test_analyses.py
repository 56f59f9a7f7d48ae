"""run_gaps over a tiny hand-made store: the glue from layers to geo.gaps, replay by date,
township tags, thresholds, and write_frame in every format.

The county is two 0.01-degree townships side by side at 39°N; expected metres come from
the WGS84 geodesic between the named points (pyproj.Geod), not from the code under test.
"""

import datetime as dt
import io
import json

import openpyxl
import pyogrio
import pytest
from geometries import line, point, rectangle
from pyproj import Geod
from shapely import Point, box, from_wkt

from layers.analyses import (
    COLUMN_LABELS,
    format_for,
    parse_as_of,
    parse_thresholds,
    run_gaps,
)
from layers.errors import BadRequest, NotFound
from layers.gap_files import frame_bytes, write_frame
from layers.store import Change

GEOD = Geod(ellps="WGS84")
AS_OF = dt.date(2026, 10, 31)
Y = 39.005  # the lit road runs along this parallel


def metres(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def add(store, layer, items):
    changes = [Change("create", geometry=g, properties=p) for g, p in items]
    return store.commit(layer, changes, user="t", source="test").ids


@pytest.fixture
def county(store):
    """Two townships, a road with lights, wells, a pipe, greenhouses, villages, visits,
    facilities, bus routes, a main street and two ledger items."""
    add(
        store,
        "boundaries",
        [
            (
                rectangle(112.0, 39.0, 112.01, 39.01),
                {"level": "township", "name": "西乡", "code": "1"},
            ),
            (
                rectangle(112.01, 39.0, 112.02, 39.01),
                {"level": "township", "name": "东乡", "code": "2"},
            ),
        ],
    )
    add(
        store,
        "roads",
        [
            (line((112.0, Y), (112.02, Y)), {"name": "东西大街"}),
            (line((112.0, 39.0095), (112.02, 39.0095)), {"name": "府前街", "main_street": True}),
        ],
    )
    add(
        store,
        "streetlights",
        [
            (point(112.005, Y + 0.0001), {"power_source": "solar", "status": "working"}),
            (point(112.006, Y + 0.0001), {"power_source": "solar", "status": "working"}),
            (point(112.010, Y + 0.0001), {"power_source": "solar", "status": "planned"}),
            (
                point(112.010, Y + 0.001),
                {"power_source": "solar", "status": "working"},
            ),  # 111 m off
            (
                point(112.015, Y + 0.0001),
                {"power_source": "solar", "status": "working", "installed_date": "2026-06-01"},
            ),
        ],
    )
    wells = add(
        store,
        "wells",
        [
            (point(112.003, 39.002), {"name": "一号井", "status": "working"}),
            (point(112.017, 39.002), {"name": "二号井", "status": "working"}),
            (point(112.010, 39.008), {"name": "三号井", "status": "planned"}),
        ],
    )
    add(store, "pipes", [(line((112.003, 39.00201), (112.003, 39.004)), {"purpose": "irrigation"})])
    villages = add(
        store,
        "villages",
        [
            (point(112.004, 39.003), {"name": "一村", "township": "西乡"}),
            (point(112.016, 39.003), {"name": "二村", "township": "东乡"}),
            (point(112.012, 39.009), {"name": "三村", "township": "东乡"}),
        ],
    )
    add(
        store,
        "visits",
        [
            (point(112.004, 39.003), visit(villages[0], "2026-10-21", 2, 2)),
            (point(112.004, 39.003), visit(villages[0], "2026-11-15", 5, 0)),
            (point(112.016, 39.003), visit(villages[1], "2026-07-23", 1, 0)),
        ],
    )
    add(
        store,
        "facilities",
        [
            (point(112.005, 39.0089), {"name": "县医院", "kind": "hospital"}),
            (point(112.010, 39.0134), {"name": "一中", "kind": "school"}),
            (point(112.0, 39.0095), {"name": "爱心驿站", "kind": "rest_station"}),
        ],
    )
    add(
        store,
        "bus_routes",
        [
            (line((112.0, 39.008), (112.010, 39.008)), {"name": "免费公交1路", "free": True}),
            (line((112.0, 39.0135), (112.02, 39.0135)), {"name": "收费线", "free": False}),
        ],
    )
    trees = store.create(
        "ledger",
        None,
        {
            "title": "一村植树",
            "category": "plantings",
            "measure": "trees",
            "target": 100,
            "township": "西乡",
            "village": "一村",
        },
        user="p",
    ).ids[0]
    sheds = store.create(
        "ledger",
        None,
        {"title": "东乡大棚", "category": "greenhouses", "target": 2, "township": "东乡"},
        user="p",
    ).ids[0]
    add(
        store,
        "plantings",
        [
            (
                point(112.004, 39.0032),
                {
                    "species": "willow",
                    "count": 40,
                    "planted_date": "2026-04-01",
                    "ledger_item": trees,
                },
            )
        ],
    )
    add(
        store,
        "greenhouses",
        [
            (
                point(112.003, 39.0035),
                {"frame_type": "steel", "ledger_item": sheds, "built_date": "2026-02-01"},
            ),
            (rectangle(112.0095, 39.0075, 112.0105, 39.0085), {"frame_type": "steel"}),
        ],
    )
    store.ids = {"wells": wells, "villages": villages, "trees": trees, "sheds": sheds}
    return store


def visit(village_id, day, raised, solved):
    return {
        "kind": "visit",
        "village_id": village_id,
        "date": day,
        "problems_raised": raised,
        "problems_solved": solved,
    }


# --------------------------------------------------------------------------- lighting


def test_dark_stretches_with_chainage_replayed_by_installation_date(county):
    before = run_gaps(county, "lighting", as_of=dt.date(2026, 5, 1))
    street = before[before["name"] == "东西大街"]
    road_m = metres((112.0, Y), (112.02, Y))
    first = metres((112.0, Y), (112.005, Y))
    assert street["length_m"].round(0).tolist() == [
        round(first),
        round(road_m - metres((112.0, Y), (112.006, Y))),
    ]
    assert street["start_km"].iloc[0] == 0.0
    assert street["end_km"].iloc[0] == pytest.approx(first / 1000, abs=1e-3)
    assert set(street["gap"]) == {"dark_road"} and set(street["layer"]) == {"roads"}
    assert street["township"].iloc[0] == "西乡"  # lies in the west township
    assert street["township_id"].iloc[0] == county.features("boundaries")[0]["id"]

    after = run_gaps(county, "lighting", as_of=AS_OF)  # the June light now counts
    lengths = after[after["name"] == "东西大街"]["length_m"].to_numpy()
    middle = metres((112.006, Y), (112.015, Y))
    assert lengths == pytest.approx([first, middle, metres((112.015, Y), (112.02, Y))], abs=1.0)


def test_lighting_thresholds_are_applied(county):
    long_only = run_gaps(county, "lighting", as_of=AS_OF, min_gap_m=500)
    assert long_only[long_only["name"] == "东西大街"]["length_m"].round(-1).tolist() == [780.0]
    # With 150 m of reach the light 111 m off the road splits the middle stretch.
    wide = run_gaps(county, "lighting", as_of=AS_OF, lateral_m=150)
    assert len(wide[wide["name"] == "东西大街"]) == 4


# ------------------------------------------------------------------------- irrigation


def test_irrigation_places_far_from_a_working_well_and_wells_without_pipe(county):
    gaps = run_gaps(county, "irrigation", as_of=AS_OF)
    far = gaps[gaps["gap"] == "far_from_well"]
    assert sorted(far["layer"] + ":" + far["name"].fillna("")) == ["greenhouses:", "villages:三村"]
    shed = far[far["layer"] == "greenhouses"].iloc[0]
    corner = metres((112.0095, 39.0075), (112.003, 39.002))
    assert shed["distance_m"] == pytest.approx(corner, rel=0.01)
    assert shed["nearest_well_id"] in county.ids["wells"][:2]  # the planned well does not count
    dry = gaps[gaps["gap"] == "well_without_pipe"]
    assert dry["feature_id"].tolist() == [county.ids["wells"][1]]
    assert dry["township"].tolist() == ["东乡"]


# ----------------------------------------------------------------------------- visits


def test_villages_not_visited_or_with_open_problems_as_of_a_day(county):
    v1, v2, v3 = county.ids["villages"]
    gaps = run_gaps(county, "visits", as_of=AS_OF)
    assert dict(zip(gaps["feature_id"], gaps["gap"], strict=True)) == {
        v2: "not_visited",
        v3: "not_visited",
    }
    row = gaps.set_index("feature_id").loc[v2]
    assert (row["days_since"], row["last_visit"], bool(row["unresolved"])) == (
        100,
        dt.date(2026, 7, 23),
        True,
    )
    assert gaps.set_index("feature_id").loc[v3, "last_visit"] is None
    relaxed = run_gaps(county, "visits", as_of=AS_OF, max_days=120)
    assert dict(zip(relaxed["feature_id"], relaxed["gap"], strict=True)) == {
        v2: "unresolved",
        v3: "not_visited",
    }
    later = run_gaps(county, "visits", as_of=dt.date(2026, 11, 20), max_days=120)
    assert later.set_index("feature_id").loc[v1, "gap"] == "unresolved"  # 7 raised, 2 solved


# --------------------------------------------------------------------------- services


def test_services_far_from_the_free_bus_and_streets_far_from_rest_stations(county):
    gaps = run_gaps(county, "services", as_of=AS_OF)
    bus = gaps[gaps["gap"] == "far_from_bus"]
    assert bus["name"].tolist() == [
        "一中"
    ]  # the hospital is 100 m away; the paid line is not counted
    assert bus["distance_m"].iloc[0] == pytest.approx(
        metres((112.010, 39.008), (112.010, 39.0134)), abs=1.0
    )
    streets = gaps[gaps["gap"] == "far_from_rest_station"]
    street_m = metres((112.0, 39.0095), (112.02, 39.0095))
    assert streets["name"].tolist() == ["府前街"]
    assert streets["length_m"].iloc[0] == pytest.approx(street_m - 1000, abs=3.0)

    add(county, "facilities", [(point(112.0101, 39.0133), {"name": "一中站", "kind": "bus_stop"})])
    again = run_gaps(county, "services", as_of=AS_OF, rest_distance_m=2000)
    assert again.empty  # the stop serves the school; 2 km of reach covers the street


# ---------------------------------------------------------------------------- targets


def test_planting_and_greenhouse_targets_by_village(county):
    gaps = run_gaps(county, "targets", as_of=AS_OF)
    assert gaps["feature_id"].tolist() == [county.ids["trees"], county.ids["sheds"]]
    trees = gaps.iloc[0]
    assert (trees["target"], trees["actual"], trees["shortfall"], trees["pct"]) == (
        100.0,
        40.0,
        60.0,
        40.0,
    )
    assert trees.geometry.equals(Point(112.004, 39.003))  # at 一村
    sheds = gaps.iloc[1]
    assert sheds["pct"] == 50.0 and box(112.01, 39.0, 112.02, 39.01).contains(sheds.geometry)
    assert run_gaps(county, "targets", as_of=dt.date(2026, 3, 1))["actual"].tolist() == [0.0, 1.0]


def test_progress_of_some_categories_equals_their_share_of_all(county):
    """The targets read only the features linked to planting and greenhouse items, and
    find the same progress as the whole ledger's."""
    from layers.ledger import ledger_progress

    for day in (dt.date(2026, 3, 1), AS_OF, None):
        every = ledger_progress(county, today=day, as_of=day)
        some = ledger_progress(county, today=day, as_of=day, categories=("plantings",))
        assert some == [p for p in every if p.category == "plantings"] and some


# ------------------------------------------------------------------------- parameters


def test_unknown_kind_threshold_or_bad_value_are_refused(county):
    with pytest.raises(NotFound):
        run_gaps(county, "potholes")
    with pytest.raises(BadRequest) as unknown:
        run_gaps(county, "lighting", max_days=3)
    assert "min_gap_m" in unknown.value.user_message("en")
    for bad in ("-1", "nan", "inf", "abc"):
        with pytest.raises(BadRequest):
            parse_thresholds("lighting", {"min_gap_m": bad})
    with pytest.raises(BadRequest):
        parse_thresholds("visits", {"max_days": "7.5"})
    assert parse_thresholds("services", {"max_distance_m": " 800 "}) == {
        "max_distance_m": 800.0,
        "rest_distance_m": 1000.0,
    }
    assert parse_as_of(None) is None
    with pytest.raises(BadRequest):
        parse_as_of("2026-02-30")
    with pytest.raises(BadRequest):
        format_for("gaps.shp")


def test_an_empty_store_has_no_gaps_of_any_kind(store):
    for kind in ("lighting", "irrigation", "visits", "services", "targets"):
        assert len(run_gaps(store, kind, as_of=AS_OF)) == 0, kind


# ---------------------------------------------------------------------------- writing


def test_write_frame_in_every_format(county, tmp_path):
    gaps = run_gaps(county, "visits", as_of=AS_OF)
    labels = {"villages": "村庄"}
    doc = json.loads(write_frame(gaps, tmp_path / "v.geojson").read_bytes())
    assert [f["properties"]["gap"] for f in doc["features"]] == gaps["gap"].tolist()
    assert doc["features"][0]["properties"]["last_visit"] == "2026-07-23"
    assert doc["features"][1]["properties"]["last_visit"] is None
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [112.016, 39.003]}

    text = write_frame(gaps, tmp_path / "v.csv", layer_labels=labels).read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    rows = text.decode("utf-8-sig").splitlines()
    assert rows[0].split(",")[:3] == ["问题类型", "图层", "编号"] and rows[0].endswith(
        "几何（WKT）"
    )
    assert rows[1].startswith("超期未走访,村庄,") and rows[1].endswith("POINT (112.016 39.003)")
    assert from_wkt(rows[2].rsplit(",", 1)[1]).equals(Point(112.012, 39.009))

    sheet = openpyxl.load_workbook(write_frame(gaps, tmp_path / "v.xlsx")).active
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["问题类型", "图层", "编号", "名称", "乡镇"]
    assert header[-2:] == ["经度", "纬度"] and COLUMN_LABELS["days_since"][0] in header
    assert sheet.max_row == len(gaps) + 1
    assert [
        sheet.cell(row=2, column=c).value for c in (1, 4, header.index("距上次走访天数") + 1)
    ] == [
        "超期未走访",
        "二村",
        100,
    ]
    english = openpyxl.load_workbook(io.BytesIO(frame_bytes(gaps, "xlsx", lang="en"))).active
    assert (
        english.cell(row=1, column=1).value == "Gap"
        and english.cell(row=2, column=1).value == "Not visited recently"
    )

    back = pyogrio.read_dataframe(write_frame(gaps, tmp_path / "v.gpkg"))
    assert back["feature_id"].tolist() == gaps["feature_id"].tolist()
    assert back["visits"].tolist() == [1, 0]


def test_spreadsheet_cells_never_become_formulas(county, tmp_path):
    county.update(
        "villages", county.ids["villages"][2], properties={"name": "=HYPERLINK(1)"}, user="t"
    )
    gaps = run_gaps(county, "visits", as_of=AS_OF)
    sheet = openpyxl.load_workbook(write_frame(gaps, tmp_path / "x.xlsx")).active
    cell = sheet.cell(row=3, column=4)
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")
    csv_text = write_frame(gaps, tmp_path / "x.csv").read_text(encoding="utf-8-sig")
    assert ",'=HYPERLINK(1)," in csv_text


def test_mixed_geometries_and_empty_frames_write_as_geopackage(county, tmp_path):
    gaps = run_gaps(county, "irrigation", as_of=AS_OF)
    assert set(gaps.geometry.geom_type) == {"Point", "Polygon"}
    assert len(pyogrio.read_dataframe(write_frame(gaps, tmp_path / "i.gpkg"))) == len(gaps)
    empty = run_gaps(county, "targets", as_of=dt.date(2025, 1, 1))
    empty = empty.iloc[:0]
    assert len(pyogrio.read_dataframe(write_frame(empty, tmp_path / "e.gpkg"))) == 0
    assert json.loads(frame_bytes(empty, "geojson"))["features"] == []
