"""Vector tiles of the PostGIS store, built by PostgreSQL itself (``ST_AsMVT``).

The rows of a tile are found with the GIST index on ``geom`` (SRID 4326): the tile's
envelope, grown by the buffer, is transformed once to lon/lat
(``geom && ST_Transform(ST_TileEnvelope(...), 4326)``), never every row to Web
Mercator. Only the rows found are transformed and clipped (``ST_AsMVTGeom``). The
caller (:func:`layers.tiles.layer_tile`) decides what a reader may see: the properties
to leave out and the statuses a feature must have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layers.postgis import PostGISStore

#: One statement: the rows of the tile, by id, capped; their geometry in tile units and
#: their properties without hidden keys, the id as a column of its own; the whole tile as
#: MVT bytes. ``ST_AsMVT`` leaves out jsonb nulls (and nested arrays and objects) itself,
#: so the properties are handed over as stored: no ``jsonb_strip_nulls`` and no
#: ``|| jsonb_build_object('id', ...)``, which built a new jsonb per row (a third of a
#: z10 tile of 10,000 points). A stored ``id`` property gives way to the feature's id.
TILE_SQL = """
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326) AS box
), found AS (
    SELECT f.id, f.geom, f.properties
    FROM vw_features f, bounds b
    WHERE f.layer = %(layer)s AND NOT f.deleted
      AND f.geom && b.box AND ST_Intersects(f.geom, b.box)
      AND (%(status)s::text IS NULL OR f.properties->>%(status)s = ANY(%(shown)s::text[]))
    ORDER BY f.id COLLATE "C"
    LIMIT %(cap)s
), shaped AS (
    SELECT CASE WHEN f.properties ? 'id' THEN f.properties - (%(hidden)s::text[] || '{id}')
                WHEN cardinality(%(hidden)s::text[]) > 0 THEN f.properties - %(hidden)s::text[]
                ELSE f.properties END AS props,
           f.id,
           ST_AsMVTGeom(ST_Transform(f.geom, 3857), b.tile, %(extent)s, %(buffer)s, true)
               AS geom
    FROM found f, bounds b
)
SELECT ST_AsMVT(shaped, %(name)s, %(extent)s, 'geom')
FROM shaped WHERE geom IS NOT NULL
"""


def layer_tile(
    store: PostGISStore,
    layer: str,
    zxy: tuple[int, int, int],
    *,
    hidden: Sequence[str],
    status_field: str | None,
    shown_statuses: Sequence[str],
    extent: int,
    buffer: int,
    cap: int,
) -> bytes:
    """The MVT bytes of one tile of ``layer`` (one MVT layer named ``layer``).

    ``hidden`` names properties left out; with ``status_field`` only features whose
    status is one of ``shown_statuses`` are served. At most ``cap`` features, by id.
    """
    z, x, y = zxy
    params = {
        "z": z,
        "x": x,
        "y": y,
        "layer": layer,
        "name": layer,
        "status": status_field,
        "shown": list(shown_statuses),
        "hidden": list(hidden),
        "extent": extent,
        "buffer": buffer,
        "cap": cap,
        "margin": buffer / extent,
    }
    with store._conn() as conn:
        row = conn.execute(TILE_SQL, params).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


__all__ = ["TILE_SQL", "layer_tile"]
