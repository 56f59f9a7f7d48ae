"""The bbox API map pages fetch large layers from: what is in view, filtered, as GeoJSON.

``GET /api/layers/<layer>/features?bbox=minx,miny,maxx,maxy&limit=&offset=&sample=even
&coords=gcj02&status=&township=&village=&from=&to=&ledger=``

The filters are the map page's (:class:`webmap.mapdata.Filters`); ``sample=even`` spreads
the ``limit`` features over everything matched instead of taking the first ones, so a
zoomed-out view of a dense layer still shows its shape. Errors use the app's JSON shape.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request

from layers.errors import NotFound
from webmap import mapdata
from webmap.extensions import get_county_view as snapshot
from webmap.extensions import get_store
from webmap.maps import features_in_view, overlay_in_view

bp = Blueprint("api_features", __name__)


@bp.get("/api/layers/<layer>/features")
def features(layer: str) -> Response:
    """Features of ``layer`` in a box, as a GeoJSON FeatureCollection with numberMatched.

    ``layer`` may also name a gap overlay of the map snapshot (``gap_dark_roads`` ...),
    which a map page fetches instead of embedding once it is large.
    """
    store = get_store()
    overlay = snapshot().gaps.get(layer) if layer not in store.specs else None
    if overlay is not None:
        return _overlay(overlay)
    spec = store.spec(layer)
    if not spec.spatial:
        raise NotFound("unknown_layer", value=layer)
    max_limit = int(current_app.config.get("OGC_MAX_LIMIT", 10000))
    query = mapdata.parse_feature_query(request.args, max_limit)
    filters = mapdata.parse_filters(request.args, [])
    places = snapshot().places if filters.township or filters.village else None
    if places is not None:
        places.check(filters)
    area = places.area_of(filters) if places is not None else None
    body = features_in_view(store, spec, filters, query, area)
    return _json(body)


def _overlay(overlay: mapdata.Overlay) -> Response:
    max_limit = int(current_app.config.get("OGC_MAX_LIMIT", 10000))
    query = mapdata.parse_feature_query(request.args, max_limit)
    filters = mapdata.parse_filters(request.args, [])
    places = snapshot().places
    places.check(filters)
    area = places.area_of(filters)
    return _json(overlay_in_view(overlay.frame, overlay.spec, overlay.link_id, query, area))


def _json(body: dict[str, object]) -> Response:
    response = Response(orjson.dumps(body), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "no-store"
    return response
