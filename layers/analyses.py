"""Gap analyses over the store: which roads are dark, which fields far from water, ...

:func:`run_gaps` pulls the frames an analysis needs from the store, replays them to an
"as of" day (work dated later is left out), calls the pure functions of :mod:`geo.gaps`
and returns one GeoDataFrame (EPSG:4326) with the same leading columns for every kind:
``gap`` (what is wrong, a code), ``layer``, ``feature_id``, ``name``, ``township``,
``township_id``, then the measures of the kind. :func:`layers.gap_files.write_frame` and
:func:`layers.gap_files.frame_bytes` write such a frame as GeoJSON, CSV (UTF-8 with a
BOM, WKT), xlsx (Chinese headers by default) or GeoPackage.

Kinds and their thresholds (defaults in :data:`THRESHOLDS`):

- ``lighting``: stretches of road longer than ``min_gap_m`` with no working light within
  ``lateral_m``.
- ``irrigation``: greenhouses, villages (and farmland, when a county declares that layer)
  farther than ``max_distance_m`` from a working well; wells no pipe starts from (a pipe
  end within ``snap_m`` or naming the well).
- ``visits``: villages not visited within ``max_days``, or with more problems raised
  than solved.
- ``services``: hospitals, the service centre, markets and schools farther than
  ``max_distance_m`` from the free bus route or its stops; parts of main streets farther
  than ``rest_distance_m`` from a rest station.
- ``targets``: planting and greenhouse ledger items behind their target, by village.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.areas import assign_to_areas
from geo.gaps import (
    irrigation_gaps,
    rest_station_gaps,
    road_lighting_gaps,
    service_gaps,
    target_gaps,
    visit_gaps,
    wells_without_pipe,
)
from geo.messages import register
from geo.metric import WGS84
from layers.errors import BadRequest, NotFound
from layers.ledger import ledger_progress
from layers.review import approved_only
from layers.specs import LayerSpec, SpecRegistry
from layers.store_base import BaseStore

for _code, _zh, _en in (
    (
        "gaps_unknown_kind",
        "没有名为“{value}”的分析，可选：{allowed}",
        "There is no analysis called '{value}'; choose from {allowed}",
    ),
    (
        "gaps_unknown_threshold",
        "分析“{kind}”没有参数“{value}”，可选：{allowed}",
        "The analysis '{kind}' has no threshold '{value}'; choose from {allowed}",
    ),
    (
        "gaps_unknown_format",
        "不支持的文件格式“{value}”，可选：{allowed}",
        "Unsupported file format '{value}'; choose from {allowed}",
    ),
    (
        "bad_as_of",
        "日期“{value}”无效，应写作 2026-10-31",
        "The date '{value}' is not valid; write it as 2026-10-31",
    ),
):
    register(_code, _zh, _en)


class LayerSource(Protocol):
    """Where an analysis reads its layers: a store, or :class:`FrameSource` (frames)."""

    @property
    def specs(self) -> SpecRegistry: ...

    def spec(self, layer: str) -> LayerSpec: ...

    def frame(self, layer: str) -> gpd.GeoDataFrame: ...


class FrameSource:
    """Layer frames and their specs read like a store (no ledger: ``targets`` is empty).

    >>> FrameSource({}, []).specs.names()
    []
    """

    def __init__(self, frames: Mapping[str, gpd.GeoDataFrame], specs: Iterable[LayerSpec]):
        self.frames = dict(frames)
        self.specs = SpecRegistry([s for s in specs if s.name in self.frames])

    def spec(self, layer: str) -> LayerSpec:
        """The declaration of ``layer``."""
        return self.specs[layer]

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """The frame of ``layer``."""
        return self.frames[layer]


@dataclass(frozen=True)
class Threshold:
    """One threshold of an analysis: name (also the CLI option and URL parameter),
    default, whether it is a whole number."""

    name: str
    default: float
    integer: bool = False


KINDS = ("lighting", "irrigation", "visits", "services", "targets")
THRESHOLDS: Mapping[str, tuple[Threshold, ...]] = {
    "lighting": (Threshold("min_gap_m", 100.0), Threshold("lateral_m", 30.0)),
    "irrigation": (Threshold("max_distance_m", 500.0), Threshold("snap_m", 10.0)),
    "visits": (Threshold("max_days", 90, integer=True),),
    "services": (Threshold("max_distance_m", 500.0), Threshold("rest_distance_m", 1000.0)),
    "targets": (),
}
#: Statuses of a well that count as one a pipe should start from.
SERVING_WELL_STATUSES = ("working", "installed", "faulty")
#: Facility kinds the free bus should serve.
SERVED_KINDS = ("hospital", "service_centre", "market", "school")
#: Ledger categories compared with their targets by ``targets``.
TARGET_CATEGORIES = ("plantings", "greenhouses")
#: Layers whose places should be near a working well, when the store has them.
IRRIGATED_LAYERS = ("greenhouses", "villages", "farmland")
LEADING_COLUMNS = ("gap", "layer", "feature_id", "name", "township", "township_id")
FORMATS = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
}
_SUFFIXES = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".gpkg": "gpkg",
}

#: Column headers of the files people read (xlsx, CSV), zh and en.
COLUMN_LABELS: Mapping[str, tuple[str, str]] = {
    "gap": ("问题类型", "Gap"),
    "layer": ("图层", "Layer"),
    "feature_id": ("编号", "ID"),
    "name": ("名称", "Name"),
    "township": ("乡镇", "Township"),
    "township_id": ("乡镇编号", "Township ID"),
    "start_km": ("起点桩号（公里）", "From (km)"),
    "end_km": ("终点桩号（公里）", "To (km)"),
    "length_m": ("长度（米）", "Length (m)"),
    "distance_m": ("距离（米）", "Distance (m)"),
    "nearest_well_id": ("最近机井编号", "Nearest well"),
    "kind": ("类型", "Kind"),
    "last_visit": ("最近走访日期", "Last visit"),
    "days_since": ("距上次走访天数", "Days since"),
    "visits": ("走访次数", "Visits"),
    "problems_raised": ("反映问题数", "Problems raised"),
    "problems_solved": ("解决问题数", "Problems solved"),
    "not_visited_recently": ("超期未走访", "Not visited recently"),
    "unresolved": ("问题未解决完", "Problems open"),
    "category": ("类别", "Category"),
    "village": ("村", "Village"),
    "unit": ("单位", "Unit"),
    "target": ("目标数量", "Target"),
    "actual": ("完成数量", "Done"),
    "shortfall": ("差额", "Shortfall"),
    "pct": ("完成率（%）", "Done (%)"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "wkt": ("几何（WKT）", "Geometry (WKT)"),
}
#: What each ``gap`` code means, zh and en.
GAP_LABELS: Mapping[str, tuple[str, str]] = {
    "dark_road": ("无路灯路段", "Unlit stretch of road"),
    "far_from_well": ("距机井过远", "Far from a working well"),
    "well_without_pipe": ("机井未配管道", "Well without a pipe"),
    "not_visited": ("超期未走访", "Not visited recently"),
    "unresolved": ("问题未解决完", "Problems not all solved"),
    "far_from_bus": ("远离免费公交", "Far from the free bus"),
    "far_from_rest_station": ("远离爱心驿站", "Far from a rest station"),
    "behind_target": ("未达目标", "Behind target"),
}


# ------------------------------------------------------------------------ parameters


def parse_as_of(text: str | None) -> dt.date | None:
    """The day of ``?as_of=YYYY-MM-DD`` (None when blank); :class:`BadRequest` otherwise.

    >>> parse_as_of("2026-10-31"), parse_as_of("")
    (datetime.date(2026, 10, 31), None)
    """
    if text is None or not str(text).strip():
        return None
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise BadRequest("bad_as_of", value=str(text)[:40]) from None


def check_kind(kind: str) -> str:
    """``kind`` if it is an analysis, else :class:`NotFound` naming the choices."""
    if kind not in THRESHOLDS:
        raise NotFound("gaps_unknown_kind", value=str(kind)[:40], allowed=", ".join(KINDS))
    return kind


def parse_thresholds(kind: str, args: Mapping[str, Any]) -> dict[str, float]:
    """The thresholds of ``kind`` read from ``args`` (URL parameters, CLI options).

    Blank or absent means the default; other keys are ignored (they belong to the page).
    A value that is not a finite number of at least 0 raises :class:`BadRequest`.

    >>> parse_thresholds("lighting", {"min_gap_m": "150", "lang": "en"})
    {'min_gap_m': 150.0, 'lateral_m': 30.0}
    """
    out: dict[str, float] = {}
    for threshold in THRESHOLDS[check_kind(kind)]:
        raw = args.get(threshold.name)
        if raw is None or str(raw).strip() == "":
            out[threshold.name] = threshold.default
            continue
        out[threshold.name] = _threshold_value(threshold, raw)
    return out


def _threshold_value(threshold: Threshold, raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (threshold.integer and not value.is_integer()):
        raise BadRequest("gaps_bad_threshold", field=threshold.name, value=str(raw)[:40])
    return float(int(value)) if threshold.integer else value


def _thresholds(kind: str, given: Mapping[str, Any]) -> dict[str, float]:
    allowed = [t.name for t in THRESHOLDS[kind]]
    unknown = [name for name in given if name not in allowed]
    if unknown:
        raise BadRequest(
            "gaps_unknown_threshold",
            kind=kind,
            value=unknown[0],
            allowed=", ".join(allowed) or "-",
        )
    return parse_thresholds(kind, given)


# ---------------------------------------------------------------------------- frames


def layer_frame(store: LayerSource, layer: str, as_of: dt.date | None) -> gpd.GeoDataFrame:
    """The live features of ``layer`` dated on or before ``as_of`` by its date field
    (undated ones are kept), of a work layer only the approved ones (see
    :mod:`layers.review`); an empty frame when the store has no such layer."""
    if layer not in store.specs:
        return gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    spec = store.spec(layer)
    frame = store.frame(layer)
    if spec.kind == "work":
        frame = approved_only(frame)  # only approved works count (review, issue #14)
    field = spec.date_field
    if as_of is None or not field or len(frame) == 0:
        return frame
    # Compared per distinct value (a million rows hold a few thousand dates); a frame
    # with nothing dated later is returned as it is, not copied.
    codes, values = pd.factorize(frame[field], use_na_sentinel=True)
    day = as_of.isoformat()
    later = np.array([str(v)[:10] > day for v in values] + [False], dtype=bool)
    keep = ~later[codes]  # code -1 (no date) reads the last entry: kept
    return frame if keep.all() else frame[keep]


def township_areas(store: LayerSource) -> gpd.GeoDataFrame:
    """Township polygons (``township_id``, ``township``) from the boundaries layer."""
    frame = layer_frame(store, "boundaries", None)
    if len(frame) and "level" in frame.columns:
        frame = frame[(frame["level"].astype(str) == "township").to_numpy()]
        frame = frame[frame.geometry.notna().to_numpy() & ~frame.geometry.is_empty.to_numpy()]
    else:
        frame = frame.iloc[:0]
    names = frame["name"] if "name" in frame.columns else pd.Series([], dtype=object)
    return gpd.GeoDataFrame(
        {
            "township_id": frame["id"].astype(str).to_numpy(dtype=object),
            "township": names.astype(object).to_numpy(dtype=object),
        },
        geometry=gpd.GeoSeries(frame.geometry.to_numpy(), crs=WGS84),
        crs=WGS84,
    )


def tag_townships(frame: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with ``township`` and ``township_id`` filled in.

    A ``township`` already named (a village's own township) is kept when it is a known
    township; otherwise the township is the one the feature lies in (a line or polygon
    by a point on its surface).
    """
    out = frame.copy()
    ids_by_name = dict(zip(areas["township"], areas["township_id"], strict=True))
    names_by_id = dict(zip(areas["township_id"], areas["township"], strict=True))
    given = _column(out, "township")
    known = np.array([isinstance(n, str) and n in ids_by_name for n in given], dtype=bool)
    located = np.full(len(out), None, dtype=object)
    geoms = out.geometry
    placed = (geoms.notna() & ~geoms.is_empty).to_numpy()
    if placed.any() and len(areas):
        keyed = areas.rename(columns={"township_id": "village_id"})[["village_id", "geometry"]]
        located[placed] = assign_to_areas(out[placed], keyed).to_numpy(dtype=object)
    ids = [ids_by_name.get(n) if k else i for n, k, i in zip(given, known, located, strict=True)]
    names = [n if k else names_by_id.get(i) for n, k, i in zip(given, known, ids, strict=True)]
    out["township_id"] = pd.Series(ids, index=out.index, dtype="object")
    out["township"] = pd.Series(names, index=out.index, dtype="object")
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return np.asarray(frame[name].to_numpy(dtype=object), dtype=object)
    return np.full(len(frame), None, dtype=object)


