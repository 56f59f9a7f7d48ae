"""PostgreSQL plumbing of the PostGIS store: the schema, the feature upsert and a small
connection pool. Knows tables and connections, not layers or changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

SCHEMA_VERSION = 2
#: Idle connections a store keeps for reuse (busy ones are not capped).
POOL_IDLE_MAX = 8

DDL = (
    """CREATE TABLE IF NOT EXISTS vw_meta (key text PRIMARY KEY, value text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS vw_layers (
        name text PRIMARY KEY,
        seq bigint NOT NULL DEFAULT 0,
        next_id bigint NOT NULL DEFAULT 1)""",
    """CREATE TABLE IF NOT EXISTS vw_features (
        layer text NOT NULL,
        id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        geom geometry(Geometry, 4326),
        geometry jsonb,
        properties jsonb NOT NULL,
        PRIMARY KEY (layer, id))""",
    """CREATE INDEX IF NOT EXISTS vw_features_geom ON vw_features USING gist (geom)
        WHERE NOT deleted""",
    """CREATE INDEX IF NOT EXISTS vw_features_seq ON vw_features (layer, seq)""",
    """CREATE TABLE IF NOT EXISTS vw_changes (
        layer text NOT NULL,
        seq bigint NOT NULL,
        txn text NOT NULL,
        changed_at text,
        changed_by text,
        source text,
        ids text[] NOT NULL,
        record json NOT NULL,
        PRIMARY KEY (layer, seq))""",
    """CREATE INDEX IF NOT EXISTS vw_changes_ids ON vw_changes USING gin (ids)""",
    """CREATE TABLE IF NOT EXISTS vw_idempotency (
        layer text NOT NULL,
        key text NOT NULL,
        seq bigint NOT NULL,
        ids text[] NOT NULL,
        PRIMARY KEY (layer, key))""",
    # Version 2. Ids in code point order (COLLATE "C", what every read orders by, whatever
    # the database's collation): the primary key then serves 'ORDER BY id COLLATE "C"'
    # and deep pages walk it instead of sorting the layer. Indexes are rebuilt, once.
    """DO $$ BEGIN
        IF (SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
            WHERE a.attrelid = 'vw_features'::regclass AND a.attname = 'id') <> 'C' THEN
            ALTER TABLE vw_features ALTER COLUMN id TYPE text COLLATE "C";
        END IF;
    END $$""",
    """DROP INDEX IF EXISTS vw_features_live_id""",
    # A big upload's record is tens of megabytes: lz4 compresses it several times faster
    # than the default pglz (where the server has lz4; else the default stays).
    """DO $$ BEGIN
        EXECUTE 'ALTER TABLE vw_changes ALTER COLUMN record SET COMPRESSION lz4';
    EXCEPTION WHEN OTHERS THEN NULL;
    END $$""",
)

PUT_FEATURE = """
INSERT INTO vw_features AS f (layer, id, seq, deleted, geom, geometry, properties)
VALUES (%(layer)s, %(id)s, %(seq)s, %(deleted)s,
        ST_SetSRID(ST_Force2D(ST_GeomFromGeoJSON(%(geometry)s::text)), 4326),
        %(geometry)s::jsonb, %(properties)s::jsonb)
ON CONFLICT (layer, id) DO UPDATE SET
    seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, geom = EXCLUDED.geom,
    geometry = EXCLUDED.geometry, properties = EXCLUDED.properties
"""


def json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def feature_params(
    layer: str, feature: Mapping[str, Any], seq: int, *, deleted: bool
) -> dict[str, Any]:
    """Parameters of ``PUT_FEATURE`` for one feature."""
    return {
        "layer": layer,
        "id": str(feature["id"]),
        "seq": seq,
        "deleted": deleted,
        "geometry": json_text(feature.get("geometry")),
        "properties": json_text(feature.get("properties") or {}),
    }


def connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    set_json_loads(orjson.loads, conn)
    return conn


class ConnectionPool:
    """A small thread-safe pool of autocommit connections (no background threads).

    Transactions are explicit (``with conn.transaction()``), so a connection returned
    to the pool is never left inside one.
    """

    def __init__(self, url: str, idle_max: int = POOL_IDLE_MAX):
        self.url = url
        self.idle_max = idle_max
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for the duration of the block."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked worker (gunicorn --preload): the parent's sockets are not ours.
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = connect(self.url)
        try:
            yield conn
        finally:
            idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            kept = False
            with self._lock:
                if not conn.closed and not conn.broken and idle:
                    if len(self._idle) < self.idle_max:
                        self._idle.append(conn)
                        kept = True
            if not kept:
                conn.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
