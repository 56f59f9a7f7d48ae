"""The gap overlays of the map, as data: which rows of :func:`layers.analyses.run_gaps`
each overlay draws, declared as layer specs, and the per-store cache of the analyses.

Every overlay is one ``(gap, layer)`` part of one analysis *kind* (``lighting``,
``irrigation``, ``visits``, ``services``, ``targets``), computed with the default
thresholds of :data:`layers.analyses.THRESHOLDS`. So the map, the dashboard, its exports
and ``villageworks gaps KIND`` count the same rows: a kind's count on the map is the sum
of its overlays. Nothing here knows Folium or the request.

:func:`kind_gaps` remembers an analysis per store, keyed on the day, the thresholds and
the versions of the layers it reads: a change to another layer does not run it again.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.metric import WGS84
from layers.analyses import (
    COLUMN_LABELS,
    IRRIGATED_LAYERS,
    KINDS,
    LayerSource,
    parse_thresholds,
    run_gaps,
)
from layers.framecache import per_frame
from layers.specs import LayerSpec, spec_from_mapping

#: The layers each kind reads (``targets`` reads the ledger and the layers it links).
KIND_SOURCES: Mapping[str, tuple[str, ...]] = {
    "lighting": ("roads", "streetlights", "boundaries"),
    "irrigation": ("wells", "pipes", *IRRIGATED_LAYERS, "boundaries"),
    "visits": ("villages", "visits", "boundaries"),
    "services": ("facilities", "bus_routes", "roads", "boundaries"),
    "targets": (),
}
#: What each kind counts, zh and en, with its thresholds in braces: the map legend and
#: the dashboard say so.
KIND_LABELS: Mapping[str, tuple[str, str]] = {
    "lighting": (
        "无路灯路段（>{min_gap_m}米）",
        "Unlit road stretches (>{min_gap_m} m)",
    ),
    "irrigation": (
        "灌溉缺口：距在用机井超{max_distance_m}米的大棚、村和农田，未配管道的机井",
        "Irrigation: greenhouses, villages and farmland >{max_distance_m} m from a working "
        "well; wells without a pipe",
    ),
    "visits": (
        "待走访的村：{max_days}天内未走访，或问题未解决完",
        "Villages to visit: not visited in {max_days} days, or problems open",
    ),
    "services": (
        "服务缺口：距免费公交超{max_distance_m}米的设施，距爱心驿站超{rest_distance_m}米的街段",
        "Services: facilities >{max_distance_m} m from the free bus; streets "
        ">{rest_distance_m} m from a rest station",
    ),
    "targets": ("未达目标的植树、大棚台账事项", "Planting and greenhouse items behind target"),
}
#: One colour-blind-safe colour (Okabe-Ito), line dash and marker shape per kind: the
#: kinds stay apart without colour too. The overlays draw every row faintly in it; the
#: ranked ten of a kind (:mod:`layers.gap_ranking`) are drawn over them, numbered.
KIND_STYLES: Mapping[str, Mapping[str, str]] = {
    "lighting": {"color": "#D55E00", "dash": "", "marker": "circle"},
    "irrigation": {"color": "#009E73", "dash": "2 5", "marker": "diamond"},
    "visits": {"color": "#0072B2", "dash": "8 4", "marker": "square"},
    "services": {"color": "#CC79A7", "dash": "10 4 2 4", "marker": "triangle"},
    "targets": {"color": "#000000", "dash": "1 4", "marker": "hexagon"},
}
#: How faintly the overlays draw the rows: the ranked ones stand out over them.
FAINT_OPACITY = 0.35
_ROUND = {"length_m": 0, "distance_m": 0, "start_km": 2, "end_km": 2, "pct": 1, "shortfall": 2}


@dataclass(frozen=True)
class OverlayDef:
    """One overlay: the rows of ``kind`` with this ``gap`` code on ``layer``; its label
    names the kind's thresholds in braces (the map uses the defaults)."""

    name: str
    kind: str
    gap: str
    layer: str
    label: tuple[str, str]
    geometry: tuple[str, ...]
    style: Mapping[str, Any]
    fields: tuple[tuple[str, str], ...]
    link: str


