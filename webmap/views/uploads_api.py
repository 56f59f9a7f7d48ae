"""The uploads API: POST /api/uploads, GET /api/uploads[/<id>], POST /api/uploads/<id>/undo."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from layers.errors import BadRequest
from layers.uploads import UploadLog, UploadOptions, run_upload, undo_upload
from webmap.app import get_store
from webmap.auth import require_role, user_name
from webmap.i18n import current_lang

bp = Blueprint("uploads_api", __name__, url_prefix="/api/uploads")


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response made with orjson (NaN-safe)."""
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _pairs(text: str | None) -> dict[str, str]:
    """``a=1;b=2`` or a JSON object -> dict."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("bad_upload_option", field="defaults", value=text[:80]) from exc
        if not isinstance(value, dict):
            raise BadRequest("bad_upload_option", field="defaults", value=text[:80])
        return {str(k): v for k, v in value.items()}
    pairs = {}
    for item in text.split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def options_from_form(form: Any) -> UploadOptions:
    """Upload options from form fields (shared with the upload page)."""
    layer = (form.get("layer") or "").strip()
    if not layer:
        raise BadRequest("bad_upload_option", field="layer", value="")
    dry = (form.get("dry_run") or "").lower() in ("1", "true", "yes", "on")
    try:
        margin = float(form.get("margin_m") or current_app.config["AREA_MARGIN_M"])
    except ValueError as exc:
        raise BadRequest("bad_upload_option", field="margin_m", value=form.get("margin_m")) from exc
    return UploadOptions(
        layer=layer,
        crs=(form.get("crs") or "auto").strip(),
        dry_run=dry,
        defaults=_pairs(form.get("defaults")),
        column_map=_pairs(form.get("column_map")),
        on_duplicate=(form.get("duplicates") or "skip").strip(),
        margin_m=margin,
        encoding=form.get("encoding") or None,
        idempotency_key=request.headers.get("Idempotency-Key") or None,
    )


@bp.post("")
@require_role("field")
def create_upload() -> Response:
    """Read, check and (unless ``dry_run``) commit a file; returns the report."""
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("bad_upload_option", field="file", value="")
    options = options_from_form(request.form)
    data = upload.read()
    report = run_upload(
        get_store(),
        data,
        upload.filename or "upload",
        options,
        user=user_name(),
        max_bytes=int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024,
    )
    status = 200 if options.dry_run or report.upload_id is None else 201
    return json_response(report.as_dict(current_lang(), with_features=options.dry_run), status)


@bp.get("")
@require_role("viewer")
def list_uploads() -> Response:
    """Every upload, newest first."""
    return json_response({"uploads": UploadLog(get_store().data_dir).list()})


@bp.get("/<upload_id>")
@require_role("viewer")
def get_upload(upload_id: str) -> Response:
    """One upload's record."""
    return json_response(UploadLog(get_store().data_dir).get(upload_id))


@bp.post("/<upload_id>/undo")
@require_role("planner")
def undo(upload_id: str) -> Response:
    """Soft-delete every feature the upload created (planners only)."""
    return json_response(undo_upload(get_store(), upload_id, user=user_name()))
