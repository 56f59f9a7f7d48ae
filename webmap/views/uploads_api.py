"""The uploads API: POST /api/uploads, GET /api/uploads[/<id>], POST /api/uploads/<id>/undo.

``POST /api/uploads`` takes multipart ``file`` plus fields ``layer``, ``crs`` (optional,
default ``auto``), ``dry_run``, ``defaults`` (``a=1;b=2`` or a JSON object),
``column_map``, ``duplicates`` (skip/keep/merge), ``swap_xy``, ``skip_rejected`` and
``encoding``; an ``Idempotency-Key`` header makes a retried request land once. Errors use
the one JSON shape ``{"error": {"status", "code", "message", ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from layers.capture import check_key
from layers.errors import BadRequest
from layers.uploads import UploadLog, UploadOptions, run_upload, undo_upload
from webmap.auth import require_role, user_name
from webmap.extensions import get_store
from webmap.i18n import current_lang

bp = Blueprint("uploads_api", __name__, url_prefix="/api/uploads")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response made with orjson (NaN-safe)."""
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _pairs(text: str | None, name: str) -> dict[str, Any]:
    """``a=1;b=2`` or a JSON object -> dict."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("bad_upload_option", field=name, value=text[:80]) from exc
        if not isinstance(value, dict):
            raise BadRequest("bad_upload_option", field=name, value=text[:80])
        return {str(k): v for k, v in value.items()}
    pairs = {}
    for item in text.split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def _flag(form: Mapping[str, Any], name: str) -> bool | None:
    """A yes/no form field; None when absent or ``auto``."""
    raw = str(form.get(name) or "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest("bad_upload_option", field=name, value=raw[:40])


def options_from_form(form: Mapping[str, Any], **overrides: Any) -> UploadOptions:
    """Upload options from form fields (shared with the upload pages)."""
    layer = (form.get("layer") or "").strip()
    if not layer:
        raise BadRequest("bad_upload_option", field="layer", value="")
    try:
        margin = float(form.get("margin_m") or current_app.config["AREA_MARGIN_M"])
    except ValueError as exc:
        raise BadRequest("bad_upload_option", field="margin_m", value=form.get("margin_m")) from exc
    options = UploadOptions(
        layer=layer,
        crs=(form.get("crs") or "auto").strip(),
        dry_run=bool(_flag(form, "dry_run")),
        defaults=_pairs(form.get("defaults"), "defaults"),
        column_map=_pairs(form.get("column_map"), "column_map"),
        on_duplicate=(form.get("duplicates") or "skip").strip(),
        margin_m=margin,
        encoding=(form.get("encoding") or "").strip() or None,
        swap_xy=_flag(form, "swap_xy"),
        skip_rejected=bool(_flag(form, "skip_rejected")),
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


def max_upload_bytes() -> int:
    """The size cap of one upload (``MAX_UPLOAD_MB``)."""
    return int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024


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
