"""ranked_gaps over a small hand-made store and over the demo county: the order of each
kind, the figures and their units, the top ten, bboxes to zoom to.

Expected lengths come from the WGS84 geodesic (pyproj.Geod), not from the code under test.
"""

import datetime as dt
from pathlib import Path

import pytest
from geometries import line, point
from pyproj import Geod

from layers.analyses import run_gaps
from layers.backends import seed_if_empty
from layers.gap_ranking import TOP, rank_frame, ranked_gaps
from layers.store import Change

GEOD = Geod(ellps="WGS84")
AS_OF = dt.date(2026, 10, 31)
Y0 = 39.5
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def add(store, layer, items):
    changes = [Change("create", geometry=g, properties=p) for g, p in items]
    return store.commit(layer, changes, user="t", source="test").ids


def km_along(lon0, lon1, lat):
    return GEOD.inv(lon0, lat, lon1, lat)[2] / 1000.0


@pytest.fixture
def unlit(store):
    """Twelve unlit roads of 1..12 hundredths of a degree, given in a shuffled order."""
    lengths = [5, 12, 1, 9, 3, 11, 7, 2, 10, 4, 8, 6]
    items = [
        (line((112.8, Y0 + i * 0.002), (112.8 + n * 0.01, Y0 + i * 0.002)), {"name": f"路{n}"})
        for i, n in enumerate(lengths)
    ]
    add(store, "roads", items)
    add(
        store,
        "streetlights",
        [(point(113.1, 39.7), {"status": "working", "power_source": "solar"})],
    )
    return store


def test_dark_roads_rank_longest_first_with_their_length_in_km(unlit):
    ranked = ranked_gaps(unlit, AS_OF, kinds=["lighting"])
    assert [g.label.split(" ")[0] for g in ranked] == [f"路{n}" for n in range(12, 0, -1)]
    assert [g.rank for g in ranked] == list(range(1, 13))
    assert {g.kind for g in ranked} == {"lighting"} and {g.unit for g in ranked} == {"km"}
    first = ranked[0]
    assert first.figure == pytest.approx(km_along(112.8, 112.92, first.bbox[1]), rel=1e-3)
    assert first.bbox[0] == pytest.approx(112.8) and first.bbox[2] == pytest.approx(112.92)
    assert [g.top for g in ranked] == [True] * TOP + [False] * (12 - TOP)


def test_villages_never_visited_come_first_then_the_longest_unvisited(store):
    ids = add(
        store,
        "villages",
        [(point(112.8 + i * 0.01, Y0), {"name": f"村{i}", "township": "乡"}) for i in range(4)],
    )
    visits = [(ids[1], "2026-03-01"), (ids[2], "2026-06-01"), (ids[3], "2026-10-20")]
    add(
        store,
        "visits",
        [(point(112.8, Y0), {"kind": "visit", "village_id": v, "date": d}) for v, d in visits],
    )
    ranked = ranked_gaps(store, AS_OF, kinds=["visits"])
    assert [g.label for g in ranked] == ["村0", "村1", "村2"]  # 村3 was visited 11 days ago
    assert ranked[0].figure is None
    assert [g.figure for g in ranked[1:]] == [
        (AS_OF - dt.date(2026, 3, 1)).days,
        (AS_OF - dt.date(2026, 6, 1)).days,
    ]
    assert {g.unit for g in ranked} == {"days"}


def test_every_dark_stretch_of_the_demo_is_ranked_once(demo_store):
    rows = run_gaps(demo_store, "lighting", as_of=AS_OF)
    ranked = ranked_gaps(demo_store, AS_OF, kinds=["lighting"])
    assert len(ranked) == len(rows) > TOP
    total_km = float(rows["length_m"].sum()) / 1000.0
    assert sum(g.figure for g in ranked) == pytest.approx(total_km)
    figures = [g.figure for g in ranked]
    assert figures == sorted(figures, reverse=True)


def test_demo_greenhouses_rank_farthest_from_a_well_first(demo_store):
    ranked = ranked_gaps(demo_store, AS_OF, kinds=["irrigation"])
    assert ranked and {g.layer for g in ranked} == {"greenhouses"}
    assert {g.gap for g in ranked} == {"far_from_well"} and ranked[0].unit == "m"
    assert [g.figure for g in ranked] == sorted((g.figure for g in ranked), reverse=True)
    rows = run_gaps(demo_store, "irrigation", as_of=AS_OF)
    far = rows[(rows["layer"] == "greenhouses").to_numpy()]
    assert ranked[0].figure == pytest.approx(float(far["distance_m"].max()))


def test_given_frames_are_ranked_instead_of_running_the_kind(unlit):
    rows = run_gaps(unlit, "lighting", as_of=AS_OF, min_gap_m=100)
    shortest_out = rows[(rows["length_m"] > 1500).to_numpy()]
    ranked = ranked_gaps(unlit, AS_OF, kinds=["lighting"], frames={"lighting": shortest_out})
    assert len(ranked) == len(shortest_out) < 12
    assert rank_frame("lighting", rows.iloc[0:0]) == []


@pytest.fixture
def demo_store(store_at, backend, request, tmp_path):
    """The committed demo county seeded into a fresh store of the test's backend."""
    target = tmp_path / "demo"
    target.mkdir()
    url = request.getfixturevalue("pg_url") if backend == "postgis" else ""
    seed_if_empty(target, DEMO, url)
    return store_at(target)
