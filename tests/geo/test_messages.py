"""Every problem code used in the source has a Chinese and an English text."""

import importlib
import re
from pathlib import Path

from geo.messages import MESSAGES, register, render

ROOT = Path(__file__).resolve().parents[2]
# Modules register their codes when imported: import every one of geo/ and layers/.
for _path in sorted([*(ROOT / "geo").glob("*.py"), *(ROOT / "layers").glob("*.py")]):
    importlib.import_module(f"{_path.parent.name}.{_path.stem}")
PATTERN = re.compile(r"\bProblem\(\s*\"([a-z0-9_]+)\"")


def codes_used() -> set[str]:
    codes: set[str] = set()
    for package in ("geo", "layers"):
        for path in (ROOT / package).rglob("*.py"):
            codes |= set(PATTERN.findall(path.read_text(encoding="utf-8")))
    return codes


def test_every_code_used_has_both_texts():
    used = codes_used()
    assert len(used) > 20
    missing = sorted(code for code in used if code not in MESSAGES)
    assert missing == []
    for code in used:
        assert MESSAGES[code]["zh"] and MESSAGES[code]["en"], code


def test_render_never_raises_and_falls_back():
    assert render("no_such_code", "en", value="x") == "Unknown problem: x"
    assert render("not_a_number", "en") != ""


def test_a_code_cannot_get_two_meanings():
    register("test_code_once", "一", "one")
    register("test_code_once", "一", "one")
    try:
        register("test_code_once", "二", "two")
    except ValueError as exc:
        assert "test_code_once" in str(exc)
    else:
        raise AssertionError("registering a code twice with other texts must fail")