_POINT = ("Point",)
_LINES = ("LineString", "MultiLineString")
_AREAS = ("Point", "Polygon", "MultiPolygon")
_RING = {"radius": 9, "ring": True, "opacity": FAINT_OPACITY}
_FAR = (("name", "string"), ("township", "string"), ("distance_m", "number"))
_VISIT = (("name", "string"), ("township", "string"), ("last_visit", "date"))
OVERLAYS: tuple[OverlayDef, ...] = (
    OverlayDef("gap_dark_roads", "lighting", "dark_road", "roads",
               ("无路灯路段（>{min_gap_m}米）", "Unlit road stretches (>{min_gap_m} m)"), _LINES,
               {"color": "#D55E00", "weight": 6, "opacity": FAINT_OPACITY},
               (("name", "string"), ("start_km", "number"), ("end_km", "number"),
                ("length_m", "number")), "roads"),
    OverlayDef("gap_dry_greenhouses", "irrigation", "far_from_well", "greenhouses",
               ("距在用机井超{max_distance_m}米的大棚",
                "Greenhouses >{max_distance_m} m from a working well"),
               _AREAS,
               {"color": "#009E73", **_RING}, _FAR, "greenhouses"),
    OverlayDef("gap_dry_villages", "irrigation", "far_from_well", "villages",
               ("距在用机井超{max_distance_m}米的村",
                "Villages >{max_distance_m} m from a working well"),
               _POINT,
               {"color": "#009E73", **_RING, "dash": "2 5"}, _FAR, "villages"),
    OverlayDef("gap_dry_farmland", "irrigation", "far_from_well", "farmland",
               ("距在用机井超{max_distance_m}米的农田",
                "Farmland >{max_distance_m} m from a working well"),
               _AREAS,
               {"color": "#009E73", **_RING, "dash": "6 3"}, _FAR, "farmland"),
    OverlayDef("gap_unpiped_wells", "irrigation", "well_without_pipe", "wells",
               ("未配套管道的机井", "Wells without a pipe"), _POINT,
               {"color": "#009E73", **_RING, "radius": 6},
               (("name", "string"), ("township", "string")), "wells"),
    OverlayDef("gap_unvisited_villages", "visits", "not_visited", "villages",
               ("{max_days}天内未走访的村", "Villages not visited in {max_days} days"), _POINT,
               {"color": "#0072B2", "radius": 11, "ring": True, "opacity": FAINT_OPACITY},
               (*_VISIT, ("days_since", "integer"), ("visits", "integer")), "villages"),
    OverlayDef("gap_unresolved_villages", "visits", "unresolved", "villages",
               ("问题未解决完的村（{max_days}天内走访过）",
                "Villages visited, problems open"), _POINT,
               {"color": "#0072B2", "radius": 8, "ring": True, "opacity": FAINT_OPACITY},
               (*_VISIT, ("problems_raised", "integer"), ("problems_solved", "integer")),
               "villages"),
    OverlayDef("gap_far_from_bus", "services", "far_from_bus", "facilities",
               ("距免费公交超{max_distance_m}米的设施",
                "Facilities >{max_distance_m} m from the free bus"),
               _POINT,
               {"color": "#CC79A7", **_RING}, (*_FAR, ("kind", "string")), "facilities"),
    OverlayDef("gap_far_from_rest_station", "services", "far_from_rest_station", "roads",
               ("距爱心驿站超{rest_distance_m}米的街段",
                "Streets >{rest_distance_m} m from a rest station"),
               _LINES,
               {"color": "#CC79A7", "weight": 6, "opacity": FAINT_OPACITY, "dash": "10 4 2 4"},
               (("name", "string"), ("township", "string"), ("length_m", "number")), "roads"),
    OverlayDef("gap_behind_target", "targets", "behind_target", "ledger",
               ("未达目标的台账事项", "Ledger items behind target"), _POINT,
               {"color": "#000000", **_RING},
               (("name", "string"), ("village", "string"), ("township", "string"),
                ("target", "number"), ("actual", "number"), ("shortfall", "number")),
               "ledger"),
)  # fmt: skip


