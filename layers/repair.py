"""``villageworks repair``: set damaged files aside, keep every record that verifies, rebuild.

For each layer of a GeoJSON data directory (its lock held, so no writer appends meanwhile):

* a damaged journal is hard-linked aside as ``journal/<layer>.geojsons.damaged-<UTC>``
  (never deleted) and replaced, atomically, by a journal of every record that still
  verifies, in order and byte for byte (:func:`layers.journal.scan_journal`). The layer
  file's ``vw:journal_offset`` is moved to the same record in the new journal.
* a damaged layer file is set aside as ``layers/<layer>.geojson.damaged-<UTC>`` and the
  layer rebuilt by replaying its journal from the start. The journal holds every change
  ever made here, so that is the whole layer, unless the layer came with data (the demo
  county, a hand-made file) that only its file held: then what the journal never
  touched is reported lost, by id, and stays in the file set aside.

Lost records are reported by byte range and seq: changes the layer no longer has, or
only history when the layer file already holds their result. Nothing is guessed: a
record or a file that does not verify is never read into the layer. ``--dry-run``
reports the same and writes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from geo.messages import register, render
from geo.problems import Problem
from layers.check import check_layer
from layers.errors import DataDamaged
from layers.journal import JournalScan, atomic_write_chunks, fsync_dir, scan_journal
from layers.layer_file import LayerFileDamaged, layer_file_chunks, verify_layer_file
from layers.snapshot import remove_snapshot
from layers.store import GeoJSONStore
from layers.store_base import next_id_after

for _code, _zh, _en in (
    ("repair_nothing", "{layer}：没有损坏的文件", "{layer}: no damaged file"),
    (
        "repair_dry_run",
        "{layer}：演练（--dry-run），未写入任何内容",
        "{layer}: dry run (--dry-run), nothing was written",
    ),
    (
        "repair_set_aside",
        "{layer}：损坏的 {file} 已原样另存为 {aside}（未删除）",
        "{layer}: the damaged {file} was set aside as {aside}, as it was (never deleted)",
    ),
    (
        "repair_would_set_aside",
        "{layer}：损坏的 {file} 将原样另存为 {aside}（未删除）",
        "{layer}: the damaged {file} would be set aside as {aside}, as it was",
    ),
    (
        "repair_journal_kept",
        "{layer}：新日志保留了全部 {kept} 条校验通过的记录，顺序不变",
        "{layer}: the new journal keeps all {kept} records that verify, in order",
    ),
    (
        "repair_lost_changes",
        "{layer}：日志第 {start}–{end} 字节损坏：序号 {seqs} 的更改已丢失，无法恢复",
        "{layer}: bytes {start}-{end} of the journal are damaged: the changes of seq {seqs} "
        "are lost and could not be recovered",
    ),
    (
        "repair_lost_history",
        "{layer}：日志第 {start}–{end} 字节损坏：序号 {seqs} 的记录已丢失，但图层文件已包含"
        "其结果；只缺少这些更改的历史",
        "{layer}: bytes {start}-{end} of the journal are damaged: the records of seq {seqs} "
        "are lost, but the layer file holds their result; only their history is missing",
    ),
    (
        "repair_torn_tail",
        "{layer}：日志末尾 {size} 字节是一次未完成、未确认的写入，已舍弃",
        "{layer}: the last {size} bytes of the journal were a write that never completed "
        "and was never acknowledged: dropped",
    ),
    (
        "repair_file_reason",
        "{layer}：{file} 损坏：{reason}",
        "{layer}: {file} is damaged: {reason}",
    ),
    (
        "repair_base_lost",
        "{layer}：日志从序号 {first} 开始，更早的数据只保存在损坏的图层文件中，无法恢复："
        "其中可见 {count} 个不在日志中的要素（{ids}）；该文件仍保存在 {aside}",
        "{layer}: the journal starts at seq {first}; what came before was only in the damaged "
        "layer file and could not be recovered: {count} feature(s) seen in it are not in the "
        "journal ({ids}); the file is still in {aside}",
    ),
    (
        "repair_base_lost_no_journal",
        "{layer}：该图层没有日志，数据只保存在损坏的图层文件中，无法恢复：其中可见 {count} "
        "个要素（{ids}）；该文件仍保存在 {aside}",
        "{layer}: the layer has no journal; its data was only in the damaged layer file and "
        "could not be recovered: {count} feature(s) seen in it ({ids}); the file is still in "
        "{aside}",
    ),
    (
        "repair_rebuilt",
        "{layer}：图层已重建：{features} 个要素，序号 {seq}",
        "{layer}: the layer was rebuilt: {features} features, up to seq {seq}",
    ),
    (
        "repair_check_failed",
        "{layer}：修复后检查仍发现损坏：",
        "{layer}: the check after the repair still finds damage:",
    ),
    (
        "repair_postgis",
        "图层保存在 PostgreSQL 中；villageworks repair 只修复 GeoJSON 存储的文件",
        "The layers are kept in PostgreSQL; villageworks repair mends the GeoJSON store's files",
    ),
):
    register(_code, _zh, _en)

_NEXT_ID = re.compile(rb'"vw:next_id":\s*(\d+)')
_SEQ_HINT = re.compile(rb'"(?:vw:)?seq":(\d{1,12})[,}]')
_ANY_ID = re.compile(rb'"id":"([^"\\]{1,64})"')
_FEATURE_ID = re.compile(rb'"type":"Feature","id":"([^"\\]{1,64})"')


@dataclass
class Note:
    """One line of a repair's report; ``lost``: something could not be recovered.
    ``problem``: a damage found, told in its own words (file, byte, reason)."""

    code: str
    params: dict[str, Any]
    lost: bool = False
    problem: Problem | None = None

    def message(self, lang: str = "zh") -> str:
        said = render(self.code, lang, **self.params)
        return said if self.problem is None else f"{said} {self.problem.message(lang)}"


@dataclass
class LayerRepair:
    """What ``repair_layer`` found and did for one layer."""

    layer: str
    dry_run: bool
    notes: list[Note] = field(default_factory=list)
    #: Seqs whose changes the layer no longer has, and seqs lost from the history only.
    lost_changes: list[int] = field(default_factory=list)
    lost_history: list[int] = field(default_factory=list)
    #: Byte ranges ``[start, end)`` of the old journal that held no record that verifies.
    lost_ranges: list[tuple[int, int]] = field(default_factory=list)
    #: Ids only the damaged layer file held, not recovered.
    base_lost: list[str] = field(default_factory=list)
    set_aside: list[Path] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return any(n.code.endswith("set_aside") for n in self.notes)

    @property
    def complete(self) -> bool:
        """Whether everything that was acknowledged is in the layer (and its history)."""
        return not any(n.lost for n in self.notes)

    def note(
        self, code: str, *, lost: bool = False, problem: Problem | None = None, **params: Any
    ) -> None:
        self.notes.append(Note(code, {"layer": self.layer, **params}, lost, problem))

    def lines(self, lang: str = "zh") -> list[str]:
        return [n.message(lang) for n in self.notes]


@dataclass
class _Found:
    """The state of a layer's two files before anything is written."""

    scan: JournalScan
    head: dict[str, Any] | None = None  # the layer file's members, if it verifies
    damage: LayerFileDamaged | None = None
    file_bytes: bytes = b""  # a damaged layer file's bytes (for its ids)
    file_aside: str = ""  # where the damaged layer file is (or would be) set aside


