"""The one change planner: any batch of changes, checked column by column.

Every write of the app (a form edit, an OGC API request, a phone capture, an upload of
100,000 rows, a ledger import) reaches ``Store.commit`` as a batch of changes, and
:func:`plan_changes` is what checks it and turns it into journal entries: a form edit is
a batch of one. The checks, in the order a row's problems are reported:

1. properties against the layer spec (types, enums, required fields, patterns), with
   :func:`layers.specs.check_rows`, each distinct value of a field once;
2. the geometry (present, of an allowed type, finite coordinates, not too many
   vertices, a valid polygon), with :mod:`geo.validate`;
3. the location (:mod:`layers.locations`: inside the working area plus a margin, not at
   (0, 0), not with swapped axes; duplicates as warnings);
4. references to features of other layers, each distinct one looked up once;
5. ids: a new id must be free.

Then who writes (the author, :class:`~layers.changes.Author`: a plain user name is a
trusted writer): a scoped account writes only inside its areas (:mod:`layers.scopes`,
403 naming them and the township; an upload's rows outside them are rejected row by
row), and every write of a work layer gets its review state (:func:`layers.review.
review_system`: a field account's work is ``submitted``, a planner's ``approved`` or its
decision; a field account sending ``review`` gets 403).

Computed fields (a pipe's length, a greenhouse's area) are then filled from the geometry.
One :class:`~layers.bulk.Creates` of points into a layer without computed fields becomes a
:class:`~layers.bulk.Block` (checked the same way, written from per-value fragments);
anything else becomes one entry (``op``, ``id``, ``feature``, ``action``) per change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from geo.metric import geodesic_area_m2, geodesic_length_m
from geo.problems import Problem, short_value
from geo.safety import MAX_FEATURE_VERTICES
from geo.validate import check_finite, check_geometry_types, check_vertex_count
from layers.bulk import (
    COORD_DECIMALS,
    Block,
    Creates,
    created_system,
    expand,
    fits_block,
    render_texts,
    round_coords,
    round_like_python,
)
from layers.changes import Author, Change, author_of
from layers.errors import Conflict, NotFound, ValidationFailed, VillageWorksError
from layers.evidence import evidence_problems
from layers.locations import LocatedStore, checks_locations, location_problems
from layers.photos import PhotoStore
from layers.report_rules import report_problems
from layers.review import (
    APPROVED,
    REVIEW_FIELD,
    REVIEW_OVERRIDE_FIELD,
    SUBMITTED,
    review_of,
    review_system,
)
from layers.scopes import TOWNSHIP_FIELD, OutsideAreas, outside_problems
from layers.site_files import SiteFiles
from layers.specs import SYSTEM_FIELDS, CodedColumn, LayerSpec, check_rows, checked_columns

_WRITES = ("create", "update", "replace")


class PlannedStore(LocatedStore, Protocol):
    """What the planner reads from a store besides the changes' own features."""

    data_dir: Path

    @property
    def files(self) -> SiteFiles: ...  # photos (evidence rules), layers.site_files

    def spec(self, layer: str) -> LayerSpec: ...

    def get(self, layer: str, fid: str) -> dict[str, Any] | None: ...

    def _last_body(self, layer: str, fid: str) -> dict[str, Any] | None: ...


def plan_changes(
    store: PlannedStore,
    spec: LayerSpec,
    changes: Sequence[Any],
    *,
    current_features: Mapping[str, Any],
    next_id: int,
    user: str,
    source: str,
    now: str,
    extra: Mapping[str, Any],
) -> tuple[list[dict[str, Any]] | Block, list[Problem]]:
    """Check ``changes`` and build what the commit writes: a :class:`Block` for one
    :class:`Creates` of points (see :func:`~layers.bulk.fits_block`), else the entries.

    ``current_features`` maps ids to live features (at least every id the changes
    name); ``next_id`` is the layer's next free number. Raises :class:`NotFound`,
    :class:`Conflict`, :class:`ValidationFailed` (every problem),
    :class:`~layers.scopes.OutsideAreas` or ``Forbidden`` (403); returns the entries and
    the warnings. ``user`` is the author (:class:`~layers.changes.Author`, or a trusted
    writer's name).
    """
    author = author_of(user)
    if fits_block(spec, changes):
        review, found = review_system(author, spec, None, None, 0)
        system = created_system(now, author.name, source, extra, review=review)
        block, problems = prepare_block(
            store, spec, changes[0], current_features=current_features, next_id=next_id,
            system=system, author=author,
        )  # fmt: skip
        return block, _warnings_or_raise(found + problems)
    planner = _Planner(store, spec, current_features, author, source, now, extra)
    return planner.plan(expand(list(changes)), next_id)


