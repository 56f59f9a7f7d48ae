"""Field capture on a phone: the page, its JSON endpoint, photos, and the offline shell.

- ``GET /capture``: the form, built from the layer specs, with a map and "use my location".
- ``POST /api/capture``: one feature (JSON or multipart with photos; ``photo_crs``
  ``wgs84`` or ``gcj02`` says what the photos' EXIF positions are in); send an
  ``Idempotency-Key`` header so a retried capture lands once.
- ``GET /api/capture/returned``: the signed-in account's works that planners returned
  (layer, id, title, comment, the link that corrects them). The page fetches it: the
  service worker keeps the page itself for offline use, so the page holds no one's data
  and this answer is never stored (``Cache-Control: no-store``).
- ``GET /photos/<id>``: a stored photo (its thumbnail: ``/photos/<id>/thumb``).
- ``GET /features/<layer>/<id>/photos.json``: a feature's photos for its map popup.
- ``GET /sw.js`` and ``GET /manifest.webmanifest``: the service worker (at the root, so its
  scope covers ``/capture``) and the web app manifest that make the page installable and
  usable offline.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from layers.capture import Capture, capture_feature, capture_layers, check_key
from layers.errors import BadRequest, DataDamaged, Forbidden, NotFound
from layers.photos import MIME_TYPES, PhotoStore
from layers.places import where_is
from layers.returned import returned_to
from layers.specs import LayerSpec
from webmap.auth import current_user, require_role, user_name
from webmap.display import feature_title
from webmap.extensions import get_settings, get_store
from webmap.forms import input_kind, map_setup, ref_choices
from webmap.i18n import current_lang, translate
from webmap.page_maps import feature_photos, snapshot
from webmap.photo_response import photo_response
from webmap.responses import json_response
from webmap.scriptjson import script_json
from webmap.write_rights import require_write, writable

bp = Blueprint("capture", __name__)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_JS_KEYS = (
    "offline",
    "online",
    "queued",
    "sending",
    "sent",
    "failed",
    "no_location",
    "accuracy",
    "accuracy_over",
    "located",
    "placed_on_map",
    "from_photo",
    "geo_denied",
    "geo_unavailable",
    "discard",
    "retry",
    "queue_empty",
    "invalid",
    "returned_none",
    "returned_offline",
    "returned_fix",
    "returned_comment",
    "place_filled",
)


def _page_config(layers: list[LayerSpec], lang: str) -> dict[str, Any]:
    return {
        **map_setup(lang),
        "api": url_for("capture.api_capture"),
        "returned": url_for("capture.api_returned"),
        "place": url_for("capture.api_place"),
        "sw": url_for("capture.service_worker"),
        "layers": {
            s.name: {"label": s.label_in(lang), "accuracy_limit_m": s.accuracy_limit_m}
            for s in layers
        },
        "text": {k: translate(f"capture.js.{k}", lang) for k in _JS_KEYS},
    }


@bp.get("/capture")
def capture_page() -> Any:
    """The capture form (field staff); visitors are sent to the login page first."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not user.can("field"):
        raise Forbidden()
    lang = current_lang()
    layers = writable(capture_layers(get_store()))
    return render_template(
        "capture.html",
        layers=layers,
        refs={s.name: ref_choices(s) for s in layers},
        input_kind=input_kind,
        config_json=script_json(_page_config(layers, lang)),
    )


