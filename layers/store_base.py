"""What every store backend shares: the change model, validation and feature building.

A backend (:class:`layers.store.GeoJSONStore`, :class:`layers.postgis.PostGISStore`)
subclasses :class:`BaseStore` and supplies persistence: reading live features, the
history, and ``commit`` (lock the layer, look up the features the changes touch, call
:meth:`BaseStore._prepare`, write everything in one durable step). Validation, ids,
version bumps, computed fields and audit properties are decided here, once, so both
backends turn the same changes into the same features.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely

from geo.problems import Problem
from layers.bulk import COORD_DECIMALS as COORD_DECIMALS
from layers.bulk import round_coords
from layers.changes import Change
from layers.changes import utc_now as utc_now  # re-exported: the stores and logs use it
from layers.commit import CheckedPlan, CommitResult, LayerWrite, run_commit
from layers.errors import NotFound
from layers.history import history_entries
from layers.planner import plan_changes
from layers.query import Query
from layers.query import page_positions as page_positions
from layers.report_links import follow_links
from layers.site_files import DirFiles, PgFiles, SiteFiles
from layers.specs import SYSTEM_FIELDS, LayerSpec, SpecRegistry

#: The name the backends import :func:`layers.bulk.round_coords` by.
_round_coords = round_coords
#: Idempotency keys a layer remembers (the GeoJSON store trims to this many).
IDEMPOTENCY_KEYS_KEPT = 5000
BBox = tuple[float, float, float, float]


@dataclass
class QueryResult:
    """A page of features and how many matched in all; ``version``: the layer's seq the
    page was read at, when the backend read it in the same step (None: not known)."""

    features: list[dict[str, Any]]
    number_matched: int
    version: int | None = None


@dataclass(eq=False)
class LayerDump:
    """Everything a backend holds about one layer, for moving it to another backend.

    ``live`` are the live features, ``deleted`` the last body of each soft-deleted one
    (what ``restore`` brings back), ``records`` the full history (journal records, oldest
    first), ``idempotency`` key -> ``{"seq", "ids"}``. Two backends holding equal dumps
    hold the same layer.
    """

    layer: str
    seq: int = 0
    next_id: int = 1
    live: list[dict[str, Any]] = field(default_factory=list)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True for a layer that was never written."""
        return self.seq == 0 and not self.live and not self.records and not self.deleted

    def _key(self) -> tuple[Any, ...]:
        live = {str(f["id"]): f for f in self.live}
        return (self.layer, self.seq, self.next_id, live, self.deleted, self.records)

    def __eq__(self, other: object) -> bool:
        # Backends list live features in their own order (file order, id order).
        if not isinstance(other, LayerDump):
            return NotImplemented
        return self._key() == other._key() and self.idempotency == other.idempotency