def _warnings_or_raise(problems: list[Problem]) -> list[Problem]:
    """The warnings of ``problems``; 403 when a row is outside the author's areas, else
    422 when any is an error (both carry every problem)."""
    if any(p.code == "outside_areas" for p in problems):
        raise OutsideAreas([p for p in problems if p.severity == "error"])
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    return [p for p in problems if p.severity != "error"]


@dataclass
class _Write:
    """One create, update or replace as it goes through the checks."""

    position: int
    change: Change
    row: int
    current: dict[str, Any] | None
    props: dict[str, Any] = field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    #: The review properties the write leaves (``review_comment`` None: removed).
    review: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Planner:
    """The checks of one batch of single changes (lock held by the caller)."""

    store: PlannedStore
    spec: LayerSpec
    current_features: Mapping[str, Any]
    author: Author
    source: str
    now: str
    extra: Mapping[str, Any]

    @property
    def user(self) -> str:
        """The author's name, as the audit properties record it."""
        return self.author.name

    def plan(
        self, changes: list[Change], next_id: int
    ) -> tuple[list[dict[str, Any]], list[Problem]]:
        """The entries of ``changes`` in their order, and the warnings."""
        entries: list[dict[str, Any] | None] = []
        writes: list[_Write] = []
        removed: list[tuple[int, dict[str, Any]]] = []
        for index, change in enumerate(changes, start=1):
            row = change.row if change.row is not None else index
            current = self._target(change)
            if change.op in _WRITES:
                writes.append(_Write(len(entries), change, row, current))
                entries.append(None)
            else:
                entry = self._removal(change, current)
                removed.append((row, entry["feature"]))
                entries.append(entry)
        self._check(writes)
        problems: list[Problem] = self._outside(writes, removed)
        seen: set[str] = set()
        for write in writes:
            entry, next_id = self._entry(write, next_id, seen)
            entries[write.position] = entry
            problems.extend(write.problems)
        done = [e for e in entries if e is not None]
        return done, _warnings_or_raise(problems)

    def _target(self, change: Change) -> dict[str, Any] | None:
        """The live feature a change names; NotFound or Conflict when it cannot apply."""
        if change.op not in (*_WRITES, "delete", "restore"):
            raise VillageWorksError("bad_request", value=f"unknown op {change.op!r}")
        current = self.current_features.get(str(change.id)) if change.id is not None else None
        if change.op in ("update", "replace", "delete"):
            if current is None:
                raise NotFound(what=self.spec.label_in("zh"), value=change.id)
            version = int(current["properties"].get("version", 1))
            if change.if_version is not None and change.if_version != version:
                raise Conflict(current=version, expected=change.if_version)
        return current

    def _outside(
        self, writes: list[_Write], removed: list[tuple[int, dict[str, Any]]]
    ) -> list[Problem]:
        """The review state of every write (its problems on the write), and the rows a
        scoped author may not touch: each feature before and after its change."""
        for write in writes:
            current = (write.current or {}).get("properties")
            write.review, found = review_system(
                self.author, self.spec, write.change.properties, current, write.row
            )
            write.problems.extend(found)
            write.problems.extend(self._evidence(write))
            write.problems.extend(
                report_problems(self.spec.name, write.props, current, write.row, self.now)
            )
        if not self.author.scoped:
            return []
        rows = [w.row for w in writes] + [row for row, _ in removed]
        states = [self._states(w) for w in writes]
        states += [[(f.get("geometry"), f.get("properties"))] for _, f in removed]
        return outside_problems(self.store, self.spec, self.author, states, rows)

    def _evidence(self, write: _Write) -> list[Problem]:
        """An approval of a submission that lacks its layer's evidence (photos, GPS
        accuracy; :mod:`layers.evidence`) needs an override reason: 422 without one."""
        rules = self.spec.evidence
        current = write.current
        if not rules.any or current is None or write.review.get(REVIEW_FIELD) != APPROVED:
            return []
        if review_of(current["properties"]) == APPROVED or write.review.get(REVIEW_OVERRIDE_FIELD):
            return []  # not a decision on a submission, or one with its reason
        props = {**current["properties"], **(write.change.properties or {})}
        photos = len(PhotoStore(self.store.files).for_feature(self.spec.name, str(current["id"])))
        lacking = evidence_problems(rules, props, photos)
        if not lacking:
            return []
        params = {
            "row": write.row,
            "title": current["id"],
            "problems": "；".join(p.message("zh") for p in lacking),
            "problems_en": "; ".join(p.message("en") for p in lacking),
        }
        return [
            Problem("evidence_override_needed", row=write.row, field=REVIEW_FIELD, params=params)
        ]

    def _states(self, write: _Write) -> list[tuple[Any, Mapping[str, Any] | None]]:
        """A write's feature as it is (if it is) and as the write leaves it."""
        after = dict(write.props)
        if write.current is not None and write.change.op == "update":
            after = {**write.current["properties"], **after}
        states: list[tuple[Any, Mapping[str, Any] | None]] = [(write.geometry, after)]
        if write.current is not None:
            current = write.current
            states.append((current.get("geometry"), current.get("properties")))
        return states

    def _removal(self, change: Change, current: dict[str, Any] | None) -> dict[str, Any]:
        """The entry of a delete or a restore."""
        if change.op == "delete":
            assert current is not None
            return {"op": "delete", "id": current["id"], "feature": current, "action": "delete"}
        body = self.store._last_body(self.spec.name, str(change.id)) if current is None else None
        if body is None:
            if current is not None:
                raise NotFound("not_deleted")
            raise NotFound(what=self.spec.label_in("zh"), value=change.id)
        props = dict(body["properties"])
        props.update(
            updated_at=self.now, updated_by=self.user, version=int(props.get("version", 1)) + 1
        )
        if self.spec.reviewed and self.author.role not in ("planner", "admin"):
            props[REVIEW_FIELD] = SUBMITTED  # brought back by a field account: to review
        feature = {"type": "Feature", "id": body["id"], "geometry": body["geometry"]}
        feature["properties"] = props
        return {"op": "put", "id": body["id"], "feature": feature, "action": "restore"}

    def _check(self, writes: list[_Write]) -> None:
        """Properties, geometry, location and references of every write, by columns."""
        for partial in (False, True):
            group = [w for w in writes if (w.change.op == "update") is partial]
            if not group:
                continue
            checked = check_rows(
                self.spec,
                [w.change.properties or {} for w in group],
                [w.row for w in group],
                partial=partial,
            )
            for write, (props, found) in zip(group, checked, strict=True):
                write.props, write.problems = props, found
        geometries = [_geometry_of(w) for w in writes]
        # The layer's vertex cap applies to geometries a write gives, not to one an update
        # keeps (a feature stored before the cap stays editable).
        capped = [w.change.geometry is not None for w in writes]
        shaped = check_geometries(self.spec, geometries, [w.row for w in writes], capped)
        for write, (geom, found) in zip(writes, shaped, strict=True):
            write.geometry = geom
            write.problems.extend(found)
        self._locations(writes)
        refs = References(self.store, self.spec)
        for write in writes:
            write.problems.extend(refs.problems(write.props, write.row))

    def _locations(self, writes: list[_Write]) -> None:
        """The location checks of every write that gives a new geometry.

        Every entry point of the app (form, OGC API, capture, upload, CLI import) names
        the margin of its settings (``margin_m``); a change without one (a script, a
        migration, a test fixture) is taken where it says it is.
        """
        if not checks_locations(self.spec):
            return
        todo = [
            w
            for w in writes
            if w.change.margin_m is not None
            and w.change.geometry is not None
            and not w.change.located
            and w.geometry is not None
        ]
        for margin in {float(w.change.margin_m or 0) for w in todo}:
            group = [w for w in todo if w.change.margin_m == margin]
            moved = {str(w.current["id"]) for w in group if w.current is not None}
            found = location_problems(
                self.store,
                self.spec,
                [w.geometry for w in group],
                list(range(1, len(group) + 1)),
                margin_m=margin,
                ignore_ids=moved,
            )
            for problem in found:
                write = group[int(problem.row or 1) - 1]
                params = {**problem.params, "row": write.row}
                write.problems.append(_with_row(problem, write.row, params))

    def _entry(self, write: _Write, next_id: int, seen: set[str]) -> tuple[dict[str, Any], int]:
        """The entry of a checked write (and the next free number)."""
        change, spec = write.change, self.spec
        if change.op == "create":
            fid = str(change.id) if change.id else f"{spec.id_prefix}-{next_id:06d}"
            if change.id is None:
                next_id += 1
            if fid in self.current_features or fid in seen:
                write.problems.append(Problem("id_taken", row=write.row, field="id", value=fid))
            seen.add(fid)
            props = computed_fields(spec, write.props, write.geometry)
            system = created_system(
                self.now, self.user, self.source, self.extra, review=write.review
            )
            props.update(system)
            feature = {"type": "Feature", "id": fid, "geometry": write.geometry}
            feature["properties"] = props
            return {"op": "put", "id": fid, "feature": feature, "action": "create"}, next_id
        assert write.current is not None
        fid = write.current["id"]
        seen.add(fid)
        feature = {"type": "Feature", "id": fid, "geometry": write.geometry}
        feature["properties"] = self._updated(write)
        return {"op": "put", "id": fid, "feature": feature, "action": change.op}, next_id

    def _updated(self, write: _Write) -> dict[str, Any]:
        """The properties of an updated or replaced feature, system ones last."""
        assert write.current is not None
        old = write.current["properties"]
        base: dict[str, Any] = {k: old[k] for k in SYSTEM_FIELDS if k in old}
        base["version"] = int(old.get("version", 1)) + 1
        props = write.props
        if write.change.op == "update":
            merged = {k: v for k, v in old.items() if k not in SYSTEM_FIELDS}
            merged.update(props)
            props = {k: v for k, v in merged.items() if v is not None}
        base.update(updated_at=self.now, updated_by=self.user)
        base.setdefault("source", self.source)
        for key, value in write.review.items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        props = computed_fields(self.spec, props, write.geometry)
        ordered = {f.name: props[f.name] for f in self.spec.fields if f.name in props}
        ordered.update({k: base[k] for k in SYSTEM_FIELDS if k in base})
        return ordered


