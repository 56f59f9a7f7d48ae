"""One error shape: JSON for API routes, a page for everything else."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from layers.errors import VillageWorksError
from webmap.i18n import current_lang

log = logging.getLogger(__name__)
API_PREFIXES = ("/api/", "/ogc")


def wants_json() -> bool:
    """API routes, and clients that ask for JSON, get JSON errors."""
    if request.path.startswith(API_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error body every API route uses."""
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def _respond(status: int, body: dict[str, Any]) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(body), status
    return render_template("error.html", status=status, message=body["error"]["message"]), status


def init_app(app: Flask) -> None:
    """Register handlers turning domain and HTTP errors into the shared shape."""

    @app.errorhandler(VillageWorksError)
    def _domain(exc: VillageWorksError) -> Any:
        return _respond(exc.status, exc.as_dict(current_lang()))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_UPLOAD_MB")
            message = (
                "文件太大（上限 {} MB）"
                if current_lang() == "zh"
                else "The upload is too large (limit {} MB)"
            ).format(limit)
        return _respond(status, error_body(status, code, message))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        message = "服务器内部错误" if current_lang() == "zh" else "Internal server error"
        return _respond(500, error_body(500, "internal_error", message))