def repair_data_dir(
    data_dir: Path, layers: list[str] | None = None, *, dry_run: bool = False
) -> list[LayerRepair]:
    """:func:`repair_layer` for ``layers`` (default: every layer) of ``data_dir``."""
    store = GeoJSONStore(data_dir)
    names = layers or store.layer_names()
    for name in names:
        store.spec(name)  # an unknown layer fails before anything is written
    return [repair_layer(store, name, dry_run=dry_run) for name in names]


def repair_layer(store: GeoJSONStore, layer: str, *, dry_run: bool = False) -> LayerRepair:
    """Set aside what is damaged in ``layer``'s journal and file, keep every record that
    verifies and rebuild the layer from them; report what could not be recovered."""
    report = LayerRepair(layer, dry_run)
    with store.layer_lock(layer):
        found = _inspect(store, layer)
        if not found.scan.damaged and found.damage is None:
            report.note("repair_nothing")
            return report
        if dry_run:
            report.note("repair_dry_run")
        _report_journal(report, found)
        stamp = store.clock().replace("-", "").replace(":", "")
        offset = _mend_journal(store, layer, found, stamp, report)
        _mend_file(store, layer, found, stamp, offset, report)
        if not dry_run:
            _rebuild(store, layer, found, report)
        elif found.damage is not None:
            _report_base(store, layer, found, report)
    return report


