"""#15 item 1 and 11: damaged layer files are refused, not read, and ``villageworks repair``
sets the damaged part aside, keeps every record that verifies and reports what is lost.

A layer file carries a CRC-32 of its bytes (``layers/layer_file.py``); a flipped byte
anywhere in it, garbage, a truncation or a feature the store cannot take raises
``LayerFileDamaged`` (a ``DataDamaged``, 503, naming the layer). Journals and layer files
are the GeoJSON store's: those tests are skipped on PostGIS, where ``repair`` says it
has nothing to mend (tested on both backends).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from geometries import point

import layers.store as store_module
from layers.check import check_layer
from layers.errors import DataDamaged
from layers.journal import JournalDamaged, read_records
from layers.layer_file import LayerFileDamaged
from layers.repair import repair_layer
from layers.store import GeoJSONStore
from layers.store_base import Change

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
VILLAGEWORKS = str(Path(sys.executable).with_name("villageworks"))
LIGHT = {"power_source": "solar", "pole_height_m": 8, "status": "working"}
files_only = pytest.mark.backend_independent  # journals and layer files: GeoJSON only


def cli(command: str, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``villageworks <command>`` on ``data_dir``, in English."""
    return subprocess.run(
        [VILLAGEWORKS, command, "--data", str(data_dir), "--lang", "en", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_demo(target: Path, *, layers: bool = True) -> Path:
    for sub in ("layers", "specs") if layers else ("specs",):
        shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)
    return target


def lights(n: int, row: int = 0) -> list[Change]:
    """``n`` new streetlights in rows of 40, from grid row ``row`` on."""
    return [
        Change(
            "create",
            geometry=point(112.80 + (i % 40) / 400, 39.40 + (row + i // 40) / 400),
            properties=LIGHT,
        )
        for i in range(n)
    ]


def flip(path: Path, offset: int, mask: int = 0x20) -> bytes:
    """XOR one byte of ``path`` with ``mask``; returns the damaged bytes."""
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))
    return bytes(data)


def by_id(store: GeoJSONStore, layer: str = "streetlights") -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in store.features(layer)}


def record_spans(journal: Path) -> list[tuple[int, int, int]]:
    """``(start, end, seq)`` of each record of an intact journal."""
    data, spans, pos = journal.read_bytes(), [], 0
    for record in read_records(journal)[0]:
        end = data.index(b"\n", pos) + 1
        spans.append((pos, end, int(record["seq"])))
        pos = end
    return spans


def replay(records: list[dict[str, Any]], skip: set[int]) -> dict[str, dict[str, Any]]:
    """The live features the records (but those of seqs in ``skip``) leave, by id."""
    live: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["seq"] in skip:
            continue
        for change in record["changes"]:
            if change["op"] == "put":
                live[str(change["id"])] = {**change["feature"], "id": str(change["id"])}
            elif change["op"] == "delete":
                live.pop(str(change["id"]), None)
    return live


def assert_sound(data_dir: Path, layer: str = "streetlights") -> None:
    """No damage left: ``check`` finds none and a fresh store loads the layer."""
    store = GeoJSONStore(data_dir)
    found = check_layer(store, layer)
    assert not found.damaged, [p.message("en") for p in found.problems]
    store.count(layer)


