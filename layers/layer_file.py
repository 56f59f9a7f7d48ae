"""The layer file of the GeoJSON store: an RFC 7946 FeatureCollection, one feature a line.

The first line holds the collection's members (``vw:seq``, ``vw:journal_offset``,
``vw:next_id``, ``vw:idempotency``, ``vw:checksum``), then one feature per line, so a
process loads a big layer a slice at a time and compaction writes the stored JSON texts
without serialising them again. The last line closes the collection with one more member,
the CRC-32 of every byte before that line::

    {"type":"FeatureCollection",...,"vw:checksum":"crc32","features":[
    {"type":"Feature","id":"SL-000001",...},
    {"type":"Feature","id":"SL-000002",...}
    ],"vw:crc32":"1c291ca3"}

so the file stays one valid GeoJSON document (QGIS opens it as it is) and a damaged byte
anywhere in it is found before any of it is used: the checksum covers the lines before
the last, and the last line must be exactly that. ``vw:checksum`` in the first line says a
checksum must be there, so damage to the last line is not taken for an older file.

Files without either member (the demo county, older or hand-made files, any other valid
layout) are read as they are, the whole document at once when it is not laid out one
feature a line. A file that is not such a FeatureCollection, or whose checksum does not
match, raises :class:`LayerFileDamaged` and nothing of it is loaded.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from geo.messages import register
from layers.errors import DataDamaged
from layers.memtable import FeatureTable
from layers.snapshot import SNAPSHOT_MIN_FEATURES, read_snapshot, write_snapshot

#: Features parsed at a time when loading a layer file (bounds the memory a load needs).
LOAD_BATCH = 20000
#: Features joined into one write of the layer file (about 150 KB).
JOIN_FEATURES = 400
#: The first line's member saying the file ends with its checksum.
CHECKSUM_KEY = "vw:checksum"
#: The last line's member: the CRC-32 (8 hex digits) of every byte before the last line.
CRC_KEY = "vw:crc32"
_TRAILER_OPEN = b'],"vw:crc32":"'
_TRAILER = re.compile(rb'\],"vw:crc32":"([0-9a-f]{8})"\}\n\Z')
#: Members of a file's head the loader reads, and what each must be.
_HEAD_TYPES = {"vw:seq": int, "vw:journal_offset": int, "vw:next_id": int, "vw:idempotency": dict}

register(
    "layer_file_damaged",
    "图层文件 {file} 已损坏（{reason}），其中的数据一概未读取；该图层暂停使用，"
    "请管理员运行 villageworks repair",
    "The layer file {file} is damaged ({reason}); none of its data was read and the layer "
    "is out of service until an administrator runs villageworks repair",
)


class LayerFileDamaged(DataDamaged):
    """A layer file that is not a readable FeatureCollection, or fails its checksum (503)."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        self.layer = path.name.split(".", 1)[0]
        where = f"{path.parent.name}/{path.name}"
        super().__init__("layer_file_damaged", file=where, reason=reason)


def layer_file_chunks(head: Mapping[str, Any], chunks: Iterable[list[bytes]]) -> Iterator[bytes]:
    """A layer file: the FeatureCollection's members on the first line, one feature per
    line, then the checksum (RFC 7946 and valid JSON all the same); ``chunks``: the
    features' texts."""
    members = {k: v for k, v in head.items() if k not in ("features", CRC_KEY)}
    members[CHECKSUM_KEY] = "crc32"
    opening = orjson.dumps(members)[:-1] + b',"features":[\n'
    crc = zlib.crc32(opening)
    yield opening
    first = True
    for batch in chunks:
        # A few hundred features at a time: a buffer the allocator reuses, not a fresh
        # mapping of megabytes for every chunk.
        for start in range(0, len(batch), JOIN_FEATURES):
            piece = (b"" if first else b",\n") + b",\n".join(batch[start : start + JOIN_FEATURES])
            crc = zlib.crc32(piece, crc)
            yield piece
            first = False
    end = b"" if first else b"\n"
    yield end + _TRAILER_OPEN + b'%08x"}\n' % zlib.crc32(end, crc)


