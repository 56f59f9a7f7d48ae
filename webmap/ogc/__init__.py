"""OGC API - Features at ``/ogc``: Part 1 (core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS)
and Part 4 (create, replace, update, delete), over the layers of the store.

``routes`` answers reads, ``transactions`` writes, ``documents`` builds the JSON, ``params``
parses query parameters (shared with the exports), ``crs`` converts coordinates and
``openapi`` describes it all. Bbox queries use the store's in-memory STRtree.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the read and write blueprints."""
    from webmap.ogc import part_routes, routes, tiles, transactions  # noqa: F401 (tiles: routes on bp)

    app.register_blueprint(routes.bp)
    app.register_blueprint(transactions.bp)
    part_routes.init_app(app)  # greenhouses-points etc. (webmap/ogc/parts.py)
