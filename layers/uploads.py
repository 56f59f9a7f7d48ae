"""The one upload pipeline behind the web page, the API and ``villageworks import``.

bytes -> ``geo.readers`` (any format) -> ``geo.crs`` (to WGS84; guessed when unknown)
-> fields mapped and checked against the layer spec -> ``geo.validate`` (finite, not
(0, 0), inside the county plus a margin, swapped axes, duplicates) -> a report with every
problem per row -> on commit, every accepted row in ONE store commit (all or nothing),
the original file kept under a generated name with its hash, and an audit record.

A dry run, or any error, writes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import CrsChoice, CrsGuess, guess_crs, parse_crs, to_wgs84
from geo.messages import register
from geo.problems import InputError, Problem, short_value
from geo.readers import read_upload
from geo.validate import validate_geometries
from layers.errors import BadRequest, NotFound, TooLarge, ValidationFailed
from layers.journal import InterProcessLock, atomic_write
from layers.specs import SYSTEM_FIELDS, LayerSpec, validate_properties
from layers.store import Change, GeoJSONStore, utc_now

DUPLICATE_ACTIONS = ("skip", "keep", "merge")
DEFAULT_MARGIN_M = 2000.0
PREVIEW_MAX_FEATURES = 2000
_ID_RE = re.compile(r"^U-\d{8}-[0-9a-f]{6}$")
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
}

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
):
    register(_code, _zh, _en)


@dataclass
class UploadOptions:
    """What the user chose for one upload.

    ``defaults`` fill fields the file lacks for every row ("all of these are solar lights,
    installed 2021-08"); ``column_map`` maps a file column to a field when the header
    differs; ``on_duplicate`` says what to do with rows close to an existing feature or
    to an earlier row: ``skip`` (default), ``keep`` or ``merge`` (update the existing
    feature with the row's values).
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


@dataclass
class UploadReport:
    """What an upload would do (dry run) or did."""

    layer: str
    filename: str
    sha256: str
    size: int
    format: str = ""
    crs_label: str = ""
    crs_source: str = ""
    crs_guesses: list[CrsGuess] = field(default_factory=list)
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    merged: int = 0
    problems: list[Problem] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    unmapped_columns: list[str] = field(default_factory=list)
    upload_id: str | None = None
    ids: list[str] = field(default_factory=list)
    dry_run: bool = True
    user: str = ""
    at: str = ""
    status: str = "preview"

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
            "crs_source": self.crs_source,
            "crs_guesses": [
                {
                    "crs": g.choice.label,
                    "epsg": g.choice.epsg,
                    "kind": g.choice.kind,
                    "fraction_in_area": round(g.fraction_in_area, 3),
                    "swapped": g.swapped,
                    "message": g.message(lang),
                }
                for g in self.crs_guesses[:5]
            ],
            "total": self.total,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "merged": self.merged,
            "columns": self.columns,
            "unmapped_columns": self.unmapped_columns,
            "ids": self.ids,
            "user": self.user,
            "at": self.at,
            "problems": [p.as_dict(lang) for p in self.problems],
        }
        if with_features:
            body["features"] = self.features[:PREVIEW_MAX_FEATURES]
        return body


# ----------------------------------------------------------------------------- helpers
def working_area(store: GeoJSONStore) -> BaseGeometry | None:
    """The county polygon(s) from the boundaries layer, or None when none is loaded."""
    if "boundaries" not in store.specs:
        return None
    frame = store.frame("boundaries")
    county = frame[frame["level"] == "county"] if "level" in frame else frame.iloc[0:0]
    if county.empty:
        return None
    return shapely.union_all(county.geometry.values)


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
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _map_columns(
    spec: LayerSpec, columns: list[str], column_map: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Which file column feeds which field; and the columns left unused."""
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
    gdf: gpd.GeoDataFrame, choice: CrsChoice, crs_source: str, area: BaseGeometry | None
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


# ---------------------------------------------------------------------------- pipeline
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
    cannot be read at all, :class:`NotFound` for an unknown layer. Row-level problems go in
    the report: rows with errors are rejected, the others accepted and committed together.
    """
    say = progress or (lambda _msg: None)
    spec = store.spec(options.layer)
    if options.on_duplicate not in DUPLICATE_ACTIONS:
        raise BadRequest("bad_upload_option", field="duplicates", value=options.on_duplicate)
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
    )
    choice = parse_crs(options.crs or "auto")
    try:
        read = read_upload(
            data, filename, max_bytes=max_bytes, encoding=options.encoding, layer=options.layer
        )
    except InputError as exc:
        if any(p.code == "too_large" for p in exc.problems):
            raise TooLarge(limit_mb=max_bytes // (1024 * 1024)) from exc
        raise ValidationFailed(exc.problems) from exc
    say(f"read {len(read.gdf)} row(s) as {read.format}")
    report.format, report.columns = read.format, list(read.columns)
    report.crs_source = read.crs_source
    report.problems.extend(read.problems)
    rejected_rows = {p.row for p in read.problems if p.severity == "error" and p.row is not None}
    report.total = len(read.gdf) + len(rejected_rows)
    if report.total == 0:
        raise ValidationFailed([Problem("upload_empty")])
    area = working_area(store)
    gdf = read.gdf
    if spec.spatial and len(gdf):
        choice, report.crs_guesses, notes = _choose_crs(gdf, choice, read.crs_source, area)
        report.problems.extend(notes)
        if report.crs_guesses and report.crs_guesses[0].swapped and options.crs == "auto":
            gdf = _swap_xy(gdf)
            report.problems.append(Problem("crs_swapped", value=choice.label, severity="warning"))
        try:
            gdf = to_wgs84(
                gdf
                if gdf.crs is not None or choice.kind != "epsg"
                else gdf.set_crs(f"EPSG:{choice.epsg}"),
                choice,
            )
        except InputError as exc:
            raise ValidationFailed(exc.problems) from exc
        gdf = gdf.copy()
        gdf.geometry = gpd.GeoSeries(
            [_single_part(g, spec) for g in gdf.geometry.values], crs="EPSG:4326"
        )
        report.crs_label = choice.label
        say(f"coordinates read as {choice.label}")
    mapping, report.unmapped_columns = _map_columns(
        spec, [str(c) for c in gdf.columns if c != gdf.geometry.name], options.column_map
    )
    rows = list(read.rows) if read.rows else list(range(1, len(gdf) + 1))
    problems_by_row: dict[int, list[Problem]] = {}
    geometry_problems: list[Problem] = []
    if spec.spatial and len(gdf):
        existing = store.frame(options.layer)
        geometry_problems = validate_geometries(
            gdf,
            allowed_types=spec.geometry,
            area=area,
            margin_m=options.margin_m,
            existing=existing if len(existing) else None,
            duplicate_distance_m=spec.duplicate_distance_m or None,
            rows=rows,
        )
    for problem in geometry_problems:
        problems_by_row.setdefault(problem.row or 0, []).append(problem)
    defaults, default_problems = validate_properties(spec, options.defaults, None, partial=True)
    if any(p.severity == "error" for p in default_problems):
        raise ValidationFailed(default_problems)
    changes: list[Change] = []
    records = gdf.drop(columns=gdf.geometry.name).to_dict("records") if len(gdf) else []
    geoms = list(gdf.geometry.values) if len(gdf) else []
    for index, (row, record) in enumerate(zip(rows, records, strict=True)):
        props = {target: _plain(record.get(column)) for column, target in mapping.items()}
        for key, value in defaults.items():
            if props.get(key) in (None, ""):
                props[key] = value
        clean, found = validate_properties(spec, props, row)
        found = [p for p in found if p.code != "computed_field"]
        row_problems = problems_by_row.get(row, []) + found
        report.problems.extend(row_problems)
        if any(p.severity == "error" for p in row_problems):
            rejected_rows.add(row)
            continue
        duplicate = next((p for p in row_problems if p.code.startswith("duplicate_")), None)
        if duplicate is not None and options.on_duplicate == "skip":
            report.skipped += 1
            continue
        geometry = geoms[index] if spec.spatial else None
        if (
            duplicate is not None
            and options.on_duplicate == "merge"
            and duplicate.code == "duplicate_existing"
        ):
            target_id = str(duplicate.params.get("existing_id"))
            changes.append(Change("update", id=target_id, properties=clean, row=row))
            report.merged += 1
            continue
        changes.append(Change("create", geometry=geometry, properties=clean, row=row))
    report.rejected = len(rejected_rows)
    report.problems.sort(key=lambda p: (p.row or 0, p.field or ""))
    upload_id = _new_upload_id()
    source = f"upload:{upload_id}"
    say(f"checked: {len(changes)} to write, {report.rejected} rejected, {report.skipped} skipped")
    result = (
        store.commit(options.layer, changes, user=user, source=source, dry_run=True)
        if changes
        else None
    )
    if result is not None:
        report.features = result.features
    report.accepted = len(changes)
    if options.dry_run or not changes:
        report.status = "preview" if options.dry_run else "nothing_to_write"
        return report
    log = UploadLog(store.data_dir)
    report.upload_id = upload_id
    log.begin(report, data)
    committed = store.commit(
        options.layer, changes, user=user, source=source, idempotency_key=options.idempotency_key
    )
    report.ids = committed.ids
    report.features = committed.features
    report.dry_run = False
    report.status = "committed"
    log.finish(report)
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

    def _dir(self, upload_id: str) -> Path:
        if not _ID_RE.match(upload_id):
            raise NotFound("upload_not_found", value=upload_id)
        return self.root / upload_id

    def begin(self, report: UploadReport, data: bytes) -> None:
        """Keep the original and a pending record before the features are committed."""
        assert report.upload_id is not None
        folder = self._dir(report.upload_id)
        folder.mkdir(parents=True, exist_ok=False)
        atomic_write(folder / "original.bin", data)
        self._write(report, "pending")

    def finish(self, report: UploadReport) -> None:
        """Mark the upload committed, with the ids it created."""
        self._write(report, "committed")

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

    def mark(self, upload_id: str, **changes: Any) -> dict[str, Any]:
        """Update fields of an upload's record (e.g. after an undo)."""
        with self._lock:
            meta = self.get(upload_id)
            meta.update(changes)
            atomic_write(
                self._dir(upload_id) / "meta.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            )
        return meta

    def remove_pending_orphans(self) -> int:
        """Drop records of uploads that died before committing (no features exist)."""
        removed = 0
        for meta in self.list():
            if meta.get("status") == "pending":
                shutil.rmtree(self._dir(meta["upload_id"]), ignore_errors=True)
                removed += 1
        return removed


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


__all__ = [
    "SYSTEM_FIELDS",
    "UploadLog",
    "UploadOptions",
    "UploadReport",
    "check_locations",
    "run_upload",
    "undo_upload",
    "working_area",
]
