"""Write routes of the OGC API (Part 4: create, replace, update, delete).

- ``POST   /ogc/collections/{c}/items``       role ``field``: 201, Location, ETag
- ``PUT    /ogc/collections/{c}/items/{id}``  role ``planner``: replace the feature
- ``PATCH  /ogc/collections/{c}/items/{id}``  role ``planner``: JSON Merge Patch (RFC 7396)
- ``DELETE /ogc/collections/{c}/items/{id}``  role ``planner``: soft delete, 204

and on every one at least the collection's ``write_role`` (``webmap/write_rights.py``:
``planner`` for the ledger and reference layers), else 403 naming the role needed. An
account limited to townships gets 403 for a feature outside them, before or after the
change (the message names its townships and the feature's).

Review (验收): a work created by a field account is ``submitted``, one written by a
planner ``approved``. A planner of the feature's township decides with a PATCH of
``review`` (``approved``, ``returned``, ``rejected`` or back to ``submitted``) and
``review_comment`` (needed to return or reject: 422 without); a field account that sends
``review`` gets 403. Each decision is in the feature's history (``layers.review``).

The ETag of a feature is its version. ``If-Match`` is optional; when sent it must match
(else 412), and the store checks it again under the layer lock, so two editors cannot
overwrite each other. Geometry comes in CRS84 unless a ``Content-Crs`` header says
otherwise (any CRS the collection offers). Validation is the store's change planner
(types, enums, geometry types, and the location checks of uploads with the AREA_MARGIN_M
setting; 422 with every problem). A feature duplicating an existing one is refused
(``?duplicates=skip``, as an upload does by default) or kept with a warning
(``?duplicates=keep``, the default; the codes in the ``VillageWorks-Warnings`` header).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import UnsupportedMediaType

from geo.problems import Problem
from layers.errors import BadRequest, Conflict, ValidationFailed
from layers.store_base import BaseStore, Change, CommitResult
from webmap.auth import require_role, user_name
from webmap.extensions import get_store
from webmap.i18n import translate
from webmap.ogc import crs as ogc_crs
from webmap.ogc import documents as docs
from webmap.ogc.routes import content_crs, etag, json_response, layer_spec
from webmap.write_rights import require_write

bp = Blueprint("ogc_write", __name__, url_prefix="/ogc")
SOURCE = "ogcapi"
MERGE_PATCH = "application/merge-patch+json"
_MAX_IDEMPOTENCY_KEY = 200
_VERSION_TAG = re.compile(r"[0-9]{1,18}")


def read_json_body() -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    try:
        body = orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError:
        raise BadRequest(value="the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest(value="the body must be a JSON object")
    return body


def read_feature(feature_id: str | None = None) -> dict[str, Any]:
    """A GeoJSON Feature from the body (its id, if any, must be ``feature_id``)."""
    body = read_json_body()
    if body.get("type") != "Feature":
        raise BadRequest(value="the body must be a GeoJSON Feature")
    if not isinstance(body.get("properties") or {}, dict):
        raise BadRequest(value="properties must be a JSON object")
    sent_id = body.get("id")
    if feature_id is not None and sent_id not in (None, "") and str(sent_id) != feature_id:
        raise BadRequest(value=f"the body's id {sent_id!r} is not {feature_id!r}")
    return body


def incoming_crs(collection_id: str) -> str:
    """The CRS of geometries in the body: the Content-Crs header, CRS84 by default."""
    header = request.headers.get("Content-Crs", "").strip().strip("<>").strip()
    if not header:
        return ogc_crs.CRS84  # no need for the collection's metadata (rebuilt per version)
    store = get_store()
    meta = docs.collection_meta(store, store.spec(collection_id))
    return ogc_crs.choose(header or None, meta.crs, "Content-Crs")


def incoming_geometry(collection_id: str, geometry: Any) -> Any:
    """A body's geometry as lon/lat (the store checks its type and validity)."""
    if geometry is None:
        return None
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise BadRequest(value="geometry must be a GeoJSON geometry object or null")
    uri = incoming_crs(collection_id)
    try:
        return ogc_crs.geometry_to_crs84(geometry, uri)
    except (TypeError, ValueError, KeyError, IndexError):
        raise BadRequest(value="geometry coordinates are malformed") from None


def _if_match_tags() -> list[str] | None:
    """The entity tags of ``If-Match`` (None: no header or ``*``); 400 when the header is
    not ``*`` or a list of quoted (or bare) tags: an empty tag, a lone quote or comma,
    ``*`` inside a list."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    if header.strip() == "*":
        return None
    tags = request.if_match
    sent = tags.as_set(include_weak=True)
    if tags.star_tag or not sent or None in sent or "" in sent or "*" in sent:
        raise BadRequest(value=translate("ogc.if_match_malformed"))
    return sorted(str(t).removesuffix("-gz") for t in sent)  # the gzip answer's tag too


def if_match_version(store: BaseStore, layer: str, feature_id: str) -> int | None:
    """The version the client's ``If-Match`` asks for (None: no condition); 412 at once
    when none of several ETags matches, 400 when the header cannot be parsed."""
    sent = _if_match_tags()
    if sent is None:
        return None
    versions = {int(t) for t in sent if _VERSION_TAG.fullmatch(t)}
    current = int(store.require(layer, feature_id)["properties"].get("version", 1))
    if len(sent) == 1 and versions:
        return versions.pop()
    if current not in versions:
        shown = ", ".join(sent)
        raise Conflict(current=current, expected=shown if len(shown) <= 80 else shown[:77] + "...")
    return current


def with_location_rules(change: Change) -> Change:
    """``change`` with the working-area margin of the settings (AREA_MARGIN_M): the
    store's change planner checks the location of every geometry it is given."""
    change.margin_m = float(current_app.config["AREA_MARGIN_M"])
    return change


