"""Whether the county's declarations (``specs/*.toml`` in ``vw_files``) moved, without a
round trip to PostgreSQL: LISTEN/NOTIFY.

Triggers of ``vw_files`` (:data:`layers.site_files.FILES_NOTIFY_DDL`, created with the
table) send a notification on :data:`~layers.site_files.SPECS_CHANNEL` whenever a
``specs/`` file is written or removed, by whatever path: this app, ``villageworks layers
add``, ``migrate``, seeding, or SQL of another host. Each process keeps one listening
connection per database (:func:`listener_for`), opened on first use, so a gunicorn worker
opens its own after the fork.

:meth:`SpecListener.poll` is what a request asks: it drains what already reached the
socket (``select`` with timeout 0, then libpq's non-blocking read) and answers a
*generation*, a number that moves with every notification and every (re)connect, since
notifications may have been missed while not listening. A caller that saw the same
generation last time has nothing to reload. ``None`` means there is no listener (lost,
database restarted, no triggers): the caller asks the database itself, as before, and the
next polls try to listen again (at most once a second).

A notification is sent by the writer's commit and delivered by the listener's backend
moments later: a request that starts after it reached the socket sees it (the drain runs
in the request's own thread); one racing it by less than that delivery may not.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import weakref
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import ConnStatus

from layers.site_files import SPECS_CHANNEL, SPECS_TRIGGERS

log = logging.getLogger(__name__)
#: Seconds between attempts to listen again while there is no listener.
RETRY_S = 1.0
#: Reads of the socket per poll at most (a burst of notifications is read at once).
MAX_READS = 64
#: Connection settings the listener adds unless the URL sets them: a host that vanishes
#: without closing the connection is noticed by TCP keepalives within about a minute.
LISTEN_DEFAULTS = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "connect_timeout": "10",
}
_WHERE = """SELECT n.nspname, (SELECT count(*) FROM pg_trigger t
    WHERE t.tgrelid = c.oid AND t.tgname = ANY(%s))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass('vw_files')"""


class SpecListener:
    """One process's LISTEN connection to the database at ``url``."""

    def __init__(self, url: str):
        self.url = url
        self.generation = 0
        #: How many times it listened (first connect and reconnects).
        self.connects = 0
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._schema = ""
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        """The generation after draining what arrived (never blocking), or None when
        there is no listener (then the caller asks the database)."""
        with self._lock:
            if self._conn is not None and self._pid != os.getpid():
                # Forked (gunicorn --preload): the parent's socket is not ours. Dropped,
                # not closed: closing would end the parent's session.
                self._conn = None
            if self._conn is not None:
                try:
                    if self._drain(self._conn):
                        self.generation += 1
                    return self.generation
                except (psycopg.Error, OSError) as exc:
                    log.warning("spec listener lost (%s); asking the database until back", exc)
                    self._close()
            return self.generation if self._listen() else None

    def _drain(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether a notification of our ``vw_files`` came; raises when the connection
        is lost (end of file, or the server's FATAL message before it)."""
        pgconn, moved = conn.pgconn, False
        for _ in range(MAX_READS):
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
            if readable:
                pgconn.consume_input()  # OperationalError once the server hung up
            if pgconn.status != ConnStatus.OK:
                raise psycopg.OperationalError("listening connection is bad")
            while (note := pgconn.notifies()) is not None:
                moved = moved or note.extra.decode() == self._schema
            if not readable:
                return moved
        return moved

    def _listen(self) -> bool:
        """Open the listening connection (not more often than :data:`RETRY_S`); whether
        there is one now. A new one moves the generation."""
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + RETRY_S  # should this attempt fail
        params = {**LISTEN_DEFAULTS, **conninfo_to_dict(self.url)}
        try:
            conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot listen for spec changes: %s", exc)
            return False
        try:
            row = conn.execute(_WHERE, (list(SPECS_TRIGGERS),)).fetchone()
            if not row or int(row[1]) < len(SPECS_TRIGGERS):
                log.warning("vw_files has no spec triggers: asking the database per request")
                conn.close()
                return False
            conn.execute(f"LISTEN {SPECS_CHANNEL}")
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot listen for spec changes: %s", exc)
            conn.close()
            return False
        self._conn, self._pid, self._schema = conn, os.getpid(), str(row[0])
        self._retry_at = 0.0
        self.connects += 1
        self.generation += 1
        return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except (psycopg.Error, OSError):
                pass

    def backend_pid(self) -> int | None:
        """The listening backend's process id (for an administrator, or a test that
        ends it), or None."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.pgconn.backend_pid

    def wait_readable(self, timeout_s: float) -> bool:
        """Block until something reached the listening socket (a notification, or the
        server hanging up), at most ``timeout_s``; whether it did. For tests and tools:
        requests never wait."""
        conn = self._conn
        if conn is None or conn.closed:
            return False
        readable, _, _ = select.select([conn.pgconn.socket], [], [], timeout_s)
        return bool(readable)

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            self._close()


_listeners: weakref.WeakValueDictionary[str, SpecListener] = weakref.WeakValueDictionary()
_listeners_guard = threading.Lock()


def listener_for(url: str) -> SpecListener:
    """This process's listener on the database at ``url`` (one per URL, shared by the
    stores that hold it; it closes with the last of them)."""
    with _listeners_guard:
        found = _listeners.get(url)
        if found is None:
            found = _listeners[url] = SpecListener(url)
        return found
