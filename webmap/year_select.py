"""The plan year (计划年度) of a page or an export: ``?year=``, its default, the selector.

Pages and exports show one plan year of the ledger. Without ``?year=`` that is
:func:`layers.ledger.default_year` (the current year; the latest earlier plan year
while the current one has no items). A page given a bad year shows the default year
with a message saying what is wrong (422); an export refuses it (422, message in the
user's language, through the shared error handler).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request

from layers.ledger import BadYear, default_year, parse_year, plan_years
from layers.store_base import BaseStore
from webmap.i18n import current_lang
from webmap.mapdata import replay_years


def page_year(store: BaseStore, today: dt.date | None = None) -> tuple[int, str]:
    """(plan year, problem) of the request: a bad ``?year=`` gives the default year and
    the message to show ("" when the year is good)."""
    try:
        year = parse_year(request.args.get("year"))
    except BadYear as exc:
        return default_year(store, today), exc.user_message(current_lang())
    return (default_year(store, today) if year is None else year), ""


def export_year(store: BaseStore, today: dt.date | None = None) -> int:
    """The plan year of an export; :class:`layers.ledger.BadYear` (422) when bad."""
    year = parse_year(request.args.get("year"))
    return default_year(store, today) if year is None else year


def year_select(store: BaseStore, year: int, problem: str = "") -> dict[str, Any]:
    """What ``partials/_year_select.html`` shows: the years to choose from (every plan
    year, and the one shown), the other query parameters to keep, the problem if any."""
    keep = [(k, v) for k, values in request.args.lists() if k != "year" for v in values]
    return {
        "year": year,
        "years": sorted({*plan_years(store), year}),
        "keep": keep,
        "problem": problem,
    }


def year_end(year: int, today: dt.date | None = None) -> dt.date:
    """The last day of ``year``, or ``today`` when that comes first (a replay of a
    year runs to its end, or to today in the current year)."""
    today = today or dt.date.today()
    return min(dt.date(year, 12, 31), today)


def map_replay(store: BaseStore, layers: Any, problems: list[str]) -> dict[str, Any]:
    """The county map's replay: the years it offers (the plan years), the one it starts
    on (``?year=``, else the default year) and the year selector. A bad year is added
    to the page's ``problems`` (shown with the filters' messages)."""
    year, problem = page_year(store)
    if problem:
        problems.append(problem)
    years = replay_years(layers, plan_years(store) if "ledger" in store.specs else ())
    return {
        "replay_years": years,
        "replay_year": year if year in years else None,
        "year_select": year_select(store, year),
    }
