"""The county view the map pages read, built once per version of the data.

:class:`Snapshot` holds every spatial layer's frame, the specs, the places
(:mod:`layers.places`), the gap overlays (:mod:`layers.gap_overlays`) and the titles of
referenced features. :func:`county_snapshot` keeps one per store, rebuilt only when the
day or a layer's version moves; :func:`per_frame` remembers a figure of a layer frame
while the frame lives (frames are shared and rebuilt per layer version).
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.metric import WGS84
from layers.errors import BadRequest
from layers.framecache import per_frame as per_frame
from layers.framecache import per_frames as per_frames
from layers.gap_overlays import Overlay, gap_overlays
from layers.memtable import release_memory
from layers.places import Places, find_places
from layers.specs import LayerSpec

#: Titles of referenced features: layer -> id -> title.
Titles = dict[str, dict[str, str]]


@dataclass
class Snapshot:
    """Everything the map pages read, built once per version of the data."""

    frames: dict[str, gpd.GeoDataFrame]
    specs: dict[str, LayerSpec]
    places: Places
    titles: Titles
    gaps: dict[str, Overlay] = field(default_factory=dict)

    @property
    def layer_names(self) -> list[str]:
        """Every layer a map may show, gap overlays included."""
        return [*self.frames, *self.gaps]

    def bounds(self) -> tuple[float, float, float, float] | None:
        """The county's box, else the box of everything drawn."""
        if self.places.county is not None and self.places.county.geometry is not None:
            return tuple(self.places.county.geometry.bounds)  # type: ignore[return-value]
        boxes = [f.total_bounds for f in self.frames.values() if len(f)]
        if not boxes:
            return None
        stacked = np.array(boxes)
        return (
            float(np.nanmin(stacked[:, 0])),
            float(np.nanmin(stacked[:, 1])),
            float(np.nanmax(stacked[:, 2])),
            float(np.nanmax(stacked[:, 3])),
        )


def snapshot(
    frames: Mapping[str, gpd.GeoDataFrame],
    specs: Iterable[LayerSpec],
    gaps: Mapping[str, Overlay],
    titles: Titles | None = None,
) -> Snapshot:
    """Places of a county's layers, with the spatial frames, gap overlays and titles."""
    specs = list(specs)
    empty = gpd.GeoDataFrame({"id": [], "level": [], "name": []}, geometry=[], crs=WGS84)
    places = find_places(frames.get("boundaries", empty), frames.get("villages", empty))
    spatial = {s.name: frames[s.name] for s in specs if s.spatial and s.name in frames}
    return Snapshot(
        frames=spatial,
        specs={s.name: s for s in specs},
        places=places,
        titles=titles or {},
        gaps=dict(gaps),
    )


