"""Settings documented in the README; translations complete in both languages."""

import json
import re
from pathlib import Path

import pytest

from webmap.app import create_app
from webmap.extensions import get_settings
from webmap.settings import SETTINGS, Settings, from_environment, settings_table

ROOT = Path(__file__).resolve().parents[2]


def readme_settings_rows() -> list[tuple[str, str, str]]:
    """(name, default, meaning) of each row of the README's settings table, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(VILLAGEWORKS_[A-Z_]+)` \| (.*?) \| (.*) \|$", section, re.MULTILINE)
    return [(name, default, meaning) for name, default, meaning in rows]


def declared_rows() -> list[tuple[str, str, str]]:
    return [
        (s.env, f"`{s.default}`" if s.default not in ("", None) else "(empty)", s.help)
        for s in SETTINGS
    ]


def test_every_setting_is_in_the_readme_table_and_nothing_else():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(VILLAGEWORKS_[A-Z_]+)` \|", readme, re.MULTILINE))
    assert documented == {s.env for s in SETTINGS}


def differences(documented: list[tuple[str, ...]], declared: list[tuple[str, ...]]) -> list[str]:
    """What differs between the README rows and the declared ones, both directions."""
    readme = {row[0]: row for row in documented}
    code = {row[0]: row for row in declared}
    found = [f"README lacks or misstates {row}" for row in declared if readme.get(row[0]) != row]
    found += [f"README row {row} is not a setting" for row in documented if row[0] not in code]
    if not found and [r[0] for r in documented] != [r[0] for r in declared]:
        found.append("README lists the settings in another order")
    return found


def test_the_readme_table_matches_the_settings_row_by_row():
    assert differences(readme_settings_rows(), declared_rows()) == []


def test_the_row_check_would_catch_a_changed_default_help_or_name():
    rows = declared_rows()
    assert settings_table().splitlines()[2:] == [f"| `{n}` | {d} | {m} |" for n, d, m in rows]
    name, default, meaning = rows[2]
    assert differences([*rows[:2], (name, "`en`", meaning), *rows[3:]], rows)
    assert differences([*rows[:2], (name, default, "Language."), *rows[3:]], rows)
    assert differences(rows[1:], rows)
    assert differences([*rows, ("VILLAGEWORKS_GONE", "(empty)", "Old.")], rows)
    assert differences(rows[::-1], rows)


def test_settings_are_typed_with_one_default_each():
    settings = Settings.from_environment({})
    assert settings.area_margin_m == 2000.0 and isinstance(settings.area_margin_m, float)
    assert settings.max_upload_mb == 50 and settings.max_upload_bytes == 50 * 1024 * 1024
    assert settings.anonymous_read is True
    with pytest.raises(AttributeError):
        settings.area_margin_m = 1.0  # type: ignore[misc]
    assert [s.key for s in SETTINGS] == list(settings.as_config())


def test_settings_parse_types_from_environment():
    config = from_environment(
        {"VILLAGEWORKS_ANONYMOUS_READ": "false", "VILLAGEWORKS_MAX_UPLOAD_MB": "7"}
    )
    assert config["ANONYMOUS_READ"] is False
    assert config["MAX_UPLOAD_MB"] == 7
    assert config["DEFAULT_LANG"] == "zh"
    settings = Settings.from_environment({"VILLAGEWORKS_AREA_MARGIN_M": "500"})
    assert settings.area_margin_m == 500.0
    assert settings.lang == "zh"


def test_the_app_exposes_the_settings_it_was_built_with(tmp_path, monkeypatch):
    monkeypatch.setenv("VILLAGEWORKS_AREA_MARGIN_M", "750")
    app = create_app({"DATA_DIR": str(tmp_path / "d"), "SEED_DEMO": False, "MAX_UPLOAD_MB": 3})
    settings = get_settings(app)
    assert settings.area_margin_m == 750.0 == app.config["AREA_MARGIN_M"]
    assert settings.max_upload_mb == 3
    assert settings.data_dir == app.config["DATA_DIR"]
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_upload_bytes


def test_each_translation_area_has_the_same_keys_in_zh_and_en():
    folder = ROOT / "webmap" / "translations"
    zh_files = sorted(folder.glob("*.zh.json"))
    assert zh_files
    for zh in zh_files:
        en = zh.with_name(zh.name.replace(".zh.json", ".en.json"))
        zh_keys = set(json.loads(zh.read_text(encoding="utf-8")))
        en_keys = set(json.loads(en.read_text(encoding="utf-8")))
        assert zh_keys == en_keys, f"{zh.name}: {sorted(zh_keys ^ en_keys)}"


def test_translation_keys_used_in_templates_exist():
    folder = ROOT / "webmap" / "translations"
    keys: set[str] = set()
    for path in folder.glob("*.zh.json"):
        keys |= set(json.loads(path.read_text(encoding="utf-8")))
    used: set[str] = set()
    for template in (ROOT / "webmap" / "templates").rglob("*.html"):
        used |= set(re.findall(r"_\('([a-z0-9_.]+)'", template.read_text(encoding="utf-8")))
    missing = {k for k in used - keys if not k.endswith(".")}
    assert missing == set()
