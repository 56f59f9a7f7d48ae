"""Exports of a layer (or any list of its features) to the formats planners exchange."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from layers.store import GeoJSONStore


def to_geojson(features: list[dict[str, Any]], name: str) -> bytes:
    """An RFC 7946 FeatureCollection (no store bookkeeping members)."""
    doc = {"type": "FeatureCollection", "name": name, "features": features}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


FORMATS: dict[str, Callable[[list[dict[str, Any]], str], bytes]] = {
    "geojson": to_geojson,
}


def export_layer(
    store: GeoJSONStore, layer: str, fmt: str, features: list[dict[str, Any]] | None = None
) -> bytes:
    """``features`` (default: every live feature of ``layer``) in format ``fmt``."""
    store.spec(layer)
    chosen = store.features(layer) if features is None else features
    return FORMATS[fmt](chosen, layer)
