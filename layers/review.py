"""Review (验收): the states a work feature goes through before it counts (issue #14).

Every feature of a work layer carries the system field ``review``:

- ``submitted``: created or changed by a field account, awaiting a planner's decision;
- ``approved``: decided by a planner (or written by a planner, an admin, a planner's
  import or the demo); only approved works count in the ledger, the dashboard and the
  gap analyses;
- ``returned``: sent back to the submitter with a comment (``review_comment``), to be
  corrected and sent again;
- ``rejected``: not accepted; kept for the record, never counted.

A feature without the field (data written before review existed) is approved: old data is
not rewritten, every new write sets the field. This module holds the vocabulary, the
counting rule and the write rule; the change planner applies :func:`review_system` to every
write of a work layer, whatever the entry point, and :func:`decide` commits planners'
decisions through the same ``Store.commit``; the analyses filter with :func:`approved_only`.

Who sets what (the author of a change, :class:`layers.changes.Author`):

- a field account's create or change leaves the work ``submitted`` (its last decision's
  comment kept, for the planner to see what was asked); a field account that sends
  ``review`` or ``review_comment`` gets 403;
- a planner's or an admin's write, a trusted writer's (the demo, a script, the CLI) and a
  planner's import leave it ``approved``, unless it gives ``review`` itself (a decision):
  ``returned`` and ``rejected`` need a comment (422 otherwise);
- a scoped planner decides only inside its areas (:mod:`layers.scopes`, 403 otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from geo.messages import register
from geo.problems import Problem
from layers.changes import Author, Change, author_of
from layers.errors import BadRequest, Forbidden
from layers.specs import LayerSpec

REVIEW_FIELD = "review"
REVIEW_COMMENT_FIELD = "review_comment"
#: Why a planner approved a work that lacks the evidence its layer asks for
#: (:mod:`layers.evidence`); kept on the work and in its history.
REVIEW_OVERRIDE_FIELD = "review_override"
SUBMITTED, APPROVED, RETURNED, REJECTED = "submitted", "approved", "returned", "rejected"
REVIEW_STATES = (SUBMITTED, APPROVED, RETURNED, REJECTED)
#: The states that keep a work from counting.
_HELD = frozenset((SUBMITTED, RETURNED, REJECTED))
#: zh and en names of the states, for pages, exports and messages.
REVIEW_LABELS = {
    SUBMITTED: ("待验收", "awaiting review"),
    APPROVED: ("已验收", "approved"),
    RETURNED: ("已退回", "returned"),
    REJECTED: ("未通过", "rejected"),
}

#: The source of a commit of review decisions (in the history).
REVIEW_SOURCE = "review"
#: Longest review comment kept.
MAX_COMMENT = 2000
#: Roles that decide reviews (a trusted writer counts as an admin).
DECIDING_ROLES = ("planner", "admin")

for _code, _zh, _en in (
    (
        "bad_review_state",
        "验收状态“{value}”无效，可选：submitted（待验收）、approved（已验收）、"
        "returned（已退回）、rejected（未通过）",
        "The review state '{value}' is not valid; use submitted, approved, returned or rejected",
    ),
    (
        "review_by_planner_only",
        "验收（review、review_comment）只能由规划或管理员账号决定，账号“{user}”不能设置",
        "Review (review, review_comment) is decided by planner or admin accounts only; the "
        "account '{user}' cannot set it",
    ),
    (
        "review_comment_needed",
        "第 {row} 行：验收结果“{state}”需要填写意见（review_comment），说明原因",
        "Row {row}: the review decision '{state}' needs a comment (review_comment) saying why",
    ),
    (
        "review_comment_too_long",
        "第 {row} 行：验收意见太长（{length} 个字符，上限 {limit}）",
        "Row {row}: the review comment is too long ({length} characters, at most {limit})",
    ),
    (
        "review_not_on_layer",
        "第 {row} 行：图层“{layer}”不做验收，不能设置 review 或 review_comment",
        "Row {row}: the layer '{layer}' is not reviewed; review and review_comment cannot be set",
    ),
    ("review_no_ids", "没有选择要验收的要素", "No feature was chosen for the review decision"),
):
    register(_code, _zh, _en)


def review_of(props: Mapping[str, Any] | None) -> str:
    """The review state of a feature's properties (approved when the field is absent)."""
    value = (props or {}).get(REVIEW_FIELD)
    return value if value in REVIEW_STATES else APPROVED


def counts(props: Mapping[str, Any] | None) -> bool:
    """Whether a feature counts in the ledger, the dashboard and the gaps."""
    return review_of(props) == APPROVED


def approved_mask(frame: pd.DataFrame) -> np.ndarray:
    """A boolean array: which rows of a layer frame count (absent, empty or unknown =
    approved, as :func:`review_of`).

    One comparison of the column (about 20 ms for a million rows), then the few rows
    that are not ``approved`` one by one.

    >>> approved_mask(pd.DataFrame({"review": ["approved", None, "submitted", "rejected"]}))
    array([ True,  True, False, False])
    """
    if REVIEW_FIELD not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    values = frame[REVIEW_FIELD].to_numpy(dtype=object)
    mask = np.asarray(values == APPROVED, dtype=bool)
    rest = np.flatnonzero(~mask)
    if rest.size > len(values) // 4:
        held = (values == SUBMITTED) | (values == RETURNED) | (values == REJECTED)
        return np.asarray(~held, dtype=bool)
    if rest.size:
        mask[rest] = [v not in _HELD for v in values[rest].tolist()]
    return mask


