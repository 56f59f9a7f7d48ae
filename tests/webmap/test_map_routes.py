"""Map pages and the bbox API through the Flask test client, on a copy of the demo county."""

import json
import re

import pytest

from layers.store import Change
from webmap.app import get_store

XSS = "<img src=x onerror=alert(1)></script><script>window.__xss=1</script>${window.__xss=1}`"
XSS_NAME = "<img src=x onerror=alert(1)>${window.__xss=1}`"  # villages: names up to 60
LAYER_PAYLOAD = re.compile(r"vw\.layer\(map_\w+, (\{.*?\})\);\n", re.S)
XUEKULUO = "BD-000007"  # 薛圐圙乡, the township of the solar lights and greenhouses


@pytest.fixture
def app(demo_app):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    return demo_app


@pytest.fixture
def client(app):
    return app.test_client()


def payloads(html):
    """The layer payloads embedded in a map page, by layer name."""
    found = {}
    for text in LAYER_PAYLOAD.findall(html):
        payload = json.loads(text)
        found[payload["name"]] = payload
    return found


def ids(payload):
    return payload["data"]["ids"]


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


# -------------------------------------------------------------------------- county


def test_county_map_is_the_start_page_in_chinese(client, app):
    html = page(client, "/")
    assert '<html lang="zh-CN">' in html
    assert "山阴县实事地图" in html and "图层与图例" in html
    drawn = payloads(html)
    store = get_store(app)
    for name in ("streetlights", "wells", "villages", "visits", "roads", "boundaries"):
        assert len(ids(drawn[name])) == store.count(name), name
    assert "ledger" not in drawn  # no geometry, nothing to draw
    # Works and reference layers on, gaps and less-used reference layers off.
    assert drawn["streetlights"]["show"] and drawn["roads"]["show"]
    assert not drawn["facilities"]["show"] and not drawn["gap_dark_roads"]["show"]
    # Groups, legend counts by status, the township list (the first click to a village).
    assert 'data-group="work"' in html and 'data-group="gaps"' in html
    faulty = sum(1 for f in store.features("streetlights") if f["properties"]["status"] == "faulty")
    legend_item = re.search(r'data-layer="streetlights".*?data-status="faulty".*?</li>', html, re.S)
    assert f'<span class="vw-count">{faulty}</span>' in legend_item.group(0)
    assert f'href="/townships/{XUEKULUO}">薛圐圙乡</a>' in html


def test_county_map_in_english_formats_numbers_and_labels(client):
    html = page(client, "/?lang=en")
    assert '<html lang="en">' in html and "Layers and legend" in html
    wells = payloads(html)["wells"]
    labels = {f["name"]: f["label"] for f in wells["fields"]}
    assert labels["yield_m3h"] == "Yield" and wells["label"] == "Wells"
    assert '<span class="vw-count" data-count="356">356</span>' in html  # visits
    # The language is remembered, and the switch keeps the view's filters.
    assert client.get_cookie("lang").value == "en"
    township = page(client, f"/townships/{XUEKULUO}")  # English from the cookie
    assert 'Mongolian pine</th><td class="num">3,010 trees' in township
    assert "Works per year" in township or "Works per month" in township
    switched = page(client, "/?status=faulty&lang=en")
    assert 'href="?status=faulty&amp;lang=zh"' in switched


def test_filters_narrow_the_work_layers(client, app):
    store = get_store(app)
    lights = store.features("streetlights")
    drawn = payloads(page(client, "/?status=faulty"))
    faulty = sorted(f["id"] for f in lights if f["properties"]["status"] == "faulty")
    assert sorted(ids(drawn["streetlights"])) == faulty and faulty
    # Layers without a status field are not filtered by it; reference layers never are.
    assert len(ids(drawn["greenhouses"])) == store.count("greenhouses")
    assert len(ids(drawn["roads"])) == store.count("roads")

    drawn = payloads(page(client, "/?ledger=LG-000001"))
    assert sorted(ids(drawn["streetlights"])) == sorted(
        f["id"] for f in lights if f["properties"].get("ledger_item") == "LG-000001"
    )
    assert ids(drawn["wells"]) == []

    drawn = payloads(page(client, "/?from=2026-04-01&to=2026-04-30"))
    assert ids(drawn["greenhouses"])
    dates = {f["id"]: f["properties"].get("built_date") for f in store.features("greenhouses")}
    assert all("2026-04-01" <= dates[i] <= "2026-04-30" for i in ids(drawn["greenhouses"]))