# --------------------------------------------------------------- the layer file's checksum
@files_only
def test_a_flipped_byte_in_a_layer_file_is_refused_and_repair_rebuilds_it(tmp_path: Path) -> None:
    """The layer's whole history is in its journal: the rebuilt layer is the same."""
    copy_demo(tmp_path, layers=False)
    store = GeoJSONStore(tmp_path)
    store.commit("streetlights", lights(60), user="t", source="import-1")
    ids = store.commit("streetlights", lights(5, 9), user="t", source="import-2").ids
    store.commit("streetlights", [Change("delete", id=ids[0])], user="t", source="t")
    want, next_before = by_id(store), store.next_id("streetlights")
    layer_file = store.layer_path("streetlights")
    assert layer_file.read_bytes().endswith(b'"}\n') and b'"vw:crc32":"' in layer_file.read_bytes()
    assert orjson.loads(layer_file.read_bytes())["type"] == "FeatureCollection"  # still GeoJSON
    damaged = flip(layer_file, layer_file.stat().st_size // 2)  # a digit or letter: valid JSON
    with pytest.raises(LayerFileDamaged) as caught:
        GeoJSONStore(tmp_path).count("streetlights")
    assert isinstance(caught.value, DataDamaged) and caught.value.status == 503
    assert caught.value.layer == "streetlights"
    assert "layers/streetlights.geojson" in caught.value.user_message("en")
    out = cli("check", tmp_path, "--layer", "streetlights")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
    assert "The layer file layers/streetlights.geojson is damaged (checksum" in out.stdout
    assert "villageworks repair" in out.stdout
    out = cli("repair", tmp_path, "--layer", "streetlights")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "was set aside as layers/streetlights.geojson.damaged-" in out.stdout
    (aside,) = (tmp_path / "layers").glob("streetlights.geojson.damaged-*")
    assert aside.read_bytes() == damaged, "the damaged file was not kept as it was"
    fresh = GeoJSONStore(tmp_path)
    assert by_id(fresh) == want
    assert fresh.next_id("streetlights") == next_before
    assert cli("check", tmp_path, "--layer", "streetlights").returncode == 0
    assert ids[0] not in by_id(fresh)  # the delete was replayed too


@files_only
def test_a_seeded_layer_file_damaged_reports_what_only_it_held(tmp_path: Path) -> None:
    """The demo villages were never journalled: the repair keeps what the journal has,
    names the rest lost (exit 1), keeps the file aside and never reuses a lost id."""
    copy_demo(tmp_path)
    store = GeoJSONStore(tmp_path)
    seeded = set(by_id(store, "villages"))
    props = {"name": "新村", "township": "岱岳镇", "households": 10, "population": 30}
    create = [Change("create", geometry=point(), properties=props)]
    new = store.commit("villages", create, user="t", source="t").ids[0]
    layer_file = store.layer_path("villages")
    flip(layer_file, layer_file.stat().st_size // 3)
    dry = cli("repair", tmp_path, "--layer", "villages", "--dry-run")
    assert dry.returncode == 1 and "would be set aside" in dry.stdout, dry.stdout + dry.stderr
    assert not list((tmp_path / "layers").glob("villages.geojson.damaged-*")), "dry run wrote"
    out = cli("repair", tmp_path, "--layer", "villages")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{len(seeded)} feature(s) seen in it are not in the journal" in out.stdout
    assert "the journal starts at seq 2" in out.stdout
    fresh = GeoJSONStore(tmp_path)
    assert set(by_id(fresh, "villages")) == {new}
    again = fresh.commit("villages", create, user="t", source="t").ids[0]
    assert again not in seeded | {new}
    assert_sound(tmp_path, "villages")


GARBAGE = {
    "not JSON": b"garbage\x00{",
    "truncated": None,  # the demo file cut in the middle
    "an array": b"[]",
    "properties a list": b'{"type":"FeatureCollection","features":[{"type":"Feature","id":"W-1",'
    b'"geometry":null,"properties":[1]}]}',
    "no id": b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,'
    b'"properties":{}}]}',
    "a bad seq": b'{"type":"FeatureCollection","vw:seq":"x","features":[]}',
}


@files_only
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_a_garbage_layer_file_is_reported_and_the_other_layers_work(
    tmp_path: Path, kind: str
) -> None:
    copy_demo(tmp_path)
    wells = tmp_path / "layers" / "wells.geojson"
    data = GARBAGE[kind]
    wells.write_bytes(data if data is not None else wells.read_bytes()[: wells.stat().st_size // 2])
    store = GeoJSONStore(tmp_path)
    with pytest.raises(LayerFileDamaged) as caught:
        store.count("wells")
    assert caught.value.layer == "wells" and "layers/wells.geojson" in str(caught.value)
    assert store.count("villages") == 133
    out = cli("check", tmp_path)
    assert "Traceback" not in out.stderr and out.returncode == 1, out.stdout + out.stderr
    assert "wells: 0 features" in out.stdout and "layers/wells.geojson is damaged" in out.stdout
    assert "villages: 133 features, 0 journal records, 0 not yet compacted: ok" in out.stdout
    out = cli("repair", tmp_path, "--layer", "wells")
    assert out.returncode == 1 and "could not be recovered" in out.stdout, out.stdout
    assert_sound(tmp_path, "wells")


@files_only
def test_a_damaged_layer_file_is_not_parsed_again_while_it_stays_as_it_is(tmp_path: Path) -> None:
    """Each request of a damaged layer is refused at once (no parse of a big file every
    time); once the file changes (repaired, replaced) it is read again."""
    copy_demo(tmp_path)
    wells = tmp_path / "layers" / "wells.geojson"
    wells.write_bytes(b'{"type":"FeatureCollection","features":[] x')
    store = GeoJSONStore(tmp_path)
    with pytest.raises(LayerFileDamaged, match="not valid JSON"):
        store.count("wells")
    stat = wells.stat()
    with open(wells, "r+b") as fh:  # other bytes, same size, time and inode: not re-read
        fh.write(b"[1,2,3]" + b" " * (stat.st_size - 7))
    os.utime(wells, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(LayerFileDamaged, match="not valid JSON"):
        store.count("wells")
    shutil.copyfile(DEMO / "layers" / "wells.geojson", wells)
    assert store.count("wells") == 63


@files_only
def test_layer_files_without_a_checksum_still_load(tmp_path: Path) -> None:
    """The demo county's files and a hand-made, pretty-printed one."""
    copy_demo(tmp_path)
    demo = orjson.loads((DEMO / "layers" / "wells.geojson").read_bytes())
    hand = tmp_path / "layers" / "wells.geojson"
    hand.write_bytes(orjson.dumps(demo, option=orjson.OPT_INDENT_2))
    store = GeoJSONStore(tmp_path)
    assert store.count("wells") == len(demo["features"])
    assert store.count("villages") == 133
    assert not check_layer(store, "wells").problems
    assert cli("repair", tmp_path).returncode == 0


@files_only
def test_a_file_laid_out_anew_loads_and_one_edited_is_refused(tmp_path: Path) -> None:
    """The checksum is of the content: indenting keeps it, changing a value does not."""
    copy_demo(tmp_path, layers=False)
    store = GeoJSONStore(tmp_path)
    store.commit("streetlights", lights(7), user="t", source="t")
    want = by_id(store)
    path = store.layer_path("streetlights")
    doc = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    assert by_id(GeoJSONStore(tmp_path)) == want
    assert not check_layer(GeoJSONStore(tmp_path), "streetlights").problems
    doc["features"][3]["properties"]["status"] = "faulty"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    with pytest.raises(LayerFileDamaged, match="checksum"):
        GeoJSONStore(tmp_path).count("streetlights")
    assert check_layer(GeoJSONStore(tmp_path), "streetlights").damaged


# ------------------------------------------------------------------------ the journal
def _lagging(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> GeoJSONStore:
    """Streetlights written only through the store (the journal holds every change),
    compacted after the fourth record; four more records wait in the journal, as for a
    big layer (compaction at once only below 100 features here)."""
    monkeypatch.setattr(store_module, "COMPACT_AT_ONCE_MAX_FEATURES", 100)
    copy_demo(data_dir, layers=False)
    store = GeoJSONStore(data_dir)
    ids = store.commit("streetlights", lights(150), user="t", source="import-0").ids
    for n in range(1, 4):
        store.commit("streetlights", lights(3, 10 * n), user="t", source=f"import-{n}")
    store.compact("streetlights")
    for n in range(4, 6):
        store.commit("streetlights", lights(3, 10 * n), user="t", source=f"import-{n}")
    update = Change("update", id=ids[1], properties={"status": "faulty"})
    store.commit("streetlights", [update], user="t", source="t")
    store.commit("streetlights", [Change("delete", id=ids[2])], user="t", source="t")
    return store


@files_only
def test_repair_keeps_the_records_after_a_flipped_byte_mid_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _lagging(tmp_path, monkeypatch)
    journal = store.journal("streetlights").path
    records = read_records(journal)[0]
    spans = record_spans(journal)
    start, end, seq = spans[5]  # seq 6, not yet in the layer file
    damaged = flip(journal, (start + end) // 2)
    with pytest.raises(JournalDamaged):
        GeoJSONStore(tmp_path).count("streetlights")
    out = cli("repair", tmp_path, "--layer", "streetlights")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"bytes {start}-{end - 1} of the journal are damaged: the changes of seq 6" in out.stdout
    (aside,) = (tmp_path / "journal").glob("streetlights.geojsons.damaged-*")
    assert aside.read_bytes() == damaged
    kept = [r["seq"] for r in read_records(journal)[0]]
    assert kept == [1, 2, 3, 4, 5, 7, 8], "records after the damage must be kept, in order"
    assert by_id(GeoJSONStore(tmp_path)) == replay(records, {seq})
    assert cli("check", tmp_path, "--layer", "streetlights").returncode == 0
    again = GeoJSONStore(tmp_path).commit("streetlights", lights(1), user="t", source="t")
    assert again.ids[0] not in {c["id"] for r in records for c in r["changes"]}


@files_only
def test_random_flips_are_refused_and_repair_loses_only_the_damaged_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 seeded trials, a random byte XORed at a random offset: 60 of the layer file, 60
    of the journal, after real imports. Each load is refused with a DataDamaged (a layer
    file's checksum covers every byte; only a line end turned into a space keeps its
    content, which its checksum then still verifies) or reads exactly what was written; after
    ``repair`` the layer holds every acknowledged change but those of the record the flip
    hit, which the repair names (as lost history when the layer file holds its result)."""
    base = tmp_path / "base"
    store = _lagging(base, monkeypatch)
    records = read_records(store.journal("streetlights").path)[0]
    spans = record_spans(store.journal("streetlights").path)
    file_seq = orjson.loads(store.layer_path("streetlights").read_bytes())["vw:seq"]
    want = replay(records, set())
    used_ids = {str(c["id"]) for r in records for c in r["changes"]}
    assert by_id(GeoJSONStore(base)) == want and file_seq == 4
    rng = random.Random(1515)
    seen = {"refused": 0, "intact": 0, "lost": 0, "history": 0}
    for trial in range(120):
        data_dir = tmp_path / f"t{trial}"
        shutil.copytree(base, data_dir)
        target = (
            data_dir / "layers" / "streetlights.geojson"
            if trial % 2
            else data_dir / "journal" / "streetlights.geojsons"
        )
        offset = rng.randrange(target.stat().st_size)
        damaged = flip(target, offset, rng.randrange(1, 256))
        try:
            got = by_id(GeoJSONStore(data_dir))
        except DataDamaged:
            assert target.read_bytes() == damaged, f"trial {trial}: loading wrote"
            seen["refused"] += 1
        else:
            assert got == want, f"trial {trial}: a flip changed the layer silently"
            seen["intact"] += 1
        report = repair_layer(GeoJSONStore(data_dir), "streetlights")
        hit = {s for a, b, s in spans if a <= offset < b} if target.suffix == ".geojsons" else set()
        lost = set(report.lost_changes) | set(report.lost_history)
        assert lost <= hit, f"trial {trial}: repair dropped {lost - hit}, the flip hit {hit}"
        assert report.complete == (not lost), report.lines("en")
        assert set(report.lost_history) <= {s for s in hit if s <= file_seq}
        assert by_id(GeoJSONStore(data_dir)) == replay(records, set(report.lost_changes)), (
            f"trial {trial}: after the repair the layer is not its records but the lost ones"
        )
        for aside in report.set_aside:
            assert aside.read_bytes() == damaged, f"trial {trial}: the damaged file changed"
        assert_sound(data_dir)
        after = GeoJSONStore(data_dir).commit("streetlights", lights(1), user="t", source="t")
        assert after.ids[0] not in used_ids and after.seq > len(records), f"trial {trial}"
        seen["lost"] += bool(report.lost_changes)
        seen["history"] += bool(report.lost_history)
        shutil.rmtree(data_dir)
    assert seen["refused"] >= 55 and seen["lost"] and seen["history"], seen


# ---------------------------------------------------------------------- both backends
def test_repair_of_a_sound_data_directory_changes_nothing(tmp_path: Path) -> None:
    """On PostGIS there are no files to mend: repair says so."""
    copy_demo(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    out = cli("repair", tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    if "PostgreSQL" not in out.stdout:
        assert "villages: no damaged file" in out.stdout
    after = {
        p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "locks" not in p.parts
    }
    assert after == {p: b for p, b in before.items() if "locks" not in p.parts}
