"""Accounts scoped to areas (issue #14): which townships a feature belongs to, and the
check that a scoped account writes only inside its own.

A feature belongs to

- the township its location lies in: the ``level=township`` polygons of the boundaries
  layer, a line or polygon by a point on its surface (:func:`geo.areas.assign_to_areas`,
  as the township and village pages place works);
- the township its own ``township`` field names, when that is a known township (by name
  or id, as the ledger and the dashboard count it: ``layers.analyses.tag_townships``);
- without a geometry (a ledger item) and without that field: the township of the feature
  its first reference names (a progress entry: its ledger item's).

A scoped account (:attr:`layers.changes.Author.scoped`) may create, change, delete or
review a feature only when every township it belongs to, before and after the change, is
one of its areas. A feature in no township belongs to the whole county, and so do the
boundaries themselves: only a county-wide account writes those. The change planner
(:mod:`layers.planner`) runs :func:`outside_problems` on every batch of a scoped author,
whatever the entry point; the problems name the account's areas, the township and how it
was found. Reading is not scoped.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import geopandas as gpd

from geo.areas import assign_to_areas
from geo.messages import register
from geo.problems import Problem
from layers.changes import Author
from layers.errors import BadRequest, Forbidden
from layers.locations import AREA_LAYER, as_shapes
from layers.specs import LayerSpec

TOWNSHIP_FIELD = "township"
#: How a township was found, as messages say it (zh, en).
HOW = {
    "location": ("按位置", "by its location"),
    "field": ("按“乡镇”字段", "by its township field"),
    "reference": ("按所引用的要素", "by the feature it refers to"),
    "none": ("属于全县", "it belongs to the whole county"),
    "boundaries": ("行政边界属于全县", "the boundaries belong to the whole county"),
}
COUNTY = ("全县", "the whole county")
#: What a message calls the township of a feature that has none.
NO_TOWNSHIP = {"none": ("任何乡镇之外", "no township"), "boundaries": COUNTY}

for _code, _zh, _en in (
    (
        "outside_areas",
        "第 {row} 行：账号“{user}”只能写入或验收{areas}的要素，此要素属于{township}（{how}）",
        "Row {row}: the account '{user}' may write or review only features in {areas}; "
        "this one is in {township} ({how})",
    ),
    (
        "outside_areas_request",
        "账号“{user}”只能写入或验收{areas}的要素，此要素属于{township}（{how}）",
        "The account '{user}' may write or review only features in {areas}; this one is in "
        "{township} ({how})",
    ),
    (
        "unknown_township",
        "没有名为或编号为“{value}”的乡镇，可选：{allowed}",
        "There is no township named or numbered '{value}'; choose {allowed}",
    ),
    (
        "areas_for_scoped_roles",
        "只有外业（field）和规划（planner）账号可以限定乡镇；{role} 账号总是覆盖全县",
        "Only field and planner accounts can be limited to townships; a {role} account "
        "always covers the whole county",
    ),
):
    register(_code, _zh, _en)


class ScopedStore(Protocol):
    """What the area check reads from a store."""

    @property
    def specs(self) -> Any: ...

    def version(self, layer: str) -> int: ...

    def frame(self, layer: str) -> gpd.GeoDataFrame: ...

    def get(self, layer: str, fid: str) -> dict[str, Any] | None: ...

    def spec(self, layer: str) -> LayerSpec: ...


@dataclass(frozen=True)
class Townships:
    """The townships of the boundaries layer: ids, names, polygons."""

    names: dict[str, str]
    areas: gpd.GeoDataFrame

    def resolve(self, text: Any) -> str | None:
        """The id of the township ``text`` names (its id or its name), or None."""
        if not isinstance(text, str) or not text.strip():
            return None
        text = text.strip()
        if text in self.names:
            return text
        return next((tid for tid, name in self.names.items() if name == text), None)

    def name(self, township_id: str) -> str:
        """The township's name (its id when the boundaries no longer hold it)."""
        return self.names.get(township_id) or township_id


_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, Townships]] = weakref.WeakKeyDictionary()


def townships(store: ScopedStore) -> Townships:
    """The townships of ``store``, read once per version of the boundaries layer."""
    version = store.version(AREA_LAYER) if AREA_LAYER in store.specs else -1
    cached = _CACHE.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    frame = store.frame(AREA_LAYER) if version >= 0 else gpd.GeoDataFrame()
    if len(frame) and "level" in frame.columns:
        frame = frame[(frame["level"].astype(str) == "township").to_numpy()]
        frame = frame[frame.geometry.notna().to_numpy() & ~frame.geometry.is_empty.to_numpy()]
    else:
        frame = frame.iloc[:0]
    ids = [str(i) for i in frame["id"]] if len(frame) else []
    names = [str(n or "") for n in frame["name"]] if len(frame) else []
    areas = gpd.GeoDataFrame(
        {"village_id": ids},
        geometry=gpd.GeoSeries(frame.geometry.to_numpy() if len(frame) else [], crs=4326),
        crs=4326,
    )
    found = Townships(dict(zip(ids, names, strict=True)), areas)
    try:
        _CACHE[store] = (version, found)
    except TypeError:  # a store that cannot be weakly referenced: not cached
        pass
    return found


