"""One point captured in the field: checked like an upload row, stored exactly once.

A phone sends the layer, the form's values, where it was (device GPS with its accuracy, a
tap on the map, or nothing and a photo whose EXIF has a position), and its photos. The same
checks as for uploads apply (spec fields, finite coordinates, inside the county, not
(0, 0)), plus the layer's GPS accuracy limit (``accuracy_limit_m``): a fix worse than the
limit is refused unless the user confirmed it on the phone, and then stored with a warning.

Phones retry when the network drops, so every capture carries an idempotency key: however
often the same capture is sent, one feature lands and its photos are linked once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely

from geo.crs import gcj02_to_wgs84
from geo.exif import image_kind, read_exif
from geo.messages import register
from geo.problems import Problem, short_value
from layers.changes import Change
from layers.errors import BadRequest, ValidationFailed
from layers.evidence import ACCURACY_FIELD
from layers.locations import DEFAULT_MARGIN_M, location_problems, working_area_name
from layers.photos import (
    DEFAULT_MAX_PHOTO_PIXELS,
    MAX_PHOTOS_PER_FEATURE,
    PhotoStore,
    StoredPhoto,
    check_photo,
    photo_id_for,
)
from layers.specs import LayerSpec, validate_properties
from layers.store import GeoJSONStore

LOCATION_SOURCES = ("gps", "map", "photo")
#: What a photo's EXIF position is in: WGS84 as the GPS chip writes it, or GCJ-02, which
#: phone apps made for Chinese maps write instead (the field ``photo_crs`` of a capture).
PHOTO_CRS = ("wgs84", "gcj02")
# Row-free wording of the upload checks for a single captured point.
_CAPTURE_CODES = {
    "outside_area": "capture_outside_area",
    "null_island": "capture_null_island",
    "duplicate_existing": "capture_duplicate",
    "geometry_type_not_allowed": "capture_not_point_layer",
}
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")

for _code, _zh, _en in (
    (
        "capture_no_location",
        "没有位置：请点“使用我的位置”、在地图上点选，或附上带 GPS 信息的照片",
        "No location: use 'Use my location', tap the map, or attach a photo with GPS data",
    ),
    (
        "capture_bad_location",
        "位置无效：{value}",
        "The location is not valid: {value}",
    ),
    (
        "accuracy_too_low",
        "定位精度约 {accuracy_m} 米，本图层要求不超过 {limit_m} 米。请等定位更准确后重试，"
        "或在地图上点选位置",
        "The location is only accurate to about {accuracy_m} m; this layer needs {limit_m} m "
        "or better. Wait for a better fix, or tap the place on the map",
    ),
    (
        "accuracy_over_limit",
        "定位精度约 {accuracy_m} 米，超过本图层要求的 {limit_m} 米；已按您的确认保存",
        "The location is only accurate to about {accuracy_m} m (this layer asks for "
        "{limit_m} m); saved because you confirmed it",
    ),
    (
        "capture_outside_area",
        "位置 {value} 不在工作区域（{area}及周边 {margin_m} 米）内，相距约 {distance_km} 公里",
        "The location {value} is outside the working area ({area} and {margin_m} m around "
        "it), about {distance_km} km away",
    ),
    (
        "capture_null_island",
        "位置 {value} 在经纬度 (0, 0)，多半是没有定位成功",
        "The location {value} is at longitude/latitude (0, 0): the device had no fix",
    ),
    (
        "capture_duplicate",
        "距已有要素 {existing_id} 仅 {distance_m} 米，请确认不是重复采集",
        "Only {distance_m} m from existing feature {existing_id}; make sure it is not the "
        "same one twice",
    ),
    (
        "capture_not_point_layer",
        "图层“{value}”不能在手机上采集点位",
        "Layer '{value}' does not take points captured on a phone",
    ),
    (
        "capture_bad_key",
        "请求的幂等键（Idempotency-Key）格式不对：{value}",
        "The Idempotency-Key is malformed: {value}",
    ),
    (
        "capture_bad_photo_crs",
        "照片位置坐标系（photo_crs）“{value}”无效：应为 wgs84 或 gcj02",
        "The photo position's coordinate system (photo_crs) '{value}' is not valid: use "
        "wgs84 or gcj02",
    ),
    (
        "capture_bad_payload",
        "采集数据格式不对：{value}",
        "The capture is malformed: {value}",
    ),
):
    register(_code, _zh, _en)


@dataclass
class Capture:
    """What the phone sent for one feature."""

    layer: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    geometry: Mapping[str, Any] | None = None
    accuracy_m: float | None = None
    location_source: str = ""
    accept_low_accuracy: bool = False
    photos: Sequence[tuple[str, bytes]] = ()
    #: One of :data:`PHOTO_CRS`: what the photos' EXIF positions are in.
    photo_crs: str = "wgs84"
    #: The setting ``VILLAGEWORKS_MAX_PHOTO_PIXELS``.
    max_photo_pixels: int = DEFAULT_MAX_PHOTO_PIXELS


@dataclass
class CaptureResult:
    """The feature as stored, its photos, and whether this was a repeat of a capture."""

    feature: dict[str, Any]
    photo_ids: list[str]
    location_source: str
    replayed: bool = False
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """JSON-ready result; warnings in ``lang``."""
        return {
            "id": self.feature["id"],
            "feature": self.feature,
            "photos": self.photo_ids,
            "location_source": self.location_source,
            "replayed": self.replayed,
            "warnings": [p.as_dict(lang) for p in self.warnings],
        }


def capture_layers(store: GeoJSONStore) -> list[LayerSpec]:
    """Work layers that take a point, i.e. those a phone can capture."""
    return [s for s in store.specs if s.kind == "work" and "Point" in s.geometry]


def check_key(key: str | None) -> str | None:
    """``key`` when it is a well-formed idempotency key (None stays None); else 400."""
    if key is None or key == "":
        return None
    if not _KEY_RE.match(key):
        raise BadRequest("capture_bad_key", value=short_value(key, 40))
    return key


def _point_from(geometry: Mapping[str, Any]) -> tuple[float, float] | Problem:
    coords = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
    ok = (
        isinstance(geometry, Mapping)
        and geometry.get("type") == "Point"
        and isinstance(coords, list | tuple)
        and len(coords) in (2, 3)
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    )
    if not ok:
        return Problem("capture_bad_location", field="geometry", value=short_value(geometry))
    lon, lat = float(coords[0]), float(coords[1])  # type: ignore[index]
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return Problem("capture_bad_location", field="geometry", value=short_value(coords))
    return lon, lat


def _accuracy_problems(spec: LayerSpec, capture: Capture, source: str) -> list[Problem]:
    limit = spec.accuracy_limit_m
    accuracy = capture.accuracy_m
    # A tap on the map is a deliberate placement: the device's accuracy does not apply.
    if limit is None or accuracy is None or source == "map" or accuracy <= float(limit):
        return []
    params = {"accuracy_m": round(accuracy, 1), "limit_m": limit}
    if capture.accept_low_accuracy:
        return [
            Problem("accuracy_over_limit", field="accuracy_m", severity="warning", params=params)
        ]
    return [Problem("accuracy_too_low", field="accuracy_m", params=params)]


def _locate(
    capture: Capture, photos: list[StoredPhoto]
) -> tuple[tuple[float, float] | None, str, list[Problem]]:
    """Where the feature is, and how that was found."""
    if capture.geometry is not None:
        point = _point_from(capture.geometry)
        if isinstance(point, Problem):
            return None, capture.location_source, [point]
        source = capture.location_source if capture.location_source in LOCATION_SOURCES else "gps"
        return point, source, []
    for photo in photos:
        if photo.exif.position is not None:
            return photo_position(photo.exif.position, capture.photo_crs), "photo", []
    return None, "", [Problem("capture_no_location", field="geometry")]


def photo_position(position: tuple[float, float], photo_crs: str) -> tuple[float, float]:
    """A photo's EXIF ``(lon, lat)`` in WGS84: as it is, or from GCJ-02 by the iterative
    inverse of :func:`geo.crs.gcj02_to_wgs84` (a one-step inverse is off by metres).

    >>> photo_position((112.8, 39.5), "wgs84")
    (112.8, 39.5)
    >>> lon, lat = photo_position((112.8, 39.5), "gcj02")
    >>> round(lon, 4), round(lat, 4)
    (112.7933, 39.499)
    """
    if photo_crs != "gcj02":
        return position
    lon, lat = gcj02_to_wgs84(position[0], position[1])
    return float(lon), float(lat)


def _photo_problems(photos: Sequence[tuple[str, bytes]], max_pixels: int) -> list[Problem]:
    if len(photos) > MAX_PHOTOS_PER_FEATURE:
        return [Problem("photo_too_many", field="photos", params={"limit": MAX_PHOTOS_PER_FEATURE})]
    return [p for name, data in photos for p in check_photo(data, name, max_pixels)]


def _fill_date(spec: LayerSpec, props: dict[str, Any], photos: list[StoredPhoto]) -> None:
    """Date the feature by its first dated photo when the form left the date empty."""
    if spec.date_field is None or props.get(spec.date_field) not in (None, ""):
        return
    for photo in photos:
        if photo.exif.taken_on:
            props[spec.date_field] = photo.exif.taken_on
            return


def capture_feature(
    store: GeoJSONStore,
    capture: Capture,
    *,
    user: str,
    idempotency_key: str | None,
    margin_m: float = DEFAULT_MARGIN_M,
) -> CaptureResult:
    """Check and store one captured feature with its photos.

    Raises :class:`ValidationFailed` with every problem (nothing stored, no photo kept)
    and :class:`BadRequest` for a layer that takes no points. With an ``idempotency_key``
    already used by this user, nothing new is written and the first result is returned.
    """
    spec = store.spec(capture.layer)
    if spec.kind != "work" or "Point" not in spec.geometry:
        raise BadRequest("capture_not_point_layer", value=capture.layer)
    if capture.photo_crs not in PHOTO_CRS:
        raise BadRequest("capture_bad_photo_crs", value=short_value(capture.photo_crs, 40))
    problems = _photo_problems(capture.photos, capture.max_photo_pixels)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    photo_store = PhotoStore(store.files)
    # Parse EXIF without keeping anything yet: a refused capture stores no photo.
    parsed = [_peek(name, data) for name, data in capture.photos]
    point, source, found = _locate(capture, parsed)
    problems += found
    problems += _accuracy_problems(spec, capture, source)
    props = dict(capture.properties)
    _fill_date(spec, props, parsed)
    clean, prop_problems = validate_properties(spec, props, None)
    problems += [p for p in prop_problems if p.code != "computed_field"]
    if point is not None:
        problems += _location_problems(store, spec, point, margin_m)
    if point is None or any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    key = f"capture:{user}:{idempotency_key}" if idempotency_key else None
    geometry = {"type": "Point", "coordinates": [point[0], point[1]]}
    change = Change("create", geometry=geometry, properties=clean, margin_m=margin_m)
    change.located = True  # checked above, worded for a capture
    # The store's checks (the account's areas among them) before any photo is kept; the
    # commit below takes the checked plan without checking again.
    # The fix's accuracy stays with the work (the review page shows it; evidence rules
    # may ask for it); a tap on the map has none.
    accuracy = capture.accuracy_m if source != "map" and capture.accuracy_m is not None else None
    extra = {ACCURACY_FIELD: round(accuracy, 1)} if accuracy is not None else {}
    checked = store.commit(
        spec.name, [change], user=user, source="capture", dry_run=True, extra_properties=extra
    )
    stored = [
        photo_store.save(data, name, user=user, max_pixels=capture.max_photo_pixels)
        for name, data in capture.photos
    ]
    result = store.commit(
        spec.name,
        [change],
        user=user,
        source="capture",
        idempotency_key=key,
        plan=checked.plan,
        extra_properties=extra,
    )
    feature = result.features[0]
    linked = photo_store.link(spec.name, feature["id"], [p.id for p in stored])
    return CaptureResult(
        feature=feature,
        photo_ids=linked,
        location_source=source,
        replayed=result.replayed,
        warnings=[p for p in problems if p.severity != "error"] + list(result.warnings),
    )


def _peek(name: str, data: bytes) -> StoredPhoto:
    """A photo's record as it would be stored, without storing it."""
    kind = image_kind(data) or "jpeg"
    return StoredPhoto(photo_id_for(data), kind, "", len(data), name, read_exif(data))


def _location_problems(
    store: GeoJSONStore, spec: LayerSpec, point: tuple[float, float], margin_m: float
) -> list[Problem]:
    """The location checks of every write (:mod:`layers.locations`) for one point, in a
    capture's row-free wording."""
    found = location_problems(store, spec, [shapely.Point(point)], [1], margin_m=margin_m)
    area_name = working_area_name(store)
    return [
        Problem(
            _CAPTURE_CODES.get(p.code, p.code),
            None,
            p.field,
            p.value,
            {**p.params, "area": area_name},
            p.severity,
        )
        for p in found
    ]


__all__ = [
    "Capture",
    "CaptureResult",
    "PHOTO_CRS",
    "capture_feature",
    "capture_layers",
    "check_key",
    "photo_position",
]