def _inspect(store: GeoJSONStore, layer: str) -> _Found:
    path = store.journal(layer).path
    found = _Found(scan_journal(path.read_bytes() if path.exists() else b""))
    layer_path = store.layer_path(layer)
    if layer_path.exists():
        try:
            found.head = verify_layer_file(layer_path)
        except LayerFileDamaged as exc:
            found.damage = exc
            found.file_bytes = layer_path.read_bytes()
    return found


def _file_offset(found: _Found) -> int | None:
    """The old journal's offset the layer file was compacted at, when the file verifies
    and that offset is in this journal (else None: every record counts as a change)."""
    if found.head is None:
        return None
    offset = found.head.get("vw:journal_offset") or 0
    return offset if offset <= len(found.scan.data) else None


def _report_journal(report: LayerRepair, found: _Found) -> None:
    """The lost byte ranges of the journal, each named by the seqs between the records
    around it, as lost changes or (before the layer file's offset) lost history."""
    scan, file_offset = found.scan, _file_offset(found)
    file_seq = int((found.head or {}).get("vw:seq") or 0)
    for start, end in scan.lost:
        before = [seq for text_start, _e, seq in scan.kept if text_start < start]
        after = [seq for text_start, _e, seq in scan.kept if text_start > end]
        first = (before[-1] if before else 0) + 1
        in_file = file_offset is not None and end <= file_offset
        if after or in_file:
            # Up to the next record, or (before the file's offset) the file's seq.
            last = after[0] - 1 if after else file_seq
            seqs = list(range(first, max(first, last) + 1))
            named = f"{first}" if len(seqs) == 1 else f"{first}-{seqs[-1]}"
        else:
            seqs, named = [first], f"{first}+"  # the journal's end: seq first and after
        report.lost_ranges.append((start, end))
        where: dict[str, Any] = {"start": start, "end": end - 1, "seqs": named}
        if in_file:
            report.lost_history += seqs
            report.note("repair_lost_history", lost=True, **where)
        else:
            report.lost_changes += seqs
            report.note("repair_lost_changes", lost=True, **where)
    if scan.torn_at is not None and scan.damaged:
        report.note("repair_torn_tail", size=len(scan.data) - scan.torn_at)


def _aside(path: Path, stamp: str) -> Path:
    """A new name beside ``path`` for its damaged copy."""
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    return target


def _set_aside(path: Path, target: Path) -> None:
    """Keep ``path`` as it is under ``target`` too (a hard link, else a copy), durably,
    before anything replaces it: at no moment is the damaged original gone."""
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(target.parent)


def _mend_journal(
    store: GeoJSONStore, layer: str, found: _Found, stamp: str, report: LayerRepair
) -> int:
    """Set a damaged journal aside and write the records that verify in its place;
    returns the new journal's offset of the layer file's ``vw:journal_offset``."""
    scan, path = found.scan, store.journal(layer).path
    file_offset = _file_offset(found) or 0
    offset = 0
    for text_start, text_end, _seq in scan.kept:
        if text_start < file_offset:
            offset += text_end - text_start + 2
    if not scan.damaged:
        return file_offset
    target = _aside(path, stamp)
    code = "repair_would_set_aside" if report.dry_run else "repair_set_aside"
    report.note(code, file=f"journal/{path.name}", aside=f"journal/{target.name}")
    report.note("repair_journal_kept", kept=len(scan.kept))
    if not report.dry_run:
        _set_aside(path, target)
        report.set_aside.append(target)
        atomic_write_chunks(path, scan.texts())
    return offset


