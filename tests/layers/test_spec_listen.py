"""The declarations' freshness check off the hot path (``layers.spec_listen``,
``layers.spec_files.SiteSpecs``): on PostgreSQL a LISTEN connection that the triggers of
``vw_files`` notify, whatever wrote the file; with no round trip while nothing moved; the
per-request query again while the listener is lost. In a data directory one listing that
still sees a declaration replaced within the clock's grain."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from county_specs import BENCHES_TOML
from psycopg.conninfo import conninfo_to_dict

from layers.journal import atomic_write
from layers.pg_db import ConnectionPool
from layers.postgis import PostGISStore
from layers.site_files import FILES_DDL, SPECS_CHANNEL, SPECS_TRIGGERS, PgFiles
from layers.spec_files import refresh_specs
from layers.store import GeoJSONStore

BENCHES = BENCHES_TOML.encode()
#: A wait for a notification to reach a socket: never reached when things work; a
#: failure when no notification comes, not a timing.
WAIT_S = 30


@pytest.fixture
def pg_store(pg_url, tmp_path):
    """A PostGIS store over a fresh schema, its specs loaded (so it listens)."""
    store = PostGISStore(tmp_path / "pg", pg_url)
    assert "roads" in store.specs
    yield store
    store.close()


@pytest.fixture
def admin():
    """A connection of the database's owner, as a DBA (or another host) would have."""
    with psycopg.connect(os.environ["VILLAGEWORKS_TEST_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def another_host(pg_url):
    """A connection of another host to the same database: its writes bypass this process."""
    return psycopg.connect(pg_url, autocommit=True)


def last_statements(admin, pg_url, skip_pid):
    """What each backend of the test's schema ran last and when (but the listener)."""
    schema = conninfo_to_dict(pg_url)["application_name"]
    rows = admin.execute(
        "SELECT pid, query, state_change FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> %s ORDER BY pid",
        (schema, skip_pid),
    ).fetchall()
    return rows


def test_a_spec_another_host_writes_is_seen_and_quiet_refreshes_ask_nothing(
    pg_store, pg_url, admin
):
    listener = pg_store.specs.listener()
    assert listener is not None and listener.backend_pid() is not None
    pg_store.files.read("specs/none.toml")  # the pool's connection runs something known
    before = last_statements(admin, pg_url, listener.backend_pid())
    assert before, "the store's pooled connection is among the schema's backends"
    for _ in range(50):
        assert refresh_specs(pg_store) is False
    # Nothing moved: not one statement reached the database (each would show here).
    assert last_statements(admin, pg_url, listener.backend_pid()) == before
    with another_host(pg_url) as other:
        other.execute(
            "INSERT INTO vw_files (path, body, modified) VALUES ('specs/benches.toml', %s, 1)",
            (BENCHES,),
        )
    assert listener.wait_readable(WAIT_S), "no notification reached the listener"
    assert refresh_specs(pg_store) is True
    assert "benches" in pg_store.specs
    assert refresh_specs(pg_store) is False


def test_a_killed_listener_falls_back_and_listens_again(pg_store, pg_url, admin):
    listener = pg_store.specs.listener()
    killed = listener.backend_pid()
    # Waits (up to 10 s) until the backend is gone: its socket then reads end of file.
    ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (killed,)).fetchone()
    assert ended == (True,)
    with another_host(pg_url) as other:
        other.execute(
            "INSERT INTO vw_files (path, body, modified) VALUES ('specs/benches.toml', %s, 1)",
            (BENCHES,),
        )
    # The very next refresh: the loss is noticed without waiting, the spec is read.
    assert refresh_specs(pg_store) is True and "benches" in pg_store.specs
    assert listener.backend_pid() not in (None, killed), "it listens again"
    assert listener.connects == 2
    with another_host(pg_url) as other:
        other.execute("DELETE FROM vw_files WHERE path = 'specs/benches.toml'")
    assert listener.wait_readable(WAIT_S)
    assert refresh_specs(pg_store) is True and "benches" not in pg_store.specs


def test_without_triggers_every_refresh_asks_the_database(pg_store, pg_url, admin):
    schema = conninfo_to_dict(pg_url)["application_name"]
    admin.execute(f'DROP TRIGGER vw_files_specs_ins ON "{schema}".vw_files')
    listener = pg_store.specs.listener()
    admin.execute("SELECT pg_terminate_backend(%s, 10000)", (listener.backend_pid(),))
    with another_host(pg_url) as other:
        other.execute(
            "INSERT INTO vw_files (path, body, modified) VALUES ('specs/benches.toml', %s, 1)",
            (BENCHES,),
        )
    # No notification can come: the refresh asks the database itself (as before).
    assert refresh_specs(pg_store) is True and "benches" in pg_store.specs
    assert listener.backend_pid() is None, "it does not listen without the triggers"
    # Files opened anew (a server starting) put the missing trigger back.
    PgFiles(pg_store._pool)
    count = admin.execute(
        f"SELECT count(*) FROM pg_trigger WHERE tgrelid = '\"{schema}\".vw_files'::regclass "
        "AND tgname = ANY(%s)",
        (list(SPECS_TRIGGERS),),
    ).fetchone()
    assert count == (len(SPECS_TRIGGERS),)


def test_every_way_of_changing_a_spec_notifies_and_other_files_do_not(pg_url):
    pool = ConnectionPool(pg_url)
    with another_host(pg_url) as conn, another_host(pg_url) as listening:
        conn.execute(FILES_DDL)  # a database from before the triggers: a table, no triggers
        conn.execute("INSERT INTO vw_files VALUES ('specs/old.toml', 'x', 1)")
        files = PgFiles(pool)  # adds them
        PgFiles(pool)  # and again: nothing to do
        listening.execute(f"LISTEN {SPECS_CHANNEL}")
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        for change in (
            lambda: files.write("specs/a.toml", b"1"),
            lambda: files.write("specs/a.toml", b"2"),  # ON CONFLICT: an update
            lambda: files.delete("specs/a.toml"),
            lambda: conn.execute("UPDATE vw_files SET path = 'x/old' WHERE path LIKE 'sp%'"),
            lambda: conn.execute("UPDATE vw_files SET path = 'specs/b.toml' WHERE path = 'x/old'"),
            lambda: files.delete_tree("specs"),
            lambda: conn.execute("TRUNCATE vw_files"),
            lambda: files.write("throttle/login.json", b"{}"),  # not a spec: silent
            lambda: files.write("specs.toml", b"{}"),  # nor this
            lambda: conn.execute(f"NOTIFY {SPECS_CHANNEL}, 'end'"),
        ):
            change()
        got = []
        for note in listening.notifies(timeout=WAIT_S):
            got.append(note.payload)
            if note.payload == "end":
                break
    pool.close()
    assert got == [schema] * 7 + ["end"]


@pytest.mark.geojson_only
def test_a_data_directory_spec_replaced_within_the_clocks_grain_is_seen(tmp_path):
    store = GeoJSONStore(tmp_path / "data")
    path = Path(store.data_dir) / "specs" / "benches.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert refresh_specs(store) is False
    # Another process (the CLI) adds it.
    subprocess.run(
        [sys.executable, "-c", f"open({str(path)!r}, 'wb').write({BENCHES!r})"], check=True
    )
    assert refresh_specs(store) is True and store.specs["benches"].label_in("en") == (
        "Village benches"
    )
    # Replaced atomically by one of the same size, its time set back to the old one's
    # (a replace within the file system's clock tick): the new inode tells.
    was = path.stat()
    atomic_write(path, BENCHES.replace(b"Village benches", b"Village seats!!"))
    os.utime(path, ns=(was.st_atime_ns, was.st_mtime_ns))
    assert path.stat().st_size == was.st_size
    assert refresh_specs(store) is True
    assert store.specs["benches"].label_in("en") == "Village seats!!"
    assert refresh_specs(store) is False
    path.unlink()
    assert refresh_specs(store) is True and "benches" not in store.specs
