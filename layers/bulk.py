"""Many new points at once, as columns: the data of a big upload's commit.

An upload of 100,000 streetlights is 100,000 creates. :class:`Creates` hands them to the
store as columns (a coordinate array and one list per field) instead of one
:class:`~layers.changes.Change` each. The change planner (:func:`layers.planner.
prepare_block`) checks each distinct value of a column once and the coordinates as
arrays; the result, a :class:`Block`, holds each feature's JSON text written from
per-value fragments (:func:`render_texts`), which the GeoJSON store journals and appends
to its table without a dict per feature. A backend without a column path (PostGIS)
commits :meth:`Creates.changes` instead, checked by the same planner.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import orjson
import shapely

from layers.changes import Change
from layers.journal import LF, RS
from layers.specs import SYSTEM_FIELDS, CodedColumn, LayerSpec, object_array

#: Coordinates are kept to this many decimals (about 1 cm), by every commit of any store.
COORD_DECIMALS = 7


@dataclass(eq=False)
class Creates:
    """New point features given column by column (what an upload commits).

    ``x``/``y`` are WGS84 coordinates; ``properties`` maps a field name to one raw value
    per feature (``None`` or blank: absent; a sequence or a
    :class:`~layers.specs.CodedColumn`), checked and converted by the store exactly as
    a single create's properties are; ``rows`` are the user-visible row numbers that
    problems name; ``margin_m`` and ``located`` are those of
    :class:`~layers.changes.Change`. Pass it to ``commit`` as the only change.
    """

    rows: Sequence[int]
    x: np.ndarray
    y: np.ndarray
    properties: Mapping[str, Any] = field(default_factory=dict)
    margin_m: float | None = None
    located: bool = False

    op = "creates"

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        n = len(self.rows)
        if len(self.x) != n or len(self.y) != n:
            raise ValueError("Creates: rows, x and y differ in length")
        if any(len(values) != n for values in self.properties.values()):
            raise ValueError("Creates: a property column differs in length from rows")

    def __len__(self) -> int:
        return len(self.rows)

    def without(self, rows: set[int]) -> Creates:
        """The same creates less those of the given row numbers."""
        keep = np.flatnonzero(~np.isin(np.asarray(self.rows, dtype=np.int64), list(rows)))
        return Creates(
            rows=[self.rows[i] for i in keep.tolist()],
            x=self.x[keep],
            y=self.y[keep],
            properties={k: _take(v, keep) for k, v in self.properties.items()},
            margin_m=self.margin_m,
            located=self.located,
        )

    def changes(self) -> list[Change]:
        """The same creates as one change each (for a backend without a column path)."""
        names = list(self.properties)
        columns = [_as_list(self.properties[k]) for k in names]
        out = []
        xs, ys = self.x.tolist(), self.y.tolist()
        for i, (row, x, y) in enumerate(zip(self.rows, xs, ys, strict=True)):
            props = {name: column[i] for name, column in zip(names, columns, strict=True)}
            # A GeoJSON mapping is checked without GEOS; a point without finite coordinates
            # goes as a shapely point, for the same problem as the column path reports.
            finite = math.isfinite(x) and math.isfinite(y)
            geometry = {"type": "Point", "coordinates": [x, y]} if finite else shapely.Point(x, y)
            change = Change("create", geometry=geometry, properties=props, row=int(row))
            change.margin_m, change.located = self.margin_m, self.located
            out.append(change)
        return out


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, CodedColumn):
        values = values.values()
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _take(values: Any, positions: np.ndarray) -> Any:
    if isinstance(values, CodedColumn):
        return values.take(positions)
    column = values if isinstance(values, np.ndarray) else object_array(list(values))
    return list(column[positions].tolist())


def expand(changes: Sequence[Any]) -> list[Change]:
    """``changes`` with every :class:`Creates` replaced by its single changes."""
    if not any(isinstance(c, Creates) for c in changes):
        return list(changes)
    out: list[Change] = []
    for change in changes:
        out.extend(change.changes() if isinstance(change, Creates) else [change])
    return out


def fits_block(spec: LayerSpec, changes: Sequence[Any]) -> bool:
    """Whether ``changes`` can take the column path: one :class:`Creates` into a layer of
    points whose fields are all given (none computed from the geometry)."""
    return (
        len(changes) == 1
        and isinstance(changes[0], Creates)
        and spec.spatial
        and "Point" in spec.geometry
        and not any(f.computed for f in spec.fields)
    )


@dataclass(eq=False)
class Block:
    """Checked creates, ready to journal: ids, rounded coordinates, clean columns, the
    system properties every feature shares and each feature's JSON text. ``reused``
    names the new ids a deleted feature still holds (a store that keeps deleted
    features' rows overwrites them)."""

    ids: list[str]
    x: np.ndarray
    y: np.ndarray
    columns: dict[str, CodedColumn]
    system: dict[str, Any]
    texts: list[bytes]
    id_texts: list[bytes] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def record_text(self, head: dict[str, Any], tail: dict[str, Any]) -> list[bytes]:
        """The journal text of the record ``{**head, "changes": ..., **tail}`` in pieces,
        byte for byte what :func:`~layers.journal.encode_record` writes for it with one
        entry per feature (``op``, ``id``, ``feature``, ``action``)."""
        ids = self.id_texts or [orjson.dumps(fid) for fid in self.ids]
        n = len(ids)
        # The entries' pieces in order, joined once (no string per entry).
        pieces = [b'{"op":"put","id":'] * (5 * n)
        pieces[1::5] = ids
        pieces[2::5] = [b',"feature":'] * n
        pieces[3::5] = self.texts
        pieces[4::5] = [b',"action":"create"},'] * n
        if n:
            pieces[-1] = b',"action":"create"}'
        # Joined a few thousand pieces at a time: buffers small enough to be reused, where
        # one of 30 MB would be a fresh mapping, page-faulted in and copied once more.
        step = 5 * 512
        entries = [b"".join(pieces[i : i + step]) for i in range(0, len(pieces), step)]
        opening = orjson.dumps(head)[:-1] + b',"changes":['
        closing = b"]," + orjson.dumps(tail)[1:] if tail else b"]}"
        return [RS, opening, *entries, closing, LF]


class LazyFeatures(Sequence[dict[str, Any]]):
    """Feature dicts decoded from their texts only when read (a preview reads a few)."""

    def __init__(self, ids: list[str], texts: list[bytes]) -> None:
        self.ids, self._texts = ids, texts

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [orjson.loads(t) for t in self._texts[index]]
        decoded: dict[str, Any] = orjson.loads(self._texts[index])
        return decoded

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (orjson.loads(t) for t in self._texts)


def round_coords(coords: Any) -> Any:
    """GeoJSON coordinates (nested lists) rounded to :data:`COORD_DECIMALS`, 2-D."""
    if isinstance(coords, list | tuple):
        if coords and isinstance(coords[0], int | float) and not isinstance(coords[0], bool):
            return [round(float(c), COORD_DECIMALS) for c in coords[:2]]
        return [round_coords(c) for c in coords]
    return coords


def created_system(
    now: str,
    user: str,
    source: str,
    extra: Mapping[str, Any],
    review: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The system properties of a created feature, in the order the store writes them.

    ``review`` holds the ``review`` and ``review_comment`` the change planner decided
    (:func:`layers.review.review_system`; a value None is left out); ``extra`` cannot
    set those, only the other system properties (``demo``)."""
    name = str(user)  # an Author is its name; the record keeps a plain string
    created: dict[str, Any] = {"created_at": now, "created_by": name, "version": 1}
    given = {k: v for k, v in extra.items() if k in SYSTEM_FIELDS and k not in _REVIEW_KEYS}
    created.update(source=source, **given)
    created.update(updated_at=now, updated_by=name)
    created.update({k: v for k, v in (review or {}).items() if v is not None})
    return {k: created[k] for k in SYSTEM_FIELDS if k in created}


#: The system properties only the change planner sets (``layers.review``).
_REVIEW_KEYS = ("review", "review_comment", "review_override")


def round_like_python(values: np.ndarray, decimals: int) -> np.ndarray:
    """``[round(v, decimals) for v in values]`` for finite floats, as an array, vectorised.

    Python rounds the exact binary value half to even; ``rint(v * 10**d) / 10**d`` agrees
    except where ``v * 10**d`` lands within its own rounding error of a half, and those few
    values are rounded by Python itself.
    """
    scale = 10.0**decimals
    scaled = values * scale
    out = np.rint(scaled) / scale
    distance = np.abs(scaled - np.floor(scaled) - 0.5)
    unsure = np.flatnonzero(distance <= np.maximum(1e-6, 4 * np.spacing(np.abs(scaled))))
    if unsure.size:
        out[unsure] = [round(v, decimals) for v in values[unsure].tolist()]
    return out


def render_texts(spec: LayerSpec, block: Block, xs: list[float], ys: list[float]) -> list[bytes]:
    """Each feature's JSON text, byte for byte what ``orjson.dumps`` gives for its dict:
    the declared fields present, in declaration order, then the system properties. Each
    distinct value is serialised once; a row's text is one formatting of its pieces."""
    columns: list[list[bytes]] = []
    for fspec in spec.fields:
        column = block.columns[fspec.name]
        key = orjson.dumps(fspec.name) + b":"
        pieces = [b"" if v is None else key + orjson.dumps(v) + b"," for v in column.uniques]
        if any(pieces):  # a field no row has adds nothing
            columns.append(object_array(pieces)[column.codes].tolist())
    tail = orjson.dumps(block.system)[1:] + b"}"  # the system members, closing braces
    template = (
        b'{"type":"Feature","id":%s,"geometry":{"type":"Point","coordinates":[%s,%s]},'
        b'"properties":{' + b"%s" * len(columns) + tail.replace(b"%", b"%%")
    )
    n = len(block.ids)
    xs_text = orjson.dumps(xs)[1:-1].split(b",") if n else []
    ys_text = orjson.dumps(ys)[1:-1].split(b",") if n else []
    ids_text = block.id_texts = _json_strings(block.ids, spec.id_prefix)
    return [template % row for row in zip(ids_text, xs_text, ys_text, *columns, strict=True)]


def _json_strings(ids: list[str], prefix: str) -> list[bytes]:
    """``[orjson.dumps(fid) for fid in ids]`` for ids ``<prefix>-<number>``, in one call:
    the JSON array of them cut at its commas (no id holds one)."""
    if not ids or "," in prefix:
        return [orjson.dumps(fid) for fid in ids]
    return orjson.dumps(ids)[1:-1].split(b",")
