"""The durable GeoJSON store: one RFC 7946 FeatureCollection per layer in a data directory.

Layout of a data directory::

    layers/<layer>.geojson    current features (opens in QGIS as it is)
    journal/<layer>.geojsons  every change ever made, append-only (RFC 8142)
    locks/<layer>.lock        inter-process write lock
    specs/*.toml              the county's own layer declarations (optional)

Writing (:meth:`GeoJSONStore.commit`): take the layer's lock, catch up with records other
processes appended, validate every change (all or nothing), append one record holding all
of them and fsync it, apply it in memory, then rewrite the layer file atomically at once
(small layers) or by compaction (large ones). Only then is the change acknowledged.

Reading: each process keeps the parsed layer in memory plus a GeoDataFrame and an STRtree
built on demand; before each read it compares the journal's size with what it has applied
(one ``stat``) and reads only the new records. A layer file is never re-parsed unless the
process has never loaded it.

Start-up (first load of a layer): read the layer file, whose foreign members say the seq
and journal offset it reflects, then replay the journal from that offset.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from geo.metric import geodesic_area_m2, geodesic_length_m
from geo.problems import Problem, short_value
from layers.errors import Conflict, NotFound, ValidationFailed, VillageWorksError
from layers.journal import (
    InterProcessLock,
    Journal,
    atomic_write,
    crashpoint,
    iter_all_records,
    read_records,
    remove_stale_temp_files,
)
from layers.specs import SYSTEM_FIELDS, LayerSpec, SpecRegistry, validate_properties

log = logging.getLogger(__name__)

#: Layers up to this many features are rewritten on every commit; larger ones by compaction.
COMPACT_AT_ONCE_MAX_FEATURES = 2000
#: A large layer is compacted when this many journal bytes are not yet in its file.
COMPACT_PENDING_BYTES = 8 * 1024 * 1024
COMPACT_PENDING_RECORDS = 500
IDEMPOTENCY_KEYS_KEPT = 5000
COORD_DECIMALS = 7


def utc_now() -> str:
    """Current UTC time as ISO 8601 with seconds and a ``Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Change:
    """One change to one feature, as asked for by a form, an upload row or the API.

    ``op`` is ``create``, ``update`` (merge the given properties, optional geometry),
    ``replace`` (all properties and geometry), ``delete`` (soft) or ``restore``.
    ``geometry`` is a GeoJSON geometry mapping or a shapely geometry. ``if_version``
    makes the change conditional on the feature's current version. ``row`` is the
    user-visible row number used in problem reports.
    """

    op: str
    id: str | None = None
    geometry: Any = None
    properties: Mapping[str, Any] | None = None
    if_version: int | None = None
    row: int | None = None


@dataclass
class CommitResult:
    """What a commit did: the record's seq, and the features as they now are."""

    layer: str
    seq: int
    txn: str
    features: list[dict[str, Any]]
    replayed: bool = False
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """Ids of the changed features, in the order of the changes."""
        return [f["id"] for f in self.features]


@dataclass
class QueryResult:
    """A page of features and how many matched in all."""

    features: list[dict[str, Any]]
    number_matched: int


@dataclass
class _LayerState:
    spec: LayerSpec
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: int = 0
    offset: int = 0
    next_id: int = 1
    file_seq: int = 0
    file_offset: int = 0
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_seq: int = -1
    cache_frame: gpd.GeoDataFrame | None = None
    cache_ids: list[str] = field(default_factory=list)
    cache_tree: STRtree | None = None
    cache_geoms: np.ndarray | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, list | tuple):
        if coords and isinstance(coords[0], int | float) and not isinstance(coords[0], bool):
            return [round(float(c), COORD_DECIMALS) for c in coords[:2]]
        return [_round_coords(c) for c in coords]
    return coords


