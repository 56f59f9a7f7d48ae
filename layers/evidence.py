"""Evidence rules of a layer (issue #14): what a submission must carry before a planner
may approve it, declared in the layer's TOML spec::

    [evidence]
    min_photos = 1          # at least one photo linked to the feature
    max_accuracy_m = 10     # a GPS fix within 10 m (a tap on the map has no fix)

A submission that breaks them is kept and flagged on the review page; approving it needs
an override with a reason, which is recorded in the feature's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo.messages import register
from geo.problems import Problem

#: The property a capture records its GPS accuracy in (metres; absent when unknown).
ACCURACY_FIELD = "gps_accuracy_m"

for _code, _zh, _en in (
    (
        "evidence_photos",
        "需要至少 {needed} 张照片，现有 {have} 张",
        "At least {needed} photo(s) needed; it has {have}",
    ),
    (
        "evidence_accuracy",
        "定位精度需在 {limit_m} 米以内，本次约 {accuracy_m} 米",
        "The GPS fix must be within {limit_m} m; this one is about {accuracy_m} m",
    ),
    (
        "evidence_accuracy_unknown",
        "定位精度需在 {limit_m} 米以内，但本次没有记录精度",
        "The GPS fix must be within {limit_m} m, but none was recorded",
    ),
    (
        "evidence_override_needed",
        "“{title}”不满足证据要求（{problems}）：要通过，请勾选“破例通过”并写明原因",
        "'{title}' lacks the evidence this layer asks for ({problems}): to approve it, "
        "tick 'approve anyway' and give the reason",
    ),
):
    register(_code, _zh, _en)


class EvidenceError(ValueError):
    """An ``[evidence]`` table of a spec that is not valid (the message says why)."""


@dataclass(frozen=True)
class EvidenceRules:
    """What a submission of a layer must carry; the defaults ask for nothing."""

    min_photos: int = 0
    max_accuracy_m: float | None = None

    @property
    def any(self) -> bool:
        """Whether the layer asks for any evidence."""
        return self.min_photos > 0 or self.max_accuracy_m is not None


def parse_evidence(
    raw: Any, where: str, error: type[Exception] = EvidenceError
) -> EvidenceRules | None:
    """The ``[evidence]`` table of a spec; None when the spec has none (no rules, or the
    rules of the spec it extends). Raises ``error`` (a spec's own error class) saying
    what is wrong.

    >>> parse_evidence({"min_photos": 1, "max_accuracy_m": 10}, "lights.toml")
    EvidenceRules(min_photos=1, max_accuracy_m=10.0)
    >>> try:
    ...     parse_evidence({"photos": 1}, "lights.toml")
    ... except EvidenceError as exc:
    ...     print(exc)
    lights.toml: [evidence] has unknown keys ['photos']; known: max_accuracy_m, min_photos
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise error(f"{where}: [evidence] must be a table")
    unknown = sorted(set(raw) - {"min_photos", "max_accuracy_m"})
    if unknown:
        raise error(
            f"{where}: [evidence] has unknown keys {unknown}; known: max_accuracy_m, min_photos"
        )
    photos = raw.get("min_photos", 0)
    if not isinstance(photos, int) or isinstance(photos, bool) or not 0 <= photos <= 20:
        raise error(f"{where}: [evidence] min_photos must be a whole number 0-20")
    accuracy = raw.get("max_accuracy_m")
    if accuracy is not None and (
        isinstance(accuracy, bool) or not isinstance(accuracy, int | float) or accuracy <= 0
    ):
        raise error(f"{where}: [evidence] max_accuracy_m must be a positive number")
    return EvidenceRules(photos, None if accuracy is None else float(accuracy))


def evidence_problems(rules: EvidenceRules, props: Mapping[str, Any], photos: int) -> list[Problem]:
    """What a submission with properties ``props`` and ``photos`` linked photos lacks.

    >>> rules = EvidenceRules(min_photos=1, max_accuracy_m=10)
    >>> [p.code for p in evidence_problems(rules, {"gps_accuracy_m": 25.0}, 0)]
    ['evidence_photos', 'evidence_accuracy']
    >>> evidence_problems(rules, {"gps_accuracy_m": 6.0}, 2)
    []
    """
    found: list[Problem] = []
    if photos < rules.min_photos:
        found.append(
            Problem("evidence_photos", params={"needed": rules.min_photos, "have": photos})
        )
    limit = rules.max_accuracy_m
    if limit is not None:
        accuracy = props.get(ACCURACY_FIELD)
        shown = f"{limit:g}"
        if not isinstance(accuracy, int | float) or isinstance(accuracy, bool):
            found.append(Problem("evidence_accuracy_unknown", params={"limit_m": shown}))
        elif accuracy > limit:
            params = {"limit_m": shown, "accuracy_m": f"{accuracy:.1f}"}
            found.append(Problem("evidence_accuracy", params=params))
    return found