class BaseStore(ABC):
    """The store interface and the logic every backend shares.

    Reads return GeoJSON feature dicts (treat them as read-only). Writes go through
    :meth:`commit`; :meth:`create`, :meth:`update`, :meth:`delete` and :meth:`restore`
    are one-change shortcuts.
    """

    backend = "base"
    #: The database URL of a database backend; empty for the file store.
    database_url = ""
    data_dir: Path
    specs: SpecRegistry
    clock: Callable[[], str]

    def spec(self, layer: str) -> LayerSpec:
        """The spec of ``layer``; :class:`NotFound` for an unknown name."""
        spec = self.specs.get(layer)
        if spec is None:
            raise NotFound("unknown_layer", value=layer)
        return spec

    def layer_names(self) -> list[str]:
        """Every declared layer."""
        return self.specs.names()

    def counts(self) -> dict[str, int]:
        """Live feature count of every layer."""
        return {name: self.count(name) for name in self.layer_names()}

    @property
    def files(self) -> SiteFiles:
        """The site's other durable files (accounts, uploads, photos...): in the database
        of a database backend, else in the data directory (:mod:`layers.site_files`)."""
        cached: SiteFiles | None = self.__dict__.get("_site_files")
        if cached is None:
            pool = self.__dict__.get("_pool")
            cached = PgFiles(pool) if self.database_url and pool is not None else None
            cached = cached or DirFiles(self.data_dir)
            self.__dict__["_site_files"] = cached
        return cached

    def require(self, layer: str, fid: str) -> dict[str, Any]:
        """One live feature; :class:`NotFound` if it is absent or deleted."""
        feature = self.get(layer, fid)
        if feature is None:
            raise NotFound(what=self.spec(layer).label_in("zh"), value=fid)
        return feature

    def close(self) -> None:
        """Release connections or other resources (nothing for the file store)."""
        return None

    def query(self, layer: str, query: Query | None = None, **terms: Any) -> QueryResult:
        """Features matching a :class:`~layers.query.Query` (or its ``terms``: bbox,
        equals, date_from, date_to, limit, offset), with how many matched in all.

        >>> import tempfile
        >>> from layers.store import GeoJSONStore
        >>> store = GeoJSONStore(tempfile.mkdtemp())
        >>> store.query("wells", Query(bbox=(112.0, 39.0, 113.0, 40.0))).number_matched
        0
        """
        return self._query(layer, Query.of(query, **terms))

    def query_frame(self, layer: str, query: Query | None = None, **terms: Any) -> gpd.GeoDataFrame:
        """The features :meth:`query` matches (every page), as a frame shaped like
        :meth:`frame`.

        For an analysis of part of a layer (a bbox, a township, a period): on PostGIS the
        selection runs in SQL and only the matching rows reach the process.
        """
        feats = self._query(layer, Query.of(query, **terms).page(limit=None)).features
        return _frame(self.spec(layer), feats, _geometries(feats))

    def query_sample(self, layer: str, query: Query | None = None, **terms: Any) -> QueryResult:
        """A page of what :meth:`query` matches, for a map view: the query's ``within``
        and ``spread`` apply (see :class:`~layers.query.Query`); ``number_matched``
        counts every match."""
        return self._sample(layer, Query.of(query, **terms))

    def _sample(self, layer: str, query: Query) -> QueryResult:
        """:meth:`query_sample` over :meth:`_query` (backends may do better)."""
        feats = self._query(layer, query.page(limit=None)).features
        if query.within is not None and feats:
            shapely.prepare(query.within)
            geoms = _geometries(feats)
            anchors = np.where(
                shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms)
            )
            inside = shapely.intersects(query.within, anchors)
            feats = [f for f, keep in zip(feats, inside, strict=True) if keep]
        return QueryResult([feats[i] for i in query.positions(len(feats))], len(feats))

    # ------------------------------------------------------------ backend reads
    @abstractmethod
    def version(self, layer: str) -> int:
        """The seq of the layer's last change (0 for a layer never written)."""

    @abstractmethod
    def count(self, layer: str) -> int:
        """Live features in ``layer``."""

    @abstractmethod
    def features(self, layer: str) -> list[dict[str, Any]]:
        """Every live feature of ``layer`` (GeoJSON dicts; treat them as read-only)."""

    @abstractmethod
    def get(self, layer: str, fid: str) -> dict[str, Any] | None:
        """One live feature, or None."""

    @abstractmethod
    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """Live features as a GeoDataFrame (EPSG:4326) with ``id`` and every field."""

    @abstractmethod
    def bbox_ids(self, layer: str, bbox: BBox) -> list[str]:
        """Ids of features whose geometry intersects ``bbox`` (lon/lat)."""

    @abstractmethod
    def _query(self, layer: str, query: Query) -> QueryResult:
        """:meth:`query` of the backend (``within`` and ``spread`` left to ``_sample``)."""

    def date_range(self, layer: str) -> tuple[str, str] | None:
        """First and last day (``YYYY-MM-DD``) in the layer's date field, or None.

        Backends override this with something cheaper than reading every feature.
        """
        field_name = self.spec(layer).date_field
        if not field_name:
            return None
        days = [
            str(value)[:10]
            for f in self.features(layer)
            if (value := (f.get("properties") or {}).get(field_name))
        ]
        return (min(days), max(days)) if days else None

    @abstractmethod
    def extent(self, layer: str) -> BBox | None:
        """Lon/lat bounds of the live features, or None for an empty or non-spatial layer."""

    @abstractmethod
    def history(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """Every recorded change of one feature, oldest first: op, when, who, source, body."""

    @abstractmethod
    def records(self, layer: str) -> list[dict[str, Any]]:
        """Every change record of ``layer`` (the full audit trail), oldest first."""

    # ----------------------------------------------------------- backend writes
    def plan_versions(self, layer: str, seq: int) -> tuple[int, ...]:
        """What a check of ``layer`` at ``seq`` depends on: that seq and the versions of
        the layers it refers to and of the boundaries (the working area)."""
        spec = self.spec(layer)
        read = {f.ref_layer for f in spec.fields if f.ref_layer} | {"boundaries"}
        names = sorted((read & set(self.layer_names())) - {layer})
        return (seq, *(self.version(name) for name in names))

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
        plan: CheckedPlan | None = None,
    ) -> CommitResult:
        """Apply ``changes`` to ``layer`` all together or not at all.

        Raises :class:`ValidationFailed` with every problem found (nothing written),
        :class:`Conflict` when an ``if_version`` does not match, :class:`NotFound` for a
        missing feature. Returns once the change is durable. With the same
        ``idempotency_key`` a second call writes nothing and returns the first result.
        ``extra_properties`` sets system properties such as ``demo`` on created features.
        A dry run's result carries a :class:`~layers.commit.CheckedPlan`; passed back as
        ``plan`` with the same changes, the commit skips checking them again while the
        layers the checks read have not changed.
        One template for every backend: :func:`layers.commit.run_commit`.
        """
        self.spec(layer)
        result = run_commit(
            lambda body: self._write(layer, body, dry_run=dry_run),
            layer,
            list(changes),
            user=user,
            source=source,
            idempotency_key=idempotency_key,
            dry_run=dry_run,
            extra=extra_properties or {},
            plan=plan,
        )
        if not (dry_run or result.replayed):  # a report's work: faulty, or restored
            follow_links(self, layer, result.features, user)
        return result

    @abstractmethod
    def _write(
        self, layer: str, body: Callable[[LayerWrite], CommitResult], *, dry_run: bool
    ) -> CommitResult:
        """Lock ``layer``, call ``body`` with its :class:`~layers.commit.LayerWrite`,
        release the lock (rolling back a dry run or a replay)."""

    @abstractmethod
    def undo_source(self, layer: str, source: str, *, user: str) -> CommitResult | None:
        """Soft-delete every live feature created by ``source`` (e.g. ``upload:U-...``)."""

    @abstractmethod
    def compact(self, layer: str) -> bool:
        """Bring the layer's compacted form up to date; True if it was behind."""

    @abstractmethod
    def pending(self, layer: str) -> int:
        """Changes not yet compacted (0 for a backend that needs no compaction)."""

    @abstractmethod
    def export_layer(self, layer: str) -> LayerDump:
        """Everything held about ``layer`` (live, deleted, history), for a migration."""

    @abstractmethod
    def import_layer(self, dump: LayerDump) -> None:
        """Load a dump into a layer never written here; refuses a layer holding data."""

    @abstractmethod
    def is_empty(self) -> bool:
        """True when no layer holds a feature or a record."""

    @abstractmethod
    def _last_body(self, layer: str, fid: str) -> dict[str, Any] | None:
        """The body a deleted feature had (what ``restore`` brings back), or None."""

    # ------------------------------------------------------------------ writes
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
        """Soft-delete one feature (its history is kept)."""
        return self.commit(
            layer, [Change("delete", id=fid, if_version=if_version)], user=user, source=source
        )

    def restore(self, layer: str, fid: str, *, user: str, source: str = "form") -> CommitResult:
        """Bring back a deleted feature as it was before its deletion."""
        return self.commit(layer, [Change("restore", id=fid)], user=user, source=source)

    def _prepare(
        self,
        spec: LayerSpec,
        changes: list[Change],
        *,
        current_features: Mapping[str, dict[str, Any]],
        next_id: int,
        user: str,
        source: str,
        now: str,
        extra: Mapping[str, Any],
    ) -> tuple[Any, list[Problem]]:
        """Check ``changes`` with the change planner (:func:`layers.planner.plan_changes`)
        and build what the commit writes: the journal entries (``op``, ``id``,
        ``feature``), or a :class:`~layers.bulk.Block` for one ``Creates`` of points.

        Raises :class:`NotFound`, :class:`Conflict` or :class:`ValidationFailed` (every
        problem); returns the entries and the warnings.
        """
        return plan_changes(
            self,
            spec,
            changes,
            current_features=current_features,
            next_id=next_id,
            user=user,
            source=source,
            now=now,
            extra=extra,
        )


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


