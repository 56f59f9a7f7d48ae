"""Checking a data directory: every layer file and journal readable and consistent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.messages import register
from geo.problems import Problem
from layers.journal import JournalDamaged, read_records, tail_damage
from layers.layer_file import LayerFileDamaged, parse_layer_bytes, peek_seq
from layers.planner import check_geometries
from layers.specs import LayerSpec, check_rows
from layers.store import GeoJSONStore
from layers.store_base import BaseStore

#: Problems of files that hold bytes the store cannot trust: ``villageworks repair``'s work.
DAMAGE_CODES = ("journal_damaged", "layer_file_damaged")

register(
    "check_run_repair",
    "有文件损坏：运行 villageworks repair 会把损坏的部分原样另存，保留其余并重建图层"
    "（先加 --dry-run 可只看不写）",
    "Damaged files found: villageworks repair sets the damaged part aside as it is, keeps "
    "the rest and rebuilds the layer (add --dry-run to see what it would do)",
)


@dataclass
class LayerCheck:
    """What ``check_layer`` found in one layer."""

    layer: str
    features: int
    problems: list[Problem]
    journal_records: int
    pending: int

    @property
    def damaged(self) -> bool:
        """Whether a file of the layer is damaged (``villageworks repair`` mends it)."""
        return any(p.code in DAMAGE_CODES for p in self.problems)


def check_layer(store: BaseStore, layer: str) -> LayerCheck:
    """Validate one layer file and its journal without changing anything.

    Reports unreadable files, features without ids or with duplicate ids, and what the
    change planner refuses: geometries (missing, of a type the layer does not accept,
    not finite, invalid) and properties that break the layer's spec. For a database
    backend, the live features and the history as the store returns them.
    """
    spec = store.spec(layer)
    if not isinstance(store, GeoJSONStore):
        live = store.features(layer)
        found = _feature_problems(spec, live)
        return LayerCheck(layer, len(live), found, len(store.records(layer)), 0)
    path = store.layer_path(layer)
    features, problems = _layer_file_features(path)
    problems.extend(_feature_problems(spec, features))
    records, journal_problems = _journal_records(store, layer)
    problems.extend(journal_problems)
    file_seq = peek_seq(path) if path.exists() else 0
    pending = sum(1 for r in records if int(r.get("seq", 0)) > file_seq)
    return LayerCheck(layer, len(features), problems, len(records), pending)


def _layer_file_features(path: Path) -> tuple[list[dict], list[Problem]]:
    """The features of a layer file, or that it is damaged (garbage, a wrong checksum, a
    feature the store cannot load), as the store's load would say."""
    if not path.exists():
        return [], []
    try:
        doc = parse_layer_bytes(path, path.read_bytes())
    except LayerFileDamaged as exc:
        return [], [Problem("layer_file_damaged", params=exc.params)]
    return doc["features"], []


def _journal_records(store: GeoJSONStore, layer: str) -> tuple[list[dict], list[Problem]]:
    """The journal's records and what is wrong with it, read without writing anything:
    a torn last record is reported (the next write cuts it), damage is an error."""
    journal = store.journal(layer)
    name = f"journal/{layer}.geojsons"
    try:
        records, end = read_records(journal.path, 0)
    except JournalDamaged as exc:
        return [], [Problem("journal_damaged", params=exc.params)]
    size = journal.size()
    if end == size:
        return records, []
    damage = tail_damage(journal.path, end)
    if damage:
        where = {"file": name, "offset": end, "reason": damage}
        return records, [Problem("journal_damaged", params=where)]
    torn = Problem(
        "bad_request",
        value=f"{name}: {size - end} bytes after the last complete record at byte {end} "
        "(a write that was never acknowledged; the next write cuts it)",
        severity="warning",
    )
    return records, [torn]


def _feature_problems(spec: LayerSpec, features: list[dict[str, Any]]) -> list[Problem]:
    """Ids taken twice, and what the change planner's checks say of every feature (the
    store fills computed fields itself, so those are not reported)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for row, feature in enumerate(features, start=1):
        fid = feature.get("id")
        if fid is None or str(fid) in seen:
            problems.append(Problem("id_taken", row=row, field="id", value=str(fid)))
        seen.add(str(fid))
    rows = list(range(1, len(features) + 1))
    geometries = check_geometries(spec, [f.get("geometry") for f in features], rows)
    checked = check_rows(
        spec, [f.get("properties") or {} for f in features], rows, allow_computed=True
    )
    for (_, geometry_problems), (_, found) in zip(geometries, checked, strict=True):
        problems.extend(geometry_problems)
        problems.extend(p for p in found if p.severity == "error")
    return sorted(problems, key=lambda p: p.row or 0)


def check_all(data_dir: Path) -> list[LayerCheck]:
    """``check_layer`` for every layer of the data directory."""
    store = GeoJSONStore(data_dir)
    return [check_layer(store, name) for name in store.layer_names()]
