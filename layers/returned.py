"""Works sent back to their submitters, and the captures made on phones (issue #14).

A planner's ``returned`` decision (:mod:`layers.review`) sends a work back to whoever
submitted it: the account that created it, or the one whose change the planner decided on
(the last change that was not itself a review decision). That account sees the work on
``/capture`` and on its upload list with the planner's comment, corrects it on the
feature page and sends it again (its change makes the work ``submitted`` once more).

The same notion of "submitter" gives the field account's edit rule
(:func:`is_submitter`): a field account may change a work it submitted that is not
approved, and nothing else (see :mod:`webmap.write_rights`).

Everything here reads the store (``review`` and ``source`` are filtered in the backend's
query: SQL on PostGIS, the column table on GeoJSON), so a county of a million approved
works costs one filtered scan per layer, and only the few returned works are decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from layers.review import APPROVED, RETURNED, REVIEW_COMMENT_FIELD, REVIEW_SOURCE, review_of
from layers.specs import LayerSpec
from layers.store_base import BaseStore

#: The ``source`` of a feature captured on a phone (:mod:`layers.capture`).
CAPTURE_SOURCE = "capture"
#: Most captures listed on the upload page.
MAX_CAPTURES = 500


@dataclass(frozen=True)
class WorkRow:
    """One work feature as the capture and upload pages list it."""

    layer: str
    id: str
    title: str
    review: str
    comment: str
    by: str
    at: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def work_title(spec: LayerSpec, props: Mapping[str, Any]) -> str:
    """The feature's title field (or ``name``) when it has one, else ""."""
    name = spec.title_field or ("name" if spec.field("name") else None)
    return str(props.get(name) or "") if name else ""


def _row(spec: LayerSpec, feature: Mapping[str, Any], when: str = "updated_at") -> WorkRow:
    props = feature.get("properties") or {}
    return WorkRow(
        layer=spec.name,
        id=str(feature["id"]),
        title=work_title(spec, props),
        review=review_of(props),
        comment=str(props.get(REVIEW_COMMENT_FIELD) or ""),
        by=str(props.get("created_by") or ""),
        at=str(props.get(when) or props.get("created_at") or ""),
        source=str(props.get("source") or ""),
    )


def submitter(store: BaseStore, layer: str, feature: Mapping[str, Any]) -> str:
    """Who submitted the feature's current state: the author of its last change that was
    not a review decision (its creator when it was never changed)."""
    props = feature.get("properties") or {}
    for entry in reversed(store.history(layer, str(feature["id"]))):
        if entry.get("source") != REVIEW_SOURCE:
            return str(entry.get("by") or "")
    return str(props.get("created_by") or "")


def is_submitter(store: BaseStore, layer: str, feature: Mapping[str, Any], name: str) -> bool:
    """Whether the account ``name`` created the feature or submitted its current state."""
    props = feature.get("properties") or {}
    if not name:
        return False
    if props.get("created_by") == name or props.get("updated_by") == name:
        return True
    return submitter(store, layer, feature) == name


def returned_to(
    store: BaseStore, name: str, specs: Iterable[LayerSpec] | None = None
) -> list[WorkRow]:
    """The works returned to the account ``name`` (it created them or submitted the
    change that was returned), newest decision first."""
    rows = []
    for spec in specs if specs is not None else store.specs:
        if not spec.reviewed:
            continue
        found = store.query(spec.name, equals={"review": RETURNED}).features
        rows += [_row(spec, f) for f in found if is_submitter(store, spec.name, f, name)]
    return sorted(rows, key=lambda r: r.at, reverse=True)


def returned_of_uploads(
    store: BaseStore, uploads: Iterable[Mapping[str, Any]]
) -> dict[str, list[WorkRow]]:
    """For each upload record of ``uploads`` (not undone), its works now ``returned``."""
    out: dict[str, list[WorkRow]] = {}
    for meta in uploads:
        spec = store.specs.get(str(meta.get("layer") or ""))
        if spec is None or not spec.reviewed or meta.get("status") == "undone":
            continue
        terms = {"source": f"upload:{meta.get('upload_id')}", "review": RETURNED}
        found = store.query(spec.name, equals=terms).features
        if found:
            out[str(meta["upload_id"])] = [_row(spec, f) for f in found]
    return out


def captures(store: BaseStore, *, limit: int = MAX_CAPTURES) -> tuple[list[WorkRow], int]:
    """The live features captured on phones (source ``capture``), newest first, at most
    ``limit``; and how many there are in all."""
    rows: list[WorkRow] = []
    for spec in store.specs:
        if spec.kind != "work":
            continue
        found = store.query(spec.name, equals={"source": CAPTURE_SOURCE}).features
        rows += [_row(spec, f, "created_at") for f in found]
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[:limit], len(rows)


def may_correct(store: BaseStore, layer: str, feature: Mapping[str, Any], name: str) -> bool:
    """The field account's edit rule: ``name`` submitted the work and it is not approved."""
    props = feature.get("properties") or {}
    return review_of(props) != APPROVED and is_submitter(store, layer, feature, name)


__all__ = [
    "CAPTURE_SOURCE",
    "WorkRow",
    "captures",
    "is_submitter",
    "may_correct",
    "returned_of_uploads",
    "returned_to",
    "submitter",
    "work_title",
]
