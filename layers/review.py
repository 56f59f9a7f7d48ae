"""Review (验收): the states a work feature goes through before it counts (issue #14).

Every feature of a work layer carries the system field ``review``:

- ``submitted``: created or changed by a field account, awaiting a planner's decision;
- ``approved``: decided by a planner (or written by a planner, an admin, a planner's
  import or the demo); only approved works count in the ledger, the dashboard and the
  gap analyses;
- ``returned``: sent back to the submitter with a comment (``review_comment``), to be
  corrected and sent again;
- ``rejected``: not accepted; kept for the record, never counted.

A feature without the field (data written before review existed) is approved. This module
holds the vocabulary and the counting rule; the change planner sets and guards the field,
the analyses filter with :func:`approved_only`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from geo.messages import register

REVIEW_FIELD = "review"
REVIEW_COMMENT_FIELD = "review_comment"
SUBMITTED, APPROVED, RETURNED, REJECTED = "submitted", "approved", "returned", "rejected"
REVIEW_STATES = (SUBMITTED, APPROVED, RETURNED, REJECTED)
#: zh and en names of the states, for pages, exports and messages.
REVIEW_LABELS = {
    SUBMITTED: ("待验收", "awaiting review"),
    APPROVED: ("已验收", "approved"),
    RETURNED: ("已退回", "returned"),
    REJECTED: ("未通过", "rejected"),
}

register(
    "bad_review_state",
    "验收状态“{value}”无效，可选：submitted（待验收）、approved（已验收）、"
    "returned（已退回）、rejected（未通过）",
    "The review state '{value}' is not valid; use submitted, approved, returned or rejected",
)


def review_of(props: Mapping[str, Any] | None) -> str:
    """The review state of a feature's properties (approved when the field is absent)."""
    value = (props or {}).get(REVIEW_FIELD)
    return value if value in REVIEW_STATES else APPROVED


def counts(props: Mapping[str, Any] | None) -> bool:
    """Whether a feature counts in the ledger, the dashboard and the gaps."""
    return review_of(props) == APPROVED


def approved_mask(frame: pd.DataFrame) -> np.ndarray:
    """A boolean array: which rows of a layer frame count (absent or empty = approved)."""
    if REVIEW_FIELD not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    values = frame[REVIEW_FIELD]
    return np.asarray(values.isna() | (values == "") | (values == APPROVED), dtype=bool)


def approved_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` that count (the frame itself when all of them do)."""
    mask = approved_mask(frame)
    return frame if mask.all() else frame[mask]


def review_label(state: str, lang: str) -> str:
    """The name of a review state in ``lang`` (zh or en)."""
    zh, en = REVIEW_LABELS.get(state, (state, state))
    return en if lang == "en" else zh
