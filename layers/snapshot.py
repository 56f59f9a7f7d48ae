"""A binary copy of a big layer's in-memory table, so a restart does not parse it again.

Loading a layer file of a million streetlights (480 MB of GeoJSON) means parsing every
feature and taking each apart into the table's columns: 20 seconds before the first
request on that layer is answered, in every worker. When the store compacts a big layer
it also writes the table itself next to the file: ``.<layer>.snapshot.npz``, numpy arrays
of its columns (each as codes into its distinct values), coordinates, ids, the JSON texts
it keeps and the other geometries as WKB. Loading that takes about a second.

The snapshot is a cache, never the data: it names the layer file it was taken from (size,
modification time, inode and ``vw:seq``) and the table's columns, and is used only while
all of them still match; anything else (a hand-edited or replaced layer file, a layer
that gained a field, a snapshot cut short or unreadable) falls back to reading the
GeoJSON. It holds no pickles (``allow_pickle=False``): reading one runs no code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import orjson
import pandas as pd
import shapely


class Table(Protocol):
    """What a snapshot needs of a table (``layers.memtable.FeatureTable``): its columns and
    its rows as arrays. Declared here so this module need not import the table's."""

    columns: tuple[str, ...]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The live rows as numpy arrays."""
        ...

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> Any:
        """Fill this empty table from :meth:`to_arrays` output; returns the table."""
        ...


T = TypeVar("T", bound=Table)

log = logging.getLogger(__name__)

#: Layers of at least this many features get a snapshot when compacted.
SNAPSHOT_MIN_FEATURES = 50_000
#: Bumped whenever the layout below changes (an older snapshot is then ignored).
FORMAT = 1


def snapshot_path(layer_file: Path) -> Path:
    """Where the snapshot of ``layer_file`` lives."""
    return layer_file.with_name(f".{layer_file.stem}.snapshot.npz")


def _file_key(layer_file: Path) -> list[int]:
    st = layer_file.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def write_snapshot(layer_file: Path, seq: int, table: Table) -> bool:
    """Write the snapshot of ``table``, just written to ``layer_file`` at ``seq``; False
    (and no snapshot) when the table holds what the format cannot keep."""
    target = snapshot_path(layer_file)
    try:
        arrays = table.to_arrays()
    except (TypeError, ValueError, orjson.JSONEncodeError) as exc:  # e.g. a huge integer
        log.info("no snapshot of %s: %s", layer_file.name, exc)
        remove_snapshot(layer_file)
        return False
    meta = {
        "format": FORMAT,
        "file": _file_key(layer_file),
        "seq": seq,
        "columns": list(table.columns),
    }
    arrays["meta"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except OSError as exc:  # a cache: never fail the compaction over it
        log.warning("cannot write the snapshot of %s: %s", layer_file.name, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def remove_snapshot(layer_file: Path) -> None:
    """Remove the snapshot of ``layer_file``, if any."""
    with contextlib.suppress(FileNotFoundError):
        snapshot_path(layer_file).unlink()


def read_snapshot(layer_file: Path, seq: int, table: T) -> T | None:
    """The table ``layer_file`` (at ``seq``) holds, from its snapshot, or None when there is
    none that matches it: then read the GeoJSON. ``table`` is an empty table of the layer
    (its columns must be the snapshot's)."""
    path = snapshot_path(layer_file)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = orjson.loads(data["meta"].tobytes())
            if (
                meta.get("format") != FORMAT
                or meta.get("seq") != seq
                or meta.get("file") != _file_key(layer_file)
                or meta.get("columns") != list(table.columns)
            ):
                return None
            arrays = {name: data[name] for name in data.files if name != "meta"}
        filled: T = table.from_arrays(arrays)
        return filled
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, orjson.JSONDecodeError):
        log.warning("ignoring the unreadable snapshot %s", path.name, exc_info=True)
        return None


def encode_column(values: np.ndarray) -> tuple[np.ndarray, bytes]:
    """``(codes, uniques as JSON)`` of an object column; code -1 is an absent value (NaN).

    Values are told apart by identity, as the table shares equal values: exact (``1``,
    ``1.0`` and ``True`` stay apart) and as fast as numpy sorts integers.
    """
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.int8), b"[]"
    identities = np.fromiter(map(id, values), dtype=np.int64, count=n)
    inverse, distinct = pd.factorize(identities)  # in order of first appearance
    first = np.empty(len(distinct), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)  # the earliest row of each wins
    uniques = values[first].tolist()
    present = [not (v.__class__ is float and v != v) for v in uniques]
    kept = [v for v, keep in zip(uniques, present, strict=True) if keep]
    remap = np.full(len(uniques), -1, dtype=np.int64)
    remap[np.flatnonzero(present)] = np.arange(len(kept))
    codes = remap[inverse]
    return codes.astype(_code_dtype(len(kept))), orjson.dumps(kept)


def decode_column(codes: np.ndarray, uniques_json: bytes) -> tuple[np.ndarray, list[Any]]:
    """The object column :func:`encode_column` encoded (NaN where absent), and its
    distinct values."""
    uniques = orjson.loads(uniques_json)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[: len(uniques)] = uniques
    table[len(uniques)] = float("nan")
    at = codes.astype(np.int64)
    at[at < 0] = len(uniques)
    return table[at], uniques


def _code_dtype(count: int) -> Any:
    for dtype in (np.int8, np.int16, np.int32):
        if count < np.iinfo(dtype).max:
            return dtype
    return np.int64


def encode_blobs(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings as one uint8 array and their end offsets."""
    ends = np.cumsum([len(b) for b in blobs], dtype=np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), ends


def decode_blobs(data: np.ndarray, ends: np.ndarray) -> list[bytes]:
    """The byte strings :func:`encode_blobs` joined."""
    raw = data.tobytes()
    stops = ends.tolist()
    return [raw[s:e] for s, e in zip([0, *stops[:-1]], stops, strict=True)] if stops else []


def geometries_to_wkb(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapely geometries as WKB blobs (with their Z)."""
    blobs: list[bytes] = list(shapely.to_wkb(geoms, output_dimension=3)) if len(geoms) else []
    return encode_blobs(blobs)


def geometries_from_wkb(data: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The geometries :func:`geometries_to_wkb` wrote."""
    blobs = decode_blobs(data, ends)
    out = np.empty(len(blobs), dtype=object)
    if blobs:
        out[:] = shapely.from_wkb(np.array(blobs, dtype=object))
    return out