def test_place_filters_keep_the_works_inside_and_outline_the_place(client, app):
    html = page(client, f"/?township={XUEKULUO}")
    drawn = payloads(html)
    lights = ids(drawn["streetlights"])
    store = get_store(app)
    assert lights and len(lights) < store.count("streetlights")
    assert all(store.get("streetlights", i)["properties"]["township"] == "薛圐圙乡" for i in lights)
    assert '"outline":{"geometry"' in html
    village = page(client, "/?village=VL-000073")
    assert set(ids(payloads(village)["streetlights"])) <= set(lights)
    assert '"method":"approximate"' in village


def test_layer_choice_from_the_url(client):
    drawn = payloads(page(client, "/?layers=wells,gap_unpiped_wells"))
    shown = {name for name, p in drawn.items() if p["show"]}
    assert shown == {"wells", "gap_unpiped_wells"}


@pytest.mark.parametrize(
    "query",
    ["from=2026-02-30", "to=soon", "from=2026-05-01&to=2026-01-01", "township=BD-999", "village=x"],
)
def test_bad_filters_are_refused(client, query):
    html = page(client, f"/?{query}", status=400)
    assert "请求有误" in html


def test_basemaps(client, app):
    assert "tile.openstreetmap.org" not in page(client, "/")
    assert "tile.openstreetmap.org" in page(client, "/?basemap=osm")
    amap = page(client, "/?basemap=amap")
    assert "is.autonavi.com" in amap and '"coords":"gcj02"' in amap
    unkeyed = page(client, "/?basemap=tianditu")  # not offered without a key
    assert "tianditu.gov.cn" not in unkeyed and 'data-basemap="tianditu"' not in unkeyed
    app.config["TIANDITU_KEY"] = "secret-key"
    html = page(client, "/?basemap=tianditu")
    assert "t{s}.tianditu.gov.cn/vec_w/wmts" in html and 'data-basemap="tianditu"' in html


def test_county_map_embeds_no_user_text_as_markup(client, app):
    store = get_store(app)
    store.update("villages", "VL-000073", user="t", properties={"name": XSS_NAME, "notes": XSS})
    store.update("streetlights", "SL-000001", user="t", properties={"road": XSS})
    for url in ("/", "/townships/BD-000007", "/villages/VL-000073",
                "/features/streetlights/SL-000001", "/features/villages/VL-000073"):  # fmt: skip
        html = page(client, url)
        assert "<img src=x" not in html and "<script>window.__xss" not in html, url
    html = page(client, "/villages/VL-000073")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # in the title, as text


# ------------------------------------------------------------------- township/village


def test_township_page(client):
    html = page(client, f"/townships/{XUEKULUO}")
    assert "<h1>薛圐圙乡" in html
    assert 'href="/">山阴县实事地图</a>' in html  # up to the county
    assert 'id="vw-counts"' in html and 'id="vw-figures"' in html and 'id="vw-trees"' in html
    # The demo's Xuekuluo report: 3,010 Mongolian pines, 60 steel greenhouses.
    assert re.search(r"樟子松</th><td class=\"num\">3,010 株", html)
    assert re.search(r'data-layer="greenhouses">.*?<td class="num">60</td>', html, re.S)
    villages = re.findall(r'<tr data-village="(VL-\d+)">', html)
    assert len(villages) > 5 and 'href="/villages/VL-000073">' in html  # down to a village
    assert 'id="vw-chart-data"' in html and "/static/vendor/chart.js@4.6.1/" in html
    assert "@page { size: A4" in open("webmap/static/css/maps.css", encoding="utf-8").read()


def test_village_page_says_how_its_area_was_found(client, app):
    html = page(client, "/villages/VL-000073")
    assert 'href="/townships/BD-000007">薛圐圙乡</a>' in html
    assert 'id="vw-method"' in html and "泰森多边形" in html
    assert 'id="vw-counts"' in html and "最近一次走访" in html
    drawn = payloads(html)
    assert drawn["streetlights"]["count"] == len(ids(drawn["streetlights"])) > 0
    # With a surveyed boundary the page counts inside it and says so.
    store = get_store(app)
    point = store.get("villages", "VL-000073")["geometry"]["coordinates"]
    x, y = point
    ring = [[x - 0.001, y - 0.001], [x + 0.001, y - 0.001], [x + 0.001, y + 0.001],
            [x - 0.001, y + 0.001], [x - 0.001, y - 0.001]]  # fmt: skip
    store.create("boundaries", {"type": "Polygon", "coordinates": [ring]},
                 {"level": "village", "name": "薛圐圙村"}, user="t")  # fmt: skip
    surveyed = page(client, "/villages/VL-000073?lang=en")
    assert "counted inside the loaded village boundary" in surveyed
    assert len(ids(payloads(surveyed)["streetlights"])) < len(ids(drawn["streetlights"]))