def _geometry_of(write: _Write) -> Any:
    """The geometry a write leaves the feature with (an update may keep the old one)."""
    geometry = write.change.geometry
    if geometry is None and write.change.op == "update" and write.current is not None:
        return write.current.get("geometry")
    return geometry


def _with_row(problem: Problem, row: int | None, params: dict[str, Any]) -> Problem:
    return Problem(
        problem.code, row, problem.field, problem.value, params, problem.severity
    )  # fmt: skip


# ----------------------------------------------------------------------------- geometry
def check_geometries(
    spec: LayerSpec,
    geometries: Sequence[Any],
    rows: Sequence[int],
    capped: Sequence[bool] | None = None,
) -> list[tuple[dict[str, Any] | None, list[Problem]]]:
    """Each geometry as rounded GeoJSON (or None) with its problems.

    A finite point, the common case (a form, a GPS fix, an upload row), is taken without
    GEOS; every other geometry is parsed and checked by :mod:`geo.validate`, then for its
    vertex count (``spec.max_vertices`` for those ``capped`` says, default all; the safety
    cap of :mod:`geo.safety` for every one) and (a polygon) its validity.
    """
    if not spec.spatial:
        return [(None, []) for _ in geometries]
    out: list[tuple[dict[str, Any] | None, list[Problem]]] = [(None, [])] * len(geometries)
    slow: list[int] = []
    for i, geometry in enumerate(geometries):
        xy = _point_xy(geometry) if "Point" in spec.geometry else None
        if xy is not None and math.isfinite(xy[0]) and math.isfinite(xy[1]):
            rounded = [round(xy[0], COORD_DECIMALS), round(xy[1], COORD_DECIMALS)]
            out[i] = ({"type": "Point", "coordinates": rounded}, [])
        elif geometry is None:
            out[i] = (None, [Problem("geometry_missing", row=rows[i], params={"row": rows[i]})])
        else:
            slow.append(i)
    caps = [True] * len(geometries) if capped is None else list(capped)
    checked = _check_shapes(spec, [geometries[i] for i in slow], rows, slow, caps)
    for i, result in zip(slow, checked, strict=True):
        out[i] = result
    return out


