"""webmap.maps and webmap.mapdata: pure functions from frames and specs to maps and figures.

Maps are checked by the state of their folium elements and by fragments of the rendered
HTML, never by whole-page snapshots (element ids are random).
"""

import dataclasses
import datetime as dt
import json
import re

import folium
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from layers.errors import BadRequest
from layers.specs import SpecRegistry
from layers.store import GeoJSONStore
from webmap import mapdata
from webmap.maps import (
    FeatureLayer,
    FeatureQuery,
    MapView,
    SearchEntry,
    basemap_tiles,
    build_map,
    features_in_view,
    legend,
    script_json,
)

SPECS = SpecRegistry.load()
XSS = "<img src=x onerror=alert(1)></script><script>window.__xss=1</script>${window.__xss=1}`"
# URLs a browser would request: those in strings and attributes (not in JS comments).
ABSOLUTE_URL = re.compile(r"""["'=(]((?:https?:)?//[^"'\s<>)\\`]+)""")


def frame(layer, rows):
    """A layer frame as the store builds it: ``id``, every field, geometry, EPSG:4326."""
    spec = SPECS[layer]
    data = {"id": [r["id"] for r in rows]}
    for name in spec.field_names:
        data[name] = [r.get(name) for r in rows]
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=4326)


@pytest.fixture
def county():
    """Two townships side by side, three villages, a few works of each kind."""
    west, east = box(112.0, 39.0, 112.1, 39.1), box(112.1, 39.0, 112.2, 39.1)
    boundaries = frame(
        "boundaries",
        [
            {
                "id": "B1",
                "level": "county",
                "name": "测试县",
                "geometry": box(112, 39, 112.2, 39.1),
            },
            {"id": "B2", "level": "township", "name": "西镇", "code": "1", "geometry": west},
            {"id": "B3", "level": "township", "name": "东镇", "code": "2", "geometry": east},
        ],
    )
    villages = frame(
        "villages",
        [
            {"id": "V1", "name": "甲村", "township": "西镇", "geometry": Point(112.03, 39.05)},
            {"id": "V2", "name": "乙村", "township": "西镇", "geometry": Point(112.07, 39.05)},
            {"id": "V3", "name": XSS, "township": "东镇", "geometry": Point(112.15, 39.05)},
        ],
    )
    lights = frame(
        "streetlights",
        [
            {"id": "L1", "status": "working", "power_source": "solar", "road": "G208",
             "installed_date": "2024-03-05", "ledger_item": "LG1",
             "geometry": Point(112.02, 39.05)},
            {"id": "L2", "status": "faulty", "power_source": "grid", "road": XSS,
             "installed_date": "2024-07-01", "geometry": Point(112.08, 39.05)},
            {"id": "L3", "status": "working", "power_source": "solar",
             "installed_date": "2023-01-10", "geometry": Point(112.15, 39.06)},
        ],
    )  # fmt: skip
    wells = frame(
        "wells",
        [
            {"id": "W1", "name": "一号井", "status": "working", "yield_m3h": 40.0,
             "completed_date": "2024-02-01", "geometry": Point(112.031, 39.051)},
            {"id": "W2", "name": "二号井", "status": "removed", "yield_m3h": 30.0,
             "geometry": Point(112.16, 39.04)},
        ],
    )  # fmt: skip
    pipes = frame(
        "pipes",
        [{"id": "P1", "purpose": "irrigation", "well_id": "W1", "completed_date": "2024-02-03",
          "geometry": LineString([(112.031, 39.051), (112.04, 39.06)])}],
    )  # fmt: skip
    plantings = frame(
        "plantings",
        [
            {"id": "T1", "species": "willow", "count": 120, "planted_date": "2024-04-01",
             "geometry": Point(112.01, 39.02)},
            {"id": "T2", "species": "mongolian_pine", "count": 300, "planted_date": "2024-04-02",
             "geometry": box(112.05, 39.02, 112.06, 39.03)},
        ],
    )  # fmt: skip
    roads = frame(
        "roads",
        [
            {
                "id": "R1",
                "name": "国道208线",
                "geometry": LineString([(112.0, 39.05), (112.2, 39.05)]),
            }
        ],
    )
    return {
        "boundaries": boundaries,
        "villages": villages,
        "streetlights": lights,
        "wells": wells,
        "pipes": pipes,
        "plantings": plantings,
        "roads": roads,
    }


