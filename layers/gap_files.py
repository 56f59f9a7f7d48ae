"""A gap analysis's frame as the files people download: GeoJSON, CSV, xlsx, GeoPackage.

:func:`frame_bytes` writes what :func:`layers.analyses.run_gaps` returns, the same for
the dashboard's export and ``villageworks gaps`` (:func:`write_frame`). The formats
people read (CSV, xlsx) name the columns and the gap codes in the chosen language and go
through :mod:`layers.tabular`, like every other table of the app; the machine formats
(GeoJSON, GeoPackage) keep field names and codes as they are.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

from geo.metric import WGS84
from layers.analyses import column_label, format_for, gap_label
from layers.errors import BadRequest
from layers.tabular import Row, Sheet, Style, csv_bytes, xlsx_bytes

_YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
_DEGREE_DECIMALS = 7


def write_frame(
    gdf: gpd.GeoDataFrame,
    path: Path | str,
    *,
    lang: str = "zh",
    layer_labels: Mapping[str, str] | None = None,
) -> Path:
    """Write a gap frame to ``path`` in the format its extension names.

    ``.geojson`` (RFC 7946, codes as they are), ``.csv`` (UTF-8 with a BOM, headers in
    ``lang``, geometry as WKT), ``.xlsx`` (headers in ``lang``, Chinese by default,
    location as lon/lat), ``.gpkg`` (field names as they are). ``layer_labels`` names
    the layers in the files people read (xlsx, CSV).
    """
    target = Path(path)
    fmt = format_for(target)
    target.write_bytes(frame_bytes(gdf, fmt, lang=lang, layer_labels=layer_labels))
    return target


def frame_bytes(
    gdf: gpd.GeoDataFrame,
    fmt: str,
    *,
    lang: str = "zh",
    layer_labels: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of a gap frame in ``fmt`` (a key of :data:`layers.analyses.FORMATS`)."""
    writers = {"geojson": _geojson, "csv": _csv, "xlsx": _xlsx, "gpkg": _gpkg}
    if fmt not in writers:
        raise BadRequest("gaps_unknown_format", value=fmt, allowed=", ".join(writers))
    frame = gdf.to_crs(WGS84) if gdf.crs is not None and not gdf.crs.equals(WGS84) else gdf
    return writers[fmt](frame, lang, layer_labels or {})


def plain(value: Any) -> Any:
    """A cell value as plain Python: None for missing/NaN, ISO text for dates, int/float
    for numpy numbers.

    >>> plain(float("nan")), plain(np.int64(3)), plain(dt.date(2026, 1, 2))
    (None, 3, '2026-01-02')
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _attribute_columns(gdf: gpd.GeoDataFrame) -> list[str]:
    return [c for c in gdf.columns if c != gdf.geometry.name]


def _records(gdf: gpd.GeoDataFrame) -> list[list[Any]]:
    columns = _attribute_columns(gdf)
    values = [gdf[c].to_numpy(dtype=object) for c in columns]
    return [[plain(v[i]) for v in values] for i in range(len(gdf))]


def _geojson(gdf: gpd.GeoDataFrame, lang: str, layer_labels: Mapping[str, str]) -> bytes:
    columns = _attribute_columns(gdf)
    geoms = shapely.set_precision(
        np.asarray(gdf.geometry.to_numpy(), dtype=object), 10.0**-_DEGREE_DECIMALS
    )
    features = [
        {
            "type": "Feature",
            "geometry": None if g is None else orjson.loads(shapely.to_geojson(g)),
            "properties": dict(zip(columns, row, strict=True)),
        }
        for g, row in zip(geoms, _records(gdf), strict=True)
    ]
    doc = {"type": "FeatureCollection", "features": features}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _readable(name: str, value: Any, lang: str, layer_labels: Mapping[str, str]) -> Any:
    """A value as people read it in a spreadsheet: labels for codes, 是/否, rounding."""
    value = plain(value)
    if value is None:
        return None
    if name == "gap":
        return gap_label(value, lang)
    if name in ("layer", "category"):
        return layer_labels.get(str(value), value)
    if isinstance(value, bool):
        yes, no = _YES_NO.get(lang, _YES_NO["zh"])
        return yes if value else no
    if isinstance(value, float):
        return round(value, 3 if name.endswith("_km") else 1)
    return value


def _readable_rows(
    gdf: gpd.GeoDataFrame, lang: str, layer_labels: Mapping[str, str]
) -> list[list[Any]]:
    columns = _attribute_columns(gdf)
    return [
        [_readable(c, v, lang, layer_labels) for c, v in zip(columns, row, strict=True)]
        for row in _records(gdf)
    ]


def _wkt(geom: Any) -> str:
    if geom is None or shapely.is_empty(geom):
        return ""
    return str(shapely.to_wkt(geom, rounding_precision=_DEGREE_DECIMALS, trim=True))


def _csv(gdf: gpd.GeoDataFrame, lang: str, layer_labels: Mapping[str, str]) -> bytes:
    header = [column_label(c, lang) for c in [*_attribute_columns(gdf), "wkt"]]
    rows = _readable_rows(gdf, lang, layer_labels)
    return csv_bytes(
        header, ([*row, _wkt(geom)] for row, geom in zip(rows, gdf.geometry, strict=True))
    )


def _lon_lat(geom: Any) -> tuple[float | None, float | None]:
    if geom is None or shapely.is_empty(geom):
        return None, None
    point = geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)
    return round(point.x, _DEGREE_DECIMALS), round(point.y, _DEGREE_DECIMALS)


def _xlsx(gdf: gpd.GeoDataFrame, lang: str, layer_labels: Mapping[str, str]) -> bytes:
    headers = [column_label(c, lang) for c in [*_attribute_columns(gdf), "lon", "lat"]]
    rows = _readable_rows(gdf, lang, layer_labels)
    sheet = Sheet(
        "分析结果" if lang != "en" else "Gaps",
        [
            Row(headers, Style(bold=True)),
            *([*row, *_lon_lat(geom)] for row, geom in zip(rows, gdf.geometry, strict=True)),
        ],
        widths=[max(10, min(30, 2 * len(header))) for header in headers],
        freeze="A2",
    )
    return xlsx_bytes([sheet])


def _typed(values: list[Any]) -> pd.Series:
    """A GeoPackage column: booleans, numbers or text, as the values allow."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series([math.nan if v is None else v for v in values], dtype="float64")
    return pd.Series([None if v is None else str(v) for v in values], dtype=object)


def _gpkg(gdf: gpd.GeoDataFrame, lang: str, layer_labels: Mapping[str, str]) -> bytes:
    columns = _attribute_columns(gdf)
    records = _records(gdf)
    frame = gpd.GeoDataFrame(
        {c: _typed([row[i] for row in records]) for i, c in enumerate(columns)},
        geometry=gpd.GeoSeries(gdf.geometry.to_numpy(), crs=WGS84),
        crs=WGS84,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gaps.gpkg"
        options = {"VERSION": "1.2"}  # GeoPackage 1.2: GDAL 3.6 reads it without a warning
        pyogrio.write_dataframe(frame, path, layer="gaps", driver="GPKG",
                                geometry_type="Unknown", dataset_options=options)  # fmt: skip
        return path.read_bytes()