def read_layer_file(
    path: Path, new_table: Callable[[], FeatureTable]
) -> tuple[dict[str, Any], FeatureTable]:
    """The members (``vw:seq`` ...) of a layer file and a table of its features.

    The one-feature-per-line layout this store writes is read line by line, a batch at a
    time, its checksum computed on the way; anything else is parsed whole. Raises
    :class:`LayerFileDamaged` for a file that is damaged or no FeatureCollection.
    """
    with open(path, "rb") as fh:
        try:
            read = _read_lines_layout(path, fh, new_table)
        except LayerFileDamaged:
            read = None  # the whole document decides (it may be laid out anew: _verify_whole)
        if read is not None:
            return read
    doc = parse_layer_bytes(path, path.read_bytes())
    table = new_table()
    features = doc.pop("features")
    for start in range(0, len(features), LOAD_BATCH):
        _put(path, table, features[start : start + LOAD_BATCH], None, start)
    return doc, table


def _read_lines_layout(
    path: Path, fh: IO[bytes], new_table: Callable[[], FeatureTable]
) -> tuple[dict[str, Any], FeatureTable] | None:
    """:func:`read_layer_file` of the one-feature-per-line layout, or None if the file
    is laid out otherwise."""
    raw = fh.readline()
    first = raw.rstrip(b"\r\n")
    if not (first.startswith(b"{") and first.endswith(b'"features":[')):
        return None
    try:
        doc = orjson.loads(first + b"]}")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    doc = check_head(path, doc)
    # A big layer compacted here has a snapshot of its table: no parsing.
    seq = doc.get("vw:seq") or 0
    snapped = read_snapshot(path, seq, new_table())
    if snapped is not None:
        return doc, snapped
    table = new_table()
    ending = _read_feature_lines(path, fh, table, zlib.crc32(raw))
    if ending is None:
        return None
    _check_ending(path, doc, *ending)
    table.forget_recent()
    if len(table) >= SNAPSHOT_MIN_FEATURES:
        # Parsed once: the next start (and the other workers) need not.
        write_snapshot(path, seq, table)
    return doc, table


def _read_feature_lines(
    path: Path, fh: IO[bytes], table: FeatureTable, crc: int
) -> tuple[bytes, int] | None:
    """Read ``{feature},`` lines up to the closing line into ``table``; that line and the
    CRC-32 of the file before it, or None if the file is laid out otherwise (then the
    table is partly filled and must be dropped)."""
    batch: list[bytes] = []
    done = 0

    def flush() -> bool:
        nonlocal done
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
        _put(path, table, feats, batch, done)
        done += len(batch)
        batch.clear()
        return True

    for raw in fh:
        line = raw.rstrip(b"\r\n")
        if line == b"]}" or line.startswith(_TRAILER_OPEN):
            return (raw + fh.read(), crc) if flush() else None
        crc = zlib.crc32(raw, crc)
        if line.endswith(b","):
            line = line[:-1]
        if line:
            batch.append(line)
            if len(batch) >= LOAD_BATCH and not flush():
                return None
    return None


def _check_ending(path: Path, doc: Mapping[str, Any], ending: bytes, crc: int) -> None:
    """The closing line of a layer file read line by line: ``]}`` of a file without a
    checksum, else the checksum of every byte before it."""
    if ending.rstrip(b"\r\n") == b"]}" and CHECKSUM_KEY not in doc:
        if ending.strip() == b"]}":
            return
        raise LayerFileDamaged(path, "bytes follow the end of the collection")
    _match_trailer(path, ending, crc)


def _match_trailer(path: Path, ending: bytes, crc: int) -> None:
    found = _TRAILER.match(ending)
    if found is None:
        raise LayerFileDamaged(path, "its last line is not the checksum it should end with")
    if int(found.group(1), 16) != crc:
        raise LayerFileDamaged(
            path,
            f"checksum {found.group(1).decode()} given, {crc:08x} computed: bytes before its "
            "last line changed (edited by hand? then delete its vw:checksum and vw:crc32)",
        )


