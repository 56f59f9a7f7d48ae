"""Imports point one way: webmap -> layers -> geo. Walks the source with ast."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "geo": {"flask", "folium", "layers", "webmap", "werkzeug", "jinja2"},
    "layers": {"flask", "folium", "webmap", "werkzeug", "jinja2"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_back(package):
    offenders = []
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no source found in {package}/"
    for path in files:
        bad = imported_modules(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_checker_would_catch_a_back_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from webmap.app import create_app\nimport flask.json\n")
    assert imported_modules(module) == {"webmap", "flask"}


def test_each_package_states_its_import_rule():
    for package in ("geo", "layers", "webmap"):
        text = (ROOT / package / "README.md").read_text(encoding="utf-8")
        assert "import" in text.lower()
