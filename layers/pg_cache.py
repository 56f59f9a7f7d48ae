"""The PostGIS store's per-process read cache: each layer's live features as the columnar
:class:`~layers.memtable.FeatureTable` the GeoJSON store reads from too, kept in id order
and refreshed by the rows changed since its seq.

Rows reach the process through a server-side cursor, :data:`CHUNK_ROWS` at a time, each
chunk put into the table before the next is fetched: a first load of a million points
never holds a million decoded rows at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from layers.memtable import FeatureTable
from layers.specs import SYSTEM_FIELDS, LayerSpec

#: Rows fetched and put into the table at a time.
CHUNK_ROWS = 20_000

#: The seq and the rows changed since a seq, in one snapshot (a first load skips rows
#: deleted before it).
_CHANGED = """
SELECT l.seq, f.id, f.deleted, f.geometry, f.properties FROM vw_layers l
LEFT JOIN vw_features f ON f.layer = l.name AND f.seq > %s AND (%s >= 0 OR NOT f.deleted)
WHERE l.name = %s ORDER BY f.id COLLATE "C"
"""

MakeFeature = Callable[[LayerSpec, str, Any, Mapping[str, Any]], dict[str, Any]]


def table_columns(spec: LayerSpec) -> list[str]:
    """The property columns of a layer's table: declared fields, then system fields."""
    return [*spec.field_names, *SYSTEM_FIELDS]


@dataclass
class Snapshot:
    """This process's copy of one layer's live features as of ``seq``, by id."""

    table: FeatureTable
    seq: int = -1
    last_id: str = ""  # the greatest id in the table (new ids usually come after it)
    lock: threading.Lock = field(default_factory=threading.Lock)


def refresh(
    conn: psycopg.Connection[Any], spec: LayerSpec, snap: Snapshot, make: MakeFeature
) -> None:
    """Bring ``snap`` (its lock held) to the layer's current seq: the rows changed since
    its seq, chunk by chunk, through a server-side cursor in one transaction."""
    seq = None
    with conn.transaction():
        with conn.cursor(name="vw_snapshot") as cur:
            cur.execute(_CHANGED, (snap.seq, snap.seq, spec.name))
            while rows := cur.fetchmany(CHUNK_ROWS):
                puts = []
                for row_seq, fid, deleted, geometry, props in rows:
                    seq = row_seq
                    if fid is not None and deleted:
                        snap.table.delete(fid)
                    elif fid is not None:
                        puts.append(make(spec, fid, geometry, props))
                put_in_id_order(spec, snap, puts)
    snap.seq = int(seq) if seq is not None else 0


def put_in_id_order(spec: LayerSpec, snap: Snapshot, puts: list[dict[str, Any]]) -> None:
    """Put ``puts`` (sorted by id) so that the table stays in id order."""
    table = snap.table
    new = [f for f in puts if f["id"] not in table]
    if new and new[0]["id"] < snap.last_id:
        # An id before the last one (a restore): the table is laid out again by id.
        merged = {f["id"]: f for f in table.values_list()}
        merged.update((f["id"], f) for f in puts)
        snap.table = table = FeatureTable(table_columns(spec))
        puts = [merged[k] for k in sorted(merged)]
    table.put_many(puts)
    if puts:
        snap.last_id = max(snap.last_id, puts[-1]["id"])
