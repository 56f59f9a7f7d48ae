"""The store's in-memory table answers exactly as a dict of GeoJSON features would."""

import random

import numpy as np
import orjson
import pandas as pd
import pytest
import shapely

from layers.memtable import FeatureTable
from layers.specs import SYSTEM_FIELDS, SpecRegistry
from layers.store_base import _frame, _geometries

SPEC = SpecRegistry.load()["plantings"]  # Point, MultiPoint or Polygon
COLUMNS = [*SPEC.field_names, *SYSTEM_FIELDS]
NUMBERS = [f.name for f in SPEC.fields if f.type == "number"]


def feature(rng: random.Random, fid: str) -> dict:
    x, y = round(rng.uniform(112.4, 113.0), 7), round(rng.uniform(39.2, 39.8), 7)
    kind = rng.random()
    if kind < 0.6:
        geometry = {"type": "Point", "coordinates": [x, y]}
    elif kind < 0.7:
        geometry = {"type": "Point", "coordinates": [x, y, 1000.0]}  # kept as text
    elif kind < 0.8:
        geometry = {"type": "MultiPoint", "coordinates": [[x, y], [x + 0.001, y]]}
    elif kind < 0.95:
        d = rng.uniform(0.0005, 0.02)
        ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
    else:
        geometry = None
    props = {
        "species": rng.choice(["spruce", "willow", "楊樹"]),
        "count": rng.randint(0, 300),
        "planted_date": rng.choice(["2021-04-01", "2024-05-20", None, "2019-03-03"]),
        "survival_rate_pct": rng.choice([95.5, 0.0, -0.0, 80.0]),
        "version": 1,
        "created_by": "field1",
    }
    if rng.random() < 0.2:
        props.pop("planted_date")
    if rng.random() < 0.05:
        props = {"zz_unknown": 1, **props}  # out of column order: kept as text
    out = {"type": "Feature", "id": fid, "geometry": geometry, "properties": props}
    if rng.random() < 0.05:
        out["bbox"] = [x, y, x, y]  # a foreign member: kept as text
    return out


def run_ops(seed: int, steps: int = 400):
    rng = random.Random(seed)
    table = FeatureTable(COLUMNS)
    reference: dict[str, dict] = {}
    for step in range(steps):
        op = rng.random()
        if op < 0.65 or not reference:
            batch = [
                feature(rng, f"PL-{rng.randint(1, 300):06d}") for _ in range(rng.randint(1, 8))
            ]
            table.put_many(batch)
            for f in batch:
                reference[f["id"]] = f  # an update keeps its place in the dict
        else:
            fid = rng.choice(list(reference))
            assert table.delete(fid)
            del reference[fid]
        if step % 37 == 0:
            box = (112.5, 39.3, 112.5 + rng.uniform(0, 0.5), 39.3 + rng.uniform(0, 0.5))
            table.bbox_rows(box)  # builds the index mid-way: later changes are kept aside
    return table, reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reads_match_a_dict_of_features(seed):
    table, reference = run_ops(seed)
    assert list(table) == list(reference) and len(table) == len(reference)
    assert table.values_list() == list(reference.values())
    for fid, f in reference.items():
        assert table[fid] == f
        assert orjson.loads(table.raw(fid)) == f
    assert [orjson.loads(t) for t in table.raws()] == list(reference.values())


@pytest.mark.parametrize("seed", [4, 5])
def test_bbox_rows_match_shapely_intersects(seed):
    table, reference = run_ops(seed)
    feats = list(reference.values())
    geoms = _geometries(feats)
    rng = random.Random(seed)
    for _ in range(30):
        x, y = rng.uniform(112.3, 113.0), rng.uniform(39.1, 39.8)
        box = (x, y, x + rng.uniform(0, 0.4), y + rng.uniform(0, 0.4))
        expected = [
            f["id"]
            for f, g in zip(feats, geoms)
            if g is not None and g.intersects(shapely.box(*box))
        ]
        assert table.ids_at(table.bbox_rows(box)) == expected


def test_filters_compare_as_text_like_the_store_did():
    table, reference = run_ops(6)
    rows = table.all_rows()
    got = table.ids_at(
        table.filter_rows(rows, {"species": "spruce", "count": "7"}, None, None, None)
    )
    assert got == [
        f["id"]
        for f in reference.values()
        if f["properties"]["species"] == "spruce" and f["properties"]["count"] == 7
    ]
    got = table.ids_at(table.filter_rows(rows, {}, "planted_date", "2020-01-01", "2024-12-31"))
    assert got == [
        f["id"]
        for f in reference.values()
        if (d := f["properties"].get("planted_date")) and "2020-01-01" <= d <= "2024-12-31"
    ]


@pytest.mark.parametrize("seed", [7, 8])
def test_frame_extent_and_range_match_a_rebuild(seed):
    table, reference = run_ops(seed)
    feats = list(reference.values())
    pd.testing.assert_frame_equal(
        table.frame(COLUMNS, NUMBERS), _frame(SPEC, feats, _geometries(feats)), check_like=False
    )
    bounds = shapely.total_bounds(_geometries(feats))
    assert table.extent() == pytest.approx(tuple(bounds))
    days = [d for f in feats if (d := f["properties"].get("planted_date"))]
    assert table.value_range("planted_date") == (min(days), max(days))


def test_points_are_rebuilt_not_kept_as_text():
    table = FeatureTable(COLUMNS)
    plain = {
        "type": "Feature",
        "id": "PL-1",
        "geometry": {"type": "Point", "coordinates": [112.5, 39.5]},
        "properties": {"species": "spruce", "count": 3, "version": 1},
    }
    odd = {**plain, "id": "PL-2", "properties": {"count": 3, "species": "spruce"}}
    table.put_many([plain, odd])
    assert table._raw == [None, orjson.dumps(odd)]
    assert table["PL-1"] == plain and table["PL-2"] == odd
    assert list(table["PL-2"]["properties"]) == ["count", "species"]


def test_a_zero_keeps_its_sign():
    table = FeatureTable(COLUMNS)
    feats = [
        {
            "type": "Feature",
            "id": f"PL-{i}",
            "geometry": None,
            "properties": {"survival_rate_pct": v},
        }
        for i, v in enumerate([0.0, -0.0, 0.0])
    ]
    table.put_many(feats)
    assert [str(f["properties"]["survival_rate_pct"]) for f in table.values_list()] == [
        "0.0",
        "-0.0",
        "0.0",
    ]


def test_pack_keeps_order_and_answers():
    table, reference = run_ops(9, steps=1500)
    for fid in list(reference)[::2]:
        table.delete(fid)
        del reference[fid]
    table.pack()
    assert table.values_list() == list(reference.values())
    box = (112.4, 39.2, 113.0, 39.8)
    feats = list(reference.values())
    expected = [
        f["id"]
        for f, g in zip(feats, _geometries(feats))
        if g is not None and g.intersects(shapely.box(*box))
    ]
    assert table.ids_at(table.bbox_rows(box)) == expected
    assert len(np.unique(table.all_rows())) == len(reference)
