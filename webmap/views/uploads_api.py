"""The uploads API: POST /api/uploads, GET /api/uploads[/<id>], POST /api/uploads/<id>/undo.

``POST /api/uploads`` takes multipart ``file`` plus fields ``layer``, ``crs`` (optional,
default ``auto``), ``dry_run``, ``defaults`` (``a=1;b=2`` or a JSON object),
``column_map``, ``duplicates`` (skip/keep/merge), ``swap_xy``, ``skip_rejected``,
``encoding`` and ``sheet`` (the sheet of an .xlsx to read; also a query parameter); an
``Idempotency-Key`` header makes a retried request land once. Errors use the one JSON
shape ``{"error": {"status", "code", "message", ...}}``.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from layers.capture import check_key
from layers.errors import BadRequest
from layers.uploads import UploadLog, run_upload, undo_upload
from webmap.auth import require_role, user_name
from webmap.extensions import get_store
from webmap.forms import max_upload_bytes, options_from_form
from webmap.i18n import current_lang
from webmap.responses import json_response
from webmap.write_rights import require_write

bp = Blueprint("uploads_api", __name__, url_prefix="/api/uploads")


@bp.post("")
@require_role("field")
def create_upload() -> Response:
    """Read, check and (unless ``dry_run``) commit a file; returns the report."""
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("bad_upload_option", field="file", value="")
    options = options_from_form(
        request.form, idempotency_key=check_key(request.headers.get("Idempotency-Key"))
    )
    options.sheet = (request.form.get("sheet") or request.args.get("sheet") or "").strip() or None
    require_write(options.layer)
    data = upload.read()
    report = run_upload(
        get_store(),
        data,
        upload.filename or "upload",
        options,
        user=user_name(),
        max_bytes=max_upload_bytes(),
    )
    status = 201 if report.status == "committed" else 200
    return json_response(report.as_dict(current_lang(), with_features=options.dry_run), status)


@bp.get("")
@require_role("viewer")
def list_uploads() -> Response:
    """Every upload, newest first."""
    return json_response({"uploads": UploadLog(get_store().files).list()})


@bp.get("/<upload_id>")
@require_role("viewer")
def get_upload(upload_id: str) -> Response:
    """One upload's record."""
    return json_response(UploadLog(get_store().files).get(upload_id))


@bp.post("/<upload_id>/undo")
@require_role("planner")
def undo(upload_id: str) -> Response:
    """Soft-delete every feature the upload created (planners only)."""
    require_write(str(UploadLog(get_store().files).get(upload_id).get("layer", "")))
    return json_response(undo_upload(get_store(), upload_id, user=user_name()))
