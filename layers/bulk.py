"""Many new points at once, column by column: the fast path of a big upload.

An upload of 100,000 streetlights is 100,000 creates. Given one :class:`~layers.store_base.Change`
each, the store checks every row's properties, builds a dict per feature, serialises it,
and the in-memory table takes each dict apart again into its columns. :class:`Creates`
hands the store the rows as columns instead (a coordinate array and one list per field).
:func:`prepare_block` checks each distinct value of a column once (a CSV column of
100,000 cells holds a handful of distinct values), checks the coordinates as arrays, and
writes each feature's JSON text from per-value fragments. The result, a :class:`Block`, is
what the GeoJSON store journals and appends to its table without a dict per feature.

The outcome is exactly that of the equivalent changes (:meth:`Creates.changes`): the same
problems in the same order, the same ids, byte-identical feature texts. Backends without a
column path (PostGIS) commit those changes instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import orjson
import shapely

from geo.problems import Problem
from layers.journal import LF, RS
from layers.specs import (
    SYSTEM_FIELDS,
    CodedColumn,
    LayerSpec,
    PropertyChecker,
    checked_columns,
    object_array,
)

if TYPE_CHECKING:
    from layers.store_base import BaseStore, Change

#: Coordinates are kept to this many decimals (about 1 cm), by every commit of any store.
COORD_DECIMALS = 7


@dataclass(eq=False)
class Creates:
    """New point features given column by column (what an upload commits).

    ``x``/``y`` are WGS84 coordinates; ``properties`` maps a field name to one raw value
    per feature (``None`` or blank: absent; a sequence or a
    :class:`~layers.specs.CodedColumn`), checked and converted by the store exactly as
    a single create's properties are; ``rows`` are the user-visible row numbers that
    problems name. Pass it to ``commit`` as the only change.
    """

    rows: Sequence[int]
    x: np.ndarray
    y: np.ndarray
    properties: Mapping[str, Any] = field(default_factory=dict)

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
        )

    def changes(self) -> list[Change]:
        """The same creates as one change each (for a backend without a column path)."""
        from layers.store_base import Change

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
            out.append(Change("create", geometry=geometry, properties=props, row=int(row)))
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
    system properties every feature shares and each feature's JSON text."""

    ids: list[str]
    x: np.ndarray
    y: np.ndarray
    columns: dict[str, CodedColumn]
    system: dict[str, Any]
    texts: list[bytes]
    id_texts: list[bytes] = field(default_factory=list)

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


def created_system(now: str, user: str, source: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The system properties of a created feature, in the order the store writes them."""
    created: dict[str, Any] = {"created_at": now, "created_by": user, "version": 1}
    created.update(source=source, **{k: v for k, v in extra.items() if k in SYSTEM_FIELDS})
    created.update(updated_at=now, updated_by=user)
    return {k: created[k] for k in SYSTEM_FIELDS if k in created}


def prepare_block(
    store: BaseStore,
    spec: LayerSpec,
    creates: Creates,
    *,
    current_features: Mapping[str, Any],
    next_id: int,
    system: dict[str, Any],
) -> tuple[Block, list[Problem]]:
    """Check ``creates`` and build its :class:`Block`; the problems are those the single
    changes would give, in the same order (the caller raises on errors)."""
    rows = np.asarray(creates.rows, dtype=np.int64)
    n = len(rows)
    found: list[tuple[int, int, Problem]] = []
    columns, prop_problems = checked_columns(PropertyChecker(spec), creates.properties, rows)
    found.extend((i, 0, p) for i, _, p in prop_problems)
    x, y = creates.x, creates.y
    finite = np.isfinite(x) & np.isfinite(y)
    for i in np.flatnonzero(~finite).tolist():
        row = int(rows[i])
        _, problems = store._check_geometry(spec, shapely.Point(x[i], y[i]), row)
        found.extend((i, 1, p) for p in problems)
    found.extend(_ref_problems(store, spec, columns, rows))
    ids = [f"{spec.id_prefix}-{number:06d}" for number in range(next_id, next_id + n)]
    taken = getattr(current_features, "taken", None)
    clash = taken(ids) if taken is not None else {f for f in ids if f in current_features}
    for i, fid in enumerate(ids) if clash else ():
        if fid in clash:
            found.append((i, 3, Problem("id_taken", row=int(rows[i]), field="id", value=fid)))
    found.sort(key=lambda item: (item[0], item[1]))
    problems = [p for _, _, p in found]
    if any(p.severity == "error" for p in problems):
        return Block(ids, x, y, columns, system, []), problems
    rx, ry = round_like_python(x, COORD_DECIMALS), round_like_python(y, COORD_DECIMALS)
    block = Block(ids, rx, ry, columns, system, [])
    block.texts = _texts(spec, block, rx.tolist(), ry.tolist())
    return block, problems


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


def _ref_problems(
    store: BaseStore, spec: LayerSpec, columns: dict[str, CodedColumn], rows: np.ndarray
) -> list[tuple[int, int, Problem]]:
    """References to features that do not exist, checked once per distinct value."""
    out: list[tuple[int, int, Problem]] = []
    refs_seen: dict[tuple[str, str], bool] = {}
    for fspec in spec.fields:
        if fspec.type != "ref":
            continue
        column = columns[fspec.name]
        missing = [
            code
            for code, value in enumerate(column.uniques)
            if value not in (None, "")
            and store._check_refs(spec, {fspec.name: value}, 0, refs_seen)
        ]
        if not missing:
            continue
        for i in np.flatnonzero(np.isin(column.codes, missing)).tolist():
            value = column.uniques[int(column.codes[i])]
            problems = store._check_refs(spec, {fspec.name: value}, int(rows[i]), refs_seen)
            out.extend((i, 2, p) for p in problems)
    return out


def _texts(spec: LayerSpec, block: Block, xs: list[float], ys: list[float]) -> list[bytes]:
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
