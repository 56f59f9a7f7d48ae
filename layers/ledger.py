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
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.messages import register
from layers.errors import VillageWorksError
from layers.review import SUBMITTED, counts, review_of
from layers.store_base import BaseStore

#: Status values that do not count as done (a planned light is not a light yet).
#: A residents' report counts (1, "解决实际问题") once it is solved or closed.
NOT_DONE_STATUSES = {"planned", "removed", "new", "accepted", "in_progress", "rejected"}
STALLED_AFTER_DAYS = 30
#: An item is behind plan when its percentage trails the linear plan by more than this.
BEHIND_TOLERANCE_PCT = 5.0


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
    #: Linked works awaiting review (submitted): not counted in ``actual`` yet.
    awaiting: int = 0
    overdue: bool = False
    stalled: bool = False
    by_month: dict[str, float] = field(default_factory=dict)
    plan_pct: float | None = None
    notes: str = ""
    species: str = ""
    version: int = 1
    #: The plan year (计划年度), given or derived (``item_plan_year``); None if unknown.
    plan_year: int | None = None
    carried_from: str = ""
    carried_to: str = ""

    @property
    def finished(self) -> bool:
        """Done, cancelled, or the target reached."""
        return self.status in ("done", "cancelled") or (
            self.target > 0 and self.actual >= self.target
        )

    @property
    def behind(self) -> bool:
        """Overdue, or trailing the linear plan by more than ``BEHIND_TOLERANCE_PCT``
        (never once carried over: the next year's item holds the remainder)."""
        if self.finished or not self.target or self.carried_to:
            return False
        if self.overdue:
            return True
        pct = self.pct or 0.0
        return self.plan_pct is not None and pct < self.plan_pct - BEHIND_TOLERANCE_PCT

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
            "awaiting_review": self.awaiting,
            "overdue": self.overdue,
            "stalled": self.stalled,
            "plan_pct": self.plan_pct,
            "behind": self.behind,
            "plan_year": self.plan_year,
            "carried_from": self.carried_from,
            "carried_to": self.carried_to,
        }


def _feature_amount(
    measure: str, props: Mapping[str, Any], species: str | None, status_field: str | None
) -> float:
    if not counts(props):
        return 0.0  # a work not yet approved (or returned, rejected) does not count
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


def work_day(store: BaseStore, layer: str, props: Mapping[str, Any]) -> str:
    """The ISO day a feature's work is dated: its layer's date field, else when it was
    recorded (``created_at``); "" when neither is known."""
    spec = store.spec(layer)
    when = props.get(spec.date_field) if spec.date_field else None
    return str(when or props.get("created_at") or "")[:10]


def plan_pct(start: Any, deadline: Any, today: dt.date) -> float | None:
    """Where a linear plan from ``start`` to ``deadline`` stands on ``today``, in percent.

    None without a readable deadline; an item without a start (or starting on its
    deadline) is planned at 0 % until the deadline, then 100 %.

    >>> plan_pct("2026-01-01", "2026-01-11", dt.date(2026, 1, 6))
    50.0
    >>> day = dt.date(2026, 1, 6)
    >>> plan_pct(None, "2026-01-11", day), plan_pct("2026-01-01", None, day)
    (0.0, None)
    """
    end = _day(deadline)
    if end is None:
        return None
    begin = _day(start)
    if begin is None or begin >= end:
        return 100.0 if today >= end else 0.0
    share = (today - begin).days / (end - begin).days
    return round(100.0 * min(1.0, max(0.0, share)), 1)


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


MIN_YEAR, MAX_YEAR = 2000, 2100
register(
    "bad_year",
    "年度“{value}”无效：应为 {min} 至 {max} 之间的年份，如 2026",
    "The year '{value}' is not valid: give a year from {min} to {max}, such as 2026",
)


class BadYear(VillageWorksError):
    """A ``?year=`` that is not a plan year the ledger can hold (422)."""

    status = 422
    code = "bad_year"


def parse_year(text: Any) -> int | None:
    """The plan year of ``?year=`` (None when blank); :class:`BadYear` otherwise.

    >>> parse_year(" 2021 "), parse_year("")
    (2021, None)
    >>> parse_year("1800")
    Traceback (most recent call last):
    ...
    layers.ledger.BadYear: The year '1800' is not valid: give a year from 2000 to 2100, such as 2026
    """
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    if raw.isascii() and raw.isdigit() and MIN_YEAR <= int(raw) <= MAX_YEAR:
        return int(raw)
    raise BadYear(value=raw[:40], min=MIN_YEAR, max=MAX_YEAR)


