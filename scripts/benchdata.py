"""Synthetic county-to-province scale layers for ``scripts/bench.py``, with the real schemas.

Streetlights stand along generated roads (about one per 20 m of road, with dark stretches
left out on purpose), plantings lie around the demo county's villages, wells are spread
over the county. Everything is deterministic for a seed and written as the store writes it
(one RFC 7946 FeatureCollection per layer, one feature per line), so the store, pygeoapi's
GeoJSON provider and ogr2ogr all read the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

#: The demo county's box (lon/lat), from data/demo/layers/boundaries.geojson.
COUNTY_BOX = (112.43, 39.18, 113.06, 39.77)
#: Road per streetlight: 1M lights stand on 20,000 km of road.
ROAD_M_PER_LIGHT = 20.0
ROAD_PART_KM = 10.0
CLOCK = "2026-10-31T09:00:00Z"
TOWNSHIPS = (
    "岱岳镇",
    "玉井镇",
    "北周庄镇",
    "古城镇",
    "马营庄乡",
    "薛圐圙乡",
    "合盛堡乡",
    "吴马营乡",
    "后所乡",
)
VILLAGES = tuple(f"VL-{i:06d}" for i in range(1, 134))
LIGHT_STATUS = (
    ("working", 0.8),
    ("faulty", 0.05),
    ("installed", 0.05),
    ("planned", 0.05),
    ("removed", 0.05),
)
SPECIES = ("mongolian_pine", "spruce", "juniper", "willow", "poplar", "elm")
M_PER_DEG_LAT = 111_320.0


def _m_per_deg_lon(lat: float) -> float:
    return M_PER_DEG_LAT * math.cos(math.radians(lat))


@dataclass
class Roads:
    """Generated roads: vertices (lon/lat) of each, with names and ids."""

    ids: list[str]
    names: list[str]
    lines: list[np.ndarray]

    @property
    def length_km(self) -> float:
        total = 0.0
        for xy in self.lines:
            lat = float(xy[:, 1].mean())
            d = np.diff(xy, axis=0) * [_m_per_deg_lon(lat), M_PER_DEG_LAT]
            total += float(np.hypot(d[:, 0], d[:, 1]).sum())
        return total / 1000.0


def make_roads(total_km: float, rng: np.random.Generator) -> Roads:
    """Winding roads of about ``ROAD_PART_KM`` each, inside the county box, ``total_km`` in all."""
    minx, miny, maxx, maxy = COUNTY_BOX
    count = max(1, round(total_km / ROAD_PART_KM))
    step_m = 500.0
    steps = max(2, round(total_km * 1000 / count / step_m))
    mx, my = _m_per_deg_lon((miny + maxy) / 2), M_PER_DEG_LAT
    lines = []
    for _ in range(count):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        heading = rng.uniform(0, 2 * math.pi)
        turns = np.cumsum(rng.normal(0, 0.25, steps))
        pts = [(x, y)]
        for turn in turns:
            h = heading + turn
            nx, ny = x + step_m * math.cos(h) / mx, y + step_m * math.sin(h) / my
            if not (minx < nx < maxx and miny < ny < maxy):
                heading += math.pi
                h = heading + turn
                nx, ny = x + step_m * math.cos(h) / mx, y + step_m * math.sin(h) / my
            x, y = nx, ny
            pts.append((x, y))
        lines.append(np.round(np.array(pts), 7))
    ids = [f"RD-{i + 1:06d}" for i in range(count)]
    names = [f"乡道X{i + 1:04d}" for i in range(count)]
    return Roads(ids, names, lines)


def _dates(rng: np.random.Generator, n: int, start: str, end: str) -> np.ndarray:
    first = dt.date.fromisoformat(start).toordinal()
    last = dt.date.fromisoformat(end).toordinal()
    days = rng.integers(first, last + 1, n)
    lookup = {d: dt.date.fromordinal(int(d)).isoformat() for d in np.unique(days)}
    return np.array([lookup[d] for d in days], dtype=object)


def light_positions(
    roads: Roads, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points along ``roads`` (lon/lat) with the index of the road of each.

    Lights are spread over 90% of each road's length; the rest is left dark in stretches.
    """
    lengths = []
    cums = []
    for xy in roads.lines:
        lat = float(xy[:, 1].mean())
        d = np.diff(xy, axis=0) * [_m_per_deg_lon(lat), M_PER_DEG_LAT]
        seg = np.hypot(d[:, 0], d[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        cums.append(cum)
        lengths.append(cum[-1])
    lengths_arr = np.array(lengths)
    road = rng.choice(len(roads.lines), n, p=lengths_arr / lengths_arr.sum())
    out = np.empty((n, 2))
    order = np.argsort(road, kind="stable")
    bounds = np.searchsorted(road[order], np.arange(len(roads.lines) + 1))
    for r in range(len(roads.lines)):
        idx = order[bounds[r] : bounds[r + 1]]
        if len(idx) == 0:
            continue
        cum, xy = cums[r], roads.lines[r]
        # Dark stretches: positions fall only in 9 of every 10 blocks of 1 km.
        at = rng.uniform(0, cum[-1] * 0.9, len(idx))
        at = at + np.floor(at / 900.0) * 100.0
        at = np.minimum(at, cum[-1])
        x = np.interp(at, cum, xy[:, 0])
        y = np.interp(at, cum, xy[:, 1])
        lat = float(xy[:, 1].mean())
        off = rng.uniform(-8, 8, (len(idx), 2)) / [_m_per_deg_lon(lat), M_PER_DEG_LAT]
        out[idx, 0] = x + off[:, 0]
        out[idx, 1] = y + off[:, 1]
    return np.round(out, 7), road


def _system(prefix_source: str = "bench") -> dict[str, Any]:
    return {
        "created_at": CLOCK,
        "updated_at": CLOCK,
        "created_by": "bench",
        "updated_by": "bench",
        "source": prefix_source,
        "version": 1,
        "demo": True,
    }


def streetlight_rows(
    xy: np.ndarray, road: np.ndarray, roads: Roads, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Property dicts of streetlights at ``xy`` (the real ``streetlights`` schema)."""
    n = len(xy)
    statuses = [s for s, _ in LIGHT_STATUS]
    status = rng.choice(len(statuses), n, p=[p for _, p in LIGHT_STATUS])
    solar = rng.random(n) < 0.7
    height = rng.choice([6.0, 8.0, 10.0, 12.0], n)
    power = rng.choice([30.0, 60.0, 100.0, 150.0], n)
    dates = _dates(rng, n, "2019-01-01", "2026-10-01")
    town = rng.integers(0, len(TOWNSHIPS), n)
    village = rng.integers(0, len(VILLAGES), n)
    rows = []
    for i in range(n):
        rows.append(
            {
                "power_source": "solar" if solar[i] else "grid",
                "pole_height_m": float(height[i]),
                "lamp_power_w": float(power[i]),
                "road": roads.names[road[i]],
                "status": statuses[status[i]],
                "installed_date": dates[i],
                "ledger_item": "LG-000001",
                "township": TOWNSHIPS[town[i]],
                "village_id": VILLAGES[village[i]],
            }
        )
    return rows


def write_layer(
    path: Path,
    name: str,
    prefix: str,
    geometries: list[dict[str, Any]],
    properties: list[dict[str, Any]],
) -> int:
    """Write a layer file as the store writes it; returns its size in bytes."""
    system = _system()
    path.parent.mkdir(parents=True, exist_ok=True)
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "name": name,
            "vw:seq": 0,
            "vw:journal_offset": 0,
            "vw:next_id": len(geometries) + 1,
            "vw:idempotency": {},
        }
    )
    with open(path, "wb") as fh:
        fh.write(head[:-1] + b',"features":[\n')
        for i, (geom, props) in enumerate(zip(geometries, properties, strict=True)):
            feature = {
                "type": "Feature",
                "id": f"{prefix}-{i + 1:06d}",
                "geometry": geom,
                "properties": {**props, **system},
            }
            fh.write(orjson.dumps(feature))
            fh.write(b",\n" if i + 1 < len(geometries) else b"\n")
        fh.write(b"]}\n")
    return path.stat().st_size


def points(xy: np.ndarray) -> list[dict[str, Any]]:
    """GeoJSON Point mappings."""
    return [{"type": "Point", "coordinates": [x, y]} for x, y in xy.tolist()]


def write_streetlights(data_dir: Path, n: int, seed: int = 1) -> Roads:
    """``n`` streetlights on ``n * ROAD_M_PER_LIGHT`` of generated road; writes both layers."""
    rng = np.random.default_rng(seed)
    roads = make_roads(n * ROAD_M_PER_LIGHT / 1000.0, rng)
    xy, road = light_positions(roads, n, rng)
    write_layer(
        data_dir / "layers" / "streetlights.geojson",
        "streetlights",
        "SL",
        points(xy),
        streetlight_rows(xy, road, roads, rng),
    )
    write_roads(data_dir, roads)
    return roads


def write_roads(data_dir: Path, roads: Roads) -> None:
    """The generated roads as the ``roads`` layer."""
    geoms = [{"type": "LineString", "coordinates": xy.tolist()} for xy in roads.lines]
    props = [{"name": n, "road_class": "X"} for n in roads.names]
    write_layer(data_dir / "layers" / "roads.geojson", "roads", "RD", geoms, props)


def county_points(demo_dir: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random lon/lat points inside the demo county's outline (1 km from its edge)."""
    import shapely

    doc = orjson.loads((demo_dir / "layers" / "boundaries.geojson").read_bytes())
    county = next(f for f in doc["features"] if f["properties"].get("level") == "county")
    area = shapely.from_geojson(orjson.dumps(county["geometry"])).buffer(-0.012)
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds
    out = np.zeros((0, 2))
    while len(out) < n:
        xy = np.column_stack([rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)])
        out = np.concatenate([out, xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]])
    return np.round(out[:n], 7)


def village_points(demo_dir: Path) -> np.ndarray:
    """Lon/lat of the demo county's villages."""
    doc = orjson.loads((demo_dir / "layers" / "villages.geojson").read_bytes())
    return np.array([f["geometry"]["coordinates"][:2] for f in doc["features"]])


def write_plantings(data_dir: Path, demo_dir: Path, n: int, seed: int = 2) -> None:
    """``n`` plantings around the demo villages: 90% points, 10% small squares."""
    rng = np.random.default_rng(seed)
    centres = village_points(demo_dir)
    which = rng.integers(0, len(centres), n)
    lat0 = float(centres[:, 1].mean())
    spread = rng.normal(0, 1500, (n, 2)) / [_m_per_deg_lon(lat0), M_PER_DEG_LAT]
    xy = np.round(centres[which] + spread, 7)
    square = rng.random(n) < 0.1
    half = 20 / M_PER_DEG_LAT
    geoms: list[dict[str, Any]] = []
    for (x, y), sq in zip(xy.tolist(), square.tolist(), strict=True):
        if sq:
            ring = [
                [x - half, y - half],
                [x + half, y - half],
                [x + half, y + half],
                [x - half, y + half],
                [x - half, y - half],
            ]
            geoms.append(
                {"type": "Polygon", "coordinates": [[[round(a, 7), round(b, 7)] for a, b in ring]]}
            )
        else:
            geoms.append({"type": "Point", "coordinates": [x, y]})
    species = rng.integers(0, len(SPECIES), n)
    count = rng.integers(1, 400, n)
    dates = _dates(rng, n, "2020-03-01", "2026-05-31")
    survival = np.round(rng.uniform(60, 100, n), 1)
    props = [
        {
            "species": SPECIES[species[i]],
            "count": int(count[i]),
            "planted_date": dates[i],
            "survival_rate_pct": float(survival[i]),
            "ledger_item": "LG-000003",
            "township": TOWNSHIPS[which[i] % len(TOWNSHIPS)],
            "village_id": VILLAGES[which[i] % len(VILLAGES)],
        }
        for i in range(n)
    ]
    write_layer(data_dir / "layers" / "plantings.geojson", "plantings", "PL", geoms, props)


def write_wells(data_dir: Path, n: int, seed: int = 3) -> None:
    """``n`` wells spread over the county box, 85% working."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = COUNTY_BOX
    xy = np.round(np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)]), 7)
    status = np.where(rng.random(n) < 0.85, "working", "faulty")
    dates = _dates(rng, n, "2015-01-01", "2026-06-30")
    props = [
        {
            "name": f"机井{i + 1}",
            "depth_m": 150.0,
            "yield_m3h": 30.0,
            "status": str(status[i]),
            "completed_date": dates[i],
            "township": TOWNSHIPS[i % len(TOWNSHIPS)],
            "village_id": VILLAGES[i % len(VILLAGES)],
        }
        for i in range(n)
    ]
    write_layer(data_dir / "layers" / "wells.geojson", "wells", "WL", points(xy), props)


def write_csv(path: Path, demo_dir: Path, n: int, seed: int = 4) -> None:
    """A CSV of ``n`` streetlights: lon, lat and 5 fields (as a field team sends them)."""
    rng = np.random.default_rng(seed)
    xy = county_points(demo_dir, n, rng)
    lon, lat = xy[:, 0], xy[:, 1]
    status = rng.choice(["working", "installed", "faulty"], n)
    power = rng.choice(["solar", "grid"], n)
    height = rng.choice([6, 8, 10, 12], n)
    watts = rng.choice([30, 60, 100], n)
    dates = _dates(rng, n, "2020-01-01", "2026-06-30")
    lines = ["lon,lat,power_source,pole_height_m,lamp_power_w,status,installed_date"]
    lines += [
        f"{lon[i]},{lat[i]},{power[i]},{height[i]},{watts[i]},{status[i]},{dates[i]}"
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
