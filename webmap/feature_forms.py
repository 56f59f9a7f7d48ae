"""What a feature page shows beside its fields: the review state, and the edit form for an
account that may write the layer (the form posts to :mod:`webmap.views.feature_edit`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layers.review import REVIEW_COMMENT_FIELD, review_label, review_of
from layers.specs import LayerSpec
from webmap.auth import current_user
from webmap.forms import input_kind, ref_choices
from webmap.write_rights import may_edit_feature

#: The CRSs the location form offers (value, zh, en); parse_crs reads each value.
CRS_CHOICES = (
    ("EPSG:4326", "WGS84 经纬度（GPS）", "WGS84 lon/lat (GPS)"),
    ("EPSG:4490", "CGCS2000 经纬度", "CGCS2000 lon/lat"),
    ("gcj02", "GCJ-02（高德、腾讯地图）", "GCJ-02 (Amap, Tencent)"),
    ("bd09", "BD-09（百度地图）", "BD-09 (Baidu)"),
    (
        "EPSG:4526",
        "CGCS2000 高斯-克吕格 3 度带 38 带（X/Y，带号）",
        "CGCS2000 Gauss-Krüger 3° zone 38 (with zone)",
    ),
    ("EPSG:4547", "CGCS2000 高斯-克吕格 3 度带 114°E（X/Y）", "CGCS2000 Gauss-Krüger 3° CM 114°E"),
)


def review_facts(spec: LayerSpec, feature: Mapping[str, Any], lang: str) -> dict[str, Any] | None:
    """The review state of a work feature (state, its label, the comment), else None."""
    if spec.kind != "work":
        return None
    props = feature.get("properties") or {}
    state = review_of(props)
    return {
        "state": state,
        "label": review_label(state, lang),
        "comment": str(props.get(REVIEW_COMMENT_FIELD) or ""),
    }


def edit_form(spec: LayerSpec, feature: Mapping[str, Any]) -> dict[str, Any] | None:
    """The edit form of a feature page, or None when this request's account may not
    write the layer: the fields with their current values, the version read, the
    current point, the CRS choices, and whether it may delete (planners)."""
    user = current_user()
    if user is None or not may_edit_feature(user, spec, feature):
        return None  # a field account edits only its own works not yet approved
    props = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    point = geometry.get("coordinates") if geometry.get("type") == "Point" else None
    return {
        "fields": [f for f in spec.fields if not f.computed],
        "values": dict(props),
        "refs": ref_choices(spec),
        "input_kind": input_kind,
        "version": int(props.get("version") or 1),
        "point": point,
        "movable": spec.spatial and "Point" in spec.geometry,
        "crs_choices": CRS_CHOICES,
        "can_delete": user.can("planner"),
        "can_bulk": user.can("planner"),
    }
