"""One error shape: JSON for API routes, a page for everything else."""

from __future__ import annotations

import errno
import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
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


def _respond(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[Response | str, int, dict[str, str]]:
    if wants_json():
        return jsonify(body), status, headers or {}
    page = render_template("error.html", status=status, message=body["error"]["message"])
    return page, status, headers or {}


def exception_headers(exc: HTTPException) -> dict[str, str]:
    """The headers an HTTP exception carries (``Allow`` of a 405, ``Retry-After``,
    ``WWW-Authenticate``), without its own Content-Type: the error response sets that."""
    try:
        pairs = exc.get_headers()
    except Exception:  # noqa: BLE001 - a custom exception's headers must not hide the error
        return {}
    return {name: value for name, value in pairs if name.lower() != "content-type"}


NO_SPACE = {
    "zh": "服务器磁盘已满，本次修改未保存，请稍后重试或联系管理员",
    "en": "The server's disk is full: this change was not saved. Try again later or tell "
    "the administrator",
}
READ_ONLY = {
    "zh": "数据目录当前只读，暂时不能修改，查看不受影响",
    "en": "The data directory is read-only for now: changes are not possible, reading is",
}
READ_ONLY_MODE = {
    "zh": "本站目前为只读模式（管理员设置了 VILLAGEWORKS_READ_ONLY）：不能修改、上传、采集或登录，"
    "查看地图、台账和数据接口不受影响",
    "en": "This site is in read-only mode (the administrator set VILLAGEWORKS_READ_ONLY): "
    "nothing can be changed, uploaded, captured or logged into; maps, the ledger and the "
    "data API can still be read",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _text(texts: dict[str, str]) -> str:
    return texts.get(current_lang(), texts["en"])


def read_only_mode() -> bool:
    """Whether the app serves reads only (``VILLAGEWORKS_READ_ONLY``)."""
    return bool(current_app.config.get("READ_ONLY"))


def _refuse_writes_when_read_only() -> Any:
    """In read-only mode every write answers 503 with a message, before the view (and
    before the login check: nobody can write). A request for no route or a method the
    route lacks still gets its 404 or 405."""
    if request.method in WRITE_METHODS and read_only_mode() and request.routing_exception is None:
        return _respond(503, error_body(503, "read_only", _text(READ_ONLY_MODE)))
    return None


def init_app(app: Flask) -> None:
    """Register handlers turning domain and HTTP errors into the shared shape, and the
    read-only mode (writes refused, ``read_only`` known to every page)."""
    app.before_request(_refuse_writes_when_read_only)
    app.context_processor(lambda: {"read_only": read_only_mode()})

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
        return _respond(status, error_body(status, code, message), exception_headers(exc))

    @app.errorhandler(OSError)
    def _storage(exc: OSError) -> Any:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            log.error("out of disk space on %s: %s", request.path, exc)
            return _respond(507, error_body(507, "insufficient_storage", _text(NO_SPACE)))
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            log.error("data directory not writable on %s: %s", request.path, exc)
            return _respond(503, error_body(503, "read_only", _text(READ_ONLY)))
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        message = "服务器内部错误" if current_lang() == "zh" else "Internal server error"
        return _respond(500, error_body(500, "internal_error", message))