@dataclass(frozen=True)
class Overlay:
    """A derived overlay: its declaration, rows, and whose page a row opens.

    ``kind`` is the analysis it belongs to; ``link`` is ``villages`` (village page) or a
    layer name (that layer's feature page); ``link_id`` the column holding the id to open.
    """

    spec: LayerSpec
    frame: gpd.GeoDataFrame
    link: str
    link_id: str = "id"
    kind: str = ""


def kind_label(kind: str, lang: str, thresholds: Mapping[str, Any] | None = None) -> str:
    """What a kind counts, in ``lang``, with its thresholds (default: the defaults).

    >>> kind_label("visits", "en")
    'Villages to visit: not visited in 90 days, or problems open'
    >>> kind_label("lighting", "zh", {"min_gap_m": 250.0})
    '无路灯路段（>250米）'
    """
    given = parse_thresholds(kind, thresholds or {})
    numbers = {k: f"{v:g}" for k, v in given.items()}
    zh, en = KIND_LABELS[kind]
    return (en if lang == "en" else zh).format(**numbers)


def _spec(overlay: OverlayDef) -> LayerSpec:
    defaults = {k: f"{v:g}" for k, v in parse_thresholds(overlay.kind, {}).items()}

    def labels(pair: tuple[str, str]) -> dict[str, str]:
        return {"zh": pair[0].format(**defaults), "en": pair[1].format(**defaults)}

    return spec_from_mapping(
        {
            "name": overlay.name,
            "kind": "reference",
            "geometry": list(overlay.geometry),
            "label": labels(overlay.label),
            "id_prefix": "GP",
            "style": dict(overlay.style),
            "title_field": overlay.fields[0][0],
            "fields": [
                {"name": c, "type": t, "unit": _unit(c), "label": labels(COLUMN_LABELS[c])}
                for c, t in overlay.fields
            ],
        },
        "layers/gap_overlays.py",
    )


def _unit(column: str) -> str:
    return "m" if column.endswith("_m") else "km" if column.endswith("_km") else ""


def gap_specs() -> dict[str, LayerSpec]:
    """Declarations of every gap overlay, by name."""
    return {o.name: _spec(o) for o in OVERLAYS}


def kinds_of(source: LayerSource) -> list[str]:
    """The kinds a source can run: those whose main layers it has."""
    needs = {
        "lighting": ("roads", "streetlights"),
        "irrigation": ("wells",),
        "visits": ("villages", "visits"),
        "services": ("facilities",),
        "targets": ("ledger",),
    }
    return [k for k in KINDS if all(n in source.specs for n in needs[k])]


# ------------------------------------------------------------------------------ cache

_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], gpd.GeoDataFrame]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
_CACHE_MAX = 64


def _versions(store: Any, kind: str) -> tuple[tuple[str, int], ...]:
    names = KIND_SOURCES[kind] or tuple(store.layer_names())
    return tuple((n, int(store.version(n))) for n in names if n in store.specs)