def _check_shapes(
    spec: LayerSpec,
    geometries: list[Any],
    rows: Sequence[int],
    positions: list[int],
    caps: list[bool],
) -> list[tuple[dict[str, Any] | None, list[Problem]]]:
    """:func:`check_geometries` of the geometries that need GEOS."""
    out: list[tuple[dict[str, Any] | None, list[Problem]]] = []
    shapes: list[BaseGeometry | None] = []
    for geometry, i in zip(geometries, positions, strict=True):
        try:
            shape = (
                geometry
                if isinstance(geometry, BaseGeometry)
                else shapely.from_geojson(orjson.dumps(geometry))
            )
        except (shapely.errors.GEOSException, TypeError, ValueError, orjson.JSONEncodeError) as e:
            value = short_value(str(e))
            out.append(
                (None, [Problem("bad_geometry", row=rows[i], value=value, params=_at(rows[i]))])
            )
            shapes.append(None)
            continue
        out.append((None, []))
        shapes.append(shape)
    parsed = [k for k, s in enumerate(shapes) if s is not None]
    found = _structure_problems(
        spec,
        [shapes[k] for k in parsed],
        [rows[positions[k]] for k in parsed],
        [caps[positions[k]] for k in parsed],
    )
    for k, problems in zip(parsed, found, strict=True):
        out[k] = (None, problems) if problems else (_rounded_json(shapes[k]), [])
    return out


