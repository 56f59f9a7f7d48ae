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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from geo.problems import short_value
from layers.errors import BadRequest
from layers.field_rules import default_bounds
from layers.query import Query
from layers.specs import FieldSpec, LayerSpec
from webmap.i18n import LANGS, translate
from webmap.ogc import crs as ogc_crs

DEFAULT_LIMIT = 100
#: Parameters every OGC API resource accepts besides its own.
COMMON_PARAMS = ("f", "lang")
ITEMS_PARAMS = ("limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime")
DATE_PARAMS = ("date_from", "date_to")
#: Values of ``f``: a JSON document (``geojson`` for features) or a page.
FORMATS = ("json", "html", "geojson")
_NUMBER = r" *[-+]?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,2})? *"
#: ``bbox``: 4 or 6 numbers separated by commas (each lower corner value not above the
#: upper one, latitudes within 90 degrees in CRS84: no pattern can say that; 400 too).
BBOX_PATTERN = f"^({_NUMBER}(,{_NUMBER}){{3}}(,{_NUMBER},{_NUMBER})?)?$"
_BBOX_RE = re.compile(BBOX_PATTERN)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY = (
    r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
)
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-][01][0-9]:[0-5][0-9])?"
_INSTANT = f"{_DAY}({_TIME})?"
_INSTANT_RE = re.compile(_INSTANT)
#: ``datetime`` as the OpenAPI document declares it: an RFC 3339 date or date-time
#: (``T``, the offset optional), or an interval of them with ``..`` or nothing for an
#: open end (not both); empty is no filter. A pattern cannot say that February has no
#: 30th, or that the start must not come after the end: those are 400 too.
DATETIME_PATTERN = f"^({_INSTANT}|{_INSTANT}/({_INSTANT}|\\.\\.)?|(\\.\\.)?/{_INSTANT}|)$"


#: The filters of a request are the store's one query value (no paging yet).
Filters = Query


@dataclass
class ItemsQuery:
    """A page of items: filters, paging and the response CRS."""

    filters: Query
    limit: int
    offset: int
    crs: str
    #: Keyset paging (``after=<id>``, what the next links carry): the page starts after
    #: that id, and ``offset`` only says where that is (for the links).
    after: str | None = None

    def store_query(self) -> Query:
        """The :class:`~layers.query.Query` of this page, for the store."""
        if self.after is not None:
            return self.filters.page(limit=self.limit, after=self.after)
        return self.filters.page(limit=self.limit, offset=self.offset)


def _number_list(text: str, param: str) -> tuple[float, ...]:
    if not _BBOX_RE.fullmatch(text):
        raise BadRequest(value=f"{param} needs 4 (or 6) numbers separated by commas")
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
    if not _INSTANT_RE.fullmatch(text):
        raise BadRequest(value=f"{param}: {text!r} is not an RFC 3339 date or date-time")
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


def check_query(args: Any, allowed: Iterable[str]) -> None:
    """:func:`check_known`, and 400 for a parameter given twice or an ``f`` or ``lang``
    outside its values: what the OpenAPI document (``/ogc/api``) declares, exactly."""
    check_known(args, allowed)
    repeated = (
        sorted(k for k in args if len(args.getlist(k)) > 1) if hasattr(args, "getlist") else []
    )
    if repeated:
        raise BadRequest(value=translate("ogc.param_repeated", names=", ".join(repeated)))
    for name in ("crs", "bbox-crs"):
        if name in args and not str(args[name]).strip():
            raise BadRequest(value=translate("ogc.param_value", name=name, value="", allowed="URI"))
    for name, values in (("f", FORMATS), ("lang", LANGS)):
        if name in args and args[name] not in values:
            shown = short_value(args[name])
            raise BadRequest(
                value=translate(
                    "ogc.param_value", name=name, value=shown, allowed=", ".join(values)
                )
            )


def check_filter_values(spec: LayerSpec, equals: Mapping[str, str]) -> None:
    """400 for an equality filter on a typed field whose value is not of that type (as the
    OpenAPI document declares each field parameter): a number within the field's bounds,
    a whole number, ``true``/``false``, an ISO date, one of an enum's values."""
    for name, text in equals.items():
        fspec = spec.field(name)
        if fspec is not None and not filter_value_ok(fspec, text):
            raise BadRequest(
                value=translate(
                    "ogc.bad_filter", name=name, value=short_value(text), expected=expected(fspec)
                )
            )


def filter_value_ok(fspec: FieldSpec, text: str) -> bool:
    """Whether ``text`` is a value the field's filter parameter is declared to take."""
    if fspec.type in ("number", "integer"):
        try:
            number = int(text) if fspec.type == "integer" else float(text)
        except ValueError:
            return False
        low, high = filter_bounds(fspec)
        return math.isfinite(number) and low <= number <= high
    if fspec.type == "boolean":
        return text in ("true", "false")
    if fspec.type == "date":
        return _ISO_DATE.fullmatch(text) is not None and _is_date(text)
    if fspec.type == "enum" and not fspec.extensible:
        return text in fspec.values
    return True


def filter_bounds(fspec: FieldSpec) -> tuple[float, float]:
    """The bounds of a number filter: the field's own, else the defaults of its type."""
    low, high = default_bounds(fspec.type)
    return (
        low if fspec.minimum is None else fspec.minimum,
        high if fspec.maximum is None else fspec.maximum,
    )


def expected(fspec: FieldSpec) -> str:
    """What a field's filter takes, for the message of a 400."""
    if fspec.type in ("number", "integer"):
        low, high = filter_bounds(fspec)
        return f"{fspec.type} {low:g}..{high:g}"
    if fspec.type == "enum":
        return " | ".join(fspec.values)
    return {"boolean": "true | false", "date": "YYYY-MM-DD"}.get(fspec.type, fspec.type)


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


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
    check_query(args, (*COMMON_PARAMS, *ITEMS_PARAMS, *DATE_PARAMS, *filter_params(spec)))
    filters = parse_filters(spec, args, bbox_crs_allowed=crs_allowed)
    check_filter_values(spec, filters.equals)
    limit = min(_integer(args.get("limit"), "limit", DEFAULT_LIMIT, 1), max_limit)
    offset = _integer(args.get("offset"), "offset", 0, 0)
    response_crs = ogc_crs.choose(args.get("crs"), crs_allowed, "crs")
    after = args.get("after") or None
    if after is not None and ("\x00" in after or len(after) > 200):
        raise BadRequest(value="after must be a feature id")
    return ItemsQuery(filters, limit, offset, response_crs, after)
