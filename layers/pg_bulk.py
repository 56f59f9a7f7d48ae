"""The PostGIS store's bulk path: a :class:`~layers.bulk.Block` of new points (an upload)
written with ``COPY``.

The per-feature path sends one parameterised upsert per feature (100,000 round trips'
worth of parsing and planning for a big upload). Here the change record (the very text
the GeoJSON store journals) is one ``COPY`` row of ``vw_changes`` and the features are
``COPY``-ed straight into ``vw_features``: each row's geometry as hex EWKB (built for all
points at once), its GeoJSON geometry and properties cut from the feature text the change
planner rendered, so the server parses each value once and the client formats no dict.
A deleted feature's row at one of the new ids (a layer's next id set back by hand) is
removed first, as the per-feature path's upsert overwrites it. All of it, and the
idempotency row, is in the commit's transaction: a failure anywhere writes nothing. The
end state is the per-feature path's: the same rows, record and keys.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import psycopg

from layers.bulk import Block

COPY_RECORD = (
    "COPY vw_changes (layer, seq, txn, changed_at, changed_by, source, ids, record) FROM STDIN"
)
COPY_FEATURES = "COPY vw_features (layer, id, seq, deleted, geom, geometry, properties) FROM STDIN"

#: Features per piece of the COPY stream (the server parses one while the next is built).
COPY_ROWS = 5000
#: Array elements that need no quoting, and a whole literal made of them.
_PLAIN_LIST = re.compile(r"[A-Za-z0-9_.:-]+(?:,[A-Za-z0-9_.:-]+)*", re.ASCII)
#: EWKB of a 2-D point with an SRID: byte order (little endian), type, SRID 4326.
_EWKB_POINT_HEAD = np.frombuffer(b"\x01\x01\x00\x00\x20\xe6\x10\x00\x00", dtype=np.uint8)
_GEOMETRY = b'"geometry":'
_PROPERTIES = b',"properties":'


def copy_field(value: str | bytes | None) -> bytes:
    """``value`` as one field of ``COPY`` text: ``\\N`` for None, else its UTF-8 with
    backslash, tab, newline and carriage return escaped.

    >>> copy_field("a\\tb\\\\c"), copy_field(None), copy_field(b"{}")
    (b'a\\\\tb\\\\\\\\c', b'\\\\N', b'{}')
    """
    if value is None:
        return b"\\N"
    data = value.encode() if isinstance(value, str) else value
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    for raw, escaped in ((b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r")):
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def array_literal(ids: list[str]) -> str:
    """``ids`` as a PostgreSQL ``text[]`` literal (one string is much cheaper to send than
    a list adapted item by item); elements quoted only when one needs it.

    >>> array_literal(["SL-000001", "SL-000002"]), array_literal(['a"b', "c d"]), array_literal([])
    ('{SL-000001,SL-000002}', '{"a\\\\"b","c d"}', '{}')
    """
    joined = ",".join(ids)
    if not ids or _PLAIN_LIST.fullmatch(joined):
        return "{" + joined + "}"
    quoted = ('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in ids)
    return "{" + ",".join(quoted) + "}"


def ewkb_hex(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    """The hex EWKB (SRID 4326) of each point ``(x[i], y[i])``, for all at once: what
    ``shapely.to_wkb(point, hex=True, include_srid=True)`` gives, in lower case.

    >>> import shapely
    >>> point = shapely.set_srid(shapely.Point(112.5, 39.25), 4326)
    >>> ewkb_hex(np.array([112.5]), np.array([39.25]))[0].upper() == shapely.to_wkb(
    ...     point, hex=True, include_srid=True).encode()
    True
    >>> ewkb_hex(np.array([]), np.array([]))
    []
    """
    n = len(x)
    rows = np.empty((n, 25), dtype=np.uint8)
    rows[:, :9] = _EWKB_POINT_HEAD
    rows[:, 9:17] = np.ascontiguousarray(x, dtype="<f8").view(np.uint8).reshape(n, 8)
    rows[:, 17:] = np.ascontiguousarray(y, dtype="<f8").view(np.uint8).reshape(n, 8)
    text = binascii.hexlify(rows.tobytes())
    return [text[i : i + 50] for i in range(0, 50 * n, 50)]


def feature_rows(layer: str, seq: int, block: Block, start: int, stop: int) -> bytes:
    """Rows ``start:stop`` of the block as ``COPY`` text of ``vw_features``: layer, id,
    seq, not deleted, hex EWKB, then the GeoJSON geometry and properties as they stand in
    the feature's text. JSON holds no raw tab or newline (its backslashes are doubled,
    as COPY text reads them as escapes)."""
    template = copy_field(layer) + b"\t%%s\t%d\tf\t%%s\t%%s\t%%s\n" % seq
    hexes = ewkb_hex(block.x[start:stop], block.y[start:stop])
    # Neither an id nor JSON text holds NUL (PostgreSQL text cannot): each column is
    # escaped at once, joined at NULs and cut there again.
    ids = copy_field("\0".join(block.ids[start:stop])).split(b"\0")
    texts = copy_field(b"\0".join(block.texts[start:stop])).split(b"\0")
    lines = []
    for fid, hexed, text in zip(ids, hexes, texts, strict=True):
        at = text.index(_GEOMETRY) + len(_GEOMETRY)
        cut = text.index(_PROPERTIES, at)
        lines.append(template % (fid, hexed, text[at:cut], text[cut + len(_PROPERTIES) : -1]))
    return b"".join(lines)


def record_row(block: Block, head: dict[str, Any], key: str | None) -> Iterator[bytes]:
    """The change record of the block as one ``COPY`` row of ``vw_changes``, in pieces:
    what the GeoJSON store journals, and what the per-feature path stores for the same
    creates."""
    tail: dict[str, Any] = {"ids": block.ids}
    if key:
        tail["idempotency_key"] = key
    fields = (head["layer"], str(head["seq"]), head.get("txn", ""), head.get("at"),
              head.get("by"), head.get("source"), array_literal(block.ids))  # fmt: skip
    yield b"\t".join(copy_field(f) for f in fields) + b"\t"
    for piece in block.record_text(head, tail)[1:-1]:  # without the journal's RS and LF
        yield copy_field(piece)
    yield b"\n"


def _copy(conn: psycopg.Connection[Any], statement: str, pieces: Iterable[bytes]) -> None:
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for piece in pieces:
            copy.write(piece)


def write_block(
    conn: psycopg.Connection[Any], layer: str, seq: int, block: Block, head: dict[str, Any],
    key: str | None,
) -> None:  # fmt: skip
    """Write ``block`` as change ``seq`` of ``layer`` inside ``conn``'s open transaction:
    the record, the features and the idempotency row under ``key``."""
    _copy(conn, COPY_RECORD, record_row(block, {**head, "layer": layer, "seq": seq}, key))
    if block.reused:
        conn.execute(
            "DELETE FROM vw_features WHERE layer = %s AND deleted AND id = ANY(%s::text[])",
            (layer, array_literal(block.reused)),
        )
    steps = range(0, len(block.ids), COPY_ROWS)
    _copy(conn, COPY_FEATURES, (feature_rows(layer, seq, block, i, i + COPY_ROWS) for i in steps))
    if key:
        conn.execute(
            "INSERT INTO vw_idempotency (layer, key, seq, ids) VALUES (%s, %s, %s, %s::text[])",
            (layer, key, seq, array_literal(block.ids)),
        )
