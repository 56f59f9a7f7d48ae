"""Limits of field values that a layer spec may leave out: number bounds and patterns.

- Numbers: the spec's ``min``/``max``, and when one is not given a default bound
  (``|x| <= 1e12`` for ``number``, ``|x| <= 2**53`` for ``integer``: what a double holds
  exactly and JavaScript reads as a safe integer). NaN and infinities are never numbers.
- Patterns: run with the ``regex`` package under a time limit (:data:`PATTERN_TIMEOUT_S`);
  a check that takes longer is a problem for that value, never a stuck worker. At load
  time a pattern that repeats without bound a group holding a quantifier or an
  alternation (``(a+)+``, ``(a|a)*``: catastrophic backtracking) is refused.

>>> number_bounds_problem("integer", 2.0**53 + 2, None, None)
('above_max', {'max': 9007199254740992})
>>> number_bounds_problem("number", 5.0, 0, 10) is None
True
>>> "repeats a group" in pattern_error("^(a|a)*$")
True
>>> pattern_error("^[0-9]{12}$") is None
True
>>> pattern_matches("^[0-9]{12}$", "140624100000")
True
"""

from __future__ import annotations

import functools
import math
from typing import Any

import regex

from geo.messages import register

NUMBER_LIMIT = 1e12
INTEGER_LIMIT = 2**53
PATTERN_TIMEOUT_S = 0.1
_MAX_PATTERN_LENGTH = 500

register(
    "pattern_timeout",
    "第 {row} 行：“{label}”的格式检查耗时过长，未通过：“{value}”",
    "Row {row}: checking the format of '{label}' took too long; not accepted: '{value}'",
)


def default_bounds(ftype: str) -> tuple[float, float]:
    """The bounds of a ``number`` or ``integer`` field whose spec gives none."""
    limit = INTEGER_LIMIT if ftype == "integer" else NUMBER_LIMIT
    return -limit, limit


def number_bounds_problem(
    ftype: str, number: float, minimum: float | None, maximum: float | None
) -> tuple[str, dict[str, Any]] | None:
    """``(code, params)`` when ``number`` lies outside the field's bounds (its own, else
    the defaults), None when it is within."""
    low, high = default_bounds(ftype)
    low = low if minimum is None else minimum
    high = high if maximum is None else maximum
    if number < low:
        return "below_min", {"min": _shown(low)}
    if number > high:
        return "above_max", {"max": _shown(high)}
    return None


def _shown(bound: float) -> float | int:
    return int(bound) if float(bound).is_integer() else bound


def bound_error(key: str, value: Any) -> str | None:
    """Why a spec's ``min`` or ``max`` cannot be used (None: it can)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{key} must be a number, not {value!r}"
    if not math.isfinite(value):
        return f"{key} must be a finite number, not {value!r}"
    return None


_DIGITS = str.maketrans("０１２３４５６７８９．－", "0123456789.-")


def to_number(value: Any) -> float | None:
    """``value`` as a float (text with thousands separators or full-width digits too);
    None when it is no number. Integers too large for a float become infinity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "").translate(_DIGITS)
        try:
            return float(text)
        except ValueError:
            return None
    return None


def unstorable(text: str) -> str | None:
    """What in ``text`` no backend can keep: NUL (PostgreSQL text and jsonb refuse it) or
    a lone UTF-16 surrogate (not UTF-8 at all); None when it is fine."""
    if "\x00" in text:
        return "NUL"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def pattern_error(pattern: Any) -> str | None:
    """Why a spec's ``pattern`` is refused: not text, too long, not a regular expression,
    or one that backtracks catastrophically. None when it can be used."""
    if not isinstance(pattern, str):
        return f"pattern must be text, not {pattern!r}"
    if len(pattern) > _MAX_PATTERN_LENGTH:
        return f"pattern is longer than {_MAX_PATTERN_LENGTH} characters"
    try:
        _compiled(pattern)
    except regex.error as exc:
        return f"pattern {pattern!r} is not a regular expression: {exc}"
    if _repeats_a_complex_group(pattern):
        return (
            f"pattern {pattern!r} repeats a group holding a quantifier or an alternation "
            "(slow backtracking)"
        )
    return None


def pattern_matches(pattern: str, text: str) -> bool | None:
    """Whether ``text`` matches all of ``pattern``; None when the check ran out of time."""
    try:
        return _compiled(pattern).fullmatch(text, timeout=PATTERN_TIMEOUT_S) is not None
    except TimeoutError:
        return None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def _quantifier_at(pattern: str, i: int) -> tuple[bool, bool, int] | None:
    """The quantifier starting at ``pattern[i]`` as (repeats without bound, repeats a
    varying number of times, length), or None when there is none."""
    if i >= len(pattern):
        return None
    char = pattern[i]
    if char in "*+":
        return True, True, 1
    if char == "?":
        return False, True, 1
    if char == "{":
        match = regex.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
        if match and (match.group(1) or match.group(3)):
            _, comma, high = match.groups()
            return bool(comma) and not high, bool(comma), len(match[0])
    return None


def _skip_class(pattern: str, i: int) -> int:
    """The index after the character class starting at ``pattern[i] == '['``."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _repeats_a_complex_group(pattern: str) -> bool:
    """Whether a group that repeats without bound holds a quantifier or an alternation
    (at any depth)."""
    stack: list[bool] = [False]  # per open group: holds a quantifier or an alternation
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            quantified = _quantifier_at(pattern, i)
        elif char == "[":
            i = _skip_class(pattern, i)
            quantified = _quantifier_at(pattern, i)
        elif char == "(":
            stack.append(False)
            i += 1
            continue
        elif char == ")" and len(stack) > 1:
            complex_inside = stack.pop()
            i += 1
            quantified = _quantifier_at(pattern, i)
            if quantified and quantified[0] and complex_inside:
                return True
            stack[-1] = stack[-1] or complex_inside
        elif char == "|":
            stack[-1] = True
            i += 1
            continue
        else:
            i += 1
            quantified = _quantifier_at(pattern, i)
        if quantified:
            stack[-1] = stack[-1] or quantified[1]
            i += quantified[2]
    return False