def duplicates_policy() -> str:
    """What to do with a feature as close to an existing one as an upload's duplicates:
    ``keep`` (the default: written, the warning in the ``VillageWorks-Warnings`` header) or
    ``skip`` (as an upload does by default: nothing is written, 422)."""
    policy = request.args.get("duplicates", "keep")
    if policy not in ("skip", "keep"):
        raise BadRequest(value="duplicates must be skip or keep")
    return policy


def commit_change(
    store: BaseStore, layer: str, change: Change, idempotency_key: str | None = None
) -> CommitResult:
    """Validate (store rules and location checks, all problems at once) and commit."""
    change = with_location_rules(change)
    if change.geometry is not None and duplicates_policy() == "skip":
        checked = store.commit(layer, [change], user=user_name(), source=SOURCE, dry_run=True)
        duplicates = [p for p in checked.warnings if p.code.startswith("duplicate_")]
        if duplicates:
            raise ValidationFailed([dataclasses.replace(p, severity="error") for p in duplicates])
    return store.commit(
        layer, [change], user=user_name(), source=SOURCE, idempotency_key=idempotency_key
    )


def feature_response(layer: str, result: CommitResult, status: int = 200) -> Response:
    """The changed feature with its new ETag (and Location for a new one); the codes of
    its warnings (a duplicate) in ``VillageWorks-Warnings``."""
    (feature,) = docs.with_every_field(get_store().spec(layer), result.features[:1])
    headers = {"ETag": etag(feature), **content_crs(ogc_crs.CRS84)}
    if result.warnings:
        headers["VillageWorks-Warnings"] = ", ".join(sorted({p.code for p in result.warnings}))
    if status == 201:
        headers["Location"] = url_for(
            "ogc.item", collection_id=layer, feature_id=feature["id"], _external=True
        )
    return json_response(docs.feature(layer, feature), docs.GEOJSON, status, headers)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > _MAX_IDEMPOTENCY_KEY:
        raise BadRequest(value="Idempotency-Key is too long")
    return f"{user_name()}:{key}"


@bp.post("/collections/<collection_id>/items")
@require_role("field")
def create(collection_id: str) -> Response:
    """Add a feature; the server assigns its id."""
    store = get_store()
    spec = require_write(collection_id)
    body = read_feature()
    change = Change(
        "create",
        geometry=incoming_geometry(spec.name, body.get("geometry")),
        properties=body.get("properties") or {},
    )
    result = commit_change(store, spec.name, change, _idempotency_key())
    return feature_response(spec.name, result, 201)


@bp.put("/collections/<collection_id>/items/<feature_id>")
@require_role("planner")
def replace(collection_id: str, feature_id: str) -> Response:
    """Replace every property and the geometry of a feature."""
    store = get_store()
    spec = require_write(collection_id)
    body = read_feature(feature_id)
    change = Change(
        "replace",
        id=feature_id,
        geometry=incoming_geometry(spec.name, body.get("geometry")),
        properties=body.get("properties") or {},
        if_version=if_match_version(store, spec.name, feature_id),
    )
    return feature_response(spec.name, commit_change(store, spec.name, change))


def _patch_problems(collection_id: str, body: dict[str, Any]) -> list[Problem]:
    """A merge patch removing the geometry (a change cannot say that; the planner
    checks everything else, including a required field set to null)."""
    spec = layer_spec(collection_id)
    if "geometry" in body and body["geometry"] is None and spec.spatial:
        return [Problem("geometry_missing", row=1, params={"row": 1})]
    return []


@bp.patch("/collections/<collection_id>/items/<feature_id>")
@require_role("planner")
def update(collection_id: str, feature_id: str) -> Response:
    """Change some properties and/or the geometry (JSON Merge Patch: null removes)."""
    if request.mimetype not in (MERGE_PATCH, docs.JSON, docs.GEOJSON):
        raise UnsupportedMediaType(f"send {MERGE_PATCH}")
    store = get_store()
    spec = require_write(collection_id)
    body = read_json_body()
    if not isinstance(body.get("properties") or {}, dict):
        raise BadRequest(value="properties must be a JSON object")
    problems = _patch_problems(spec.name, body)
    if problems:
        raise ValidationFailed(problems)
    store.require(spec.name, feature_id)
    change = Change(
        "update",
        id=feature_id,
        geometry=incoming_geometry(spec.name, body.get("geometry")),
        properties=body.get("properties") or {},
        if_version=if_match_version(store, spec.name, feature_id),
    )
    return feature_response(spec.name, commit_change(store, spec.name, change))


@bp.delete("/collections/<collection_id>/items/<feature_id>")
@require_role("planner")
def delete(collection_id: str, feature_id: str) -> Response:
    """Delete a feature (soft: its history stays and it can be restored)."""
    store = get_store()
    spec = require_write(collection_id)
    version = if_match_version(store, spec.name, feature_id)
    store.delete(spec.name, feature_id, user=user_name(), if_version=version, source=SOURCE)
    return Response(status=204)