@pytest.mark.parametrize(
    "url", ["/townships/BD-000001", "/townships/nope", "/villages/VL-999999", "/villages/BD-000002"]
)
def test_unknown_places_are_404(client, url):
    assert client.get(url).status_code == 404


# -------------------------------------------------------------------------- feature


def test_feature_page_shows_fields_photos_and_history(client, app):
    html = page(client, "/features/wells/WL-000001")
    assert '<th scope="row">出水量</th>' in html and "立方米/小时" in html
    assert 'id="vw-no-photos"' in html and 'id="vw-history"' in html
    assert 'href="/villages/VL-000103"' in html  # the well's village
    store = get_store(app)
    store.update("wells", "WL-000001", user="zhang", properties={"status": "faulty"})
    store.update("wells", "WL-000001", user="li", properties={"status": "working"})
    html = page(client, "/features/wells/WL-000001?lang=en")
    history = html[html.index('id="vw-history"') :]
    assert history.index(">li<") < history.index(">zhang<") < history.index(">demo<")
    assert "Status: <del>Faulty</del> → Working" in history
    assert history.count("<td>Created</td>") == 1
    ledger = page(client, "/features/ledger/LG-000001?lang=zh")
    assert 'href="/?ledger=LG-000001"' in ledger and "vw-feature-map" not in ledger
    assert (
        '<tr data-field="category"><th scope="row">类别（图层）</th>\n        <td>路灯</td>'
        in ledger
    )


@pytest.mark.parametrize(
    "url", ["/features/nolayer/X", "/features/wells/WL-999999", "/features/streetlights/WL-000001"]
)
def test_unknown_features_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404


# ------------------------------------------------------------------------- bbox API


def test_bbox_api_answers_geojson_with_counts(client, app):
    body = client.get("/api/layers/wells/features?bbox=112,39,113.5,40&limit=5").get_json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] == get_store(app).count("wells")
    some = client.get(
        "/api/layers/streetlights/features?bbox=112,39,113.5,40&status=faulty"
    ).get_json()
    assert {f["properties"]["status"] for f in some["features"]} == {"faulty"}
    town = client.get(f"/api/layers/streetlights/features?township={XUEKULUO}").get_json()
    assert {f["properties"]["township"] for f in town["features"]} == {"薛圐圙乡"}
    none = client.get("/api/layers/wells/features?bbox=100,20,100.1,20.1").get_json()
    assert none["numberMatched"] == 0 and none["features"] == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/layers/nope/features", 404),
        ("/api/layers/ledger/features", 404),
        ("/api/layers/wells/features?bbox=1,2,3", 400),
        ("/api/layers/wells/features?limit=0", 400),
        ("/api/layers/wells/features?village=VL-999999", 400),
    ],
)
def test_bbox_api_errors_are_json(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status


# ---------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_100k_streetlights_are_fetched_not_embedded(client, app):
    # The page's time is a row of scripts/bench.py: map.
    store = get_store(app)
    changes = [
        Change(
            "create",
            geometry={
                "type": "Point",
                "coordinates": [112.45 + (i % 500) * 0.001, 39.2 + (i // 500) * 0.0025],
            },
            properties={"power_source": "solar", "status": "working" if i % 10 else "faulty"},
        )
        for i in range(100_000)
    ]
    store.commit("streetlights", changes, user="bulk", source="test")
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(response.data) < 1_000_000
    lights = payloads(html)["streetlights"]
    # Drawn from vector tiles (#19); the bbox API still serves filtered views.
    assert lights["mode"] == "tiles" and lights["count"] == store.count("streetlights")
    assert lights["tiles"] == "/ogc/collections/streetlights/tiles/WebMercatorQuad/{z}/{x}/{y}"
    body = client.get(
        "/api/layers/streetlights/features?bbox=112.4,39.1,113.1,39.8&limit=3000&sample=even"
    ).get_json()
    assert body["numberReturned"] == 3000 and body["numberMatched"] > 100_000
