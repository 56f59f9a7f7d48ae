"""The gaps that matter first: each analysis kind's rows ranked by their figure.

The rows are those of :func:`layers.analyses.run_gaps` (through the per-store cache of
:func:`layers.gap_overlays.kind_gaps`): nothing here is a second analysis, only an order.
One :class:`Ranking` per kind names the gap rows it orders and the figure it orders them
by, largest first:

- ``lighting``: unlit road stretches by length (km);
- ``visits``: villages not visited recently by days since the last visit (a village never
  visited comes first, its figure ``None``);
- ``irrigation``: greenhouses far from a working well by that distance (m);
- ``services``: facilities far from the free bus by that distance (m);
- ``targets``: ledger items behind target by their shortfall (in the item's unit).

Rows of a kind that its ranking does not name (wells without a pipe, villages with open
problems, streets far from a rest station) are not ranked: the maps draw them faintly
with the unranked rest. The dashboard's gap map, the county map and the progress report
all take their order from :func:`ranked_gaps` (or :func:`rank_frame` over rows already
computed), so they agree on which ten come first.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.analyses import KINDS, LayerSource
from layers.gap_overlays import kind_gaps, kinds_of

#: How many ranked gaps of a kind the maps show clearly, numbered.
TOP = 10


@dataclass(frozen=True)
class Ranking:
    """Which rows of ``kind`` are ranked (``gap`` code, on ``layers``; empty: any layer),
    by which column, and the figure's unit (``km``, ``days``, ``m`` or ``""``)."""

    kind: str
    gap: str
    layers: tuple[str, ...]
    column: str
    unit: str
    #: The figure is the column divided by this (metres to km).
    scale: float = 1.0
    #: A missing figure ranks first (a village never visited), else last.
    missing_first: bool = False


RANKINGS: Mapping[str, Ranking] = {
    "lighting": Ranking("lighting", "dark_road", ("roads",), "length_m", "km", 1000.0),
    "visits": Ranking(
        "visits", "not_visited", ("villages",), "days_since", "days", missing_first=True
    ),
    "irrigation": Ranking("irrigation", "far_from_well", ("greenhouses",), "distance_m", "m"),
    "services": Ranking("services", "far_from_bus", ("facilities",), "distance_m", "m"),
    "targets": Ranking("targets", "behind_target", (), "shortfall", ""),
}


@dataclass(frozen=True)
class RankedGap:
    """One ranked gap.

    ``rank`` counts from 1 within its ``kind``; ``figure`` is in ``unit`` (``None``: a
    village never visited); ``label`` names the place (its name, else layer and id; a road
    stretch adds its chainage); ``bbox`` is ``(min_lon, min_lat, max_lon, max_lat)`` of
    ``geometry`` (EPSG:4326).
    """

    kind: str
    gap: str
    layer: str
    feature_id: str
    rank: int
    figure: float | None
    unit: str
    label: str
    township: str
    bbox: tuple[float, float, float, float]
    geometry: BaseGeometry

    @property
    def top(self) -> bool:
        """Whether the maps show it clearly (among the first :data:`TOP`)."""
        return self.rank <= TOP


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(value)


def _label(row: Mapping[str, Any]) -> str:
    name = _text(row.get("name")) or _text(row.get("feature_id"))
    start, end = _number(row.get("start_km")), _number(row.get("end_km"))
    if start is not None and end is not None:
        return f"{name} K{start:.1f}–K{end:.1f}"
    return name


def _order_key(ranking: Ranking, figure: float | None, feature_id: str) -> tuple[Any, ...]:
    if figure is None:
        return (0 if ranking.missing_first else 2, 0.0, feature_id)
    return (1, -figure, feature_id)


def rank_frame(kind: str, rows: gpd.GeoDataFrame) -> list[RankedGap]:
    """The rows of one kind's analysis that its :class:`Ranking` names, ranked.

    Rows without a geometry are left out (nothing to zoom to). Equal figures keep the
    order of their feature ids, so the ranking is the same on every run.

    >>> rank_frame("lighting", gpd.GeoDataFrame(geometry=[]))
    []
    """
    ranking = RANKINGS.get(kind)
    if ranking is None or len(rows) == 0 or "gap" not in rows.columns:
        return []
    keep = np.array(rows["gap"].astype(str) == ranking.gap, dtype=bool)
    if ranking.layers:
        keep &= np.array(rows["layer"].astype(str).isin(ranking.layers), dtype=bool)
    geoms = np.asarray(rows.geometry.to_numpy(), dtype=object)
    keep &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    picked = []
    for (_, row), geom in zip(rows[keep].iterrows(), geoms[keep], strict=True):
        raw = _number(row.get(ranking.column))
        figure = None if raw is None else raw / ranking.scale
        feature_id = _text(row.get("feature_id"))
        picked.append((_order_key(ranking, figure, feature_id), figure, row, geom))
    picked.sort(key=lambda item: item[0])
    return [
        RankedGap(
            kind=kind,
            gap=ranking.gap,
            layer=_text(row.get("layer")),
            feature_id=_text(row.get("feature_id")),
            rank=rank,
            figure=figure,
            unit=ranking.unit,
            label=_label(row),
            township=_text(row.get("township")),
            bbox=tuple(float(v) for v in shapely.bounds(geom)),  # type: ignore[arg-type]
            geometry=geom,
        )
        for rank, (_, figure, row, geom) in enumerate(picked, start=1)
    ]


def ranked_gaps(
    source: LayerSource,
    as_of: dt.date | None = None,
    kinds: Iterable[str] | None = None,
    frames: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> list[RankedGap]:
    """Every ranked gap of the kinds ``source`` can run, kind by kind (:data:`KINDS`
    order), each kind's best first.

    Parameters
    ----------
    source : LayerSource
        A store (its analyses are cached per layer versions) or a frame source.
    as_of : datetime.date, optional
        The day of the analyses (default today).
    kinds : iterable of str, optional
        Only these kinds (default: all that ``source`` can run).
    frames : mapping of kind to GeoDataFrame, optional
        Rows already computed (the dashboard's, with its thresholds): used instead of
        running the kind again.

    Returns
    -------
    list of RankedGap
        ``rank`` restarts at 1 for each kind; the first :data:`TOP` of a kind are
        ``top``.

    Examples
    --------
    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> ranked_gaps(GeoJSONStore(tempfile.mkdtemp()))
    []
    """
    day = as_of or dt.date.today()
    wanted = set(KINDS if kinds is None else kinds)
    given = frames or {}
    out: list[RankedGap] = []
    for kind in KINDS:
        if kind not in wanted or kind not in RANKINGS:
            continue
        if kind in given:
            rows = given[kind]
        elif kind in kinds_of(source):
            rows = kind_gaps(source, kind, day)
        else:
            continue
        out.extend(rank_frame(kind, rows))
    return out