def _structure_problems(
    spec: LayerSpec, shapes: list[Any], rows: list[int], caps: list[bool]
) -> list[list[Problem]]:
    """The first structural problem of each parsed geometry (none: an empty list)."""
    if not shapes:
        return []
    series = gpd.GeoSeries(shapes)
    first: dict[int, Problem] = {}
    for problem in check_finite(series, rows=list(range(len(shapes)))):
        k = int(problem.row or 0)
        code = "geometry_missing" if problem.code == "geometry_empty" else "not_finite"
        value = None if code == "geometry_missing" else short_value(shapes[k].wkt)
        first[k] = Problem(code, row=rows[k], value=value, params=_at(rows[k]))
    allowed = set(spec.geometry)
    for problem in check_geometry_types(series, allowed, rows=list(range(len(shapes)))):
        k = int(problem.row or 0)
        params = {**_at(rows[k]), "layer": spec.label_in("zh"), "layer_en": spec.label_in("en")}
        params["allowed"] = "/".join(spec.geometry)
        first.setdefault(
            k, Problem("geometry_type", row=rows[k], value=problem.value, params=params)
        )
    capped = [k for k, cap in enumerate(caps) if cap]
    if capped and spec.max_vertices < MAX_FEATURE_VERTICES:
        for problem in check_vertex_count(series.iloc[capped], spec.max_vertices, rows=capped):
            k = int(problem.row or 0)
            params = {**problem.params, "row": rows[k]}
            first.setdefault(k, Problem(problem.code, rows[k], problem.field, None, params))
    out: list[list[Problem]] = []
    for k, shape in enumerate(shapes):
        found = first.get(k) or _shape_problem(shape, rows[k])
        out.append([found] if found is not None else [])
    return out


def _shape_problem(shape: Any, row: int) -> Problem | None:
    """Too many vertices, or an invalid polygon."""
    count = shapely.get_num_coordinates(shape)
    if count > MAX_FEATURE_VERTICES:
        params = {"row": row, "count": int(count), "limit": MAX_FEATURE_VERTICES}
        return Problem("too_many_vertices", row=row, params=params)
    if shape.geom_type in ("Polygon", "MultiPolygon") and not shape.is_valid:
        return Problem(
            "bad_geometry", row=row, value=shapely.is_valid_reason(shape), params=_at(row)
        )
    return None


