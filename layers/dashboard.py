"""The figures of the leaders' dashboard: plan against actual, per work type and place.

:func:`build_dashboard` computes, as of one day, the ledger's progress, one KPI per work
type (ledger category and unit: lights in 盏 and trainings in 期 do not add up), the items
behind plan, a row per township and per village, and every gap analysis of
:mod:`layers.analyses` (through :func:`layers.gap_overlays.kind_gaps`, as the map
does). Everything is plain data for a page or a test; nothing here knows HTML or the
request.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.gaps import geodesic_lengths_m
from layers.analyses import KINDS, layer_frame, township_areas, village_visits
from layers.gap_overlays import kind_gaps
from layers.ledger import ItemProgress, ledger_progress
from layers.review_queue import pending_counts
from layers.store_base import BaseStore

#: Statuses of work layers that are not (yet, or any more) there.
NOT_IN_SERVICE = ("planned", "removed")
#: Months a trend shows (the sum before them is carried in its first value).
TREND_MONTHS = 36


@dataclass(frozen=True)
class Kpi:
    """One work type against its target: ledger items of one category and unit."""

    category: str
    unit: str
    items: int
    done: int
    overdue: int
    stalled: int
    behind: int
    target: float
    actual: float
    pct: float | None
    plan_pct: float | None
    trend: tuple[tuple[str, float], ...]
    #: With a plan year: the work done before the year that counts toward its items,
    #: included in the trend's first month (carried in, 上年度结转).
    carried_in: float = 0.0


@dataclass(frozen=True)
class TownshipRow:
    """A township's ledger, visits and gaps. ``id`` is "" for county-level items."""

    id: str
    name: str
    items: int = 0
    done: int = 0
    overdue: int = 0
    behind: int = 0
    completion_pct: float | None = None
    villages: int = 0
    visited: int = 0
    coverage_pct: float | None = None
    not_visited: int = 0
    unresolved: int = 0
    dark_road_m: float = 0.0
    far_from_well: int = 0
    service_gaps: int = 0
    #: Works in the township awaiting review (not counted anywhere yet).
    awaiting: int = 0


@dataclass(frozen=True)
class VillageRow:
    """A village's visits and works."""

    id: str
    name: str
    township: str
    township_id: str
    last_visit: str | None
    days_since: int | None
    visits: int
    problems_raised: int
    problems_solved: int
    not_visited: bool
    unresolved: bool
    works: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Dashboard:
    """Everything the dashboard shows, as of one day."""

    as_of: dt.date
    thresholds: Mapping[str, Mapping[str, float]]
    items: list[ItemProgress]
    kpis: list[Kpi]
    behind: list[ItemProgress]
    townships: list[TownshipRow]
    villages: list[VillageRow]
    gaps: dict[str, gpd.GeoDataFrame]
    seconds: float = 0.0
    #: Works awaiting review in the county (every layer, every township).
    awaiting: int = 0
    #: The plan year shown (None: every year's items).
    year: int | None = None


