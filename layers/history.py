"""Feature history without a journal scan: where each feature's changes are in a journal.

A feature page shows the feature's history. Reading it from the whole journal costs a
second and more once the journal holds an import of a hundred thousand features, so each
process keeps a :class:`HistoryIndex` per layer: for every complete record, its byte span
in the journal, and the ids it changes as their JSON text, all records' ids joined in one
blob. Looking a feature up is one ``bytes.find`` pass over that blob (a few bytes per
changed feature, not a dict of them), then a read of only the records that name it; out
of a big record, only that feature's change is parsed.

The index is built on first use and extended by the records appended since (journals only
grow); a journal that shrank or whose first bytes changed (a replaced data directory, a
migrated layer) is indexed again from its start. Any record the fast paths cannot read
for sure is parsed whole, so the answer is always that of a full scan.
"""

from __future__ import annotations

import bisect
import os
import threading
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from layers.journal import LF, RS

#: Records at least this long are read by their parts (ids, head, one change).
BIG_RECORD_BYTES = 256 * 1024
#: Bytes of the journal's start remembered to notice a journal replaced by another.
HEAD_BYTES = 256
_CHANGE = b'{"op":"'
_CHANGES = b',"changes":['
_IDS = b',"ids":['
_HEAD_FIELDS = ("seq", "at", "by", "source")


class HistoryIndex:
    """The records of one journal that change each feature, for :meth:`changes`.

    >>> import tempfile
    >>> from layers.journal import Journal
    >>> path = Path(tempfile.mkdtemp()) / "wells.geojsons"
    >>> journal = Journal(path)
    >>> put = {"op": "put", "id": "W-1", "feature": {"id": "W-1"}, "action": "create"}
    >>> _ = journal.append({"seq": 1, "at": "2024-01-01", "changes": [put], "ids": ["W-1"]})
    >>> [(head["seq"], change["action"]) for head, change in HistoryIndex(path).changes("W-1")]
    [(1, 'create')]
    >>> HistoryIndex(path).changes("W-2")
    []
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._reset(b"")

    def _reset(self, head: bytes) -> None:
        self._head = head
        self._end = 0  # journal offset just past the last indexed record
        self._starts = array("q")  # per record: its offset in the journal
        self._stops = array("q")  # per record: the offset just past its text
        self._marks = array("q")  # per record: where its ids start in the blob
        self._parts: list[bytes] = []  # blob pieces not yet joined
        self._blob = b""
        self._blob_size = 0  # with the pieces not yet joined
        # Big records only: where each change starts (journal offsets), by record.
        self._big: dict[int, _BigRecord] = {}

    # ------------------------------------------------------------------ building
    def _refresh(self) -> None:
        """Index the records appended since the last call (lock held)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        head = _read_at(self.path, 0, min(size, HEAD_BYTES))
        if size < self._end or head[: len(self._head)] != self._head[: len(head)]:
            self._reset(head)
        if len(self._head) < HEAD_BYTES:
            self._head = head
        if size <= self._end:
            return
        data = _read_at(self.path, self._end, size - self._end)
        pos = 0
        while pos < len(data):
            stop = data.find(LF, pos)
            if stop < 0 or data[pos : pos + 1] != RS or not self._add(data, pos + 1, stop):
                break  # unreadable: a writer is appending it, or crashed (see read_records)
            pos = stop + 1
        self._end += pos
        if self._parts:
            self._blob = b"".join([self._blob, *self._parts])
            self._parts = []

    def _add(self, data: bytes, start: int, stop: int) -> bool:
        """Index the record ``data[start:stop]``; False if it is not a valid record."""
        text = data[start:stop]
        big = _BigRecord.read(text, self._end + start) if len(text) >= BIG_RECORD_BYTES else None
        if big is not None:
            ids = big.ids
            self._big[len(self._starts)] = big
        else:
            record = _parse(text)
            if record is None:
                return False
            ids = orjson.dumps([str(c.get("id")) for c in record.get("changes", [])])
        self._marks.append(self._blob_size)
        self._blob_size += len(ids) + 1
        self._starts.append(self._end + start)
        self._stops.append(self._end + stop)
        self._parts.append(ids + b"\n")
        return True

    # ------------------------------------------------------------------- reading
    def changes(self, fid: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every change of feature ``fid``, oldest first, each with its record's head
        (``seq``, ``at``, ``by``, ``source``)."""
        needle = orjson.dumps(str(fid))
        with self._lock:
            self._refresh()
            hits: dict[int, list[int]] = {}
            pos = self._blob.find(needle)
            while pos >= 0:
                record = bisect.bisect_right(self._marks, pos) - 1
                # The how-manieth id of its record: two quotes per id before it.
                nth = self._blob.count(b'"', self._marks[record], pos) // 2
                hits.setdefault(record, []).append(nth)
                pos = self._blob.find(needle, pos + len(needle))
            spans = [
                (self._starts[r], self._stops[r], self._big.get(r), n) for r, n in hits.items()
            ]
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for start, stop, big, nths in spans:
            picked = big.pick(self.path, str(fid), nths) if big is not None else None
            if picked is None:
                picked = _changes_in(_read_at(self.path, start, stop - start), str(fid))
            found.extend(picked)
        return found


class _BigRecord:
    """A big record's head, ids and change offsets, so one change is read alone."""

    def __init__(self, head: dict[str, Any], ids: bytes, offsets: array[int]):
        self.head, self.ids, self.offsets = head, ids, offsets

    @classmethod
    def read(cls, text: bytes, base: int) -> _BigRecord | None:
        """The parts of ``text`` (at journal offset ``base``), or None when it is not
        laid out as the store writes records (then it is parsed whole)."""
        cut, ids_at = text.find(_CHANGES), text.rfind(_IDS)
        head = _parse(text[:cut] + b"}") if 0 < cut < ids_at else None
        ids = _tail_ids(text, ids_at) if head is not None else None
        if head is None or ids is None:
            return None
        offsets = array("q")
        pos = text.find(_CHANGE, cut)
        while 0 <= pos < ids_at:
            offsets.append(base + pos)
            pos = text.find(_CHANGE, pos + 1)
        # The end of the last change: the ``]`` that closes the changes.
        offsets.append(base + text.rfind(b"]", 0, ids_at) + 1)
        return cls({k: head.get(k) for k in _HEAD_FIELDS}, ids, offsets)

    def pick(
        self, path: Path, fid: str, nths: list[int]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]] | None:
        """The changes at positions ``nths`` if each is of ``fid``, else None."""
        picked = []
        for nth in nths:
            if nth + 1 >= len(self.offsets):
                return None
            start, stop = self.offsets[nth], self.offsets[nth + 1] - 1
            try:
                change = orjson.loads(_read_at(path, start, stop - start))
            except orjson.JSONDecodeError:
                return None
            if not isinstance(change, dict) or str(change.get("id")) != fid:
                return None
            picked.append((self.head, change))
        return picked


