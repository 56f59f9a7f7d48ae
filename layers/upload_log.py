"""The audit log of uploads: each upload's record and its original file, and undo.

``uploads/<id>/meta.json`` (a site file, :mod:`layers.site_files`) holds what an upload
did (the report of :func:`layers.uploads.run_upload`), ``original.bin`` the file as it
came. A record is
written ``pending`` before the commit and finished after it; a process that dies between
leaves a pending record that the next upload (and the next start of the app) settles.
A folder without a record (a process that died, or failed, before writing it) is stray:
:func:`stray_upload_dirs` lists them for ``villageworks check`` and :meth:`UploadLog.recover`
removes them.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import orjson

from geo.messages import register
from geo.problems import Problem, short_value
from layers.changes import Change
from layers.errors import BadRequest, NotFound
from layers.journal import crashpoint
from layers.site_files import DirFiles, SiteFiles
from layers.store_base import BaseStore, utc_now
from layers.upload_claims import claims_for, read_metas

_ID_RE = re.compile(r"^U-\d{8}-[0-9a-f]{6}$")

register("upload_not_found", "找不到上传记录 {value}", "No upload {value}")
register("upload_already_undone", "上传 {value} 已撤销", "Upload {value} was already undone")
register(
    "upload_not_undone",
    "上传 {value} 没有被撤销，不能重做",
    "Upload {value} was not undone: there is nothing to redo",
)
register(
    "upload_stray_dir",
    "上传文件夹 {value} 没有上传记录（上传失败时留下的）；下次启动时会被清除",
    "Upload folder {value} holds no upload record (left by a failed upload); "
    "it is removed at the next start",
)


class Report(Protocol):
    """What the log keeps of an upload's report (:class:`layers.uploads.UploadReport`)."""

    upload_id: str | None
    problems: list[Problem]

    def as_dict(self, lang: str = "zh", *, with_features: bool = False) -> dict[str, Any]: ...


