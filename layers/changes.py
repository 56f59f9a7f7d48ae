"""The change model: what a form, an upload row, a capture or the API asks the store for.

A :class:`Change` is one change to one feature; many new points at once travel as one
:class:`layers.bulk.Creates`. Both go to ``Store.commit``, whose change planner
(:mod:`layers.planner`) checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Change:
    """One change to one feature, as asked for by a form, an upload row or the API.

    ``op`` is ``create``, ``update`` (merge the given properties, optional geometry),
    ``replace`` (all properties and geometry), ``delete`` (soft) or ``restore``.
    ``geometry`` is a GeoJSON geometry mapping or a shapely geometry. ``if_version``
    makes the change conditional on the feature's current version. ``row`` is the
    user-visible row number used in problem reports. ``margin_m`` is how far outside
    the working area a new location may lie (the AREA_MARGIN_M setting, or an upload's
    choice; None: no location checks, for scripts and migrations); ``located``
    says the caller already ran :func:`layers.locations.location_problems` on it with
    that margin (an upload, which needs the duplicates before it builds its changes).

    >>> Change("update", id="SL-000001", properties={"status": "faulty"}).op
    'update'
    """

    op: str
    id: str | None = None
    geometry: Any = None
    properties: Mapping[str, Any] | None = None
    if_version: int | None = None
    row: int | None = None
    margin_m: float | None = None
    located: bool = False
