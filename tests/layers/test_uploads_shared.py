"""Uploads and staging shared by two servers over one database (issue #19 §1).

Two stores with different, empty data directories over one PostgreSQL schema stand for
two app servers: an upload made through A is listed, found by its idempotency key and
undone through B; a file staged for preview through A is previewed and committed through
B; a writer's claim on a pending record is seen by the other server, and a record whose
writer is gone is settled by either. Nothing of it lands in either data directory.
"""

import dataclasses
from pathlib import Path

import pytest

from layers.backends import open_store
from layers.upload_log import UploadLog, undo_upload
from layers.uploads import Staging, UploadOptions, run_upload

ROOT = Path(__file__).resolve().parents[2]
WELLS = ROOT / "tests" / "data" / "import" / "shanyin" / "wells.geojson"


@pytest.fixture
def hosts(request, tmp_path):
    """Stores A and B: separate empty data directories, one database."""
    if request.config.getoption("backend") == "geojson":
        pytest.skip("two servers share a PostgreSQL database: PostGIS only")
    url = request.getfixturevalue("pg_url")
    opened = [open_store(tmp_path / name, url) for name in ("a", "b")]
    yield opened
    for store in opened:
        store.close()


def assert_no_site_files(store):
    """The data directory holds no uploads, staging or photos (it is only a cache)."""
    folder = Path(store.data_dir)
    found = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    names = [str(p.relative_to(folder)) for p in found]
    assert not [n for n in names if n.startswith(("uploads", "photos", "ledger_imports"))]


def test_an_upload_on_a_is_listed_found_by_key_and_undone_on_b(hosts):
    a, b = hosts
    before = b.count("wells")
    options = UploadOptions(layer="wells", idempotency_key="shared-key-0001")
    report = run_upload(a, WELLS.read_bytes(), "水井.geojson", options, user="planner1")
    assert report.status == "committed" and report.accepted > 0
    assert b.count("wells") == before + report.accepted
    log_b = UploadLog(b.files)
    assert [m["upload_id"] for m in log_b.list()] == [report.upload_id]
    assert log_b.get(report.upload_id)["filename"] == "水井.geojson"
    assert log_b.original(report.upload_id) == WELLS.read_bytes()
    found = log_b.find_by_key("shared-key-0001", user="planner1")
    assert found is not None and found["upload_id"] == report.upload_id
    assert log_b.find_by_key("shared-key-0001", user="someone-else") is None
    again = run_upload(b, WELLS.read_bytes(), "水井.geojson", options, user="planner1")
    assert again.status == "replayed" and again.upload_id == report.upload_id
    undone = undo_upload(b, report.upload_id, user="planner2")
    assert undone["status"] == "undone" and undone["removed"] == report.accepted
    assert a.count("wells") == before
    assert UploadLog(a.files).get(report.upload_id)["undone_by"] == "planner2"
    for store in hosts:
        assert_no_site_files(store)


def test_a_preview_staged_on_a_is_committed_on_b(hosts):
    a, b = hosts
    data = WELLS.read_bytes()
    token = Staging(a.files).put(data, "水井.geojson", UploadOptions(layer="wells"), user="p1")
    staged_b = Staging(b.files)
    assert staged_b.data(token, user="p1") == data
    options = staged_b.options(token, user="p1")
    dry = dataclasses.replace(options, dry_run=True)
    preview = run_upload(b, staged_b.data(token, user="p1"), "水井.geojson", dry, user="p1")
    assert preview.status == "preview" and preview.accepted > 0
    assert UploadLog(a.files).list() == []  # a preview writes no record
    done = run_upload(b, data, "水井.geojson", options, user="p1")
    assert done.status == "committed" and done.accepted == preview.accepted
    staged_b.committed(token, done.upload_id, user="p1")
    assert Staging(a.files).meta(token, user="p1")["upload_id"] == done.upload_id
    assert not a.files.exists(f"uploads/staging/{token}/original.bin")
    assert [m["upload_id"] for m in UploadLog(a.files).list()] == [done.upload_id]
    for store in hosts:
        assert_no_site_files(store)


def test_staging_expires_on_the_shared_files(hosts):
    a, b = hosts
    now = [1000.0]
    staging_a = Staging(a.files, ttl_s=60, clock=lambda: now[0])
    old = staging_a.put(b"lon,lat\n1,2\n", "a.csv", UploadOptions(layer="wells"), user="p1")
    now[0] += 30
    young = staging_a.put(b"lon,lat\n3,4\n", "b.csv", UploadOptions(layer="wells"), user="p1")
    staging_b = Staging(b.files, ttl_s=60, clock=lambda: now[0])
    assert staging_b.expire(now=now[0] + 40) == 1  # the first one, 70 s old
    assert not a.files.list(f"uploads/staging/{old}")
    assert staging_b.data(young, user="p1") == b"lon,lat\n3,4\n"


class _Report:
    """The little of an upload report that :meth:`UploadLog.begin` keeps."""

    def __init__(self, upload_id):
        self.upload_id = upload_id
        self.problems = []

    def as_dict(self, lang="zh", *, with_features=False):
        return {"upload_id": self.upload_id, "layer": "wells", "at": "2026-01-01T00:00:00Z"}


def test_a_pending_upload_is_left_alone_while_its_writer_lives_then_settled(hosts):
    a, b = hosts
    log_a, log_b = UploadLog(a.files), UploadLog(b.files)
    log_a.begin(_Report("U-20260101-abc123"), b"lon,lat\n")
    assert log_b.get("U-20260101-abc123")["status"] == "pending"
    # A is still writing it: B neither settles nor removes it.
    assert log_b.recover(b) == {"committed": 0, "removed": 0, "stray": 0}
    assert log_b.get("U-20260101-abc123")["status"] == "pending"
    log_a.release("U-20260101-abc123")  # as when A's session ends with its process
    assert log_b.recover(b) == {"committed": 0, "removed": 1, "stray": 0}
    assert not b.files.list("uploads/U-20260101-abc123")


def test_a_stray_folder_is_removed_only_once_its_writer_is_gone(hosts):
    a, b = hosts
    log_a, log_b = UploadLog(a.files), UploadLog(b.files)
    log_a.claims.claim("U-20260102-def456")
    a.files.write("uploads/U-20260102-def456/original.bin", b"x")  # died before the record
    assert log_b.stray() == []
    log_a.release("U-20260102-def456")
    assert log_b.stray() == ["U-20260102-def456"]
    assert log_b.recover(b)["stray"] == 1
    assert not a.files.list("uploads/U-20260102-def456")
