"""What the GeoJSON store does for big layers keeps its answers: file layout, sampled
queries, date ranges, dry runs reused by the commit that follows."""

import random

import orjson
import pytest
import shapely
from geometries import point

from layers.store import GeoJSONStore
from layers.store_base import BaseStore, Change

pytestmark = pytest.mark.geojson_only


def lights(n, seed=1, **props):
    rng = random.Random(seed)
    return [
        Change(
            "create",
            geometry={
                "type": "Point",
                "coordinates": [rng.uniform(112.6, 112.9), rng.uniform(39.3, 39.6)],
            },
            properties={
                "power_source": rng.choice(["solar", "grid"]),
                "status": rng.choice(["working", "faulty"]),
                "installed_date": f"{rng.randint(2010, 2025)}-0{rng.randint(1, 9)}-15",
                **props,
            },
        )
        for _ in range(n)
    ]


def test_layer_file_holds_one_feature_per_line_and_reloads(tmp_path):
    store = GeoJSONStore(tmp_path)
    store.commit("streetlights", lights(40), user="u", source="test")
    store.delete("streetlights", "SL-000003", user="u")
    lines = store.layer_path("streetlights").read_bytes().splitlines()
    assert lines[0].endswith(b'"features":[') and lines[-1].startswith(b'],"vw:crc32":"')
    assert len(lines) == 2 + 39
    doc = orjson.loads(store.layer_path("streetlights").read_bytes())
    assert doc["features"] == store.features("streetlights")
    again = GeoJSONStore(tmp_path)
    assert again.features("streetlights") == store.features("streetlights")
    assert again.version("streetlights") == store.version("streetlights")


def test_a_file_in_another_layout_still_loads(tmp_path):
    store = GeoJSONStore(tmp_path)
    store.commit("streetlights", lights(5), user="u", source="test")
    features = store.features("streetlights")
    doc = orjson.loads(store.layer_path("streetlights").read_bytes())
    # As QGIS or an older version would write it: one line, or indented.
    for option in (0, orjson.OPT_INDENT_2):
        store.layer_path("streetlights").write_bytes(orjson.dumps(doc, option=option))
        assert GeoJSONStore(tmp_path).features("streetlights") == features


def test_query_sample_answers_as_the_generic_version(tmp_path):
    store = GeoJSONStore(tmp_path)
    store.commit("streetlights", lights(3000), user="u", source="test")
    store.delete("streetlights", "SL-000010", user="u")
    area = shapely.Point(112.75, 39.45).buffer(0.08)
    cases = [
        {"bbox": (112.6, 39.3, 112.8, 39.5), "limit": 50},
        {"bbox": (112.6, 39.3, 112.9, 39.6), "limit": 100, "spread": True},
        {"equals": {"status": "faulty"}, "limit": 20, "offset": 40},
        {"date_from": "2015-01-01", "date_to": "2020-12-31", "limit": 30, "within": area},
        {"within": area, "limit": 500, "spread": True},
    ]
    for kwargs in cases:
        fast = store.query_sample("streetlights", **kwargs)
        generic = BaseStore.query_sample(store, "streetlights", **kwargs)
        assert fast.number_matched == generic.number_matched > 0
        assert fast.features == generic.features


def test_date_range_follows_commits_and_deletes(tmp_path):
    store = GeoJSONStore(tmp_path)
    assert store.date_range("streetlights") is None
    store.commit("streetlights", lights(200), user="u", source="test")

    def expected():
        days = [f["properties"].get("installed_date") for f in store.features("streetlights")]
        days = [d for d in days if d]
        return (min(days), max(days))

    assert store.date_range("streetlights") == expected()
    first = min(store.features("streetlights"), key=lambda f: f["properties"]["installed_date"])
    store.delete("streetlights", first["id"], user="u")
    assert store.date_range("streetlights") == expected()
    store.commit("streetlights", lights(1, installed_date="2001-01-01"), user="u", source="t")
    assert store.date_range("streetlights") == expected() == ("2001-01-01", expected()[1])


def test_a_dry_run_is_reused_only_by_the_same_commit(tmp_path):
    store = GeoJSONStore(tmp_path)
    changes = lights(150)
    preview = store.commit("streetlights", changes, user="u", source="up", dry_run=True)
    # The dry run's plan, handed over explicitly, is taken as checked (same created_at).
    done = store.commit("streetlights", changes, user="u", source="up", plan=preview.plan)
    assert done.features == preview.features and done.ids[0] == "SL-000001"
    # Another commit in between: the plan is stale and the commit validates afresh.
    more = lights(150, seed=2)
    stale = store.commit("streetlights", more, user="u", source="up", dry_run=True)
    store.create(
        "streetlights",
        point(112.7, 39.4),
        {"power_source": "solar", "status": "working"},
        user="u",
    )
    done = store.commit("streetlights", more, user="u", source="up", plan=stale.plan)
    assert done.ids[0] == "SL-000152"
    assert store.count("streetlights") == 301
