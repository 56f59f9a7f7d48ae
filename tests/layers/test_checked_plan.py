"""A dry run's checked batch goes to the commit explicitly (``plan=``), on both backends:
the commit takes it without checking again only while the layers the checks read have
not moved, for the same changes, user and source, and once."""

import itertools

import pytest
from geometries import COUNTY, point

from layers.errors import Conflict
from layers.store import Change

LIGHT = {"power_source": "solar", "status": "working"}


@pytest.fixture
def ticking(store):
    """The store with a clock that says a new second at each call, so a feature's
    ``created_at`` tells whether its batch was checked at the dry run or again."""
    seconds = itertools.count(1)
    store.clock = lambda: f"2026-12-02T08:00:{next(seconds):02d}Z"
    return store


def lights(n):
    return [Change("create", geometry=point(112.7 + i / 1000), properties=LIGHT) for i in range(n)]


def created_at(result):
    return {f["properties"]["created_at"] for f in result.features}


def test_the_commit_takes_the_dry_runs_checked_batch(ticking):
    changes = lights(3)
    dry = ticking.commit("streetlights", changes, user="ann", source="upload:U1", dry_run=True)
    assert dry.plan is not None and ticking.count("streetlights") == 0
    done = ticking.commit("streetlights", changes, user="ann", source="upload:U1", plan=dry.plan)
    assert done.ids == dry.ids == ["SL-000001", "SL-000002", "SL-000003"]
    assert created_at(done) == created_at(dry)  # not checked again
    assert dry.plan.used and ticking.count("streetlights") == 3


def test_a_plan_serves_one_commit(ticking):
    changes = lights(2)
    dry = ticking.commit("streetlights", changes, user="ann", source="s", dry_run=True)
    ticking.commit("streetlights", changes, user="ann", source="s", plan=dry.plan)
    again = ticking.commit("streetlights", changes, user="ann", source="s", plan=dry.plan)
    assert again.ids == ["SL-000003", "SL-000004"]  # checked again, new ids
    assert created_at(again).isdisjoint(created_at(dry))


@pytest.mark.parametrize("other", [{"user": "bob"}, {"source": "upload:U2"}, {"changes": "copies"}])
def test_a_plan_is_not_taken_for_other_changes_or_another_user(ticking, other):
    changes = lights(2)
    dry = ticking.commit("streetlights", changes, user="ann", source="upload:U1", dry_run=True)
    args = {"user": "ann", "source": "upload:U1", **other}
    given = lights(2) if args.pop("changes", None) == "copies" else changes
    done = ticking.commit("streetlights", given, plan=dry.plan, **args)
    assert not dry.plan.used
    assert created_at(done).isdisjoint(created_at(dry))


def test_a_change_to_the_layer_between_dry_run_and_commit_means_checking_again(ticking):
    fid = ticking.create("streetlights", point(), LIGHT, user="ann").ids[0]
    changes = [Change("update", id=fid, properties={"status": "faulty"}, if_version=1)]
    dry = ticking.commit("streetlights", changes, user="ann", source="form", dry_run=True)
    ticking.update("streetlights", fid, user="bob", properties={"status": "removed"})  # version 2
    with pytest.raises(Conflict):
        ticking.commit("streetlights", changes, user="ann", source="form", plan=dry.plan)
    assert ticking.get("streetlights", fid)["properties"]["status"] == "removed"


def test_a_new_boundary_means_checking_again(ticking):
    changes = lights(1)
    dry = ticking.commit("streetlights", changes, user="ann", source="s", dry_run=True)
    ticking.create("boundaries", COUNTY, {"level": "county", "name": "x"}, user="ann")
    done = ticking.commit("streetlights", changes, user="ann", source="s", plan=dry.plan)
    assert not dry.plan.used and done.ids == ["SL-000001"]
