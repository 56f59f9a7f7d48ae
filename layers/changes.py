"""The change model: what a form, an upload row, a capture or the API asks the store for.

A :class:`Change` is one change to one feature; many new points at once travel as one
:class:`layers.bulk.Creates`. Both go to ``Store.commit``, whose change planner
(:mod:`layers.planner`) checks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Change:
    """One change to one feature, as asked for by a form, an upload row or the API.

    ``op`` is ``create``, ``update`` (merge the given properties, optional geometry),
    ``replace`` (all properties and geometry), ``delete`` (soft) or ``restore``.
    ``geometry`` is a GeoJSON geometry mapping or a shapely geometry. ``if_version``
    makes the change conditional on the feature's current version. ``row`` is the
    user-visible row number used in problem reports. ``margin_m`` is how far outside
    the working area a new location may lie (the AREA_MARGIN_M setting, or an upload's
    choice; None: no location checks, for scripts and migrations); ``located``
    says the caller already ran :func:`layers.locations.location_problems` on it with
    that margin (an upload, which needs the duplicates before it builds its changes).

    >>> Change("update", id="SL-000001", properties={"status": "faulty"}).op
    'update'
    """

    op: str
    id: str | None = None
    geometry: Any = None
    properties: Mapping[str, Any] | None = None
    if_version: int | None = None
    row: int | None = None
    margin_m: float | None = None
    located: bool = False


class Author(str):
    """Who asks for a change: the account's name (what the audit fields and the history
    record; an author *is* that string) with its role and the townships it may write
    (boundary ids; none: the whole county).

    Web requests pass one (``webmap.auth.user_name``); the change planner reads the role
    and areas from it: a field account's work starts as ``submitted`` and only a planner
    decides its review, and a scoped account writes only inside its areas. A plain string
    where an author is expected is a trusted writer (a script, a migration, the demo, the
    CLI): admin rights, county-wide.

    >>> ann = Author("ann", "field", ["BD-000002"])
    >>> ann == "ann", ann.role, ann.areas, ann.scoped
    (True, 'field', ('BD-000002',), True)
    >>> author_of("demo").role, author_of("demo").scoped
    ('admin', False)
    """

    role: str
    areas: tuple[str, ...]

    def __new__(cls, name: str, role: str = "admin", areas: Iterable[str] = ()) -> Author:
        self = super().__new__(cls, name)
        self.role = role
        self.areas = tuple(areas)
        return self

    @property
    def name(self) -> str:
        """The account's name as a plain string."""
        return str.__str__(self)

    @property
    def scoped(self) -> bool:
        """Whether the author may write only inside :attr:`areas` (a field or planner
        account with areas; an admin is county-wide)."""
        return bool(self.areas) and self.role in ("field", "planner")

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """Name, role and areas: what a checked plan must have been checked for."""
        return (self.name, self.role, self.areas)


def author_of(user: Any) -> Author:
    """``user`` as an :class:`Author`: an author as it is, a plain string as a trusted
    writer (see there), an account (``layers.users.User``, or anything with ``name``,
    ``role`` and ``areas``) as its name, role and areas."""
    if isinstance(user, Author):
        return user
    if isinstance(user, str):
        return Author(user)
    name, role = getattr(user, "name", None), getattr(user, "role", None)
    if isinstance(name, str) and isinstance(role, str):
        return Author(name, role, getattr(user, "areas", None) or ())
    raise TypeError(f"not an author: {type(user).__name__}")


def utc_now() -> str:
    """Current UTC time as ISO 8601 with seconds and a ``Z`` (what every record keeps)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
