"""The leaders' dashboard (``/dashboard``) and its gap exports.

``/dashboard?as_of=YYYY-MM-DD`` replays the county to a day (default today; with
``?year=`` of a past plan year, that year's 31 December); ``?year=`` picks the plan year
whose ledger items the KPIs, trends and township rows count (default: the current year,
else the latest earlier one; a bad year is said on the page, 422); thresholds
come as URL parameters named like the CLI options (``min_gap_m``, ``lateral_m``,
``max_days``, ``max_distance_m``, ``rest_distance_m``, ``snap_m``); ``basemap`` picks
tiles (none by default: the page works offline). Every gap analysis downloads as
``/dashboard/gaps/<kind>.<fmt>`` (geojson, csv, xlsx, gpkg) with the same parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for

from layers.analyses import (
    FORMATS,
    KINDS,
    check_kind,
    parse_as_of,
    parse_thresholds,
)
from layers.dashboard import Dashboard, Kpi, build_dashboard
from layers.errors import NotFound
from layers.gap_files import frame_bytes
from layers.gap_overlays import kind_gaps, kind_label
from layers.ledger_io import category_label
from webmap.assets import chart_js_url
from webmap.damaged import spare_damaged_layers
from webmap.dashboard_map import GapMapView, gap_map, render_parts
from webmap.extensions import get_store
from webmap.i18n import current_lang, format_number, translate
from webmap.mapdata import choose_basemap, offered_basemaps
from webmap.year_select import page_year, year_end, year_select

bp = Blueprint("dashboard", __name__)
#: Thresholds offered on the page (``snap_m`` is accepted but rarely changed).
FORM_THRESHOLDS = ("min_gap_m", "lateral_m", "max_days", "max_distance_m", "rest_distance_m")
EXPORT_FORMATS = ("xlsx", "csv", "geojson", "gpkg")


def as_of_day() -> dt.date:
    """The ``as_of`` parameter, today when absent."""
    return parse_as_of(request.args.get("as_of")) or dt.date.today()


def year_and_day(store: Any) -> tuple[int, str, dt.date]:
    """(plan year, problem, as-of day) of the page: ``as_of`` when given, else the end
    of a chosen past year (its figures as they stood on 31 December), else today."""
    given = parse_as_of(request.args.get("as_of"))
    today = dt.date.today()
    year, problem = page_year(store, given or today)
    chosen = bool((request.args.get("year") or "").strip()) and not problem
    return year, problem, given or (year_end(year, today) if chosen else today)


def _thresholds() -> dict[str, dict[str, float]]:
    return {kind: parse_thresholds(kind, request.args) for kind in KINDS}


def kpi_label(kpi: Kpi, lang: str) -> str:
    """A work type as people read it: "路灯（盏）"."""
    name = category_label(get_store().specs, kpi.category, lang)
    if not kpi.unit:
        return name
    return f"{name} ({kpi.unit})" if lang == "en" else f"{name}（{kpi.unit}）"


def _gap_summaries(board: Dashboard, lang: str) -> list[dict[str, Any]]:
    """Per analysis: what was found, in words and numbers, with its export links."""
    out = []
    for kind in KINDS:
        frame = board.gaps[kind]
        metres = float(frame["length_m"].fillna(0).sum()) if "length_m" in frame else 0.0
        args = {k: _plain_number(v) for k, v in board.thresholds[kind].items()}
        links = [
            (
                fmt,
                url_for(
                    "dashboard.gap_export",
                    kind=kind,
                    fmt=fmt,
                    as_of=board.as_of.isoformat(),
                    lang=lang,
                    **args,
                ),
            )
            for fmt in EXPORT_FORMATS
        ]
        counts = frame["gap"].value_counts().to_dict() if len(frame) else {}
        out.append(
            {
                "kind": kind,
                "covers": kind_label(kind, lang, board.thresholds[kind]),
                "count": len(frame),
                "km": metres / 1000.0,
                "by_gap": counts,
                "thresholds": args,
                "links": links,
            }
        )
    return out


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _chart_data(board: Dashboard, lang: str) -> dict[str, Any]:
    """What dashboard.js draws with Chart.js (a JSON block; labels end on a canvas)."""
    labels = [kpi_label(k, lang) for k in board.kpis]
    towns = [t for t in board.townships if t.id]
    return {
        "trends": [
            {
                "labels": [m for m, _ in k.trend],
                "values": [v for _, v in k.trend],
                "target": k.target,
            }
            for k in board.kpis
        ],
        "plan": {
            "labels": labels,
            "actual": [k.pct for k in board.kpis],
            "plan": [k.plan_pct for k in board.kpis],
        },
        "coverage": {
            "labels": [t.name for t in towns],
            "values": [t.coverage_pct for t in towns],
        },
        "strings": {
            "actual": translate("dash.chart.actual", lang),
            "plan": translate("dash.chart.plan", lang),
            "target": translate("dash.chart.target", lang),
            "coverage": translate("dash.chart.coverage", lang),
        },
    }


def _headline(board: Dashboard, lang: str) -> dict[str, str]:
    """The figures of the one-sentence summary a leader reads first (the villages to
    visit are the rows of the ``visits`` analysis, as on the map and in the export)."""
    items = [i for i in board.items if i.status != "cancelled"]
    dark_m = float(board.gaps["lighting"]["length_m"].sum()) if len(board.gaps["lighting"]) else 0.0
    visits = board.gaps["visits"]
    unvisited = int((visits["gap"] == "not_visited").sum()) if len(visits) else 0
    return {
        "items": format_number(len(items)),
        "done": format_number(sum(i.finished for i in items)),
        "behind": format_number(len(board.behind)),
        "dark_km": format_number(dark_m / 1000.0, lang, 1),
        "unvisited": format_number(unvisited),
        "unresolved": format_number(len(visits) - unvisited),
        "to_visit": format_number(len(visits)),
        "villages": format_number(len(board.villages)),
        "max_days": format_number(board.thresholds["visits"]["max_days"]),
    }


@bp.get("/dashboard")
@spare_damaged_layers
def page() -> Any:
    """One page for a county leader: plan against actual, gaps on a map, tables, charts."""
    lang = current_lang()
    store = get_store()
    year, problem, day = year_and_day(store)
    board = build_dashboard(store, day, _thresholds(), year=year)
    key = current_app.config.get("TIANDITU_KEY", "")
    basemap = choose_basemap(request.args.get("basemap"), "none", key)
    view = GapMapView(lang=lang, basemap=basemap, tianditu_key=key)
    parts = render_parts(gap_map(store, board, view))
    return render_template(
        "dashboard.html",
        board=board,
        kpi_labels=[kpi_label(k, lang) for k in board.kpis],
        headline=_headline(board, lang),
        gaps=_gap_summaries(board, lang),
        charts=_chart_data(board, lang),
        parts=parts,
        basemap=basemap,
        basemaps=offered_basemaps(key),
        form_thresholds=FORM_THRESHOLDS,
        threshold_values={n: _value_of(board, n) for n in FORM_THRESHOLDS},
        chart_js=chart_js_url(),
        specs=store.specs,
        year_select=year_select(store, year, problem),
    ), (422 if problem else 200)


def _value_of(board: Dashboard, name: str) -> str:
    for kind in KINDS:
        if name in board.thresholds[kind]:
            return _plain_number(board.thresholds[kind][name])
    return ""


@bp.get("/dashboard/gaps/<kind>.<fmt>")
def gap_export(kind: str, fmt: str) -> Response:
    """One gap analysis as a file: thresholds and ``as_of`` from the URL."""
    check_kind(kind)
    if fmt not in FORMATS:
        raise NotFound("gaps_unknown_format", value=fmt, allowed=", ".join(FORMATS))
    store = get_store()
    day = as_of_day()
    frame = kind_gaps(store, kind, day, parse_thresholds(kind, request.args))
    lang = current_lang()
    labels = {spec.name: spec.label_in(lang) for spec in store.specs}
    data = frame_bytes(frame, fmt, lang=lang, layer_labels=labels)
    name = f"gaps-{kind}-{day.isoformat()}.{fmt}"
    return Response(
        data,
        mimetype=FORMATS[fmt].split(";")[0],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
