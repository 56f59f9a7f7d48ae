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

Reading: each process keeps the layer in memory as a :class:`layers.memtable.FeatureTable`
(each feature's JSON text, its shapely geometry and columns of its values: a million
points take well under a gigabyte), with an STRtree and a GeoDataFrame built on demand and
kept up to date by commits rather than rebuilt; before each read it compares the journal's
size with what it has applied (one ``stat``) and reads only the new records. A layer file
is never re-parsed unless the process has never loaded it.

Layer files hold one feature per line (:mod:`layers.layer_file`), so a process loads a
big layer a slice at a time and compaction writes the stored JSON texts without
serialising them again.

Start-up (first load of a layer): read the layer file, whose foreign members say the seq
and journal offset it reflects, then replay the journal from that offset.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import orjson

from geo.problems import Problem
from layers.bulk import Block
from layers.commit import LayerWrite, Prepared
from layers.errors import VillageWorksError
from layers.history import HistoryIndex, history_entries
from layers.journal import (
    UNWRITABLE_ERRNOS,
    InterProcessLock,
    Journal,
    atomic_write_chunks,
    crashpoint,
    iter_all_records,
    read_records,
    remove_stale_temp_files,
)
from layers.layer_file import LayerFileDamaged, layer_file_chunks, peek_seq, read_layer_file
from layers.memtable import RELEASE_AFTER_ROWS, FeatureTable, release_memory, tune_memory
from layers.query import Query
from layers.snapshot import SNAPSHOT_MIN_FEATURES, remove_snapshot, write_snapshot
from layers.spec_files import site_specs
from layers.specs import SYSTEM_FIELDS, LayerSpec, SpecRegistry
from layers.store_base import (
    COORD_DECIMALS,
    IDEMPOTENCY_KEYS_KEPT,
    BaseStore,
    BBox,
    Change,
    CommitResult,
    LayerDump,
    QueryResult,
    _as_text,
    _round_coords,
    deleted_bodies,
    finite_or_none,
    next_id_after,
    utc_now,
)

log = logging.getLogger(__name__)

#: Layers up to this many features are rewritten on every commit; larger ones by compaction.
COMPACT_AT_ONCE_MAX_FEATURES = 2000
#: A large layer is compacted when this many journal bytes are not yet in its file.
COMPACT_PENDING_BYTES = 8 * 1024 * 1024
COMPACT_PENDING_RECORDS = 500
#: Features per write when a layer file is written.
WRITE_BATCH = 10000

__all__ = [
    "COORD_DECIMALS",
    "IDEMPOTENCY_KEYS_KEPT",
    "BaseStore",
    "BoxColumns",
    "Change",
    "CommitResult",
    "GeoJSONStore",
    "LayerDump",
    "QueryResult",
    "_as_text",
    "_round_coords",
    "finite_or_none",
    "utc_now",
]


class BoxColumns(NamedTuple):
    """Features read column-wise (:meth:`GeoJSONStore.bbox_columns`): their ``ids``,
    shapely ``geometries``, each column's values (NaN: absent) and, for those kept as
    JSON text, ``whole`` properties by position (:meth:`FeatureTable.columns_at`)."""

    ids: list[str]
    geometries: np.ndarray
    columns: dict[str, np.ndarray]
    whole: dict[int, Any]


@dataclass
class _LayerState:
    spec: LayerSpec
    features: FeatureTable
    seq: int = 0
    offset: int = 0
    next_id: int = 1
    file_seq: int = 0
    file_offset: int = 0
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


def _columns(spec: LayerSpec) -> list[str]:
    """The property columns of a layer's frame: declared fields, then system fields."""
    return [*spec.field_names, *SYSTEM_FIELDS]


def _new_state(spec: LayerSpec) -> _LayerState:
    return _LayerState(spec=spec, features=FeatureTable(_columns(spec)))


