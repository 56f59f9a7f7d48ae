"""The map picture of the progress report: boundaries, the works of the year, the top gaps
numbered, drawn server-side with Matplotlib (Agg, no display, no network) to PNG bytes.

Labels use a CJK font installed by the project's scripts (``fonts-wqy-microhei``);
:func:`cjk_font_path` finds it or raises :class:`ReportFontMissing` with what to install.
Nothing here computes a figure: the caller passes the works and the gaps to draw.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely
from matplotlib import font_manager
from matplotlib.figure import Figure
from shapely.geometry import MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from geo.messages import register
from layers.errors import VillageWorksError

register(
    "report_font_missing",
    "缺少报告所需的中文字体 {value}：请运行 scripts/serve（或 sudo apt-get install "
    "fonts-wqy-microhei）后重试",
    "The Chinese font the report needs is missing ({value}): run scripts/serve (or sudo "
    "apt-get install fonts-wqy-microhei) and try again",
)

#: Where the CJK font is looked for, first found wins (Debian's fonts-wqy-microhei first).
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
#: Colours of the works by layer (others: grey).
LAYER_COLOURS: Mapping[str, str] = {
    "streetlights": "#e0a800",
    "wells": "#1f77b4",
    "pipes": "#17becf",
    "greenhouses": "#2ca02c",
    "plantings": "#6b8e23",
    "facilities": "#9467bd",
    "visits": "#8c564b",
    "roadside_shops": "#e377c2",
}
GAP_COLOUR = "#d62728"
WIDTH_IN, HEIGHT_IN, DPI = 7.0, 6.0, 150


class ReportFontMissing(VillageWorksError):
    """The CJK font of the report is not installed (503): the report cannot be made."""

    status = 503
    code = "report_font_missing"


def cjk_font_path() -> Path:
    """The installed CJK font file; :class:`ReportFontMissing` when there is none."""
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    raise ReportFontMissing(value=str(FONT_CANDIDATES[0]))


@dataclass(frozen=True)
class MapWorks:
    """The works of one layer to draw, with the layer's label for the legend."""

    layer: str
    label: str
    geometries: Sequence[BaseGeometry]


@dataclass(frozen=True)
class MapGap:
    """A numbered gap to mark on the map."""

    number: int
    geometry: BaseGeometry | None


def anchor_point(geometry: BaseGeometry | None) -> Point | None:
    """Where a gap's number goes: the middle of a line, a point inside an area.

    >>> from shapely.geometry import LineString
    >>> anchor_point(LineString([(0, 0), (2, 0)])).coords[0]
    (1.0, 0.0)
    >>> anchor_point(None) is None
    True
    """
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type in ("LineString", "MultiLineString"):
        line = shapely.line_merge(geometry) if geometry.geom_type.startswith("Multi") else geometry
        if isinstance(line, MultiLineString):
            line = max(line.geoms, key=lambda g: g.length)
        return Point(line.interpolate(0.5, normalized=True))
    return Point(shapely.point_on_surface(geometry))


def _draw_areas(
    ax: object, county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, font: Path
) -> None:
    if len(townships):
        townships.boundary.plot(ax=ax, color="#9aa5ad", linewidth=0.6)
        prop = font_manager.FontProperties(fname=str(font), size=8)
        names = townships["township"] if "township" in townships.columns else []
        for name, area in zip(names, townships.geometry, strict=False):
            if isinstance(name, str) and area is not None and not area.is_empty:
                spot = shapely.point_on_surface(area)
                ax.annotate(  # type: ignore[attr-defined]
                    name, (spot.x, spot.y), ha="center", color="#5d6d7e", fontproperties=prop
                )
    if len(county):
        county.boundary.plot(ax=ax, color="#34495e", linewidth=1.4)