def item_plan_year(props: Mapping[str, Any]) -> int | None:
    """The plan year (计划年度) of a ledger item: its ``plan_year``; for items saved
    without one, the year of its start date, else of its deadline; else None.

    >>> item_plan_year({"plan_year": 2021, "start_date": "2020-12-01"})
    2021
    >>> item_plan_year({"start_date": "2026-03-01"}), item_plan_year({"deadline": "2025-12-31"})
    (2026, 2025)
    >>> item_plan_year({}) is None
    True
    """
    for key in ("plan_year", "start_date", "deadline"):
        value = props.get(key)
        if value in (None, ""):
            continue
        try:
            year = int(value) if key == "plan_year" else int(str(value)[:4])
        except (TypeError, ValueError):
            continue
        if MIN_YEAR <= year <= MAX_YEAR:
            return year
    return None


def plan_years(store: BaseStore) -> list[int]:
    """The plan years that have at least one ledger item, sorted (for year selectors)."""
    years = {item_plan_year(f.get("properties") or {}) for f in store.features("ledger")}
    return sorted(y for y in years if y is not None)


def current_year(today: dt.date | None = None) -> int:
    """The year of ``today`` (the default plan year of the pages and exports)."""
    return (today or dt.date.today()).year


def default_year(store: BaseStore, today: dt.date | None = None) -> int:
    """The plan year a page shows without ``?year=``: the current one; when it has no
    items, the latest plan year before it (else the latest there is; the current year
    for an empty ledger). A new year's list is not typed yet in early January."""
    year = current_year(today)
    years = plan_years(store)
    if not years or year in years:
        return year
    earlier = [y for y in years if y < year]
    return earlier[-1] if earlier else years[-1]


def ledger_progress(
    store: BaseStore,
    *,
    today: dt.date | None = None,
    stalled_after_days: int = STALLED_AFTER_DAYS,
    as_of: dt.date | None = None,
    categories: Collection[str] | None = None,
    year: int | None = None,
) -> list[ItemProgress]:
    """Every ledger item with its actual progress, computed now.

    ``today`` fixes the date for overdue/stalled flags and the plan (tests, reports).
    ``as_of`` replays the ledger: only work dated on or before that day counts (a
    feature is dated by its layer's date field, else by when it was recorded; an entry
    by its date). Without it everything live counts. ``categories`` keeps only the items
    of those categories, and reads only the features linked to them (a province's
    million streetlights are not read for its planting items). ``year`` keeps only the
    items of that plan year (``item_plan_year``); None keeps every year. A work counts
    toward the item it names, whatever its own date.
    """
    today = today or dt.date.today()
    cutoff = as_of.isoformat() if as_of else None
    items = store.features("ledger")
    wanted = None
    if year is not None:
        items = [i for i in items if item_plan_year(i.get("properties") or {}) == year]
    if categories is not None:
        items = [i for i in items if str((i.get("properties") or {}).get("category")) in categories]
        wanted = {str(i["id"]) for i in items}
    by_item: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for layer in linked_layers(store):
        for props in _linked_properties(store, layer, wanted):
            item_id = props.get("ledger_item")
            if item_id and (cutoff is None or work_day(store, layer, props) <= cutoff):
                by_item[str(item_id)].append((layer, props))
    entries: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in store.features("ledger_progress"):
        props = entry.get("properties") or {}
        if cutoff is None or str(props.get("date") or "")[:10] <= cutoff:
            entries[str(props.get("item_id"))].append(props)
    return [
        _progress_of(store, item, by_item, entries, today, stalled_after_days) for item in items
    ]


def _linked_properties(
    store: BaseStore, layer: str, wanted: Collection[str] | None
) -> list[Mapping[str, Any]]:
    """The properties of the layer's features, or only of those naming a ``wanted`` item
    (found in the layer's table, then read one by one)."""
    if wanted is None:
        return [f.get("properties") or {} for f in store.features(layer)]
    frame = store.frame(layer)
    if not wanted or len(frame) == 0 or "ledger_item" not in frame.columns:
        return []
    named = frame["ledger_item"].astype(object).where(frame["ledger_item"].notna(), "")
    ids = frame["id"][named.astype(str).isin(list(wanted)).to_numpy()]
    found = (store.get(layer, str(fid)) for fid in ids)
    return [f.get("properties") or {} for f in found if f is not None]


def linked_layers(store: BaseStore) -> list[str]:
    """Layers whose features can name a ledger item (they declare ``ledger_item``)."""
    return [
        spec.name
        for spec in store.specs
        if spec.kind != "ledger" and spec.field("ledger_item") is not None
    ]


