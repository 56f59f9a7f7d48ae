"""The one upload pipeline behind the web page, the API and ``villageworks import``.

bytes -> ``geo.readers`` (any format) -> ``geo.crs`` (to WGS84; guessed when unknown)
-> fields mapped and checked against the layer spec -> ``geo.validate`` (finite, not
(0, 0), inside the working area plus a margin, swapped axes, duplicates) -> the store's
own checks (references, ids, the account's areas: rows outside them are rejected), as a
dry run -> a report with every problem per row.

On commit, every accepted row goes in ONE store commit (all or nothing), the original file
is kept under a generated name with its hash, and an audit record is written. A file with
rejected rows is committed only when the caller says so (``skip_rejected``: the web page
does after showing the preview); otherwise nothing is written. A dry run, or any error,
writes nothing at all.

Between preview and commit the web page keeps the file server-side in :class:`Staging`,
under a random token; the client never names a path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import CrsChoice, CrsGuess, parse_crs, to_wgs84
from geo.messages import register
from geo.problems import InputError, Problem
from geo.readers import ReadResult, read_upload
from layers.bulk import Creates
from layers.commit import CheckedPlan
from layers.errors import BadRequest, TooLarge, ValidationFailed
from layers.locations import (
    DEFAULT_MARGIN_M,
    MAX_MARGIN_M,
    location_problems,
    name_outside,
    working_area,
    working_area_name,
)
from layers.scopes import OutsideAreas
from layers.site_files import SiteFiles
from layers.specs import (
    SYSTEM_FIELDS,
    CodedColumn,
    LayerSpec,
    checked_columns,
    factorize,
    factorize_text,
    is_text,
    validate_properties,
)
from layers.staging import STAGING_TTL_S
from layers.staging import Staging as StagedFiles
from layers.store import Change, utc_now
from layers.store_base import BaseStore
from layers.upload_crs import (
    MULTI_TYPE_IDS,
    choose_crs,
    crs_key,
    guess_as_dict,
    single_part,
    swap_xy,
)
from layers.upload_log import UploadLog, undo_upload, upload_features_summary
from layers.upload_photos import attach_kmz_photos, read_kmz_photos

DUPLICATE_ACTIONS = ("skip", "keep", "merge")
PREVIEW_MAX_FEATURES = 2000
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

for _code, _zh, _en in (
    ("upload_empty", "文件中没有可导入的要素", "The file holds no features to import"),
    (
        "duplicate_skipped",
        "第 {row} 行与已有要素 {existing_id} 重复，已跳过",
        "Row {row} duplicates existing feature {existing_id}; skipped",
    ),
    (
        "bad_upload_option",
        "上传参数有误：{field} = {value}",
        "Bad upload option: {field} = {value}",
    ),
    (
        "upload_has_rejected_rows",
        "有 {count} 行不能导入，未写入任何内容。请先查看预览；若确认只导入其余 {accepted} 行，"
        "请选择“跳过有问题的行”",
        "{count} row(s) cannot be imported, so nothing was written. Look at the preview; to "
        "import only the other {accepted} row(s), choose 'skip rejected rows'",
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
    #: Sheet of an .xlsx workbook to read (None: the first with coordinate columns).
    sheet: str | None = None

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
    sheets: list[str] = field(default_factory=list)
    sheet: str | None = None
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
            "sheets": self.sheets,
            "sheet": self.sheet,
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


# ----------------------------------------------------------------------------- helpers
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


def _new_upload_id() -> str:
    return f"U-{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------- pipeline
@dataclass
class _Batch:
    """The rows of one upload as they move through the checks."""

    gdf: gpd.GeoDataFrame
    rows: list[int]
    rejected: set[int]
    changes: list[Any] = field(default_factory=list)
    #: The store's checked batch from the dry run, handed to the commit.
    plan: CheckedPlan | None = None


def _read(data: bytes, filename: str, options: UploadOptions, max_bytes: int) -> ReadResult:
    try:
        return read_upload(
            data,
            filename,
            max_bytes=max_bytes,
            encoding=options.encoding,
            layer=options.layer,
            sheet=options.sheet,
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
    store: BaseStore,
    spec: LayerSpec,
    gdf: gpd.GeoDataFrame,
    options: UploadOptions,
    report: UploadReport,
    rows: list[int] | None = None,
) -> gpd.GeoDataFrame:
    """``gdf`` read in the chosen (or guessed) CRS, converted to WGS84 single parts
    (``rows``: the file's row numbers, for the warnings)."""
    choice, report.crs_guesses, notes = choose_crs(
        gdf, _parse_choice(options.crs), working_area(store)
    )
    report.problems.extend(notes)
    swap = options.swap_xy
    if swap is None:
        swap = bool(report.crs_guesses and report.crs_guesses[0].swapped)
    if swap:
        gdf = swap_xy(gdf)
        report.problems.append(Problem("crs_swapped", value=choice.label, severity="warning"))
    report.swapped = swap
    try:
        declared = gdf.crs is not None or choice.kind != "epsg"
        gdf = to_wgs84(gdf if declared else gdf.set_crs(f"EPSG:{choice.epsg}"), choice)
    except InputError as exc:
        raise ValidationFailed(exc.problems) from exc
    gdf = gdf.copy()
    geoms = np.array(gdf.geometry.to_numpy(), dtype=object)
    for i in np.flatnonzero(np.isin(shapely.get_type_id(geoms), MULTI_TYPE_IDS)).tolist():
        parts = len(geoms[i].geoms)
        geoms[i], gap = single_part(geoms[i], spec)
        if gap is not None:
            row = rows[i] if rows else i + 1
            params = {"row": row, "parts": parts, "gap_m": f"{gap:.0f}"}
            report.problems.append(
                Problem("track_segments_joined", row=row, severity="warning", params=params)
            )
    gdf.geometry = gpd.GeoSeries(geoms, crs="EPSG:4326")
    report.crs_label, report.crs_key = choice.label, crs_key(choice)
    return gdf


def _geometry_problems(
    store: BaseStore, spec: LayerSpec, batch: _Batch, options: UploadOptions
) -> dict[int, list[Problem]]:
    """The location problems of every row (:mod:`layers.locations`), by row (0: the
    file's own), worded for a file."""
    if not spec.spatial or not len(batch.gdf):
        return {}
    found = location_problems(
        store, spec, list(batch.gdf.geometry.values), batch.rows, margin_m=options.margin_m
    )
    found = name_outside(found, working_area_name(store), len(batch.rows))
    by_row: dict[int, list[Problem]] = {}
    for problem in found:
        by_row.setdefault(problem.row or 0, []).append(problem)
    return by_row


def _check_rows(
    store: BaseStore,
    spec: LayerSpec,
    batch: _Batch,
    options: UploadOptions,
    report: UploadReport,
) -> None:
    """Turn each row into a change, or reject or skip it, noting every problem.

    Column by column: each distinct value of a column is checked once, and only rows with
    a problem are looked at one by one. The accepted rows of a point layer become one
    :class:`~layers.bulk.Creates`, which the store takes column by column too. The
    locations are checked here (the duplicates decide what a row becomes), so the
    changes go to the store marked as located.
    """
    mapping, report.unmapped_columns = map_columns(
        spec,
        [str(c) for c in batch.gdf.columns if c != batch.gdf.geometry.name],
        options.column_map,
    )
    report.mapping = mapping
    by_row = _geometry_problems(store, spec, batch, options)
    report.problems.extend(by_row.pop(0, []))
    values = _columns(spec, batch.gdf, mapping, options)
    checked, found = checked_columns(spec, values, batch.rows)
    by_position: dict[int, list[Problem]] = {}
    for position, _, problem in found:
        if problem.code != "computed_field":
            by_position.setdefault(position, []).append(problem)
    position_of = {row: i for i, row in enumerate(batch.rows)}
    for row, problems in by_row.items():
        by_position.setdefault(position_of[row], [])[:0] = problems
    left_out: set[int] = set()
    updates: dict[int, Change] = {}
    for position in sorted(by_position):
        row = batch.rows[position]
        outcome = _row_outcome(by_position[position], options, report)
        if outcome == "rejected":
            batch.rejected.add(row)
        if outcome in ("rejected", "skipped"):
            left_out.add(position)
        elif outcome.startswith("merge:"):
            props = {k: c.uniques[int(c.codes[position])] for k, c in values.items()}
            updates[position] = _merge(spec, outcome[6:], props, row)
    batch.changes = _changes(spec, batch, options, values, checked, left_out, updates)


def _columns(
    spec: LayerSpec, gdf: gpd.GeoDataFrame, mapping: Mapping[str, str], options: UploadOptions
) -> dict[str, CodedColumn]:
    """Each mapped column as its distinct values and a code per row, with the batch
    defaults filling its blanks (checked once per value, by the store as cheaply)."""
    defaults, default_problems = validate_properties(spec, options.defaults, None, partial=True)
    if any(p.severity == "error" for p in default_problems):
        raise ValidationFailed(default_problems)
    n = len(gdf)
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
    return values


def _row_outcome(problems: list[Problem], options: UploadOptions, report: UploadReport) -> str:
    """What a row with problems becomes: ``rejected``, ``skipped``, ``merge:<id>`` or
    ``kept``; its problems go in the report."""
    report.problems.extend(problems)
    if any(p.severity == "error" for p in problems):
        return "rejected"
    duplicate = next((p for p in problems if p.code.startswith("duplicate_")), None)
    if duplicate is None:
        return "kept"
    if options.on_duplicate == "skip":
        report.skipped += 1
        return "skipped"
    if options.on_duplicate == "merge" and duplicate.code == "duplicate_existing":
        report.merged += 1
        return "merge:" + str(duplicate.params.get("existing_id"))
    return "kept"


def _merge(spec: LayerSpec, target_id: str, props: Mapping[str, Any], row: int) -> Change:
    """The update merging a duplicate row into the feature it duplicates: only what the
    row says, no spec defaults over the existing values."""
    given, _ = validate_properties(spec, props, row, partial=True)
    given = {k: v for k, v in given.items() if v is not None}
    return Change("update", id=target_id, properties=given, row=row)


def _changes(
    spec: LayerSpec,
    batch: _Batch,
    options: UploadOptions,
    values: dict[str, CodedColumn],
    checked: dict[str, CodedColumn],
    left_out: set[int],
    updates: dict[int, Change],
) -> list[Any]:
    """The changes of the accepted rows: one :class:`Creates` for points, else one
    change per row (merges in the row's place)."""
    geoms = np.asarray(batch.gdf.geometry.to_numpy(), dtype=object)
    margin = options.margin_m
    if not updates and _points_only(spec, geoms):
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
        creates = Creates(batch.rows, x, y, values, margin_m=margin, located=True)
        left_rows = {batch.rows[i] for i in left_out}
        creates = creates.without(left_rows) if left_rows else creates
        return [creates] if len(creates) else []
    clean = {name: column.values() for name, column in checked.items()}
    changes: list[Any] = []
    for position in range(len(batch.gdf)):
        if position in updates:
            changes.append(updates[position])
        elif position not in left_out:
            props = {k: v[position] for k, v in clean.items() if v[position] is not None}
            geometry = geoms[position] if spec.spatial else None
            row = batch.rows[position]
            change = Change("create", geometry=geometry, properties=props, row=row)
            change.margin_m, change.located = margin, True
            changes.append(change)
    return changes


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
    store: BaseStore,
    batch: _Batch,
    options: UploadOptions,
    user: str,
    source: str,
    report: UploadReport,
) -> list[dict[str, Any]]:
    """Run the store's own checks (references, ids, the account's areas); rows it refuses
    become rejected rows."""
    for _ in range(_STORE_ROUNDS):
        if not batch.changes:
            return []
        try:
            result = store.commit(
                options.layer, batch.changes, user=user, source=source, dry_run=True
            )
        except (ValidationFailed, OutsideAreas) as exc:
            # Rows outside the account's areas are rejected row by row, like bad ones.
            errors = [p for p in exc.problems if p.severity == "error"]
            bad_rows = {p.row for p in errors if p.row is not None}
            if not bad_rows:
                raise
            report.problems.extend(errors)
            batch.rejected |= bad_rows
            batch.changes = _without_rows(batch.changes, bad_rows)
            continue
        batch.plan = result.plan
        return result.features
    raise ValidationFailed([p for p in report.problems if p.severity == "error"])


