"""GeoPackage exports are version 1.2 with real DATE/DATETIME columns (issue #19
section 8): read with Debian's ogrinfo (GDAL 3.6, which warns about 1.4) and sqlite3."""

from __future__ import annotations

import sqlite3

import pytest
from geometries import nth_point, square
from live_app import need_gdal, run_gdal

from layers.gpkg import GPKG_APPLICATION_ID, GPKG_USER_VERSION
from layers.store import Change
from webmap.app import get_store


@pytest.fixture
def gpkg_file(empty_app, tmp_path):
    store = get_store(empty_app)
    store.commit(
        "greenhouses",
        [
            Change(
                "create",
                geometry=nth_point(1),
                properties={"crop": "西红柿", "built_date": "2021-08-15"},
            ),
            Change("create", geometry=square(112.9, 39.3), properties={"crop": "黄瓜"}),
        ],
        user="t",
        source="test",
    )
    store.create(
        "ledger", None, {"title": "大棚", "category": "greenhouses", "target": 2}, user="t"
    )
    client = empty_app.test_client()
    path = tmp_path / "all.gpkg"
    response = client.get("/export/greenhouses.gpkg")
    assert response.status_code == 200
    path.write_bytes(response.data)
    return path


def test_the_export_is_geopackage_1_2(gpkg_file):
    with sqlite3.connect(gpkg_file) as db:
        (user_version,) = db.execute("PRAGMA user_version").fetchone()
        (application_id,) = db.execute("PRAGMA application_id").fetchone()
        (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'greenhouses'").fetchone()
    assert (user_version, application_id) == (GPKG_USER_VERSION, GPKG_APPLICATION_ID)
    assert (user_version, application_id.to_bytes(4, "big")) == (10200, b"GPKG")
    assert integrity == "ok"
    assert '"built_date" DATE' in sql and '"created_at" DATETIME' in sql


def test_debian_ogrinfo_reads_it_without_a_warning_with_date_types(gpkg_file):
    need_gdal()
    summary = run_gdal("ogrinfo", "-so", str(gpkg_file), "greenhouses")
    assert summary.returncode == 0, summary.stderr
    assert summary.stderr.strip() == ""  # GDAL 3.6 warns about GeoPackage 1.4
    assert "built_date: Date" in summary.stdout
    assert "created_at: DateTime" in summary.stdout and "updated_at: DateTime" in summary.stdout
    assert "crop: String" in summary.stdout
    check = run_gdal("ogrinfo", "-q", str(gpkg_file), "greenhouses")
    assert check.stderr.strip() == ""
    assert "built_date (Date) = 2021/08/15" in check.stdout
    assert "西红柿" in check.stdout


def test_every_layer_in_one_file_is_1_2_with_dates_typed(empty_app, gpkg_file, tmp_path):
    need_gdal()
    path = tmp_path / "every.gpkg"
    path.write_bytes(empty_app.test_client().get("/export/all.gpkg").data)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (GPKG_USER_VERSION,)
    summary = run_gdal("ogrinfo", "-so", "-al", str(path))
    assert summary.returncode == 0 and summary.stderr.strip() == "", summary.stderr
    assert "Layer name: ledger" in summary.stdout and "deadline: Date" in summary.stdout
