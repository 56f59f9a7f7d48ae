"""The in-memory form of one layer in the GeoJSON store: compact, columnar and indexed.

A layer of a million features does not fit in memory as a million GeoJSON dicts (about
2 KB each, 2.3 GB for a million streetlights). :class:`FeatureTable` keeps one row per
feature instead:

- the value of every frame column (declared fields, then system fields) in one numpy
  object array per column, equal strings and floats stored once;
- a point's coordinates in two float arrays (no shapely object: a million shapely
  points take 200 MB); any other geometry as a shapely object;
- the feature's JSON text only when the feature cannot be rebuilt from the above
  exactly (another geometry type, other members, unusual key order). Features the store
  writes itself are rebuilt, so a layer of points holds no JSON text at all.

Reads build fresh dicts from the row (treat them as read-only). Rows keep insertion
order, as a dict would: an update keeps its row, a re-created feature gets a new one. A
deleted row is a tombstone until :meth:`FeatureTable.pack` renumbers the rows.

Spatial index: points go into a grid over their coordinates (sorted cell keys and
binary search, 32 bytes a point), other geometries into an STRtree. Both cover the rows
live when they were built; rows changed since are kept aside and tested directly, and
the index is rebuilt only once they outgrow a fraction of the layer, so a commit never
pays for re-indexing a million features.

The GeoDataFrame of the layer, its extent and the range of a column are cached until the
next change. Not thread-safe on its own: the store guards each table with its layer lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from shapely import STRtree

from layers.snapshot import (
    decode_blobs,
    decode_column,
    encode_blobs,
    encode_column,
    geometries_from_wkb,
    geometries_to_wkb,
)
from layers.table_parts import (
    RELEASE_AFTER_ROWS,
    Column,
    PointGrid,
    as_text,
    exact,
    objects,
    point_xy,
    release_memory,
    shapes,
    tune_memory,
    value_or_none,
)

#: The spatial index is rebuilt once this many rows changed since it was built ...
INDEX_REBUILD_MIN_CHANGES = 256
#: ... or this fraction of the layer, whichever is larger.
INDEX_REBUILD_FRACTION = 1 / 32
#: Tombstones are packed away once they are this fraction of the rows (and over 1000).
PACK_FRACTION = 0.25
#: Distinct values a column shares before it is taken for free text and stops sharing.
DISTINCT_KEPT = 50_000
#: What a column holds for a feature without that property: NaN, as pandas reads a list
#: of dicts (JSON has no NaN, so a NaN in a column always means "absent").
_ABSENT = float("nan")
_FEATURE_KEYS = ["type", "id", "geometry", "properties"]
_POINT_KEYS = ["type", "coordinates"]

BBox = tuple[float, float, float, float]
__all__ = ["RELEASE_AFTER_ROWS", "FeatureTable", "exact", "release_memory", "tune_memory"]

try:  # the C loop pandas uses to read a list of dicts: 5x faster than Python
    from pandas._libs.lib import dicts_to_array as _dicts_to_array  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another pandas
    _dicts_to_array = None


class FeatureTable(Mapping[str, dict[str, Any]]):
    """The live features of one layer, by id, in insertion order (see the module doc)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(dict.fromkeys(c for c in columns if c != "id"))
        self._position = {c: i for i, c in enumerate(self.columns)}
        self.changes = 0
        self._row: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._raw: list[bytes | None] = []
        self._x = Column(np.float64, np.nan)
        self._y = Column(np.float64, np.nan)
        self._geom = Column(object)
        self._live = Column(np.bool_, False)
        self._cols = {c: Column(object) for c in self.columns}
        self._unique: dict[str, dict[Any, Any] | None] = {c: {} for c in self.columns}
        self._recent: dict[str, bytes] = {}
        #: The texts of the rows an :meth:`append_points` just added: (version, first row,
        #: texts), valid while the table is at that version.
        self._run: tuple[int, int, list[bytes]] | None = None
        self._grid: PointGrid | None = None
        self._tree: STRtree | None = None
        self._tree_rows = np.zeros(0, dtype=np.intp)
        self._tree_points = False
        self._indexed = False
        self._changed: set[int] = set()
        self._frame: tuple[int, gpd.GeoDataFrame] | None = None
        self._extent: tuple[int, BBox | None] | None = None
        self._ranges: dict[str, tuple[int, tuple[Any, Any] | None]] = {}

    # --------------------------------------------------------------- Mapping
    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, fid: object) -> bool:
        return fid in self._row

    def __iter__(self) -> Iterator[str]:
        return iter([fid for fid in self._ids if fid is not None])

    def __getitem__(self, fid: str) -> dict[str, Any]:
        return self.decode([self._row[fid]])[0]

    def values_list(self) -> list[dict[str, Any]]:
        """Every live feature, in order."""
        return self.decode(self._live_rows())

    def raw(self, fid: str) -> bytes:
        """The JSON text of one live feature."""
        return next(self.texts([self._row[fid]]))

    def raws(self) -> Iterator[bytes]:
        """The JSON text of every live feature, in order (for the layer file)."""
        for chunk in self.raw_chunks():
            yield from chunk

    def raw_chunks(self, size: int = 10_000) -> Iterator[list[bytes]]:
        """:meth:`raws`, ``size`` features at a time."""
        rows = self._live_rows()
        for start in range(0, len(rows), size):
            yield list(self.texts(rows[start : start + size]))

    def texts(self, rows: Sequence[int] | np.ndarray) -> Iterator[bytes]:
        """The JSON texts of the features at ``rows``."""
        raw, ids, recent = self._raw, self._ids, self._recent
        rows = rows.tolist() if isinstance(rows, np.ndarray) else rows
        run = self._run if self._run is not None and self._run[0] == self.changes else None
        texts = None
        if run is not None and rows:
            _, start, kept = run
            first, last = rows[0] - start, rows[-1] - start
            if 0 <= first and last < len(kept) and last - first == len(rows) - 1:
                # Consecutive rows of the last append (most of a big upload's compaction).
                return iter(kept[first : last + 1])
            end = start + len(kept)
            texts = [kept[r - start] if start <= r < end else raw[r] for r in rows]
        if texts is None:
            texts = [raw[r] for r in rows]
        if recent:
            get = recent.get
            texts = [get(ids[r]) if t is None else t for t, r in zip(texts, rows, strict=True)]
        missing = [i for i, t in enumerate(texts) if t is None]
        if missing:
            rebuilt = self._rebuild([rows[i] for i in missing])
            for i, feature in zip(missing, rebuilt, strict=True):
                texts[i] = orjson.dumps(feature)
        return iter(texts)  # type: ignore[arg-type]

    def forget_recent(self) -> None:
        """Drop the texts kept from the last batch (once a compaction has used them)."""
        self._recent, self._run = {}, None

    def taken(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that are live features."""
        return self._row.keys() & set(ids)

    def ids(self) -> list[str]:
        """Live ids in order."""
        return [fid for fid in self._ids if fid is not None]

    # ---------------------------------------------------------------- rows
    def decode(self, rows: Iterable[int] | np.ndarray) -> list[dict[str, Any]]:
        """The features at ``rows`` as fresh GeoJSON dicts."""
        rows = list(rows)
        raw = self._raw
        rebuilt = iter(self._rebuild([r for r in rows if raw[r] is None]))
        return [orjson.loads(raw[r]) if raw[r] is not None else next(rebuilt) for r in rows]  # type: ignore[arg-type]

    def _rebuild(self, rows: list[int]) -> list[dict[str, Any]]:
        """Features whose JSON text was dropped, from their columns and coordinates."""
        if not rows:
            return []
        at = np.asarray(rows, dtype=np.intp)
        names = self.columns
        columns = [self._cols[c].data[at].tolist() for c in names]
        xs, ys = self._x.data[at].tolist(), self._y.data[at].tolist()
        ids = self._ids
        out = []
        for i, r in enumerate(rows):
            props = {}
            for name, column in zip(names, columns, strict=True):
                value = column[i]
                if not (value.__class__ is float and value != value):
                    props[name] = value
            x = xs[i]
            geometry = None if x != x else {"type": "Point", "coordinates": [x, ys[i]]}
            out.append({"type": "Feature", "id": ids[r], "geometry": geometry, "properties": props})
        return out

    def columns_at(self, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[int, Any]]:
        """The features at ``rows`` column-wise, no dict built per feature: each column's
        values (NaN: absent) and ``{i: properties}`` of each ``rows[i]`` kept as JSON
        text, whose properties the columns may not hold exactly (other keys, order)."""
        raw = self._raw
        texts = {i: raw[r] for i, r in enumerate(rows.tolist()) if raw[r] is not None}
        whole = {i: orjson.loads(t).get("properties") or {} for i, t in texts.items()}
        return {c: self._cols[c].data[rows] for c in self.columns}, whole

    def values_at(self, rows: np.ndarray, key: str) -> np.ndarray:
        """The values of property ``key`` of the features at ``rows`` (NaN: absent)."""
        return self._values(rows, key)

    def ids_at(self, rows: Iterable[int]) -> list[str]:
        """The ids at ``rows``."""
        ids = self._ids
        return [ids[r] for r in rows]  # type: ignore[misc]

    def rows_of(self, ids: Iterable[str]) -> np.ndarray:
        """Rows of the live features among ``ids``."""
        get = self._row.get
        return np.array([r for r in (get(i) for i in ids) if r is not None], dtype=np.intp)

    def _live_rows(self) -> np.ndarray:
        return np.flatnonzero(self._live.view())

    def all_rows(self) -> np.ndarray:
        """Rows of every live feature, in order."""
        return self._live_rows()

    # --------------------------------------------------------------- writes
    def put(self, feature: Mapping[str, Any], raw: bytes | None = None) -> None:
        """Add or replace one feature (by its ``id``)."""
        self.put_many([feature], None if raw is None else [raw])

    def _column_values(self, props: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """Each column's values for ``props`` (NaN where absent), equal strings and floats
        shared: a column keeps a dict of its distinct values until it has too many."""
        if _dicts_to_array is not None and props and all(type(p) is dict for p in props):
            grid = _dicts_to_array(props, list(self.columns))
            lists = {c: grid[:, j].tolist() for j, c in enumerate(self.columns)}
        else:
            lists = {c: [p.get(c, _ABSENT) for p in props] for c in self.columns}
        for c, values in lists.items():
            seen = self._unique.get(c)
            if seen is None:
                continue
            # -0.0 == 0.0: zeros are not shared, so a zero keeps its sign.
            lists[c] = [
                seen.setdefault(v, v)
                if (v.__class__ is str or (v.__class__ is float and v != 0.0))
                else v
                for v in values
            ]
            if len(seen) > DISTINCT_KEPT:
                self._unique[c] = None  # a free-text or measured column: nothing to share
        return lists

    def _rebuildable(self, feature: Mapping[str, Any], xy: tuple[float, float] | None) -> bool:
        """Whether the feature can be rebuilt exactly from its row (then its text is
        dropped): the four members in order, a string id, no geometry or a 2D point with
        float coordinates, and properties that are columns, in column order."""
        if list(feature) != _FEATURE_KEYS or feature["type"] != "Feature":
            return False
        if feature["id"].__class__ is not str:
            return False
        geometry = feature["geometry"]
        if geometry is not None:
            if xy is None or list(geometry) != _POINT_KEYS:
                return False
            coords = geometry["coordinates"]
            if len(coords) != 2 or coords[0].__class__ is not float:
                return False
            if coords[1].__class__ is not float:
                return False
        props = feature["properties"]
        if props.__class__ is not dict:
            return False
        position = self._position
        last = -1
        for key in props:
            at = position.get(key, -1)
            if at <= last:
                return False
            last = at
        return True

    def put_many(
        self, features: Sequence[Mapping[str, Any]], raws: Sequence[bytes] | None = None
    ) -> None:
        """Add or replace features (``raws``: their JSON texts, kept for features that
        cannot be rebuilt). Loading a layer or applying an upload of 100,000 features
        costs a few microseconds a feature."""
        if not features:
            return
        ids = [str(f["id"]) for f in features]
        values = self._column_values([f.get("properties") or {} for f in features])
        xys = [point_xy(f.get("geometry")) for f in features]
        others = [
            f.get("geometry") if xy is None else None for f, xy in zip(features, xys, strict=True)
        ]
        geoms = shapes(others)
        texts: list[bytes | None] = []
        recent: dict[str, bytes] = {}
        for i, feature in enumerate(features):
            if self._rebuildable(feature, xys[i]):
                texts.append(None)
                if raws is not None:
                    recent[ids[i]] = raws[i]
            elif raws is not None:
                texts.append(exact(raws[i]))
            else:
                texts.append(exact(orjson.dumps(feature)))
        # The texts of the batch just put, for a compaction that follows at once (a big
        # commit): no need to rebuild and serialise them again. Right-sized copies.
        self._recent = {fid: exact(text) for fid, text in recent.items()}
        x = np.array([np.nan if xy is None else xy[0] for xy in xys], dtype=np.float64)
        y = np.array([np.nan if xy is None else xy[1] for xy in xys], dtype=np.float64)
        # One feature twice in a batch: as in a dict, it takes the place of the first
        # and the value of the last.
        last = {fid: i for i, fid in enumerate(ids)}
        new_at: list[int] = []
        replaced = False
        for fid in dict.fromkeys(ids):
            i = last[fid]
            row = self._row.get(fid)
            if row is None:
                new_at.append(i)
                continue
            replaced = True
            self._raw[row] = texts[i]
            self._x.data[row], self._y.data[row] = x[i], y[i]
            self._geom.data[row] = geoms[i]
            for c in self.columns:
                self._cols[c].data[row] = values[c][i]
            self._changed.add(row)
        if new_at:
            start = len(self._ids)
            picked = np.asarray(new_at, dtype=np.intp)
            for offset, i in enumerate(new_at):
                self._row[ids[i]] = start + offset
                self._ids.append(ids[i])
                self._raw.append(texts[i])
            self._x.extend(x[picked])
            self._y.extend(y[picked])
            self._geom.extend(geoms[picked])
            self._live.extend(np.ones(len(new_at), dtype=np.bool_))
            for c in self.columns:
                self._cols[c].extend(objects(values[c])[picked])
            if self._indexed:
                self._changed.update(range(start, start + len(new_at)))
        self._touched(x, y, geoms, values, replaced)

    def append_points(
        self,
        ids: list[str],
        x: np.ndarray,
        y: np.ndarray,
        columns: Mapping[str, tuple[np.ndarray, list[Any]]],
        texts: list[bytes],
    ) -> None:
        """Add new point features given column by column (the store's checked upload).

        ``ids`` are not in the table; ``x``/``y`` are float coordinates; ``columns`` maps
        a column to ``(codes, uniques)``, row ``i`` holding ``uniques[codes[i]]`` (None:
        absent); a column left out holds nothing. ``texts`` are the features' JSON texts,
        written by the store in column order, so the rows rebuild them exactly and only
        the next compaction reads them.
        """
        n = len(ids)
        if not n:
            return
        start = len(self._ids)
        self._row.update(zip(ids, range(start, start + n), strict=True))
        self._ids.extend(ids)
        self._raw.extend([None] * n)
        self._x.extend(x)
        self._y.extend(y)
        geoms = np.full(n, None, dtype=object)
        self._geom.extend(geoms)
        self._live.extend(np.ones(n, dtype=np.bool_))
        distinct: dict[str, list[Any]] = {}
        for c in self.columns:
            codes, uniques = columns.get(c, (np.zeros(n, dtype=np.intp), [None]))
            seen = self._unique.get(c)
            shared = [
                _ABSENT
                if v is None
                else seen.setdefault(v, v)
                if seen is not None and (v.__class__ is str or (v.__class__ is float and v != 0.0))
                else v
                for v in uniques
            ]
            if seen is not None and len(seen) > DISTINCT_KEPT:
                self._unique[c] = None
            self._cols[c].extend(objects(shared)[codes])
            distinct[c] = [v for v in uniques if v is not None]
        self._recent = {}
        if self._indexed:
            self._changed.update(range(start, start + n))
        self._touched(x, y, geoms, distinct, False)
        self._run = (self.changes, start, texts)

    # --------------------------------------------------------------- snapshot
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The live rows as numpy arrays, no pickles (see :mod:`layers.snapshot`)."""
        rows = self._live_rows()
        at = rows.tolist()
        ids = [self._ids[r] for r in at]
        arrays: dict[str, np.ndarray] = {
            "ids": np.frombuffer(orjson.dumps(ids), dtype=np.uint8),
            "x": self._x.data[rows],
            "y": self._y.data[rows],
        }
        raw = self._raw
        raw_rows = [i for i, r in enumerate(at) if raw[r] is not None]
        arrays["raw_rows"] = np.asarray(raw_rows, dtype=np.int64)
        texts = [raw[at[i]] or b"" for i in raw_rows]
        arrays["raw"], arrays["raw_ends"] = encode_blobs(texts)
        geoms = self._geom.data[rows]
        geom_rows = np.flatnonzero(~shapely.is_missing(geoms))
        arrays["geom_rows"] = geom_rows.astype(np.int64)
        arrays["geom"], arrays["geom_ends"] = geometries_to_wkb(geoms[geom_rows])
        for j, c in enumerate(self.columns):
            codes, uniques = encode_column(self._cols[c].data[rows])
            arrays[f"codes{j}"] = codes
            arrays[f"uniques{j}"] = np.frombuffer(uniques, dtype=np.uint8)
        return arrays

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FeatureTable:
        """Fill this empty table from :meth:`to_arrays` (of a table of the same columns)."""
        ids: list[str | None] = orjson.loads(arrays["ids"].tobytes())
        n = len(ids)
        if len(arrays["x"]) != n or len(arrays["y"]) != n:
            raise ValueError("snapshot: coordinates and ids differ in length")
        self._ids = ids
        self._row = dict(zip(ids, range(n), strict=True))  # type: ignore[arg-type]
        if len(self._row) != n:
            raise ValueError("snapshot: an id twice")
        raw: list[bytes | None] = [None] * n
        for i, text in zip(
            arrays["raw_rows"].tolist(),
            decode_blobs(arrays["raw"], arrays["raw_ends"]),
            strict=True,
        ):
            raw[i] = text
        self._raw = raw
        self._x.extend(np.asarray(arrays["x"], dtype=np.float64))
        self._y.extend(np.asarray(arrays["y"], dtype=np.float64))
        geoms = np.full(n, None, dtype=object)
        geoms[arrays["geom_rows"]] = geometries_from_wkb(arrays["geom"], arrays["geom_ends"])
        self._geom.extend(geoms)
        self._live.extend(np.ones(n, dtype=np.bool_))
        for j, c in enumerate(self.columns):
            values, uniques = decode_column(arrays[f"codes{j}"], arrays[f"uniques{j}"].tobytes())
            if len(values) != n:
                raise ValueError(f"snapshot: column {c} has {len(values)} rows for {n}")
            self._cols[c].extend(values)
            shared = {
                v: v for v in uniques if v.__class__ is str or (v.__class__ is float and v != 0.0)
            }
            self._unique[c] = shared if len(shared) <= DISTINCT_KEPT else None
        self.changes += 1
        return self

    def delete(self, fid: str) -> bool:
        """Remove one feature; False if it was not live."""
        row = self._row.pop(fid, None)
        if row is None:
            return False
        gone = {c: self._cols[c].data[row] for c in self._ranges}
        self._recent.pop(fid, None)
        self._ids[row] = None
        self._raw[row] = None
        self._geom.data[row] = None
        self._x.data[row] = self._y.data[row] = np.nan
        self._live.data[row] = False
        for c in self.columns:
            self._cols[c].data[row] = None
        self._changed.add(row)
        self.changes += 1
        self._frame = None
        # The extent and ranges are kept unless the deleted feature may have been an edge.
        self._extent = None
        self._ranges = {
            c: (self.changes, r[1])
            for c, r in self._ranges.items()
            if r[1] is not None and _day(gone[c]) not in r[1]
        }
        if len(self._ids) > 1000 and len(self._ids) - len(self._row) > PACK_FRACTION * len(
            self._ids
        ):
            self.pack()
        return True

    def _touched(
        self,
        x: np.ndarray,
        y: np.ndarray,
        geoms: np.ndarray,
        values: dict[str, list[Any]],
        replaced: bool,
    ) -> None:
        """After puts: a new version. The cached extent and column ranges grow to hold the
        new values (exact, since growing is all a put can do once replaced rows reset them)."""
        self.changes += 1
        self._frame = None
        if replaced:
            self._extent, self._ranges = None, {}
            return
        self._ranges = {
            c: (self.changes, _merge_range(r[1], values[c])) for c, r in self._ranges.items()
        }
        current = self._extent[1] if self._extent is not None else None
        if current is None:
            self._extent = None
            return
        bounds = [current]
        if np.isfinite(x).any():
            bounds.append((np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y)))
        present = geoms[~shapely.is_missing(geoms)]
        if len(present):
            bounds.append(tuple(shapely.total_bounds(present)))
        box = np.array(bounds, dtype=np.float64)
        if not np.all(np.isfinite(box)):
            self._extent = None
            return
        self._extent = (
            self.changes,
            (
                float(box[:, 0].min()),
                float(box[:, 1].min()),
                float(box[:, 2].max()),
                float(box[:, 3].max()),
            ),
        )

    def pack(self) -> None:
        """Drop tombstones and renumber rows (the spatial index is rebuilt on next use)."""
        live = self._live_rows()
        self._ids = [self._ids[i] for i in live]
        self._raw = [self._raw[i] for i in live]
        self._row = {fid: i for i, fid in enumerate(self._ids)}  # type: ignore[misc]
        for column in (self._x, self._y, self._geom, self._live, *self._cols.values()):
            column.keep(live)
        self._grid = self._tree = None
        self._indexed = False
        self._changed.clear()
        self._run = None

    # ------------------------------------------------------------- spatial
    def _index(self) -> None:
        rebuild = max(INDEX_REBUILD_MIN_CHANGES, INDEX_REBUILD_FRACTION * len(self._row))
        if self._indexed and len(self._changed) <= rebuild:
            return
        rows = self._live_rows()
        x = self._x.data[rows]
        points = ~np.isnan(x)
        self._grid = PointGrid(rows[points], x[points], self._y.data[rows[points]])
        others = rows[~points]
        geoms = self._geom.data[others]
        others, geoms = others[~shapely.is_missing(geoms)], geoms[~shapely.is_missing(geoms)]
        self._tree = STRtree(geoms) if len(geoms) else None
        self._tree_rows = others
        # Point parts only (a MultiPoint): a box hit on the envelope is a hit.
        self._tree_points = bool(np.all(shapely.get_type_id(geoms) <= 0))
        self._changed = set()
        self._indexed = True

    def bbox_rows(self, bbox: BBox) -> np.ndarray:
        """Rows (ascending) of live features whose geometry intersects ``bbox``."""
        if not self._row:
            return np.zeros(0, dtype=np.intp)
        self._index()
        assert self._grid is not None
        found = [self._grid.query(bbox)]
        box = shapely.box(*bbox)
        if self._tree is not None:
            hits = (
                self._tree.query(box)
                if self._tree_points
                else self._tree.query(box, predicate="intersects")
            )
            found.append(self._tree_rows[hits])
        rows = np.concatenate(found)
        if self._changed:
            changed = np.fromiter(self._changed, dtype=np.intp, count=len(self._changed))
            rows = rows[~np.isin(rows, changed)]
            changed = changed[self._live.data[changed]]
            x, y = self._x.data[changed], self._y.data[changed]
            minx, miny, maxx, maxy = bbox
            hit = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
            other = np.isnan(x)
            if other.any():
                geoms = self._geom.data[changed[other]]
                hit[other] = shapely.intersects(box, geoms) & ~shapely.is_missing(geoms)
            rows = np.concatenate([rows, changed[hit]])
        rows.sort()
        return rows

    # ------------------------------------------------------------- filters
    def filter_rows(
        self,
        rows: np.ndarray,
        equals: Mapping[str, str],
        date_field: str | None,
        date_from: str | None,
        date_to: str | None,
    ) -> np.ndarray:
        """The rows whose values equal ``equals`` (compared as text) and whose
        ``date_field`` falls in the range, vectorised over the distinct values."""
        keep = np.ones(len(rows), dtype=bool)
        for key, wanted in equals.items():
            values = objects(self.ids_at(rows)) if key == "id" else self._values(rows, key)
            keep &= self._matches(values, lambda v, w=wanted: as_text(value_or_none(v)) == w)  # type: ignore[misc]
        if date_field and (date_from or date_to):

            def in_range(day: Any) -> bool:
                day = value_or_none(day)
                if not day:
                    return False
                text = str(day)[:10]
                return not (date_from and text < date_from) and not (date_to and text > date_to)

            keep &= self._matches(self._values(rows, date_field), in_range)
        return rows[keep]

    def _values(self, rows: np.ndarray, key: str) -> np.ndarray:
        if key in self._cols:
            return self._cols[key].data[rows]
        return objects([(f.get("properties") or {}).get(key) for f in self.decode(rows)])

    @staticmethod
    def _matches(values: np.ndarray, test: Callable[[Any], bool]) -> np.ndarray:
        """``test`` of each value, computed once per distinct value."""
        if len(values) == 0:
            return np.zeros(0, dtype=bool)
        try:
            codes, uniques = pd.factorize(values, use_na_sentinel=False)
        except TypeError:  # unhashable values (lists): one by one
            return np.fromiter((bool(test(v)) for v in values), dtype=bool, count=len(values))
        per_unique = np.fromiter((bool(test(u)) for u in uniques), dtype=bool, count=len(uniques))
        out = per_unique[codes]
        # factorize takes 1, 1.0 and True (and None and NaN) for one value; their texts
        # differ, so such values are tested one by one.
        kinds = {type(u) for u in uniques}
        mixed = bool in kinds and len(kinds & {int, float, np.bool_}) > 0
        na = [i for i, u in enumerate(uniques) if u is None or u != u]
        if mixed or na:
            suspect = np.flatnonzero(np.isin(codes, na) if not mixed else np.ones(len(codes), bool))
            out[suspect] = np.fromiter(
                (bool(test(v)) for v in values[suspect]), dtype=bool, count=len(suspect)
            )
        return out

    def anchors_in(self, rows: np.ndarray, area: Any) -> np.ndarray:
        """Whether the anchor of each row (its point, else a point on its surface) lies in
        ``area`` (boundary included)."""
        shapely.prepare(area)
        x, y = self._x.data[rows], self._y.data[rows]
        points = ~np.isnan(x)
        inside = np.zeros(len(rows), dtype=bool)
        inside[points] = shapely.intersects_xy(area, x[points], y[points])
        if not points.all():
            geoms = self._geom.data[rows[~points]]
            present = ~shapely.is_missing(geoms)
            anchors = np.where(
                shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms)
            )
            inside[~points] = present & shapely.intersects(area, anchors)
        return inside

    # ----------------------------------------------------------- aggregates
    def geometries(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Shapely geometries of the features at ``rows`` (default: every live one)."""
        rows = self._live_rows() if rows is None else rows
        out = self._geom.data[rows].copy()
        x, y = self._x.data[rows], self._y.data[rows]
        points = ~np.isnan(x)
        if points.any():
            out[points] = shapely.points(x[points], y[points])
        return out

    def extent(self) -> BBox | None:
        """Bounds of every live geometry (cached; grown in place by puts)."""
        if self._extent is None:
            rows = self._live_rows()
            boxes = []
            x, y = self._x.data[rows], self._y.data[rows]
            if np.isfinite(x).any():
                boxes.append((np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y)))
            geoms = self._geom.data[rows]
            geoms = geoms[~shapely.is_missing(geoms)]
            if len(geoms):
                boxes.append(tuple(shapely.total_bounds(geoms)))
            box = None
            stacked = np.array(boxes, dtype=np.float64).reshape(-1, 4)
            if len(stacked) and np.all(np.isfinite(stacked)):
                box = (
                    float(stacked[:, 0].min()),
                    float(stacked[:, 1].min()),
                    float(stacked[:, 2].max()),
                    float(stacked[:, 3].max()),
                )
            self._extent = (self.changes, box)
        return self._extent[1]

    def value_range(self, column: str) -> tuple[Any, Any] | None:
        """Smallest and largest non-empty text (first 10 characters) of ``column``, or
        None; cached, and grown in place by puts."""
        cached = self._ranges.get(column)
        if cached is None or cached[0] != self.changes:
            values = self._values(self._live_rows(), column)
            cached = (self.changes, _merge_range(None, pd.unique(values) if len(values) else []))
            self._ranges[column] = cached
        return cached[1]

    def column(self, column: str) -> np.ndarray:
        """The values of one frame column for the live features, in order."""
        return self._cols[column].data[self._live_rows()]

    def frame(self, columns: Sequence[str], number_fields: Iterable[str]) -> gpd.GeoDataFrame:
        """Live features as a GeoDataFrame with ``id``, ``columns`` and the geometry.

        Cached until the next change. Column types are inferred as pandas infers them
        from a list of dicts (numbers, ``str``, bools; missing numbers as NaN), and
        ``number_fields`` are floats.
        """
        if self._frame is not None and self._frame[0] == self.changes:
            return self._frame[1]
        rows = self._live_rows()
        if len(rows) == 0:
            empty = gpd.GeoDataFrame(
                {c: [] for c in ("id", *columns)},
                geometry=gpd.GeoSeries([], crs="EPSG:4326"),
                crs="EPSG:4326",
            )
            self._frame = (self.changes, empty)
            return empty
        data: dict[str, Any] = {"id": objects(self.ids_at(rows))}
        for name in columns:
            if name in self._cols:
                data[name] = self._cols[name].data[rows]
            else:
                data[name] = np.full(len(rows), _ABSENT, dtype=object)
        plain = pd.DataFrame(data, copy=False).infer_objects()
        for name in number_fields:
            if name in plain:
                plain[name] = plain[name].astype(float)
        frame = gpd.GeoDataFrame(
            plain,
            geometry=gpd.GeoSeries(self.geometries(rows), crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        self._frame = (self.changes, frame)
        if len(rows) >= RELEASE_AFTER_ROWS:
            release_memory()
        return frame


def _day(value: Any) -> str | None:
    value = value_or_none(value)
    return str(value)[:10] if value else None


def _merge_range(current: tuple[Any, Any] | None, values: Iterable[Any]) -> tuple[Any, Any] | None:
    """``current`` (smallest, largest day text) widened by ``values``."""
    days = [d for d in (_day(v) for v in values) if d]
    if not days:
        return current
    lo, hi = min(days), max(days)
    if current is None:
        return (lo, hi)
    return (min(current[0], lo), max(current[1], hi))
