"""scripts/bench.py still runs: every row on tiny layers (no pygeoapi, no browser)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_smoke_run_writes_the_table(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench.py"),
            "--smoke",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard: the machine is shared, a smoke run can take minutes
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "| row | measure | features | ours | target | met | peer (same run) | ratio |" in text
    rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")}
    for row in (
        "items",
        "commit",
        "import",
        "map",
        "gaps",
        "nearest",
        "memory",
        "startup",
        "dashboard",
        "zipbomb",
        "peers",
    ):
        assert row in rows, f"no {row} figures in:\n{text}"
    assert "ogr2ogr" in text or "n/a" in text
    # The peers row of a smoke run: ours on the GeoJSON store only, nothing installed.
    peers = [line for line in text.splitlines() if line.startswith("| peers |")]
    assert any("requests/s" in line and "GeoJSON store" in line for line in peers), peers
    assert not (tmp_path / "work" / "tipg-venv").exists()
    assert (tmp_path / "work" / "results.json").exists()