_VIEWS: weakref.WeakKeyDictionary[Any, tuple[Any, Snapshot]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def county_snapshot(
    store: Any,
    as_of: dt.date,
    titles: Callable[[Mapping[str, pd.DataFrame], Iterable[LayerSpec]], Titles] | None = None,
) -> Snapshot:
    """The store's snapshot as of ``as_of``, rebuilt when the day or a layer's version
    moves. ``titles`` names referenced features (the pages' own rule)."""
    key = (as_of, tuple((n, store.version(n)) for n in store.layer_names()))
    with _LOCK:
        cached = _VIEWS.get(store)
        if cached is not None and cached[0] == key:
            return cached[1]
        frames = {n: store.frame(n) for n in store.layer_names()}
        named = titles(frames, store.specs) if titles is not None else {}
        snap = snapshot(frames, store.specs, gap_overlays(store, as_of), named)
        _VIEWS[store] = (key, snap)
        # The gap analyses of a big layer leave freed memory behind: give it back.
        release_memory()
        return snap


# ---------------------------------------------------------------------- view filters


@dataclass(frozen=True)
class FilterProblem:
    """A filter value a page cannot use: its URL parameter, the value, what is wrong
    (``unknown_township``, ``unknown_village``, ``ambiguous_village``, ``unknown_status``,
    ``bad_date``, ``date_order``, ``too_long``) and, where it helps, the values allowed."""

    param: str
    value: str
    code: str
    choices: tuple[str, ...] = ()


def find_township(places: Places, value: str) -> str | None:
    """The id of the township ``value`` names: its id, else its name; None if none.

    >>> from layers.places import Place
    >>> towns = Places(None, {"BD-2": Place("township", "BD-2", "岱岳镇", None)})
    >>> find_township(towns, "岱岳镇"), find_township(towns, "BD-2"), find_township(towns, "x")
    ('BD-2', 'BD-2', None)
    """
    if value in places.townships:
        return value
    named = [t.id for t in places.townships.values() if t.name == value]
    return named[0] if len(named) == 1 else None


def find_villages(places: Places, value: str, township_id: str = "") -> list[str]:
    """Ids of the villages ``value`` names: its id, else every village of that name (in
    ``township_id`` when given)."""
    if value in places.villages:
        return [value]
    return [
        v.id
        for v in places.villages.values()
        if v.name == value and (not township_id or v.parent_id == township_id)
    ]


def resolve_places(
    places: Places, township: str, village: str
) -> tuple[str, str, list[FilterProblem]]:
    """Township and village filters (names or ids) as ids, with what could not be used.

    A village name shared by villages of several townships needs the township too; the
    problem then lists those townships.
    """
    problems: list[FilterProblem] = []
    township_id = find_township(places, township) if township else ""
    if township_id is None:
        names = tuple(sorted(t.name for t in places.townships.values()))
        problems.append(FilterProblem("township", township, "unknown_township", names))
        township_id = ""
    village_id = ""
    if village:
        found = find_villages(places, village, township_id)
        if len(found) == 1:
            village_id = found[0]
        elif found:
            towns = {places.villages[v].parent_id or "" for v in found}
            names = tuple(sorted(places.townships[t].name for t in towns if t in places.townships))
            problems.append(FilterProblem("village", village, "ambiguous_village", names))
        else:
            problems.append(FilterProblem("village", village, "unknown_village"))
    return township_id, village_id, problems


def work_statuses(specs: Iterable[LayerSpec]) -> tuple[str, ...]:
    """Every status a work layer declares, in declaration order (the status filter's
    allowed values)."""
    out: dict[str, None] = {}
    for spec in specs:
        if spec.kind != "work" or not spec.status_field:
            continue
        field_spec = spec.field(spec.status_field)
        for value in field_spec.values if field_spec is not None else ():
            out[str(value)] = None
    return tuple(out)


def check_status(value: str, specs: Iterable[LayerSpec]) -> FilterProblem | None:
    """A problem when ``value`` is no work layer's status (the problem lists them)."""
    allowed = work_statuses(specs)
    if not value or value in allowed:
        return None
    return FilterProblem("status", value, "unknown_status", allowed)


def data_date(frames: Iterable[pd.DataFrame]) -> str:
    """The day of the latest change to any of ``frames`` (``updated_at``, else
    ``created_at``), ``YYYY-MM-DD``; "" when none has one.

    >>> data_date([pd.DataFrame({"updated_at": ["2026-10-31T09:00:00Z", None]})])
    '2026-10-31'
    """
    latest = ""
    for frame in frames:
        for column in ("updated_at", "created_at"):
            if column in frame.columns and len(frame):

                def newest(frame: pd.DataFrame = frame, column: str = column) -> str:
                    values = frame[column].dropna().astype(str)
                    return str(values.max())[:10] if len(values) else ""

                latest = max(latest, per_frame(frame, f"data_date:{column}", newest))
                break
    return latest


def resolve_or_refuse(
    places: Places, specs: Iterable[LayerSpec], township: str, village: str, status: str
) -> tuple[str, str]:
    """Township and village ids of the filters (names or ids), for reads that answer
    with data, not a page (exports): :class:`BadRequest` naming the first value that
    cannot be used, with the allowed ones.

    >>> from layers.places import Place
    >>> towns = Places(None, {"BD-2": Place("township", "BD-2", "岱岳镇", None)})
    >>> resolve_or_refuse(towns, [], "岱岳镇", "", "")
    ('BD-2', '')
    """
    township_id, village_id, problems = resolve_places(places, township, village)
    wrong_status = check_status(status, specs)
    problems += [wrong_status] if wrong_status is not None else []
    if problems:
        first = problems[0]
        allowed = f" ({', '.join(first.choices)})" if first.choices else ""
        raise BadRequest(value=f"{first.param}={first.value}{allowed}")
    return township_id, village_id
