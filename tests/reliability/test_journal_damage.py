"""#15 finding 1: one damaged byte in a journal must never destroy the records after it.

A torn tail (an incomplete last record, left by a crash mid-append) is the only thing
that may be dropped: it was never acknowledged. Any other damage stops the layer's load
with an error naming the file and the byte, and the journal is kept byte for byte;
``villageworks check`` reports it and never writes.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from geometries import point

from layers.journal import JournalDamaged
from layers.store import GeoJSONStore
from layers.store_base import Change

pytestmark = pytest.mark.backend_independent

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
VILLAGEWORKS = str(Path(sys.executable).with_name("villageworks"))


def copy_demo(target: Path) -> None:
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)


def check(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``villageworks check`` on ``data_dir``, in English."""
    return subprocess.run(
        [VILLAGEWORKS, "check", "--data", str(data_dir), "--lang", "en", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}


def _lights(
    data_dir: Path, batches: tuple[int, ...] = (2100, 5, 5, 5)
) -> tuple[GeoJSONStore, list[str]]:
    """The demo county with 2,100 streetlights imported, then three imports of 5."""
    copy_demo(data_dir)
    store = GeoJSONStore(data_dir)
    ids: list[str] = []
    for n, size in enumerate(batches):
        changes = [
            Change(
                "create",
                geometry=point(112.80 + (i % 60) / 500, 39.40 + i / 60 / 500 + n / 90),
                properties=LIGHT,
            )
            for i in range(size)
        ]
        ids += store.commit("streetlights", changes, user="t", source=f"import-{n}").ids
    return store, ids


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20 if data[offset] not in (0x1E, 0x0A) else 0x41
    path.write_bytes(bytes(data))


def _cold_ids(data_dir: Path) -> set[str]:
    return {f["id"] for f in GeoJSONStore(data_dir).features("streetlights")}


def test_a_flipped_byte_mid_journal_is_reported_and_nothing_is_cut(tmp_path: Path) -> None:
    store, ids = _lights(tmp_path)
    journal = store.journal("streetlights").path
    # The journal is the only copy: the layer file is rebuilt from it on load.
    store.layer_path("streetlights").unlink()
    _flip(journal, journal.stat().st_size // 2)
    before = journal.read_bytes()
    out = check(tmp_path, "--layer", "streetlights")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "journal/streetlights.geojsons is damaged at byte" in out.stdout
    assert "Traceback" not in out.stderr
    assert journal.read_bytes() == before, "check wrote to the journal"
    with pytest.raises(JournalDamaged) as caught:
        GeoJSONStore(tmp_path).count("streetlights")
    assert 0 <= caught.value.offset <= len(before) // 2
    assert journal.read_bytes() == before, "loading cut the journal"
    assert len(ids) == 2115


def test_a_torn_tail_is_the_only_thing_dropped(tmp_path: Path) -> None:
    store, ids = _lights(tmp_path)
    journal = store.journal("streetlights").path
    store.layer_path("streetlights").unlink()
    with journal.open("ab") as fh:
        fh.write(b'\x1e{"seq":99,"changes":[{"op":"put","id":"SL-9')  # a crash mid-append
    assert _cold_ids(tmp_path) == set(ids)
    out = check(tmp_path)
    assert "Traceback" not in out.stderr, out.stderr


def test_a_last_record_whose_line_end_is_damaged_is_not_taken_for_a_torn_tail(
    tmp_path: Path,
) -> None:
    store, _ids = _lights(tmp_path)
    journal = store.journal("streetlights").path
    store.layer_path("streetlights").unlink()
    _flip(journal, journal.stat().st_size - 1)
    before = journal.read_bytes()
    with pytest.raises(JournalDamaged):
        GeoJSONStore(tmp_path).count("streetlights")
    assert journal.read_bytes() == before


def test_a_write_after_damage_is_refused_and_cuts_nothing(tmp_path: Path) -> None:
    store, _ids = _lights(tmp_path)
    journal = store.journal("streetlights").path
    store.layer_path("streetlights").unlink()
    _flip(journal, 1000)
    before = journal.read_bytes()
    fresh = GeoJSONStore(tmp_path)
    with pytest.raises(JournalDamaged):
        fresh.commit(
            "streetlights",
            [Change("create", geometry=point(), properties=LIGHT)],
            user="t",
            source="t",
        )
    assert journal.read_bytes() == before


def test_random_flips_never_lose_an_acknowledged_record_silently(tmp_path: Path) -> None:
    """60 trials: a byte flipped at a random offset of the journal (the only copy of the
    layer). Each load either stops with JournalDamaged, journal untouched, or reads every
    acknowledged feature exactly as it was written."""
    base = tmp_path / "base"
    store, ids = _lights(base)
    store.layer_path("streetlights").unlink()
    want = {f["id"]: f for f in GeoJSONStore(base).features("streetlights")}
    assert set(want) == set(ids)
    rng = random.Random(15)
    size = store.journal("streetlights").path.stat().st_size
    outcomes = {"refused": 0, "intact": 0}
    for trial in range(60):
        data_dir = tmp_path / f"t{trial}"
        shutil.copytree(base, data_dir)
        journal = data_dir / "journal" / "streetlights.geojsons"
        _flip(journal, rng.randrange(size))
        damaged = journal.read_bytes()
        try:
            got = {f["id"]: f for f in GeoJSONStore(data_dir).features("streetlights")}
        except JournalDamaged:
            assert journal.read_bytes() == damaged
            outcomes["refused"] += 1
        else:
            assert got == want, f"trial {trial}: a flip changed the layer silently"
            outcomes["intact"] += 1
        shutil.rmtree(data_dir)
    assert outcomes["refused"] >= 50, outcomes


FULL_DISK = """
import resource, signal, sys
from geometries import point
from layers.store import GeoJSONStore
from layers.store_base import Change
store = GeoJSONStore(sys.argv[1])
store.count("streetlights")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
props = {"power_source": "solar", "pole_height_m": 8, "status": "working"}
try:
    result = store.commit("streetlights", [Change("create", geometry=point(), properties=props)],
                          user="t", source="t")
except OSError as exc:
    print("refused", exc.errno)
else:
    print("committed", result.ids[0])
"""


def _write_under_limit(data_dir: Path, limit: int) -> str:
    """A commit in a process that may write files up to ``limit`` bytes (a full disk:
    every write past it fails with EFBIG)."""
    support = Path(__file__).resolve().parents[1] / "support"
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(data_dir), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": f"{support}:{DEMO.parents[1]}", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_full_disk_after_the_journal_append_still_commits(tmp_path: Path) -> None:
    """#15 finding 9: the journal record is durable, the layer file rewrite then fails:
    the write is committed (it was answered 500 before) and is there after a restart."""
    store, ids = _lights(tmp_path, (5,))  # a small layer: rewritten at each commit
    before = _cold_ids(tmp_path)
    journal = store.journal("streetlights").path
    layer_file = store.layer_path("streetlights")
    limit = journal.stat().st_size + 4096  # room for the record, not for a new layer file
    assert layer_file.stat().st_size > limit
    said = _write_under_limit(tmp_path, limit)
    assert said.startswith("committed"), said
    fid = said.split()[1]
    assert _cold_ids(tmp_path) == {*before, fid} and set(ids) < before
    assert not list(layer_file.parent.glob(".*.tmp")), "a half-written copy was left"


def test_a_full_disk_during_the_journal_append_writes_nothing(tmp_path: Path) -> None:
    store, _ids = _lights(tmp_path, (1500,))
    ids = _cold_ids(tmp_path)
    journal = store.journal("streetlights").path
    before = journal.read_bytes()
    said = _write_under_limit(tmp_path, len(before) + 20)  # not room for the record
    assert said == "refused 27", said  # EFBIG
    assert journal.read_bytes() == before, "a partial record was left"
    assert _cold_ids(tmp_path) == ids