@pytest.fixture
def snap(county):
    specs = [SPECS[n] for n in county]
    return mapdata.snapshot(county, specs, dt.date(2024, 12, 31))


def layers_of(snap, filters=mapdata.Filters(), **kw):
    return mapdata.map_layers(
        snap.frames, snap.specs.values(), filters, snap.places, snap.gaps, **kw
    )


def rendered(m):
    return m.get_root().render()


def feature_layers(m):
    return {c.payload["name"]: c for c in m._children.values() if isinstance(c, FeatureLayer)}


# ------------------------------------------------------------------------ filters


def test_parse_filters_reads_every_url_parameter():
    args = {"layers": "wells,nope,wells", "status": "faulty", "township": "B2",
            "village": "V1", "from": "2024-01-01", "to": "2024-06-30", "ledger": "LG1"}  # fmt: skip
    f = mapdata.parse_filters(args, ["wells", "streetlights"])
    assert f.layers == ("wells",)
    assert (f.status, f.township, f.village) == ("faulty", "B2", "V1")
    assert (f.date_from, f.date_to, f.ledger_item) == ("2024-01-01", "2024-06-30", "LG1")
    assert f.args()["ledger"] == "LG1" and "layers" not in f.args(with_layers=False)
    assert mapdata.parse_filters({}, ["wells"]).layers is None


@pytest.mark.parametrize(
    "args",
    [{"from": "2024-13-01"}, {"to": "yesterday"}, {"from": "2024-05-01", "to": "2024-01-01"}],
)
def test_parse_filters_refuses_bad_dates(args):
    with pytest.raises(BadRequest):
        mapdata.parse_filters(args, [])


def test_select_features_applies_each_filter_only_where_the_field_exists(county, snap):
    lights, spec = county["streetlights"], SPECS["streetlights"]
    by = lambda **kw: list(  # noqa: E731
        mapdata.select_features(lights, spec, mapdata.Filters(**kw), None)["id"]
    )
    assert by(status="faulty") == ["L2"]
    assert by(date_from="2024-01-01", date_to="2024-06-30") == ["L1"]
    assert by(ledger_item="LG1") == ["L1"]
    west = snap.places.township("B2").geometry
    assert list(mapdata.select_features(lights, spec, mapdata.Filters(), west)["id"]) == [
        "L1",
        "L2",
    ]
    # Plantings have no status field: a status filter leaves them alone.
    plantings = mapdata.select_features(
        county["plantings"], SPECS["plantings"], mapdata.Filters(status="faulty"), None
    )
    assert len(plantings) == 2
    # Reference layers are never filtered.
    roads = mapdata.select_features(
        county["roads"], SPECS["roads"], mapdata.Filters(status="x"), west
    )
    assert len(roads) == 1


def test_choose_basemap_offers_tianditu_only_with_a_key():
    assert mapdata.choose_basemap("tianditu", "osm", "") == "osm"
    assert mapdata.choose_basemap("tianditu", "osm", "k") == "tianditu"
    assert mapdata.choose_basemap("bogus", "none", "") == "none"
    assert "tianditu" not in mapdata.offered_basemaps("")


# ------------------------------------------------------------------------ places


def test_village_areas_are_voronoi_cells_clipped_to_the_township(snap):
    places = snap.places
    assert set(places.townships) == {"B2", "B3"}
    v1, v2, v3 = (places.village(v) for v in ("V1", "V2", "V3"))
    assert (v1.parent_id, v2.parent_id, v3.parent_id) == ("B2", "B2", "B3")
    assert v1.method == "approximate"
    # The western villages split their township at x = 112.05; the eastern one has all of its own.
    assert v1.geometry.bounds == pytest.approx((112.0, 39.0, 112.05, 39.1))
    assert v3.geometry.area == pytest.approx(places.township("B3").geometry.area)
    assert [v.id for v in places.villages_of("B2")] == ["V2", "V1"]  # by name: 乙 < 甲


