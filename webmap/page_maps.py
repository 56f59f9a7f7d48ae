"""What every page with a map shares: the county snapshot, URL templates, the map of a
page (Folium parts, legend, basemaps) with lines and polygons simplified for display,
the assets pages link, and a feature's photos.

Views import these; no view imports another view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from flask import current_app, request, url_for

from geo.simplify import MIN_VERTICES, display_tolerance_deg, simplify_for_display
from layers.county_view import county_snapshot
from layers.photos import PhotoStore
from webmap import mapdata
from webmap.assets import chart_js_url
from webmap.extensions import get_store
from webmap.i18n import current_lang, translate
from webmap.maps import MapUrls, MapView, build_map, legend, render_parts, static_link

_PLACEHOLDER = "__vw__"


def map_assets() -> dict[str, Any]:
    """What templates with a map link: county name, chart and page scripts, map CSS."""
    urls = page_urls()
    county = snapshot().places.county
    return {
        "county_name": county.name if county is not None and county.name else "",
        "chart_js": chart_js_url(urls.static + "/vendor"),
        "charts_js": static_link(urls, "js/charts.js"),
        "page_js": static_link(urls, "js/page.js"),
        "maps_css": static_link(urls, "css/maps.css"),
    }


def snapshot() -> mapdata.Snapshot:
    """The current app's snapshot of every layer, rebuilt when a layer's version moves."""
    return county_snapshot(get_store(), dt.date.today(), mapdata.ref_titles)


def page_urls() -> MapUrls:
    """URL templates of this app (works under any script root)."""

    def template(endpoint: str, **values: str) -> str:
        url = url_for(endpoint, **{k: _PLACEHOLDER + k for k in values})
        for k in values:
            url = url.replace(_PLACEHOLDER + k, "{" + values[k] + "}")
        return url

    return MapUrls(
        feature=template("maps.feature", layer="layer", fid="id"),
        village=template("maps.village", village_id="id"),
        township=template("maps.township", township_id="id"),
        api=template("api_features.features", layer="layer"),
        tiles=template("ogc.tile", collection_id="layer", tms="m", z="z", x="x", y="y").replace(
            "{m}", "WebMercatorQuad"
        ),
        static=url_for("static", filename="").rstrip("/"),
    )


def map_view(snap: mapdata.Snapshot, filters: mapdata.Filters, **options: Any) -> MapView:
    """The view options of a page's map: language, basemap, titles, URLs, ``options``."""
    config = current_app.config
    key = config.get("TIANDITU_KEY", "")
    basemap = mapdata.choose_basemap(request.args.get("basemap"), config["DEFAULT_BASEMAP"], key)
    return MapView(
        lang=current_lang(),
        basemap=basemap,
        tianditu_key=key,
        embed_max_features=int(config["EMBED_MAX_FEATURES"]),
        filters=filters,
        titles=snap.titles,
        urls=page_urls(),
        **options,
    )


def map_page(layers: list[mapdata.MapLayer], view: MapView) -> dict[str, Any]:
    """The template values of a page's map: Folium parts, legend, basemaps."""
    layers = display_layers(layers, view.bounds)
    return {
        "parts": render_parts(build_map(layers, view)),
        "legend": legend(layers, view),
        "basemap": view.basemap,
        "basemaps": mapdata.offered_basemaps(view.tianditu_key),
    }


def display_layers(
    layers: list[mapdata.MapLayer], bounds: tuple[float, float, float, float] | None
) -> list[mapdata.MapLayer]:
    """``layers`` with their lines and polygons simplified for drawing a view of
    ``bounds`` (``geo.simplify``): the page draws them, the stored features are unchanged.
    A layer without a shape of more than ``MIN_VERTICES`` vertices is passed on as is."""
    tolerance = display_tolerance_deg(bounds)
    out = []
    for layer in layers:
        frame = layer.frame
        if tolerance and len(frame) and isinstance(frame, gpd.GeoDataFrame):
            geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
            if (shapely.get_num_coordinates(geoms) > MIN_VERTICES).any():
                shown = simplify_for_display(geoms, tolerance)
                frame = frame.copy()
                frame[frame.geometry.name] = gpd.GeoSeries(shown, index=frame.index, crs=frame.crs)
                layer = replace(layer, frame=frame)
        out.append(layer)
    return out


def feature_photos(
    layer: str, feature: dict[str, Any], lang: str, title: str
) -> list[dict[str, Any]]:
    """The photos of a feature page: those captured with it (a thumbnail linking to the
    photo, both served by the app), then the links of its ``photos`` property."""
    out: list[dict[str, Any]] = []
    for photo in PhotoStore(get_store().files).for_feature(layer, str(feature["id"])):
        if "kind" not in photo:
            continue  # a link to a record that is gone
        n = len(out) + 1
        taken = (photo.get("exif") or {}).get("taken_at")
        alt = (
            translate("maps.feature.photo_alt_taken", lang, n=n, title=title, date=taken[:10])
            if taken
            else translate("maps.feature.photo_alt_of", lang, n=n, title=title)
        )
        out.append(
            {
                "url": url_for("capture.photo", photo_id=photo["id"]),
                "thumb": url_for("maps.photo_thumb", photo_id=photo["id"]),
                "local": True,
                "alt": alt,
                "width": photo.get("width"),
                "height": photo.get("height"),
            }
        )
    for link in mapdata.photo_links(feature.get("properties") or {}):
        n = len(out) + 1
        alt = translate("maps.feature.photo_alt_of", lang, n=n, title=title)
        out.append({"url": link.url, "thumb": link.url, "local": link.local, "alt": alt})
    return out
