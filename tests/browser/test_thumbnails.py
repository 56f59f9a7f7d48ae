"""Thumbnails in Chromium (issue #16): a captured work's map popup shows its photo as the
thumbnail (``/photos/<id>/thumb``), linking to the photo."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

HERE = [112.8201, 39.5121]


@pytest.fixture
def app(demo_app, accounts):
    demo_app.config["DEFAULT_BASEMAP"] = "none"
    demo_app.tokens = accounts(demo_app)
    return demo_app


def captured_with_photo(app) -> tuple[str, str]:
    image = Image.new("RGB", (900, 600), (30, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG")
    body = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": HERE},
        "location_source": "map",
        "properties": {"power_source": "solar", "road": "<img src=x onerror=alert(1)>"},
    }
    response = app.test_client().post(
        "/api/capture",
        data={"capture": json.dumps(body), "photos": [(io.BytesIO(out.getvalue()), "灯.jpg")]},
        headers={"Authorization": f"Bearer {app.tokens['field']}", "Idempotency-Key": "thumb-01"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return response.json["id"], response.json["photos"][0]


def popup_images(page) -> list[dict]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.leaflet-popup .vw-popup-photos img'))
            .map((img) => ({src: img.getAttribute('src'), alt: img.alt,
                            href: img.closest('a').getAttribute('href'),
                            loaded: img.complete && img.naturalWidth > 0,
                            height: img.getBoundingClientRect().height}))"""
    )


def test_a_popup_shows_the_thumbnail_of_a_captured_photo(app, live_server_factory, page_checked):
    fid, photo_id = captured_with_photo(app)
    site = live_server_factory(app)
    page = page_checked.page
    page.set_default_timeout(60_000)  # a busy 2-core machine: the map page's assets
    page.goto(site + "/?lang=en", wait_until="load")
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    page.evaluate(
        """(fid) => {
            const state = vw.maps[vw.maps.length - 1];
            const f = state.byName.streetlights.features.find((x) => x.id === fid);
            state.map.setView(f.leaflet.getLatLng(), 18, {animate: false});
            f.leaflet.openPopup();
        }""",
        fid,
    )
    images: list[dict] = []
    for _ in range(50):  # poll: the popup asks for its photos when it opens
        images = popup_images(page)
        if images and images[0]["loaded"]:
            break
        page.wait_for_timeout(100)
    assert len(images) == 1, images
    assert images[0]["src"] == f"/photos/{photo_id}/thumb"
    assert images[0]["href"] == f"/photos/{photo_id}"
    assert images[0]["loaded"] and 0 < images[0]["height"] <= 80
    assert images[0]["alt"].startswith("Photo 1 of ")
    assert page.evaluate("() => window.__xss") is None
    # A popup of a feature without photos asks too, and shows none (no failed load).
    page.evaluate(
        """() => {
            const state = vw.maps[vw.maps.length - 1];
            state.byName.wells.features[0].leaflet.openPopup();
        }"""
    )
    page.wait_for_timeout(300)
    assert popup_images(page) == []