def _draw_works(ax: object, works: Sequence[MapWorks], font: Path) -> None:
    drawn = False
    for group in works:
        geoms = [g for g in group.geometries if g is not None and not g.is_empty]
        if not geoms:
            continue
        colour = LAYER_COLOURS.get(group.layer, "#7f7f7f")
        frame = gpd.GeoSeries(geoms)
        lines = frame[frame.geom_type.str.contains("LineString").to_numpy()]
        others = frame[~frame.geom_type.str.contains("LineString").to_numpy()]
        if len(lines):
            lines.plot(ax=ax, color=colour, linewidth=1.2, label=group.label)
        if len(others):
            points = others.map(lambda g: g if g.geom_type == "Point" else g.centroid)
            label = group.label if not len(lines) else None
            points.plot(ax=ax, color=colour, markersize=6, label=label)
        drawn = True
    if drawn:
        prop = font_manager.FontProperties(fname=str(font), size=7)
        ax.legend(loc="lower left", prop=prop, framealpha=0.85)  # type: ignore[attr-defined]


def marker_spots(points: Sequence[Point | None], spacing: float) -> list[Point | None]:
    """Where the numbered markers go: at their points, each one closer than ``spacing`` to
    one placed before moved right by ``spacing`` until it is clear.

    >>> [p.x for p in marker_spots([Point(0, 0), Point(0, 0), Point(5, 0)], 1.0)]
    [0.0, 1.0, 5.0]
    """
    placed: list[Point] = []
    out: list[Point | None] = []
    for point in points:
        if point is None:
            out.append(None)
            continue
        spot = point
        while any(spot.distance(other) < spacing for other in placed):
            spot = Point(spot.x + spacing, spot.y)
        placed.append(spot)
        out.append(spot)
    return out


def _draw_gaps(ax: object, gaps: Sequence[MapGap], font: Path, spacing: float) -> None:
    prop = font_manager.FontProperties(fname=str(font), size=7, weight="bold")
    for gap in gaps:
        if gap.geometry is not None and gap.geometry.geom_type.endswith("LineString"):
            gpd.GeoSeries([gap.geometry]).plot(ax=ax, color=GAP_COLOUR, linewidth=2.2, zorder=4)
    spots = marker_spots([anchor_point(g.geometry) for g in gaps], spacing)
    for gap, spot in zip(gaps, spots, strict=True):
        if spot is None:
            continue
        ax.scatter(  # type: ignore[attr-defined]
            [spot.x], [spot.y], s=150, color=GAP_COLOUR, edgecolors="white", zorder=5
        )
        ax.annotate(  # type: ignore[attr-defined]
            str(gap.number),
            (spot.x, spot.y),
            ha="center",
            va="center",
            color="white",
            fontproperties=prop,
            zorder=6,
        )


def report_map_png(
    county: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame,
    works: Sequence[MapWorks],
    gaps: Sequence[MapGap],
    *,
    caption: str = "",
) -> bytes:
    """A PNG of the area (``county``: its outline; ``townships``: their boundaries), the
    works and the numbered gaps, in EPSG:4326 with the aspect of the area's latitude.

    ``county`` is the outline the picture frames: the county, or one township.
    """
    font = cjk_font_path()
    # No Agg canvas while drawing: GeoPandas asks for a redraw after each layer, which a
    # bare figure skips; savefig renders once, with Agg.
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax = figure.add_subplot(1, 1, 1)
    _draw_areas(ax, county, townships, font)
    _draw_works(ax, works, font)
    width = float(county.total_bounds[2] - county.total_bounds[0]) if len(county) else 0.0
    _draw_gaps(ax, gaps, font, spacing=width * 0.035 or 0.005)
    if len(county):
        minx, miny, maxx, maxy = county.total_bounds
        pad_x, pad_y = (maxx - minx) * 0.03 or 0.01, (maxy - miny) * 0.03 or 0.01
        ax.set_xlim(minx - pad_x, maxx + pad_x)
        ax.set_ylim(miny - pad_y, maxy + pad_y)
        ax.set_aspect(1 / max(0.1, math.cos(math.radians((miny + maxy) / 2))))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    if caption:
        prop = font_manager.FontProperties(fname=str(font), size=9)
        ax.set_title(caption, fontproperties=prop)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