def test_a_surveyed_village_boundary_wins_over_the_approximation(county):
    survey = frame(
        "boundaries",
        [
            {
                "id": "B9",
                "level": "village",
                "name": "甲村",
                "geometry": box(112.02, 39.04, 112.04, 39.06),
            }
        ],
    )
    boundaries = gpd.GeoDataFrame(pd.concat([county["boundaries"], survey]), crs=4326)
    places = mapdata.find_places(boundaries, county["villages"])
    assert places.village("V1").method == "boundary"
    assert places.village("V1").geometry.equals(box(112.02, 39.04, 112.04, 39.06))
    assert places.village("V2").method == "approximate"
    assert not places.village("V2").geometry.intersects(box(112.021, 39.041, 112.039, 39.059))


# --------------------------------------------------------------------------- maps


def test_build_map_draws_every_spatial_layer_once_with_its_features(snap):
    layers = layers_of(snap)
    m = build_map(layers, MapView(bounds=snap.bounds()))
    assert isinstance(m, folium.Map)
    drawn = feature_layers(m)
    assert set(drawn) == {layer.name for layer in layers}
    lights = drawn["streetlights"].payload
    assert lights["mode"] == "embed" and lights["data"]["ids"] == ["L1", "L2", "L3"]
    assert lights["data"]["geoms"][0] == [112.02, 39.05]
    status = [f["name"] for f in lights["fields"]].index("status")
    assert [p[status] for p in lights["data"]["props"]] == ["working", "faulty", "working"]
    assert lights["style"]["statusColors"]["faulty"] != lights["style"]["statusColors"]["working"]
    assert lights["cluster"] is True and drawn["wells"].payload["cluster"] is False
    assert drawn["gap_dark_roads"].payload["show"] is False  # gaps start switched off
    assert drawn["facilities" if "facilities" in drawn else "roads"].payload["group"] == "reference"


def test_build_map_is_pure(snap):
    layers = layers_of(snap)
    before = {layer.name: layer.frame.copy() for layer in layers}
    view = MapView(bounds=snap.bounds(), lang="en")
    first = {n: c.payload for n, c in feature_layers(build_map(layers, view)).items()}
    second = {n: c.payload for n, c in feature_layers(build_map(layers, view)).items()}
    assert first == second
    for layer in layers:
        assert layer.frame.equals(before[layer.name])


def test_popup_fields_carry_labels_units_and_enum_labels_in_the_language(snap):
    for lang, label, unit, value in (
        ("zh", "出水量", "立方米/小时", "正常"),
        ("en", "Yield", "m³/h", "Working"),
    ):
        m = build_map(layers_of(snap), MapView(lang=lang))
        fields = {f["name"]: f for f in feature_layers(m)["wells"].payload["fields"]}
        assert fields["yield_m3h"]["label"] == label
        assert fields["yield_m3h"]["unit"] == unit
        assert fields["status"]["values"]["working"] == value


def test_large_layers_are_fetched_not_embedded(snap):
    view = MapView(embed_max_features=2, filters=mapdata.Filters(status="faulty"))
    drawn = feature_layers(build_map(layers_of(snap), view))
    lights = drawn["streetlights"].payload
    assert drawn["streetlights"].mode == "fetch" and "data" not in lights
    assert lights["api"] == "/api/layers/streetlights/features"
    assert lights["query"] == {"status": "faulty"} and lights["limit"] == 2
    assert drawn["wells"].mode == "embed"


def test_offline_map_asks_no_other_host(snap):
    html = rendered(build_map(layers_of(snap), MapView(basemap="none")))
    assert ABSOLUTE_URL.findall(html) == []
    assert "/static/vendor/leaflet@1.9.3/dist/leaflet.js" in html
    assert "/static/js/vwmap.js?v=" in html
    assert "bootstrap" not in html and "jquery" not in html


