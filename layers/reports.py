"""Residents' reports (群众报事): sent without an account, followed by a private code.

A resident sends a point, a category, a description, an optional phone number and
photos (:func:`submit_report`); the report lands in the ``reports`` layer as ``new``
with a tracking code (:func:`new_code`: random, unguessable, without look-alike
characters) that only the resident and planners know. Planners work the report with the
usual tools (its status moves by :mod:`layers.report_rules`); the resident follows it by
code (:func:`public_report`), rates it once it is solved (:func:`rate_report`; a rating
of 1-2 reopens it), and anyone may say "me too" to an open public report
(:func:`add_me_too`, :func:`similar_reports`). The phone number and the code are private
fields (:mod:`layers.private_fields`): nothing here returns them.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo.messages import register
from geo.metric import distance_m
from geo.problems import Problem, short_value
from layers.changes import Author, Change
from layers.errors import BadRequest, NotFound, ValidationFailed, VillageWorksError
from layers.locations import DEFAULT_MARGIN_M, location_problems, working_area_name
from layers.photos import MAX_PHOTO_BYTES, PhotoStore, check_photo
from layers.places import Places, where_is
from layers.report_rules import OPEN_STATUSES, PUBLIC_STATUSES, RATED_AFTER, STATUS_LABELS
from layers.store_base import BaseStore

LAYER = "reports"
#: Who writes what residents send: a trusted writer (the report starts ``new``; the
#: status is the moderation, not the review).
RESIDENT = Author("resident", "admin")
SOURCE = "report"
#: The tracking code's alphabet: no 0/O, 1/I/L that a resident could misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
MAX_REPORT_PHOTOS = 6
MAX_DESCRIPTION = 500
MAX_COMMENT = 500
SIMILAR_RADIUS_M = 30.0
#: Ratings at or below this reopen a report.
LOW_RATING = 2

for _code, _zh, _en in (
    (
        "resident_outside_area",
        "位置 {value} 不在{area}范围内（约 {distance_km} 公里外），无法受理；"
        "请在地图上重新选择位置",
        "The location {value} is outside {area} (about {distance_km} km away); the report "
        "cannot be taken. Choose the place again on the map",
    ),
    ("resident_bad_field", "“{field_zh}”填写有误：{value}", "'{field_en}' is not valid: {value}"),
    (
        "resident_no_code",
        "查询码“{value}”不存在，请核对",
        "There is no report with the code '{value}'",
    ),
    (
        "resident_not_solved",
        "报事尚未解决（当前状态“{status_zh}”），解决后才能评价",
        "The report is not solved yet (it is '{status_en}'); it can be rated once it is solved",
    ),
    ("resident_rated_before", "该报事已经评价过了", "This report has already been rated"),
    (
        "resident_not_open",
        "该报事不在公开办理中，不能附议",
        "This report is not open to the public; 'me too' is not possible",
    ),
    (
        "resident_too_many_photos",
        "照片太多（最多 {limit} 张）",
        "Too many photos (at most {limit})",
    ),
    (
        "resident_report_removed",
        "用这个幂等键（Idempotency-Key）提交的报事已被删除",
        "The report first sent with this Idempotency-Key has been removed",
    ),
):
    register(_code, _zh, _en)

_FIELD_NAMES = {
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "category": ("类别", "Category"),
    "description": ("问题描述", "Description"),
    "phone": ("联系电话", "Phone"),
    "rating": ("评价", "Rating"),
    "comment": ("评价意见", "Comment"),
    "photos": ("照片", "Photos"),
}


class ReportConflict(VillageWorksError):
    """A rating the report's state does not allow (409)."""

    status = 409
    code = "resident_not_solved"


def bad_field(name: str, value: Any) -> BadRequest:
    """A 400 naming the field (in both languages) and the value."""
    zh, en = _FIELD_NAMES.get(name, (name, name))
    return BadRequest("resident_bad_field", field_zh=zh, field_en=en, value=short_value(value, 60))