def verify_layer_file(path: Path) -> dict[str, Any]:
    """The members of a layer file, every byte of it checked but its features not loaded:
    a file with a checksum is read line by line against it, any other is parsed whole
    and each feature checked. Raises :class:`LayerFileDamaged`."""
    with open(path, "rb") as fh:
        raw = fh.readline()
        first = raw.rstrip(b"\r\n")
        if first.startswith(b"{") and first.endswith(b'"features":['):
            try:
                doc = orjson.loads(first + b"]}")
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict) and CHECKSUM_KEY in doc:
                with contextlib.suppress(LayerFileDamaged):  # then the whole document decides
                    return _verify_lines(path, fh, raw, doc)
    doc = parse_layer_bytes(path, path.read_bytes())
    doc.pop("features")
    return doc


def _verify_lines(path: Path, fh: IO[bytes], raw: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    crc = zlib.crc32(raw)
    for line in fh:
        if line.startswith(_TRAILER_OPEN):
            _match_trailer(path, line + fh.read(), crc)
            return check_head(path, doc)
        crc = zlib.crc32(line, crc)
    raise LayerFileDamaged(path, "it ends before the line of its checksum")


def parse_layer_bytes(path: Path, data: bytes) -> dict[str, Any]:
    """A layer file's whole document (``features`` a list of feature dicts), its checksum
    verified if it has one; raises :class:`LayerFileDamaged` for anything else."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise LayerFileDamaged(path, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise LayerFileDamaged(path, "not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if features is None:
        doc["features"] = features = []
    if not isinstance(features, list):
        raise LayerFileDamaged(path, "its features are not a list")
    for number, feature in enumerate(features, start=1):
        problem = _feature_problem(feature)
        if problem:
            raise LayerFileDamaged(path, f"feature {number}: {problem}")
    if CHECKSUM_KEY in doc or CRC_KEY in doc:
        _verify_whole(path, data, doc)
    doc.pop(CRC_KEY, None)
    return check_head(path, doc)


def _verify_whole(path: Path, data: bytes, doc: dict[str, Any]) -> None:
    """The checksum of a file parsed whole: of its bytes, or, for a file laid out anew
    (indented, on one line) by a tool that kept its members, of the same document as this
    module writes it: the same content, whatever the layout."""
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    try:
        _match_trailer(path, data[cut:], zlib.crc32(data[:cut]))
        return
    except LayerFileDamaged as exc:
        damage = exc
    written = b"".join(layer_file_chunks(doc, [[orjson.dumps(f) for f in doc["features"]]]))
    cut = written.rfind(b"\n", 0, len(written) - 1) + 1
    if doc.get(CRC_KEY) != f"{zlib.crc32(written[:cut]):08x}":
        raise damage


def check_head(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its ``vw:`` members checked: each absent or of its type (a bare
    count as text is taken as the number); raises :class:`LayerFileDamaged`."""
    for key, kind in _HEAD_TYPES.items():
        value: Any = doc.get(key)
        if value is None:
            continue
        if kind is int and isinstance(value, str) and value.isdigit():
            value = doc[key] = int(value)
        negative = isinstance(value, int) and value < 0
        if not isinstance(value, kind) or isinstance(value, bool) or negative:
            raise LayerFileDamaged(path, f"{key} is {str(value)[:40]!r}, not a {kind.__name__}")
    return doc


def _feature_problem(feature: Any) -> str:
    """What makes ``feature`` unreadable as a stored feature, or ""."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "not a GeoJSON Feature"
    if feature.get("id") is None:
        return "it has no id"
    for member in ("properties", "geometry"):
        if not isinstance(feature.get(member), dict | None):
            return f"its {member} is not an object"
    return ""


def _put(
    path: Path,
    table: FeatureTable,
    features: list[dict[str, Any]],
    raws: list[bytes] | None,
    done: int,
) -> None:
    """``features`` into ``table``; one the table cannot take (no id, properties that are
    no object, coordinates that are no numbers) raises :class:`LayerFileDamaged`."""
    try:
        table.put_many(features, raws)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        for number, feature in enumerate(features, start=done + 1):
            problem = _feature_problem(feature)
            if problem:
                raise LayerFileDamaged(path, f"feature {number}: {problem}") from None
        raise LayerFileDamaged(path, f"a feature cannot be read ({exc!r})") from None


def peek_seq(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(512)
    match = re.search(rb'"vw:seq":\s*(\d+)', head)
    return int(match.group(1)) if match else 0