def _at(row: int) -> dict[str, Any]:
    return {"row": row}


def _rounded_json(shape: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = orjson.loads(shapely.to_geojson(shape))
    mapping["coordinates"] = round_coords(mapping["coordinates"])
    return mapping


def _point_xy(geometry: Any) -> tuple[float, float] | None:
    """x and y of a non-empty Point (shapely, or a GeoJSON mapping with numeric
    coordinates), else None."""
    if isinstance(geometry, BaseGeometry):
        if isinstance(geometry, shapely.Point) and not geometry.is_empty:
            return float(geometry.x), float(geometry.y)
        return None
    if isinstance(geometry, Mapping) and geometry.get("type") == "Point":
        coords = geometry.get("coordinates")
        if (
            isinstance(coords, list | tuple)
            and len(coords) >= 2
            and type(coords[0]) in (int, float)
            and type(coords[1]) in (int, float)
        ):
            return float(coords[0]), float(coords[1])
    return None


def computed_fields(spec: LayerSpec, props: Mapping[str, Any], geom_json: Any) -> dict[str, Any]:
    """``props`` with the fields computed from the geometry filled in (length of a line,
    area of a polygon), in declaration order."""
    props = dict(props)
    if geom_json is None or not any(f.computed for f in spec.fields):
        return props
    geom = shapely.geometry.shape(geom_json)
    for fspec in spec.fields:
        if fspec.computed == "length_m" and geom.geom_type in ("LineString", "MultiLineString"):
            props[fspec.name] = round(geodesic_length_m(geom), 2)
        elif fspec.computed == "area_m2" and geom.geom_type in ("Polygon", "MultiPolygon"):
            props[fspec.name] = round(geodesic_area_m2(geom), 2)
    return {f.name: props[f.name] for f in spec.fields if f.name in props}


# --------------------------------------------------------------------------- references
class References:
    """Checks of references to features of other layers; each distinct one looked up once."""

    def __init__(self, store: PlannedStore, spec: LayerSpec) -> None:
        self.store, self.spec = store, spec
        self._found: dict[tuple[str, str], bool] = {}
        self._fields = [
            f
            for f in spec.fields
            if f.type == "ref" and f.ref_layer in store.specs and f.ref_layer != spec.name
        ]

    def exists(self, layer: str, value: Any) -> bool:
        """Whether feature ``value`` of ``layer`` exists."""
        key = (layer, str(value))
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self.store.get(layer, str(value)) is not None
        return found

    def problems(self, props: Mapping[str, Any], row: int) -> list[Problem]:
        """A problem for each reference of ``props`` to a feature that does not exist."""
        out = []
        for fspec in self._fields:
            value = props.get(fspec.name)
            if value not in (None, "") and not self.exists(str(fspec.ref_layer), value):
                out.append(self.problem(fspec.name, value, row))
        return out

    def problem(self, name: str, value: Any, row: int) -> Problem:
        """The ``ref_missing`` problem of field ``name``."""
        fspec = self.spec.field(name)
        assert fspec is not None and fspec.ref_layer is not None
        target = self.store.spec(fspec.ref_layer)
        params = {
            "row": row,
            "label": fspec.label_in("zh"),
            "label_en": fspec.label_in("en"),
            "layer": target.label_in("zh"),
            "layer_en": target.label_in("en"),
        }
        return Problem("ref_missing", row=row, field=name, value=short_value(value), params=params)


# ------------------------------------------------------------------------------ columns
def prepare_block(
    store: PlannedStore,
    spec: LayerSpec,
    creates: Creates,
    *,
    current_features: Mapping[str, Any],
    next_id: int,
    system: dict[str, Any],
    author: Author | None = None,
) -> tuple[Block, list[Problem]]:
    """Check ``creates`` column by column and build its :class:`Block`; the problems in
    row order, each row's in check order (the caller raises on errors). ``author``'s
    areas, when it is scoped, bound where the points may be."""
    rows = np.asarray(creates.rows, dtype=np.int64)
    found: list[tuple[int, int, Problem]] = []
    columns, prop_problems = checked_columns(spec, creates.properties, rows)
    found.extend((i, 0, p) for i, _, p in prop_problems)
    x, y = creates.x, creates.y
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y))).tolist()
    checked = check_geometries(spec, [shapely.Point(x[i], y[i]) for i in bad], rows[bad].tolist())
    for i, (_, problems) in zip(bad, checked, strict=True):
        found.extend((i, 1, p) for p in problems)
    found.extend(_block_locations(store, spec, creates, bad))
    found.extend(_block_references(store, spec, columns, rows))
    if author is not None and author.scoped:
        found.extend(_block_scope(store, spec, creates, columns, author))
    ids = [f"{spec.id_prefix}-{number:06d}" for number in range(next_id, next_id + len(rows))]
    taken = getattr(current_features, "taken", None)
    clash = taken(ids) if taken is not None else {f for f in ids if f in current_features}
    for i, fid in enumerate(ids) if clash else ():
        if fid in clash:
            found.append((i, 4, Problem("id_taken", row=int(rows[i]), field="id", value=fid)))
    found.sort(key=lambda item: (item[0], item[1]))
    problems = [p for _, _, p in found]
    if any(p.severity == "error" for p in problems):
        return Block(ids, x, y, columns, system, []), problems
    rx, ry = round_like_python(x, COORD_DECIMALS), round_like_python(y, COORD_DECIMALS)
    block = Block(ids, rx, ry, columns, system, [])
    block.texts = render_texts(spec, block, rx.tolist(), ry.tolist())
    return block, problems


