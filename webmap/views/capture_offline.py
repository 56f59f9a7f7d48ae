"""What the capture page's map draws without signal (issue #16), for field accounts.

- ``GET /api/capture/reference``: the county and township boundaries, roads and villages
  (``layers.reference_vectors.reference_vectors``), about 50 kB for the demo county. Its
  ETag is the versions of those layers; ``If-None-Match`` gets 304.
- ``GET /api/capture/nearby?layer=<name>&lon=&lat=&radius_m=``: the chosen layer's
  features within ``radius_m`` (default 5000, at most 50000) of the point, nearest first,
  at most 500; without ``lon``/``lat`` around the middle of the county.

The service worker (``static/sw.js``) keeps the reference answer and the last nearby
answer of each layer, refreshing them whenever the phone is online. Both need a field
account, as ``/capture`` does, and are ``private``: shared caches never keep them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request, url_for

from layers.reference_vectors import (
    nearby_features,
    nearby_tag,
    parse_nearby_args,
    reference_tag,
    reference_vectors,
)
from webmap.auth import require_role
from webmap.extensions import get_store
from webmap.i18n import current_lang, translate
from webmap.responses import json_response
from webmap.scriptjson import script_json

bp = Blueprint("capture_offline", __name__)

#: What the service worker may keep for the demo county: the page, its assets, the
#: reference vectors and the nearby works (README, "The capture map offline").
OFFLINE_BUDGET_BYTES = 2 * 1024 * 1024
_JS_KEYS = ("map_ready", "map_missing", "nearby", "nearby_none", "nearby_item")


def _tagged(tag: str, build: Callable[[], Any]) -> Response:
    """304 when the phone holds ``tag`` already, else the JSON ``build()`` makes."""
    etag = f'W/"{tag}"'
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    else:
        response = json_response(build(), 200)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Cookie, Authorization"
    return response


@bp.get("/api/capture/reference")
@require_role("field")
def api_reference() -> Response:
    """Boundaries, roads and villages for the capture map offline."""
    store = get_store()
    return _tagged(reference_tag(store), lambda: reference_vectors(store))


@bp.get("/api/capture/nearby")
@require_role("field")
def api_nearby() -> Response:
    """The chosen layer's features near the worker (``layer``, ``lon``, ``lat``,
    ``radius_m``)."""
    store = get_store()
    layer, lon, lat, radius_m = parse_nearby_args(store, request.args)
    return _tagged(
        nearby_tag(store, layer, lon, lat, radius_m),
        lambda: nearby_features(store, layer, lon, lat, radius_m),
    )


@bp.app_context_processor
def _offline_map_config() -> dict[str, Any]:
    """``capture_offline_json()`` for ``capture.html``: the routes above and the texts of
    the offline map, as JSON for a ``<script type="application/json">`` element."""

    def config() -> str:
        lang = current_lang()
        return script_json(
            {
                "reference": url_for("capture_offline.api_reference"),
                "nearby": url_for("capture_offline.api_nearby"),
                "text": {k: translate(f"offline.js.{k}", lang) for k in _JS_KEYS},
            }
        )

    return {"capture_offline_json": config}
