"""A layer another process declares (``villageworks layers add`` run beside the server, as
on another host) is served from the app's next request: on PostGIS through the
notification the database sends (and, the listening connection killed, through the
per-request query it falls back to); in a data directory through its listing."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from county_specs import BENCHES_TOML

from webmap.extensions import get_store

ROOT = Path(__file__).resolve().parents[2]
#: How long a test waits for a notification to reach the app's socket: a failure when
#: none comes, never a timing.
WAIT_S = 30


def declare(tmp_path: Path, data_dir: Path, name: str, body: str) -> None:
    """``villageworks layers add`` in a process of its own (on PostGIS it writes to the
    database, whatever ``data_dir``)."""
    path = tmp_path / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "webmap.cli", "layers", "add", str(path), "--data", str(data_dir)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def collection(app, name: str) -> int:
    return app.test_client().get(f"/ogc/collections/{name}").status_code


@pytest.fixture
def pg_app(empty_app):
    if not os.environ.get("VILLAGEWORKS_DATABASE_URL"):
        pytest.skip("the notification path: PostGIS only")
    assert collection(empty_app, "benches") == 404  # the first request: it listens now
    return empty_app


def test_a_layer_declared_by_another_process_is_served_at_the_next_request(pg_app, tmp_path):
    listener = get_store(pg_app).specs.listener()
    assert listener is not None and listener.backend_pid() is not None
    declare(tmp_path, tmp_path / "cli-data", "benches", BENCHES_TOML)
    assert listener.wait_readable(WAIT_S), "the database sent no notification"
    page = pg_app.test_client().get("/ogc/collections/benches?lang=en")
    assert page.status_code == 200 and "Village benches" in page.get_data(as_text=True)


def test_with_its_listener_killed_the_app_still_serves_a_new_layer_at_once(pg_app, tmp_path):
    listener = get_store(pg_app).specs.listener()
    killed = listener.backend_pid()
    with psycopg.connect(os.environ["VILLAGEWORKS_TEST_DATABASE_URL"], autocommit=True) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (killed,)).fetchone()
    assert ended == (True,)
    declare(tmp_path, tmp_path / "cli-data", "benches", BENCHES_TOML)
    assert collection(pg_app, "benches") == 200
    assert listener.backend_pid() not in (None, killed)


def test_a_data_directory_layer_added_and_removed_by_another_process(empty_app, tmp_path):
    if os.environ.get("VILLAGEWORKS_DATABASE_URL"):
        pytest.skip("the data directory's listing: GeoJSON store only")
    assert collection(empty_app, "benches") == 404
    data = Path(empty_app.config["DATA_DIR"])
    declare(tmp_path, data, "benches", BENCHES_TOML)
    assert collection(empty_app, "benches") == 200
    spec = data / "specs" / "benches.toml"
    subprocess.run([sys.executable, "-c", f"import os; os.remove({str(spec)!r})"], check=True)
    assert collection(empty_app, "benches") == 404