class GeoJSONStore:
    """Layers as GeoJSON files with a journal; safe for many processes and threads.

    >>> import tempfile
    >>> store = GeoJSONStore(Path(tempfile.mkdtemp()))
    >>> result = store.create("villages", {"type": "Point", "coordinates": [112.8, 39.5]},
    ...                       {"name": "白坊村", "township": "岱岳镇"}, user="demo")
    >>> store.get("villages", result.ids[0])["properties"]["name"]
    '白坊村'
    >>> store.count("streetlights")
    0
    """

    backend = "geojson"

    def __init__(
        self,
        data_dir: Path | str,
        specs: SpecRegistry | None = None,
        *,
        clock: Callable[[], str] = utc_now,
    ):
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.layers_dir = self.data_dir / "layers"
        self.journal_dir = self.data_dir / "journal"
        self.locks_dir = self.data_dir / "locks"
        for folder in (self.layers_dir, self.journal_dir, self.locks_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.specs = specs if specs is not None else SpecRegistry.load(self.data_dir / "specs")
        self._states: dict[str, _LayerState] = {}
        self._locks: dict[str, InterProcessLock] = {}
        self._guard = threading.Lock()
        remove_stale_temp_files(self.layers_dir)

    # ------------------------------------------------------------------ paths and state
    def layer_path(self, layer: str) -> Path:
        """The layer's GeoJSON file."""
        return self.layers_dir / f"{layer}.geojson"

    def journal(self, layer: str) -> Journal:
        """The layer's journal."""
        return Journal(self.journal_dir / f"{layer}.geojsons")

    def spec(self, layer: str) -> LayerSpec:
        """The spec of ``layer``; :class:`NotFound` for an unknown name."""
        spec = self.specs.get(layer)
        if spec is None:
            raise NotFound("unknown_layer", value=layer)
        return spec

    def _lock(self, layer: str) -> InterProcessLock:
        with self._guard:
            lock = self._locks.get(layer)
            if lock is None:
                lock = InterProcessLock(self.locks_dir / f"{layer}.lock")
                self._locks[layer] = lock
            return lock

    def _load(self, layer: str) -> _LayerState:
        state = _LayerState(spec=self.spec(layer))
        path = self.layer_path(layer)
        if path.exists():
            doc = orjson.loads(path.read_bytes())
            for feature in doc.get("features", []):
                state.features[str(feature["id"])] = feature
            state.seq = state.file_seq = int(doc.get("vw:seq", 0))
            state.offset = state.file_offset = int(doc.get("vw:journal_offset", 0))
            if state.offset > self.journal(layer).size():
                # The journal is not the one this file was compacted from (copied data,
                # a removed journal): replay it from its start, by seq, to miss nothing.
                state.offset = state.file_offset = 0
            state.idempotency = dict(doc.get("vw:idempotency", {}))
            state.next_id = int(doc.get("vw:next_id", 1))
            for fid in state.features:
                self._bump_next_id(state, fid)
        return state

    def _state(self, layer: str) -> _LayerState:
        """The layer's in-memory state, caught up with the journal."""
        state = self._states.get(layer)
        if state is None:
            with self._lock(layer), self._guard:
                state = self._states.get(layer)
                if state is None:
                    # Start-up: load the file, replay the journal, cut a torn tail a
                    # crashed writer left (we hold the lock, so nobody is appending).
                    state = self._load(layer)
                    records, end = read_records(self.journal(layer).path, state.offset)
                    for record in records:
                        if int(record["seq"]) > state.seq:
                            self._apply(state, record)
                    state.offset = end
                    self.journal(layer).repair_tail(end)
                    self._states[layer] = state
        with state.lock:
            size = self.journal(layer).size()
            if size < state.offset:
                # The journal shrank under us: the data directory was replaced. Start over.
                fresh = self._load(layer)
                self._states[layer] = fresh
                state = fresh
                size = self.journal(layer).size()
            if size > state.offset:
                records, end = read_records(self.journal(layer).path, state.offset)
                for record in records:
                    if int(record["seq"]) > state.seq:
                        self._apply(state, record)
                state.offset = end
        return state

    def _bump_next_id(self, state: _LayerState, fid: str) -> None:
        prefix = state.spec.id_prefix + "-"
        if fid.startswith(prefix) and fid[len(prefix) :].isdigit():
            state.next_id = max(state.next_id, int(fid[len(prefix) :]) + 1)

    def _apply(self, state: _LayerState, record: Mapping[str, Any]) -> None:
        for change in record.get("changes", []):
            fid = str(change["id"])
            if change["op"] == "put":
                state.features[fid] = change["feature"]
                self._bump_next_id(state, fid)
            elif change["op"] == "delete":
                state.features.pop(fid, None)
        key = record.get("idempotency_key")
        if key:
            state.idempotency[key] = {"seq": record["seq"], "ids": record.get("ids", [])}
        state.seq = int(record["seq"])

    # ------------------------------------------------------------------------- reads
    def layer_names(self) -> list[str]:
        """Every declared layer."""
        return self.specs.names()

    def version(self, layer: str) -> int:
        """The seq of the layer's last change (0 for a layer never written)."""
        return self._state(layer).seq

    def count(self, layer: str) -> int:
        """Live features in ``layer``."""
        return len(self._state(layer).features)

    def counts(self) -> dict[str, int]:
        """Live feature count of every layer."""
        return {name: self.count(name) for name in self.layer_names()}

    def features(self, layer: str) -> list[dict[str, Any]]:
        """Every live feature of ``layer`` (GeoJSON dicts; treat them as read-only)."""
        return list(self._state(layer).features.values())

    def get(self, layer: str, fid: str) -> dict[str, Any] | None:
        """One live feature, or None."""
        return self._state(layer).features.get(str(fid))

    def require(self, layer: str, fid: str) -> dict[str, Any]:
        """One live feature; :class:`NotFound` if it is absent or deleted."""
        feature = self.get(layer, fid)
        if feature is None:
            raise NotFound(what=self.spec(layer).label_in("zh"), value=fid)
        return feature

    def _cache(self, layer: str) -> _LayerState:
        state = self._state(layer)
        with state.lock:
            if state.cache_seq != state.seq:
                feats = list(state.features.values())
                state.cache_ids = [f["id"] for f in feats]
                state.cache_geoms = _geometries(feats)
                state.cache_frame = None
                state.cache_tree = None
                state.cache_seq = state.seq
        return state

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """Live features as a GeoDataFrame (EPSG:4326) with ``id`` and every field.

        Built once per layer version and shared: callers must not modify it in place.
        """
        state = self._cache(layer)
        with state.lock:
            if state.cache_frame is None:
                state.cache_frame = _frame(
                    state.spec, list(state.features.values()), state.cache_geoms
                )
            return state.cache_frame

    def _tree(self, state: _LayerState) -> STRtree:
        with state.lock:
            if state.cache_tree is None:
                geoms = state.cache_geoms if state.cache_geoms is not None else np.array([])
                state.cache_tree = STRtree(geoms)
            return state.cache_tree

    def bbox_ids(self, layer: str, bbox: tuple[float, float, float, float]) -> list[str]:
        """Ids of features whose geometry intersects ``bbox`` (lon/lat), from the STRtree."""
        state = self._cache(layer)
        if not state.spec.spatial or not state.cache_ids:
            return []
        tree = self._tree(state)
        hits = tree.query(shapely.box(*bbox), predicate="intersects")
        hits.sort()
        ids = state.cache_ids
        return [ids[i] for i in hits]

    def query(
        self,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        equals: Mapping[str, Any] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryResult:
        """Features matching a bbox, equality filters on properties and a date range.

        Dates compare on the layer's ``date_field`` (ISO text compares in date order).
        Equality filters compare as text, so ``?status=working`` and ``free=true`` work.
        """
        state = self._state(layer)
        if bbox is not None:
            candidates = [
                state.features[i] for i in self.bbox_ids(layer, bbox) if i in state.features
            ]
        else:
            candidates = list(state.features.values())
        date_field = state.spec.date_field
        wanted = {k: _as_text(v) for k, v in (equals or {}).items()}

        def keep(feature: Mapping[str, Any]) -> bool:
            props = feature.get("properties") or {}
            for key, value in wanted.items():
                actual = feature.get("id") if key == "id" else props.get(key)
                if _as_text(actual) != value:
                    return False
            if date_field and (date_from or date_to):
                day = props.get(date_field)
                if not day:
                    return False
                if date_from and str(day)[:10] < date_from:
                    return False
                if date_to and str(day)[:10] > date_to:
                    return False
            return True

        matched = (
            [f for f in candidates if keep(f)] if (wanted or date_from or date_to) else candidates
        )
        end = None if limit is None else offset + limit
        return QueryResult(matched[offset:end], len(matched))

    def extent(self, layer: str) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of the live features, or None for an empty or non-spatial layer."""
        state = self._cache(layer)
        geoms = state.cache_geoms
        if geoms is None or len(geoms) == 0:
            return None
        bounds = shapely.total_bounds(geoms)
        if not np.all(np.isfinite(bounds)):
            return None
        return (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))

    def history(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """Every recorded change of one feature, oldest first: op, when, who, source, body."""
        self.spec(layer)
        entries: list[dict[str, Any]] = []
        for record in iter_all_records(self.journal(layer).path):
            for change in record.get("changes", []):
                if str(change["id"]) == str(fid):
                    entries.append(
                        {
                            "seq": record["seq"],
                            "op": change.get("action", change["op"]),
                            "at": record.get("at"),
                            "by": record.get("by"),
                            "source": record.get("source"),
                            "feature": change.get("feature"),
                        }
                    )
        current = self.get(layer, fid)
        if not entries and current is not None:
            props = current.get("properties", {})
            entries.append(
                {
                    "seq": 0,
                    "op": "create",
                    "at": props.get("created_at"),
                    "by": props.get("created_by"),
                    "source": props.get("source"),
                    "feature": current,
                }
            )
        return entries

    def records(self, layer: str) -> list[dict[str, Any]]:
        """Every journal record of ``layer`` (the full audit trail)."""
        self.spec(layer)
        return list(iter_all_records(self.journal(layer).path))

    # ------------------------------------------------------------------------ writes
    def create(
        self,
        layer: str,
        geometry: Any,
        properties: Mapping[str, Any],
        *,
        user: str,
        source: str = "form",
        idempotency_key: str | None = None,
    ) -> CommitResult:
        """Add one feature."""
        change = Change("create", geometry=geometry, properties=properties)
        return self.commit(
            layer, [change], user=user, source=source, idempotency_key=idempotency_key
        )

    def update(
        self,
        layer: str,
        fid: str,
        *,
        user: str,
        properties: Mapping[str, Any] | None = None,
        geometry: Any = None,
        if_version: int | None = None,
        source: str = "form",
    ) -> CommitResult:
        """Change some properties (and/or the geometry) of one feature."""
        change = Change(
            "update", id=fid, geometry=geometry, properties=properties or {}, if_version=if_version
        )
        return self.commit(layer, [change], user=user, source=source)

    def delete(
        self,
        layer: str,
        fid: str,
        *,
        user: str,
        if_version: int | None = None,
        source: str = "form",
    ) -> CommitResult:
        """Soft-delete one feature (its history stays in the journal)."""
        return self.commit(
            layer, [Change("delete", id=fid, if_version=if_version)], user=user, source=source
        )

    def restore(self, layer: str, fid: str, *, user: str, source: str = "form") -> CommitResult:
        """Bring back a deleted feature as it was before its deletion."""
        return self.commit(layer, [Change("restore", id=fid)], user=user, source=source)

    def undo_source(self, layer: str, source: str, *, user: str) -> CommitResult | None:
        """Soft-delete every live feature created by ``source`` (e.g. ``upload:U-...``)."""
        with self._lock(layer):
            ids = [
                fid
                for fid, f in self._state(layer).features.items()
                if (f.get("properties") or {}).get("source") == source
            ]
            if not ids:
                return None
            changes = [Change("delete", id=fid) for fid in ids]
            return self.commit(layer, changes, user=user, source=f"undo:{source}")

    def commit(
        self,
        layer: str,
        changes: Iterable[Change],
        *,
        user: str,
        source: str,
        idempotency_key: str | None = None,
        dry_run: bool = False,
        extra_properties: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Apply ``changes`` to ``layer`` all together or not at all.

        Raises :class:`ValidationFailed` with every problem found (nothing written),
        :class:`Conflict` when an ``if_version`` does not match, :class:`NotFound` for a
        missing feature. Returns once the change is durable on disk. With the same
        ``idempotency_key`` a second call writes nothing and returns the first result.
        ``extra_properties`` sets system properties such as ``demo`` on created features.
        """
        self.spec(layer)
        changes = list(changes)
        with self._lock(layer):
            journal = self.journal(layer)
            state = self._state(layer)
            journal.repair_tail(state.offset)
            if idempotency_key and idempotency_key in state.idempotency:
                ids = state.idempotency[idempotency_key]["ids"]
                feats = [state.features[i] for i in ids if i in state.features]
                return CommitResult(
                    layer, int(state.idempotency[idempotency_key]["seq"]), "", feats, replayed=True
                )
            now = self.clock()
            entries, warnings = self._prepare(
                state, changes, user=user, source=source, now=now, extra=extra_properties or {}
            )
            txn = uuid.uuid4().hex
            record: dict[str, Any] = {
                "seq": state.seq + 1,
                "txn": txn,
                "layer": layer,
                "at": now,
                "by": user,
                "source": source,
                "changes": entries,
                "ids": [e["id"] for e in entries],
            }
            if idempotency_key:
                record["idempotency_key"] = idempotency_key
            feats = [e["feature"] for e in entries]
            if dry_run:
                return CommitResult(layer, state.seq, "", feats, warnings=warnings)
            with state.lock:
                crashpoint("commit_before_append")
                state.offset = journal.append(record)
                crashpoint("commit_after_append")
                self._apply(state, record)
                self._trim_idempotency(state)
                if self._should_compact(state):
                    self._write_layer_file(layer, state)
            log.info(
                "commit %s seq=%s changes=%d by=%s source=%s",
                layer,
                record["seq"],
                len(entries),
                user,
                source,
            )
            return CommitResult(layer, record["seq"], txn, feats, warnings=warnings)

    def _prepare(
        self,
        state: _LayerState,
        changes: list[Change],
        *,
        user: str,
        source: str,
        now: str,
        extra: Mapping[str, Any],
    ) -> tuple[list[dict[str, Any]], list[Problem]]:
        spec = state.spec
        problems: list[Problem] = []
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        next_id = state.next_id
        for index, change in enumerate(changes, start=1):
            row = change.row if change.row is not None else index
            current = state.features.get(str(change.id)) if change.id is not None else None
            if change.op in ("update", "replace", "delete"):
                if current is None:
                    raise NotFound(what=spec.label_in("zh"), value=change.id)
                version = int(current["properties"].get("version", 1))
                if change.if_version is not None and change.if_version != version:
                    raise Conflict(current=version, expected=change.if_version)
            if change.op == "delete":
                entries.append(
                    {
                        "op": "delete",
                        "id": current["id"],  # type: ignore[index]
                        "feature": current,
                        "action": "delete",
                    }
                )
                continue
            if change.op == "restore":
                body = self._last_body(spec.name, str(change.id)) if current is None else None
                if body is None:
                    raise (
                        NotFound("not_deleted")
                        if current is not None
                        else NotFound(what=spec.label_in("zh"), value=change.id)
                    )
                props = dict(body["properties"])
                props.update(
                    updated_at=now, updated_by=user, version=int(props.get("version", 1)) + 1
                )
                feature = {
                    "type": "Feature",
                    "id": body["id"],
                    "geometry": body["geometry"],
                    "properties": props,
                }
                entries.append(
                    {"op": "put", "id": body["id"], "feature": feature, "action": "restore"}
                )
                continue
            if change.op not in ("create", "update", "replace"):
                raise VillageWorksError("bad_request", value=f"unknown op {change.op!r}")
            partial = change.op == "update"
            props, found = validate_properties(spec, change.properties or {}, row, partial=partial)
            problems.extend(found)
            geometry = change.geometry
            if geometry is None and change.op == "update" and current is not None:
                geometry = current.get("geometry")
            geom_json, geom_problems = self._check_geometry(spec, geometry, row)
            problems.extend(geom_problems)
            problems.extend(self._check_refs(spec, props, row))
            if change.op == "create":
                fid = str(change.id) if change.id else f"{spec.id_prefix}-{next_id:06d}"
                if change.id is None:
                    next_id += 1
                if fid in state.features or fid in seen:
                    problems.append(Problem("id_taken", row=row, field="id", value=fid))
                base: dict[str, Any] = {
                    "created_at": now,
                    "created_by": user,
                    "version": 1,
                    "source": source,
                }
                base.update({k: v for k, v in extra.items() if k in SYSTEM_FIELDS})
            else:
                assert current is not None
                fid = current["id"]
                old = current["properties"]
                base = {k: old[k] for k in SYSTEM_FIELDS if k in old}
                base["version"] = int(old.get("version", 1)) + 1
                if partial:
                    merged = {k: v for k, v in old.items() if k not in SYSTEM_FIELDS}
                    merged.update(props)
                    props = {k: v for k, v in merged.items() if v is not None}
            seen.add(fid)
            base.update(updated_at=now, updated_by=user)
            if change.op != "create":
                base.setdefault("source", source)
            props = self._computed(spec, props, geom_json)
            ordered = {f.name: props[f.name] for f in spec.fields if f.name in props}
            ordered.update({k: base[k] for k in SYSTEM_FIELDS if k in base})
            feature = {"type": "Feature", "id": fid, "geometry": geom_json, "properties": ordered}
            entries.append({"op": "put", "id": fid, "feature": feature, "action": change.op})
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise ValidationFailed(problems)
        return entries, [p for p in problems if p.severity != "error"]

    def _check_geometry(
        self, spec: LayerSpec, geometry: Any, row: int
    ) -> tuple[dict[str, Any] | None, list[Problem]]:
        if not spec.spatial:
            return None, []
        if geometry is None:
            return None, [Problem("geometry_missing", row=row, params={"row": row})]
        try:
            geom = (
                geometry
                if isinstance(geometry, BaseGeometry)
                else shapely.from_geojson(orjson.dumps(geometry))
            )
        except (shapely.errors.GEOSException, TypeError, ValueError, orjson.JSONEncodeError) as exc:
            return None, [
                Problem("bad_geometry", row=row, value=short_value(str(exc)), params={"row": row})
            ]
        params = {
            "row": row,
            "layer": spec.label_in("zh"),
            "layer_en": spec.label_in("en"),
            "allowed": "/".join(spec.geometry),
        }
        if geom is None or geom.is_empty:
            return None, [Problem("geometry_missing", row=row, params={"row": row})]
        if geom.geom_type not in spec.geometry:
            return None, [Problem("geometry_type", row=row, value=geom.geom_type, params=params)]
        coords = shapely.get_coordinates(geom)
        if not np.all(np.isfinite(coords)):
            return None, [
                Problem("not_finite", row=row, value=short_value(geom.wkt), params={"row": row})
            ]
        if geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            return None, [Problem("bad_geometry", row=row, value=reason, params={"row": row})]
        mapping = orjson.loads(shapely.to_geojson(geom))
        mapping["coordinates"] = _round_coords(mapping["coordinates"])
        return mapping, []

    def _check_refs(self, spec: LayerSpec, props: Mapping[str, Any], row: int) -> list[Problem]:
        problems: list[Problem] = []
        for fspec in spec.fields:
            value = props.get(fspec.name)
            if fspec.type != "ref" or value in (None, "") or fspec.ref_layer not in self.specs:
                continue
            if fspec.ref_layer == spec.name:
                continue
            assert fspec.ref_layer is not None
            if self.get(fspec.ref_layer, str(value)) is None:
                problems.append(
                    Problem(
                        "ref_missing",
                        row=row,
                        field=fspec.name,
                        value=short_value(value),
                        params={
                            "row": row,
                            "label": fspec.label_in("zh"),
                            "label_en": fspec.label_in("en"),
                            "layer": self.spec(fspec.ref_layer).label_in("zh"),
                            "layer_en": self.spec(fspec.ref_layer).label_in("en"),
                        },
                    )
                )
        return problems

    @staticmethod
    def _computed(spec: LayerSpec, props: dict[str, Any], geom_json: Any) -> dict[str, Any]:
        props = dict(props)
        for fspec in spec.fields:
            if not fspec.computed or geom_json is None:
                continue
            geom = shapely.geometry.shape(geom_json)
            if fspec.computed == "length_m" and geom.geom_type in ("LineString", "MultiLineString"):
                props[fspec.name] = round(geodesic_length_m(geom), 2)
            elif fspec.computed == "area_m2" and geom.geom_type in ("Polygon", "MultiPolygon"):
                props[fspec.name] = round(geodesic_area_m2(geom), 2)
            elif fspec.computed == "area_m2" and fspec.name in props:
                pass
        return props

    def _last_body(self, layer: str, fid: str) -> dict[str, Any] | None:
        body: dict[str, Any] | None = None
        for record in iter_all_records(self.journal(layer).path):
            for change in record.get("changes", []):
                if str(change["id"]) == fid:
                    body = change.get("feature") if change["op"] in ("put", "delete") else body
        return body

    def _trim_idempotency(self, state: _LayerState) -> None:
        excess = len(state.idempotency) - IDEMPOTENCY_KEYS_KEPT
        if excess > 0:
            for key in list(state.idempotency)[:excess]:
                del state.idempotency[key]

    def _should_compact(self, state: _LayerState) -> bool:
        if len(state.features) <= COMPACT_AT_ONCE_MAX_FEATURES:
            return True
        pending_bytes = state.offset - state.file_offset
        pending_records = state.seq - state.file_seq
        return pending_bytes >= COMPACT_PENDING_BYTES or pending_records >= COMPACT_PENDING_RECORDS

    def _write_layer_file(self, layer: str, state: _LayerState) -> None:
        doc = {
            "type": "FeatureCollection",
            "name": layer,
            "vw:seq": state.seq,
            "vw:journal_offset": state.offset,
            "vw:next_id": state.next_id,
            "vw:idempotency": state.idempotency,
            "features": list(state.features.values()),
        }
        atomic_write(self.layer_path(layer), orjson.dumps(doc))
        state.file_seq, state.file_offset = state.seq, state.offset

    def compact(self, layer: str) -> bool:
        """Write the layer file from the journal now; True if it was behind."""
        with self._lock(layer):
            state = self._state(layer)
            if state.file_seq == state.seq and self.layer_path(layer).exists():
                return False
            with state.lock:
                self._write_layer_file(layer, state)
            return True

    def pending(self, layer: str) -> int:
        """Journal records not yet compacted into the layer file."""
        state = self._state(layer)
        if not self.layer_path(layer).exists():
            return state.seq
        doc_seq = _peek_seq(self.layer_path(layer))
        return state.seq - doc_seq


def _peek_seq(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(512)
    match = re.search(rb'"vw:seq":\s*(\d+)', head)
    return int(match.group(1)) if match else 0


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _geometries(features: list[dict[str, Any]]) -> np.ndarray:
    """Shapely geometries of ``features`` (None where a feature has none), vectorised."""
    if not features:
        return np.array([], dtype=object)
    geoms = [f.get("geometry") for f in features]
    if all(g is not None and g.get("type") == "Point" for g in geoms):
        coords = np.array([g["coordinates"][:2] for g in geoms], dtype=np.float64)  # type: ignore[index]
        return np.asarray(shapely.points(coords), dtype=object)
    texts = np.array(
        [orjson.dumps(g).decode() if g is not None else None for g in geoms], dtype=object
    )
    out = np.full(len(texts), None, dtype=object)
    mask = np.array([t is not None for t in texts])
    if mask.any():
        out[mask] = shapely.from_geojson(texts[mask])
    return out


def _frame(
    spec: LayerSpec, features: list[dict[str, Any]], geoms: np.ndarray | None
) -> gpd.GeoDataFrame:
    columns = ["id", *spec.field_names, *SYSTEM_FIELDS]
    rows = [{"id": f["id"], **(f.get("properties") or {})} for f in features]
    frame = (
        gpd.GeoDataFrame(
            rows,
            columns=columns,
            geometry=gpd.GeoSeries(geoms if geoms is not None else [], crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        if rows
        else gpd.GeoDataFrame(
            {c: [] for c in columns}, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326"
        )
    )
    for fspec in spec.fields:
        if fspec.type in ("number",) and fspec.name in frame:
            frame[fspec.name] = frame[fspec.name].astype(float)
    return frame


def finite_or_none(value: Any) -> Any:
    """``value``, or None where it is a NaN or infinite float (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
