"""The ``villageworks`` command honours the settings the web app honours.

Each test runs the real command in a subprocess, on a data directory written by
``villageworks demo``, with the setting in the environment, as a user would.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.ops import nearest_points

ROOT = Path(__file__).resolve().parents[2]
BOUNDARIES = ROOT / "data" / "demo" / "layers" / "boundaries.geojson"


def villageworks(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "webmap.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A data directory written by ``villageworks demo`` (copied before each test writes)."""
    data = tmp_path_factory.mktemp("demo") / "data"
    done = villageworks("demo", "--data", str(data))
    assert done.returncode == 0, done.stderr
    return data


@pytest.fixture
def data_dir(seeded, tmp_path):
    return Path(shutil.copytree(seeded, tmp_path / "data"))


def point_outside_the_county(distance_m: float) -> tuple[float, float]:
    """A lon/lat ``distance_m`` outside the real county boundary, moved outward from the
    boundary point nearest the county's western edge, in a metric CRS."""
    boundaries = gpd.read_file(BOUNDARIES)
    county = boundaries[boundaries["level"] == "county"].geometry
    metric_crs = county.estimate_utm_crs()
    shape = county.to_crs(metric_crs).union_all()
    west = shapely.Point(shape.bounds[0] - 5000, shape.centroid.y)
    edge = nearest_points(shape.boundary, west)[0]
    dx, dy = west.x - edge.x, west.y - edge.y
    norm = math.hypot(dx, dy)
    moved = shapely.Point(edge.x + dx / norm * distance_m, edge.y + dy / norm * distance_m)
    assert shape.distance(moved) == pytest.approx(distance_m, abs=1.0)
    lonlat = gpd.GeoSeries([moved], crs=metric_crs).to_crs(4326).iloc[0]
    return round(lonlat.x, 7), round(lonlat.y, 7)


def points_inside_the_county(count: int) -> list[tuple[float, float]]:
    """``count`` distinct lon/lat about 17 m apart, around a point inside the county."""
    boundaries = gpd.read_file(BOUNDARIES)
    inside = boundaries[boundaries["level"] == "county"].union_all().representative_point()
    side = math.ceil(math.sqrt(count))
    return [
        (round(inside.x + 0.0002 * (i % side), 7), round(inside.y + 0.0002 * (i // side), 7))
        for i in range(count)
    ]


@pytest.fixture
def csv_1km_outside(tmp_path):
    lon, lat = point_outside_the_county(1000)
    path = tmp_path / "lights.csv"
    path.write_text(f"lon,lat,power_source,status\n{lon},{lat},solar,working\n")
    return path


def import_lights(path: Path, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    args = ("import", str(path), "--layer", "streetlights", "--data", str(data_dir))
    return villageworks(*args, "--lang", "en", **env)


def streetlight_count(data_dir: Path) -> str:
    listed = villageworks("layers", "--data", str(data_dir))
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("streetlights ")]
    return line.split()[1]


def test_import_refuses_a_point_outside_the_margin_and_says_why(csv_1km_outside, data_dir):
    before = streetlight_count(data_dir)
    done = import_lights(csv_1km_outside, data_dir, VILLAGEWORKS_AREA_MARGIN_M="500")
    assert done.returncode != 0
    assert "outside the working area" in done.stderr
    assert "500 m around it" in done.stderr
    assert "VILLAGEWORKS_AREA_MARGIN_M" in done.stderr
    assert streetlight_count(data_dir) == before


def test_import_accepts_the_same_point_with_a_2000_m_margin(csv_1km_outside, data_dir):
    done = import_lights(csv_1km_outside, data_dir, VILLAGEWORKS_AREA_MARGIN_M="2000")
    assert done.returncode == 0, done.stderr
    assert "added 1 feature(s) to streetlights" in done.stdout


def test_import_refuses_a_file_over_the_upload_cap_and_names_it(tmp_path, data_dir):
    rows = [f"{lon},{lat},solar,working\n" for lon, lat in points_inside_the_county(40_000)]
    path = tmp_path / "big.csv"
    path.write_text("lon,lat,power_source,status\n" + "".join(rows))
    assert 1024 * 1024 < path.stat().st_size < 2 * 1024 * 1024
    done = import_lights(path, data_dir, VILLAGEWORKS_MAX_UPLOAD_MB="1")
    assert done.returncode != 0
    assert "over the limit of 1 MB" in done.stderr
    assert "VILLAGEWORKS_MAX_UPLOAD_MB" in done.stderr
    args = ("import", str(path), "--layer", "streetlights", "--data", str(data_dir))
    assert "超过上限 1 MB" in villageworks(*args, VILLAGEWORKS_MAX_UPLOAD_MB="1").stderr
    within_cap = villageworks(*args, "--dry-run", VILLAGEWORKS_MAX_UPLOAD_MB="2")
    assert within_cap.returncode == 0, within_cap.stderr
    assert "would add 40000 feature(s)" in within_cap.stdout
