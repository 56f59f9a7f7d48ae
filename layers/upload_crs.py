"""Which coordinate system an uploaded file is in, and its geometries made single parts.

A file that says its CRS is read in it; one that does not is guessed from where its
coordinates land against the working area (:func:`geo.crs.guess_crs`), and the guess is
shown for the user to confirm. The helpers of :func:`layers.uploads.run_upload`.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import CrsChoice, CrsGuess, guess_crs, named_crs_order, parse_crs
from geo.messages import register
from geo.metric import distance_m
from geo.problems import Problem
from layers.specs import LayerSpec

for _code, _zh, _en in (
    (
        "crs_guessed",
        "文件未说明坐标系，按坐标推断为：{value} 请确认后再提交。",
        "The file does not say its coordinate system; from the coordinates it looks like: "
        "{value} Please confirm before committing.",
    ),
    (
        "crs_swapped",
        "坐标的经度和纬度列似乎填反了，已交换后导入：{value}",
        "Longitude and latitude columns look swapped; they were exchanged: {value}",
    ),
    (
        "crs_no_fit",
        "按任何常见坐标系解读，坐标都不在县域内，请指定坐标系",
        "Read in any common coordinate system, the coordinates are not in the county; "
        "please say which coordinate system they use",
    ),
    (
        "track_segments_joined",
        "第 {row} 行的轨迹有 {parts} 段（中途暂停过），已按顺序连成一条线，最大间隔约 {gap_m} 米",
        "Row {row}: the track has {parts} segments (paused on the way); they were joined in "
        "order into one line, the widest gap about {gap_m} m",
    ),
    (
        "multi_part",
        "第 {row} 行是多段几何（{value}），本图层只接受单个 {allowed}",
        "Row {row} is a multi-part geometry ({value}); this layer takes a single {allowed}",
    ),
):
    register(_code, _zh, _en)


def crs_key(choice: CrsChoice) -> str:
    """What to send back as ``crs`` to choose ``choice`` again (``EPSG:4526``, ``gcj02``)."""
    return f"EPSG:{choice.epsg}" if choice.kind == "epsg" else choice.kind


def guess_as_dict(guess: CrsGuess, lang: str) -> dict[str, Any]:
    """One CRS guess, JSON-ready, with the value to confirm it by."""
    return {
        "crs": guess.choice.label,
        "key": crs_key(guess.choice),
        "epsg": guess.choice.epsg,
        "kind": guess.choice.kind,
        "fraction_in_area": round(guess.fraction_in_area, 3),
        "swapped": guess.swapped,
        "message": guess.message(lang),
    }


def choose_crs(
    gdf: gpd.GeoDataFrame, choice: CrsChoice, area: BaseGeometry | None
) -> tuple[CrsChoice, list[CrsGuess], list[Problem]]:
    """The CRS to read ``gdf`` in, with any guesses and the notes to show."""
    if choice.kind != "auto":
        # A named CRS is used, but a file in it with its two columns the other way round
        # (surveyors' X = northing first) is read the right way round, with a warning.
        if area is None or gdf.crs is not None:
            return choice, [], []
        coords = shapely.get_coordinates(gdf.geometry.values)
        if len(coords) == 0:
            return choice, [], []
        order = named_crs_order(coords[:, 0], coords[:, 1], choice, area.bounds)
        return choice, [order] if order is not None else [], []
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg() or 4326
        return parse_crs(f"EPSG:{epsg}"), [], []
    coords = shapely.get_coordinates(gdf.geometry.values)
    if len(coords) == 0:
        return parse_crs("wgs84"), [], []
    bounds = area.bounds if area is not None else (73.0, 18.0, 135.5, 53.6)
    guesses = guess_crs(coords[:, 0], coords[:, 1], bounds)
    if not guesses or guesses[0].fraction_in_area == 0:
        notes = [Problem("crs_no_fit", severity="warning")] if area is not None else []
        return parse_crs("wgs84"), guesses, notes
    best = guesses[0]
    notes = [
        Problem(
            "crs_guessed",
            value=best.message("zh"),
            severity="warning",
            params={"value_en": best.message("en")},
        )
    ]
    return best.choice, guesses, notes


def swap_xy(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(
        shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1]), crs=gdf.crs
    )
    return out


#: Shapely type ids of MultiPoint, MultiLineString and MultiPolygon.
MULTI_TYPE_IDS = (4, 5, 6)


#: Segments of one track further apart than this are not joined into one line (metres).
JOIN_GAP_M = 500.0


def single_part(geom: Any, spec: LayerSpec) -> tuple[Any, float | None]:
    """Single-part geometry for a layer that takes only single parts, where that is exact,
    and the widest gap bridged (metres) when a track's segments were joined, else None.

    A GPS track paused once has two segments; for a line layer they are joined in order
    into one line when no gap between them is over :data:`JOIN_GAP_M`.

    >>> from layers.specs import SpecRegistry
    >>> pipes = SpecRegistry.load()["pipes"]
    >>> two = shapely.MultiLineString([[(112.80, 39.5), (112.81, 39.5)],
    ...                                [(112.8102, 39.5), (112.82, 39.5)]])
    >>> line, gap = single_part(two, pipes)
    >>> line.geom_type, len(line.coords), round(gap)
    ('LineString', 4, 17)
    """
    if geom is None or geom.geom_type not in ("MultiLineString", "MultiPoint", "MultiPolygon"):
        return geom, None
    if geom.geom_type in spec.geometry:
        return geom, None
    if len(geom.geoms) == 1:
        return geom.geoms[0], None
    if geom.geom_type == "MultiLineString":
        merged = shapely.line_merge(geom)
        if merged.geom_type == "LineString":
            return merged, None
        if "LineString" in spec.geometry:
            gaps = [
                distance_m(*a.coords[-1][:2], *b.coords[0][:2])
                for a, b in zip(geom.geoms, list(geom.geoms)[1:], strict=False)
            ]
            if max(gaps) <= JOIN_GAP_M:
                coords = [c for part in geom.geoms for c in part.coords]
                return shapely.LineString(coords), max(gaps)
    return geom, None


__all__ = ["MULTI_TYPE_IDS", "choose_crs", "crs_key", "guess_as_dict", "single_part", "swap_xy"]
