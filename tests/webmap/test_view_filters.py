"""The map pages' filters and exports through the Flask test client, on a copy of the demo
county: township and village by name or id, bad values named on the page (zh and en),
an unknown status refused, export links that carry the view and give what it shows, the
ranked gaps on the county map, the village sheet's full lists and dates."""

import csv
import io
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import shapely

from layers.county_view import resolve_places
from layers.gap_ranking import TOP, ranked_gaps
from layers.places import Place, Places
from webmap.app import get_store
from webmap.extensions import get_county_view

XUEKULUO = "BD-000007"  # 薛圐圙乡
G208_VILLAGE = "VL-000073"  # 薛圐圙村: 84 streetlights along the G208, a well, visits
RANKED = re.compile(r"window\.VWRank\.draw\(map_\w+, (\{.*?\})\);\n", re.S)


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return demo_app


@pytest.fixture
def client(app):
    return app.test_client()


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def export_urls(html):
    """Every export link of a page's "export this view" block, by layer and format."""
    block = html[html.index('id="vw-exports"') :]
    block = block[: block.index("</details>")]
    out = {}
    for layer, row in re.findall(r'data-export-layer="([^"]+)">(.*?)</li>', block, re.S):
        for url, fmt in re.findall(r'href="([^"]+)" data-format="(\w+)"', row):
            out[(layer, fmt)] = unescape(url)
    return out


def problems(html):
    found = re.search(r'<div class="vw-filter-errors".*?</div>', html, re.S)
    return unescape(found.group(0)) if found else ""


# ------------------------------------------------------------------- names and ids


def test_township_filter_by_name_is_the_same_view_as_by_id(client):
    by_id = get(client, f"/?township={XUEKULUO}")
    by_name = get(client, "/?township=薛圐圙乡")
    assert problems(by_name) == ""
    assert export_urls(by_name) == export_urls(by_id)
    url = export_urls(by_name)[("streetlights", "csv")]
    assert parse_qs(urlsplit(url).query)["township"] == [XUEKULUO]


def test_village_filter_and_pages_by_name(client):
    html = get(client, "/?village=薛圐圙村")
    assert problems(html) == ""
    url = export_urls(html)[("streetlights", "geojson")]
    assert parse_qs(urlsplit(url).query)["village"] == [G208_VILLAGE]
    assert "薛圐圙村" in get(client, "/villages/薛圐圙村")
    assert "薛圐圙乡" in get(client, "/townships/薛圐圙乡")
    get(client, "/townships/没有这个乡", status=404)


def test_a_village_name_in_two_townships_needs_the_township():
    towns = {
        "T1": Place("township", "T1", "东乡", None),
        "T2": Place("township", "T2", "西乡", None),
    }
    villages = {
        "V1": Place("village", "V1", "王庄", None, parent_id="T1"),
        "V2": Place("village", "V2", "王庄", None, parent_id="T2"),
    }
    places = Places(None, towns, villages)
    assert resolve_places(places, "", "王庄")[2][0].code == "ambiguous_village"
    assert resolve_places(places, "", "王庄")[2][0].choices == ("东乡", "西乡")
    assert resolve_places(places, "西乡", "王庄") == ("T2", "V2", [])
    assert resolve_places(places, "T1", "V2")[:2] == ("T1", "V2")  # ids win


# -------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("query", "zh", "en"),
    [
        ("township=无名乡", "“乡镇”：没有名为或编号为“无名乡”的乡镇", "Township: there is no"),
        ("village=x1", "“村”：没有名为或编号为“x1”的村", "Village: there is no village named"),
        ("from=2026-02-30", "“起始日期”：“2026-02-30”不是日期", "From: “2026-02-30” is not a date"),
        ("from=2026-05-01&to=2026-01-01", "截止日期 2026-01-01 早于起始日期 2026-05-01", "before"),
    ],
)
def test_a_bad_filter_is_named_on_the_page_in_the_users_language(client, query, zh, en):
    html = get(client, f"/?{query}", status=400)
    assert 'id="vw-panel"' in html and "vw.finish(" in html  # the map page, not an error page
    assert zh in problems(html)
    english = get(client, f"/?{query}&lang=en", status=400)
    assert en in problems(english)


def test_an_unknown_status_is_refused_with_the_valid_ones(client):
    html = get(client, "/?status=broken&lang=en", status=400)
    message = problems(html)
    assert "“broken” is not a status" in message
    assert "working" in message and "faulty" in message and "planned" in message
    # Refused, not applied: the map draws every streetlight, and exports carry no status.
    assert "status" not in parse_qs(urlsplit(export_urls(html)[("streetlights", "csv")]).query)
    village = get(client, f"/villages/{G208_VILLAGE}?status=broken&lang=zh", status=400)
    assert "没有“broken”这种状态" in problems(village)
    assert problems(get(client, "/?status=faulty")) == ""


