"""webmap.http_cache: immutable versioned static files; ETag and 304 on map pages and
OGC items, keyed on layer versions and on what else changes the answer."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import shapely

from webmap.extensions import get_store
from webmap.http_cache import IMMUTABLE_CACHE, UNVERSIONED_CACHE

STATIC = Path(__file__).resolve().parents[2] / "webmap" / "static"
GZ = {"Accept-Encoding": "gzip"}
STATIC_URL = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")
NONCE = re.compile(r'<script nonce="([^"]+)"')


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def _touch_villages(app) -> None:
    store = get_store(app)
    village = store.features("villages")[0]
    store.update("villages", village["id"], properties={"name": "改名村"}, user="test")


def test_every_static_url_of_the_county_map_is_versioned_and_immutable(client):
    html = client.get("/").get_data(as_text=True)
    urls = sorted(set(STATIC_URL.findall(html)))
    assert len(urls) >= 10
    for url in urls:
        parts = urlsplit(url)
        version = parse_qs(parts.query).get("v", [""])[0]
        assert version, f"{url} carries no content hash"
        content = (STATIC / parts.path.removeprefix("/static/")).read_bytes()
        assert hashlib.sha256(content).hexdigest().startswith(version), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == IMMUTABLE_CACHE, url


def test_unversioned_and_outdated_static_urls_get_a_short_cache(client):
    bare = client.get("/static/app.css")
    assert bare.status_code == 200
    assert bare.headers["Cache-Control"] == UNVERSIONED_CACHE
    old = client.get("/static/app.css?v=000000000000")
    assert old.status_code == 200
    assert old.headers["Cache-Control"] == UNVERSIONED_CACHE
    assert "immutable" not in old.headers["Cache-Control"]


def test_county_map_answers_304_to_its_etag_with_the_same_nonce(client):
    first = client.get("/", headers=GZ)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/", headers={**GZ, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.data == b""
    # The kept page's inline scripts run under the policy the 304 brings.
    page = client.get("/").get_data(as_text=True)
    nonce = NONCE.search(page).group(1)
    assert f"'nonce-{nonce}'" in again.headers["Content-Security-Policy"]
    assert f"'nonce-{nonce}'" in first.headers["Content-Security-Policy"]
    # leaflet-measure needs 'unsafe-eval': the 304's policy keeps it.
    assert "'unsafe-eval'" in first.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" in again.headers["Content-Security-Policy"]


def test_map_page_etag_moves_with_a_layer_version(demo_app, client):
    tag = client.get("/").headers["ETag"]
    _touch_villages(demo_app)
    after = client.get("/", headers={"If-None-Match": tag})
    assert after.status_code == 200
    assert after.headers["ETag"] != tag
    assert "改名村" in after.get_data(as_text=True)


@pytest.mark.parametrize("other", ["/?lang=en", "/?basemap=none", "/?status=planned"])
def test_map_page_etag_differs_per_language_and_query(client, other):
    tag = client.get("/").headers["ETag"]
    response = client.get(other, headers={"If-None-Match": tag})
    assert response.status_code == 200
    assert response.headers["ETag"] != tag


def test_map_page_etag_differs_per_account(demo_app, client, accounts):
    tokens = accounts(demo_app)
    anonymous = client.get("/").headers["ETag"]
    planner = {"Authorization": f"Bearer {tokens['planner']}"}
    signed_in = client.get("/", headers={**planner, "If-None-Match": anonymous})
    assert signed_in.status_code == 200
    assert signed_in.headers["ETag"] != anonymous
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    as_viewer = client.get("/", headers={**viewer, "If-None-Match": signed_in.headers["ETag"]})
    assert as_viewer.status_code == 200


def test_township_and_village_pages_answer_304(demo_app, client):
    store = get_store(demo_app)
    township = store.features("townships")[0]["id"] if "townships" in store.layer_names() else None
    village = store.features("villages")[0]["id"]
    pages = [f"/villages/{village}"] + ([f"/townships/{township}"] if township else [])
    for url in pages:
        first = client.get(url)
        if first.status_code != 200:
            continue
        tag = first.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 304, url


def test_ogc_items_etag_and_304(demo_app, client):
    url = "/ogc/collections/villages/items?limit=20"
    first = client.get(url, headers=GZ)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert tag.endswith('-gz"')
    assert client.get(url, headers={**GZ, "If-None-Match": tag}).status_code == 304
    # Another page or another language is another answer.
    assert client.get(url + "&offset=20", headers={"If-None-Match": tag}).status_code == 200
    assert client.get(url + "&lang=en", headers={"If-None-Match": tag}).status_code == 200
    _touch_villages(demo_app)
    assert client.get(url, headers={**GZ, "If-None-Match": tag}).status_code == 200


def test_ogc_item_revalidates_with_the_gzip_tag(demo_app, client):
    store = get_store(demo_app)
    layer = max(store.layer_names(), key=lambda n: len(str(store.features(n)[:1])))
    fid = store.features(layer)[0]["id"]
    url = f"/ogc/collections/{layer}/items/{fid}"
    first = client.get(url, headers=GZ)
    assert first.status_code == 200
    again = client.get(url, headers={**GZ, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_geometry_change_also_moves_the_items_etag(demo_app, client):
    url = "/ogc/collections/villages/items?limit=5"
    tag = client.get(url).headers["ETag"]
    store = get_store(demo_app)
    village = store.features("villages")[0]
    moved = shapely.Point(*[c + 0.0001 for c in village["geometry"]["coordinates"][:2]])
    store.update("villages", village["id"], geometry=moved, user="test")
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 200


def test_the_map_loads_only_the_icons_it_uses(client):
    html = client.get("/").get_data(as_text=True)
    assert "all.min.css" not in html
    assert "fa-solid-900" not in html
    (subset,) = [u for u in STATIC_URL.findall(html) if "vw-icons.css" in u]
    css = client.get(subset).get_data(as_text=True)
    # The locate control's icons (leaflet.locatecontrol's defaults) with their font inline.
    for rule in (".fa-map-marker:before", ".fa-spinner:before", "@keyframes fa-spin"):
        assert rule in css
    assert "url(data:font/woff;base64," in css
    assert "../webfonts/" not in css
    assert len(css) < 8000
