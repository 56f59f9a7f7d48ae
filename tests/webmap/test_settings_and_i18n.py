"""Settings documented in the README; translations complete in both languages."""

import json
import re
from pathlib import Path

from webmap.settings import SETTINGS, from_environment

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme_table_and_nothing_else():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(VILLAGEWORKS_[A-Z_]+)` \|", readme, re.MULTILINE))
    assert documented == {s.env for s in SETTINGS}


def test_settings_parse_types_from_environment():
    config = from_environment(
        {"VILLAGEWORKS_ANONYMOUS_READ": "false", "VILLAGEWORKS_MAX_UPLOAD_MB": "7"}
    )
    assert config["ANONYMOUS_READ"] is False
    assert config["MAX_UPLOAD_MB"] == 7
    assert config["DEFAULT_LANG"] == "zh"


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