@pytest.mark.parametrize(
    ("basemap", "host"),
    [
        ("osm", "tile.openstreetmap.org"),
        ("amap", "is.autonavi.com"),
        ("tianditu", "tianditu.gov.cn"),
    ],
)
def test_the_only_other_host_is_the_chosen_basemaps(snap, basemap, host):
    html = rendered(build_map(layers_of(snap), MapView(basemap=basemap, tianditu_key="k&<")))
    hosts = {re.match(r"(?:https?:)?//([^/]+)", u).group(1) for u in ABSOLUTE_URL.findall(html)}
    assert hosts and all(h.endswith(host) or h.startswith("www.openstreetmap") for h in hosts)
    if basemap == "tianditu":
        assert len(basemap_tiles("tianditu", "zh", "k&<")) == 2  # map and labels
        assert "tk=k%26%3C" in html


def test_amap_shifts_what_is_drawn_to_gcj02_and_keeps_the_data(county, snap):
    wgs = feature_layers(build_map(layers_of(snap), MapView(basemap="none")))
    gcj = feature_layers(build_map(layers_of(snap), MapView(basemap="amap")))
    (x0, y0), (x1, y1) = (
        wgs["wells"].payload["data"]["geoms"][0],
        gcj["wells"].payload["data"]["geoms"][0],
    )
    # GCJ-02 moves Shanxi a few hundred metres, east and north.
    assert 0.003 < x1 - x0 < 0.01 and 0.0005 < y1 - y0 < 0.005
    assert gcj["pipes"].payload["data"]["geoms"][0]["coordinates"][0][0] == pytest.approx(
        x1, abs=1e-6
    )
    assert county["wells"].geometry.iloc[0].x == 112.031


def test_user_text_never_reaches_the_page_as_markup(snap):
    view = MapView(search=[SearchEntry("V3", XSS, "东镇", 112.15, 39.05)], titles=snap.titles)
    html = rendered(build_map(layers_of(snap), view))
    assert "<img src=x" not in html and "</script><script>" not in html
    escaped = script_json(XSS)[1:-1]
    assert escaped.startswith("\\u003cimg src=x onerror=alert(1)\\u003e\\u003c/script")
    # Every backtick on the page is one of the payload's, inside a JSON string: the page
    # has no template literal in which "${...}" could run.
    assert html.count(escaped) >= 3
    assert html.count("`") == html.count(escaped)


