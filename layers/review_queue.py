"""The review queue (验收): the works awaiting a planner's decision, with what a planner
needs to decide each one.

For each submission: where it is (township), how far it lies from the nearest counted
feature of its layer (a second light at the same pole is a duplicate, one 3 km from any
other is worth a look), the ledger item it counts towards, and what it changes against
the last approved version of the same feature (nothing for a new work). The queue is
limited to townships when the planner's account is (issue #14, accounts scoped to areas).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import shape

from geo.measures import nearest_distance_m
from geo.problems import Problem
from layers.analyses import tag_townships, township_areas
from layers.evidence import evidence_problems
from layers.photos import PhotoStore
from layers.review import REVIEW_FIELD, SUBMITTED, approved_mask, review_of
from layers.specs import SYSTEM_FIELDS, LayerSpec
from layers.store_base import BaseStore

#: Submissions listed at most per page of the queue.
QUEUE_LIMIT = 500
#: Nearest-neighbour search radius: farther than this reads as "none within 5 km".
NEAREST_WITHIN_M = 5000.0
#: Properties that are not the work's own (left out of "what changed").
_NOT_COMPARED = {*SYSTEM_FIELDS, REVIEW_FIELD, "review_comment"}


@dataclass
class Submission:
    """One work awaiting review, with the facts the review page shows."""

    layer: str
    id: str
    feature: dict[str, Any]
    township_id: str | None
    township: str | None
    nearest_m: float | None
    ledger_item: str | None
    #: (field, approved value, submitted value) for a change of an approved work.
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    #: Whether an approved version exists: False for a new work, None when the work came
    #: with the data and its earlier version was never recorded.
    changed_approved: bool | None = False
    #: What it lacks of its layer's evidence rules (approving it then needs a reason).
    evidence: list[Problem] = field(default_factory=list)

    @property
    def props(self) -> Mapping[str, Any]:
        """The submitted properties."""
        return self.feature.get("properties") or {}

    @property
    def lonlat(self) -> tuple[float, float] | None:
        """A representative point (lon, lat), or None without a geometry."""
        geometry = self.feature.get("geometry")
        if not geometry:
            return None
        point = shape(geometry).representative_point()
        return (round(point.x, 7), round(point.y, 7))


def work_layers(store: BaseStore) -> list[LayerSpec]:
    """The layers whose features are reviewed (work layers)."""
    return [spec for spec in store.specs if spec.kind == "work"]


def pending_counts(
    store: BaseStore, areas: Collection[str] | None = None
) -> dict[str, dict[str, int]]:
    """Per work layer, per township id ("" when outside every township): how many works
    await review (``submitted``), within ``areas`` (township ids) when given."""
    out: dict[str, dict[str, int]] = {}
    townships = township_areas(store)
    for spec in work_layers(store):
        frame = _submitted(store.frame(spec.name))
        if len(frame) == 0:
            continue
        ids = _township_ids(frame, townships, spec)
        keep = _in_areas(ids, areas)
        counted = pd.Series(ids[keep]).fillna("").value_counts()
        if len(counted):
            out[spec.name] = {str(k): int(v) for k, v in counted.items()}
    return out


def review_queue(
    store: BaseStore,
    *,
    areas: Collection[str] | None = None,
    layer: str | None = None,
    township_id: str | None = None,
    limit: int = QUEUE_LIMIT,
) -> tuple[list[Submission], int]:
    """The submissions (oldest first), at most ``limit``, and how many there are in all;
    only of ``layer`` and in ``township_id`` when given, only in ``areas`` (township ids)
    when the account is scoped."""
    townships = township_areas(store)
    names = dict(zip(townships["township_id"], townships["township"], strict=True))
    picked: list[Submission] = []
    total = 0
    for spec in work_layers(store):
        if layer and spec.name != layer:
            continue
        whole = store.frame(spec.name)
        frame = _submitted(whole)
        if len(frame) == 0:
            continue
        ids = _township_ids(frame, townships, spec)
        keep = _in_areas(ids, areas)
        if township_id:
            keep &= np.array([i == township_id for i in ids], dtype=bool)
        frame, ids = frame[keep], ids[keep]
        total += len(frame)
        room = max(0, limit - len(picked))
        if not room or len(frame) == 0:
            continue
        nearest = _nearest_counted(spec, frame, whole)
        for pos, fid in enumerate(frame["id"].astype(str).to_numpy()[:room]):
            found = store.get(spec.name, fid)
            if found is None:
                continue
            tid = ids[pos]
            picked.append(_submission(store, spec, found, tid, names.get(tid), nearest[pos]))
    picked.sort(key=lambda s: (str(s.props.get("updated_at") or ""), s.layer, s.id))
    return picked, total


def submission(store: BaseStore, layer: str, fid: str) -> Submission | None:
    """One feature as the review page shows it (whatever its review state), or None."""
    spec = store.spec(layer)
    found = store.get(layer, fid)
    if found is None:
        return None
    townships = township_areas(store)
    names = dict(zip(townships["township_id"], townships["township"], strict=True))
    frame = store.frame(layer)
    row = frame[frame["id"].astype(str) == str(fid)]
    tid = _township_ids(row, townships, spec)[0] if len(row) else None
    nearest = _nearest_counted(spec, row, frame)[0] if len(row) else None
    return _submission(store, spec, found, tid, names.get(tid), nearest)


def _submission(
    store: BaseStore,
    spec: LayerSpec,
    found: dict[str, Any],
    township_id: str | None,
    township: str | None,
    nearest: float | None,
) -> Submission:
    props = found.get("properties") or {}
    fid = str(found["id"])
    history = store.history(spec.name, fid)
    lacking: list[Problem] = []
    if spec.evidence.any:
        photos = len(PhotoStore(store.files).for_feature(spec.name, fid))
        lacking = evidence_problems(spec.evidence, props, photos)
    approved = approved_version(history)
    unrecorded = approved is None and bool(history) and history[0].get("op") != "create"
    return Submission(
        layer=spec.name,
        id=str(found["id"]),
        feature=found,
        township_id=township_id,
        township=township,
        nearest_m=None if nearest is None or np.isnan(nearest) else round(float(nearest), 1),
        ledger_item=str(props.get("ledger_item") or "") or None,
        changes=changed_fields(approved, found) if approved is not None else [],
        changed_approved=None if unrecorded else approved is not None,
        evidence=lacking,
    )


def approved_version(history: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The body of the feature's last approved version before its latest change (None
    when it was never approved: a new work)."""
    for entry in reversed(list(history)[:-1]):
        body = entry.get("feature")
        if body and entry.get("op") != "delete" and review_of(body.get("properties")) == "approved":
            return dict(body)
    return None


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of each work field that differs, then ``geometry`` when the
    location moved."""
    old, new = before.get("properties") or {}, after.get("properties") or {}
    keys = [k for k in {**old, **new} if k not in _NOT_COMPARED]
    out = [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]
    if before.get("geometry") != after.get("geometry"):
        out.append(("geometry", before.get("geometry"), after.get("geometry")))
    return out


def _submitted(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if REVIEW_FIELD not in frame.columns or len(frame) == 0:
        return frame.iloc[0:0]
    return frame[(frame[REVIEW_FIELD] == SUBMITTED).to_numpy()]


def _township_ids(
    frame: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, spec: LayerSpec
) -> np.ndarray:
    if not spec.spatial or len(townships) == 0:
        return np.full(len(frame), None, dtype=object)
    return np.asarray(tag_townships(frame, townships)["township_id"].to_numpy(), dtype=object)


def _in_areas(ids: np.ndarray, areas: Collection[str] | None) -> np.ndarray:
    if areas is None:
        return np.ones(len(ids), dtype=bool)
    wanted = set(areas)
    return np.array([i in wanted for i in ids], dtype=bool)


def _nearest_counted(
    spec: LayerSpec, frame: gpd.GeoDataFrame, whole: gpd.GeoDataFrame
) -> np.ndarray:
    """Metres from each row of ``frame`` to the nearest other counted feature of the layer."""
    if not spec.spatial or len(frame) == 0:
        return np.full(len(frame), np.nan)
    counted = whole[approved_mask(whole)]
    counted = counted[~counted["id"].astype(str).isin(set(frame["id"].astype(str)))]
    if len(counted) == 0:
        return np.full(len(frame), np.nan)
    return nearest_distance_m(frame, counted, max_distance_m=NEAREST_WITHIN_M)
