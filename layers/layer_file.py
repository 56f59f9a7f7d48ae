"""The layer file of the GeoJSON store: an RFC 7946 FeatureCollection, one feature a line.

The first line holds the collection's members (``vw:seq``, ``vw:journal_offset``,
``vw:next_id``, ``vw:idempotency``), then one feature per line, so a process loads a big
layer a slice at a time and compaction writes the stored JSON texts without serialising
them again. Any other valid layout (a hand-made or older file) is read as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from layers.memtable import FeatureTable
from layers.snapshot import SNAPSHOT_MIN_FEATURES, read_snapshot, write_snapshot

#: Features parsed at a time when loading a layer file (bounds the memory a load needs).
LOAD_BATCH = 20000
#: Features joined into one write of the layer file (about 150 KB).
JOIN_FEATURES = 400


def layer_file_chunks(head: Mapping[str, Any], chunks: Iterable[list[bytes]]) -> Iterator[bytes]:
    """A layer file: the FeatureCollection's members on the first line, then one feature
    per line (RFC 7946 and valid JSON all the same); ``chunks``: the features' texts."""
    opening = orjson.dumps(head)
    yield opening[:-1] + b',"features":[\n'
    first = True
    for batch in chunks:
        # A few hundred features at a time: a buffer the allocator reuses, not a fresh
        # mapping of megabytes for every chunk.
        for start in range(0, len(batch), JOIN_FEATURES):
            yield (b"" if first else b",\n") + b",\n".join(batch[start : start + JOIN_FEATURES])
            first = False
    yield b"\n]}\n" if not first else b"]}\n"


def read_layer_file(
    path: Path, new_table: Callable[[], FeatureTable]
) -> tuple[dict[str, Any], FeatureTable]:
    """The members (``vw:seq`` ...) of a layer file and a table of its features.

    The one-feature-per-line layout this store writes is read line by line, a batch at a
    time; anything else is parsed whole.
    """
    with open(path, "rb") as fh:
        first = fh.readline().rstrip(b"\r\n")
        if first.startswith(b"{") and first.endswith(b'"features":['):
            try:
                doc = orjson.loads(first + b"]}")
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict):
                # A big layer compacted here has a snapshot of its table: no parsing.
                seq = doc.get("vw:seq", 0)
                snapped = read_snapshot(path, seq, new_table()) if isinstance(seq, int) else None
                if snapped is not None:
                    return doc, snapped
                table = new_table()
                if _read_feature_lines(fh, table):
                    table.forget_recent()
                    if len(table) >= SNAPSHOT_MIN_FEATURES and isinstance(seq, int):
                        # Parsed once: the next start (and the other workers) need not.
                        write_snapshot(path, seq, table)
                    return doc, table
    doc = orjson.loads(path.read_bytes())
    table = new_table()
    features = doc.pop("features", None) or []
    for start in range(0, len(features), LOAD_BATCH):
        table.put_many(features[start : start + LOAD_BATCH])
    return doc, table


def _read_feature_lines(fh: IO[bytes], table: FeatureTable) -> bool:
    """Read ``{feature},`` lines up to ``]}`` into ``table``; False if the file is laid out
    otherwise (then the table is partly filled and must be dropped)."""
    batch: list[bytes] = []

    def flush() -> bool:
        if not batch:
            return True
        try:
            feats = orjson.loads(b"[" + b",".join(batch) + b"]")
        except orjson.JSONDecodeError:
            return False
        if len(feats) != len(batch) or not all(
            isinstance(f, dict) and f.get("type") == "Feature" for f in feats
        ):
            return False
        table.put_many(feats, batch)
        batch.clear()
        return True

    for line in fh:
        line = line.rstrip(b"\r\n")
        if line == b"]}":
            return flush() and not fh.read().strip()
        if line.endswith(b","):
            line = line[:-1]
        if line:
            batch.append(line)
            if len(batch) >= LOAD_BATCH and not flush():
                return False
    return False


def peek_seq(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(512)
    match = re.search(rb'"vw:seq":\s*(\d+)', head)
    return int(match.group(1)) if match else 0
