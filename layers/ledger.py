"""The works ledger (台账): items with targets, progress computed from linked features.

Progress is never typed: it is counted from the live features whose ``ledger_item`` names
the item (count, metres of pipe, m² of greenhouse, trees by species, problems solved), or,
for items without a layer (training classes, job fairs), summed from dated
``ledger_progress`` entries that record who and when. Deleting or undoing features lowers
progress at once because only live features count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from layers.store import GeoJSONStore

#: Status values that do not count as done (a planned light is not a light yet).
NOT_DONE_STATUSES = {"planned", "removed"}
STALLED_AFTER_DAYS = 30


@dataclass
class ItemProgress:
    """One ledger item with its computed progress and flags."""

    id: str
    title: str
    category: str
    measure: str
    township: str
    village: str
    unit: str
    target: float
    actual: float
    deadline: str | None
    start_date: str | None
    status: str
    responsible_unit: str
    last_activity: str | None
    linked: int
    overdue: bool = False
    stalled: bool = False
    by_month: dict[str, float] = field(default_factory=dict)

    @property
    def pct(self) -> float | None:
        """Actual as a percentage of the target (None without a target)."""
        return None if not self.target else round(100.0 * self.actual / self.target, 1)

    @property
    def shortfall(self) -> float:
        """How much is still to do (never negative)."""
        return max(0.0, self.target - self.actual)

    def as_dict(self) -> dict[str, Any]:
        """JSON/CSV-ready dict."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "measure": self.measure,
            "township": self.township,
            "village": self.village,
            "unit": self.unit,
            "target": self.target,
            "actual": self.actual,
            "pct": self.pct,
            "shortfall": self.shortfall,
            "deadline": self.deadline,
            "start_date": self.start_date,
            "status": self.status,
            "responsible_unit": self.responsible_unit,
            "last_activity": self.last_activity,
            "linked": self.linked,
            "overdue": self.overdue,
            "stalled": self.stalled,
        }


def _feature_amount(
    measure: str, props: Mapping[str, Any], species: str | None, status_field: str | None
) -> float:
    if status_field and props.get(status_field) in NOT_DONE_STATUSES:
        return 0.0
    if measure == "count":
        return 1.0
    if measure == "trees":
        if species and props.get("species") != species:
            return 0.0
        return float(props.get("count") or 0)
    key = {"length_m": "length_m", "area_m2": "area_m2", "problems_solved": "problems_solved"}.get(
        measure
    )
    if key is None:
        return 0.0
    return float(props.get(key) or 0)


def _month(value: Any) -> str | None:
    text = str(value or "")
    return text[:7] if len(text) >= 7 and text[4] == "-" else None


def ledger_progress(
    store: GeoJSONStore,
    *,
    today: dt.date | None = None,
    stalled_after_days: int = STALLED_AFTER_DAYS,
) -> list[ItemProgress]:
    """Every ledger item with its actual progress, computed now.

    ``today`` fixes the date for overdue/stalled flags (tests, reports "as of").
    """
    today = today or dt.date.today()
    items = store.features("ledger")
    by_item: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    layers = {str((i.get("properties") or {}).get("category")) for i in items}
    for layer in layers:
        if layer not in store.specs or store.spec(layer).kind == "ledger":
            continue
        for feature in store.features(layer):
            props = feature.get("properties") or {}
            item_id = props.get("ledger_item")
            if item_id:
                by_item[str(item_id)].append((layer, props))
    entries: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in store.features("ledger_progress"):
        props = entry.get("properties") or {}
        entries[str(props.get("item_id"))].append(props)
    return [
        _progress_of(store, item, by_item, entries, today, stalled_after_days) for item in items
    ]


def _progress_of(
    store: GeoJSONStore,
    item: Mapping[str, Any],
    by_item: Mapping[str, list[tuple[str, Mapping[str, Any]]]],
    entries: Mapping[str, list[Mapping[str, Any]]],
    today: dt.date,
    stalled_after_days: int,
) -> ItemProgress:
    props = item.get("properties") or {}
    item_id = str(item["id"])
    measure = str(props.get("measure") or "count")
    species = props.get("species") or None
    actual = 0.0
    months: dict[str, float] = defaultdict(float)
    activity: list[str] = []
    linked = 0
    if measure == "entries":
        for entry in entries.get(item_id, []):
            amount = float(entry.get("quantity") or 0)
            actual += amount
            linked += 1
            month = _month(entry.get("date"))
            if month:
                months[month] += amount
            activity.append(str(entry.get("date") or entry.get("updated_at") or ""))
    else:
        for layer, fprops in by_item.get(item_id, []):
            spec = store.spec(layer)
            amount = _feature_amount(measure, fprops, species, spec.status_field)
            actual += amount
            linked += 1
            when = fprops.get(spec.date_field) if spec.date_field else None
            month = _month(when) or _month(fprops.get("created_at"))
            if month and amount:
                months[month] += amount
            activity.append(str(when or fprops.get("updated_at") or "")[:10])
    target = float(props.get("target") or 0)
    status = str(props.get("status") or "in_progress")
    deadline = props.get("deadline")
    finished = status in ("done", "cancelled") or (target > 0 and actual >= target)
    last = max((a for a in activity if a), default=None)
    overdue = bool(deadline) and not finished and str(deadline) < today.isoformat()
    started = not props.get("start_date") or str(props.get("start_date")) <= today.isoformat()
    cutoff = (today - dt.timedelta(days=stalled_after_days)).isoformat()
    stalled = not finished and started and (last is None or last[:10] < cutoff)
    return ItemProgress(
        id=item_id,
        title=str(props.get("title") or ""),
        category=str(props.get("category")),
        measure=measure,
        township=str(props.get("township") or ""),
        village=str(props.get("village") or ""),
        unit=str(props.get("unit") or ""),
        target=target,
        actual=round(actual, 2),
        deadline=deadline,
        start_date=props.get("start_date"),
        status=status,
        responsible_unit=str(props.get("responsible_unit") or ""),
        last_activity=last,
        linked=linked,
        overdue=overdue,
        stalled=stalled,
        by_month=dict(sorted(months.items())),
    )


def totals_by(items: Iterable[ItemProgress], key: str) -> dict[str, dict[str, float]]:
    """Target and actual summed per ``key`` (``township``, ``category``...), with item
    counts and how many are overdue. Only meaningful where units agree; callers group by
    category first when they need sums."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        group = out.setdefault(
            str(getattr(item, key) or ""),
            {"items": 0, "target": 0.0, "actual": 0.0, "overdue": 0, "done": 0},
        )
        group["items"] += 1
        group["target"] += item.target
        group["actual"] += min(item.actual, item.target) if item.target else item.actual
        group["overdue"] += int(item.overdue)
        group["done"] += int(item.target > 0 and item.actual >= item.target)
    return out


def cumulative_by_month(item: ItemProgress) -> list[tuple[str, float]]:
    """(month, cumulative actual) pairs for a trend chart."""
    total = 0.0
    series = []
    for month, amount in item.by_month.items():
        total += amount
        series.append((month, round(total, 2)))
    return series