def test_script_json_escapes_what_could_end_a_script():
    text = script_json({"a": "</script><!--\u2028&'"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--\u2028&'"}


def test_legend_counts_features_by_status(snap):
    groups = legend(layers_of(snap), MapView())
    assert [g.key for g in groups] == ["work", "reference", "gaps"]
    lights = next(e for e in groups[0].entries if e.name == "streetlights")
    counts = {s.code: s.count for s in lights.statuses}
    assert lights.count == 3 and counts["working"] == 2 and counts["faulty"] == 1
    assert next(e for e in groups[1].entries if e.name == "roads").kind == "line"


def test_unsafe_spec_styles_are_replaced(snap):
    layer = layers_of(snap)[0]
    bad = dataclasses.replace(
        layer.spec, style={"color": "red;background:url(//x)", "dash": "1);x", "radius": "9"}
    )
    drawn = feature_layers(
        build_map([mapdata.MapLayer(bad, "work", layer.frame, True, bad.name)], MapView())
    )
    style = next(iter(drawn.values())).payload["style"]
    assert style["color"] == "#555555" and style["dash"] is None and style["radius"] == 5


# --------------------------------------------------------------------- figures


def test_area_figures_count_works_trees_wells_and_pipes(snap):
    works = {layer.name: layer.frame for layer in layers_of(snap) if layer.group == "work"}
    figures = mapdata.area_figures(works, snap.specs, "zh")
    by_label = dict(figures.figures)
    assert by_label["植树总数"] == "420 株"
    assert by_label["在用机井"] == "1"  # the removed well is not in service
    assert by_label["机井总出水量"] == "40 立方米/小时"
    assert dict(figures.trees) == {"樟子松": "300 株", "柳树": "120 株"}
    assert next(r for r in figures.layers if r.name == "streetlights").count == 3
    en = dict(mapdata.area_figures(works, snap.specs, "en").figures)
    assert en["Trees planted"] == "420 trees"


def test_chart_counts_works_per_month_or_per_year(snap):
    works = {layer.name: layer.frame for layer in layers_of(snap) if layer.group == "work"}
    chart = mapdata.monthly_chart(works, snap.specs, "zh")
    assert chart["period"] == "month" and chart["labels"][0] == "2023年1月"
    lights = next(d for d in chart["datasets"] if d["label"] == "路灯")
    assert sum(lights["data"]) == 3
    old = works["wells"].copy()
    old.loc[old.index[1], "completed_date"] = "1998-05-01"
    yearly = mapdata.monthly_chart({**works, "wells": old}, snap.specs, "en")
    assert yearly["period"] == "year" and yearly["labels"][0] == "1998"


def test_display_values_in_both_languages():
    spec = SPECS["villages"]
    assert mapdata.display_value(spec, "households", 1234, "zh") == "1,234 户"
    assert mapdata.display_value(spec, "households", 1234, "en") == "1,234 households"
    wells = SPECS["wells"]
    assert mapdata.display_value(wells, "yield_increased", True, "zh") == "是"
    assert mapdata.display_value(wells, "completed_date", "2024-03-05", "en") == "5 Mar 2024"
    assert mapdata.display_value(wells, "status", "faulty", "en") == "Faulty"


def test_history_rows_name_the_fields_each_change_touched(tmp_path):
    store = GeoJSONStore(tmp_path)
    fid = store.create("wells", {"type": "Point", "coordinates": [112.8, 39.5]},
                       {"name": "一号井", "status": "working"}, user="ann").ids[0]  # fmt: skip
    store.update("wells", fid, user="bob", properties={"status": "faulty"})
    rows = mapdata.history_rows(store.history("wells", fid), SPECS["wells"], "zh")
    assert [r.op for r in rows] == ["修改", "新建"] and rows[0].by == "bob"
    assert rows[0].changes == (("状态", "正常", "故障"),)


def test_photo_links_show_only_what_the_app_serves():
    photos = mapdata.photo_links(
        {"photos": ["/uploads/a.jpg", "//evil/x.jpg", "https://x/y.jpg", 5]}
    )
    assert [(p.url, p.local) for p in photos] == [
        ("/uploads/a.jpg", True),
        ("https://x/y.jpg", False),
    ]
    assert mapdata.photo_links({}) == []


def test_gap_overlays(snap):
    gaps = snap.gaps
    assert list(gaps["gap_unpiped_wells"].frame["id"]) == []  # W1 has its pipe, W2 is removed
    dark = gaps["gap_dark_roads"]
    assert dark.link == "roads" and set(dark.frame["feature_id"]) == {"R1"}
    assert dark.kind == "lighting" and dark.link_id == "feature_id"
    assert len(dark.frame) >= 1 and (dark.frame["length_m"] > 100).all()


def test_gap_overlays_are_the_rows_of_run_gaps(county):
    """Each kind's overlays hold exactly the rows the analysis finds (the CLI's rows)."""
    from layers.analyses import FrameSource, run_gaps
    from layers.gap_overlays import kind_counts

    day = dt.date(2024, 12, 31)
    source = FrameSource(county, [SPECS[n] for n in county])
    overlays = mapdata.snapshot(county, [SPECS[n] for n in county], day).gaps
    counts = kind_counts(overlays)
    assert set(counts) == {"lighting", "irrigation"}  # no visits or facilities layer
    for kind, n in counts.items():
        assert n == len(run_gaps(source, kind, as_of=day)), kind


# ------------------------------------------------------------------------ bbox API


def test_features_in_view_answers_from_the_store(tmp_path):
    store = GeoJSONStore(tmp_path)
    for i in range(10):
        store.create("streetlights", {"type": "Point", "coordinates": [112.0 + i / 100, 39.0]},
                     {"power_source": "solar", "status": "faulty" if i % 2 else "working"},
                     user="t")  # fmt: skip
    spec = SPECS["streetlights"]
    everything = FeatureQuery(bbox=(111, 38, 113, 40), limit=100)
    body = features_in_view(store, spec, mapdata.Filters(), everything, None)
    assert body["numberMatched"] == 10 and body["type"] == "FeatureCollection"
    assert "status" in body["features"][0]["properties"]
    assert "created_by" not in body["features"][0]["properties"]
    faulty = features_in_view(store, spec, mapdata.Filters(status="faulty"), everything, None)
    assert faulty["numberMatched"] == 5
    west = features_in_view(
        store, spec, mapdata.Filters(), FeatureQuery(bbox=(111, 38, 112.035, 40)), None
    )
    assert west["numberMatched"] == 4
    sample = features_in_view(
        store,
        spec,
        mapdata.Filters(),
        FeatureQuery(bbox=(111, 38, 113, 40), limit=3, sample=True),
        None,
    )
    xs = [f["geometry"]["coordinates"][0] for f in sample["features"]]
    assert sample["numberReturned"] == 3 and xs[0] == 112.0 and xs[-1] == pytest.approx(112.09)
    area = Polygon([(112.025, 38.9), (112.065, 38.9), (112.065, 39.1), (112.025, 39.1)])
    inside = features_in_view(store, spec, mapdata.Filters(), everything, area)
    assert inside["numberMatched"] == 4
    gcj = features_in_view(
        store, spec, mapdata.Filters(), FeatureQuery(bbox=(111, 38, 113, 40), coords="gcj02"), None
    )
    assert gcj["features"][0]["geometry"]["coordinates"][0] > 112.003


def test_parse_feature_query_checks_its_arguments():
    q = mapdata.parse_feature_query({"bbox": "112,39,113,40", "limit": "5", "sample": "even"}, 10)
    assert q.bbox == (112.0, 39.0, 113.0, 40.0) and q.limit == 5 and q.sample
    for bad in ({"bbox": "1,2,3"}, {"bbox": "3,2,1,4"}, {"bbox": "a,b,c,d"}, {"limit": "11"},
                {"limit": "0"}, {"coords": "bd09"}, {"bbox": "nan,1,2,3"}):  # fmt: skip
        with pytest.raises(BadRequest):
            mapdata.parse_feature_query(bad, 10)


def test_dark_roads_are_computed_again_only_when_roads_or_lights_change(monkeypatch, tmp_path):
    """A change to another layer rebuilds the map snapshot, not the road-lighting gaps."""
    import layers.analyses
    from layers.gap_overlays import gap_overlays

    calls = []
    real = layers.analyses.road_lighting_gaps

    def counted(roads, lights, **kwargs):
        calls.append(len(lights))
        return real(roads, lights, **kwargs)

    monkeypatch.setattr(layers.analyses, "road_lighting_gaps", counted)
    store = GeoJSONStore(tmp_path)
    road = {"type": "LineString", "coordinates": [[112.80, 39.50], [112.90, 39.50]]}
    store.create("roads", road, {"name": "G208"}, user="t")
    light = {"type": "Point", "coordinates": [112.80, 39.50]}
    store.create("streetlights", light, {"power_source": "solar", "status": "working"}, user="t")
    day = dt.date(2026, 11, 27)
    first = gap_overlays(store, day)
    again = gap_overlays(store, day)
    assert calls == [1] and again["gap_dark_roads"] is first["gap_dark_roads"]
    assert len(first["gap_dark_roads"].frame) >= 1
    well = {"type": "Point", "coordinates": [112.85, 39.51]}
    store.create("wells", well, {"status": "working"}, user="t")
    gap_overlays(store, day)
    assert calls == [1]
    store.create("streetlights", light, {"power_source": "grid", "status": "working"}, user="t")
    gap_overlays(store, day)
    assert calls == [1, 2]