def history_entries(
    changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    current: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """History entries (``seq``, ``op``, ``at``, ``by``, ``source``, ``feature``) of the
    ``(record head, change)`` pairs of one feature, oldest first.

    A feature that came with the data (seeded, never changed here) has no record: its
    history is one ``create`` entry built from its audit properties.

    >>> history_entries([], None)
    []
    >>> history_entries([], {"properties": {"created_by": "demo"}})[0]["by"]
    'demo'
    """
    entries = [
        {
            "seq": head["seq"],
            "op": change.get("action", change["op"]),
            "at": head.get("at"),
            "by": head.get("by"),
            "source": head.get("source"),
            "feature": change.get("feature"),
        }
        for head, change in changes
    ]
    if not entries and current is not None:
        props = current.get("properties", {})
        entries.append(
            {
                "seq": 0,
                "op": "create",
                "at": props.get("created_at"),
                "by": props.get("created_by"),
                "source": props.get("source"),
                "feature": current,
            }
        )
    return entries


def _read_at(path: Path, offset: int, length: int) -> bytes:
    if length <= 0:
        return b""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return b""
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def _parse(text: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "seq" in record else None


def _tail_ids(text: bytes, at: int) -> bytes | None:
    """The ``ids`` member of a big record (at ``at``), read from its end: the store writes
    it after the changes, one id per change; None when it does not check out."""
    if at < 0:
        return None
    start = at + len(_IDS) - 1
    close = text.find(b"]", start)
    while close >= 0:
        try:
            ids = orjson.loads(text[start : close + 1])
        except orjson.JSONDecodeError:
            close = text.find(b"]", close + 1)
            continue
        ok = isinstance(ids, list) and all(isinstance(i, str) and '"' not in i for i in ids)
        # Each change is an object opening with "op"; no text of a feature can hold
        # that sequence unescaped, so counting it counts the changes.
        if ok and len(ids) == text.count(_CHANGE):
            return text[start : close + 1]
        return None
    return None


def _changes_in(text: bytes, fid: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The changes of ``fid`` in one record's text, parsed whole."""
    record = _parse(text)
    if record is None:
        return []
    head = {k: record.get(k) for k in _HEAD_FIELDS}
    return [(head, c) for c in record.get("changes", []) if str(c.get("id")) == fid]
