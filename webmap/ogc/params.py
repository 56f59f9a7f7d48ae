"""Query parameters of item lists and exports, parsed once and checked (400 on nonsense).

The same filters select the features of a map view, an OGC API items page and an export,
as one :class:`layers.query.Query`:
``bbox`` (with ``bbox-crs``), ``datetime`` (an instant or an interval with ``..`` for an
open end; ``date_from``/``date_to`` are accepted too), and ``<field>=<value>`` equality
filters on the layer's fields (and ``id``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from layers.errors import BadRequest
from layers.query import Query
from layers.specs import LayerSpec
from webmap.ogc import crs as ogc_crs

DEFAULT_LIMIT = 100
#: Parameters every OGC API resource accepts besides its own.
COMMON_PARAMS = ("f", "lang")
ITEMS_PARAMS = ("limit", "offset", "bbox", "bbox-crs", "crs", "datetime")
DATE_PARAMS = ("date_from", "date_to")


#: The filters of a request are the store's one query value (no paging yet).
Filters = Query


@dataclass
class ItemsQuery:
    """A page of items: filters, paging and the response CRS."""

    filters: Query
    limit: int
    offset: int
    crs: str

    def store_query(self) -> Query:
        """The :class:`~layers.query.Query` of this page, for the store."""
        return self.filters.page(limit=self.limit, offset=self.offset)


def _number_list(text: str, param: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise BadRequest(value=f"{param} must be numbers separated by commas") from None
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise BadRequest(value=f"{param} needs 4 (or 6) finite numbers")
    return values


def parse_bbox(text: str | None, bbox_crs: str) -> tuple[float, float, float, float] | None:
    """A ``bbox`` in ``bbox_crs`` (its axis order) as lon/lat bounds, or None."""
    if text is None or text == "":
        return None
    values = _number_list(text, "bbox")
    half = len(values) // 2
    lower, upper = values[:half], values[half:]
    if bbox_crs == ogc_crs.CRS84:
        if lower[0] > upper[0]:
            raise BadRequest(value="bbox across the antimeridian is not supported")
        if not (-90 <= lower[1] <= 90 and -90 <= upper[1] <= 90):
            raise BadRequest(value="bbox: latitudes must lie between -90 and 90")
    if any(lo > hi for lo, hi in zip(lower, upper, strict=True)):
        raise BadRequest(value="bbox: each lower corner value must not exceed the upper one")
    return ogc_crs.bbox_to_crs84(values, bbox_crs)


def _date_part(text: str, param: str) -> str | None:
    if text in ("", ".."):
        return None
    try:
        if len(text) > 10:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        else:
            dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(value=f"{param}: {text!r} is not an RFC 3339 date or date-time") from None
    return text[:10]


def parse_datetime(text: str | None) -> tuple[str | None, str | None]:
    """``datetime`` (instant, or interval ``start/end`` with ``..`` open) as a date range."""
    if text is None or text == "":
        return None, None
    parts = text.split("/")
    if len(parts) == 1:
        day = _date_part(parts[0], "datetime")
        if day is None:
            raise BadRequest(value="datetime: an instant cannot be open ('..')")
        return day, day
    if len(parts) != 2 or parts == ["..", ".."] or parts == ["", ""]:
        raise BadRequest(value="datetime must be an instant or an interval start/end")
    start, end = _date_part(parts[0], "datetime"), _date_part(parts[1], "datetime")
    if start and end and start > end:
        raise BadRequest(value="datetime: the interval ends before it starts")
    return start, end


def check_known(args: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """400 for a parameter nobody declared (OGC API Part 1, /req/core/query-param-unknown)."""
    known = set(allowed)
    unknown = sorted(k for k in args if k not in known)
    if unknown:
        raise BadRequest(
            value=f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )


def filter_params(spec: LayerSpec) -> list[str]:
    """Equality-filter parameters of ``spec``: ``id`` and every declared field."""
    return ["id", *spec.field_names]


def parse_filters(
    spec: LayerSpec,
    args: Mapping[str, Any],
    *,
    bbox_crs_allowed: Iterable[str] = (ogc_crs.CRS84,),
) -> Query:
    """The filters in ``args`` for a layer of ``spec`` (no check for unknown parameters)."""
    bbox_crs = ogc_crs.choose(args.get("bbox-crs"), bbox_crs_allowed, "bbox-crs")
    date_from, date_to = parse_datetime(args.get("datetime"))
    if args.get("date_from"):
        date_from = _date_part(str(args["date_from"]), "date_from")
    if args.get("date_to"):
        date_to = _date_part(str(args["date_to"]), "date_to")
    if (date_from or date_to) and not spec.date_field:
        raise BadRequest(value=f"layer {spec.name} has no date to filter on")
    equals = {k: str(args[k]) for k in filter_params(spec) if k in args}
    bbox = parse_bbox(args.get("bbox"), bbox_crs)
    return Query(bbox=bbox, equals=equals, date_from=date_from, date_to=date_to)


def _integer(text: str | None, param: str, default: int, minimum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(value=f"{param} must be a whole number") from None
    if value < minimum:
        raise BadRequest(value=f"{param} must be at least {minimum}")
    return value


def parse_items_query(
    spec: LayerSpec, args: Mapping[str, Any], *, crs_allowed: list[str], max_limit: int
) -> ItemsQuery:
    """Everything an items request asks for; a ``limit`` above ``max_limit`` is lowered."""
    check_known(args, (*COMMON_PARAMS, *ITEMS_PARAMS, *DATE_PARAMS, *filter_params(spec)))
    filters = parse_filters(spec, args, bbox_crs_allowed=crs_allowed)
    limit = min(_integer(args.get("limit"), "limit", DEFAULT_LIMIT, 1), max_limit)
    offset = _integer(args.get("offset"), "offset", 0, 0)
    response_crs = ogc_crs.choose(args.get("crs"), crs_allowed, "crs")
    return ItemsQuery(filters, limit, offset, response_crs)
