"""The one query value: which features of a layer a read wants, and which page of them.

Every read that selects (the OGC items, the map's bbox API, exports, analyses of part of
a layer) builds one :class:`Query` and hands it to the store's ``query``,
``query_frame`` or ``query_sample``; each backend reads the same value (the GeoJSON
store on its feature table, PostGIS in SQL), so the terms have one meaning everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Query:
    """Features matching a lon/lat box, equality filters and a date range; a page of them.

    ``equals`` compares as text (``?status=working`` and ``free=true`` work); dates compare
    on the layer's ``date_field`` by day (``YYYY-MM-DD``, inclusive). ``within`` keeps the
    features whose anchor (the point, else a point on the surface) lies in that area.
    ``limit``/``offset`` page the matches; with ``spread`` the ``limit`` features are
    picked evenly over all matched instead of the first ones. With ``after`` (an id) the
    page starts after that id in id order (keyset paging: ``offset`` then counts from
    there); ``number_matched`` still counts every match.

    >>> q = Query(bbox=(112.0, 39.0, 113.0, 40.0), equals={"status": "working"})
    >>> q.page(limit=10).limit, q.equals
    (10, {'status': 'working'})
    >>> Query().selects
    False
    """

    bbox: BBox | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)
    date_from: str | None = None
    date_to: str | None = None
    within: Any = None
    limit: int | None = None
    offset: int = 0
    spread: bool = False
    after: str | None = None

    @classmethod
    def of(cls, query: Query | None = None, **terms: Any) -> Query:
        """``query`` (or an empty one) with ``terms`` replaced; ``equals=None`` is none."""
        if "equals" in terms and terms["equals"] is None:
            terms["equals"] = {}
        base = query if query is not None else cls()
        return dataclasses.replace(base, **terms) if terms else base

    def page(
        self, *, limit: int | None, offset: int = 0, spread: bool = False, after: str | None = None
    ) -> Query:
        """The same selection, another page."""
        return dataclasses.replace(self, limit=limit, offset=offset, spread=spread, after=after)

    @property
    def selects(self) -> bool:
        """True when any term narrows the features (not only paging)."""
        return bool(
            self.bbox is not None
            or self.equals
            or self.date_from
            or self.date_to
            or self.within is not None
        )

    def positions(self, matched: int) -> np.ndarray:
        """Positions of this query's page among ``matched`` results."""
        limit = matched if self.limit is None else self.limit
        return page_positions(matched, limit, self.offset, self.spread)


def page_positions(matched: int, limit: int, offset: int, spread: bool) -> np.ndarray:
    """Positions of one page of ``matched`` results; with ``spread``, ``limit`` positions
    spread evenly over all of them.

    >>> page_positions(10, 3, 8, False).tolist(), page_positions(10, 3, 0, True).tolist()
    ([8, 9], [0, 4, 9])
    """
    if spread and matched > limit:
        return np.unique(np.linspace(0, matched - 1, limit).astype(np.int64))
    return np.arange(min(offset, matched), min(offset + limit, matched), dtype=np.int64)
