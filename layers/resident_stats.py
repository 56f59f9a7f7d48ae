"""Figures of the residents' reports (群众报事): received, solved, days to solve, 满意率.

:func:`report_stats` counts the ``reports`` layer for a year (by the day a report was
received, ``reported_date``) and a township, in total and per township and per
department. A report is solved when its status is ``solved`` or ``closed``; its days to
solve run from ``reported_date`` to ``solved_date``; the satisfaction rate (满意率) is the
share of ratings of 4 or 5 among the rated reports. The dashboard shows them, and the
year's progress report (Word/PDF) takes them from here.

>>> rows = [{"reported_date": "2026-03-01", "solved_date": "2026-03-05", "status": "solved",
...          "rating": 5}, {"reported_date": "2026-04-01", "status": "new"}]
>>> row = stats_row("", rows)
>>> row.received, row.solved, row.median_days, row.satisfaction_rate
(2, 1, 4.0, 1.0)
>>> stats_row("", []).satisfaction_rate is None
True
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from layers.report_rules import RATED_AFTER

LAYER = "reports"
#: Ratings at or above this count as satisfied.
SATISFIED_FROM = 4


class ReportSource(Protocol):
    """What :func:`report_stats` reads of a store."""

    @property
    def specs(self) -> Any: ...

    def features(self, layer: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class StatsRow:
    """The figures of one group of reports (a township, a department, or all)."""

    name: str
    received: int
    solved: int
    open: int
    rejected: int
    rated: int
    satisfied: int
    #: Median days from received to solved (None when none is solved).
    median_days: float | None
    #: Share of ratings >= 4 among the rated reports, 0-1 (None when none is rated).
    satisfaction_rate: float | None

    @property
    def solved_rate(self) -> float | None:
        """Share of the received reports that are solved, 0-1."""
        return round(self.solved / self.received, 4) if self.received else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with ``solved_rate``."""
        return {**asdict(self), "solved_rate": self.solved_rate}


@dataclass(frozen=True)
class ReportStats:
    """Totals and rows per township and per department, for a year and a township."""

    year: int | None
    township: str | None
    total: StatsRow
    townships: list[StatsRow] = field(default_factory=list)
    departments: list[StatsRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "year": self.year,
            "township": self.township,
            "total": self.total.as_dict(),
            "townships": [r.as_dict() for r in self.townships],
            "departments": [r.as_dict() for r in self.departments],
        }


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _received(props: Mapping[str, Any]) -> dt.date | None:
    return _day(props.get("reported_date")) or _day(props.get("created_at"))


def stats_row(name: str, reports: Iterable[Mapping[str, Any]]) -> StatsRow:
    """The figures of ``reports`` (their properties)."""
    rows = list(reports)
    solved = [p for p in rows if p.get("status") in RATED_AFTER]
    days = []
    for props in solved:
        start, end = _received(props), _day(props.get("solved_date"))
        if start is not None and end is not None and end >= start:
            days.append((end - start).days)
    ratings = [int(p["rating"]) for p in rows if isinstance(p.get("rating"), int | float)]
    satisfied = sum(1 for r in ratings if r >= SATISFIED_FROM)
    return StatsRow(
        name=name,
        received=len(rows),
        solved=len(solved),
        open=sum(1 for p in rows if p.get("status") in ("new", "accepted", "in_progress")),
        rejected=sum(1 for p in rows if p.get("status") == "rejected"),
        rated=len(ratings),
        satisfied=satisfied,
        median_days=float(statistics.median(days)) if days else None,
        satisfaction_rate=round(satisfied / len(ratings), 4) if ratings else None,
    )


def _grouped(reports: list[Mapping[str, Any]], key: str) -> list[StatsRow]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for props in reports:
        groups[str(props.get(key) or "")].append(props)
    rows = [stats_row(name, group) for name, group in groups.items()]
    return sorted(rows, key=lambda r: (r.name == "", -r.received, r.name))


def report_stats(
    store: ReportSource, *, year: int | None = None, township: str | None = None
) -> ReportStats:
    """The residents' reports received in ``year`` (None: all) in ``township`` (its
    name; None: the county): totals, and rows per township and per department (a group
    named "" holds the reports without one). A store without the layer has none."""
    if LAYER not in store.specs:
        return ReportStats(year, township, stats_row("", []))
    chosen = []
    for feature in store.features(LAYER):
        props = feature.get("properties") or {}
        received = _received(props)
        if year is not None and (received is None or received.year != year):
            continue
        if township and props.get("township") != township:
            continue
        chosen.append(props)
    return ReportStats(
        year=year,
        township=township,
        total=stats_row("", chosen),
        townships=_grouped(chosen, "township"),
        departments=_grouped(chosen, "department"),
    )


__all__ = ["ReportStats", "StatsRow", "report_stats", "stats_row"]