def _mend_file(
    store: GeoJSONStore,
    layer: str,
    found: _Found,
    stamp: str,
    offset: int,
    report: LayerRepair,
) -> None:
    """A damaged layer file set aside and replaced by an empty one that says to replay
    the whole journal (its next id past every id it seems to have held); a sound one
    rewritten with its offset into the new journal."""
    path = store.layer_path(layer)
    if found.damage is None:
        if found.head is not None and found.scan.damaged and not report.dry_run:
            store.rewrite_layer_file(layer, **{"vw:journal_offset": offset})
        return
    target = _aside(path, stamp)
    code = "repair_would_set_aside" if report.dry_run else "repair_set_aside"
    where: dict[str, Any] = {"file": f"layers/{path.name}", "aside": f"layers/{target.name}"}
    found.file_aside = where["aside"]
    report.note("repair_file_reason", file=where["file"], reason=found.damage.reason)
    report.note(code, **where)
    if report.dry_run:
        return
    _set_aside(path, target)
    report.set_aside.append(target)
    head = {
        "type": "FeatureCollection",
        "name": layer,
        "vw:seq": 0,
        "vw:journal_offset": 0,
        "vw:next_id": 1,
        "vw:idempotency": {},
    }
    atomic_write_chunks(path, layer_file_chunks(head, []))
    remove_snapshot(path)


def _floors(store: GeoJSONStore, layer: str, found: _Found, report: LayerRepair) -> dict[str, int]:
    """The ``vw:next_id`` and ``vw:seq`` the rebuilt layer must not go below: past every
    id and seq the lost journal bytes and a damaged layer file seem to hold, so a new
    feature never takes the id of a lost one, nor a new change the seq of a lost change
    (a client may hold either)."""
    lost = [found.scan.data[a:b] for a, b in found.scan.lost] + [found.file_bytes]
    next_id, seq = 1, max([*report.lost_changes, 0])
    for data in lost:
        next_id = next_id_after(store.spec(layer), next_id, _ids_in(data))
        for hint in _NEXT_ID.findall(data[:65536]):
            next_id = max(next_id, int(hint))
        for hint in _SEQ_HINT.findall(data):
            seq = max(seq, int(hint))
    return {"vw:next_id": next_id, "vw:seq": seq}


def _ids_in(data: bytes) -> Iterator[str]:
    return (m.decode("utf-8", "replace") for m in _ANY_ID.findall(data))


def _rebuild(store: GeoJSONStore, layer: str, found: _Found, report: LayerRepair) -> None:
    """Load the mended files, write the layer file from them, and check the result."""
    store.forget(layer)
    store.compact(layer)
    floors = _floors(store, layer, found, report)
    state = {"vw:next_id": store.next_id(layer), "vw:seq": store.version(layer)}
    if any(floors[key] > state[key] for key in floors):
        raised = {key: max(floors[key], state[key]) for key in floors}
        store.rewrite_layer_file(layer, **raised)
    if found.damage is not None:
        _report_base(store, layer, found, report)
    report.note("repair_rebuilt", features=store.count(layer), seq=store.version(layer))
    fresh = GeoJSONStore(store.data_dir, store.specs)
    try:
        problems = check_layer(fresh, layer).problems
    except DataDamaged as exc:  # not expected: the files were just written
        problems = [Problem(exc.code, params=exc.params)]
    for problem in problems:
        if problem.code in ("journal_damaged", "layer_file_damaged"):
            report.note("repair_check_failed", lost=True, problem=problem)


def _kept_records(scan: JournalScan) -> Iterator[dict[str, Any]]:
    for start, end, _seq in scan.kept:
        record = orjson.loads(scan.data[start:end])
        if isinstance(record, dict):
            yield record


def _report_base(store: GeoJSONStore, layer: str, found: _Found, report: LayerRepair) -> None:
    """What a damaged layer file held that the journal cannot give back: everything
    before the journal's first record, unless that is seq 1 (the layer's first change)."""
    kept = found.scan.kept
    if kept and kept[0][2] == 1 and kept[0][0] == 1:
        return  # the journal holds every change from the layer's first
    if report.dry_run:
        have = {str(c.get("id")) for r in _kept_records(found.scan) for c in r.get("changes", [])}
    else:
        have = {str(f["id"]) for f in store.features(layer)}
    ids = (m.decode("utf-8", "replace") for m in _FEATURE_ID.findall(found.file_bytes))
    missing = [fid for fid in dict.fromkeys(ids) if fid not in have]
    report.base_lost = missing
    shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
    where: dict[str, Any] = {
        "count": len(missing),
        "ids": shown or "-",
        "aside": found.file_aside,
    }
    if kept:
        report.note("repair_base_lost", lost=True, first=kept[0][2], **where)
    else:
        report.note("repair_base_lost_no_journal", lost=True, **where)
