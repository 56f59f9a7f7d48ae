"""GDAL-backed formats: zipped Shapefiles and GeoPackages, read through pyogrio."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from geo.problems import Problem
from geo.readers.result import _fail, _problem, _Table
from geo.readers.sniff import _SHAPE_PARTS


def _read_with_gdal(path: Path, layer: str | int | None, encoding: str | None) -> gpd.GeoDataFrame:
    """pyogrio read with GDAL errors and warnings turned into problems."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pyogrio.read_dataframe(path, layer=layer, encoding=encoding, fid_as_index=True)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.FeatureError,
        pyogrio.errors.CRSError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise _fail("gis_read_failed", value=str(exc)[:200]) from exc


def _table_from_gdf(gdf: gpd.GeoDataFrame, start: int) -> _Table:
    """A GDAL-read frame as a table; rows are FIDs counted from 1."""
    crs = gdf.crs
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table = _Table(
        columns=[str(c) for c in attrs.columns],
        crs=crs,
        crs_source="file" if crs is not None else "none",
    )
    records = attrs.astype(object).where(attrs.notna(), None).to_dict("records")
    for fid, record, geom in zip(gdf.index, records, gdf.geometry, strict=True):
        table.add(int(fid) + start, {str(k): v for k, v in record.items()}, geom)
    return table


def _dbf_encoding(dbf: bytes) -> str:
    """Encoding of a DBF without ``.cpg``: UTF-8 if all its text decodes so, else GBK."""
    try:
        header_len = int.from_bytes(dbf[8:10], "little")
        names = b"".join(dbf[i : i + 11] for i in range(32, max(32, header_len - 1), 32))
        text = names + dbf[header_len:]
    except (IndexError, ValueError):
        text = dbf
    for name, codec in (("UTF-8", "utf-8"), ("GBK", "gbk"), ("GB18030", "gb18030")):
        try:
            text.decode(codec)
            return name
        except UnicodeDecodeError:
            continue
    return "ISO-8859-1"


def _read_shapefile(
    files: dict[str, bytes], shapes: list[str], encoding: str | None, layer: str | None
) -> _Table:
    """One shapefile out of an unzipped archive (the one named ``layer``, else the first)."""
    by_name = {name[:-4].rsplit("/", 1)[-1]: name for name in reversed(shapes)}
    picked, notes = _pick_layer(list(by_name)[::-1], layer)
    chosen = by_name[picked]
    stem = chosen[:-4]
    parts = {
        n[len(stem) :].lower(): data
        for n, data in files.items()
        if n[:-4] == stem and n[len(stem) :].lower() in _SHAPE_PARTS
    }
    for needed in (".shx", ".dbf"):
        if needed not in parts:
            raise _fail("shapefile_missing_part", value=needed, name=chosen)
    cpg = parts.get(".cpg", b"").decode("ascii", "ignore").strip()
    with tempfile.TemporaryDirectory(prefix="vw-shp-") as tmp:
        for ext, content in parts.items():
            (Path(tmp) / f"upload{ext}").write_bytes(content)
        used = encoding or (None if cpg else _dbf_encoding(parts[".dbf"]))
        try:
            gdf = _read_with_gdal(Path(tmp) / "upload.shp", None, used)
        except UnicodeDecodeError:
            # A .cpg that lies (says UTF-8 for a GBK file): trust the bytes instead.
            used = _dbf_encoding(parts[".dbf"])
            gdf = _read_with_gdal(Path(tmp) / "upload.shp", None, used)
    table = _table_from_gdf(gdf, start=1)
    table.encoding = used or cpg
    table.problems.extend(notes)
    return table


def _pick_layer(names: list[str], layer: str | None) -> tuple[str, list[Problem]]:
    """The layer to read: ``layer`` when there is one of that name, else the first.

    ``layer`` is a preference, not a demand: callers pass the name of the app layer being
    filled, which an exported GeoPackage often shares. Not finding it, or leaving other
    layers unread, is a warning. A file of one layer is read without a word: there is
    nothing else it could mean (a zipped Shapefile is named after its file, never after
    the app's layer).

    >>> _pick_layer(["lights"], "streetlights")
    ('lights', [])
    >>> [p.code for p in _pick_layer(["a", "b"], "streetlights")[1]]
    ['layer_not_found']
    """
    if layer in names:
        return layer, []
    if len(names) == 1:
        return names[0], []
    chosen, notes = names[0], []
    if layer is not None:
        notes.append(
            _problem(
                "layer_not_found",
                value=layer,
                severity="warning",
                chosen=chosen,
                layers=", ".join(names),
            )
        )
    elif len(names) > 1:
        notes.append(
            _problem("several_layers", value=chosen, severity="warning", layers=", ".join(names))
        )
    return chosen, notes


def _read_gpkg(data: bytes, layer: str | None) -> _Table:
    """The first spatial layer of a GeoPackage (or the one named ``layer``)."""
    with tempfile.TemporaryDirectory(prefix="vw-gpkg-") as tmp:
        path = Path(tmp) / "upload.gpkg"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                listed = pyogrio.list_layers(path)
        except pyogrio.errors.DataSourceError as exc:
            raise _fail("gis_read_failed", value=str(exc)[:200]) from exc
        spatial = [str(name) for name, gtype in listed if gtype is not None]
        if not spatial:
            raise _fail("gpkg_no_spatial_layer", value=", ".join(str(n) for n, _ in listed))
        chosen, notes = _pick_layer(spatial, layer)
        gdf = _read_with_gdal(path, chosen, None)
    # GeoPackage FIDs already count from 1, as users see them in QGIS.
    table = _table_from_gdf(gdf, start=0)
    table.problems.extend(notes)
    return table