def new_code() -> str:
    """A fresh tracking code: :data:`CODE_LENGTH` characters of :data:`CODE_ALPHABET`
    (31 ** 10, about 8e14 codes), from :mod:`secrets`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: Any) -> str:
    """A code as typed (any case, spaces) in its stored form.

    >>> normal_code(" ab3d-efgh2k ")
    'AB3DEFGH2K'
    """
    return "".join(ch for ch in str(text or "").upper() if ch.isalnum())[:40]


@dataclass
class ReportInput:
    """What a resident sent."""

    lon: Any
    lat: Any
    category: Any
    description: Any
    phone: Any = None
    photos: Sequence[tuple[str, bytes]] = field(default_factory=list)


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise bad_field(name, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad_field(name, value) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise bad_field(name, value)
    return number


def _text(name: str, value: Any, limit: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise bad_field(name, "")
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise bad_field(name, value if not isinstance(value, str) else f"> {limit}")
    return value.strip()


def _check_photos(photos: Sequence[tuple[str, bytes]], max_pixels: int) -> None:
    if len(photos) > MAX_REPORT_PHOTOS:
        limit = {"limit": MAX_REPORT_PHOTOS}
        raise ValidationFailed([Problem("resident_too_many_photos", field="photos", params=limit)])
    problems: list[Problem] = []
    for name, data in photos:
        if len(data) > MAX_PHOTO_BYTES:
            params = {"limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)}
            problems.append(
                Problem("photo_too_large", field="photos", value=short_value(name), params=params)
            )
        else:
            problems.extend(check_photo(data, name, max_pixels))
    if problems:
        raise ValidationFailed(problems)


def _located(store: BaseStore, lon: float, lat: float, margin_m: float) -> None:
    """Refuse a point outside the county (plus ``margin_m``), or at (0, 0)."""
    point = {"type": "Point", "coordinates": [lon, lat]}
    found = location_problems(store, store.spec(LAYER), [point], [1], margin_m=margin_m)
    for problem in found:
        if problem.severity != "error":
            continue
        distance = problem.params.get("distance_km", "?")
        area = working_area_name(store)
        raise ValidationFailed(
            [
                Problem(
                    "resident_outside_area",
                    field="location",
                    value=f"{lon:.6f}, {lat:.6f}",
                    params={"area": area, "distance_km": distance},
                )
            ]
        )


def _unused_code(store: BaseStore) -> str:
    frame = store.frame(LAYER)
    taken = set(frame["code"].dropna().astype(str)) if "code" in frame.columns else set()
    code = new_code()
    while code in taken:  # about one in 10**14 per report: never, but cheap to be sure
        code = new_code()
    return code


def report_properties(
    report: ReportInput, places: Places | None, point: tuple[float, float], today: dt.date
) -> dict[str, Any]:
    """The new report's properties (status ``new``, no code yet), its township and
    village filled from the point as the capture form does (:func:`layers.places.where_is`)."""
    props: dict[str, Any] = {
        "category": report.category,
        "description": _text("description", report.description, MAX_DESCRIPTION, required=True),
        "status": "new",
        "me_too": 0,
        "reported_date": today.isoformat(),
    }
    phone = _text("phone", report.phone, 20, required=False)
    if phone:
        props["phone"] = phone
    if places is not None:
        geometry = {"type": "Point", "coordinates": list(point)}
        township, village = where_is(places, {"geometry": geometry})
        if township is not None:
            props["township"] = township.name
        if village is not None:
            props["village"], props["village_id"] = village.name, village.id
    return props


def check_input(store: BaseStore, report: ReportInput) -> tuple[float, float]:
    """The point of ``report`` after the checks of its fields that need no look-up
    (coordinates, category, description, phone); :class:`BadRequest` naming the first
    one that is wrong."""
    lon = _number("lon", report.lon, -180, 180)
    lat = _number("lat", report.lat, -90, 90)
    category = store.spec(LAYER).field("category")
    if category is None or report.category not in category.values:
        raise bad_field("category", report.category)
    _text("description", report.description, MAX_DESCRIPTION, required=True)
    phone = _text("phone", report.phone, 20, required=False)
    if phone and not all(ch.isdigit() or ch in "+- " for ch in phone):
        raise bad_field("phone", phone)
    return lon, lat


def submit_report(
    store: BaseStore,
    report: ReportInput,
    *,
    places: Places | None,
    margin_m: float = DEFAULT_MARGIN_M,
    max_pixels: int = 40_000_000,
    today: dt.date | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Check and store one resident's report with its photos; ``{"code", "id",
    "replayed"}``.

    Raises :class:`BadRequest` naming a malformed field, :class:`ValidationFailed` for a
    location outside the county, a photo that is not a JPEG or PNG (or too large) or a
    field the layer refuses. Nothing is stored then. Photos are re-encoded
    (:meth:`layers.photos.PhotoStore.save`), so their EXIF never reaches the public copy.

    With an ``idempotency_key`` (:func:`layers.capture.check_key`) that came before, the
    request is checked as usual and then answered as the first one was, with its code and
    id, storing nothing (no report, no photo, no link), as a capture is: the key is kept
    by the store (``vw_idempotency`` on PostGIS), so every worker and server agrees.
    """
    lon, lat = check_input(store, report)
    _check_photos(report.photos, max_pixels)
    _located(store, lon, lat, margin_m)
    key = f"{SOURCE}:{idempotency_key}" if idempotency_key else None
    earlier = _earlier(store, key) if key else None
    if earlier is not None:
        return earlier
    props = report_properties(report, places, (lon, lat), today or dt.date.today())
    props["code"] = _unused_code(store)
    photos = PhotoStore(store.files)
    saved = [photos.save(data, name, user=RESIDENT.name, max_pixels=max_pixels)
             for name, data in report.photos]  # fmt: skip
    change = Change("create", geometry={"type": "Point", "coordinates": [lon, lat]},
                    properties=props, margin_m=margin_m)  # fmt: skip
    result = store.commit(LAYER, [change], user=RESIDENT, source=SOURCE, idempotency_key=key)
    if result.replayed:  # the same request, sent at the same moment, landed first
        return _answer(result.features)
    fid = result.ids[0]
    if saved:
        photos.link(LAYER, fid, [p.id for p in saved])
    return {"code": props["code"], "id": fid, "replayed": False}