def _capture_from_request() -> Capture:
    """The capture in the request body: JSON, or multipart with ``capture`` + ``photos``."""
    form_crs = None
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("capture", "")
        files = request.files.getlist("photos")
        photos = [(f.filename or "photo", f.read()) for f in files if f]
        form_crs = request.form.get("photo_crs")
    else:
        raw = request.get_data(as_text=True)
        photos = []
    try:
        body = orjson.loads(raw or "null")
    except orjson.JSONDecodeError:
        raise BadRequest("capture_bad_payload", value="JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("layer"), str):
        raise BadRequest("capture_bad_payload", value="layer")
    props = body.get("properties") or {}
    accuracy = body.get("accuracy_m")
    if not isinstance(props, dict) or not (
        accuracy is None or (isinstance(accuracy, int | float) and accuracy >= 0)
    ):
        raise BadRequest("capture_bad_payload", value="properties/accuracy_m")
    return Capture(
        layer=body["layer"],
        properties=props,
        geometry=body.get("geometry"),
        accuracy_m=float(accuracy) if accuracy is not None else None,
        location_source=str(body.get("location_source") or ""),
        accept_low_accuracy=body.get("accept_low_accuracy") is True,
        photos=photos,
        # A form field beside the photos, or a key of the JSON body; WGS84 when absent.
        photo_crs=str(form_crs or body.get("photo_crs") or "wgs84").strip().lower(),
        max_photo_pixels=get_settings().max_photo_pixels,
    )


@bp.post("/api/capture")
@require_role("field")
def api_capture() -> Response:
    """Store one captured feature; 201 when new, 200 when the same key came before."""
    key = check_key(request.headers.get("Idempotency-Key"))
    capture = _capture_from_request()
    require_write(capture.layer)
    result = capture_feature(
        get_store(),
        capture,
        user=user_name(),
        idempotency_key=key,
        margin_m=float(current_app.config["AREA_MARGIN_M"]),
    )
    body = result.as_dict(current_lang())
    body["photo_urls"] = [url_for("capture.photo", photo_id=p) for p in result.photo_ids]
    return json_response(body, 200 if result.replayed else 201)


@bp.get("/api/capture/returned")
@require_role("field")
def api_returned() -> Response:
    """The works returned to this account, newest decision first, each with its layer's
    name, the planner's comment and the feature page's edit form to correct it."""
    user = current_user()
    assert user is not None  # require_role
    lang = current_lang()
    store = get_store()
    items = []
    for row in returned_to(store, user.name):
        spec = store.spec(row.layer)
        query = {"lang": "en"} if lang == "en" else {}
        link = url_for("maps.feature", layer=row.layer, fid=row.id, **query) + "#vw-edit"
        items.append({**row.as_dict(), "layer_label": spec.label_in(lang), "url": link})
    response = json_response({"user": user.name, "returned": items}, 200)
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/api/capture/place")
@require_role("field")
def api_place() -> Response:
    """The township and village at ``lon``, ``lat`` (WGS84): the township by its boundary,
    the village by the area the village pages count in (its boundary, or the cell of the
    nearest village), so a phone fills both in for the worker to check."""
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
    except (KeyError, ValueError):
        raise BadRequest("bad_request", value="lon, lat") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest("bad_request", value=f"{lon}, {lat}"[:60])
    point = {"geometry": {"type": "Point", "coordinates": [lon, lat]}}
    township, village = where_is(snapshot().places, point)
    body = {
        "township": {"id": township.id, "name": township.name} if township else None,
        "village": {"id": village.id, "name": village.name} if village else None,
    }
    response = json_response(body, 200)
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/photos/<photo_id>")
def photo(photo_id: str) -> BaseResponse:
    """A stored photo, served with its checked type and no sniffing; ``?size=thumb``
    serves its thumbnail, as ``/photos/<id>/thumb`` does."""
    photos = PhotoStore(get_store().files)
    name = photos.name(photo_id)
    meta = photos.meta(photo_id)
    if name is None or meta is None:
        raise NotFound("not_found", what="photo", value=photo_id[:40])
    thumb = photos.thumb_name(photo_id) if request.args.get("size") == "thumb" else None
    if thumb is not None:
        return photo_response(photos, thumb, "image/jpeg", f"{photo_id}-thumb")
    return photo_response(photos, name, MIME_TYPES[meta["kind"]], photo_id)


@bp.get("/features/<layer>/<fid>/photos.json")
def feature_photos_json(layer: str, fid: str) -> Response:
    """The photos the app keeps of one feature, for its map popup: each one's thumbnail,
    photo and alt text. An empty list (never 404) for a layer or feature without any, so
    a popup asks without knowing whether there are photos."""
    store = get_store()
    lang = current_lang()
    photos: list[dict[str, Any]] = []
    try:
        spec = store.spec(layer)
        found = store.get(layer, fid)
    except (NotFound, DataDamaged):
        found = None
    if found is not None:
        title = feature_title(spec, found, lang)
        shown = feature_photos(layer, found, lang, title)
        photos = [
            {"url": p["url"], "thumb": p["thumb"], "alt": p["alt"]} for p in shown if p["local"]
        ]
    response = json_response({"photos": photos}, 200)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/sw.js")
def service_worker() -> BaseResponse:
    """The service worker, from the site root so that its scope covers ``/capture``."""
    response = send_file(STATIC_DIR / "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> BaseResponse:
    """The web app manifest (installable capture page)."""
    response = send_file(
        STATIC_DIR / "manifest.webmanifest", mimetype="application/manifest+json", max_age=3600
    )
    return response