def _names(store: LayerSource, layer: str, frame: pd.DataFrame) -> np.ndarray:
    """The title of each feature (the layer's title field, else ``name``), None if none."""
    spec = store.specs.get(layer)
    field = spec.title_field if spec is not None and spec.title_field else "name"
    return _column(frame, field)


def _result(
    gap: str,
    layer: str,
    frame: gpd.GeoDataFrame,
    ids: Iterable[Any],
    names: Iterable[Any],
    measures: Mapping[str, Any],
) -> gpd.GeoDataFrame:
    """A gap frame with the shared leading columns, then ``measures``."""
    n = len(frame)
    data: dict[str, Any] = {
        "gap": [gap] * n,
        "layer": [layer] * n,
        "feature_id": list(ids),
        "name": list(names),
        "township": _column(frame, "township"),
        "township_id": [None] * n,
    }
    for key, values in measures.items():
        # Lists keep ints and None as they are; arrays are numeric columns.
        is_array = isinstance(values, np.ndarray)
        data[key] = values if is_array else pd.Series(list(values), dtype=object)
    return gpd.GeoDataFrame(
        data, geometry=gpd.GeoSeries(frame.geometry.to_numpy(), crs=WGS84), crs=WGS84
    )


def _empty_result(measures: Iterable[str]) -> gpd.GeoDataFrame:
    columns = {c: pd.Series([], dtype=object) for c in (*LEADING_COLUMNS, *measures)}
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def _concat(parts: list[gpd.GeoDataFrame], measures: Iterable[str]) -> gpd.GeoDataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_result(measures)
    frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)