def next_id_after(spec: LayerSpec, next_id: int, ids: Iterable[str]) -> int:
    """``next_id`` raised past every ``<prefix>-<number>`` id in ``ids``."""
    prefix = spec.id_prefix + "-"
    for fid in ids:
        if fid.startswith(prefix) and fid[len(prefix) :].isdigit():
            next_id = max(next_id, int(fid[len(prefix) :]) + 1)
    return next_id


def history_of(
    records: Iterable[Mapping[str, Any]], fid: str, current: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The history entries of feature ``fid`` in ``records`` (oldest first), by a full
    scan: what the stores' indexed history (:func:`layers.history.history_entries`) gives.

    A feature that came with the data (seeded, never changed here) has no record: its
    history is one ``create`` entry built from its audit properties.
    """
    changes = [
        (record, change)
        for record in records
        for change in record.get("changes", [])
        if str(change["id"]) == str(fid)
    ]
    return history_entries(changes, current)


def deleted_bodies(
    records: Iterable[Mapping[str, Any]], live_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The last body of every feature whose last recorded change deleted it."""
    deleted: dict[str, dict[str, Any]] = {}
    for record in records:
        for change in record.get("changes", []):
            fid = str(change["id"])
            if change["op"] == "delete" and change.get("feature") is not None:
                deleted[fid] = change["feature"]
            elif change["op"] == "put":
                deleted.pop(fid, None)
    for fid in live_ids:
        deleted.pop(fid, None)
    return deleted


def last_seq_by_id(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """For each feature id, the seq of the last record that changed it."""
    seqs: dict[str, int] = {}
    for record in records:
        for change in record.get("changes", []):
            seqs[str(change["id"])] = int(record["seq"])
    return seqs