def linked_features(store: BaseStore, item_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(layer, feature) of every live feature linked to ``item_id``, layer by layer."""
    return [
        (layer, feature)
        for layer in linked_layers(store)
        for feature in store.features(layer)
        if str((feature.get("properties") or {}).get("ledger_item") or "") == item_id
    ]


def progress_entries(store: BaseStore, item_id: str) -> list[dict[str, Any]]:
    """The live progress entries of ``item_id``, newest first."""
    found = [
        f
        for f in store.features("ledger_progress")
        if str((f.get("properties") or {}).get("item_id")) == item_id
    ]
    return sorted(found, key=lambda f: str(f["properties"].get("date") or ""), reverse=True)


def feature_amount(
    store: BaseStore, item: ItemProgress, layer: str, props: Mapping[str, Any]
) -> float:
    """How much one linked feature adds to ``item`` (0 for a planned light)."""
    spec = store.spec(layer)
    return _feature_amount(item.measure, props, item.species or None, spec.status_field)


@dataclass
class _Tally:
    """What an item's linked entries or features add up to."""

    actual: float = 0.0
    months: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    activity: list[str] = field(default_factory=list)
    linked: int = 0
    awaiting: int = 0


def _tally_entries(entries: Iterable[Mapping[str, Any]]) -> _Tally:
    """The progress entries of an item measured by entries."""
    tally = _Tally()
    for entry in entries:
        amount = float(entry.get("quantity") or 0)
        tally.actual += amount
        tally.linked += 1
        month = _month(entry.get("date"))
        if month:
            tally.months[month] += amount
        tally.activity.append(str(entry.get("date") or entry.get("updated_at") or ""))
    return tally


def _tally_features(
    store: BaseStore,
    linked: Iterable[tuple[str, Mapping[str, Any]]],
    measure: str,
    species: Any,
) -> _Tally:
    """The features linked to an item measured by count, length, area..."""
    tally = _Tally()
    for layer, fprops in linked:
        spec = store.spec(layer)
        amount = _feature_amount(measure, fprops, species, spec.status_field)
        tally.actual += amount
        tally.linked += 1
        tally.awaiting += review_of(fprops) == SUBMITTED
        when = fprops.get(spec.date_field) if spec.date_field else None
        month = _month(when) or _month(fprops.get("created_at"))
        if month and amount:
            tally.months[month] += amount
        tally.activity.append(str(when or fprops.get("updated_at") or "")[:10])
    return tally


def _progress_of(
    store: BaseStore,
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
    if measure == "entries":
        tally = _tally_entries(entries.get(item_id, []))
    else:
        tally = _tally_features(store, by_item.get(item_id, []), measure, species)
    actual, months, activity, linked = tally.actual, tally.months, tally.activity, tally.linked
    target = float(props.get("target") or 0)
    status = str(props.get("status") or "in_progress")
    deadline = props.get("deadline")
    finished = status in ("done", "cancelled") or (target > 0 and actual >= target)
    last = max((a for a in activity if a), default=None)
    # An item carried into the next year hands its remainder on: it is no longer late.
    open_here = not finished and not props.get("carried_to")
    overdue = bool(deadline) and open_here and str(deadline) < today.isoformat()
    started = not props.get("start_date") or str(props.get("start_date")) <= today.isoformat()
    cutoff = (today - dt.timedelta(days=stalled_after_days)).isoformat()
    stalled = open_here and started and (last is None or last[:10] < cutoff)
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
        awaiting=tally.awaiting,
        overdue=overdue,
        stalled=stalled,
        by_month=dict(sorted(months.items())),
        plan_pct=plan_pct(props.get("start_date"), deadline, today),
        notes=str(props.get("notes") or ""),
        species=str(species or ""),
        version=int(props.get("version") or 1),
        plan_year=item_plan_year(props),
        carried_from=str(props.get("carried_from") or ""),
        carried_to=str(props.get("carried_to") or ""),
    )


def totals_by(items: Iterable[ItemProgress], key: str) -> dict[str, dict[str, float]]:
    """Target and actual summed per ``key`` (``township``, ``category``...), with item
    counts and how many are overdue. Only meaningful where units agree; callers group by
    category first when they need sums."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        group = out.setdefault(
            str(getattr(item, key) or ""),
            {"items": 0, "target": 0.0, "actual": 0.0, "overdue": 0, "done": 0, "awaiting": 0},
        )
        group["awaiting"] += item.awaiting
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
