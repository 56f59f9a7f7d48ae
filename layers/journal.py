"""Durable files: an append-only journal (RFC 8142 GeoJSON text sequences), atomic
replacement of whole files, and an inter-process lock.

Why a journal: a change is acknowledged once its record is appended and fsynced, which
costs one small write however large the layer is; the layer file is rewritten (atomically)
from memory at once for small layers and by compaction for large ones. A crash at any
point leaves the previous layer file intact and every acknowledged record in the journal.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from geo.messages import register
from layers.errors import DataDamaged

RS = b"\x1e"
LF = b"\n"

# Fault injection for the crash tests: VILLAGEWORKS_CRASH_AT=<point>:<n> makes the process
# die (like kill -9, no clean-up) the n-th time it reaches <point>. Unset in normal use.
_CRASH_SPEC = os.environ.get("VILLAGEWORKS_CRASH_AT", "")
_crash_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Die here if the crash tests asked for it (see ``VILLAGEWORKS_CRASH_AT``)."""
    if not _CRASH_SPEC:
        return
    point, _, nth = _CRASH_SPEC.partition(":")
    if point != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= int(nth or 1):
        os._exit(86)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or a new file in it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, fsync dir.

    Readers see either the old file or the new one, never a mix or a truncation.
    """
    atomic_write_chunks(path, [data])


def atomic_write_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """:func:`atomic_write` of the concatenation of ``chunks``, never held whole in memory
    (a layer of a million features is written a few megabytes at a time)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        _write_temp(tmp, chunks)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a full disk: give back what the half-written copy took
        raise
    crashpoint("file_before_replace")
    os.replace(tmp, path)
    crashpoint("file_after_replace")
    fsync_dir(path.parent)


def _write_temp(tmp: Path, chunks: Iterable[bytes]) -> None:
    with open(tmp, "wb") as fh:
        first = True
        for chunk in chunks:
            if first:
                half = len(chunk) // 2
                fh.write(chunk[:half])
                crashpoint("file_half_written")
                fh.write(chunk[half:])
                first = False
            else:
                fh.write(chunk)
        if first:
            crashpoint("file_half_written")
        fh.flush()
        os.fsync(fh.fileno())


def remove_stale_temp_files(folder: Path, pattern: str = ".*.tmp") -> int:
    """Delete temp files (``pattern``) a writer that crashed mid-write left; returns how many.

    Call it holding the lock the writers of those files hold: a temp file of a live writer
    looks just the same.
    """
    count = 0
    for tmp in folder.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count