# ------------------------------------------------------------------------------- KPIs


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` ("YYYY-MM"), both included.

    >>> months_between("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    >>> months_between("2026-03", "2026-01")
    []
    """
    span = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")
    return [str(p) for p in span]


def _trend(items: Sequence[ItemProgress], as_of: dt.date) -> tuple[tuple[str, float], ...]:
    """Cumulative actual per month up to ``as_of``'s month, the last ``TREND_MONTHS``."""
    monthly = _monthly(items)
    if not monthly:
        return ()
    last = max(max(monthly), as_of.strftime("%Y-%m"))
    total, series = 0.0, []
    for month in months_between(min(monthly), last):
        total += monthly.get(month, 0.0)
        series.append((month, round(total, 2)))
    return tuple(series[-TREND_MONTHS:])


def _monthly(items: Sequence[ItemProgress]) -> dict[str, float]:
    monthly: dict[str, float] = defaultdict(float)
    for item in items:
        for month, amount in item.by_month.items():
            monthly[month] += amount
    return monthly


def year_trend(
    items: Sequence[ItemProgress], year: int, as_of: dt.date
) -> tuple[tuple[tuple[str, float], ...], float]:
    """(cumulative actual per month of ``year``, carried in): January to December, or to
    ``as_of``'s month in the current year. Work dated before the year that counts toward
    its items is carried in: the first month starts from it. Work dated after the year
    (a late item finished next spring) ends in December's figure.

    >>> from layers.ledger import ItemProgress as P
    >>> item = P("LG-1", "t", "c", "count", "", "", "", 10, 6, None, None, "", "", None, 6,
    ...          by_month={"2025-11": 2.0, "2026-02": 3.0, "2026-05": 1.0})
    >>> series, carried = year_trend([item], 2026, dt.date(2026, 3, 15))
    >>> series, carried
    ((('2026-01', 2.0), ('2026-02', 5.0), ('2026-03', 6.0)), 2.0)
    """
    monthly = _monthly(items)
    first, last = f"{year}-01", f"{year}-12"
    end = min(last, as_of.strftime("%Y-%m")) if as_of.year >= year else first
    carried = sum(v for m, v in monthly.items() if m < first)
    later = sum(v for m, v in monthly.items() if m > end)
    months = months_between(first, end)
    total, series = carried, []
    for month in months:
        total += monthly.get(month, 0.0)
        series.append((month, round(total, 2)))
    if series and later:
        month, value = series[-1]
        series[-1] = (month, round(value + later, 2))
    return tuple(series), round(carried, 2)


def kpis(items: Sequence[ItemProgress], as_of: dt.date, year: int | None = None) -> list[Kpi]:
    """One KPI per (category, unit), in the order categories first appear.

    Cancelled items are left out. ``actual`` sums what was done; ``pct`` caps each item
    at its target, so work beyond one item's target does not hide another's shortfall.
    ``plan_pct`` weighs each item's linear plan by its target. With a plan ``year`` the
    trend runs over that year's months (:func:`year_trend`).
    """
    groups: dict[tuple[str, str], list[ItemProgress]] = {}
    for item in items:
        if item.status != "cancelled":
            groups.setdefault((item.category, item.unit), []).append(item)
    out = []
    for (category, unit), members in groups.items():
        target = sum(i.target for i in members)
        capped = sum(min(i.actual, i.target) if i.target else i.actual for i in members)
        planned = [i for i in members if i.plan_pct is not None and i.target]
        plan_weight = sum(i.target for i in planned)
        plan = (
            round(sum(i.target * (i.plan_pct or 0.0) for i in planned) / plan_weight, 1)
            if plan_weight
            else None
        )
        if year is None:
            trend, carried = _trend(members, as_of), 0.0
        else:
            trend, carried = year_trend(members, year, as_of)
        out.append(
            Kpi(
                category=category,
                unit=unit,
                items=len(members),
                done=sum(i.finished for i in members),
                overdue=sum(i.overdue for i in members),
                stalled=sum(i.stalled for i in members),
                behind=sum(i.behind for i in members),
                target=target,
                actual=round(sum(i.actual for i in members), 2),
                pct=round(100.0 * capped / target, 1) if target else None,
                plan_pct=plan,
                trend=trend,
                carried_in=carried,
            )
        )
    return out


def behind_plan(items: Sequence[ItemProgress]) -> list[ItemProgress]:
    """Items overdue or behind their plan, furthest behind first."""
    late = [i for i in items if i.behind]
    return sorted(late, key=lambda i: (i.pct or 0.0) - (i.plan_pct or 100.0))


# ------------------------------------------------------------------------- townships


def length_by_township(lines: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> dict[str, float]:
    """Metres of ``lines`` inside each township of ``areas`` (``township_id``), a line
    crossing a boundary counted in both townships for its part in each."""
    if len(lines) == 0 or len(areas) == 0:
        return {}
    geoms = np.asarray(lines.geometry.to_numpy(), dtype=object)
    shapes = np.asarray(areas.geometry.to_numpy(), dtype=object)
    line_i, area_i = shapely.STRtree(shapes).query(geoms, predicate="intersects")
    pieces = shapely.intersection(geoms[line_i], shapes[area_i])
    metres = geodesic_lengths_m(np.asarray(pieces, dtype=object))
    ids = areas["township_id"].to_numpy(dtype=object)[area_i]
    sums = pd.Series(metres).groupby(ids).sum()
    return {str(k): float(v) for k, v in sums.items()}


def _ledger_by_township(items: Sequence[ItemProgress]) -> dict[str, list[ItemProgress]]:
    out: dict[str, list[ItemProgress]] = defaultdict(list)
    for item in items:
        if item.status != "cancelled":
            out[item.township].append(item)
    return out


def _completion(items: Sequence[ItemProgress]) -> float | None:
    shares = [min(100.0, i.pct) for i in items if i.pct is not None]
    return round(sum(shares) / len(shares), 1) if shares else None


def township_rows(
    items: Sequence[ItemProgress],
    villages: gpd.GeoDataFrame,
    gaps: Mapping[str, gpd.GeoDataFrame],
    areas: gpd.GeoDataFrame,
    awaiting: Mapping[str, int] | None = None,
) -> list[TownshipRow]:
    """One row per township (boundary order), then one for county-level items if any.

    ``villages`` is :func:`layers.analyses.village_visits`: a village counts in the
    township it names. ``awaiting``: works awaiting review per township id.
    """
    awaiting = awaiting or {}
    ledger = _ledger_by_township(items)
    dark = length_by_township(gaps["lighting"], areas)
    rows = []
    for tid, name in zip(areas["township_id"], areas["township"], strict=True):
        mine = ledger.pop(str(name), [])
        here = villages[(villages["township"] == name).to_numpy()]
        visited = int((~here["not_visited_recently"]).sum())
        rows.append(
            TownshipRow(
                id=str(tid),
                name=str(name),
                items=len(mine),
                done=sum(i.finished for i in mine),
                overdue=sum(i.overdue for i in mine),
                behind=sum(i.behind for i in mine),
                completion_pct=_completion(mine),
                villages=len(here),
                visited=visited,
                coverage_pct=round(100.0 * visited / len(here), 1) if len(here) else None,
                not_visited=int(here["not_visited_recently"].sum()),
                unresolved=int(here["unresolved"].sum()),
                dark_road_m=round(dark.get(str(tid), 0.0), 1),
                far_from_well=_count(gaps["irrigation"], tid, "far_from_well"),
                service_gaps=_count(gaps["services"], tid, None),
                awaiting=int(awaiting.get(str(tid), 0)),
            )
        )
    rest = [i for group in ledger.values() for i in group]
    if rest:
        rows.append(
            TownshipRow(
                id="",
                name="",
                items=len(rest),
                done=sum(i.finished for i in rest),
                overdue=sum(i.overdue for i in rest),
                behind=sum(i.behind for i in rest),
                completion_pct=_completion(rest),
            )
        )
    return rows


def _count(frame: gpd.GeoDataFrame, township_id: str, gap: str | None) -> int:
    if len(frame) == 0:
        return 0
    mask = frame["township_id"] == township_id
    if gap is not None:
        mask &= frame["gap"] == gap
    return int(mask.sum())


# ---------------------------------------------------------------------------- villages


def works_by_village(store: BaseStore, as_of: dt.date) -> dict[str, dict[str, float]]:
    """Per village id: streetlights and wells in service, greenhouses, trees planted."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for layer, amount in (
        ("streetlights", None),
        ("wells", None),
        ("greenhouses", None),
        ("plantings", "count"),
    ):
        frame = layer_frame(store, layer, as_of)
        if len(frame) == 0 or "village_id" not in frame.columns:
            continue
        if "status" in frame.columns:
            frame = frame[~frame["status"].isin(NOT_IN_SERVICE).to_numpy()]
        values = (
            pd.to_numeric(frame[amount], errors="coerce").fillna(0.0)
            if amount
            else pd.Series(1.0, index=frame.index)
        )
        sums = values.groupby(frame["village_id"].astype(str)).sum()
        for village_id, total in sums.items():
            out[str(village_id)][layer] = float(total)
    return out


def village_rows(
    villages: gpd.GeoDataFrame, works: Mapping[str, Mapping[str, float]], ids: Mapping[str, str]
) -> list[VillageRow]:
    """One row per village (township, then name), from :func:`layers.analyses.village_visits`.

    ``ids`` maps township names to their boundary ids.
    """
    rows = []
    for rec in villages.itertuples():
        township = "" if rec.township is None else str(rec.township)
        rows.append(
            VillageRow(
                id=str(rec.id),
                name=str(rec.name or ""),
                township=township,
                township_id=ids.get(township, ""),
                last_visit=rec.last_visit.isoformat() if rec.last_visit is not None else None,
                days_since=None if rec.days_since is None else int(rec.days_since),
                visits=int(rec.visits),
                problems_raised=int(rec.problems_raised),
                problems_solved=int(rec.problems_solved),
                not_visited=bool(rec.not_visited_recently),
                unresolved=bool(rec.unresolved),
                works=dict(works.get(str(rec.id), {})),
            )
        )
    return sorted(rows, key=lambda r: (r.township, r.name))


# ------------------------------------------------------------------------------ build


def build_dashboard(
    store: BaseStore,
    as_of: dt.date,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    year: int | None = None,
) -> Dashboard:
    """Every figure of the dashboard as of ``as_of``, with the given thresholds per kind.

    ``year`` keeps the ledger items of that plan year only (KPIs, trend, behind-plan
    list, township rows); the visits and gap analyses are of ``as_of`` whatever the year.

    Examples
    --------
    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> board = build_dashboard(GeoJSONStore(tempfile.mkdtemp()), dt.date(2026, 10, 31))
    >>> board.kpis, board.townships, sorted(board.gaps) == sorted(KINDS)
    ([], [], True)
    """
    started = time.perf_counter()
    thresholds = {kind: dict((thresholds or {}).get(kind, {})) for kind in KINDS}
    items = ledger_progress(store, today=as_of, as_of=as_of, year=year)
    # The same analyses, thresholds and cache as the map's gap overlays and the exports.
    gaps = {kind: kind_gaps(store, kind, as_of, thresholds[kind]) for kind in KINDS}
    max_days = thresholds["visits"].get("max_days", 90)
    villages = village_visits(store, as_of, max_days)
    areas = township_areas(store)
    ids = dict(zip(areas["township"], areas["township_id"], strict=True))
    awaiting: dict[str, int] = defaultdict(int)
    for per_township in pending_counts(store).values():
        for tid, n in per_township.items():
            awaiting[tid] += n
    board = Dashboard(
        as_of=as_of,
        thresholds=thresholds,
        items=items,
        kpis=kpis(items, as_of, year),
        behind=behind_plan(items),
        townships=township_rows(items, villages, gaps, areas, awaiting),
        villages=village_rows(villages, works_by_village(store, as_of), ids),
        gaps=gaps,
        awaiting=sum(awaiting.values()),
        year=year,
    )
    board.seconds = time.perf_counter() - started
    return board