# ----------------------------------------------------------------------- exports


def test_township_page_exports_what_it_shows(client, app):
    html = get(client, f"/townships/{XUEKULUO}?status=working")
    url = export_urls(html)[("streetlights", "csv")]
    rows = list(csv.DictReader(io.StringIO(get(client, url).lstrip("\ufeff"))))
    store = get_store(app)
    area = shapely.geometry.shape(store.get("boundaries", XUEKULUO)["geometry"])
    expected = {
        f["id"]
        for f in store.features("streetlights")
        if f["properties"].get("status") == "working"
        and area.intersects(shapely.geometry.shape(f["geometry"]))
    }
    assert expected and {r[next(iter(r))] for r in rows} == expected
    assert {"gpkg", "kml"} <= {fmt for (layer, fmt) in export_urls(html) if layer == "all"}


def test_county_map_exports_carry_the_shown_layers_and_filters(client):
    html = get(client, "/?layers=streetlights,wells&status=faulty&basemap=none")
    urls = export_urls(html)
    query = parse_qs(urlsplit(urls[("all", "gpkg")]).query)
    assert query["layers"] == ["streetlights,wells"] and query["status"] == ["faulty"]
    assert {layer for layer, _ in urls} == {"all", "streetlights", "wells"}


def test_layers_page_offers_every_layers_exports(client, app):
    html = get(client, "/layers")
    for name in get_store(app).layer_names():
        row = re.search(rf'<tr data-layer="{name}">(.*?)</tr>', html, re.S).group(1)
        assert f"/export/{name}.geojson" in row and f"/export/{name}.csv" in row


# --------------------------------------------------------------- ranked, sheets


def test_county_map_numbers_the_top_ten_of_each_kind(client, app):
    payload = json.loads(RANKED.search(get(client, "/")).group(1))
    ranked = ranked_gaps(get_store(app))
    kinds = {k["kind"]: k for k in payload["kinds"]}
    assert set(kinds) == {g.kind for g in ranked}
    for kind, info in kinds.items():
        mine = [g for g in ranked if g.kind == kind]
        assert info["count"] == len(mine)
        items = [i for i in payload["items"] if i["k"] == kind]
        assert [i["r"] for i in items] == list(range(1, min(TOP, len(mine)) + 1))
        assert [i["id"] for i in items] == [g.feature_id for g in mine[:TOP]]
    colours = [k["color"] for k in payload["kinds"]]
    assert len(set(colours)) == len(colours)
    first = next(i for i in payload["items"] if i["k"] == "lighting")
    assert first["f"] == "54.4 公里" and first["t"].startswith("国道208线")


def work_ids_in(app, village_id):
    """Ids of every work whose point (or a point on its surface) lies in the village's
    area: what its sheet must print."""
    with app.app_context():
        area = get_county_view(app).places.village(village_id).geometry
    store = get_store(app)
    out = set()
    for spec in store.specs:
        if spec.kind != "work" or not spec.spatial or spec.name == "villages":
            continue
        for f in store.features(spec.name):
            shape = shapely.geometry.shape(f["geometry"])
            if area.intersects(shapely.point_on_surface(shape)):
                out.add(f["id"])
    return out


def test_village_sheet_lists_every_work_with_print_and_data_dates(client, app):
    html = get(client, f"/villages/{G208_VILLAGE}")
    printed = html[html.index('class="vw-print-lists') :]
    expected = work_ids_in(app, G208_VILLAGE)
    assert len([i for i in expected if i.startswith("SL-")]) == 84
    assert {i[:2] for i in expected} >= {"SL", "WL", "VS"}
    assert set(re.findall(r"<td>([A-Z]{2}-\d+)</td>", printed)) == expected
    # On screen each list shows its newest 60; the print has every one.
    screen = html[html.index('class="vw-work-lists') : html.index('class="vw-print-lists')]
    assert screen.count("/features/streetlights/") == 60
    store = get_store(app)
    latest = max(
        str(f["properties"].get("updated_at") or "")
        for name in store.layer_names()
        for f in store.features(name)
    )[:10]
    y, m, d = (int(x) for x in latest.split("-"))
    assert re.search(r"data-data-date>([^<]*)<", html).group(1) == f"{y}年{m}月{d}日"
    assert re.search(r"data-print-date>\d{4}年\d{1,2}月\d{1,2}日<", html)


def test_exports_take_place_names_and_refuse_an_unknown_status(client):
    by_id = get(client, f"/export/streetlights.csv?township={XUEKULUO}&status=working")
    by_name = get(client, "/export/streetlights.csv?township=薛圐圙乡&status=working")
    assert by_name == by_id and len(by_id.splitlines()) > 2
    response = client.get("/export/streetlights.csv?status=broken&lang=en")
    assert response.status_code == 400
    message = response.get_data(as_text=True)
    assert "status=broken" in message and "working" in message and "faulty" in message