#: Errors that say this process cannot write the data directory (a read-only file system,
#: no write permission): writes then answer 503, reads still work (see
#: :meth:`InterProcessLock.for_reading`).
UNWRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class InterProcessLock:
    """An exclusive ``flock`` on a lock file, also serialising threads of this process.

    ``flock`` locks belong to an open file description, so each acquisition opens the
    file anew; the thread lock keeps two threads of one process from sharing one.

    ``with lock:`` is for writers: the file is opened for writing (created if missing),
    and an error doing so (a read-only or full disk) is raised. Readers use
    :meth:`for_reading`, which also works on a data directory this process cannot write.
    """

    def __init__(self, path: Path):
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        #: Whether the current holder holds the exclusive lock (False: shared or none).
        self.exclusive = False

    def __enter__(self) -> InterProcessLock:
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                self._take(self._open_for_writing(), fcntl.LOCK_EX)
            elif not self.exclusive:
                raise OSError(errno.EROFS, f"{self.path} is held for reading only")
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1
        return self

    @contextlib.contextmanager
    def for_reading(self) -> Iterator[bool]:
        """Hold the lock to read; yields whether it is held exclusively (so the holder
        may also tidy up: cut a torn tail, remove a crashed writer's temp files).

        Exclusive when the lock file can be opened for writing. When this process cannot
        write the data directory (read-only, no permission, or a full disk with no room
        for a new lock file), a shared lock on the file opened read-only instead, which
        waits for writers that can; no lock when the file does not exist (no writer has
        taken it yet). Readers never need more: a writer's change appears whole or not
        at all (fsynced journal records, atomically replaced files).
        """
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                self._take_for_reading()
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise
        try:
            yield self.exclusive
        finally:
            self.__exit__()

    def _take_for_reading(self) -> None:
        try:
            self._take(self._open_for_writing(), fcntl.LOCK_EX)
            return
        except OSError as exc:
            if exc.errno not in (*UNWRITABLE_ERRNOS, errno.ENOSPC, errno.EDQUOT):
                raise
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        self._take(fd, fcntl.LOCK_SH)

    def _open_for_writing(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def _take(self, fd: int, how: int) -> None:
        try:
            fcntl.flock(fd, how)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.exclusive = how == fcntl.LOCK_EX

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
            self.exclusive = False
        self._thread_lock.release()


#: The end of every record this store writes: its CRC-32 as the JSON object's last member,
#: over the record's text before it (``{"seq":1,...``), so a damaged byte anywhere in a
#: record is told apart from a torn tail. Records without it (older journals) are read as
#: they are.
CRC_KEY = "crc"
_CRC_OPEN = b',"crc":"'
_CRC_TAIL = len(_CRC_OPEN) + 8 + 2  # ,"crc":"xxxxxxxx"}


register(
    "journal_damaged",
    "图层日志 {file} 在第 {offset} 字节处损坏（{reason}）。日志未做任何改动；"
    "该图层暂停使用，请管理员运行 villageworks repair（villageworks check 可查看损坏情况）",
    "The layer journal {file} is damaged at byte {offset} ({reason}). Nothing in it was "
    "changed; the layer is out of service until an administrator runs villageworks repair "
    "(villageworks check shows the damage)",
)


class JournalDamaged(DataDamaged):
    """A journal holds bytes that are neither records nor a torn last record (503)."""

    def __init__(self, path: Path, offset: int, reason: str):
        self.path, self.offset, self.reason = path, offset, reason
        self.layer = path.name.split(".", 1)[0]
        where = f"{path.parent.name}/{path.name}"
        super().__init__("journal_damaged", file=where, offset=offset, reason=reason)


def seal(parts: list[bytes]) -> list[bytes]:
    """``parts`` of a record (RS, its JSON object in pieces, LF) with the checksum member
    added before the closing brace.

    >>> b"".join(seal([RS, b'{"seq":1}', LF]))
    b'\\x1e{"seq":1,"crc":"8c63767c"}\\n'
    """
    body, closing = parts[1:-2], parts[-2]
    if not closing.endswith(b"}"):
        raise ValueError("a journal record is a JSON object")
    crc = 0
    for part in body:
        crc = zlib.crc32(part, crc)
    crc = zlib.crc32(closing[:-1], crc)
    return [parts[0], *body, closing[:-1] + _CRC_OPEN + b"%08x" % crc + b'"}' + LF]


def _verified(text: bytes) -> bool:
    """Whether a record's JSON text carries no checksum or the right one (a checksum
    member one byte off, ``,"Crc":"``, is a damaged one, not none)."""
    opening = text[-_CRC_TAIL : -_CRC_TAIL + len(_CRC_OPEN)]
    if len(text) < _CRC_TAIL or opening != _CRC_OPEN:
        near = sum(a != b for a, b in zip(opening, _CRC_OPEN, strict=False)) <= 1
        return _CRC_OPEN not in text[-_CRC_TAIL - 2 :] and not (len(text) >= _CRC_TAIL and near)
    # Compared as the text written (lower-case hex): "4C41a3ed" is a damaged "4c41a3ed".
    return b"%08x" % zlib.crc32(text[:-_CRC_TAIL]) == text[-10:-2] and text[-2:] == b'"}'


def encode_record(record: dict[str, Any]) -> bytes:
    """One RFC 8142 text: RS, compact JSON with its checksum, LF (NaN becomes null)."""
    if CRC_KEY in record:
        record = {k: v for k, v in record.items() if k != CRC_KEY}
    return b"".join(seal([RS, orjson.dumps(record), LF]))


def read_records(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete, valid records of the journal from byte ``offset`` on.

    Returns the records and the offset just past the last one read. Reading stops at an
    incomplete last record (no line end yet): a writer may be appending it right now, or
    crashed before acknowledging it (the next writer cuts such a tail). Anything else
    that is not a record (a damaged byte, a failed checksum, records after garbage)
    raises :class:`JournalDamaged`: it is never taken for a torn tail.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    records: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        end = data.find(LF, pos)
        if end < 0:
            break  # a torn tail: no complete record follows
        record = _record_at(data, pos, end)
        if record is None:
            raise JournalDamaged(path, offset + pos, _damage_reason(data, pos, end))
        records.append(record)
        pos = end + 1
    return records, offset + pos


def _record_at(data: bytes, pos: int, end: int) -> dict[str, Any] | None:
    if data[pos : pos + 1] != RS or not _verified(data[pos + 1 : end]):
        return None
    try:
        record = orjson.loads(data[pos + 1 : end])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or "seq" not in record:
        return None
    record.pop(CRC_KEY, None)
    return record


def _damage_reason(data: bytes, pos: int, end: int) -> str:
    if data[pos : pos + 1] != RS:
        return "a record does not start with the record separator"
    if not _verified(data[pos + 1 : end]):
        return "a record does not match its checksum"
    return "a record is not valid JSON"


def tail_damage(path: Path, good_offset: int) -> str:
    """Why the bytes after ``good_offset`` (the end of the last record read) are not a
    torn last record, or "" if they are one (or there are none).

    A torn record has no line end and never got as far as its checksum: a record written
    to its checksum whose line end is damaged is not taken for one.
    """
    with open(path, "rb") as fh:
        fh.seek(good_offset)
        rest = fh.read()
    if LF in rest:
        return "bytes after the last record hold a complete line"
    if _CRC_OPEN in rest:
        return "the last record was written whole but its line end is damaged"
    return ""


@dataclass
class JournalScan:
    """What :func:`scan_journal` found: the records that verify, in order, as
    ``(start, end, seq)`` spans of their JSON text (RS before, LF after), the byte ranges
    ``[start, end)`` that hold no such record, and a torn last record (its start, or None).
    """

    data: bytes
    kept: list[tuple[int, int, int]] = field(default_factory=list)
    lost: list[tuple[int, int]] = field(default_factory=list)
    torn_at: int | None = None

    @property
    def damaged(self) -> bool:
        """Whether anything but a torn last record is not a record."""
        return bool(self.lost)

    def texts(self) -> Iterator[bytes]:
        """The kept records as a journal: RS, the JSON text, LF, byte for byte."""
        for start, end, _seq in self.kept:
            yield RS + self.data[start:end] + LF

    def _lose(self, start: int, end: int) -> None:
        if self.lost and self.lost[-1][1] == start:
            start = self.lost.pop()[0]
        self.lost.append((start, end))


def scan_journal(data: bytes) -> JournalScan:
    """Every record of a journal's bytes that still verifies, and what does not, read past
    any damage (``villageworks repair``; :func:`read_records` stops at the first).

    Records are found by their separators: RS opens one, LF closes it, and neither occurs
    inside a record's JSON. A record whose line end is damaged is still kept when its
    checksum verifies (a record without one needs its line end); bytes before the next RS
    that are no record are lost. An incomplete last record that never got as far as its
    checksum is a torn write (never acknowledged), not damage.
    """
    scan = JournalScan(data)
    pos, size = 0, len(data)
    while pos < size:
        if data[pos : pos + 1] != RS:
            nxt = data.find(RS, pos + 1)
            nxt = size if nxt < 0 else nxt
            scan._lose(pos, nxt)
            pos = nxt
            continue
        end = data.find(LF, pos)
        nxt = data.find(RS, pos + 1, size if end < 0 else end)
        if end >= 0 and nxt < 0:
            _keep_or_lose(scan, pos, end, end + 1)
            pos = end + 1
        elif nxt >= 0 or _CRC_OPEN in data[pos:]:
            stop = size if nxt < 0 else nxt  # a record whose line end is damaged
            if not _sealed(data, pos, stop - 1):
                scan._lose(pos, stop)
            else:
                _keep_or_lose(scan, pos, stop - 1, stop)
            pos = stop
        else:
            scan.torn_at = pos
            break
    return scan


def _sealed(data: bytes, pos: int, end: int) -> bool:
    """Whether the text between ``pos`` (its RS) and ``end`` carries a checksum that
    verifies (not merely none)."""
    text = data[pos + 1 : end]
    return text[-_CRC_TAIL : -_CRC_TAIL + len(_CRC_OPEN)] == _CRC_OPEN and _verified(text)


def _keep_or_lose(scan: JournalScan, pos: int, end: int, stop: int) -> None:
    record = _record_at(scan.data, pos, end)
    seq = record.get("seq") if record is not None else None
    previous = scan.kept[-1][2] if scan.kept else 0
    if isinstance(seq, int) and seq > previous:
        scan.kept.append((pos + 1, end, seq))
    else:
        scan._lose(pos, stop)


def iter_all_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every valid record of a journal from its start (for history and audits)."""
    records, _ = read_records(path, 0)
    yield from records


class Journal:
    """The append-only change log of one layer. Callers hold the layer's lock to append."""

    def __init__(self, path: Path):
        self.path = path

    def size(self) -> int:
        """Current size in bytes (0 when the journal does not exist yet)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def repair_tail(self, good_offset: int) -> None:
        """Cut a torn record a crashed writer left after ``good_offset`` (lock held).

        Only a torn last record is cut: bytes after ``good_offset`` that hold a complete
        line (damage, or records not yet read) raise :class:`JournalDamaged` and the
        journal is kept byte for byte.
        """
        if self.size() > good_offset:
            damage = tail_damage(self.path, good_offset)
            if damage:
                raise JournalDamaged(self.path, good_offset, damage)
            with open(self.path, "r+b") as fh:
                fh.truncate(good_offset)
                fh.flush()
                os.fsync(fh.fileno())

    def append(self, record: dict[str, Any]) -> int:
        """Append one record durably; returns the offset just past it (lock held)."""
        if CRC_KEY in record:
            record = {k: v for k, v in record.items() if k != CRC_KEY}
        return self.append_text([RS, orjson.dumps(record), LF])

    def append_text(self, parts: list[bytes]) -> int:
        """Append one record given as the pieces of its text (RS, JSON, LF), written one
        after the other: a record of a hundred thousand features is never one buffer.
        Returns the offset just past it (lock held)."""
        parts = seal(parts)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if _CRASH_SPEC:
                _torn_write(fd, b"".join(parts))
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                for part in parts:
                    _write_all(fd, part)
            except OSError:
                # A full disk mid-record: nothing was acknowledged; cut what got written.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
            crashpoint("journal_before_fsync")
            os.fsync(fd)
            crashpoint("journal_after_fsync")
            end = os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        return end


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _torn_write(fd: int, data: bytes) -> None:
    """For the crash tests: write half a record, then die if asked to."""
    if _CRASH_SPEC.partition(":")[0] == "journal_torn":
        _crash_hits["journal_torn_seen"] = _crash_hits.get("journal_torn_seen", 0) + 1
        if _crash_hits["journal_torn_seen"] >= int(_CRASH_SPEC.partition(":")[2] or 1):
            os.write(fd, data[: len(data) // 2])
            os.fsync(fd)
            os._exit(86)