def resolve_areas(store: ScopedStore, texts: Iterable[str], role: str) -> tuple[str, ...]:
    """The township ids that ``texts`` name (each a name or an id), in order, once each;
    400 naming the townships there are for one that names none, or for areas given to a
    role that is always county-wide (viewer, admin)."""
    wanted = [t for t in texts if t and t.strip()]
    if not wanted:
        return ()
    if role not in ("field", "planner"):
        raise BadRequest("areas_for_scoped_roles", role=role)
    known = townships(store)
    out: list[str] = []
    for text in wanted:
        tid = known.resolve(text)
        if tid is None:
            allowed = "、".join(f"{n} ({i})" for i, n in known.names.items()) or "-"
            raise BadRequest("unknown_township", value=text.strip()[:40], allowed=allowed)
        if tid not in out:
            out.append(tid)
    return tuple(out)


def area_names(store: ScopedStore, ids: Iterable[str], lang: str = "zh") -> str:
    """The names of the townships ``ids``, joined for a message or a page."""
    known = townships(store)
    names = [known.name(i) for i in ids]
    if not names:
        return COUNTY[1] if lang == "en" else COUNTY[0]
    return ", ".join(names) if lang == "en" else "、".join(names)


def belongs_to(
    store: ScopedStore,
    spec: LayerSpec,
    geometries: Sequence[Any],
    props: Sequence[Mapping[str, Any] | None],
) -> list[list[tuple[str | None, str]]]:
    """For each feature (its geometry, GeoJSON or shapely or None, and its properties),
    the townships it belongs to as ``(id, how)`` pairs, how being ``location``, ``field``
    or ``reference``; ``[(None, "none")]`` for a feature in no township."""
    known = townships(store)
    located = _located(known, geometries) if spec.spatial else [None] * len(geometries)
    out: list[list[tuple[str | None, str]]] = []
    for tid, given in zip(located, props, strict=True):
        found: list[tuple[str | None, str]] = []
        if tid is not None:
            found.append((tid, "location"))
        named = known.resolve((given or {}).get(TOWNSHIP_FIELD))
        if named is not None and named != tid:
            found.append((named, "field"))
        if not found and not spec.spatial:
            referred = _referred(store, spec, known, given or {})
            found.extend([(referred, "reference")] if referred else [])
        out.append(found or [(None, "none")])
    return out


def _located(known: Townships, geometries: Sequence[Any]) -> list[str | None]:
    """The township each geometry lies in (None: none, or no geometry)."""
    shapes = as_shapes(list(geometries))
    out: list[str | None] = [None] * len(shapes)
    present = [i for i, g in enumerate(shapes) if g is not None and not g.is_empty]
    if not present or not len(known.areas):
        return out
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(shapes[present], crs=4326), crs=4326)
    for i, tid in zip(present, assign_to_areas(frame, known.areas).tolist(), strict=True):
        out[i] = tid if isinstance(tid, str) else None
    return out


def _referred(
    store: ScopedStore, spec: LayerSpec, known: Townships, props: Mapping[str, Any]
) -> str | None:
    """The township named by the feature the first filled reference of ``props`` names."""
    for fspec in spec.fields:
        value = props.get(fspec.name)
        if fspec.type != "ref" or not fspec.ref_layer or value in (None, ""):
            continue
        if fspec.ref_layer not in store.specs:
            continue
        target = store.get(fspec.ref_layer, str(value))
        if target is not None:
            return known.resolve((target.get("properties") or {}).get(TOWNSHIP_FIELD))
    return None


def outside_problems(
    store: ScopedStore,
    spec: LayerSpec,
    author: Author,
    states: Sequence[Sequence[tuple[Any, Mapping[str, Any] | None]]],
    rows: Sequence[int],
) -> list[Problem]:
    """One ``outside_areas`` problem for each row whose feature, in any of its states
    (``(geometry, properties)`` before and after the change), belongs to a township that
    is not one of ``author``'s areas (nothing for an author who is not scoped)."""
    if not author.scoped or not states:
        return []
    if spec.name == AREA_LAYER:
        return [_problem(store, author, row, None, "boundaries") for row in rows]
    flat = [state for row_states in states for state in row_states]
    found = belongs_to(store, spec, [g for g, _ in flat], [p for _, p in flat])
    problems: list[Problem] = []
    start = 0
    allowed = set(author.areas)
    for row, row_states in zip(rows, states, strict=True):
        memberships = [m for f in found[start : start + len(row_states)] for m in f]
        start += len(row_states)
        outside = next(((t, how) for t, how in memberships if t not in allowed), None)
        if outside is not None:
            problems.append(_problem(store, author, row, *outside))
    return problems


def _problem(
    store: ScopedStore, author: Author, row: int, township: str | None, how: str
) -> Problem:
    known = townships(store)
    zh, en = (known.name(township), known.name(township)) if township else NO_TOWNSHIP[how]
    params = {
        "row": row,
        "user": author.name,
        "areas": area_names(store, author.areas, "zh"),
        "areas_en": area_names(store, author.areas, "en"),
        "township": zh,
        "township_en": en,
        "township_id": township or "",
        "how": HOW[how][0],
        "how_en": HOW[how][1],
    }
    return Problem("outside_areas", row=row, value=township or "", params=params)


class OutsideAreas(Forbidden):
    """A scoped account asked to write outside its areas (403); names the account's areas,
    the township and how it was found, with every row's problem."""

    code = "outside_areas_request"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = next((p for p in problems if p.code == "outside_areas"), None)
        super().__init__(**dict(first.params) if first is not None else {})

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        body = super().as_dict(lang)
        body["error"]["problems"] = [p.as_dict(lang) for p in self.problems]
        return body
