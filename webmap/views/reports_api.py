"""The residents' channel API (群众报事): no account needed.

- ``POST /api/reports``: JSON ``{lon, lat, category, description, phone?}`` or multipart
  with the same fields and files ``photos`` -> 201 ``{"code", "id", "url"}``. With an
  ``Idempotency-Key`` header (8-100 of ``A-Z a-z 0-9 _ . : -``, as for captures; else
  400), a request whose key came before is checked as usual and then answered with the
  first report's 201 body again (header ``Idempotent-Replayed: true``), storing nothing:
  no report, no photo. The key is kept by the store, so every worker and server knows
  it. The page sends one per report, and a queued report keeps its key.
- ``GET /api/reports/<code>``: the report as its resident follows it (never the phone).
- ``POST /api/reports/<code>/rating``: ``{rating: 1-5, comment?}``; 409 before it is
  solved or a second time; 1-2 reopens it.
- ``GET /api/reports?status=&township=``: the public list (accepted or later, not
  rejected).
- ``GET /api/reports/similar?lon=&lat=&category=``: open public reports within 30 m.
- ``POST /api/reports/<id>/me-too``: one more "me too" (one per address and report).

CSRF: these writes authenticate nobody and act as nobody (a signed-in planner's session
gives them no rights; they write as the resident), so they are exempt from the session's
CSRF token (``public_write``, honoured by :mod:`webmap.auth`). A request a browser marks
as cross-site (``Sec-Fetch-Site: cross-site``, or an ``Origin`` of another host) is
refused (403): only our own pages send them. Abuse is bounded by
``VILLAGEWORKS_REPORTS_PER_HOUR`` per address (429) and the ``website`` honeypot: a
non-empty one gets a 201 that looks real but nothing is stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import TooManyRequests

from layers.capture import check_key
from layers.errors import BadRequest, Forbidden, NotFound
from layers.rate_limit import RateLimit
from layers.reports import (
    ReportInput,
    add_me_too,
    bad_field,
    check_input,
    find_by_code,
    list_item,
    new_code,
    public_report,
    public_reports,
    rate_report,
    require_open,
    similar_reports,
    submit_report,
)
from layers.resident_stats import ReportStats, report_stats
from webmap.extensions import get_settings, get_store
from webmap.i18n import translate
from webmap.page_maps import snapshot
from webmap.responses import json_response

bp = Blueprint("reports_api", __name__, url_prefix="/api/reports")
F = TypeVar("F", bound=Callable[..., Any])
HOUR_S = 3600.0
ME_TOO_WINDOW_S = 365 * 86400.0
_LIMITS = "villageworks.report_limits"


def public_write(view: F) -> F:
    """Mark a view as a write anyone may send, without the session's CSRF token."""
    view.public_write = True  # type: ignore[attr-defined]
    return view


