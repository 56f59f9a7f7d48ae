"""The rules of a resident's report as it is worked (the ``reports`` layer).

The change planner applies :func:`report_problems` to every write of the layer, on
every path (the feature editor, the OGC API, the residents' API, an import), so a report
moves only along :data:`TRANSITIONS`; a rejection needs its reason; a rating comes only
once, after the report is solved. It also keeps the dates: ``solved_date`` is set the day
a report becomes solved (when the write gives none) and cleared when it is reopened.

>>> report_problems("reports", {"status": "closed"}, {"status": "new"}, 1, "2026-03-01")[0].code
'resident_bad_transition'
>>> props = {"status": "solved"}
>>> report_problems("reports", props, {"status": "in_progress"}, 1, "2026-03-01T08:00:00Z")
[]
>>> props["solved_date"]
'2026-03-01'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.messages import register
from geo.problems import Problem

LAYER = "reports"
STATUSES = ("new", "accepted", "in_progress", "solved", "closed", "rejected")
STATUS_LABELS = {
    "new": ("待受理", "New"),
    "accepted": ("已受理", "Accepted"),
    "in_progress": ("办理中", "In progress"),
    "solved": ("已解决", "Solved"),
    "closed": ("已办结", "Closed"),
    "rejected": ("不予受理", "Rejected"),
}
#: Where a report may go from each status (a planner's change; staying put is always fine).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("accepted", "in_progress", "rejected"),
    "accepted": ("in_progress", "solved", "rejected"),
    "in_progress": ("accepted", "solved", "rejected"),
    "solved": ("closed", "in_progress", "accepted"),
    "closed": ("in_progress", "accepted"),
    "rejected": ("new", "accepted"),
}
#: Statuses in which a report may be rated (and counts as solved).
RATED_AFTER = ("solved", "closed")
#: Statuses of a report shown to the public (the list, the map's "similar" search).
PUBLIC_STATUSES = ("accepted", "in_progress", "solved", "closed")
OPEN_STATUSES = ("new", "accepted", "in_progress")

for _code, _zh, _en in (
    (
        "resident_bad_transition",
        "第 {row} 行：报事不能从“{from_zh}”改为“{to_zh}”（可改为：{allowed_zh}）",
        "Row {row}: a report cannot go from '{from_en}' to '{to_en}' (allowed: {allowed_en})",
    ),
    (
        "resident_reject_reason_needed",
        "第 {row} 行：不予受理须填写原因（reject_reason）",
        "Row {row}: a rejected report needs a reason (reject_reason)",
    ),
    (
        "resident_rating_too_early",
        "第 {row} 行：报事解决后才能评价（当前状态“{status_zh}”）",
        "Row {row}: a report can be rated only once it is solved (it is '{status_en}')",
    ),
    (
        "resident_already_rated",
        "第 {row} 行：该报事已评价过，不能再次评价",
        "Row {row}: this report has already been rated",
    ),
):
    register(_code, _zh, _en)


def _labels(status: Any) -> tuple[str, str]:
    return STATUS_LABELS.get(str(status), (str(status), str(status)))


def _transition(before: str, after: str, row: int) -> list[Problem]:
    allowed = TRANSITIONS.get(before, ())
    if after == before or after in allowed or before not in TRANSITIONS:
        return []
    params = {
        "from_zh": _labels(before)[0],
        "from_en": _labels(before)[1],
        "to_zh": _labels(after)[0],
        "to_en": _labels(after)[1],
        "allowed_zh": "、".join(_labels(s)[0] for s in allowed),
        "allowed_en": ", ".join(_labels(s)[1] for s in allowed),
    }
    return [Problem("resident_bad_transition", row=row, field="status", value=after, params=params)]


def _rating(props: Mapping[str, Any], current: Mapping[str, Any] | None, row: int) -> list[Problem]:
    given = props.get("rating")
    before = (current or {}).get("rating")
    if given is None or given == before:
        return []
    if before is not None:
        return [Problem("resident_already_rated", row=row, field="rating", value=str(given))]
    status = (current or props).get("status") or "new"
    if status in RATED_AFTER:
        return []
    zh, en = _labels(status)
    params = {"status_zh": zh, "status_en": en}
    return [
        Problem(
            "resident_rating_too_early", row=row, field="rating", value=str(given), params=params
        )
    ]


def report_problems(
    layer: str,
    props: dict[str, Any],
    current: Mapping[str, Any] | None,
    row: int,
    now: str,
) -> list[Problem]:
    """The problems of one write of a report (none for another layer), and its dates.

    ``props`` are the write's checked properties (an update's are partial; the dates are
    added to them), ``current`` the report's before it (None when new), ``now`` the
    commit's UTC time.
    """
    if layer != LAYER:
        return []
    merged = {**(current or {}), **{k: v for k, v in props.items() if k in props}}
    before = str((current or {}).get("status") or "")
    after = str(merged.get("status") or "new")
    problems = _transition(before, after, row) if current is not None else []
    if after == "rejected" and not str(merged.get("reject_reason") or "").strip():
        problems.append(Problem("resident_reject_reason_needed", row=row, field="reject_reason"))
    problems.extend(_rating(props, current, row))
    if after in RATED_AFTER and before not in RATED_AFTER and not props.get("solved_date"):
        if after == "solved" or not merged.get("solved_date"):
            props["solved_date"] = now[:10]
    elif after not in RATED_AFTER and merged.get("solved_date") and current is not None:
        props["solved_date"] = None
    return problems


__all__ = [
    "OPEN_STATUSES",
    "PUBLIC_STATUSES",
    "RATED_AFTER",
    "STATUSES",
    "TRANSITIONS",
    "report_problems",
]