def approved_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` that count (the frame itself when all of them do)."""
    mask = approved_mask(frame)
    return frame if mask.all() else frame[mask]


def review_label(state: str, lang: str) -> str:
    """The name of a review state in ``lang`` (zh or en)."""
    zh, en = REVIEW_LABELS.get(state, (state, state))
    return en if lang == "en" else zh


def given_review(props: Mapping[str, Any] | None) -> tuple[Any, Any]:
    """The ``review`` and ``review_comment`` a change sends (None: not sent)."""
    props = props or {}
    return props.get(REVIEW_FIELD), props.get(REVIEW_COMMENT_FIELD)


def review_system(
    author: Author,
    spec: LayerSpec,
    given: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    row: int,
) -> tuple[dict[str, Any], list[Problem]]:
    """The review properties a create or change by ``author`` leaves a feature with
    (``review_comment`` None: removed), and the problems of what it sent.

    ``given`` are the properties the change sends, ``current`` the feature's before it
    (None for a new one). Raises :class:`Forbidden` when an account that does not decide
    (a field account) sends a review or a comment. See the module docstring for the rule.
    """
    state, comment = given_review(given)
    if not spec.reviewed:
        if state is None and comment is None:
            return {}, []
        params = {"row": row, "layer": spec.label_in("zh"), "layer_en": spec.label_in("en")}
        return {}, [Problem("review_not_on_layer", row=row, field=REVIEW_FIELD, params=params)]
    override = (given or {}).get(REVIEW_OVERRIDE_FIELD)
    if author.role not in DECIDING_ROLES:
        if state is not None or comment is not None or override is not None:
            raise Forbidden("review_by_planner_only", user=author.name)
        return {REVIEW_FIELD: SUBMITTED, REVIEW_COMMENT_FIELD: (current or {}).get(
            REVIEW_COMMENT_FIELD
        ), REVIEW_OVERRIDE_FIELD: None}, []  # fmt: skip
    decided, problems = _decision(state, comment, row)
    reason = str(override).strip()[:MAX_COMMENT] if override is not None else ""
    decided[REVIEW_OVERRIDE_FIELD] = (
        reason if reason and decided[REVIEW_FIELD] == APPROVED else None
    )
    return decided, problems


def _decision(state: Any, comment: Any, row: int) -> tuple[dict[str, Any], list[Problem]]:
    """The review properties of a decider's write (no state sent: approved)."""
    problems: list[Problem] = []
    state = APPROVED if state is None else state
    if state not in REVIEW_STATES:
        value = str(state)[:40]
        problems.append(Problem("bad_review_state", row=row, field=REVIEW_FIELD, value=value))
    text = str(comment).strip() if comment is not None else ""
    if len(text) > MAX_COMMENT:
        params: dict[str, Any] = {"row": row, "length": len(text), "limit": MAX_COMMENT}
        problems.append(
            Problem("review_comment_too_long", row=row, field=REVIEW_COMMENT_FIELD, params=params)
        )
    if state in (RETURNED, REJECTED) and not text:
        zh, en = REVIEW_LABELS[state]
        params = {"row": row, "state": zh, "state_en": en}
        problems.append(
            Problem("review_comment_needed", row=row, field=REVIEW_COMMENT_FIELD, params=params)
        )
    return {REVIEW_FIELD: state, REVIEW_COMMENT_FIELD: text or None}, problems


class ReviewedStore(Protocol):
    """What :func:`decide` needs of a store: its one commit."""

    def commit(self, layer: str, changes: Iterable[Change], *, user: str, source: str) -> Any: ...


def decide(
    store: ReviewedStore,
    layer: str,
    ids: Iterable[str],
    decision: str,
    comment: str | None,
    author: Any,
    *,
    if_versions: Mapping[str, int] | None = None,
    override: str | None = None,
) -> Any:
    """Commit one review decision (``approved``, ``returned``, ``rejected``, or back to
    ``submitted``) with ``comment`` for every feature of ``ids`` of ``layer``, all at once
    or not at all, through ``Store.commit`` and its change planner: 403 for an author who
    does not decide or a scoped planner outside its areas (naming them and the
    township), 422 for an unknown state or a return or rejection without a comment, 404
    for an unknown id, 412 when ``if_versions`` names a version that moved. Each feature's
    history then holds the decision, its comment, who and when (source ``review``).
    ``override`` is the reason to approve works that lack their layer's evidence
    (:mod:`layers.evidence`; without it such an approval is 422).
    ``author`` is a :class:`~layers.changes.Author`, an account (``layers.users.User``)
    or a trusted writer's name. Returns the :class:`~layers.commit.CommitResult`.
    """
    wanted = list(dict.fromkeys(str(i) for i in ids))
    if not wanted:
        raise BadRequest("review_no_ids")
    versions = if_versions or {}
    props = {REVIEW_FIELD: decision, REVIEW_COMMENT_FIELD: comment}
    if override:
        props[REVIEW_OVERRIDE_FIELD] = override
    changes = [
        Change("update", id=fid, properties=dict(props), if_version=versions.get(fid))
        for fid in wanted
    ]
    return store.commit(layer, changes, user=author_of(author), source=REVIEW_SOURCE)