def _earlier(store: BaseStore, key: str) -> dict[str, Any] | None:
    """The answer of the report first stored under idempotency ``key``, if any: the one
    commit template looks the key up (a dry run of no change writes nothing)."""
    found = store.commit(LAYER, [], user=RESIDENT, source=SOURCE, idempotency_key=key,
                         dry_run=True)  # fmt: skip
    return _answer(found.features) if found.replayed else None


def _answer(features: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"code", "id", "replayed"}`` of a replayed report; 404 once it was deleted."""
    if not features:
        raise NotFound("resident_report_removed")
    props, fid = features[0]["properties"], str(features[0]["id"])
    return {"code": str(props.get("code") or ""), "id": fid, "replayed": True}


def find_by_code(store: BaseStore, code: Any) -> dict[str, Any]:
    """The report with tracking ``code``; :class:`NotFound` when there is none."""
    wanted = normal_code(code)
    frame = store.frame(LAYER)
    if wanted and len(frame) and "code" in frame.columns:
        ids = frame["id"][frame["code"].astype(object) == wanted]
        for fid in ids:
            found = store.get(LAYER, str(fid))
            if found is not None:
                return found
    raise NotFound("resident_no_code", value=short_value(str(code or ""), 20))


def replies(store: BaseStore, feature: Mapping[str, Any]) -> list[dict[str, str]]:
    """The public replies of a report, oldest first, each with the day it was given: from
    the feature's history (every change of ``reply``), so no reply is ever lost."""
    out: list[dict[str, str]] = []
    last = None
    for entry in store.history(LAYER, str(feature["id"])):
        props = (entry.get("feature") or {}).get("properties") or {}
        text = props.get("reply")
        if text and text != last:
            out.append({"date": str(entry.get("at") or props.get("updated_at") or "")[:10],
                        "text": str(text)})  # fmt: skip
        last = text or last
    current = (feature.get("properties") or {}).get("reply")
    if current and current != last:
        day = str(feature["properties"].get("updated_at") or "")[:10]
        out.append({"date": day, "text": str(current)})
    return out


def public_report(store: BaseStore, feature: Mapping[str, Any]) -> dict[str, Any]:
    """What the resident (and only what anyone) may see of a report: never the phone
    or the code. Photos are ids (the web layer links ``/photos/<id>``)."""
    props = feature.get("properties") or {}
    photos = PhotoStore(store.files).for_feature(LAYER, str(feature["id"]))
    return {
        "id": feature["id"],
        "status": props.get("status"),
        "category": props.get("category"),
        "description": props.get("description"),
        "township": props.get("township"),
        "village": props.get("village"),
        "department": props.get("department"),
        "reject_reason": props.get("reject_reason"),
        "replies": replies(store, feature),
        "created": props.get("reported_date") or str(props.get("created_at") or "")[:10],
        "updated": str(props.get("updated_at") or props.get("created_at") or "")[:10],
        "solved": props.get("solved_date"),
        "rating": props.get("rating"),
        "rating_comment": props.get("rating_comment"),
        "me_too": int(props.get("me_too") or 0),
        "photos": [p["id"] for p in photos],
        "location": (feature.get("geometry") or {}).get("coordinates"),
    }


def _status_labels(status: Any) -> dict[str, str]:
    zh, en = STATUS_LABELS.get(str(status), (str(status), str(status)))
    return {"status_zh": zh, "status_en": en}


