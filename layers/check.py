"""Checking a data directory: every layer file and journal readable and consistent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from geo.problems import Problem
from layers.journal import read_records
from layers.specs import LayerSpec, validate_properties
from layers.store import GeoJSONStore
from layers.store_base import BaseStore


@dataclass
class LayerCheck:
    """What ``check_layer`` found in one layer."""

    layer: str
    features: int
    problems: list[Problem]
    journal_records: int
    pending: int


def check_layer(store: BaseStore, layer: str) -> LayerCheck:
    """Validate one layer file and its journal without changing anything.

    Reports unreadable files, features without ids or with duplicate ids, geometry types
    the layer does not accept, and properties that break the layer's spec. For a database
    backend, the live features and the history as the store returns them.
    """
    spec = store.spec(layer)
    problems: list[Problem] = []
    if not isinstance(store, GeoJSONStore):
        live = store.features(layer)
        found = _feature_problems(spec, live)
        return LayerCheck(layer, len(live), found, len(store.records(layer)), 0)
    path = store.layer_path(layer)
    features: list[dict] = []
    if path.exists():
        try:
            doc = orjson.loads(path.read_bytes())
            features = list(doc.get("features", []))
            if doc.get("type") != "FeatureCollection":
                problems.append(
                    Problem("bad_request", value=f"{path.name}: not a FeatureCollection")
                )
        except orjson.JSONDecodeError as exc:
            problems.append(Problem("bad_request", value=f"{path.name}: {exc}"))
    problems.extend(_feature_problems(spec, features))
    records, end = read_records(store.journal(layer).path, 0)
    size = store.journal(layer).size()
    if end != size:
        problems.append(
            Problem(
                "bad_request",
                value=f"journal/{layer}.geojsons: "
                f"{size - end} bytes after the last complete record "
                "(a write that was never acknowledged; cut at the next write)",
                severity="warning",
            )
        )
    return LayerCheck(layer, len(features), problems, len(records), store.pending(layer))


def _feature_problems(spec: LayerSpec, features: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for row, feature in enumerate(features, start=1):
        fid = feature.get("id")
        if fid is None or str(fid) in seen:
            problems.append(Problem("id_taken", row=row, field="id", value=str(fid)))
        seen.add(str(fid))
        geometry = feature.get("geometry")
        if spec.spatial:
            gtype = (geometry or {}).get("type")
            if gtype not in spec.geometry:
                problems.append(
                    Problem(
                        "geometry_type",
                        row=row,
                        value=str(gtype),
                        params={
                            "row": row,
                            "layer": spec.label_in("zh"),
                            "layer_en": spec.label_in("en"),
                            "allowed": "/".join(spec.geometry),
                        },
                    )
                )
        _clean, found = validate_properties(
            spec, feature.get("properties") or {}, row, allow_computed=True
        )
        problems.extend(p for p in found if p.severity == "error")
    return problems


def check_all(data_dir: Path) -> list[LayerCheck]:
    """``check_layer`` for every layer of the data directory."""
    store = GeoJSONStore(data_dir)
    return [check_layer(store, name) for name in store.layer_names()]
