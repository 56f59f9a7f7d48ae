"""Private fields: values only planners and admins may read (a resident's phone number).

A layer spec marks a field ``private = true``. :mod:`layers.specs` keeps no such flag (it
is read here from the declaration files, so the spec module does not grow), and every
place where features leave the store for a reader asks this module: the OGC API's
documents and schemas, the exports, the map's data and the feature pages. A reader who is
not a planner or an admin gets the spec without those fields (:func:`public_spec`) and
the features without their values (:func:`public_feature`).

>>> from layers.specs import SpecRegistry
>>> spec = SpecRegistry.load()["reports"]
>>> sorted(private_names(spec))
['code', 'phone']
>>> "phone" in public_spec(spec).field_names, reads_private("planner"), reads_private(None)
(False, True, False)
>>> public_feature(spec, {"id": "RP-1", "properties": {"phone": "1", "status": "new"}})
{'id': 'RP-1', 'properties': {'status': 'new'}}
>>> sorted(hidden_names(public_spec(spec))), sorted(hidden_names(spec))
(['code', 'phone'], [])
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from layers.specs import BUILTIN_DIR, LayerSpec

#: The roles that read private fields.
PRIVATE_READERS = ("planner", "admin")
_ROOT = BUILTIN_DIR.parent.parent


@functools.lru_cache(maxsize=256)
def _declared_private(source_file: str, mtime_ns: int) -> frozenset[str]:
    path = Path(source_file)
    path = path if path.is_absolute() else _ROOT / path
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return frozenset()
    fields = raw.get("fields", ())
    return frozenset(
        str(f.get("name")) for f in fields if isinstance(f, Mapping) and f.get("private") is True
    )


def _mtime_ns(source_file: str) -> int:
    path = Path(source_file)
    path = path if path.is_absolute() else _ROOT / path
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=256)
def _declared_public_statuses(source_file: str, mtime_ns: int) -> tuple[str, ...] | None:
    path = Path(source_file)
    path = path if path.is_absolute() else _ROOT / path
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh).get("public_statuses")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return tuple(str(v) for v in raw) if isinstance(raw, list) else None


def row_hidden(spec: LayerSpec, props: Mapping[str, Any] | None) -> bool:
    """Whether a reader with ``spec`` (a :func:`public_spec`) may not see this feature at
    all: the layer declares ``public_statuses`` (a report is public once accepted) and the
    feature's status is not one of them. Planners and admins (the full spec) see every one.

    >>> from layers.specs import SpecRegistry
    >>> spec = SpecRegistry.load()["reports"]
    >>> row_hidden(public_spec(spec), {"status": "new"}), row_hidden(spec, {"status": "new"})
    (True, False)
    >>> row_hidden(public_spec(spec), {"status": "accepted"})
    False
    """
    if not spec.source_file or not spec.status_field or not hidden_names(spec):
        return False
    statuses = _declared_public_statuses(spec.source_file, _mtime_ns(spec.source_file))
    return statuses is not None and (props or {}).get(spec.status_field) not in statuses


def visible_rows(spec: LayerSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a layer's ``frame`` a reader with ``spec`` may see (all of them for the
    full spec, or a layer without ``public_statuses``)."""
    if not spec.source_file or not spec.status_field or not hidden_names(spec):
        return frame
    statuses = _declared_public_statuses(spec.source_file, _mtime_ns(spec.source_file))
    if statuses is None or spec.status_field not in frame.columns:
        return frame
    return frame[frame[spec.status_field].isin(list(statuses)).to_numpy()]


def private_names(spec: LayerSpec) -> frozenset[str]:
    """Names of the fields of ``spec``'s layer declared ``private = true`` (also for its
    :func:`public_spec`, which no longer declares them)."""
    if not spec.source_file:
        return frozenset()
    return _declared_private(spec.source_file, _mtime_ns(spec.source_file))


def hidden_names(spec: LayerSpec) -> frozenset[str]:
    """The private fields ``spec`` leaves out: none for the full spec, every private one
    for :func:`public_spec`. A reader's spec is its permission."""
    return frozenset(n for n in private_names(spec) if spec.field(n) is None)


def visible_feature(spec: LayerSpec, feature: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``feature`` holding only what a reader with ``spec`` may see."""
    hidden = hidden_names(spec)
    props = feature.get("properties")
    if not hidden or not isinstance(props, Mapping):
        return dict(feature)
    return {**feature, "properties": {k: v for k, v in props.items() if k not in hidden}}


def reads_private(role: str | None) -> bool:
    """Whether an account of ``role`` (None: anonymous) reads private fields."""
    return role in PRIVATE_READERS


_PUBLIC: dict[int, tuple[LayerSpec, frozenset[str], LayerSpec]] = {}


def _without(spec: LayerSpec, names: frozenset[str]) -> LayerSpec:
    """``spec`` without ``names``, made once per spec object (specs are not hashable)."""
    known = _PUBLIC.get(id(spec))
    if known is not None and known[0] is spec and known[1] == names:
        return known[2]
    public = replace(spec, fields=tuple(f for f in spec.fields if f.name not in names))
    if len(_PUBLIC) > 1024:
        _PUBLIC.clear()
    _PUBLIC[id(spec)] = (spec, names, public)
    return public


def public_spec(spec: LayerSpec) -> LayerSpec:
    """``spec`` without its private fields (the same object when it has none)."""
    names = frozenset(n for n in private_names(spec) if spec.field(n) is not None)
    return _without(spec, names) if names else spec


def public_properties(spec: LayerSpec, props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` without the values of private fields."""
    names = private_names(spec)
    return {k: v for k, v in props.items() if k not in names}


def public_feature(spec: LayerSpec, feature: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the GeoJSON ``feature`` without the values of private fields."""
    names = private_names(spec)
    props = feature.get("properties")
    if not names or not isinstance(props, Mapping):
        return dict(feature)
    return {**feature, "properties": {k: v for k, v in props.items() if k not in names}}


def public_features(spec: LayerSpec, features: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`public_feature` of each feature."""
    if not private_names(spec):
        return [dict(f) for f in features]
    return [public_feature(spec, f) for f in features]


def for_reader(spec: LayerSpec, role: str | None) -> LayerSpec:
    """The spec as a reader of ``role`` sees it: every field, or the public ones."""
    return spec if reads_private(role) else public_spec(spec)


__all__ = [
    "PRIVATE_READERS",
    "for_reader",
    "hidden_names",
    "private_names",
    "public_feature",
    "public_features",
    "public_properties",
    "public_spec",
    "reads_private",
    "row_hidden",
    "visible_rows",
    "visible_feature",
]
