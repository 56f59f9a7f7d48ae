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