# --------------------------------------------------------------------------- analyses


def _lighting(store: LayerSource, as_of: dt.date, t: Mapping[str, float]) -> gpd.GeoDataFrame:
    roads = layer_frame(store, "roads", as_of)
    lights = layer_frame(store, "streetlights", as_of)
    found = road_lighting_gaps(roads, lights, min_gap_m=t["min_gap_m"], lateral_m=t["lateral_m"])
    measures = {
        "start_km": found["start_km"].to_numpy(),
        "end_km": found["end_km"].to_numpy(),
        "length_m": found["length_m"].to_numpy(),
    }
    frame = gpd.GeoDataFrame(geometry=found.geometry, crs=WGS84)
    return _result("dark_road", "roads", frame, found["road_id"], found["road_name"], measures)


def _irrigation(store: LayerSource, as_of: dt.date, t: Mapping[str, float]) -> gpd.GeoDataFrame:
    wells = layer_frame(store, "wells", as_of)
    parts = []
    for layer in IRRIGATED_LAYERS:
        if layer not in store.specs:
            continue
        targets = layer_frame(store, layer, as_of)
        far = irrigation_gaps(targets, wells, max_distance_m=t["max_distance_m"])
        measures = {
            "distance_m": far["nearest_well_m"].to_numpy(dtype=float),
            "nearest_well_id": list(_column(far, "nearest_well_id")),
        }
        names = _names(store, layer, far)
        parts.append(_result("far_from_well", layer, far, far["id"], names, measures))
    pipes = layer_frame(store, "pipes", as_of)
    dry = wells_without_pipe(wells, pipes, snap_m=t["snap_m"], counted_status=SERVING_WELL_STATUSES)
    parts.append(
        _result("well_without_pipe", "wells", dry, dry["id"], _names(store, "wells", dry), {})
    )
    return _concat(parts, ("distance_m", "nearest_well_id"))


