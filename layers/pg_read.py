"""Reads of the PostGIS store answered in SQL, without loading a layer into the process.

A page of :meth:`~layers.store_base.BaseStore.query` is one statement: the layer's seq
and the page's rows, in id order (``COLLATE "C"``, the id column's own collation: the
primary key serves it), from an ``offset`` or after a given id (keyset paging). How many
features match in all is counted once per layer seq and selection and kept in this
process (:class:`CountCache`): deep pages do not count every row again. The date range of
a layer is one aggregate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import psycopg
from psycopg import sql

from layers.query import Query

#: Past any layer's size, and within PostgreSQL's bigint OFFSET.
MAX_OFFSET = 2**62
#: Selections whose count a process keeps (the oldest is forgotten first).
COUNTS_KEPT = 512

_PAGE = """
SELECT l.seq, f.id, f.geometry, f.properties
FROM (SELECT coalesce((SELECT seq FROM vw_layers WHERE name = %s), 0) AS seq) l
LEFT JOIN LATERAL (
    SELECT id, geometry, properties FROM vw_features WHERE {where}
    ORDER BY id COLLATE "C" LIMIT %s OFFSET %s
) f ON true
"""

_COUNT = """
SELECT coalesce((SELECT seq FROM vw_layers WHERE name = %s), 0), count(*)
FROM vw_features WHERE {where}
"""

#: Whether a date value counts, as in :meth:`PostGISStore._where` (Python's truthiness of
#: the stored value: no empty text, false or zero).
_DATES = """
SELECT min(left(properties->>%s, 10) COLLATE "C"), max(left(properties->>%s, 10) COLLATE "C")
FROM vw_features
WHERE layer = %s AND NOT deleted AND coalesce(properties->>%s, '') NOT IN ('', 'false', '0')
"""


class CountCache:
    """How many features a selection matched, per (layer, seq, selection): a count
    stays true until the layer's seq moves, which makes it a new key."""

    def __init__(self, kept: int = COUNTS_KEPT) -> None:
        self.kept = kept
        self._counts: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> int | None:
        with self._lock:
            found = self._counts.get(key)
            if found is not None:
                self._counts.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], count: int) -> None:
        with self._lock:
            self._counts[key] = count
            self._counts.move_to_end(key)
            while len(self._counts) > self.kept:
                self._counts.popitem(last=False)


def query_page(
    conn: psycopg.Connection[Any],
    layer: str,
    where: str,
    params: list[Any],
    query: Query,
    counts: CountCache,
) -> tuple[int, list[tuple[str, Any, Any]], int]:
    """The layer's seq, the rows (id, geometry, properties) of ``query``'s page of the
    selection ``where`` (with ``params``), and how many it matches in all.

    With ``query.after`` the page starts after that id (the ``offset`` then counts from
    there). One statement when the count is known for this seq (or the page shows it
    whole), else a second that counts.
    """
    page_where, page_params = where, list(params)
    if query.after is not None:
        page_where += ' AND id COLLATE "C" > %s'
        page_params.append(query.after)
    offset = min(max(0, query.offset), MAX_OFFSET)  # OFFSET is a bigint
    statement = sql.SQL(_PAGE).format(where=sql.SQL(page_where))
    got = conn.execute(statement, [layer, *page_params, query.limit, offset]).fetchall()
    seq = int(got[0][0]) if got else 0
    rows = [(fid, geometry, props) for _, fid, geometry, props in got if fid is not None]
    key = (layer, seq, where, tuple(map(repr, params)))
    matched = counts.get(key)
    if matched is None and query.after is None and _whole(query, len(rows)):
        matched = offset + len(rows) if rows or not offset else None
    if matched is None:
        counted = conn.execute(
            sql.SQL(_COUNT).format(where=sql.SQL(where)), [layer, *params]
        ).fetchone()
        assert counted is not None
        seq_counted, matched = int(counted[0]), int(counted[1])
        key = (layer, seq_counted, where, tuple(map(repr, params)))
    counts.put(key, matched)
    return seq, rows, matched


def _whole(query: Query, returned: int) -> bool:
    """Whether a page of ``returned`` rows ends the selection (fewer than asked for)."""
    return query.limit is None or returned < query.limit


def date_range(conn: psycopg.Connection[Any], layer: str, field: str) -> tuple[str, str] | None:
    """First and last day (the first 10 characters) of ``field`` over the live features
    of ``layer``, or None; one aggregate, nothing loaded into the process."""
    row = conn.execute(_DATES, (field, field, layer, field)).fetchone()
    if row is None or row[0] is None:
        return None
    return (str(row[0]), str(row[1]))