def _block_locations(
    store: PlannedStore, spec: LayerSpec, creates: Creates, bad: list[int]
) -> list[tuple[int, int, Problem]]:
    """The location problems of creates not checked by their caller, on the arrays."""
    if creates.located or creates.margin_m is None or not checks_locations(spec):
        return []
    keep = np.ones(len(creates), dtype=bool)
    keep[bad] = False
    at = np.flatnonzero(keep)
    points = np.asarray(shapely.points(creates.x[at], creates.y[at]), dtype=object)
    found = location_problems(
        store, spec, points.tolist(), (at + 1).tolist(), margin_m=creates.margin_m
    )
    out = []
    for problem in found:
        i = int(at[int(problem.row or 1) - 1])
        row = int(creates.rows[i])
        out.append((i, 2, _with_row(problem, row, {**problem.params, "row": row})))
    return out


def _block_scope(
    store: PlannedStore,
    spec: LayerSpec,
    creates: Creates,
    columns: dict[str, CodedColumn],
    author: Author,
) -> list[tuple[int, int, Problem]]:
    """The rows a scoped author may not create: points outside its areas, or naming a
    township outside them."""
    named = columns.get(TOWNSHIP_FIELD)
    values = named.values().tolist() if named is not None else [None] * len(creates)
    points = np.asarray(shapely.points(creates.x, creates.y), dtype=object).tolist()
    states = [[(p, {TOWNSHIP_FIELD: v})] for p, v in zip(points, values, strict=True)]
    rows = [int(r) for r in creates.rows]
    found = outside_problems(store, spec, author, states, rows)
    position = {row: i for i, row in enumerate(rows)}
    return [(position[int(p.row or 0)], 5, p) for p in found]


def _block_references(
    store: PlannedStore, spec: LayerSpec, columns: dict[str, CodedColumn], rows: np.ndarray
) -> list[tuple[int, int, Problem]]:
    """References to features that do not exist, checked once per distinct value."""
    out: list[tuple[int, int, Problem]] = []
    refs = References(store, spec)
    for fspec in refs._fields:
        column = columns[fspec.name]
        missing = [
            code
            for code, value in enumerate(column.uniques)
            if value not in (None, "") and not refs.exists(str(fspec.ref_layer), value)
        ]
        for i in np.flatnonzero(np.isin(column.codes, missing)).tolist() if missing else ():
            value = column.uniques[int(column.codes[i])]
            out.append((i, 3, refs.problem(fspec.name, value, int(rows[i]))))
    return out


__all__ = [
    "References",
    "check_geometries",
    "computed_fields",
    "plan_changes",
    "prepare_block",
]