def village_visits(store: LayerSource, as_of: dt.date, max_days: float) -> gpd.GeoDataFrame:
    """Every village with its visits up to ``as_of`` (see :func:`geo.gaps.visit_gaps`)."""
    villages = layer_frame(store, "villages", as_of)
    visits = layer_frame(store, "visits", as_of)
    return visit_gaps(villages, visits, as_of=as_of, max_days=int(max_days))


def _visits(store: LayerSource, as_of: dt.date, t: Mapping[str, float]) -> gpd.GeoDataFrame:
    seen = village_visits(store, as_of, t["max_days"])
    flagged = seen[(seen["not_visited_recently"] | seen["unresolved"]).to_numpy()]
    gap = np.where(flagged["not_visited_recently"].to_numpy(), "not_visited", "unresolved")
    columns = (
        "last_visit",
        "days_since",
        "visits",
        "problems_raised",
        "problems_solved",
        "not_visited_recently",
        "unresolved",
    )
    measures = {c: list(flagged[c].to_numpy(dtype=object)) for c in columns}
    out = _result("", "villages", flagged, flagged["id"], _column(flagged, "name"), measures)
    out["gap"] = gap
    return out if len(out) else _empty_result(columns)


def _services(store: LayerSource, as_of: dt.date, t: Mapping[str, float]) -> gpd.GeoDataFrame:
    facilities = layer_frame(store, "facilities", as_of)
    kinds = _column(facilities, "kind")
    stops = facilities[kinds == "bus_stop"]
    stations = facilities[kinds == "rest_station"]
    routes = layer_frame(store, "bus_routes", as_of)
    far = service_gaps(
        facilities, routes, stops, kinds=SERVED_KINDS, max_distance_m=t["max_distance_m"]
    )
    bus = _result(
        "far_from_bus",
        "facilities",
        far,
        far["id"],
        _column(far, "name"),
        {"kind": list(_column(far, "kind")), "distance_m": far["distance_m"].to_numpy(float)},
    )
    roads = layer_frame(store, "roads", as_of)
    main = _column(roads, "main_street")
    streets = roads[np.array([v is True or str(v).lower() == "true" for v in main], dtype=bool)]
    uncovered = rest_station_gaps(streets, stations, max_distance_m=t["rest_distance_m"])
    frame = gpd.GeoDataFrame(geometry=uncovered.geometry, crs=WGS84)
    rest = _result(
        "far_from_rest_station",
        "roads",
        frame,
        uncovered["street_id"],
        uncovered["street_name"],
        {"length_m": uncovered["length_m"].to_numpy()},
    )
    return _concat([bus, rest], ("kind", "distance_m", "length_m"))


