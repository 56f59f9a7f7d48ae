"""A report about a work: accepting it marks the work faulty, solving it restores it.

A report's ``feature`` names the work it is about (``streetlights/SL-000044``). When a
planner accepts the report (or puts it in progress) the work's status becomes ``faulty``
(if its layer has that status), so the lighting-gap analysis stops counting the light;
the status it had is kept on the report (``feature_status_before``). When the report is
solved, closed or rejected, the work gets that status back. Both are ordinary changes by
the same author, through ``Store.commit``: the change planner applies the review rules
(a planner's change is approved) and the author's townships: a work outside them is
left as it is (logged), the report's own change stands.

:func:`follow_links` runs after every commit of the ``reports`` layer
(``BaseStore.commit``); it does nothing for other layers and nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from layers.changes import Change
from layers.errors import VillageWorksError

log = logging.getLogger(__name__)
LAYER = "reports"
SOURCE = "report"
FAULTY = "faulty"
BEFORE_FIELD = "feature_status_before"
#: Report statuses in which the linked work is faulty, and those that restore it.
MARKING = ("accepted", "in_progress")
RESTORING = ("solved", "closed", "rejected")


class LinkedStore(Protocol):
    """What :func:`follow_links` needs of a store."""

    @property
    def specs(self) -> Any: ...

    def get(self, layer: str, fid: str) -> dict[str, Any] | None: ...

    def commit(self, layer: str, changes: Iterable[Change], *, user: str, source: str) -> Any: ...


def linked_work(store: LinkedStore, link: Any) -> tuple[str, str, str] | None:
    """(layer, id, status field) of the work a report names, when its layer has a
    ``faulty`` status; None otherwise.

    >>> linked_work(None, "no slash") is None
    True
    """
    text = str(link or "")
    if "/" not in text:
        return None
    layer, fid = text.split("/", 1)
    spec = store.specs.get(layer)
    if spec is None or not spec.status_field:
        return None
    status = spec.field(spec.status_field)
    if status is None or FAULTY not in status.values:
        return None
    return layer, fid, spec.status_field


def _follow(store: LinkedStore, report: Mapping[str, Any], user: str) -> None:
    props = report.get("properties") or {}
    found = linked_work(store, props.get("feature"))
    if found is None:
        return
    layer, fid, field = found
    work = store.get(layer, fid)
    if work is None:
        return
    now = (work.get("properties") or {}).get(field)
    before = props.get(BEFORE_FIELD)
    status = props.get("status")
    keep: dict[str, str | None]
    if status in MARKING and not before:
        if now != FAULTY:
            store.commit(layer, [Change("update", id=fid, properties={field: FAULTY})],
                         user=user, source=SOURCE)  # fmt: skip
        keep = {BEFORE_FIELD: str(now or FAULTY)}
    elif status in RESTORING and before:
        if now == FAULTY and before != FAULTY:
            store.commit(layer, [Change("update", id=fid, properties={field: before})],
                         user=user, source=SOURCE)  # fmt: skip
        keep = {BEFORE_FIELD: None}
    else:
        return
    change = Change("update", id=str(report["id"]), properties=keep)
    store.commit(LAYER, [change], user=user, source=SOURCE)


def follow_links(
    store: LinkedStore, layer: str, features: Iterable[Mapping[str, Any]], user: str
) -> None:
    """After a commit of ``layer``: mark or restore the works its reports name."""
    if layer != LAYER or LAYER not in store.specs:
        return
    for report in list(features):
        try:
            _follow(store, report, user)
        except VillageWorksError as exc:  # the report's change stands; the work is unchanged
            log.warning("report %s: its work was not updated: %s", report.get("id"), exc)


__all__ = ["follow_links", "linked_work"]