@bp.before_request
def _same_site_only() -> None:
    """Refuse writes a browser says come from another site."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        raise Forbidden("forbidden")
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Forbidden("forbidden")


def _limiter(name: str, per_window: int, window_s: float) -> RateLimit:
    limits = current_app.extensions.setdefault(_LIMITS, {})
    if name not in limits:
        settings = get_settings()
        limits[name] = RateLimit(get_store().files, name, per_window,
                                 shared=not settings.read_only, window_s=window_s)  # fmt: skip
    return limits[name]


def _admit(name: str, per_window: int, window_s: float, key: str, message: str) -> None:
    wait = _limiter(name, per_window, window_s).admit(key)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        text = translate(message, minutes=minutes, limit=per_window)
        raise TooManyRequests(description=text, retry_after=wait)


def _client() -> str:
    return request.remote_addr or ""


def _body() -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The fields (JSON, or multipart/form fields) and the photos of the request."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = {k: v for k, v in request.form.items()}
        files = request.files.getlist("photos")
        return fields, [(f.filename or "photo", f.read()) for f in files if f]
    try:
        body = orjson.loads(request.get_data() or b"null")
    except orjson.JSONDecodeError:
        raise BadRequest("bad_request", value="JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("bad_request", value="JSON object")
    return body, []


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.app_template_global()
def resident_report_stats(year: int | None = None) -> ReportStats:
    """The residents' reports of ``year`` (the dashboard's partial
    ``partials/_resident_stats.html``)."""
    return report_stats(get_store(), year=year)


@bp.post("")
@public_write
def create_report() -> Response:
    """Store one resident's report; 201 with its tracking code. A request with an
    ``Idempotency-Key`` that came before gets the first answer again (201, the same code,
    id and url; header ``Idempotent-Replayed: true``) and stores nothing."""
    settings = get_settings()
    key = check_key(request.headers.get("Idempotency-Key"))
    fields, photos = _body()
    if str(fields.get("website") or "").strip():  # the honeypot: a bot filled it in
        # Before any look-up of the key: a bot learns nothing about a key it sends.
        code = new_code()
        body = {"code": code, "id": "RP-000000", "url": f"/reports/{code}"}
        return _no_store(json_response(body, 201))
    report = ReportInput(
        lon=fields.get("lon"),
        lat=fields.get("lat"),
        category=fields.get("category"),
        description=fields.get("description"),
        phone=fields.get("phone"),
        photos=photos,
    )
    check_input(get_store(), report)  # a malformed request is not counted
    # Counted before the key is looked up, a retry like a new report: past the limit both
    # get 429, so the limit says nothing about whether a key was used.
    _admit("resident_reports", settings.reports_per_hour, HOUR_S, _client(),
           "reports.api.too_many")  # fmt: skip
    made = submit_report(
        get_store(),
        report,
        places=snapshot().places,
        margin_m=float(current_app.config["AREA_MARGIN_M"]),
        max_pixels=settings.max_photo_pixels,
        idempotency_key=key,
    )
    replayed = made.pop("replayed", False)
    made["url"] = f"/reports/{made['code']}"
    response = _no_store(json_response(made, 201))
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _with_photo_urls(body: dict[str, Any]) -> dict[str, Any]:
    body["photos"] = [url_for("capture.photo", photo_id=p) for p in body["photos"]]
    return body


@bp.get("/<code>")
def get_report(code: str) -> Response:
    """The report with this tracking code, as its resident follows it."""
    store = get_store()
    body = _with_photo_urls(public_report(store, find_by_code(store, code)))
    return _no_store(json_response(body))


@bp.post("/<code>/rating")
@public_write
def rate(code: str) -> Response:
    """Rate a solved report once; 409 before it is solved or a second time."""
    fields, _ = _body()
    store = get_store()
    rate_report(store, code, fields.get("rating"), fields.get("comment"))
    body = _with_photo_urls(public_report(store, find_by_code(store, code)))
    return _no_store(json_response(body))


@bp.get("")
def list_reports() -> Response:
    """The public list: accepted or later, not rejected; ``status`` and ``township``
    filter it."""
    status = request.args.get("status") or None
    township = request.args.get("township") or None
    rows = [list_item(f) for f in public_reports(get_store(), status=status, township=township)]
    return json_response({"reports": rows, "count": len(rows)})


def _coordinate(name: str, low: float, high: float) -> float:
    try:
        value = float(request.args[name])
    except (KeyError, ValueError):
        raise bad_field(name, request.args.get(name, "")) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise bad_field(name, request.args.get(name, ""))
    return value


@bp.get("/similar")
def similar() -> Response:
    """Open public reports of the category within about 30 m of the point."""
    lon, lat = _coordinate("lon", -180, 180), _coordinate("lat", -90, 90)
    category = request.args.get("category", "")
    rows = similar_reports(get_store(), lon, lat, category)
    return json_response({"reports": rows, "count": len(rows)})


@bp.post("/<fid>/me-too")
@public_write
def me_too(fid: str) -> Response:
    """One more "me too" on an open public report (one per address and report)."""
    store = get_store()
    found = store.get("reports", fid)
    if found is None:
        raise NotFound("not_found", what="报事 / report", value=fid[:40])
    require_open(found)  # before counting: a refused one uses up nothing
    _admit("resident_me_too", 1, ME_TOO_WINDOW_S, f"{_client()} {fid}", "reports.api.me_too_once")
    return json_response({"id": fid, "me_too": add_me_too(store, fid)})