def rate_report(store: BaseStore, code: Any, rating: Any, comment: Any = None) -> dict[str, Any]:
    """Rate a solved report once (1-5, with an optional comment); a rating of
    :data:`LOW_RATING` or less reopens it (``in_progress``, flagged ``reopened`` for a
    planner). 409 before it is solved or a second time; 400 for a bad rating."""
    if isinstance(rating, bool) or not isinstance(rating, int | str):
        raise bad_field("rating", rating)
    try:
        stars = int(rating)
    except ValueError:
        raise bad_field("rating", rating) from None
    if not 1 <= stars <= 5:
        raise bad_field("rating", rating)
    text = _text("comment", comment, MAX_COMMENT, required=False)
    feature = find_by_code(store, code)
    props = feature["properties"]
    if props.get("rating") is not None:
        raise ReportConflict("resident_rated_before")
    if props.get("status") not in RATED_AFTER:
        raise ReportConflict("resident_not_solved", **_status_labels(props.get("status")))
    update: dict[str, Any] = {"rating": stars, "rating_comment": text}
    if stars <= LOW_RATING:
        update.update(status="in_progress", reopened=True)
    change = Change("update", id=feature["id"], properties=update,
                    if_version=int(props.get("version", 1)))  # fmt: skip
    result = store.commit(LAYER, [change], user=RESIDENT, source=SOURCE)
    return result.features[0]


def public_reports(
    store: BaseStore, *, status: str | None = None, township: str | None = None
) -> list[Mapping[str, Any]]:
    """Reports anyone may see (accepted or later, not rejected), optionally of one
    status or township, newest first."""
    wanted = [s for s in PUBLIC_STATUSES if not status or s == status]
    found = [
        f
        for f in store.features(LAYER)
        if (f.get("properties") or {}).get("status") in wanted
        and (not township or f["properties"].get("township") == township)
    ]
    return sorted(found, key=lambda f: str(f["properties"].get("reported_date") or ""),
                  reverse=True)  # fmt: skip


def list_item(feature: Mapping[str, Any]) -> dict[str, Any]:
    """One report of the public list: no private field, no photo."""
    props = feature.get("properties") or {}
    keys = ("status", "category", "description", "township", "village", "department",
            "reported_date", "solved_date", "rating", "me_too")  # fmt: skip
    item = {"id": feature["id"], **{k: props.get(k) for k in keys}}
    item["location"] = (feature.get("geometry") or {}).get("coordinates")
    return item


def similar_reports(
    store: BaseStore, lon: float, lat: float, category: str, radius_m: float = SIMILAR_RADIUS_M
) -> list[dict[str, Any]]:
    """Open public reports of ``category`` within ``radius_m`` of (lon, lat), nearest
    first: ``id``, ``description``, ``status``, ``distance_m``, ``me_too``."""
    pad = radius_m / 80_000 + 1e-6  # degrees; generous at these latitudes
    near = set(map(str, store.bbox_ids(LAYER, (lon - pad, lat - pad, lon + pad, lat + pad))))
    out = []
    for fid in sorted(near):
        feature = store.get(LAYER, fid)
        props = (feature or {}).get("properties") or {}
        if feature is None or props.get("category") != category:
            continue
        if props.get("status") not in OPEN_STATUSES or props.get("status") == "new":
            continue
        x, y = feature["geometry"]["coordinates"][:2]
        metres = distance_m(lon, lat, float(x), float(y))
        if metres <= radius_m:
            out.append({"id": fid, "description": props.get("description"),
                        "status": props.get("status"), "distance_m": round(metres, 1),
                        "me_too": int(props.get("me_too") or 0)})  # fmt: skip
    return sorted(out, key=lambda r: r["distance_m"])


def require_open(feature: Mapping[str, Any]) -> None:
    """409 unless the report is open to the public ("me too" is possible)."""
    status = (feature.get("properties") or {}).get("status")
    if status not in PUBLIC_STATUSES or status in RATED_AFTER:
        raise ReportConflict("resident_not_open")


def add_me_too(store: BaseStore, fid: str) -> int:
    """Count one more "me too" on an open public report; returns the new count."""
    for _ in range(5):  # another me-too may land between the read and the write
        feature = store.get(LAYER, fid)
        if feature is None:
            raise NotFound(what="报事", value=short_value(fid, 20))
        props = feature["properties"]
        require_open(feature)
        count = int(props.get("me_too") or 0) + 1
        change = Change("update", id=fid, properties={"me_too": count},
                        if_version=int(props.get("version", 1)))  # fmt: skip
        try:
            store.commit(LAYER, [change], user=RESIDENT, source=SOURCE)
        except VillageWorksError as exc:
            if exc.status == 412:
                continue
            raise
        return count
    raise ReportConflict("conflict", current="?", expected="?")


__all__ = [
    "CODE_ALPHABET",
    "LAYER",
    "ReportConflict",
    "ReportInput",
    "add_me_too",
    "check_input",
    "find_by_code",
    "list_item",
    "new_code",
    "public_report",
    "public_reports",
    "rate_report",
    "require_open",
    "similar_reports",
    "submit_report",
]
