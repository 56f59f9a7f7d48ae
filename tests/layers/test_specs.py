"""Layer declarations: the built-ins load, bad declarations are refused with the file named."""

import pytest

from layers.errors import ValidationFailed
from layers.specs import SpecError, SpecRegistry, parse_date, spec_from_mapping, validate_properties

WORKS = {"streetlights", "wells", "pipes", "greenhouses", "plantings", "villages", "visits"}
REFERENCE = {"roads", "facilities", "bus_routes", "boundaries"}


def test_builtin_layers_are_declared_with_labels_in_both_languages():
    registry = SpecRegistry.load()
    assert WORKS <= set(registry.names("work"))
    assert REFERENCE <= set(registry.names("reference"))
    for spec in registry:
        assert spec.label["zh"] and spec.label["en"]
        for field in spec.fields:
            assert field.label["zh"] and field.label["en"], (spec.name, field.name)


def test_required_fields_of_the_issue_exist():
    registry = SpecRegistry.load()
    light = registry["streetlights"]
    assert set(light.field("status").values) == {
        "planned",
        "installed",
        "working",
        "faulty",
        "removed",
    }
    assert light.field("pole_height_m").unit == "m"
    assert registry["pipes"].field("length_m").computed == "length_m"
    assert registry["greenhouses"].geometry == ("Point", "Polygon")
    species = registry["plantings"].field("species")
    assert species.extensible
    labels = {species.value_label(v, "zh") for v in species.values}
    assert {"樟子松", "云杉", "桧柏", "柳树"} <= labels
    assert registry["villages"].field("stat_code").pattern == "^[0-9]{12}$"


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"name": "Bad Name"}, "lower_snake_case"),
        ({"name": "x", "geometry": ["Circle"]}, "Circle"),
        ({"name": "x", "fields": [{"name": "a", "type": "colour"}]}, "colour"),
        ({"name": "x", "fields": [{"name": "a", "type": "enum"}]}, "list of values"),
        ({"name": "x", "fields": [{"name": "a"}, {"name": "a"}]}, "declared twice"),
        ({"name": "x", "fields": [{"name": "version"}]}, "system field"),
        ({"name": "x", "status_field": "nope"}, "nope"),
    ],
)
def test_bad_declarations_are_refused_with_a_reason(raw, fragment):
    with pytest.raises(SpecError) as info:
        spec_from_mapping(raw, "county/x.toml")
    assert fragment in str(info.value)
    assert "county/x.toml" in str(info.value)


def test_broken_toml_names_the_file(tmp_path):
    (tmp_path / "x.toml").write_text("name = \n", encoding="utf-8")
    with pytest.raises(SpecError, match="x.toml"):
        SpecRegistry.load(tmp_path)


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2021-08-15", "2021-08-15"),
        ("2021/8/5", "2021-08-05"),
        ("2021年8月5日", "2021-08-05"),
        ("20210815", "2021-08-15"),
        ("2021-08", "2021-08-01"),
        ("2021-02-30", None),
        ("昨天", None),
    ],
)
def test_dates_in_the_formats_people_type(text, iso):
    day = parse_date(text)
    assert (day.isoformat() if day else None) == iso


def test_validate_properties_reports_each_problem_with_row_and_field():
    spec = SpecRegistry.load()["wells"]
    clean, problems = validate_properties(
        spec,
        {"depth_m": "-3", "yield_m3h": "1e9", "status": "broken", "pump_power_kw": "７.５"},
        row=7,
    )
    assert {(p.field, p.code) for p in problems} == {
        ("depth_m", "below_min"),
        ("yield_m3h", "above_max"),
        ("status", "not_allowed"),
    }
    assert clean["pump_power_kw"] == 7.5
    assert all(p.row == 7 for p in problems)
    texts = [p.message("en") for p in problems]
    assert any("Depth" in t and "-3" in t for t in texts)


def test_an_update_cannot_clear_a_required_field(store):
    created = store.create(
        "streetlights",
        {"type": "Point", "coordinates": [112.8, 39.5]},
        {"power_source": "solar"},
        user="u",
    )
    fid = created.ids[0]
    with pytest.raises(ValidationFailed) as caught:
        store.update("streetlights", fid, user="u", properties={"power_source": None})
    assert [(p.field, p.code) for p in caught.value.problems] == [("power_source", "required")]
    store.update("streetlights", fid, user="u", properties={"road": "新建路"})
    store.update("streetlights", fid, user="u", properties={"road": ""})  # optional: cleared
    assert "road" not in store.get("streetlights", fid)["properties"]