class GeoJSONStore(BaseStore):
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
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a read-only data directory: reads still work
                if exc.errno not in UNWRITABLE_ERRNOS:
                    raise
        self.specs = specs if specs is not None else site_specs(self)
        self._states: dict[str, _LayerState] = {}
        self._histories: dict[str, HistoryIndex] = {}
        tune_memory()
        self._locks: dict[str, InterProcessLock] = {}
        self._guard = threading.Lock()
        self._damaged: dict[str, tuple[tuple[int, int, int], LayerFileDamaged]] = {}

    # ------------------------------------------------------------------ paths and state
    def layer_path(self, layer: str) -> Path:
        """The layer's GeoJSON file."""
        return self.layers_dir / f"{layer}.geojson"

    def journal(self, layer: str) -> Journal:
        """The layer's journal."""
        return Journal(self.journal_dir / f"{layer}.geojsons")

    def layer_lock(self, layer: str) -> InterProcessLock:
        """The layer's inter-process write lock (re-entrant in this store; ``villageworks
        repair`` holds it while it replaces the layer's files)."""
        return self._lock(layer)

    def forget(self, layer: str) -> None:
        """Drop what this process holds of ``layer``: the next read loads its files anew."""
        with self._guard:
            self._states.pop(layer, None)
            self._histories.pop(layer, None)

    def _lock(self, layer: str) -> InterProcessLock:
        with self._guard:
            lock = self._locks.get(layer)
            if lock is None:
                lock = InterProcessLock(self.locks_dir / f"{layer}.lock")
                self._locks[layer] = lock
            return lock

    def _load(self, layer: str) -> _LayerState:
        state = _new_state(self.spec(layer))
        path = self.layer_path(layer)
        if path.exists():
            doc, state.features = self._read_layer_file(layer, state.spec)
            state.seq = state.file_seq = doc.get("vw:seq") or 0
            state.offset = state.file_offset = doc.get("vw:journal_offset") or 0
            if state.offset > self.journal(layer).size():
                # The journal is not the one this file was compacted from (copied data,
                # a removed journal): replay it from its start, by seq, to miss nothing.
                state.offset = state.file_offset = 0
            state.idempotency = dict(doc.get("vw:idempotency") or {})
            state.next_id = next_id_after(
                state.spec, doc.get("vw:next_id") or 1, state.features.ids()
            )
        return state

    def _read_layer_file(self, layer: str, spec: LayerSpec) -> tuple[dict[str, Any], FeatureTable]:
        """The layer file read; a damaged one raises LayerFileDamaged (a DataDamaged), and
        again at once for as long as the file stays as it is: a damaged big layer is not
        parsed again at every request while the other layers are served."""
        path = self.layer_path(layer)
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        known = self._damaged.get(layer)
        if known is not None and known[0] == key:
            raise known[1]
        try:
            return read_layer_file(path, lambda: FeatureTable(_columns(spec)))
        except LayerFileDamaged as exc:
            self._damaged[layer] = (key, exc)
            raise

    def _state(self, layer: str) -> _LayerState:
        """The layer's in-memory state, caught up with the journal."""
        state = self._states.get(layer)
        if state is None:
            with self._lock(layer).for_reading() as exclusive, self._guard:
                state = self._states.get(layer)
                if state is None:
                    # Start-up: load the file, replay the journal, cut a torn tail a
                    # crashed writer left (we hold the lock, so nobody is appending or
                    # writing a temp file: one left now is a crashed writer's). Without
                    # the exclusive lock (a read-only data directory) only read.
                    if exclusive:
                        remove_stale_temp_files(self.layers_dir, f".{layer}.geojson.*.tmp")
                    state = self._load(layer)
                    records, end = read_records(self.journal(layer).path, state.offset)
                    for record in records:
                        if int(record["seq"]) > state.seq:
                            self._apply(state, record)
                    state.offset = end
                    if exclusive:
                        self.journal(layer).repair_tail(end)
                    self._states[layer] = state
                    if len(state.features) >= RELEASE_AFTER_ROWS:
                        release_memory()  # what parsing the file left behind
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
        state.next_id = next_id_after(state.spec, state.next_id, (fid,))

    def _apply(
        self, state: _LayerState, record: Mapping[str, Any], raws: list[bytes] | None = None
    ) -> None:
        """Apply a record's changes in memory (``raws``: the features' JSON texts, if known);
        consecutive puts go to the table together."""
        table = state.features
        puts: list[dict[str, Any]] = []
        texts: list[bytes] = []

        def flush() -> None:
            if puts:
                table.put_many(puts, texts if raws is not None else None)
                state.next_id = next_id_after(state.spec, state.next_id, (f["id"] for f in puts))
                puts.clear()
                texts.clear()

        for i, change in enumerate(record.get("changes", [])):
            if change["op"] == "put":
                feature = change["feature"]
                if str(feature.get("id")) != str(change["id"]):
                    feature = {**feature, "id": str(change["id"])}
                puts.append(feature)
                if raws is not None:
                    texts.append(raws[i])
            elif change["op"] == "delete":
                flush()
                table.delete(str(change["id"]))
        flush()
        key = record.get("idempotency_key")
        if key:
            state.idempotency[key] = {"seq": record["seq"], "ids": record.get("ids", [])}
        state.seq = int(record["seq"])

    # ------------------------------------------------------------------------- reads
    def version(self, layer: str) -> int:
        """The seq of the layer's last change (0 for a layer never written)."""
        return self._state(layer).seq

    def next_id(self, layer: str) -> int:
        """The number the layer's next new feature's id gets."""
        return self._state(layer).next_id

    def count(self, layer: str) -> int:
        """Live features in ``layer``."""
        return len(self._state(layer).features)

    def features(self, layer: str) -> list[dict[str, Any]]:
        """Every live feature of ``layer`` (GeoJSON dicts; treat them as read-only).

        Each call decodes every feature: prefer :meth:`query`, :meth:`frame` or
        :meth:`date_range` for big layers.
        """
        state = self._state(layer)
        with state.lock:
            return state.features.values_list()

    def get(self, layer: str, fid: str) -> dict[str, Any] | None:
        """One live feature, or None."""
        state = self._state(layer)
        with state.lock:
            return state.features.get(str(fid))

    def date_range(self, layer: str) -> tuple[str, str] | None:
        """First and last day in the layer's date field, or None (cached per version)."""
        state = self._state(layer)
        if not state.spec.date_field:
            return None
        with state.lock:
            return state.features.value_range(state.spec.date_field)

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """Live features as a GeoDataFrame (EPSG:4326) with ``id`` and every field.

        Built once per layer version from the table's columns and shared: callers must
        not modify it in place.
        """
        state = self._state(layer)
        numbers = [f.name for f in state.spec.fields if f.type == "number"]
        with state.lock:
            return state.features.frame(_columns(state.spec), numbers)

    def bbox_ids(self, layer: str, bbox: BBox) -> list[str]:
        """Ids of features whose geometry intersects ``bbox`` (lon/lat), from the STRtree."""
        state = self._state(layer)
        if not state.spec.spatial:
            return []
        with state.lock:
            table = state.features
            return table.ids_at(table.bbox_rows(bbox))

    def bbox_columns(
        self, layer: str, bbox: BBox, *, shown: tuple[str, tuple[str, ...]] | None = None,
        limit: int | None = None,
    ) -> BoxColumns:  # fmt: skip
        """The features whose geometry intersects ``bbox``, by id, read column-wise (no
        dict per feature): with ``shown = (field, values)`` only those whose ``field`` is
        one of ``values``; the first ``limit``. For many features at once (a vector tile).
        """
        state = self._state(layer)
        with state.lock:
            table = state.features
            rows = table.bbox_rows(bbox) if state.spec.spatial else np.zeros(0, np.intp)
            ids = np.asarray(table.ids_at(rows), dtype=object)
            order = np.argsort(ids.astype(str), kind="stable") if len(ids) else rows
            rows, ids = rows[order], ids[order]
            if shown is not None:
                field, wanted = shown
                keep = np.fromiter(
                    (v in wanted for v in table.values_at(rows, field)), bool, len(rows)
                )
                rows, ids = rows[keep], ids[keep]
            rows, ids = rows[:limit], ids[:limit]
            columns, whole = table.columns_at(rows)
            return BoxColumns(ids.tolist(), table.geometries(rows), columns, whole)

    def _query(self, layer: str, query: Query) -> QueryResult:
        """:meth:`BaseStore.query` on the table's rows: only the page is decoded.

        Dates compare on the layer's ``date_field`` (ISO text compares in date order).
        Equality filters compare as text, so ``?status=working`` and ``free=true`` work.
        """
        state = self._state(layer)
        with state.lock:
            rows = matched = self._matching_rows(state, query)
            if query.after is not None:  # keyset paging: the matches after that id
                rows = self._after(state, rows, query.after)
            end = None if query.limit is None else query.offset + query.limit
            return QueryResult(state.features.decode(rows[query.offset : end]), len(matched))

    @staticmethod
    def _after(state: _LayerState, rows: np.ndarray, after: str) -> np.ndarray:
        """The ``rows`` (ascending, the table's id order) after the feature ``after``:
        found by its row when it is live, else by comparing ids."""
        found = state.features.rows_of([after])
        if len(found) and (len(rows) < 2 or bool(np.all(rows[:-1] <= rows[1:]))):
            return rows[int(np.searchsorted(rows, found[0], side="right")) :]
        ids = state.features.ids_at(rows)
        return rows[np.asarray(ids, dtype=str) > after] if ids else rows

    @staticmethod
    def _matching_rows(state: _LayerState, query: Query) -> np.ndarray:
        """Row numbers of the table that match the query's box, equality filters and
        date range (the caller holds ``state.lock``)."""
        table = state.features
        if query.bbox is None:
            rows = table.all_rows()
        elif state.spec.spatial:
            rows = table.bbox_rows(query.bbox)
        else:
            rows = np.zeros(0, dtype=np.intp)
        wanted = {k: _as_text(v) for k, v in query.equals.items()}
        if wanted or query.date_from or query.date_to:
            date_field = state.spec.date_field
            rows = table.filter_rows(rows, wanted, date_field, query.date_from, query.date_to)
        return rows

    def _sample(self, layer: str, query: Query) -> QueryResult:
        """:meth:`BaseStore.query_sample` on the table's rows: only the page is decoded,
        so a county-wide view of a million points costs milliseconds."""
        state = self._state(layer)
        with state.lock:
            table = state.features
            rows = self._matching_rows(state, query)
            if query.within is not None and len(rows):
                rows = rows[table.anchors_in(rows, query.within)]
            return QueryResult(table.decode(rows[query.positions(len(rows))]), len(rows))

    def extent(self, layer: str) -> BBox | None:
        """Lon/lat bounds of the live features, or None for an empty or non-spatial layer."""
        state = self._state(layer)
        with state.lock:
            return state.features.extent()

    def _history_index(self, layer: str) -> HistoryIndex:
        self.spec(layer)
        with self._guard:
            index = self._histories.get(layer)
            if index is None:
                index = self._histories[layer] = HistoryIndex(self.journal(layer).path)
            return index

    def history(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """Every recorded change of one feature, oldest first: op, when, who, source, body.

        Read through the layer's :class:`~layers.history.HistoryIndex`: only the journal
        records that name the feature are read.
        """
        changes = self._history_index(layer).changes(str(fid))
        return history_entries(changes, self.get(layer, fid))

    def records(self, layer: str) -> list[dict[str, Any]]:
        """Every journal record of ``layer`` (the full audit trail)."""
        self.spec(layer)
        return list(iter_all_records(self.journal(layer).path))

    # ------------------------------------------------------------------------ writes
    def undo_source(self, layer: str, source: str, *, user: str) -> CommitResult | None:
        """Soft-delete every live feature created by ``source`` (e.g. ``upload:U-...``)."""
        with self._lock(layer):
            state = self._state(layer)
            with state.lock:
                table = state.features
                rows = table.filter_rows(table.all_rows(), {"source": source}, None, None, None)
                ids = table.ids_at(rows)
            if not ids:
                return None
            changes = [Change("delete", id=fid) for fid in ids]
            return self.commit(layer, changes, user=user, source=f"undo:{source}")

    def _write(
        self, layer: str, body: Callable[[LayerWrite], CommitResult], *, dry_run: bool
    ) -> CommitResult:
        """:func:`layers.commit.run_commit`'s backend step: the layer's lock, its state
        caught up with the journal and a torn tail cut, then ``body``."""
        with self._lock(layer):
            state = self._state(layer)
            self.journal(layer).repair_tail(state.offset)
            return body(_FileWrite(self, state))

    def _prepare_any(
        self,
        state: _LayerState,
        changes: list[Change],
        *,
        user: str,
        source: str,
        now: str,
        extra: dict[str, Any],
    ) -> tuple[list[dict[str, Any]] | Block, list[Problem]]:
        """The checked entries of ``changes``: a :class:`Block` for one ``Creates`` of
        points (column by column), else one entry per change; both by the change planner
        (:meth:`BaseStore._prepare`), which knows the author's rights."""
        return self._prepare(
            state.spec,
            changes,
            current_features=state.features,
            next_id=state.next_id,
            user=user,
            source=source,
            now=now,
            extra=extra,
        )

    def _last_body(self, layer: str, fid: str) -> dict[str, Any] | None:
        body: dict[str, Any] | None = None
        for _head, change in self._history_index(layer).changes(str(fid)):
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
        head = {
            "type": "FeatureCollection",
            "name": layer,
            "vw:seq": state.seq,
            "vw:journal_offset": state.offset,
            "vw:next_id": state.next_id,
            "vw:idempotency": state.idempotency,
        }
        chunks = state.features.raw_chunks(WRITE_BATCH)
        path = self.layer_path(layer)
        atomic_write_chunks(path, layer_file_chunks(head, chunks))
        if len(state.features) >= SNAPSHOT_MIN_FEATURES:
            write_snapshot(path, state.seq, state.features)
        else:
            remove_snapshot(path)
        state.features.forget_recent()
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

    def rewrite_layer_file(self, layer: str, **members: Any) -> None:
        """Write the layer file again as it is but for the head ``members`` given (repair:
        ``vw:journal_offset`` into a journal rewritten without its damaged records,
        ``vw:seq`` and ``vw:next_id`` past lost ones). The caller holds the layer's lock;
        the layer is loaded anew at the next read."""
        path = self.layer_path(layer)
        columns = _columns(self.spec(layer))
        doc, table = read_layer_file(path, lambda: FeatureTable(columns))
        atomic_write_chunks(path, layer_file_chunks({**doc, **members}, table.raw_chunks()))
        remove_snapshot(path)
        self.forget(layer)

    def pending(self, layer: str) -> int:
        """Journal records not yet compacted into the layer file."""
        state = self._state(layer)
        if not self.layer_path(layer).exists():
            return state.seq
        doc_seq = peek_seq(self.layer_path(layer))
        return state.seq - doc_seq

    # --------------------------------------------------------------- migrations
    def export_layer(self, layer: str) -> LayerDump:
        """Everything held about ``layer``: live features, deleted bodies, journal."""
        with self._lock(layer):
            state = self._state(layer)
            records = self.records(layer)
            return LayerDump(
                layer=layer,
                seq=state.seq,
                next_id=state.next_id,
                live=state.features.values_list(),
                deleted=deleted_bodies(records, state.features),
                records=records,
                idempotency=dict(state.idempotency),
            )

    def import_layer(self, dump: LayerDump) -> None:
        """Write ``dump`` as the journal and file of a layer never written here.

        The journal gets every record as it was; the layer file says it reflects all of
        them, so nothing is replayed twice.
        """
        self.spec(dump.layer)
        with self._lock(dump.layer):
            journal = self.journal(dump.layer)
            if journal.size() or self.layer_path(dump.layer).exists():
                raise VillageWorksError("bad_request", value=f"layer {dump.layer} holds data")
            end = 0
            for record in dump.records:
                end = journal.append(record)
            head = {
                "type": "FeatureCollection",
                "name": dump.layer,
                "vw:seq": dump.seq,
                "vw:journal_offset": end,
                "vw:next_id": dump.next_id,
                "vw:idempotency": dump.idempotency,
            }
            live = dump.live
            chunks = (
                [orjson.dumps(f) for f in live[i : i + WRITE_BATCH]]
                for i in range(0, len(live), WRITE_BATCH)
            )
            atomic_write_chunks(self.layer_path(dump.layer), layer_file_chunks(head, chunks))
            remove_snapshot(self.layer_path(dump.layer))
            with self._guard:
                self._states.pop(dump.layer, None)

    def is_empty(self) -> bool:
        """True when no layer holds a feature or a record."""
        return not any(
            self.layer_path(n).exists() or self.journal(n).size() for n in self.layer_names()
        )


class _FileWrite:
    """One layer of a :class:`GeoJSONStore` under its lock: the :class:`~layers.commit.
    LayerWrite` of the file backend (journal append, table, layer file)."""

    def __init__(self, store: GeoJSONStore, state: _LayerState) -> None:
        self.store, self.state = store, state
        self.layer = state.spec.name
        self.seq = state.seq

    def replayed(self, key: str) -> CommitResult | None:
        done = self.state.idempotency.get(key)
        if done is None:
            return None
        with self.state.lock:
            feats = self.state.features.decode(self.state.features.rows_of(done["ids"]))
        return CommitResult(self.layer, int(done["seq"]), "", feats, replayed=True)

    def prepare(
        self, changes: list[Any], *, user: str, source: str, extra: dict[str, Any]
    ) -> Prepared:
        now = self.store.clock()
        entries, warnings = self.store._prepare_any(
            self.state, changes, user=user, source=source, now=now, extra=extra
        )
        return Prepared(changes, now, entries, warnings)

    def versions(self) -> tuple[int, ...]:
        return self.store.plan_versions(self.layer, self.seq)

    def persist(self, head: dict[str, Any], prepared: Prepared, key: str | None) -> None:
        state, journal = self.state, self.store.journal(self.layer)
        tail: dict[str, Any] = {"ids": prepared.ids}
        if key:
            tail["idempotency_key"] = key
        entries = prepared.entries
        if isinstance(entries, Block):
            text = entries.record_text(head, tail)
            with state.lock:
                crashpoint("commit_before_append")
                state.offset = journal.append_text(text)
                crashpoint("commit_after_append")
                self._append_block(entries, head["seq"], key)
                self._after()
            return
        # Each feature is serialised once: into the journal record and the table.
        raws = [orjson.dumps(e["feature"]) for e in entries]
        framed = [{**e, "feature": orjson.Fragment(r)} for e, r in zip(entries, raws, strict=True)]
        with state.lock:
            crashpoint("commit_before_append")
            state.offset = journal.append({**head, "changes": framed, **tail})
            crashpoint("commit_after_append")
            self.store._apply(state, {**head, "changes": entries, **tail}, raws)
            self._after()

    def _append_block(self, block: Block, seq: int, key: str | None) -> None:
        """A journalled block into the table, by columns (``state.lock`` held)."""
        state = self.state
        columns = {name: (c.codes, c.uniques) for name, c in block.columns.items()}
        n = len(block.ids)
        for name, value in block.system.items():
            columns[name] = (np.zeros(n, dtype=np.intp), [value])
        state.features.append_points(block.ids, block.x, block.y, columns, block.texts)
        state.next_id = next_id_after(state.spec, state.next_id, block.ids[-1:])
        if key:
            state.idempotency[key] = {"seq": seq, "ids": block.ids}
        state.seq = seq

    def _after(self) -> None:
        """Compaction after a durable append: the change is committed whatever happens
        here, so a failed rewrite (a full disk) is logged and left to the next write or
        load, which replay the journal."""
        self.store._trim_idempotency(self.state)
        if self.store._should_compact(self.state):
            try:
                self.store._write_layer_file(self.layer, self.state)
            except OSError as exc:
                log.warning("%s: layer file not rewritten after a commit (%s)", self.layer, exc)
