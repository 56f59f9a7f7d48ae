"""The start page: the layers of the county and how many features each holds."""

from __future__ import annotations

from flask import Blueprint, render_template

from webmap.damaged import spare_damaged_layers
from webmap.extensions import get_store

bp = Blueprint("home", __name__)


@bp.get("/layers")
@spare_damaged_layers
def layers() -> str:
    """Every layer with its label and feature count."""
    store = get_store()
    rows = [(spec, store.count(spec.name)) for spec in store.specs]
    return render_template("layers.html", rows=rows)


@bp.get("/")
@spare_damaged_layers
def index() -> str:
    """Until the county map lands, the start page is the layer list."""
    return layers()
