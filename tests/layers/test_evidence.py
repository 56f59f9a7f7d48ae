"""Evidence rules (issue #14): a layer's TOML spec says what a submission must carry (at
least N photos, a GPS fix within M metres); a submission that lacks it is kept, and a
planner approves it only with an override reason, which stays on the work and in its
history. Planners' own works and decisions other than approval are not held up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from layers.backends import seed_if_empty
from layers.changes import Author, Change
from layers.errors import ValidationFailed
from layers.evidence import EvidenceRules, evidence_problems
from layers.photos import PhotoStore
from layers.review import decide
from layers.specs import SpecError, SpecRegistry

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
FIELD = Author("field1", "field", [])
PLANNER = Author("planner1", "planner", [])
RULES = 'name = "streetlights"\n\n[evidence]\nmin_photos = 1\nmax_accuracy_m = 10\n'
HERE = {"type": "Point", "coordinates": [112.8161, 39.5268]}
PHOTO = ROOT / "tests" / "data" / "photos" / "shanyin_phone.jpg"


@pytest.fixture
def store(store_at, tmp_path, backend, request):
    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, data / sub)
    (data / "specs" / "streetlights.toml").write_text(RULES, encoding="utf-8")
    if backend == "postgis":
        seed_if_empty(data, DEMO, request.getfixturevalue("pg_url"))
    return store_at(data)


def submitted(store, accuracy=None):
    extra = {"gps_accuracy_m": accuracy} if accuracy is not None else {}
    change = Change("create", geometry=HERE, properties={"power_source": "solar"})
    result = store.commit("streetlights", [change], user=FIELD, source="capture",
                          extra_properties=extra)  # fmt: skip
    return result.ids[0]


def test_the_spec_declares_the_rules_and_bad_ones_are_refused(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "streetlights.toml").write_text(RULES, encoding="utf-8")
    rules = SpecRegistry.load(specs)["streetlights"].evidence
    assert rules == EvidenceRules(min_photos=1, max_accuracy_m=10.0)
    assert SpecRegistry.load(None)["streetlights"].evidence == EvidenceRules()
    (specs / "streetlights.toml").write_text(RULES.replace("min_photos", "photos"), "utf-8")
    with pytest.raises(SpecError, match="unknown keys"):
        SpecRegistry.load(specs)


def test_a_submission_without_evidence_needs_an_override_to_be_approved(store):
    fid = submitted(store, accuracy=25.0)
    with pytest.raises(ValidationFailed) as caught:
        decide(store, "streetlights", [fid], "approved", None, PLANNER)
    [problem] = caught.value.problems
    assert problem.code == "evidence_override_needed"
    text = problem.message("en")
    assert "photo" in text and "25.0 m" in text and "10 m" in text
    assert "照片" in problem.message("zh")
    assert store.get("streetlights", fid)["properties"]["review"] == "submitted"
    decide(
        store, "streetlights", [fid], "approved", None, PLANNER, override="灯已现场核实，照片另存"
    )
    props = store.get("streetlights", fid)["properties"]
    assert (props["review"], props["review_override"]) == ("approved", "灯已现场核实，照片另存")
    last = store.history("streetlights", fid)[-1]
    assert last["by"] == "planner1" and last["feature"]["properties"]["review_override"]


def test_a_submission_with_its_evidence_is_approved_without_an_override(store):
    fid = submitted(store, accuracy=6.0)
    PhotoStore(store.files).link("streetlights", fid, [
        PhotoStore(store.files).save(PHOTO.read_bytes(), "p.jpg", user="field1").id
    ])  # fmt: skip
    decide(store, "streetlights", [fid], "approved", None, PLANNER)
    props = store.get("streetlights", fid)["properties"]
    assert props["review"] == "approved" and "review_override" not in props


def test_returning_or_rejecting_needs_no_evidence(store):
    fid = submitted(store)
    decide(store, "streetlights", [fid], "returned", "请补照片", PLANNER)
    assert store.get("streetlights", fid)["properties"]["review"] == "returned"


def test_a_field_account_cannot_send_an_override(store):
    from layers.errors import Forbidden

    fid = submitted(store, accuracy=6.0)
    change = Change("update", id=fid, properties={"review_override": "我说行"})
    with pytest.raises(Forbidden):
        store.commit("streetlights", [change], user=FIELD, source="page")


def test_evidence_problems_name_what_is_missing():
    rules = EvidenceRules(min_photos=2, max_accuracy_m=10.0)
    codes = [p.code for p in evidence_problems(rules, {}, 1)]
    assert codes == ["evidence_photos", "evidence_accuracy_unknown"]
