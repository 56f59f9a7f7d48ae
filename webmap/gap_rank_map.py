"""The ranked gaps on a map: the first ten of each kind numbered, with their figures, and
a list beside the map whose rows zoom to them.

``ranked_payload(ranked, lang, gcj02)`` turns :func:`layers.gap_ranking.ranked_gaps` into
compact JSON; :class:`RankedGaps` hands it to ``static/js/gap_rank.js`` (loaded with it),
which draws the markers and the list with ``textContent`` only: a place name is never
parsed as HTML. The county map (``webmap.maps.build_map``) and the dashboard's gap map
(``webmap.dashboard_map.gap_map``) both use it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from geo.display import display_geometries
from geo.simplify import simplify_for_display
from layers.analyses import KINDS
from layers.gap_overlays import KIND_STYLES, kind_label
from layers.gap_ranking import TOP, RankedGap
from webmap.i18n import format_number, translate
from webmap.scriptjson import script_json

STATIC_DIR = Path(__file__).resolve().parent / "static"
_DECIMALS = {"km": 1, "m": 0, "days": 0, "": 1}


@cache
def _version(path: str) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def figure_text(gap: RankedGap, lang: str) -> str:
    """The figure of a ranked gap with its unit, in ``lang`` (never visited: says so)."""
    if gap.figure is None:
        return translate("maps.rank.never", lang)
    decimals = _DECIMALS.get(gap.unit, 1)
    value = round(gap.figure, decimals) if decimals else float(round(gap.figure))
    number = format_number(value, lang, decimals)
    return translate(f"maps.rank.unit.{gap.unit or 'none'}", lang, n=number)


def _bounds(gap: RankedGap, gcj02: bool) -> list[list[float]]:
    box = shapely.box(*gap.bbox)
    (shown,) = display_geometries([box], gcj02)
    x0, y0, x1, y1 = shown.bounds
    return [[round(y0, 6), round(x0, 6)], [round(y1, 6), round(x1, 6)]]


def _geometry(gap: RankedGap, gcj02: bool, tolerance_deg: float) -> Any:
    simple = simplify_for_display(np.asarray([gap.geometry], dtype=object), tolerance_deg)
    (shown,) = display_geometries(simple, gcj02)
    return orjson.loads(shapely.to_geojson(shapely.set_precision(shown, 1e-6)))


def _strings(lang: str) -> dict[str, str]:
    keys = ("title", "hint", "rest", "none", "zoom")
    return {k: translate(f"maps.rank.{k}", lang) for k in keys}


def ranked_payload(
    ranked: Sequence[RankedGap],
    lang: str,
    gcj02: bool = False,
    *,
    tolerance_deg: float = 0.0,
    top: int = TOP,
    layer_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What ``gap_rank.js`` draws: per kind its label (what it covers), style and count;
    the first ``top`` of each kind with rank, label, figure, township, bounds (lat/lon,
    GCJ-02 with ``gcj02``) and geometry. A gap named only by its id (a greenhouse) is
    labelled with its layer's label from ``layer_labels`` too."""
    labels = layer_labels or {}
    counts = Counter(g.kind for g in ranked)
    kinds = [
        {
            "kind": kind,
            "label": translate(f"maps.rank.kind.{kind}", lang),
            "covers": kind_label(kind, lang),
            "count": counts[kind],
            **KIND_STYLES[kind],
        }
        for kind in KINDS
        if counts[kind]
    ]
    items = [
        {
            "k": g.kind,
            "r": g.rank,
            "t": f"{labels[g.layer]} {g.label}"
            if g.label == g.feature_id and g.layer in labels
            else g.label,
            "f": figure_text(g, lang),
            "w": g.township,
            "id": g.feature_id,
            "b": _bounds(g, gcj02),
            "g": _geometry(g, gcj02, tolerance_deg),
        }
        for g in ranked
        if g.rank <= top
    ]
    return {"strings": _strings(lang), "kinds": kinds, "items": items, "top": top}


class RankedGaps(JSCSSMixin, MacroElement):
    """Draws a :func:`ranked_payload` on its map once the map exists (``gap_rank.js``)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.VWRank.draw({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
        """
    )

    def __init__(self, payload: Mapping[str, Any], static_url: str = "/static") -> None:
        super().__init__()
        self._name = "RankedGaps"
        self.payload = script_json(payload)
        base = static_url.rstrip("/")
        self.default_js = [("gap_rank", f"{base}/js/gap_rank.js?v={_version('js/gap_rank.js')}")]
        css = "css/gap_rank.css"
        self.default_css = [("gap_rank_css", f"{base}/{css}?v={_version(css)}")]
