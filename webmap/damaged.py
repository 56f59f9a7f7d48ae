"""Overview pages that keep working when one layer's files are damaged.

A damaged journal or layer file makes every read of its layer raise
:class:`layers.errors.DataDamaged` (503). The pages that show every layer at once (the
county map, the dashboard, the ledger, the layer list, the OGC collections) are
decorated with :func:`spare_damaged_layers`: while they run, ``get_store()`` gives a
:class:`SparingStore`, which answers reads of a damaged layer as an empty layer and
notes it; the page then shows a banner naming it and saying ``villageworks repair``
recovers it (:func:`damaged_layers`, in every template). The damaged layer's own pages
and API read the store itself, and answer 503 with the message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, g, has_request_context

from layers.errors import DataDamaged
from layers.store_base import BaseStore, QueryResult, _frame, _geometries
from webmap.i18n import current_lang

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
SPARING = "villageworks.sparing_store"


def damaged_layers() -> dict[str, DataDamaged]:
    """The layers found damaged while serving this request, with their errors."""
    if not has_request_context():
        return {}
    if "damaged_layers" not in g:
        g.damaged_layers = {}
    return g.damaged_layers  # type: ignore[no-any-return]


class SparingStore:
    """Reads of ``store`` in which a damaged layer reads as empty (and is noted in
    :func:`damaged_layers`); everything else, writes included, is the store's own."""

    def __init__(self, store: BaseStore):
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _read(self, layer: str, empty: Callable[[], Any], read: Callable[[], Any]) -> Any:
        noted = damaged_layers()
        if layer in noted:
            return empty()
        try:
            return read()
        except DataDamaged as exc:
            if not exc.layer:
                raise
            log.error("layer %s is damaged; the page is served without it: %s", exc.layer, exc)
            noted[exc.layer] = exc
            return empty()

    def _empty_frame(self, layer: str) -> Any:
        return _frame(self.store.spec(layer), [], _geometries([]))

    def version(self, layer: str) -> int:
        """The layer's version; 0 for a damaged layer."""
        return int(self._read(layer, lambda: 0, lambda: self.store.version(layer)))

    def count(self, layer: str) -> int:
        """Live features; 0 for a damaged layer."""
        return int(self._read(layer, lambda: 0, lambda: self.store.count(layer)))

    def counts(self) -> dict[str, int]:
        """Live feature count of every layer (0 for a damaged one)."""
        return {name: self.count(name) for name in self.store.layer_names()}

    def features(self, layer: str) -> list[dict[str, Any]]:
        """Every live feature; none for a damaged layer."""
        return list(self._read(layer, list, lambda: self.store.features(layer)))

    def get(self, layer: str, fid: str) -> dict[str, Any] | None:
        """One live feature; None for a damaged layer."""
        return self._read(layer, lambda: None, lambda: self.store.get(layer, fid))  # type: ignore[no-any-return]

    def frame(self, layer: str) -> Any:
        """The layer's frame; an empty one (same columns) for a damaged layer."""
        return self._read(layer, lambda: self._empty_frame(layer), lambda: self.store.frame(layer))

    def query_frame(self, layer: str, query: Any = None, **terms: Any) -> Any:
        """:meth:`BaseStore.query_frame`; an empty frame for a damaged layer."""
        read = functools.partial(self.store.query_frame, layer, query, **terms)
        return self._read(layer, lambda: self._empty_frame(layer), read)

    def query(self, layer: str, query: Any = None, **terms: Any) -> QueryResult:
        """:meth:`BaseStore.query`; nothing matches in a damaged layer."""
        read = functools.partial(self.store.query, layer, query, **terms)
        return self._read(layer, lambda: QueryResult([], 0), read)  # type: ignore[no-any-return]

    def query_sample(self, layer: str, query: Any = None, **terms: Any) -> QueryResult:
        """:meth:`BaseStore.query_sample`; nothing matches in a damaged layer."""
        read = functools.partial(self.store.query_sample, layer, query, **terms)
        return self._read(layer, lambda: QueryResult([], 0), read)  # type: ignore[no-any-return]

    def bbox_ids(self, layer: str, bbox: Any) -> list[str]:
        """Ids in ``bbox``; none for a damaged layer."""
        return list(self._read(layer, list, lambda: self.store.bbox_ids(layer, bbox)))

    def date_range(self, layer: str) -> tuple[str, str] | None:
        """First and last day; None for a damaged layer."""
        return self._read(layer, lambda: None, lambda: self.store.date_range(layer))  # type: ignore[no-any-return]

    def extent(self, layer: str) -> Any:
        """Bounds of the live features; None for a damaged layer."""
        return self._read(layer, lambda: None, lambda: self.store.extent(layer))

    def history(self, layer: str, fid: str) -> list[dict[str, Any]]:
        """A feature's changes; none for a damaged layer."""
        return list(self._read(layer, list, lambda: self.store.history(layer, fid)))

    def records(self, layer: str) -> list[dict[str, Any]]:
        """The layer's change records; none for a damaged layer."""
        return list(self._read(layer, list, lambda: self.store.records(layer)))


# It answers every read a store does (the rest is the store's own): code that asks
# isinstance(store, BaseStore) gets its answer for the store.
BaseStore.register(SparingStore)


def sparing_store(app: Flask, store: BaseStore) -> SparingStore:
    """The app's one :class:`SparingStore` (one, so caches keyed by store keep working)."""
    sparing = app.extensions.get(SPARING)
    if sparing is None or sparing.store is not store:
        sparing = app.extensions[SPARING] = SparingStore(store)
    return sparing  # type: ignore[no-any-return]


def sparing_now() -> bool:
    """Whether this request is an overview page that spares damaged layers."""
    return has_request_context() and bool(g.get("spare_damaged"))


def spare_damaged_layers(view: F) -> F:
    """Decorator of an overview page: damaged layers read as empty and are named in a
    banner, so the page and every other layer keep working."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.spare_damaged = True
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def damaged_notes(store: Any, lang: str) -> list[dict[str, str]]:
    """Each damaged layer of this request: its name, label and message in ``lang``."""
    notes = []
    for layer, exc in damaged_layers().items():
        spec = store.specs.get(layer)
        label = spec.label_in(lang) if spec is not None else layer
        notes.append({"layer": layer, "label": label, "message": exc.user_message(lang)})
    return notes


def init_app(app: Flask) -> None:
    """Every template knows the damaged layers of its request (``damaged_notes``)."""

    @app.context_processor
    def _inject() -> dict[str, Any]:
        sparing = app.extensions.get(SPARING)
        if sparing is None or not damaged_layers():
            return {"damaged_notes": []}
        return {"damaged_notes": damaged_notes(sparing.store, current_lang())}
