"""The parts :class:`layers.memtable.FeatureTable` is built from: growable columns, the
grid index of points, value helpers, and the process's memory tuning (glibc)."""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

BBox = tuple[float, float, float, float]
#: Points per grid cell the point index aims at.
POINTS_PER_CELL = 8


#: Rows from which a load or a frame build is followed by :func:`release_memory`.
RELEASE_AFTER_ROWS = 100_000
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_tuned = False


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to tune
        return None


def tune_memory() -> None:
    """Keep glibc from holding on to freed memory (once per process).

    glibc raises its mmap threshold each time a big block is freed, so the next arrays of
    a million rows come from the heap, whose freed middle it never gives back: a server
    that built one frame of a million features stays 300-500 MB larger. A fixed
    threshold keeps big arrays in their own mappings, returned as soon as they are freed.
    """
    global _tuned
    if not _tuned:
        _tuned = True
        libc = _libc()
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_MMAP_THRESHOLD, 256 * 1024)


def release_memory() -> None:
    """Give freed heap memory back to the system (after loading a big layer)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def exact(data: bytes) -> bytes:
    """A right-sized copy of ``data``: bytes from ``orjson.dumps`` keep orjson's whole
    output buffer (about 4 KB) allocated, which a table of a million features cannot afford.
    """
    return bytes(memoryview(data))


class Column:
    """A growable 1-D numpy array (amortised O(1) append)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: Any, fill: Any = None, capacity: int = 16) -> None:
        self.data = np.full(capacity, fill, dtype=dtype)
        self.size = 0

    def _reserve(self, extra: int) -> None:
        need = self.size + extra
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown

    def extend(self, values: np.ndarray) -> None:
        self._reserve(len(values))
        self.data[self.size : self.size + len(values)] = values
        self.size += len(values)

    def view(self) -> np.ndarray:
        return self.data[: self.size]

    def keep(self, rows: np.ndarray) -> None:
        kept = self.view()[rows].copy()
        self.data, self.size = kept, len(kept)


def objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (lists stay single elements)."""
    return np.fromiter(values, dtype=object, count=len(values))


def point_xy(geometry: Any) -> tuple[float, float] | None:
    """x, y of a GeoJSON Point with two numeric coordinates, else None (a point with an
    elevation, which the store never writes, stays a shapely object with its z)."""
    if geometry is None or geometry.get("type") != "Point":
        return None
    coords = geometry.get("coordinates")
    if (
        isinstance(coords, list)
        and len(coords) == 2
        and type(coords[0]) in (float, int)
        and type(coords[1]) in (float, int)
    ):
        return float(coords[0]), float(coords[1])
    return None


def shapes(geometries: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
    """Shapely geometries of GeoJSON geometry mappings (None stays None), in one GEOS
    call; a geometry GEOS cannot read becomes None."""
    out = np.full(len(geometries), None, dtype=object)
    present = [i for i, g in enumerate(geometries) if g is not None]
    if present:
        texts = np.array([orjson.dumps(geometries[i]).decode() for i in present], dtype=object)
        out[np.asarray(present)] = shapely.from_geojson(texts, on_invalid="ignore")
    return out


def value_or_none(value: Any) -> Any:
    """A column value as the property reads: None for an absent one (NaN in the column)."""
    return None if value.__class__ is float and value != value else value


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


class PointGrid:
    """Points in a regular grid: cell keys sorted, a box query is a few binary searches."""

    def __init__(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        keep = np.isfinite(x) & np.isfinite(y)
        rows, x, y = rows[keep], x[keep], y[keep]
        self.empty = len(rows) == 0
        if self.empty:
            return
        self.minx, self.miny = float(x.min()), float(y.min())
        span_x = max(float(x.max()) - self.minx, 1e-9)
        span_y = max(float(y.max()) - self.miny, 1e-9)
        cells = max(1, len(rows) // POINTS_PER_CELL)
        self.nx = max(1, min(1 << 20, round(math.sqrt(cells * span_x / span_y))))
        self.ny = max(1, min(1 << 20, cells // self.nx))
        self.sx, self.sy = span_x / self.nx, span_y / self.ny
        key = self._cell_y(y) * self.nx + self._cell_x(x)
        order = np.argsort(key, kind="stable")
        self.key, self.rows = key[order], rows[order]
        self.x, self.y = x[order], y[order]

    def _cell_x(self, x: Any) -> Any:
        return np.clip(np.floor((np.asarray(x) - self.minx) / self.sx), 0, self.nx - 1).astype(
            np.int64
        )

    def _cell_y(self, y: Any) -> Any:
        return np.clip(np.floor((np.asarray(y) - self.miny) / self.sy), 0, self.ny - 1).astype(
            np.int64
        )

    def query(self, bbox: BBox) -> np.ndarray:
        if self.empty:
            return np.zeros(0, dtype=np.intp)
        minx, miny, maxx, maxy = bbox
        cx0, cx1 = int(self._cell_x(minx)), int(self._cell_x(maxx))
        cy = np.arange(int(self._cell_y(miny)), int(self._cell_y(maxy)) + 1, dtype=np.int64)
        lo = np.searchsorted(self.key, cy * self.nx + cx0, "left")
        hi = np.searchsorted(self.key, cy * self.nx + cx1, "right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.intp)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        idx = starts + np.arange(total)
        x, y = self.x[idx], self.y[idx]
        hit = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        return np.asarray(self.rows[idx[hit]], dtype=np.intp)
