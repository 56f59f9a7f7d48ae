"""The PostGIS store: the same interface as the GeoJSON store, in PostgreSQL, for several
app servers over one database.

Tables (in the connection's current schema, created on first use)::

    vw_layers       name, seq (last change), next_id (next free number of the id prefix)
    vw_features     layer, id, seq (change that last touched it), deleted, geom (GIST),
                    geometry (the GeoJSON exactly as committed), properties (jsonb)
    vw_changes      layer, seq, txn, changed_at, changed_by, source, ids, record: the
                    history, one row per commit, ``record`` being the very journal record
                    the GeoJSON store would write
    vw_idempotency  layer, key, seq, ids

Writing (:meth:`PostGISStore.commit`): one transaction locks the layer's ``vw_layers``
row (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: writers of one layer queue there,
writers of other layers do not wait), looks up the features the changes name, validates
them with the shared :meth:`BaseStore._prepare`, then writes the change record, the
feature rows and the layer's new seq. Committed means durable (PostgreSQL's WAL).

Reading: ``get``, ``count``, ``query``, ``bbox_ids``, ``extent``, ``history`` and
``records`` are answered in SQL (bbox through the GIST index, equality filters on
``properties->>'field'``). ``features`` and ``frame`` come from a per-process copy of the
layer, refreshed when ``vw_layers.seq`` moved (one indexed lookup) by reading only the rows
changed since (``vw_features.seq > cached``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
from psycopg import sql

from layers.bulk import Block, expand, fits_block
from layers.commit import LayerWrite, Prepared
from layers.errors import VillageWorksError
from layers.history import history_entries
from layers.memtable import FeatureTable
from layers.pg_bulk import write_block
from layers.pg_cache import Snapshot, refresh, table_columns
from layers.pg_db import (
    DDL,
    PUT_FEATURE,
    SCHEMA_VERSION,
    ConnectionPool,
    feature_params,
    json_text,
)
from layers.pg_read import CountCache, query_page
from layers.pg_read import date_range as pg_date_range
from layers.query import Query
from layers.spec_files import site_specs
from layers.specs import SYSTEM_FIELDS, LayerSpec, SpecRegistry
from layers.store_base import (
    BaseStore,
    BBox,
    Change,
    CommitResult,
    LayerDump,
    QueryResult,
    _as_text,
    last_seq_by_id,
    next_id_after,
    utc_now,
)

log = logging.getLogger(__name__)
DEADLOCK_RETRIES = 4

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", re.ASCII)


class _Lookup(Mapping[str, dict[str, Any]]):
    """Live features of one layer by id, fetched on demand inside the commit's transaction."""

    def __init__(self, store: PostGISStore, conn: psycopg.Connection[Any], spec: LayerSpec):
        self.store, self.conn, self.spec = store, conn, spec
        self.found: dict[str, dict[str, Any] | None] = {}
        self.reused: list[str] = []

    def prefetch(self, ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self.found]
        if not wanted:
            return
        rows = self.conn.execute(
            "SELECT id, geometry, properties FROM vw_features "
            "WHERE layer = %s AND id = ANY(%s) AND NOT deleted",
            (self.spec.name, wanted),
        ).fetchall()
        self.found.update(dict.fromkeys(wanted))
        for fid, geometry, props in rows:
            self.found[fid] = self.store._feature(self.spec, fid, geometry, props)

    def taken(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are live features (a block's clash check). Those a deleted
        feature holds are kept in :attr:`reused` (its row is overwritten).

        A block's ids are numbered in a row: the rows between the least and the greatest
        id of each length (one range of the primary key, empty for new numbers) are read
        and kept when wanted, instead of sending every id to look up one by one."""
        wanted = set(ids)
        lengths = set(map(len, wanted))
        groups = [wanted] if len(lengths) == 1 else [
            {i for i in wanted if len(i) == n} for n in lengths
        ]  # fmt: skip
        rows = self.conn.execute(
            "SELECT f.id, f.deleted FROM unnest(%s::text[], %s::text[]) AS b (low, high) "
            "JOIN vw_features f ON f.layer = %s AND f.id BETWEEN b.low AND b.high",
            ([min(g) for g in groups], [max(g) for g in groups], self.spec.name),
        ).fetchall() if wanted else []  # fmt: skip
        found = [(fid, deleted) for fid, deleted in rows if fid in wanted]
        self.reused = [fid for fid, deleted in found if deleted]
        return {fid for fid, deleted in found if not deleted}

    def __getitem__(self, fid: str) -> dict[str, Any]:
        self.prefetch([fid])
        feature = self.found[fid]
        if feature is None:
            raise KeyError(fid)
        return feature

    def __contains__(self, fid: object) -> bool:
        return isinstance(fid, str) and self.get(fid) is not None

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, v in self.found.items() if v is not None])

    def __len__(self) -> int:
        return sum(v is not None for v in self.found.values())


class PostGISStore(BaseStore):
    """Layers in PostgreSQL + PostGIS; safe for many processes, threads and servers.

    ``data_dir`` still holds what is not layer data: the county's spec declarations
    (``specs/``), accounts, uploads and photos.
    """

    backend = "postgis"

    def __init__(
        self,
        data_dir: Path | str,
        database_url: str,
        specs: SpecRegistry | None = None,
        *,
        clock: Callable[[], str] = utc_now,
    ):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.clock = clock
        self.specs = specs if specs is not None else site_specs(self)
        self._pool = ConnectionPool(database_url)
        self._local = threading.local()
        self._snapshots: dict[str, Snapshot] = {}
        self._guard = threading.Lock()
        self._orders: dict[str, tuple[str, ...]] = {}
        self._counts = CountCache()
        self.ensure_schema()

    # ------------------------------------------------------------- connections
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection: the one of its open transaction, if any."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    @staticmethod
    def _has_meta(conn: Any) -> bool:
        row = conn.execute("SELECT to_regclass('vw_meta') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def ensure_schema(self) -> None:
        """Create the tables (and the postgis extension if missing) once per database.

        Servers starting together serialise on an advisory lock; should PostgreSQL still
        pick this one as a deadlock victim (DDL takes table locks a running server's
        writes also need), the whole step is simply tried again.
        """
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                self._ensure_schema_once()
                return
            except psycopg.errors.DeadlockDetected:
                if attempt == DEADLOCK_RETRIES:
                    raise
                log.warning("deadlock while creating the schema; trying again")

    def _ensure_schema_once(self) -> None:
        with self._conn() as conn:
            row = conn.execute("SELECT to_regclass('vw_meta') IS NOT NULL").fetchone()
            if row and row[0]:
                got = conn.execute("SELECT value FROM vw_meta WHERE key = 'schema'").fetchone()
                if got and int(got[0]) >= SCHEMA_VERSION:
                    return
            with conn.transaction():
                # Two servers starting at once: one creates, the other waits and finds it.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('villageworks:schema'))")
                # The other may have finished meanwhile: then its tables are in use, and
                # re-running the DDL (CREATE INDEX takes table locks) could deadlock with it.
                if self._has_meta(conn):
                    got = conn.execute("SELECT value FROM vw_meta WHERE key = 'schema'").fetchone()
                    if got and int(got[0]) >= SCHEMA_VERSION:
                        return
                exists = conn.execute("SELECT to_regtype('geometry') IS NOT NULL").fetchone()
                if not (exists and exists[0]):
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                for statement in DDL:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO vw_meta (key, value) VALUES ('schema', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(SCHEMA_VERSION),),
                )

    # ---------------------------------------------------------------- features
    def _order(self, spec: LayerSpec) -> tuple[str, ...]:
        order = self._orders.get(spec.name)
        if order is None:
            order = (*spec.field_names, *(k for k in SYSTEM_FIELDS if k not in spec.field_names))
            self._orders[spec.name] = order
        return order

    def _feature(
        self, spec: LayerSpec, fid: str, geometry: Any, props: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A GeoJSON feature from a row; properties in the spec's order (jsonb sorts keys)."""
        ordered = {k: props[k] for k in self._order(spec) if k in props}
        if len(ordered) != len(props):
            ordered.update({k: v for k, v in props.items() if k not in ordered})
        return {"type": "Feature", "id": fid, "geometry": geometry, "properties": ordered}

    def _rows_to_features(self, spec: LayerSpec, rows: Iterable[Any]) -> list[dict[str, Any]]:
        return [self._feature(spec, fid, geometry, props) for fid, geometry, props in rows]

    # ------------------------------------------------------------------- reads
    def version(self, layer: str) -> int:
        """The seq of the layer's last change (0 for a layer never written)."""
        self.spec(layer)
        with self._conn() as conn:
            row = conn.execute("SELECT seq FROM vw_layers WHERE name = %s", (layer,)).fetchone()
        return int(row[0]) if row else 0

    def count(self, layer: str) -> int:
        """Live features in ``layer``."""
        self.spec(layer)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT count(*) FROM vw_features WHERE layer = %s AND NOT deleted", (layer,)
            ).fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> dict[str, int]:
        """Live feature count of every layer (one query)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT layer, count(*) FROM vw_features WHERE NOT deleted GROUP BY layer"
            ).fetchall()
        found = {name: int(n) for name, n in rows}
        return {name: found.get(name, 0) for name in self.layer_names()}

    def _snapshot(self, layer: str) -> Snapshot:
        """The layer's table, refreshed by the rows changed since its seq."""
        spec = self.spec(layer)
        with self._guard:
            snap = self._snapshots.get(layer)
            if snap is None:
                snap = self._snapshots[layer] = Snapshot(FeatureTable(table_columns(spec)))
        with snap.lock:
            if self.version(layer) != snap.seq:
                with self._conn() as conn:
                    refresh(conn, spec, snap, self._feature)
            return snap

    def features(self, layer: str) -> list[dict[str, Any]]:
        """Every live feature of ``layer``, by id (GeoJSON dicts; treat them as read-only)."""
        snap = self._snapshot(layer)
        with snap.lock:
            return snap.table.values_list()

    def get(self, layer: str, fid: str) -> dict[str, Any] | None:
        """One live feature, or None."""
        spec = self.spec(layer)
        if "\x00" in str(fid):
            return None  # no id holds NUL, and PostgreSQL text cannot receive it
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id, geometry, properties FROM vw_features "
                "WHERE layer = %s AND id = %s AND NOT deleted",
                (layer, str(fid)),
            ).fetchone()
        return None if row is None else self._feature(spec, *row)

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """Live features as a GeoDataFrame (EPSG:4326) with ``id`` and every field.

        Built once per layer version from the table's columns and shared: callers must
        not modify it in place.
        """
        spec = self.spec(layer)
        snap = self._snapshot(layer)
        numbers = [f.name for f in spec.fields if f.type == "number"]
        with snap.lock:
            return snap.table.frame(table_columns(spec), numbers)

    def _where(self, spec: LayerSpec, query: Query) -> tuple[str, list[Any]]:
        """SQL conditions of a :class:`~layers.query.Query` (``within`` and ``spread``
        aside), with the GeoJSON store's semantics."""
        bbox, date_from, date_to = query.bbox, query.date_from, query.date_to
        where = ["layer = %s", "NOT deleted"]
        params: list[Any] = [spec.name]
        if bbox is not None:
            where.append("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
            where.append("ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
            params += [*map(float, bbox), *map(float, bbox)]
        for key, value in query.equals.items():
            wanted = _as_text(value)
            if "\x00" in wanted:
                # No stored text holds NUL (field_rules refuses it), and PostgreSQL
                # cannot even receive it: such a filter matches nothing, as on GeoJSON.
                where.append("false")
            elif key == "id":
                where.append("id = %s")
                params.append(wanted)
            elif wanted == "":
                where.append("coalesce(properties->>%s, '') = ''")
                params.append(key)
            elif _NUMBER.fullmatch(wanted):
                # 8 and 8.0 are one number (the file store compares Python's text of it).
                # CASE, not AND: only CASE promises the cast sees numbers only.
                where.append(
                    "CASE WHEN jsonb_typeof(properties->%s) = 'number' "
                    "THEN (properties->>%s)::numeric = %s::numeric "
                    "ELSE properties->>%s = %s END"
                )
                params += [key, key, wanted, key, wanted]
            else:
                where.append("properties->>%s = %s")
                params += [key, wanted]
        if spec.date_field and (date_from or date_to):
            day = 'left(properties->>%s, 10) COLLATE "C"'
            where.append("coalesce(properties->>%s, '') NOT IN ('', 'false', '0')")
            params.append(spec.date_field)
            if date_from:
                where.append(f"{day} >= %s")
                params += [spec.date_field, date_from]
            if date_to:
                where.append(f"{day} <= %s")
                params += [spec.date_field, date_to]
        return " AND ".join(where), params

    def bbox_ids(self, layer: str, bbox: BBox) -> list[str]:
        """Ids of features whose geometry intersects ``bbox`` (lon/lat), via the GIST index."""
        spec = self.spec(layer)
        if not spec.spatial:
            return []
        where, params = self._where(spec, Query(bbox=bbox))
        statement = sql.SQL('SELECT id FROM vw_features WHERE {} ORDER BY id COLLATE "C"')
        with self._conn() as conn:
            rows = conn.execute(statement.format(sql.SQL(where)), params).fetchall()
        return [r[0] for r in rows]

    def _query(self, layer: str, query: Query) -> QueryResult:
        """:meth:`BaseStore.query` in SQL, with the GeoJSON store's semantics; by id.
        The result carries the layer's seq, read in the same statement as the page."""
        spec = self.spec(layer)
        if query.bbox is not None and not spec.spatial:
            return QueryResult([], 0)
        where, params = self._where(spec, query)
        with self._conn() as conn:
            seq, rows, matched = query_page(conn, layer, where, params, query, self._counts)
        return QueryResult(self._rows_to_features(spec, rows), matched, version=seq)

    def date_range(self, layer: str) -> tuple[str, str] | None:
        """First and last day in the layer's date field, or None (one SQL aggregate)."""
        field_name = self.spec(layer).date_field
        if not field_name:
            return None
        with self._conn() as conn:
            return pg_date_range(conn, layer, field_name)

    def extent(self, layer: str) -> BBox | None:
        """Lon/lat bounds of the live features, or None for an empty or non-spatial layer."""
        self.spec(layer)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
                "max(ST_YMax(geom)) FROM vw_features "
                "WHERE layer = %s AND NOT deleted AND geom IS NOT NULL",
                (layer,),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    def history(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """Every recorded change of one feature, oldest first: op, when, who, source, body."""
        self.spec(layer)
        fid = str(fid)
        if "\x00" in fid:
            return []  # as in get()
        with self._conn() as conn:
            # The GIN index on ids finds the records; only this feature's changes of each
            # leave the server (a record of a 100k import is tens of megabytes).
            rows = conn.execute(
                "SELECT seq, changed_at, changed_by, source, (SELECT json_agg("
                "record->'changes'->(p - 1)) FROM unnest(array_positions(ids, %s)) AS p) "
                "FROM vw_changes WHERE layer = %s AND ids @> ARRAY[%s]::text[] ORDER BY seq",
                (fid, layer, fid),
            ).fetchall()
        changes: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for seq, at, by, source, picked in rows:
            head = {"seq": int(seq), "at": at, "by": by, "source": source}
            changes += [(head, c) for c in picked or [] if str(c.get("id")) == fid]
        return history_entries(changes, self.get(layer, fid))

    def records(self, layer: str) -> list[dict[str, Any]]:
        """Every change record of ``layer`` (the full audit trail), oldest first."""
        self.spec(layer)
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT record FROM vw_changes WHERE layer = %s ORDER BY seq", (layer,)
            ).fetchall()
        return [r[0] for r in rows]

    def _last_body(self, layer: str, fid: str) -> dict[str, Any] | None:
        spec = self.spec(layer)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id, geometry, properties FROM vw_features "
                "WHERE layer = %s AND id = %s AND deleted",
                (layer, fid),
            ).fetchone()
        return None if row is None else self._feature(spec, *row)

    # ------------------------------------------------------------------ writes
    def _lock_layer(self, conn: psycopg.Connection[Any], layer: str) -> tuple[int, int]:
        """Lock the layer's row for this transaction; its seq and next id number."""
        row = conn.execute(
            "INSERT INTO vw_layers AS l (name) VALUES (%s) "
            "ON CONFLICT (name) DO UPDATE SET name = l.name RETURNING seq, next_id",
            (layer,),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def _live(
        self, conn: psycopg.Connection[Any], spec: LayerSpec, ids: list[str]
    ) -> list[dict[str, Any]]:
        lookup = _Lookup(self, conn, spec)
        lookup.prefetch(ids)
        return [f for i in ids if (f := lookup.found.get(i)) is not None]

    def _write(
        self, layer: str, body: Callable[[LayerWrite], CommitResult], *, dry_run: bool
    ) -> CommitResult:
        """:func:`layers.commit.run_commit`'s backend step: one transaction holding the
        layer's row lock; rolled back for a dry run or a replay. A transaction PostgreSQL
        aborts as a deadlock victim wrote nothing: it is run again."""
        spec = self.spec(layer)
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with self._conn() as conn:
                    with conn.transaction() as tx:
                        seq, next_id = self._lock_layer(conn, layer)
                        result = body(_DbWrite(self, conn, spec, seq, next_id))
                        if dry_run or result.replayed:
                            raise psycopg.Rollback(tx)
                return result
            except psycopg.errors.DeadlockDetected:
                if attempt == DEADLOCK_RETRIES:
                    raise
                log.warning("commit to %s chosen as a deadlock victim; trying again", layer)
        raise AssertionError("unreachable")

    def _write_record(self, conn: psycopg.Connection[Any], record: Mapping[str, Any]) -> None:
        conn.execute(
            "INSERT INTO vw_changes (layer, seq, txn, changed_at, changed_by, source, ids, record) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::json)",
            (
                record["layer"],
                record["seq"],
                record.get("txn", ""),
                record.get("at"),
                record.get("by"),
                record.get("source"),
                [str(i) for i in record.get("ids", [])],
                json_text(record),
            ),
        )

    def undo_source(self, layer: str, source: str, *, user: str) -> CommitResult | None:
        """Soft-delete every live feature created by ``source`` (e.g. ``upload:U-...``)."""
        self.spec(layer)
        with self._conn() as conn, conn.transaction():
            self._lock_layer(conn, layer)
            rows = conn.execute(
                "SELECT id FROM vw_features WHERE layer = %s AND NOT deleted "
                "AND properties->>'source' = %s ORDER BY id COLLATE \"C\"",
                (layer, source),
            ).fetchall()
            if not rows:
                return None
            changes = [Change("delete", id=r[0]) for r in rows]
            return self.commit(layer, changes, user=user, source=f"undo:{source}")

    def compact(self, layer: str) -> bool:
        """Nothing to compact in a database: always False."""
        self.spec(layer)
        return False

    def pending(self, layer: str) -> int:
        """Nothing waits for compaction in a database: always 0."""
        self.spec(layer)
        return 0

    # -------------------------------------------------------------- migrations
    def is_empty(self) -> bool:
        """True when no layer holds a feature or a record."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM vw_features) "
                "AND NOT EXISTS (SELECT 1 FROM vw_changes) "
                "AND NOT EXISTS (SELECT 1 FROM vw_layers WHERE seq > 0)"
            ).fetchone()
        return bool(row and row[0])

    def export_layer(self, layer: str) -> LayerDump:
        """Everything held about ``layer``: live features, deleted bodies, history, keys."""
        spec = self.spec(layer)
        with self._conn() as conn, conn.transaction():
            seq, next_id = self._lock_layer(conn, layer)
            rows = conn.execute(
                "SELECT id, deleted, geometry, properties FROM vw_features WHERE layer = %s "
                'ORDER BY id COLLATE "C"',
                (layer,),
            ).fetchall()
            keys = conn.execute(
                "SELECT key, seq, ids FROM vw_idempotency WHERE layer = %s ORDER BY seq, key",
                (layer,),
            ).fetchall()
            records = self.records(layer)
        dump = LayerDump(layer=layer, seq=seq, next_id=next_id, records=records)
        for fid, deleted, geometry, props in rows:
            feature = self._feature(spec, fid, geometry, props)
            if deleted:
                dump.deleted[fid] = feature
            else:
                dump.live.append(feature)
        dump.idempotency = {k: {"seq": int(s), "ids": list(ids)} for k, s, ids in keys}
        return dump

    def import_layer(self, dump: LayerDump) -> None:
        """Load ``dump`` into a layer never written here, in one transaction."""
        self.spec(dump.layer)
        with self._conn() as conn, conn.transaction():
            seq, _next = self._lock_layer(conn, dump.layer)
            taken = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM vw_features WHERE layer = %s) "
                "OR EXISTS (SELECT 1 FROM vw_changes WHERE layer = %s)",
                (dump.layer, dump.layer),
            ).fetchone()
            if seq or (taken and taken[0]):
                raise VillageWorksError("bad_request", value=f"layer {dump.layer} holds data")
            touched = last_seq_by_id(dump.records)
            with conn.cursor() as cur:
                cur.executemany(
                    PUT_FEATURE,
                    [
                        feature_params(dump.layer, f, touched.get(str(f["id"]), 0), deleted=deleted)
                        for deleted, batch in ((False, dump.live), (True, dump.deleted.values()))
                        for f in batch
                    ],
                )
            for record in dump.records:
                self._write_record(conn, record)
            for key, entry in dump.idempotency.items():
                conn.execute(
                    "INSERT INTO vw_idempotency (layer, key, seq, ids) VALUES (%s, %s, %s, %s)",
                    (dump.layer, key, int(entry["seq"]), [str(i) for i in entry.get("ids", [])]),
                )
            conn.execute(
                "UPDATE vw_layers SET seq = %s, next_id = %s WHERE name = %s",
                (dump.seq, dump.next_id, dump.layer),
            )

    def seed(self, dumps: Iterable[LayerDump]) -> list[str]:
        """Import ``dumps`` if the database is empty (one transaction, one seeder at a time).

        Returns the layers written; nothing when another process seeded first.
        """
        written: list[str] = []
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('villageworks:seed'))")
            if not self.is_empty():
                return []
            for dump in dumps:
                if dump.layer not in self.specs:
                    log.warning("seed: no spec declares layer %s; skipped", dump.layer)
                    continue
                self.import_layer(dump)
                written.append(dump.layer)
        return written


class _DbWrite:
    """One layer of a :class:`PostGISStore` inside the transaction holding its row lock:
    the :class:`~layers.commit.LayerWrite` of the database backend."""

    def __init__(
        self,
        store: PostGISStore,
        conn: psycopg.Connection[Any],
        spec: LayerSpec,
        seq: int,
        next_id: int,
    ) -> None:
        self.store, self.conn, self.spec = store, conn, spec
        self.seq, self.next_id = seq, next_id

    def replayed(self, key: str) -> CommitResult | None:
        row = self.conn.execute(
            "SELECT seq, ids FROM vw_idempotency WHERE layer = %s AND key = %s",
            (self.spec.name, key),
        ).fetchone()
        if row is None:
            return None
        feats = self.store._live(self.conn, self.spec, list(row[1]))
        return CommitResult(self.spec.name, int(row[0]), "", feats, replayed=True)

    def prepare(
        self, changes: list[Any], *, user: str, source: str, extra: dict[str, Any]
    ) -> Prepared:
        spec, next_id = self.spec, self.next_id
        now = self.store.clock()
        lookup = _Lookup(self.store, self.conn, spec)
        if not fits_block(spec, changes):  # else a Block of points, written by COPY
            changes = expand(changes)  # a Creates as one change per feature
            lookup.prefetch(str(c.id) for c in changes if c.id is not None)
            # The ids new features will get, checked for clashes in the same single query.
            new = sum(c.op == "create" and c.id is None for c in changes)
            lookup.prefetch(f"{spec.id_prefix}-{n:06d}" for n in range(next_id, next_id + new))
        entries, warnings = self.store._prepare(
            spec,
            changes,
            current_features=lookup,
            next_id=next_id,
            user=user,
            source=source,
            now=now,
            extra=extra,
        )
        if isinstance(entries, Block):
            entries.reused = lookup.reused
        return Prepared(changes, now, entries, warnings)

    def versions(self) -> tuple[int, ...]:
        return self.store.plan_versions(self.spec.name, self.seq)

    def persist(self, head: dict[str, Any], prepared: Prepared, key: str | None) -> None:
        layer, seq, conn = self.spec.name, int(head["seq"]), self.conn
        entries = prepared.entries
        ids = prepared.ids
        if isinstance(entries, Block):
            write_block(conn, layer, seq, entries, head, key)
            ids = ids[-1:]  # a block's ids are numbered upwards: the last is the highest
        else:
            self._persist_entries(head, entries, key)
        conn.execute(
            "UPDATE vw_layers SET seq = %s, next_id = %s WHERE name = %s",
            (seq, next_id_after(self.spec, self.next_id, ids), layer),
        )

    def _persist_entries(
        self, head: dict[str, Any], entries: list[dict[str, Any]], key: str | None
    ) -> None:
        """The per-feature path: the record, one upsert per entry, the idempotency row."""
        layer, seq, conn = self.spec.name, int(head["seq"]), self.conn
        ids = [e["id"] for e in entries]
        record: dict[str, Any] = {**head, "changes": entries, "ids": ids}
        if key:
            record["idempotency_key"] = key
        self.store._write_record(conn, record)
        with conn.cursor() as cur:
            # One pipelined batch, in the entries' order (a later entry may touch the same id).
            cur.executemany(
                PUT_FEATURE,
                [
                    feature_params(layer, e["feature"], seq, deleted=e["op"] == "delete")
                    for e in entries
                ],
            )
        if key:
            conn.execute(
                "INSERT INTO vw_idempotency (layer, key, seq, ids) VALUES (%s, %s, %s, %s)",
                (layer, key, seq, ids),
            )