def run_upload(
    store: BaseStore,
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
    _check_options(options)
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
        UploadLog(store.files).recover(store)
    if options.idempotency_key and not options.dry_run:
        earlier = UploadLog(store.files).find_by_key(options.idempotency_key, user=user)
        if earlier is not None:  # a client retrying a request that already landed
            return _replayed(report, earlier)
    batch = _read_batch(store, spec, data, filename, options, max_bytes, report, say)
    kmz_photos, photo_problems = read_kmz_photos(data, report.format)  # KMZ photos (#16)
    report.problems.extend(photo_problems)
    _check_rows(store, spec, batch, options, report)
    upload_id = _new_upload_id()
    report.features = _store_dry_run(store, batch, options, user, f"upload:{upload_id}", report)
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
        counts = {"count": report.rejected, "accepted": report.accepted}
        raise ValidationFailed(
            report.problems + [Problem("upload_has_rejected_rows", params=counts)]
        )
    if not batch.changes:
        report.status = "nothing_to_write"
        return report
    done = _commit(store, batch, options, report, upload_id, data, say)
    at = {"layer": options.layer, "user": user}
    done.problems += attach_kmz_photos(store.files, kmz_photos, batch.changes, done.ids, **at)
    return done


def _check_options(options: UploadOptions) -> None:
    """400 for a duplicates policy or a margin the pipeline does not know."""
    if options.on_duplicate not in DUPLICATE_ACTIONS:
        raise BadRequest("bad_upload_option", field="duplicates", value=options.on_duplicate)
    if not 0 <= options.margin_m <= MAX_MARGIN_M:  # also refuses NaN and infinity
        raise BadRequest("bad_upload_option", field="margin_m", value=options.margin_m)


def _read_batch(
    store: BaseStore,
    spec: LayerSpec,
    data: bytes,
    filename: str,
    options: UploadOptions,
    max_bytes: int,
    report: UploadReport,
    say: Callable[[str], None],
) -> _Batch:
    """The file's rows, read and converted to WGS84 (the report notes format and CRS)."""
    read = _read(data, filename, options, max_bytes)
    say(f"read {len(read.gdf)} row(s) as {read.format}")
    report.format, report.columns = read.format, list(read.columns)
    report.sheets, report.sheet = list(read.sheets), read.sheet
    report.crs_source = read.crs_source
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
        batch.gdf = _to_wgs84(store, spec, batch.gdf, options, report, batch.rows)
        say(f"coordinates read as {report.crs_label}")
    return batch


def _replayed(report: UploadReport, earlier: Mapping[str, Any]) -> UploadReport:
    """The report of an upload that already landed under the same idempotency key."""
    for key in ("upload_id", "ids", "total", "accepted", "rejected", "skipped", "merged"):
        setattr(report, key, earlier.get(key, getattr(report, key)))
    report.crs_label, report.crs_key = earlier.get("crs", ""), earlier.get("crs_key", "")
    report.dry_run, report.status = False, "replayed"
    return report


def _commit(
    store: BaseStore,
    batch: _Batch,
    options: UploadOptions,
    report: UploadReport,
    upload_id: str,
    data: bytes,
    say: Callable[[str], None],
) -> UploadReport:
    """Keep the original, commit every accepted row at once, then finish the record."""
    log = UploadLog(store.files)
    report.upload_id = upload_id
    log.begin(report, data)
    try:
        # Scoped per user, as the OGC API and capture do: another user's key is not ours.
        key = f"upload:{report.user}:{options.idempotency_key}" if options.idempotency_key else None
        committed = store.commit(
            options.layer,
            batch.changes,
            user=report.user,
            source=f"upload:{upload_id}",
            idempotency_key=key,
            plan=batch.plan,
        )
        report.ids = committed.ids
        report.features = committed.features
        report.dry_run = False
        if committed.replayed:
            # The same request came before (a client retry): report that upload, not a new
            # one.
            log.discard(upload_id)
            earlier = log.find_by_key(options.idempotency_key or "", user=report.user)
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


# --------------------------------------------------------------------------- staging
class Staging(StagedFiles):
    """Uploaded files between preview and commit (:class:`layers.staging.Staging` under
    ``uploads/staging/`` of the site's files), each with the options last chosen for it."""

    def __init__(
        self, data_dir: SiteFiles | Path | str, ttl_s: float = STAGING_TTL_S, **kwargs: Any
    ):
        super().__init__(data_dir, "uploads/staging", ttl_s, **kwargs)

    def put(  # type: ignore[override]
        self, data: bytes, filename: str, options: UploadOptions, *, user: str
    ) -> str:
        """Keep ``data`` and its options for a later preview or commit; returns its token."""
        return super().put(data, filename, user=user, options=options.to_dict())

    def options(self, token: str, *, user: str) -> UploadOptions:
        """The options last chosen for the staged file."""
        return UploadOptions.from_dict(self.meta(token, user=user)["options"])


__all__ = [
    "SYSTEM_FIELDS",
    "guess_as_dict",
    "Staging",
    "UploadLog",
    "UploadOptions",
    "UploadReport",
    "crs_key",
    "map_columns",
    "run_upload",
    "undo_upload",
    "upload_features_summary",
    "working_area",
    "working_area_name",
]