def _targets(store: LayerSource, as_of: dt.date, t: Mapping[str, float]) -> gpd.GeoDataFrame:
    measures = ("category", "village", "unit", "target", "actual", "shortfall", "pct")
    if not isinstance(store, BaseStore) or "ledger" not in store.specs:
        return _empty_result(measures)
    items = [
        p
        for p in ledger_progress(store, today=as_of, as_of=as_of, categories=TARGET_CATEGORIES)
        if p.status != "cancelled" and not p.carried_to  # its successor holds the rest
    ]
    table = pd.DataFrame(
        {
            "feature_id": [p.id for p in items],
            "name": [p.title for p in items],
            "layer": [p.category for p in items],
            "category": [p.category for p in items],
            "township": [p.township or None for p in items],
            "village": [p.village or None for p in items],
            "unit": [p.unit for p in items],
            "target": [p.target for p in items],
            "actual": [p.actual for p in items],
        }
    )
    behind = target_gaps(table).reset_index(drop=True)
    if len(behind) == 0:
        return _empty_result(measures)
    geoms = _place_points(store, behind)
    frame = gpd.GeoDataFrame(behind, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    out = _result(
        "behind_target",
        "ledger",
        frame,
        behind["feature_id"],
        behind["name"],
        {c: list(behind[c].to_numpy(dtype=object)) for c in measures},
    )
    return out


def _place_points(store: LayerSource, rows: pd.DataFrame) -> list[Any]:
    """The village point of each row (by name within its township), else a point in its
    township, else None."""
    villages = layer_frame(store, "villages", None)
    areas = township_areas(store)
    by_village = {
        (str(n), str(t)): g
        for n, t, g in zip(
            _column(villages, "name"), _column(villages, "township"), villages.geometry, strict=True
        )
    }
    by_name = {str(n): g for n, g in zip(_column(villages, "name"), villages.geometry, strict=True)}
    inside = {
        str(n): shapely.point_on_surface(g)
        for n, g in zip(areas["township"], areas.geometry, strict=True)
    }
    out: list[Any] = []
    for village, township in zip(rows["village"], rows["township"], strict=True):
        key = (str(village), str(township))
        out.append(
            by_village.get(key)
            or (by_name.get(str(village)) if village else None)
            or inside.get(str(township))
        )
    return out


_RUNNERS = {
    "lighting": _lighting,
    "irrigation": _irrigation,
    "visits": _visits,
    "services": _services,
    "targets": _targets,
}


def run_gaps(
    store: LayerSource, kind: str, *, as_of: dt.date | None = None, **thresholds: Any
) -> gpd.GeoDataFrame:
    """One gap analysis over the store's layers, as of a day.

    Parameters
    ----------
    store : GeoJSONStore
        Where the layers come from (roads, streetlights, villages, greenhouses, wells,
        pipes, visits, facilities, bus_routes, boundaries, the ledger).
    kind : str
        ``lighting``, ``irrigation``, ``visits``, ``services`` or ``targets``.
    as_of : datetime.date, optional
        The day to replay to (default today): work dated later does not count.
    **thresholds
        The kind's thresholds (:data:`THRESHOLDS`), in metres or days; numbers or text.

    Returns
    -------
    GeoDataFrame
        One row per gap, EPSG:4326, with ``gap``, ``layer``, ``feature_id``, ``name``,
        ``township``, ``township_id`` and the kind's measures (``length_m`` and
        ``start_km``/``end_km``; ``distance_m``; visit figures; target, actual, shortfall).

    Raises
    ------
    NotFound
        Unknown kind.
    BadRequest
        Unknown threshold, or a value that is not a finite number of at least 0.

    Examples
    --------
    >>> import tempfile
    >>> from layers.store import GeoJSONStore
    >>> store = GeoJSONStore(tempfile.mkdtemp())
    >>> len(run_gaps(store, "lighting", min_gap_m=100))
    0
    """
    given = _thresholds(check_kind(kind), thresholds)
    day = as_of or dt.date.today()
    found = _RUNNERS[kind](store, day, given)
    return tag_townships(found, township_areas(store)).reset_index(drop=True)


# ---------------------------------------------------------------------------- writing
# The files of a gap frame are written by layers.gap_files (through layers.tabular);
# here stay the names those files and the pages use.


def format_for(path: Path | str) -> str:
    """The format key of a file name's extension (``.geojson``, ``.csv``, ``.xlsx``,
    ``.gpkg``); :class:`BadRequest` for another."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise BadRequest(
            "gaps_unknown_format", value=suffix or str(path), allowed=".geojson, .csv, .xlsx, .gpkg"
        )
    return _SUFFIXES[suffix]


def column_label(name: str, lang: str) -> str:
    """A column's header in ``lang`` (the name itself for an unknown column)."""
    labels = COLUMN_LABELS.get(name)
    return (labels[1] if lang == "en" else labels[0]) if labels else name


def gap_label(code: Any, lang: str) -> str:
    """What a ``gap`` code means in ``lang``."""
    labels = GAP_LABELS.get(str(code))
    return (labels[1] if lang == "en" else labels[0]) if labels else str(code or "")
