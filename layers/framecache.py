"""Figures remembered for a layer frame while it lives.

Layer frames are shared and rebuilt per layer version, so a result computed from them
(a count by status, the gap overlays of an analysis) holds until one of them is replaced.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

T = TypeVar("T")
_PER_FRAME: dict[tuple[tuple[int, ...], str], tuple[Any, Any]] = {}


def per_frame(frame: pd.DataFrame, what: str, compute: Callable[[], T]) -> T:
    """``compute()``, remembered for ``frame`` while it lives. Layer frames are shared
    and rebuilt per layer version, so a page does not count a million rows per request."""
    return per_frames((frame,), what, compute)


def per_frames(frames: tuple[pd.DataFrame, ...], what: str, compute: Callable[[], T]) -> T:
    """:func:`per_frame` of a result computed from several frames (all still the same)."""
    key = (tuple(id(f) for f in frames), what)
    cached = _PER_FRAME.get(key)
    if cached is not None and all(ref() is f for ref, f in zip(cached[0], frames, strict=True)):
        return cached[1]
    value = compute()
    if len(_PER_FRAME) > 512:
        _PER_FRAME.clear()
    _PER_FRAME[key] = (tuple(weakref.ref(f) for f in frames), value)
    return value
