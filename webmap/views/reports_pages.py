"""The residents' channel (群众反映): public pages, no account needed.

- ``GET /report``: a phone form (WeChat's browser included): location by GPS or a tap on
  the map, a category, a description, photos and an optional phone number. Before
  sending, open reports of the same category nearby are offered as "the same problem?"
  (+1 instead of a duplicate). The page is kept offline by its own service worker, and a
  report made without signal waits in IndexedDB ("待发送") until the phone is online.
- ``GET /reports/<code>``: one report followed by its tracking code: status, the public
  replies, the dates and, once solved, a rating (1-5 with a comment, once).
- ``GET /reports``: the public list and map of accepted reports, by status and township;
  planners also see the reports awaiting acceptance, each linked to its feature editor.
- ``GET /report-sw.js``: the service worker of ``/report`` (its scope), separate from the
  capture page's.

``/reports/<code>`` and ``/reports`` are rendered here from the public views of
:mod:`layers.reports` (``public_report``, ``list_item``: never the phone or the code), so
they work without scripts; their scripts redraw them from the same data and use the
public JSON API (``/api/reports``) for filters and writes. Every user-supplied string is
shown as text (Jinja's escaping, ``textContent``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, make_response, render_template, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from layers.errors import NotFound
from layers.reports import find_by_code, list_item, public_report, public_reports
from webmap.auth import current_user
from webmap.extensions import get_store
from webmap.forms import map_setup
from webmap.i18n import current_lang, translate
from webmap.page_maps import snapshot
from webmap.scriptjson import script_json

bp = Blueprint("reports_pages", __name__)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CATEGORIES = ("streetlight", "water", "road", "sanitation", "greenery", "public_facility", "other")
STATUSES = ("new", "accepted", "in_progress", "solved", "closed", "rejected")
# Public statuses (the list's filter) and those in which a report may be rated.
PUBLIC_STATUSES = ("accepted", "in_progress", "solved", "closed")
RATED_AFTER = ("solved", "closed")
_AWAITING_FIELDS = ("category", "description", "township", "village", "reported_date", "me_too")
_DATES = ("created", "updated", "solved")
_CODE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
# Strings the scripts show, under ``reports.page.js.<key>``.
_JS_KEYS = (
    "online",
    "offline",
    "queued",
    "sending",
    "sent",
    "failed",
    "retry",
    "discard",
    "no_location",
    "no_category",
    "no_description",
    "located",
    "placed_on_map",
    "geo_denied",
    "geo_unavailable",
    "similar_title",
    "similar_same",
    "similar_done",
    "similar_none",
    "me_too_count",
    "copy",
    "copied",
    "mine_empty",
    "not_found",
    "load_failed",
    "rating_saved",
    "rating_refused",
    "rating_pick",
    "no_replies",
    "list_empty",
    "count",
    "rate_limited",
    "open_editor",
    "stars",
)


def _text(lang: str) -> dict[str, Any]:
    """What the scripts print: messages, category and status names."""
    return {
        **{k: translate(f"reports.page.js.{k}", lang) for k in _JS_KEYS},
        "categories": {c: translate(f"reports.page.cat.{c}", lang) for c in CATEGORIES},
        "statuses": {s: translate(f"reports.page.state.{s}", lang) for s in STATUSES},
        "rated_after": list(RATED_AFTER),
        "dates": {d: translate(f"reports.page.date.{d}", lang) for d in _DATES},
    }


def _links() -> dict[str, str]:
    """The API and page addresses the scripts use; ``{code}``/``{id}`` are filled there."""
    return {
        "api": "/api/reports",
        "similar": "/api/reports/similar",
        "me_too": "/api/reports/{id}/me-too",
        "status_page": url_for("reports_pages.status_page", code="CODE").replace("CODE", "{code}"),
        "list_page": url_for("reports_pages.list_page"),
        "editor": url_for("maps.feature", layer="reports", fid="FID").replace("FID", "{id}"),
        "sw": url_for("reports_pages.service_worker"),
        "scope": url_for("reports_pages.new_report"),
    }


def _page(template: str, townships: list[str] | None = None, **config: Any) -> str:
    lang = current_lang()
    full = {"lang": lang, "text": _text(lang), **_links(), **config}
    return render_template(
        template,
        categories=CATEGORIES,
        statuses=STATUSES,
        public_statuses=PUBLIC_STATUSES,
        townships=townships or [],
        config_json=script_json(full),
        code=config.get("code", ""),
        report=config.get("report"),
        reports=config.get("reports", []),
        rated_after=RATED_AFTER,
    )


@bp.get("/report")
def new_report() -> BaseResponse:
    """The residents' report form (public). Signed in, the page shows the account's name:
    ``X-VW-Personal`` tells the page's service worker not to keep that copy offline."""
    response = make_response(_page("report_new.html", **map_setup(current_lang())))
    if current_user() is not None:
        response.headers["X-VW-Personal"] = "1"
    return response


def _awaiting() -> list[dict[str, Any]]:
    """Reports not yet accepted (``new``), oldest first: a planner's list only, with the
    public fields (never the phone or the code)."""
    store = get_store()
    if "reports" not in store.layer_names():
        return []
    rows = []
    for feature in store.features("reports"):
        props = feature.get("properties") or {}
        if props.get("status") == "new":
            row = {k: props.get(k) for k in _AWAITING_FIELDS}
            rows.append({"id": feature["id"], **row})
    return sorted(rows, key=lambda r: str(r.get("reported_date") or ""))


@bp.get("/reports")
def list_page() -> str:
    """The public list and map of accepted reports (by status and township); a planner
    also sees the reports awaiting acceptance, each linked to its editor."""
    user = current_user()
    planner = bool(user and user.can("planner"))
    names = sorted({t.name for t in snapshot().places.townships.values() if t.name})
    status = request.args.get("status") or None
    township = request.args.get("township") or None
    found = public_reports(get_store(), status=status, township=township)
    return _page(
        "reports_list.html",
        townships=names,
        planner=planner,
        reports=[list_item(f) for f in found],
        awaiting=_awaiting() if planner else [],
        **map_setup(current_lang()),
    )


@bp.get("/reports/<code>")
def status_page(code: str) -> BaseResponse:
    """One report, followed by its tracking code (public; 404 for an unknown code)."""
    if not _CODE.match(code):
        raise NotFound("resident_no_code", value=code[:40])
    store = get_store()
    report = public_report(store, find_by_code(store, code))
    report["photos"] = [url_for("capture.photo", photo_id=p) for p in report["photos"]]
    response = make_response(_page("report_status.html", code=code, report=report))
    response.headers["Cache-Control"] = "no-store, private"  # the code is the resident's
    return response


@bp.get("/report-sw.js")
def service_worker() -> BaseResponse:
    """The service worker of ``/report``: from the root so its scope may be ``/report``."""
    response = send_file(STATIC_DIR / "report-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