class UploadLog:
    """Records of uploads: ``uploads/<id>/meta.json`` plus the original file, in the
    site's files (:mod:`layers.site_files`: the data directory, or ``vw_files``).

    The original is stored as ``original.bin`` (never under the user's file name, which
    is kept as metadata only, Chinese characters and all).

    A record is ``pending`` from :meth:`begin` until :meth:`finish`: its writer holds a
    claim on it meanwhile (:class:`layers.upload_claims.DirClaims`: an ``flock`` on
    ``writing.lock`` in the folder; :class:`layers.upload_claims.PgClaims`: a PostgreSQL
    session advisory lock, held on a connection of its own). On PostGIS the record and
    the layer commit are in one database but not in one transaction: "pending" there
    means the record was written and the commit may or may not have landed; when the
    writer's session is gone (its process died, the server dropped its connection) the
    claim is free and :meth:`recover_pending` settles it by looking for the upload's
    features, as on the data directory. ``find_by_key`` reads the shared records, so a
    key written by another server is found.
    """

    def __init__(self, files: SiteFiles | Path | str):
        self.files = files if isinstance(files, SiteFiles) else DirFiles(files)
        local = self.files.root if isinstance(self.files, DirFiles) else None
        self.root = (local or Path(".")) / "uploads"
        self.claims = claims_for(self.files)

    @staticmethod
    def _check(upload_id: str) -> str:
        if not _ID_RE.match(upload_id or ""):
            raise NotFound("upload_not_found", value=short_value(upload_id, 40))
        return upload_id

    def _path(self, upload_id: str, name: str = "meta.json") -> str:
        return f"uploads/{self._check(upload_id)}/{name}"

    def _lock(self) -> AbstractContextManager[Any]:
        return self.files.lock("uploads")

    def begin(self, report: Report, data: bytes) -> None:
        """Keep the original and a pending record before the features are committed.

        The record's claim stays held until :meth:`release`: a pending record whose
        claim is free belongs to a process that died, and :meth:`recover_pending`
        settles it.
        """
        assert report.upload_id is not None
        upload_id = self._check(report.upload_id)
        # Under the log's lock from the folder's start until the claim: whoever looks
        # for stray folders (under that lock too) never sees this one unclaimed.
        with self._lock():
            if self.files.list(f"uploads/{upload_id}"):
                raise FileExistsError(self._path(upload_id, ""))
            self.claims.claim(upload_id)
        try:
            crashpoint("upload_begin")
            self.files.write(self._path(upload_id, "original.bin"), data)
            self._write(report, "pending")
        except BaseException:
            # Nothing was committed: leave no folder behind (not even the lock file).
            self.release(upload_id)
            self.files.delete_tree(f"uploads/{upload_id}")
            raise

    def release(self, upload_id: str) -> None:
        """End :meth:`begin`'s claim on a record (finished, discarded or failed)."""
        self.claims.release(upload_id)

    def finish(self, report: Report) -> None:
        """Mark the upload committed, with the ids it created."""
        self._write(report, "committed")

    def discard(self, upload_id: str) -> None:
        """Forget a record begun for nothing (the commit was a replay)."""
        self.files.delete_tree(f"uploads/{self._check(upload_id)}")

    def _write(self, report: Report, status: str) -> None:
        assert report.upload_id is not None
        meta = report.as_dict("zh")
        meta["status"] = status
        meta["problem_count"] = len(report.problems)
        meta["problems"] = [p.as_dict("zh") for p in report.problems[:500]]
        meta["problems_en"] = [p.message("en") for p in report.problems[:500]]
        with self._lock():
            self.files.write(
                self._path(report.upload_id), orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            )

    def get(self, upload_id: str) -> dict[str, Any]:
        """One upload's record."""
        raw = self.files.read(self._path(upload_id))
        if raw is None:
            raise NotFound("upload_not_found", value=upload_id)
        meta: dict[str, Any] = orjson.loads(raw)
        return meta

    def original(self, upload_id: str) -> bytes:
        """The file as it was uploaded."""
        raw = self.files.read(self._path(upload_id, "original.bin"))
        if raw is None:
            raise FileNotFoundError(self._path(upload_id, "original.bin"))
        return raw

    def list(self) -> list[dict[str, Any]]:
        """Every upload's record, newest first."""
        metas = []
        for raw in read_metas(self.files):
            try:
                metas.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
        return sorted(metas, key=lambda m: m.get("at", ""), reverse=True)

    def find_by_key(self, key: str, *, user: str) -> dict[str, Any] | None:
        """The committed upload ``user`` made with idempotency key ``key``, if any
        (made through any server of the site).

        Keys are scoped per user (as in the OGC API and capture): the same key sent by
        another user names a different request.
        """
        if not key:
            return None
        return next(
            (
                m
                for m in self.list()
                if m.get("idempotency_key") == key
                and m.get("user") == user
                and m.get("status") != "pending"
            ),
            None,
        )

    def mark(self, upload_id: str, **changes: Any) -> dict[str, Any]:
        """Update fields of an upload's record (e.g. after an undo)."""
        with self._lock():
            meta = self.get(upload_id)
            meta.update(changes)
            self.files.write(self._path(upload_id), orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        return meta

    def _source_ids(self, store: BaseStore, meta: Mapping[str, Any]) -> builtins.list[str]:
        source = f"upload:{meta['upload_id']}"
        layer = meta.get("layer", "")
        return [
            f["id"]
            for f in (store.features(layer) if layer in store.specs else [])
            if (f.get("properties") or {}).get("source") == source
        ]

    def _settle_pending(self, store: BaseStore, meta: Mapping[str, Any]) -> str:
        ids = self._source_ids(store, meta)
        if ids:
            self.mark(meta["upload_id"], status="committed", ids=ids, accepted=len(ids))
            return "committed"
        self.files.delete_tree(f"uploads/{self._check(meta['upload_id'])}")
        return "removed"

    def settle(self, store: BaseStore, upload_id: str) -> str:
        """Mark a pending upload committed if its features exist, else remove its record.

        Returns ``"committed"``, ``"removed"`` or ``"kept"`` (not pending).
        """
        try:
            meta = self.get(upload_id)
        except NotFound:
            self._remove_strays([upload_id])
            return "removed"
        if meta.get("status") != "pending":
            return "kept"
        return self._settle_pending(store, meta)

    def stray(self) -> builtins.list[str]:
        """Upload folders without a record whose writer is gone (it died or failed before
        writing the record), oldest id first. Changes nothing."""
        return [name for name in self._unrecorded() if self._is_abandoned(name)]

    def _unrecorded(self) -> builtins.list[str]:
        """Upload folders without a record, from one listing (one query on PostgreSQL)."""
        paths = self.files.list("uploads")
        recorded = {p.split("/")[1] for p in paths if p.endswith("/meta.json")}
        if isinstance(self.files, DirFiles):  # empty folders too
            found = {p.name for p in self.root.glob("U-*") if p.is_dir()}
        else:
            found = {path.split("/")[1] for path in paths}
        return sorted(n for n in found - recorded if _ID_RE.match(n))

    def _is_abandoned(self, upload_id: str) -> bool:
        with self.claims.abandoned(upload_id) as abandoned:
            return abandoned

    def _remove_strays(self, upload_ids: builtins.list[str] | None = None) -> int:
        """Remove stray folders (of ``upload_ids``, default all); returns how many."""
        if upload_ids is None:
            names = self._unrecorded()
        else:
            names = [n for n in upload_ids if not self.files.exists(self._path(n))]
        if not names:
            return 0  # the usual case: take no lock, write nothing
        removed = 0
        with self._lock():  # begin() holds it from mkdir to claim: no half-made folder here
            for name in names:
                with self.claims.abandoned(name) as abandoned:
                    if abandoned and not self.files.exists(self._path(name)):
                        if self.files.delete_tree(f"uploads/{name}") or self._dir_gone(name):
                            removed += 1
        return removed

    def _dir_gone(self, name: str) -> bool:
        """Whether an (empty) local folder was there: counted as removed."""
        return isinstance(self.files, DirFiles) and not (self.root / name).exists()

    def recover(self, store: BaseStore) -> dict[str, int]:
        """At start: settle pending records and remove stray folders (see the module)."""
        settled = self.recover_pending(store)
        settled["stray"] = self._remove_strays()
        return settled

    def recover_pending(self, store: BaseStore) -> dict[str, int]:
        """Settle records left ``pending`` by a process that died mid-upload.

        An upload whose features exist (the commit happened) is marked committed; one
        without any was never written and its record is removed.
        """
        settled = {"committed": 0, "removed": 0}
        for meta in self.list():
            if meta.get("status") != "pending":
                continue
            with self.claims.abandoned(str(meta["upload_id"])) as abandoned:
                if not abandoned:
                    continue  # its upload is still running in another process
                try:
                    meta = self.get(meta["upload_id"])
                except NotFound:
                    continue  # settled meanwhile
                if meta.get("status") != "pending":
                    continue
                settled[self._settle_pending(store, meta)] += 1
        return settled


def undo_upload(store: BaseStore, upload_id: str, *, user: str) -> dict[str, Any]:
    """Soft-delete every feature an upload created; its history and record are kept.

    The record keeps the ids the undo deleted (``undone_ids``): :func:`redo_upload`
    brings back exactly those.
    """
    log = UploadLog(store.files)
    meta = log.get(upload_id)
    if meta.get("status") == "undone":
        raise BadRequest("upload_already_undone", value=upload_id)
    result = store.undo_source(meta["layer"], f"upload:{upload_id}", user=user)
    ids = [str(i) for i in result.ids] if result else []
    return log.mark(
        upload_id,
        status="undone",
        undone_by=user,
        undone_at=utc_now(),
        removed=len(ids),
        undone_ids=ids,
    )


def undo_count(store: BaseStore, meta: Mapping[str, Any]) -> int:
    """How many live features an undo of the upload ``meta`` would delete."""
    layer = str(meta.get("layer") or "")
    if layer not in store.specs:
        return 0
    source = f"upload:{meta.get('upload_id')}"
    return store.query(layer, equals={"source": source}, limit=0).number_matched


def redo_ids(store: BaseStore, meta: Mapping[str, Any]) -> builtins.list[str]:
    """The features a redo of the undone upload ``meta`` brings back: those its undo
    deleted that are still deleted (an undo recorded before ``undone_ids`` existed: the
    upload's features whose last change was that undo)."""
    layer = str(meta.get("layer") or "")
    if meta.get("status") != "undone" or layer not in store.specs:
        return []
    undo_source = f"undo:upload:{meta.get('upload_id')}"
    if "undone_ids" in meta:
        wanted = [str(i) for i in meta["undone_ids"]]
        return [fid for fid in wanted if store.get(layer, fid) is None]
    out = []
    for fid in (str(i) for i in meta.get("ids") or []):
        if store.get(layer, fid) is None:
            history = store.history(layer, fid)
            if history and history[-1].get("source") == undo_source:
                out.append(fid)
    return out


def redo_upload(store: BaseStore, upload_id: str, *, user: str) -> dict[str, Any]:
    """Bring back what the undo of an upload deleted, as it was, through the store's
    restore (one commit, source ``redo:upload:<id>``, each feature's history kept); the
    record is ``committed`` again (and can be undone again). 400 when it is not undone."""
    log = UploadLog(store.files)
    meta = log.get(upload_id)
    if meta.get("status") != "undone":
        raise BadRequest("upload_not_undone", value=upload_id)
    ids = redo_ids(store, meta)
    if ids:
        changes = [Change("restore", id=fid) for fid in ids]
        store.commit(meta["layer"], changes, user=user, source=f"redo:upload:{upload_id}")
    return log.mark(
        upload_id, status="committed", redone_by=user, redone_at=utc_now(), restored=len(ids)
    )


def stray_upload_dirs(data_dir: SiteFiles | Path | str) -> list[str]:
    """The ``uploads/U-*`` folders holding no record (left by failed uploads), for
    ``villageworks check``; removed by :meth:`UploadLog.recover` at the next start.

    >>> import tempfile
    >>> stray_upload_dirs(tempfile.mkdtemp())
    []
    """
    return UploadLog(data_dir).stray()


def stray_upload_problems(data_dir: SiteFiles | Path | str) -> list[Problem]:
    """One warning per stray upload folder (:func:`stray_upload_dirs`)."""
    return [
        Problem("upload_stray_dir", value=f"uploads/{name}", severity="warning")
        for name in stray_upload_dirs(data_dir)
    ]


def upload_features_summary(meta: Mapping[str, Any]) -> str:
    """One line about an upload for lists and logs."""
    return (
        f"{meta.get('upload_id')} {meta.get('layer')} {short_value(meta.get('filename'))} "
        f"+{meta.get('accepted', 0)} -{meta.get('rejected', 0)}"
    )


__all__ = [
    "UploadLog",
    "redo_ids",
    "redo_upload",
    "stray_upload_dirs",
    "stray_upload_problems",
    "undo_count",
    "undo_upload",
    "upload_features_summary",
]
