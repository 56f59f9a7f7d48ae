"""What the map pages show: URL filters, the features of each layer, figures.

Pure functions over GeoDataFrames and layer specs, with no request, no app and no store:
the routes in ``webmap.views.maps`` read the county's snapshot, call these, then
``webmap.maps``. The domain parts live in ``layers`` and are re-exported here: places
(:mod:`layers.places`), gap overlays (:mod:`layers.gap_overlays`, the rows of
:func:`layers.analyses.run_gaps`) and the county snapshot (:mod:`layers.county_view`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.metric import WGS84
from geo.summary import works_by_month, works_summary
from layers.analyses import FrameSource
from layers.county_view import Snapshot as Snapshot
from layers.county_view import per_frame
from layers.county_view import snapshot as _snapshot
from layers.errors import BadRequest
from layers.gap_overlays import Overlay as Overlay
from layers.gap_overlays import gap_overlays
from layers.places import Place as Place
from layers.places import Places, anchor_points
from layers.places import find_places as find_places
from layers.places import village_count_per_township as village_count_per_township
from layers.places import where_is as where_is
from layers.places import works_per_village as works_per_village
from layers.specs import LayerSpec
from webmap.display import FieldRow as FieldRow
from webmap.display import HistoryRow as HistoryRow
from webmap.display import display_value as display_value
from webmap.display import feature_title as feature_title
from webmap.display import field_rows as field_rows
from webmap.display import format_datetime as format_datetime
from webmap.display import history_rows as history_rows
from webmap.display import plain_value as plain_value
from webmap.display import ref_titles as ref_titles
from webmap.display import unit_label as unit_label
from webmap.i18n import format_date, format_number, translate
from webmap.ogc.crs import CRS84
from webmap.ogc.params import parse_bbox

BASEMAPS = ("osm", "tianditu", "amap", "none")
GROUPS = ("work", "reference", "gaps")
#: Work layers in the order a planner reads them; layers a county adds come after.
WORK_ORDER = ("streetlights", "wells", "pipes", "greenhouses", "plantings", "villages", "visits")
REFERENCE_ORDER = ("boundaries", "roads", "bus_routes", "facilities")
#: Reference layers shown only when asked for (the outlines and roads are always drawn).
HIDDEN_BY_DEFAULT = frozenset({"facilities", "bus_routes"})
MU_M2 = 10000.0 / 15.0  # one mu (亩)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXT_MAX = 80
_POINT = 0


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What the URL asks the map to show. Empty strings mean "no filter".

    A filter applies to every work layer that has its field (``status``,
    ``ledger_item``, the layer's date field); layers without the field are unaffected.
    ``township`` and ``village`` are place ids and filter work layers by location.
    """

    layers: tuple[str, ...] | None = None
    status: str = ""
    township: str = ""
    village: str = ""
    date_from: str = ""
    date_to: str = ""
    ledger_item: str = ""

    #: URL parameter of each field.
    URL_NAMES = {
        "layers": "layers",
        "status": "status",
        "township": "township",
        "village": "village",
        "date_from": "from",
        "date_to": "to",
        "ledger_item": "ledger",
    }

    def args(self, *, with_layers: bool = True) -> dict[str, str]:
        """The non-empty filters as URL parameters."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "layers":
                if with_layers and value is not None:
                    out["layers"] = ",".join(value)
            elif value:
                out[self.URL_NAMES[f.name]] = value
        return out

    @property
    def narrows(self) -> bool:
        """Whether any filter other than the layer choice is set."""
        return bool(self.args(with_layers=False))


def _text_arg(args: Mapping[str, str], name: str) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > _TEXT_MAX:
        raise BadRequest(value=f"{name}: too long")
    return value


def _date_arg(args: Mapping[str, str], name: str) -> str:
    value = _text_arg(args, name)
    if value and (not _DATE.match(value) or not _valid_date(value)):
        raise BadRequest(value=f"{name}={value}")
    return value


def _valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_filters(args: Mapping[str, str], layer_names: Iterable[str]) -> Filters:
    """Filters from URL parameters; unknown layer names in ``layers`` are dropped.

    Raises :class:`BadRequest` for a malformed date or a range that ends before it starts.

    >>> parse_filters({"status": "faulty", "from": "2024-01-01"}, ["wells"]).args()
    {'status': 'faulty', 'from': '2024-01-01'}
    >>> parse_filters({"layers": "wells,nope"}, ["wells"]).layers
    ('wells',)
    """
    known = set(layer_names)
    raw_layers = args.get("layers")
    layers = None
    if raw_layers is not None:
        layers = tuple(dict.fromkeys(n for n in raw_layers.split(",") if n in known))
    date_from, date_to = _date_arg(args, "from"), _date_arg(args, "to")
    if date_from and date_to and date_from > date_to:
        raise BadRequest(value=f"from={date_from} > to={date_to}")
    return Filters(
        layers=layers,
        status=_text_arg(args, "status"),
        township=_text_arg(args, "township"),
        village=_text_arg(args, "village"),
        date_from=date_from,
        date_to=date_to,
        ledger_item=_text_arg(args, "ledger"),
    )


def choose_basemap(requested: str | None, default: str, tianditu_key: str) -> str:
    """The basemap to draw: the requested one if offered, else the default, else OSM.

    Tianditu is offered only with a key.

    >>> choose_basemap("tianditu", "osm", ""), choose_basemap(None, "none", "")
    ('osm', 'none')
    """
    offered = offered_basemaps(tianditu_key)
    for choice in (requested, default, "osm"):
        if choice in offered:
            return choice
    return "none"


def offered_basemaps(tianditu_key: str) -> tuple[str, ...]:
    """The basemaps a user may choose."""
    return tuple(b for b in BASEMAPS if b != "tianditu" or tianditu_key)


# ---------------------------------------------------------------------------- selection


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str).str[:10]


def select_features(
    frame: gpd.GeoDataFrame, spec: LayerSpec, filters: Filters, area: BaseGeometry | None
) -> gpd.GeoDataFrame:
    """The rows of one layer that ``filters`` (and the place ``area``) leave.

    Only work layers are filtered; a filter on a field the layer lacks leaves it alone.
    A work lies in ``area`` when its point (or a point on its surface) does.
    """
    if spec.kind != "work" or len(frame) == 0:
        return frame
    if (
        area is None
        and not (filters.status or filters.ledger_item or filters.date_from)
        and (not filters.date_to)
    ):
        return frame  # nothing to select: no copy of a layer of a million rows
    keep = np.ones(len(frame), dtype=bool)
    if filters.status and spec.status_field:
        keep &= (frame[spec.status_field].astype(str) == filters.status).to_numpy()
    if filters.ledger_item and "ledger_item" in frame.columns:
        keep &= (frame["ledger_item"].astype(str) == filters.ledger_item).to_numpy()
    if (filters.date_from or filters.date_to) and spec.date_field:
        days = _dates(frame, spec.date_field)
        keep &= (days != "").to_numpy()
        if filters.date_from:
            keep &= (days >= filters.date_from).to_numpy()
        if filters.date_to:
            keep &= (days <= filters.date_to).to_numpy()
    if area is not None:
        shapely.prepare(area)
        keep[keep] = shapely.intersects(area, anchor_points(frame.geometry[keep]))
    return frame[keep]


def near_area(frame: gpd.GeoDataFrame, area: BaseGeometry, margin: float = 0.3) -> gpd.GeoDataFrame:
    """Rows of a reference layer that touch the box of ``area`` widened by ``margin``."""
    if len(frame) == 0:
        return frame
    minx, miny, maxx, maxy = area.bounds
    dx, dy = (maxx - minx) * margin, (maxy - miny) * margin
    box = shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy)
    return frame[shapely.intersects(box, np.asarray(frame.geometry.to_numpy(), dtype=object))]


@dataclass(frozen=True)
class MapLayer:
    """One overlay of a map: its spec, panel group, the rows to draw, and whether it is on.

    ``link`` says whose page a feature opens: ``villages`` (the village page) or a layer
    name (that layer's feature page), with the id in column ``link_id``. A gap overlay
    names its analysis in ``gap_kind``.
    """

    spec: LayerSpec
    group: str
    frame: gpd.GeoDataFrame
    show: bool
    link: str
    link_id: str = "id"
    gap_kind: str = ""

    @property
    def name(self) -> str:
        """The layer's name."""
        return self.spec.name


def _ordered(specs: Iterable[LayerSpec]) -> list[LayerSpec]:
    rank = {n: i for i, n in enumerate(WORK_ORDER + REFERENCE_ORDER)}
    return sorted(specs, key=lambda s: (s.kind != "work", rank.get(s.name, 99), s.name))


def _shown(name: str, group: str, filters: Filters) -> bool:
    if filters.layers is not None:
        return name in filters.layers
    return group == "work" or (group == "reference" and name not in HIDDEN_BY_DEFAULT)


def map_layers(
    frames: Mapping[str, gpd.GeoDataFrame],
    specs: Iterable[LayerSpec],
    filters: Filters,
    places: Places,
    gaps: Mapping[str, Overlay] | None = None,
    *,
    focus: BaseGeometry | None = None,
) -> list[MapLayer]:
    """The overlays of a map page: every spatial layer, then the gap overlays.

    ``focus`` (a township or village area) limits work layers to it and reference layers
    to its surroundings; otherwise the place filters decide.
    """
    area = focus if focus is not None else places.area_of(filters)
    out = []
    for spec in _ordered(specs):
        if not spec.spatial or spec.name not in frames:
            continue
        frame = select_features(frames[spec.name], spec, filters, area)
        if spec.kind != "work" and focus is not None and spec.name != "boundaries":
            frame = near_area(frame, focus)
        group = "work" if spec.kind == "work" else "reference"
        out.append(MapLayer(spec, group, frame, _shown(spec.name, group, filters), spec.name))
    for name, overlay in (gaps or {}).items():
        frame = overlay.frame
        if area is not None and len(frame):
            frame = frame[shapely.intersects(area, anchor_points(frame.geometry))]
        shown = _shown(name, "gaps", filters)
        link, link_id = overlay.link, overlay.link_id
        out.append(MapLayer(overlay.spec, "gaps", frame, shown, link, link_id, overlay.kind))
    return out


# ---------------------------------------------------------------------- area figures


@dataclass(frozen=True)
class StatusCount:
    """How many features of a layer have one status, with its label and colour."""

    code: str
    label: str
    color: str
    count: int


@dataclass(frozen=True)
class LayerCount:
    """A work layer's feature count in an area, split by status when it has one."""

    name: str
    label: str
    color: str
    count: int
    statuses: tuple[StatusCount, ...]


def status_counts(spec: LayerSpec, frame: pd.DataFrame, lang: str) -> tuple[StatusCount, ...]:
    """Features per status, in the order the spec declares the statuses (zeros kept)."""
    if not spec.status_field or spec.status_field not in frame.columns:
        return ()
    fspec = spec.field(spec.status_field)
    assert fspec is not None
    counts = per_frame(
        frame,
        f"status:{spec.status_field}",
        lambda: frame[spec.status_field].astype(str).value_counts(),
    )
    colors = {k: safe_color(v) for k, v in spec.style.get("status_colors", {}).items()}
    base = safe_color(spec.style.get("color"))
    codes = list(fspec.values) + [c for c in counts.index if c not in fspec.values]
    return tuple(
        StatusCount(
            c,
            fspec.value_label(c, lang),
            colors.get(c, base),
            int(counts.get(c, 0)),
        )
        for c in codes
        if c in counts.index or c in colors
    )


@dataclass(frozen=True)
class AreaFigures:
    """The summary table of a township or village page."""

    layers: tuple[LayerCount, ...]
    figures: tuple[tuple[str, str], ...]
    trees: tuple[tuple[str, str], ...]
    last_visit: str


def area_figures(
    frames: Mapping[str, gpd.GeoDataFrame], specs: Mapping[str, LayerSpec], lang: str
) -> AreaFigures:
    """Counts by layer and status, trees by species, greenhouse area, wells and their
    yield, pipe length, visits and problems, for the works of one area."""
    summary = works_summary(frames)
    layers = tuple(
        LayerCount(
            name,
            specs[name].label_in(lang),
            safe_color(specs[name].style.get("color")),
            len(frame),
            status_counts(specs[name], frame, lang),
        )
        for name, frame in frames.items()
    )

    def num(value: float, unit: str, decimals: int = 0) -> str:
        return f"{format_number(round(value, decimals), lang)} {unit_label(unit, lang)}".strip()

    area = summary["greenhouse_area_m2"]
    length = summary["pipe_length_m"]
    figures = (
        (translate("maps.fig.trees", lang), num(summary["trees"], "株")),
        (translate("maps.fig.greenhouses", lang), format_number(summary["greenhouses"], lang)),
        (
            translate("maps.fig.greenhouse_area", lang),
            f"{num(area, 'm²')} ({num(area / MU_M2, '亩', 1)})",
        ),
        (translate("maps.fig.wells", lang), format_number(summary["wells"], lang)),
        (translate("maps.fig.well_yield", lang), num(summary["well_yield_m3h"], "m³/h", 1)),
        (translate("maps.fig.pipe_length", lang), num(length / 1000.0, "km", 2)),
        (translate("maps.fig.visits", lang), format_number(summary["visits"], lang)),
        (translate("maps.fig.problems_raised", lang), num(summary["problems_raised"], "件")),
        (translate("maps.fig.problems_solved", lang), num(summary["problems_solved"], "件")),
    )
    plantings = specs.get("plantings")
    species = plantings.field("species") if plantings else None
    trees = tuple(
        (
            species.value_label(code, lang)
            if species and code != "unknown"
            else translate("maps.unknown", lang),
            num(count, "株"),
        )
        for code, count in sorted(summary["trees_by_species"].items(), key=lambda kv: -kv[1])
    )
    last = summary["last_visit"]
    return AreaFigures(layers, figures, trees, format_date(last, lang) if last else "")


def month_label(month: str, lang: str) -> str:
    """``2024-03`` as ``2024年3月`` or ``Mar 2024``."""
    day = dt.date.fromisoformat(f"{month}-01")
    return f"{day.year}年{day.month}月" if lang == "zh" else day.strftime("%b %Y")


#: Beyond this many months a chart counts works per year instead.
CHART_MAX_MONTHS = 36


def monthly_chart(
    frames: Mapping[str, pd.DataFrame], specs: Mapping[str, LayerSpec], lang: str
) -> dict[str, Any]:
    """Works over time per layer, as Chart.js data: per month, or per year when the works
    span more than :data:`CHART_MAX_MONTHS` months (``period`` says which)."""
    dated = {n: specs[n].date_field for n in frames if specs[n].date_field}
    table = works_by_month({n: frames[n] for n in dated}, dated)  # type: ignore[arg-type]
    period = "month"
    labels = [month_label(m, lang) for m in table.index]
    if len(table) > CHART_MAX_MONTHS:
        period = "year"
        table = table.groupby(table.index.str[:4]).sum()
        labels = [f"{y}年" if lang == "zh" else y for y in table.index]
    return {
        "period": period,
        "labels": labels,
        "datasets": [
            {
                "label": specs[name].label_in(lang),
                "backgroundColor": safe_color(specs[name].style.get("color")),
                "data": [int(v) for v in table[name]],
            }
            for name in table.columns
            if int(table[name].sum()) > 0
        ],
    }


_COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_DASH = re.compile(r"^[0-9. ,]{1,40}$")


def safe_color(value: Any, default: str = "#555555") -> str:
    """A ``#rrggbb`` colour from a spec, or ``default``: a county's spec file must not be
    able to put arbitrary CSS into a page."""
    return value if isinstance(value, str) and _COLOR.match(value) else default


def safe_dash(value: Any) -> str | None:
    """An SVG/Canvas dash pattern such as ``8 6``, or None."""
    return value if isinstance(value, str) and _DASH.match(value) else None


def replay_years(layers: Iterable[MapLayer], plan_years: Iterable[int] = ()) -> list[int]:
    """The years the time slider offers: the ledger's plan years (计划年度) when it has
    any, since leaders replay a year's list month by month (old wells keep drilling dates
    back to 1998, which are no year anyone replays); else the years in which the dated
    work layers have works."""
    planned = sorted(set(plan_years))
    if planned:
        return planned
    years: set[int] = set()
    for layer in layers:
        field_name = layer.spec.date_field
        if layer.group != "work" or not field_name or field_name not in layer.frame.columns:
            continue
        years.update(_years(layer.frame, field_name))
    return sorted(years)


def _years(frame: pd.DataFrame, column: str) -> frozenset[int]:
    """Years of a date column, from its distinct values (a million rows hold a few
    thousand dates)."""

    def compute() -> frozenset[int]:
        values = frame[column]
        return frozenset(
            int(text[:4])
            for v in pd.unique(values[values.notna()].to_numpy(dtype=object))
            if (text := str(v)) and text[:4].isdigit()
        )

    return per_frame(frame, f"years:{column}", compute)


def snapshot(
    frames: Mapping[str, gpd.GeoDataFrame], specs: Iterable[LayerSpec], as_of: dt.date
) -> Snapshot:
    """The snapshot of a county given as frames (no ledger: no ``targets`` overlay);
    the pages use :func:`layers.county_view.county_snapshot` of the store."""
    specs = list(specs)
    gaps = gap_overlays(FrameSource(frames, specs), as_of)
    return _snapshot(frames, specs, gaps, ref_titles(frames, specs))


@dataclass(frozen=True)
class Choice:
    """One option of a filter list; ``group`` is an optgroup label."""

    value: str
    label: str
    group: str = ""


@dataclass(frozen=True)
class FilterChoices:
    """The options of the filter form."""

    statuses: tuple[Choice, ...]
    townships: tuple[Choice, ...]
    villages: tuple[Choice, ...]
    ledger_items: tuple[Choice, ...]


def filter_choices(snap: Snapshot, ledger: pd.DataFrame | None, lang: str) -> FilterChoices:
    """Statuses of the work layers, townships, villages (by township) and ledger items."""
    statuses: dict[str, str] = {}
    for spec in _ordered(snap.specs.values()):
        status = (
            spec.field(spec.status_field) if spec.status_field and spec.kind == "work" else None
        )
        for code in status.values if status else ():
            statuses.setdefault(code, status.value_label(code, lang))  # type: ignore[union-attr]
    townships = snap.places.townships
    villages = sorted(
        snap.places.villages.values(),
        key=lambda v: (townships[v.parent_id].name if v.parent_id in townships else "", v.name),
    )
    items: tuple[Choice, ...] = ()
    if ledger is not None and len(ledger):
        title = ledger["title"] if "title" in ledger.columns else ledger["id"]
        items = tuple(Choice(str(i), str(t)) for i, t in zip(ledger["id"], title, strict=True))
    return FilterChoices(
        statuses=tuple(Choice(c, label) for c, label in statuses.items()),
        townships=tuple(Choice(t.id, t.name) for t in townships.values()),
        villages=tuple(
            Choice(v.id, v.name, townships[v.parent_id].name if v.parent_id in townships else "")
            for v in villages
        ),
        ledger_items=items,
    )


# ------------------------------------------------------------------------- bbox API


@dataclass(frozen=True)
class FeatureQuery:
    """A request of the bbox API: box (lon/lat, in ``coords``), paging, sampling."""

    bbox: tuple[float, float, float, float] | None = None
    limit: int = 1000
    offset: int = 0
    sample: bool = False
    coords: str = "wgs84"


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(value=f"{name}={text}") from None
    if not np.isfinite(value):
        raise BadRequest(value=f"{name}={text}")
    return value


def parse_feature_query(args: Mapping[str, str], max_limit: int) -> FeatureQuery:
    """Box, limit (1..``max_limit``), offset, ``sample=even`` and ``coords`` from the URL.

    >>> parse_feature_query({"bbox": "112,39,113,40", "limit": "5"}, 100).bbox
    (112.0, 39.0, 113.0, 40.0)
    """
    bbox = parse_bbox(args.get("bbox"), CRS84)  # the one bbox parser, the OGC API's
    limit = int(_number(args.get("limit") or "1000", "limit"))
    offset = int(_number(args.get("offset") or "0", "offset"))
    if not 1 <= limit <= max_limit or offset < 0:
        raise BadRequest(value=f"limit={limit} offset={offset} (1..{max_limit})")
    coords = args.get("coords") or "wgs84"
    if coords not in ("wgs84", "gcj02"):
        raise BadRequest(value=f"coords={coords[:_TEXT_MAX]}")
    sample = (args.get("sample") or "") == "even"
    return FeatureQuery(bbox, limit, offset, sample, coords)


# ---------------------------------------------------------------------- page helpers


@dataclass(frozen=True)
class WorkItem:
    """A work in a village's list: id, title, status label and colour, date."""

    id: str
    title: str
    status: str
    color: str
    date: str


@dataclass(frozen=True)
class WorkList:
    """The works of one layer in an area (the first ``limit``) and how many in all."""

    name: str
    label: str
    total: int
    items: tuple[WorkItem, ...]


def work_lists(
    works: Mapping[str, gpd.GeoDataFrame],
    specs: Mapping[str, LayerSpec],
    lang: str,
    limit: int = 60,
) -> list[WorkList]:
    """Per work layer, the area's works newest first (undated last), at most ``limit``."""
    out = []
    for name, frame in works.items():
        spec = specs[name]
        if len(frame) == 0 or name == "villages":
            continue
        rows = frame
        if spec.date_field and spec.date_field in frame.columns:
            rows = frame.assign(_day=_dates(frame, spec.date_field)).sort_values(
                "_day", ascending=False
            )
        colors = {k: safe_color(v) for k, v in spec.style.get("status_colors", {}).items()}
        items = []
        for _, row in rows.head(limit).iterrows():
            feature = {"id": row["id"], "properties": row.to_dict()}
            status = row.get(spec.status_field) if spec.status_field else None
            items.append(
                WorkItem(
                    str(row["id"]),
                    feature_title(spec, feature, lang),
                    display_value(spec, spec.status_field, status, lang) if status else "",
                    colors.get(status, safe_color(spec.style.get("color"))),
                    display_value(spec, spec.date_field, row.get(spec.date_field), lang)
                    if spec.date_field
                    else "",
                )
            )
        out.append(WorkList(name, spec.label_in(lang), len(frame), tuple(items)))
    return out


def feature_frame(spec: LayerSpec, feature: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """One feature as a one-row frame with its declared fields."""
    return features_frame(spec, [feature])


def features_frame(spec: LayerSpec, features: Sequence[Mapping[str, Any]]) -> gpd.GeoDataFrame:
    """Features (with geometries) as a frame with their declared fields."""
    props = [f.get("properties") or {} for f in features]
    data: dict[str, list[Any]] = {"id": [str(f["id"]) for f in features]}
    data.update({name: [p.get(name) for p in props] for name in spec.field_names})
    geoms = [shapely.from_geojson(orjson_dumps(f["geometry"])) for f in features]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=WGS84)


def orjson_dumps(value: Any) -> str:
    """Compact JSON text."""
    return orjson.dumps(value).decode()


def padded_bounds(
    frame: gpd.GeoDataFrame, minimum_deg: float = 0.004
) -> tuple[float, float, float, float]:
    """The frame's box, widened to at least ``minimum_deg`` (about 400 m) each way."""
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    pad_x = max((minimum_deg - (maxx - minx)) / 2, (maxx - minx) * 0.15)
    pad_y = max((minimum_deg - (maxy - miny)) / 2, (maxy - miny) * 0.15)
    return (minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y)


@dataclass(frozen=True)
class Photo:
    """A photo of a feature: its URL, and whether the app serves it (then it is shown)."""

    url: str
    local: bool


def photo_links(properties: Mapping[str, Any]) -> list[Photo]:
    """The ``photos`` property as links. Only photos the app serves (a path starting with
    one ``/``) are shown as images; a page never loads a file from another host."""
    raw = properties.get("photos")
    if not isinstance(raw, list):
        return []
    out = []
    for url in raw:
        if not isinstance(url, str) or not url.strip():
            continue
        url = url.strip()
        if url.startswith("/") and not url.startswith("//"):
            out.append(Photo(url, True))
        elif url.lower().startswith(("https://", "http://")):
            out.append(Photo(url, False))
    return out


def feature_layers(
    snap: Snapshot, spec: LayerSpec, feature: Mapping[str, Any]
) -> tuple[list[MapLayer], tuple[float, float, float, float]]:
    """The map of a feature page: the feature, with the outlines and roads around it."""
    focus = feature_frame(spec, feature)
    bounds = padded_bounds(focus)
    context = context_layers(snap, bounds, {spec.name})
    link = "villages" if spec.name == "villages" else spec.name
    return [*context, MapLayer(spec, spec.kind, focus, True, link)], bounds


def context_layers(
    snap: Snapshot, bounds: tuple[float, float, float, float], exclude: Collection[str] = ()
) -> list[MapLayer]:
    """The outlines and roads within ``bounds``, as the background of a small map."""
    box = shapely.box(*bounds)
    context = []
    for name in ("boundaries", "roads"):
        frame = snap.frames.get(name)
        if frame is None or name in exclude or name not in snap.specs:
            continue
        near = frame[shapely.intersects(box, np.asarray(frame.geometry.to_numpy(), dtype=object))]
        context.append(MapLayer(snap.specs[name], "reference", near, True, name))
    return context
