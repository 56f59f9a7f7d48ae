"""The one upload pipeline behind the web page, the API and ``villageworks import``.

bytes -> ``geo.readers`` (any format) -> ``geo.crs`` (to WGS84; guessed when unknown)
-> fields mapped and checked against the layer spec -> ``geo.validate`` (finite, not
(0, 0), inside the working area plus a margin, swapped axes, duplicates) -> the store's
own checks (references, ids), as a dry run -> a report with every problem per row.

On commit, every accepted row goes in ONE store commit (all or nothing), the original file
is kept under a generated name with its hash, and an audit record is written. A file with
rejected rows is committed only when the caller says so (``skip_rejected``: the web page
does after showing the preview); otherwise nothing is written. A dry run, or any error,
writes nothing at all.

Between preview and commit the web page keeps the file server-side in :class:`Staging`,
under a random token; the client never names a path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import CrsChoice, CrsGuess, guess_crs, parse_crs, to_wgs84
from geo.messages import register
from geo.problems import InputError, Problem, short_value
from geo.readers import ReadResult, read_upload
from geo.validate import validate_geometries
from layers.bulk import Creates
from layers.errors import BadRequest, NotFound, TooLarge, ValidationFailed
from layers.journal import InterProcessLock, atomic_write
from layers.specs import (
    SYSTEM_FIELDS,
    CodedColumn,
    LayerSpec,
    PropertyChecker,
    checked_columns,
    factorize,
    factorize_text,
    is_text,
    validate_properties,
)
from layers.store import Change, GeoJSONStore, utc_now

DUPLICATE_ACTIONS = ("skip", "keep", "merge")
DEFAULT_MARGIN_M = 2000.0
#: Largest accepted margin around the working area (a province is a few hundred km).
MAX_MARGIN_M = 1_000_000.0
PREVIEW_MAX_FEATURES = 2000
#: Staged files older than this are removed when the next file is staged.
STAGING_TTL_S = 24 * 3600
_ID_RE = re.compile(r"^U-\d{8}-[0-9a-f]{6}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
_IGNORED_COLUMNS = {
    "id",
    "source_id",
    "fid",
    "ogc_fid",
    "geometry",
    "wkt",
    "x",
    "y",
    "lon",
    "lat",
    "lng",
    "longitude",
    "latitude",
    "经度",
    "纬度",
    "ele",
}
_STORE_ROUNDS = 3
#: Held (flock) by the process writing an upload, in the upload's folder.
_WRITING_LOCK = "writing.lock"

for _code, _zh, _en in (
    ("upload_empty", "文件中没有可导入的要素", "The file holds no features to import"),
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
        "duplicate_skipped",
        "第 {row} 行与已有要素 {existing_id} 重复，已跳过",
        "Row {row} duplicates existing feature {existing_id}; skipped",
    ),
    (
        "multi_part",
        "第 {row} 行是多段几何（{value}），本图层只接受单个 {allowed}",
        "Row {row} is a multi-part geometry ({value}); this layer takes a single {allowed}",
    ),
    (
        "bad_upload_option",
        "上传参数有误：{field} = {value}",
        "Bad upload option: {field} = {value}",
    ),
    ("upload_not_found", "找不到上传记录 {value}", "No upload {value}"),
    ("upload_already_undone", "上传 {value} 已撤销", "Upload {value} was already undone"),
    (
        "outside_working_area",
        "第 {row} 行：位置 {value} 不在工作区域（{area}及周边 {margin_m} 米）内，"
        "相距 {distance_km} 公里",
        "Row {row}: the location {value} is outside the working area ({area} and {margin_m} m "
        "around it), {distance_km} km away",
    ),
    (
        "all_outside_working_area",
        "文件中 {count} 处位置全部不在工作区域（{area}）内，最近的也相距 {distance_km} 公里。"
        "文件是否来自别的地方，或使用了其他坐标系？",
        "None of the {count} locations in the file is in the working area ({area}); the "
        "nearest is {distance_km} km away. Is the file from another place, or in another "
        "coordinate system?",
    ),
    (
        "upload_has_rejected_rows",
        "有 {count} 行不能导入，未写入任何内容。请先查看预览；若确认只导入其余 {accepted} 行，"
        "请选择“跳过有问题的行”",
        "{count} row(s) cannot be imported, so nothing was written. Look at the preview; to "
        "import only the other {accepted} row(s), choose 'skip rejected rows'",
    ),
    (
        "staging_not_found",
        "预览已过期或不存在，请重新上传文件",
        "The preview has expired or does not exist; please upload the file again",
    ),
):
    register(_code, _zh, _en)


@dataclass
class UploadOptions:
    """What the user chose for one upload.

    ``crs`` is ``auto`` or anything :func:`geo.crs.parse_crs` reads; ``swap_xy`` exchanges
    the two coordinate columns (None: only when ``auto`` finds them swapped). ``defaults``
    fill fields the file lacks for every row ("all of these are solar lights, installed
    2021-08"); ``column_map`` maps a file column to a field when the header differs;
    ``on_duplicate`` says what to do with rows close to an existing feature or to an earlier
    row: ``skip`` (default), ``keep`` or ``merge`` (update the existing feature with the
    row's values). ``skip_rejected`` commits the good rows of a file that has bad ones.
    """

    layer: str
    crs: str = "auto"
    dry_run: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    column_map: Mapping[str, str] = field(default_factory=dict)
    on_duplicate: str = "skip"
    margin_m: float = DEFAULT_MARGIN_M
    encoding: str | None = None
    idempotency_key: str | None = None
    swap_xy: bool | None = None
    skip_rejected: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready data (kept with a staged file)."""
        return dataclasses.asdict(self) | {
            "defaults": dict(self.defaults),
            "column_map": dict(self.column_map),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> UploadOptions:
        """Options from :meth:`to_dict` output; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass
class UploadReport:
    """What an upload would do (dry run) or did."""

    layer: str
    filename: str
    sha256: str
    size: int
    format: str = ""
    crs_label: str = ""
    crs_key: str = ""
    crs_source: str = ""
    swapped: bool = False
    crs_guesses: list[CrsGuess] = field(default_factory=list)
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    merged: int = 0
    problems: list[Problem] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    upload_id: str | None = None
    ids: list[str] = field(default_factory=list)
    dry_run: bool = True
    user: str = ""
    at: str = ""
    status: str = "preview"
    idempotency_key: str | None = None

    @property
    def error_count(self) -> int:
        """How many problems are errors."""
        return sum(p.severity == "error" for p in self.problems)

    def as_dict(self, lang: str = "zh", *, with_features: bool = False) -> dict[str, Any]:
        """JSON-ready report; problem messages in ``lang``."""
        body: dict[str, Any] = {
            "upload_id": self.upload_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "layer": self.layer,
            "filename": self.filename,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "crs": self.crs_label,
            "crs_key": self.crs_key,
            "crs_source": self.crs_source,
            "swapped": self.swapped,
            "crs_guesses": [guess_as_dict(g, lang) for g in self.crs_guesses[:5]],
            "total": self.total,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "merged": self.merged,
            "columns": self.columns,
            "mapping": self.mapping,
            "unmapped_columns": self.unmapped_columns,
            "ids": self.ids,
            "user": self.user,
            "at": self.at,
            "problems": [p.as_dict(lang) for p in self.problems],
        }
        if self.idempotency_key:
            body["idempotency_key"] = self.idempotency_key
        if with_features:
            body["features"] = self.features[:PREVIEW_MAX_FEATURES]
        return body


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


# ----------------------------------------------------------------------------- helpers
def _county(store: GeoJSONStore) -> gpd.GeoDataFrame | None:
    if "boundaries" not in store.specs:
        return None
    frame = store.frame("boundaries")
    county = frame[frame["level"] == "county"] if "level" in frame else frame.iloc[0:0]
    return None if county.empty else county


def working_area(store: GeoJSONStore) -> BaseGeometry | None:
    """The county polygon(s) from the boundaries layer, or None when none is loaded."""
    county = _county(store)
    return None if county is None else shapely.union_all(county.geometry.values)


def working_area_name(store: GeoJSONStore) -> str:
    """The county's name (e.g. 山阴县) for messages; empty when none is loaded."""
    county = _county(store)
    if county is None or "name" not in county:
        return ""
    return "、".join(str(n) for n in county["name"] if isinstance(n, str))


def check_locations(
    store: GeoJSONStore,
    layer: str,
    geometries: list[Any],
    rows: list[int] | None = None,
    *,
    margin_m: float = DEFAULT_MARGIN_M,
) -> list[Problem]:
    """Location checks of uploads for features arriving another way (form, OGC API).

    ``geometries`` are GeoJSON mappings or shapely geometries in WGS84.
    """
    spec = store.spec(layer)
    if not spec.spatial or not geometries:
        return []
    geoms = [
        g if isinstance(g, BaseGeometry) or g is None else shapely.from_geojson(orjson.dumps(g))
        for g in geometries
    ]
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    area = working_area(store)
    return validate_geometries(
        frame,
        allowed_types=spec.geometry,
        area=area,
        margin_m=margin_m,
        rows=rows or list(range(1, len(geoms) + 1)),
    )


def _field_lookup(spec: LayerSpec) -> dict[str, str]:
    """Header text (name, zh label, en label; case-insensitive) -> field name."""
    lookup: dict[str, str] = {}
    for fspec in spec.fields:
        for text in (fspec.name, *fspec.label.values()):
            lookup[text.strip().lower()] = fspec.name
    return lookup


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def map_columns(
    spec: LayerSpec, columns: list[str], column_map: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Which file column feeds which field; and the columns left unused.

    ``column_map`` wins over the automatic match by field name or label; mapping a column
    to ``""`` leaves it out.
    """
    lookup = _field_lookup(spec)
    mapping: dict[str, str] = {}
    unmapped: list[str] = []
    for column in columns:
        target = column_map.get(column)
        if target is None:
            target = lookup.get(str(column).strip().lower())
        if target and spec.field(target) is not None and target not in mapping.values():
            mapping[column] = target
        elif str(column).strip().lower() not in _IGNORED_COLUMNS:
            unmapped.append(column)
    return mapping, unmapped


def _choose_crs(
    gdf: gpd.GeoDataFrame, choice: CrsChoice, area: BaseGeometry | None
) -> tuple[CrsChoice, list[CrsGuess], list[Problem]]:
    """The CRS to read ``gdf`` in, with any guesses and the notes to show."""
    if choice.kind != "auto":
        return choice, [], []
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


def _swap_xy(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(
        shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1]), crs=gdf.crs
    )
    return out


#: Shapely type ids of MultiPoint, MultiLineString and MultiPolygon.
_MULTI_TYPE_IDS = (4, 5, 6)


def _single_part(geom: Any, spec: LayerSpec) -> Any:
    """Single-part geometry for a layer that takes only single parts, where that is exact."""
    if geom is None or geom.geom_type not in ("MultiLineString", "MultiPoint", "MultiPolygon"):
        return geom
    if geom.geom_type in spec.geometry:
        return geom
    if len(geom.geoms) == 1:
        return geom.geoms[0]
    if geom.geom_type == "MultiLineString":
        merged = shapely.line_merge(geom)
        if merged.geom_type == "LineString":
            return merged
    return geom


def _new_upload_id() -> str:
    return f"U-{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"


def _name_outside(problems: list[Problem], area_name: str, readable: int) -> list[Problem]:
    """Say "outside the working area (山阴县 ...)" instead of "outside the area", and add
    one file-level problem when no location at all is in it (wrong file or wrong CRS)."""
    named = [
        dataclasses.replace(p, code="outside_working_area", params={**p.params, "area": area_name})
        if p.code == "outside_area"
        else p
        for p in problems
    ]
    outside = [p for p in named if p.code == "outside_working_area"]
    if outside and len(outside) == readable:
        nearest = min(float(p.params.get("distance_km", 0)) for p in outside)
        named.insert(
            0,
            Problem(
                "all_outside_working_area",
                params={"count": readable, "area": area_name, "distance_km": nearest},
            ),
        )
    return named


# ---------------------------------------------------------------------------- pipeline
@dataclass
class _Batch:
    """The rows of one upload as they move through the checks."""

    gdf: gpd.GeoDataFrame
    rows: list[int]
    rejected: set[int]
    changes: list[Any] = field(default_factory=list)


def _read(data: bytes, filename: str, options: UploadOptions, max_bytes: int) -> ReadResult:
    try:
        return read_upload(
            data, filename, max_bytes=max_bytes, encoding=options.encoding, layer=options.layer
        )
    except InputError as exc:
        if any(p.code == "too_large" for p in exc.problems):
            raise TooLarge(limit_mb=max_bytes // (1024 * 1024)) from exc
        raise ValidationFailed(exc.problems) from exc


def _parse_choice(text: str) -> CrsChoice:
    try:
        return parse_crs(text or "auto")
    except InputError as exc:
        raise ValidationFailed(exc.problems) from exc


def _to_wgs84(
    store: GeoJSONStore,
    spec: LayerSpec,
    gdf: gpd.GeoDataFrame,
    options: UploadOptions,
    report: UploadReport,
) -> gpd.GeoDataFrame:
    """``gdf`` read in the chosen (or guessed) CRS, converted to WGS84 single parts."""
    choice, report.crs_guesses, notes = _choose_crs(
        gdf, _parse_choice(options.crs), working_area(store)
    )
    report.problems.extend(notes)
    swap = options.swap_xy
    if swap is None:
        swap = bool(report.crs_guesses and report.crs_guesses[0].swapped)
    if swap:
        gdf = _swap_xy(gdf)
        report.problems.append(Problem("crs_swapped", value=choice.label, severity="warning"))
    report.swapped = swap
    try:
        declared = gdf.crs is not None or choice.kind != "epsg"
        gdf = to_wgs84(gdf if declared else gdf.set_crs(f"EPSG:{choice.epsg}"), choice)
    except InputError as exc:
        raise ValidationFailed(exc.problems) from exc
    gdf = gdf.copy()
    geoms = np.array(gdf.geometry.to_numpy(), dtype=object)
    for i in np.flatnonzero(np.isin(shapely.get_type_id(geoms), _MULTI_TYPE_IDS)).tolist():
        geoms[i] = _single_part(geoms[i], spec)
    gdf.geometry = gpd.GeoSeries(geoms, crs="EPSG:4326")
    report.crs_label, report.crs_key = choice.label, crs_key(choice)
    return gdf


def _geometry_problems(
    store: GeoJSONStore, spec: LayerSpec, batch: _Batch, options: UploadOptions
) -> dict[int, list[Problem]]:
    if not spec.spatial or not len(batch.gdf):
        return {}
    existing = store.frame(options.layer)
    found = validate_geometries(
        batch.gdf,
        allowed_types=spec.geometry,
        area=working_area(store),
        margin_m=options.margin_m,
        existing=existing if len(existing) else None,
        duplicate_distance_m=spec.duplicate_distance_m or None,
        rows=batch.rows,
    )
    found = _name_outside(found, working_area_name(store), len(batch.rows))
    by_row: dict[int, list[Problem]] = {}
    for problem in found:
        by_row.setdefault(problem.row or 0, []).append(problem)
    return by_row


def _check_rows(
    store: GeoJSONStore,
    spec: LayerSpec,
    batch: _Batch,
    options: UploadOptions,
    report: UploadReport,
) -> None:
    """Turn each row into a change, or reject or skip it, noting every problem.

    Column by column: each distinct value of a column is checked once, and only rows with
    a problem are looked at one by one. The accepted rows of a point layer become one
    :class:`~layers.bulk.Creates`, which the store takes column by column too.
    """
    mapping, report.unmapped_columns = map_columns(
        spec,
        [str(c) for c in batch.gdf.columns if c != batch.gdf.geometry.name],
        options.column_map,
    )
    report.mapping = mapping
    by_row = _geometry_problems(store, spec, batch, options)
    report.problems.extend(by_row.pop(0, []))
    defaults, default_problems = validate_properties(spec, options.defaults, None, partial=True)
    if any(p.severity == "error" for p in default_problems):
        raise ValidationFailed(default_problems)
    gdf = batch.gdf
    n = len(gdf)
    # Each column as its distinct values and a code per row: checked once per value here,
    # and again (as cheaply) by the store.
    values: dict[str, CodedColumn] = {
        target: _coded(gdf[column])
        if column in gdf.columns
        else CodedColumn(np.zeros(n, dtype=np.intp), [None])
        for column, target in mapping.items()
    }
    for key, value in defaults.items():
        known = values.get(key)
        values[key] = (
            CodedColumn(np.zeros(n, dtype=np.intp), [value])
            if known is None
            else CodedColumn(known.codes, [value if v in (None, "") else v for v in known.uniques])
        )
    check = PropertyChecker(spec)
    checked, found = checked_columns(check, values, batch.rows)
    by_position: dict[int, list[Problem]] = {}
    for position, _, problem in found:
        if problem.code != "computed_field":
            by_position.setdefault(position, []).append(problem)
    if by_row:
        position_of = {row: i for i, row in enumerate(batch.rows)}
        for row in by_row:
            by_position.setdefault(position_of[row], [])
    left_out: set[int] = set()
    updates: dict[int, Change] = {}
    for position in sorted(by_position):
        row = batch.rows[position]
        row_problems = by_row.get(row, []) + by_position[position]
        report.problems.extend(row_problems)
        if any(p.severity == "error" for p in row_problems):
            batch.rejected.add(row)
            left_out.add(position)
            continue
        duplicate = next((p for p in row_problems if p.code.startswith("duplicate_")), None)
        if duplicate is not None and options.on_duplicate == "skip":
            report.skipped += 1
            left_out.add(position)
        elif (
            duplicate is not None
            and options.on_duplicate == "merge"
            and duplicate.code == "duplicate_existing"
        ):
            # Merge only what the row says: no spec defaults over the existing values.
            props = {k: c.uniques[int(c.codes[position])] for k, c in values.items()}
            given, _ = check(props, row, partial=True)
            given = {k: v for k, v in given.items() if v is not None}
            target_id = str(duplicate.params.get("existing_id"))
            updates[position] = Change("update", id=target_id, properties=given, row=row)
            report.merged += 1
    geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
    if not updates and _points_only(spec, geoms):
        creates = Creates(
            rows=batch.rows, x=shapely.get_x(geoms), y=shapely.get_y(geoms), properties=values
        )
        left_rows = {batch.rows[i] for i in left_out}
        creates = creates.without(left_rows) if left_rows else creates
        batch.changes = [creates] if len(creates) else []
        return
    clean = {name: column.values() for name, column in checked.items()}
    for position in range(n):
        if position in updates:
            batch.changes.append(updates[position])
        elif position not in left_out:
            props = {k: v[position] for k, v in clean.items() if v[position] is not None}
            geometry = geoms[position] if spec.spatial else None
            row = batch.rows[position]
            batch.changes.append(Change("create", geometry=geometry, properties=props, row=row))


def _coded(series: Any) -> CodedColumn:
    """A column of the file as plain Python values, coded (text from a CSV as it is)."""
    values = series.to_numpy(dtype=object)
    if isinstance(series.dtype, pd.StringDtype) or is_text(values):  # str, or str and None
        return CodedColumn(*factorize_text(values))
    return CodedColumn(*factorize([_plain(v) for v in values], len(values)))


def _points_only(spec: LayerSpec, geoms: np.ndarray) -> bool:
    """Whether the rows can go to the store as one :class:`Creates`: a point layer
    without computed fields, and every row a non-empty point."""
    if not (spec.spatial and "Point" in spec.geometry) or any(f.computed for f in spec.fields):
        return False
    if not len(geoms):
        return False
    return bool(np.all(shapely.get_type_id(geoms) == 0) and not shapely.is_empty(geoms).any())


def _count(changes: list[Any]) -> int:
    """Features the changes write (a Creates counts each of its rows)."""
    return sum(len(c) if isinstance(c, Creates) else 1 for c in changes)


def _without_rows(changes: list[Any], rows: set[int]) -> list[Any]:
    """``changes`` less those of the given row numbers."""
    out: list[Any] = []
    for change in changes:
        if isinstance(change, Creates):
            rest = change.without(rows)
            if len(rest):
                out.append(rest)
        elif change.row not in rows:
            out.append(change)
    return out


def _store_dry_run(
    store: GeoJSONStore,
    batch: _Batch,
    options: UploadOptions,
    user: str,
    source: str,
    report: UploadReport,
) -> list[dict[str, Any]]:
    """Run the store's own checks (references, ids); rows it refuses become rejected rows."""
    for _ in range(_STORE_ROUNDS):
        if not batch.changes:
            return []
        try:
            result = store.commit(
                options.layer, batch.changes, user=user, source=source, dry_run=True
            )
        except ValidationFailed as exc:
            errors = [p for p in exc.problems if p.severity == "error"]
            bad_rows = {p.row for p in errors if p.row is not None}
            if not bad_rows:
                raise
            report.problems.extend(errors)
            batch.rejected |= bad_rows
            batch.changes = _without_rows(batch.changes, bad_rows)
            continue
        return result.features
    raise ValidationFailed([p for p in report.problems if p.severity == "error"])


def run_upload(
    store: GeoJSONStore,
    data: bytes,
    filename: str,
    options: UploadOptions,
    *,
    user: str,
    progress: Callable[[str], None] | None = None,
    max_bytes: int = 50 * 1024 * 1024,
) -> UploadReport:
    """Read, convert, check and (unless a dry run) commit one uploaded file.

    Raises :class:`TooLarge` over ``max_bytes``, :class:`ValidationFailed` when the file
    cannot be read at all, or when it has rejected rows and ``options.skip_rejected`` is
    not set (nothing is written then), :class:`NotFound` for an unknown layer. Row-level
    problems go in the report.
    """
    say = progress or (lambda _msg: None)
    spec = store.spec(options.layer)
    if options.on_duplicate not in DUPLICATE_ACTIONS:
        raise BadRequest("bad_upload_option", field="duplicates", value=options.on_duplicate)
    if not 0 <= options.margin_m <= MAX_MARGIN_M:  # also refuses NaN and infinity
        raise BadRequest("bad_upload_option", field="margin_m", value=options.margin_m)
    if len(data) > max_bytes:
        raise TooLarge(limit_mb=max_bytes // (1024 * 1024))
    report = UploadReport(
        layer=options.layer,
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        dry_run=options.dry_run,
        user=user,
        at=utc_now(),
        idempotency_key=options.idempotency_key,
    )
    if not options.dry_run:
        # Settle records an upload killed mid-way left (a retry of it may be this one).
        UploadLog(store.data_dir).recover_pending(store)
    if options.idempotency_key and not options.dry_run:
        earlier = UploadLog(store.data_dir).find_by_key(options.idempotency_key)
        if earlier is not None:  # a client retrying a request that already landed
            return _replayed(report, earlier)
    read = _read(data, filename, options, max_bytes)
    say(f"read {len(read.gdf)} row(s) as {read.format}")
    report.format, report.columns, report.crs_source = (
        read.format,
        list(read.columns),
        (read.crs_source),
    )
    report.problems.extend(read.problems)
    batch = _Batch(
        gdf=read.gdf,
        rows=list(read.rows) if read.rows else list(range(1, len(read.gdf) + 1)),
        rejected={p.row for p in read.problems if p.severity == "error" and p.row is not None},
    )
    report.total = len(read.gdf) + len(batch.rejected)
    if report.total == 0:
        raise ValidationFailed([Problem("upload_empty")])
    if spec.spatial and len(batch.gdf):
        batch.gdf = _to_wgs84(store, spec, batch.gdf, options, report)
        say(f"coordinates read as {report.crs_label}")
    _check_rows(store, spec, batch, options, report)
    upload_id = _new_upload_id()
    source = f"upload:{upload_id}"
    report.features = _store_dry_run(store, batch, options, user, source, report)
    report.rejected = len(batch.rejected)
    report.accepted = _count(batch.changes)
    report.problems.sort(key=lambda p: (p.row or 0, p.field or ""))
    say(
        f"checked: {report.accepted} to write, {report.rejected} rejected, {report.skipped} skipped"
    )
    if options.dry_run:
        report.status = "preview"
        return report
    if report.rejected and not options.skip_rejected:
        raise ValidationFailed(
            report.problems
            + [
                Problem(
                    "upload_has_rejected_rows",
                    params={"count": report.rejected, "accepted": report.accepted},
                )
            ]
        )
    if not batch.changes:
        report.status = "nothing_to_write"
        return report
    return _commit(store, batch, options, report, upload_id, data, say)


def _replayed(report: UploadReport, earlier: Mapping[str, Any]) -> UploadReport:
    """The report of an upload that already landed under the same idempotency key."""
    for key in ("upload_id", "ids", "total", "accepted", "rejected", "skipped", "merged"):
        setattr(report, key, earlier.get(key, getattr(report, key)))
    report.crs_label, report.crs_key = earlier.get("crs", ""), earlier.get("crs_key", "")
    report.dry_run, report.status = False, "replayed"
    return report


def _commit(
    store: GeoJSONStore,
    batch: _Batch,
    options: UploadOptions,
    report: UploadReport,
    upload_id: str,
    data: bytes,
    say: Callable[[str], None],
) -> UploadReport:
    """Keep the original, commit every accepted row at once, then finish the record."""
    log = UploadLog(store.data_dir)
    report.upload_id = upload_id
    log.begin(report, data)
    try:
        key = f"upload:{options.idempotency_key}" if options.idempotency_key else None
        committed = store.commit(
            options.layer,
            batch.changes,
            user=report.user,
            source=f"upload:{upload_id}",
            idempotency_key=key,
        )
        report.ids = committed.ids
        report.features = committed.features
        report.dry_run = False
        if committed.replayed:
            # The same request came before (a client retry): report that upload, not a new
            # one.
            log.discard(upload_id)
            earlier = log.find_by_key(options.idempotency_key or "")
            report.upload_id = earlier.get("upload_id") if earlier else None
            report.status = "replayed"
            return report
        report.status = "committed"
        log.finish(report)
    except Exception:
        # The commit failed: if nothing was written, keep no record either ("an error
        # writes nothing"); if it was (a failure after the journal append), record it.
        log.release(upload_id)
        log.settle(store, upload_id)
        raise
    finally:
        log.release(upload_id)
    say(f"committed {len(committed.ids)} feature(s) as upload {upload_id}")
    return report


# ------------------------------------------------------------------------- audit log
class UploadLog:
    """Records of uploads: ``<data>/uploads/<id>/meta.json`` plus the original file.

    The original is stored as ``original.bin`` (never under the user's file name, which
    is kept as metadata only, Chinese characters and all).
    """

    def __init__(self, data_dir: Path | str):
        self.root = Path(data_dir) / "uploads"
        self._lock = InterProcessLock(Path(data_dir) / "locks" / "uploads.lock")
        self._writing: dict[str, int] = {}

    def _dir(self, upload_id: str) -> Path:
        if not _ID_RE.match(upload_id or ""):
            raise NotFound("upload_not_found", value=short_value(upload_id, 40))
        return self.root / upload_id

    def begin(self, report: UploadReport, data: bytes) -> None:
        """Keep the original and a pending record before the features are committed.

        The record's ``writing.lock`` stays locked (``flock``) until :meth:`release`: a
        pending record whose lock is free belongs to a process that died (the kernel drops
        its locks), and :meth:`recover_pending` settles it.
        """
        assert report.upload_id is not None
        folder = self._dir(report.upload_id)
        folder.mkdir(parents=True, exist_ok=False)
        fd = os.open(folder / _WRITING_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._writing[report.upload_id] = fd
        atomic_write(folder / "original.bin", data)
        self._write(report, "pending")

    def release(self, upload_id: str) -> None:
        """End :meth:`begin`'s claim on a record (finished, discarded or failed)."""
        fd = self._writing.pop(upload_id, None)
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.root / upload_id / _WRITING_LOCK).unlink()
            os.close(fd)  # drops the lock

    def finish(self, report: UploadReport) -> None:
        """Mark the upload committed, with the ids it created."""
        self._write(report, "committed")

    def discard(self, upload_id: str) -> None:
        """Forget a record begun for nothing (the commit was a replay)."""
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)

    def _write(self, report: UploadReport, status: str) -> None:
        assert report.upload_id is not None
        meta = report.as_dict("zh")
        meta["status"] = status
        meta["problem_count"] = len(report.problems)
        meta["problems"] = [p.as_dict("zh") for p in report.problems[:500]]
        meta["problems_en"] = [p.message("en") for p in report.problems[:500]]
        with self._lock:
            atomic_write(
                self._dir(report.upload_id) / "meta.json",
                orjson.dumps(meta, option=orjson.OPT_INDENT_2),
            )

    def get(self, upload_id: str) -> dict[str, Any]:
        """One upload's record."""
        path = self._dir(upload_id) / "meta.json"
        if not path.exists():
            raise NotFound("upload_not_found", value=upload_id)
        meta: dict[str, Any] = orjson.loads(path.read_bytes())
        return meta

    def original(self, upload_id: str) -> bytes:
        """The file as it was uploaded."""
        return (self._dir(upload_id) / "original.bin").read_bytes()

    def list(self) -> list[dict[str, Any]]:
        """Every upload's record, newest first."""
        if not self.root.is_dir():
            return []
        metas = []
        for path in self.root.glob("U-*/meta.json"):
            try:
                metas.append(orjson.loads(path.read_bytes()))
            except orjson.JSONDecodeError:
                continue
        return sorted(metas, key=lambda m: m.get("at", ""), reverse=True)

    def find_by_key(self, key: str) -> dict[str, Any] | None:
        """The committed upload made with idempotency key ``key``, if any."""
        if not key:
            return None
        return next(
            (
                m
                for m in self.list()
                if m.get("idempotency_key") == key and m.get("status") != "pending"
            ),
            None,
        )

    def mark(self, upload_id: str, **changes: Any) -> dict[str, Any]:
        """Update fields of an upload's record (e.g. after an undo)."""
        with self._lock:
            meta = self.get(upload_id)
            meta.update(changes)
            atomic_write(
                self._dir(upload_id) / "meta.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            )
        return meta

    def settle(self, store: GeoJSONStore, upload_id: str) -> str:
        """Mark a pending upload committed if its features exist, else remove its record.

        Returns ``"committed"``, ``"removed"`` or ``"kept"`` (not pending).
        """
        try:
            meta = self.get(upload_id)
        except NotFound:
            return "removed"
        if meta.get("status") != "pending":
            return "kept"
        source = f"upload:{upload_id}"
        layer = meta.get("layer", "")
        ids = [
            f["id"]
            for f in (store.features(layer) if layer in store.specs else [])
            if (f.get("properties") or {}).get("source") == source
        ]
        if ids:
            self.mark(upload_id, status="committed", ids=ids, accepted=len(ids))
            return "committed"
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)
        return "removed"

    def recover_pending(self, store: GeoJSONStore) -> dict[str, int]:
        """Settle records left ``pending`` by a process that died mid-upload.

        An upload whose features exist (the commit happened) is marked committed; one
        without any was never written and its record is removed.
        """
        settled = {"committed": 0, "removed": 0}
        for meta in self.list():
            if meta.get("status") != "pending":
                continue
            with self._abandoned(str(meta["upload_id"])) as abandoned:
                if not abandoned:
                    continue  # its upload is still running in another process
                try:
                    meta = self.get(meta["upload_id"])
                except NotFound:
                    continue  # settled meanwhile
                if meta.get("status") != "pending":
                    continue
                source = f"upload:{meta['upload_id']}"
                layer = meta.get("layer", "")
                ids = [
                    f["id"]
                    for f in (store.features(layer) if layer in store.specs else [])
                    if (f.get("properties") or {}).get("source") == source
                ]
                if ids:
                    self.mark(meta["upload_id"], status="committed", ids=ids, accepted=len(ids))
                    settled["committed"] += 1
                else:
                    shutil.rmtree(self._dir(meta["upload_id"]), ignore_errors=True)
                    settled["removed"] += 1
        return settled

    @contextlib.contextmanager
    def _abandoned(self, upload_id: str) -> Iterator[bool]:
        """Whether no live process is writing ``upload_id`` (its lock is held while
        inside the block, so that no two processes settle one record)."""
        try:
            fd = os.open(self._dir(upload_id) / _WRITING_LOCK, os.O_RDWR)
        except FileNotFoundError:
            yield True  # released: the writer finished or failed
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def undo_upload(store: GeoJSONStore, upload_id: str, *, user: str) -> dict[str, Any]:
    """Soft-delete every feature an upload created; its history and record are kept."""
    log = UploadLog(store.data_dir)
    meta = log.get(upload_id)
    if meta.get("status") == "undone":
        raise BadRequest("upload_already_undone", value=upload_id)
    result = store.undo_source(meta["layer"], f"upload:{upload_id}", user=user)
    removed = len(result.ids) if result else 0
    return log.mark(
        upload_id, status="undone", undone_by=user, undone_at=utc_now(), removed=removed
    )


def upload_features_summary(meta: Mapping[str, Any]) -> str:
    """One line about an upload for lists and logs."""
    return (
        f"{meta.get('upload_id')} {meta.get('layer')} {short_value(meta.get('filename'))} "
        f"+{meta.get('accepted', 0)} -{meta.get('rejected', 0)}"
    )


# --------------------------------------------------------------------------- staging
class Staging:
    """Files between preview and commit: ``<data>/uploads/staging/<token>/``.

    The token is random (192 bits) and the only handle the browser gets; a staged file
    belongs to the user who staged it. Files older than ``ttl_s`` are removed whenever a
    new one is staged.
    """

    def __init__(self, data_dir: Path | str, ttl_s: float = STAGING_TTL_S):
        self.root = Path(data_dir) / "uploads" / "staging"
        self.ttl_s = ttl_s

    def _dir(self, token: str) -> Path:
        if not _TOKEN_RE.match(token or ""):
            raise NotFound("staging_not_found")
        return self.root / token

    def put(self, data: bytes, filename: str, options: UploadOptions, *, user: str) -> str:
        """Keep ``data`` for a later preview or commit; returns its token."""
        self.expire()
        token = secrets.token_urlsafe(24)
        folder = self._dir(token)
        folder.mkdir(parents=True)
        atomic_write(folder / "original.bin", data)
        meta = {
            "filename": filename,
            "user": user,
            "created": time.time(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "options": options.to_dict(),
        }
        atomic_write(folder / "meta.json", orjson.dumps(meta))
        return token

    def meta(self, token: str, *, user: str) -> dict[str, Any]:
        """The record of a staged file; NotFound when unknown, expired or someone else's."""
        path = self._dir(token) / "meta.json"
        try:
            meta: dict[str, Any] = orjson.loads(path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            raise NotFound("staging_not_found") from None
        if meta.get("user") != user or time.time() - float(meta.get("created", 0)) > self.ttl_s:
            raise NotFound("staging_not_found")
        return meta

    def data(self, token: str, *, user: str) -> bytes:
        """The staged file's bytes."""
        self.meta(token, user=user)
        try:
            return (self._dir(token) / "original.bin").read_bytes()
        except FileNotFoundError:
            raise NotFound("staging_not_found") from None

    def options(self, token: str, *, user: str) -> UploadOptions:
        """The options last chosen for the staged file."""
        return UploadOptions.from_dict(self.meta(token, user=user)["options"])

    def update(self, token: str, *, user: str, **changes: Any) -> dict[str, Any]:
        """Change the record (new options, or the upload id once committed)."""
        meta = self.meta(token, user=user)
        meta.update(changes)
        atomic_write(self._dir(token) / "meta.json", orjson.dumps(meta))
        return meta

    def committed(self, token: str, upload_id: str | None, *, user: str) -> None:
        """Drop the staged bytes (the upload log keeps the original), remember the upload."""
        self.update(token, user=user, upload_id=upload_id)
        (self._dir(token) / "original.bin").unlink(missing_ok=True)

    def expire(self, now: float | None = None) -> int:
        """Remove staged files older than the time to live; returns how many."""
        if not self.root.is_dir():
            return 0
        now = time.time() if now is None else now
        removed = 0
        for folder in self.root.iterdir():
            meta_path = folder / "meta.json"
            try:
                created = float(orjson.loads(meta_path.read_bytes()).get("created", 0))
            except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError, ValueError):
                created = folder.stat().st_mtime
            if now - created > self.ttl_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


__all__ = [
    "SYSTEM_FIELDS",
    "Staging",
    "UploadLog",
    "UploadOptions",
    "UploadReport",
    "check_locations",
    "crs_key",
    "map_columns",
    "run_upload",
    "undo_upload",
    "working_area",
    "working_area_name",
]