def kind_gaps(
    source: LayerSource,
    kind: str,
    as_of: dt.date,
    thresholds: Mapping[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """:func:`run_gaps` of ``kind``, remembered per store while its layers stay the same.

    A source without layer versions (:class:`layers.analyses.FrameSource`) is not cached.
    The frame returned is shared: read it, do not change it.
    """
    given = parse_thresholds(kind, thresholds or {})
    if not hasattr(source, "version"):
        return run_gaps(source, kind, as_of=as_of, **given)
    key = (kind, as_of, tuple(sorted(given.items())), _versions(source, kind))
    with _LOCK:
        cache = _CACHE.setdefault(source, {})
        found = cache.get(key)
    if found is not None:
        return found
    found = run_gaps(source, kind, as_of=as_of, **given)
    with _LOCK:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = found
    return found


# --------------------------------------------------------------------------- overlays


def _overlay_frame(
    rows: gpd.GeoDataFrame, overlay: OverlayDef, spec: LayerSpec, fallback: BaseGeometry | None
) -> gpd.GeoDataFrame:
    """The rows of one overlay with ``id``, the overlay's fields and ``feature_id``."""
    ids = rows["feature_id"].astype(str).to_numpy(dtype=object)
    data: dict[str, Any] = {"id": ids}
    if overlay.kind == "lighting":  # several stretches of one road
        data["id"] = np.array([f"{r}#{i + 1}" for i, r in enumerate(ids)], dtype=object)
    for name in spec.field_names:
        values = rows[name] if name in rows.columns else pd.Series([None] * len(rows))
        if name in _ROUND:
            values = pd.to_numeric(values, errors="coerce").round(_ROUND[name])
        elif name == "last_visit":
            values = values.map(lambda d: None if d is None else str(d)[:10])
        data[name] = values.to_numpy(dtype=object)
    data["feature_id"] = ids
    geoms = np.asarray(rows.geometry.to_numpy(), dtype=object)
    missing = shapely.is_missing(geoms) if len(geoms) else np.zeros(0, dtype=bool)
    if fallback is not None and missing.any():
        geoms = geoms.copy()
        geoms[missing] = fallback
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    return frame if fallback is not None else frame[~missing]


def _fallback_point(source: LayerSource) -> BaseGeometry | None:
    """Where a gap with no place of its own (a county-level ledger item) is drawn."""
    if "boundaries" not in source.specs:
        return None
    frame = source.frame("boundaries")
    if len(frame) == 0 or "level" not in frame.columns:
        return None
    county = frame[(frame["level"].astype(str) == "county").to_numpy()]
    return shapely.point_on_surface(county.geometry.iloc[0]) if len(county) else None


def _kind_overlays(
    source: LayerSource, kind: str, found: gpd.GeoDataFrame, fallback: BaseGeometry | None
) -> dict[str, Overlay]:
    specs = gap_specs()
    out: dict[str, Overlay] = {}
    for overlay in (o for o in OVERLAYS if o.kind == kind):
        if overlay.layer not in source.specs:
            continue
        keep = ((found["gap"] == overlay.gap) & (found["layer"] == overlay.layer)).to_numpy()
        spec = specs[overlay.name]
        frame = _overlay_frame(found[keep], overlay, spec, fallback)
        link_id = "feature_id" if overlay.kind == "lighting" else "id"
        out[overlay.name] = Overlay(spec, frame, overlay.link, link_id, kind)
    return out


def gap_overlays(source: LayerSource, as_of: dt.date) -> dict[str, Overlay]:
    """Every gap overlay of the kinds ``source`` can run, as of a day, by name.

    An overlay is left out when its layer is missing; it is kept, empty, when the
    analysis finds nothing. The rows of a kind's overlays are exactly the rows of
    ``run_gaps(source, kind, as_of=as_of)``; they are split again only when the
    analysis ran again.
    """
    fallback = _fallback_point(source)
    out: dict[str, Overlay] = {}
    for kind in kinds_of(source):
        found = kind_gaps(source, kind, as_of)

        def split(kind: str = kind, found: gpd.GeoDataFrame = found) -> dict[str, Overlay]:
            return _kind_overlays(source, kind, found, fallback)

        out.update(per_frame(found, "overlays", split))
    return out


def kind_counts(overlays: Mapping[str, Overlay]) -> dict[str, int]:
    """Rows per kind over ``overlays`` (kinds in :data:`KINDS` order)."""
    counts: dict[str, int] = {}
    for kind in KINDS:
        mine = [len(o.frame) for o in overlays.values() if o.kind == kind]
        if mine:
            counts[kind] = sum(mine)
    return counts
