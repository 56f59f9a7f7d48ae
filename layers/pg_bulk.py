"""The PostGIS store's bulk path: a :class:`~layers.bulk.Block` of new points (an upload)
written with ``COPY``.

The per-feature path sends one parameterised upsert per feature (100,000 round trips'
worth of parsing and planning for a big upload). Here the block's feature texts, already
rendered by the change planner, are streamed with ``COPY ... FROM STDIN`` into a
temporary staging table (parsed there once, as jsonb), then inserted into
``vw_features`` by one ``INSERT ... SELECT`` in the commit's transaction, beside the
change record (the very text the GeoJSON store journals) and the idempotency row. The end
state is the per-feature path's: the same rows, record and keys.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Json

from layers.bulk import Block

STAGE = """CREATE TEMP TABLE IF NOT EXISTS vw_stage_points (
    id text NOT NULL, x float8 NOT NULL, y float8 NOT NULL, feature jsonb NOT NULL)
    ON COMMIT DELETE ROWS"""

COPY_STAGE = "COPY vw_stage_points (id, x, y, feature) FROM STDIN"

INSERT_STAGED = """
INSERT INTO vw_features AS f (layer, id, seq, deleted, geom, geometry, properties)
SELECT %s, id, %s, false, ST_SetSRID(ST_MakePoint(x, y), 4326),
       feature->'geometry', feature->'properties'
FROM vw_stage_points
ON CONFLICT (layer, id) DO UPDATE SET
    seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, geom = EXCLUDED.geom,
    geometry = EXCLUDED.geometry, properties = EXCLUDED.properties
"""

#: Bytes of COPY text per write (the stream is sent in pieces of this size).
COPY_CHUNK = 1 << 20
#: Ids that need no quoting in an array literal (what ``<prefix>-<number>`` ids are).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:-]+", re.ASCII)


def copy_text(block: Block) -> bytes:
    """The block as ``COPY`` text, one line per feature: id, x, y and the feature's JSON
    (parsed once, into the staging table's jsonb; its geometry and properties are taken
    from it). JSON holds no raw tab or newline; its backslashes are doubled, as COPY
    text reads them as escapes. Ids (``<prefix>-<number>``) hold neither."""
    if not block.ids:
        return b""
    xs = orjson.dumps(block.x.tolist())[1:-1].split(b",")
    ys = orjson.dumps(block.y.tolist())[1:-1].split(b",")
    ids = [fid.encode() for fid in block.ids]
    text = b"".join(
        [b"%s\t%s\t%s\t%s\n" % row for row in zip(ids, xs, ys, block.texts, strict=True)]
    )
    return text.replace(b"\\", b"\\\\") if b"\\" in text else text


def id_array(ids: list[str]) -> str | list[str]:
    """``ids`` as a PostgreSQL array literal when none needs quoting (one string is
    much cheaper to send than a list adapted item by item), else the list itself."""
    if all(_PLAIN_ID.fullmatch(i) for i in ids):
        return "{" + ",".join(ids) + "}"
    return ids


def record_json(block: Block, head: dict[str, Any], key: str | None) -> bytes:
    """The change record of the block as JSON text: what the GeoJSON store journals,
    and what the per-feature path stores for the same creates."""
    tail: dict[str, Any] = {"ids": block.ids}
    if key:
        tail["idempotency_key"] = key
    pieces = block.record_text(head, tail)
    return b"".join(pieces[1:-1])  # without the journal's RS and LF


def _as_is(text: bytes) -> bytes:
    """The JSON text as it is (sent without a decode and encode of tens of megabytes)."""
    return text


def write_block(
    conn: psycopg.Connection[Any], layer: str, seq: int, block: Block, head: dict[str, Any],
    key: str | None,
) -> None:  # fmt: skip
    """Write ``block`` as change ``seq`` of ``layer`` inside ``conn``'s open transaction:
    the record, the features (through COPY) and the idempotency row under ``key``."""
    conn.execute(
        "INSERT INTO vw_changes (layer, seq, txn, changed_at, changed_by, source, ids, record) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s::text[], %s)",
        (layer, seq, head.get("txn", ""), head.get("at"), head.get("by"), head.get("source"),
         id_array(block.ids), Json(record_json(block, head, key), dumps=_as_is)),
    )  # fmt: skip
    conn.execute(STAGE)
    conn.execute("TRUNCATE vw_stage_points")
    text = copy_text(block)
    with conn.cursor() as cur:
        with cur.copy(COPY_STAGE) as copy:
            for i in range(0, len(text), COPY_CHUNK):
                copy.write(text[i : i + COPY_CHUNK])
        cur.execute(INSERT_STAGED, (layer, seq))
    if key:
        conn.execute(
            "INSERT INTO vw_idempotency (layer, key, seq, ids) VALUES (%s, %s, %s, %s::text[])",
            (layer, key, seq, id_array(block.ids)),
        )
