"""The one commit template, over a small backend protocol.

Every write of every backend goes through :func:`run_commit`: the backend locks the layer
and reads its state (:class:`LayerWrite`, opened by the store's ``_write``), then, here,
once for both backends: the idempotency lookup, the preparation (the change planner
behind the backend's :meth:`LayerWrite.prepare`), the dry run's answer, the record's head
(seq, txn, when, who, source), the durable write (:meth:`LayerWrite.persist`) and the
result. A backend supplies only what differs: how a layer is locked and read (a file lock
and the journal; a row lock in one transaction), and how a record is persisted and
applied to its read cache.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from geo.problems import Problem
from layers.bulk import Block, LazyFeatures
from layers.changes import author_of

log = logging.getLogger("layers.store")


@dataclass
class CommitResult:
    """What a commit did: the record's seq, and the features as they now are."""

    layer: str
    seq: int
    txn: str
    #: A list, or for a block of new points a :class:`LazyFeatures` (decoded when read).
    features: list[dict[str, Any]]
    replayed: bool = False
    warnings: list[Problem] = field(default_factory=list)
    #: A dry run's checked batch, for the commit of the same changes that follows it.
    plan: CheckedPlan | None = None

    @property
    def ids(self) -> list[str]:
        """Ids of the changed features, in the order of the changes."""
        known = getattr(self.features, "ids", None)  # LazyFeatures: without decoding them
        if isinstance(known, list):
            return list(known)
        return [f["id"] for f in self.features]


@dataclass(eq=False)
class Prepared:
    """A checked batch: the entries to journal (or a :class:`Block` of new points), the
    warnings, and what they were checked for (``now``, who, the layer versions)."""

    changes: list[Any]
    now: str
    entries: list[dict[str, Any]] | Block
    warnings: list[Problem]

    @property
    def ids(self) -> list[str]:
        """The ids the batch changes, one per entry."""
        if isinstance(self.entries, Block):
            return self.entries.ids
        return [e["id"] for e in self.entries]

    @property
    def features(self) -> list[dict[str, Any]]:
        """The features as the batch leaves them (a block's decoded only when read)."""
        if isinstance(self.entries, Block):
            # Read like a list by every caller; never copied or grown.
            return cast(list[dict[str, Any]], LazyFeatures(self.entries.ids, self.entries.texts))
        return [e["feature"] for e in self.entries]


@dataclass(eq=False)
class CheckedPlan:
    """A dry run's checked batch, handed to the commit that follows it (``plan=``).

    The commit takes its entries without checking again only for the very same change
    objects, from the same author (name, role and areas) and source, while the versions
    of the layers the checks read (the layer, the layers it refers to, the boundaries)
    have not moved; otherwise it checks as usual. A plan serves one commit.
    """

    layer: str
    changes: list[Any]
    user: str
    source: str
    extra: dict[str, Any]
    versions: tuple[int, ...]
    prepared: Prepared
    used: bool = False

    def fits(
        self, layer: str, changes: list[Any], user: str, source: str, extra: dict[str, Any]
    ) -> bool:
        """Whether this plan was checked for these changes (the versions aside)."""
        return (
            not self.used
            and (layer, source, extra) == (self.layer, self.source, self.extra)
            and author_of(user).key == author_of(self.user).key
            and len(changes) == len(self.changes)
            and all(a is b for a, b in zip(changes, self.changes, strict=True))
        )


class LayerWrite(Protocol):
    """One layer, locked for a write by its backend, as :func:`run_commit` needs it."""

    seq: int

    def replayed(self, key: str) -> CommitResult | None:
        """The result of the earlier commit with idempotency ``key``, if any."""
        ...

    def prepare(
        self, changes: list[Any], *, user: str, source: str, extra: dict[str, Any]
    ) -> Prepared:
        """Check ``changes`` (all or nothing: raises on errors) into entries."""
        ...

    def versions(self) -> tuple[int, ...]:
        """The versions of the layers a check of this layer reads (a plan depends on)."""
        ...

    def persist(self, head: dict[str, Any], prepared: Prepared, key: str | None) -> None:
        """Write the record ``head`` + entries durably and apply it to the read cache."""
        ...


def run_commit(
    open_write: Callable[[Callable[[LayerWrite], CommitResult]], CommitResult],
    layer: str,
    changes: list[Any],
    *,
    user: str,
    source: str,
    idempotency_key: str | None,
    dry_run: bool,
    extra: Mapping[str, Any],
    plan: CheckedPlan | None = None,
) -> CommitResult:
    """Commit ``changes`` to ``layer`` through a backend's ``open_write``, which locks the
    layer, calls its argument with the :class:`LayerWrite` and releases (rolls back a
    dry run or a replay). A dry run's result carries its :class:`CheckedPlan`; ``plan``
    gives one back. ``user`` is the author (:func:`layers.changes.author_of`)."""
    extra = dict(extra)
    user = author_of(user)

    def body(write: LayerWrite) -> CommitResult:
        if idempotency_key:
            replayed = write.replayed(idempotency_key)
            if replayed is not None:
                return replayed
        fits = plan is not None and plan.fits(layer, changes, user, source, extra)
        if plan is not None and fits and plan.versions == write.versions():
            plan.used = True
            prepared = plan.prepared
        else:
            prepared = write.prepare(changes, user=user, source=source, extra=extra)
        if dry_run:
            checked = CheckedPlan(layer, changes, user, source, extra, write.versions(), prepared)
            features, warnings = prepared.features, prepared.warnings
            return CommitResult(layer, write.seq, "", features, warnings=warnings, plan=checked)
        seq, txn = write.seq + 1, uuid.uuid4().hex
        head: dict[str, Any] = {
            "seq": seq,
            "txn": txn,
            "layer": layer,
            "at": prepared.now,
            "by": str(user),  # an Author is its name
            "source": source,
        }
        write.persist(head, prepared, idempotency_key)
        return CommitResult(layer, seq, txn, prepared.features, warnings=prepared.warnings)

    result = open_write(body)
    if not (dry_run or result.replayed):
        log.info(
            "commit %s seq=%s changes=%d by=%s source=%s",
            layer,
            result.seq,
            len(result.features),
            user,
            source,
        )
    return result
