"""Lists of a layer's features to act on at once ("mark these 12 lights repaired"):
filtered by status and township, with what a list row shows and the version each was
read at (a change in between is refused, not overwritten)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.analyses import tag_townships, township_areas
from layers.specs import LayerSpec
from layers.store_base import BaseStore

#: Features listed at most (the rest are counted; filter to reach them).
BULK_LIMIT = 500


def bulk_rows(
    store: BaseStore, spec: LayerSpec, status: str = "", township_id: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """Rows (``id``, ``title``, ``status``, ``township``, ``version``) of the layer's
    features with ``status`` and in ``township_id`` (either "" for any), by id, at most
    :data:`BULK_LIMIT`, and how many match in all."""
    frame = store.frame(spec.name)
    if len(frame) == 0:
        return [], 0
    keep = np.ones(len(frame), dtype=bool)
    if status and spec.status_field and spec.status_field in frame.columns:
        keep &= (frame[spec.status_field].astype(object) == status).to_numpy()
    townships = township_areas(store)
    named = frame[keep]
    if spec.spatial and len(townships) and len(named):
        named = tag_townships(named, townships)
    if township_id and "township_id" in named.columns:
        named = named[(named["township_id"] == township_id).to_numpy()]
    total = len(named)
    named = named.sort_values("id").head(BULK_LIMIT)
    title = spec.title_field
    rows = []
    for record in named.drop(columns=named.geometry.name).to_dict("records"):
        rows.append(
            {
                "id": str(record["id"]),
                "title": str(record.get(title) or "") if title else "",
                "status": record.get(spec.status_field) if spec.status_field else None,
                "township": record.get("township") or "",
                "version": int(record.get("version") or 1),
            }
        )
    return rows, total
