"""The examples in the docstrings of geo, layers and webmap run as part of the suite.

The modules are found by walking the three packages, so a module that is added, split or
moved is picked up with no change here. Warnings raised by an example fail it, like any
other test (``filterwarnings = error``).
"""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "layers", "webmap")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _unimportable(name: str) -> None:
    raise ImportError(f"cannot import {name} to look for its docstring examples")


def package_modules() -> list[str]:
    """Every module and package under PACKAGES, by dotted name.

    A package that does not import fails here (pkgutil would skip it silently), and so does
    one that is not the project's own (e.g. shadowed by a tests/ folder on sys.path).
    """
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        assert Path(module.__file__ or "").parent == ROOT / package, module
        names.append(package)
        names.extend(
            info.name
            for info in pkgutil.walk_packages(module.__path__, f"{package}.", _unimportable)
        )
    return sorted(names)


MODULES = package_modules()


def run_examples(name: str) -> tuple[doctest.TestResults, str]:
    """Run the docstring examples of module ``name``: (failed, attempted) and the report."""
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    failed = attempted = 0
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        result = runner.run(test, out=report.append, clear_globs=True)
        failed += result.failed
        attempted += result.attempted
    return doctest.TestResults(failed, attempted), "".join(report)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    result, report = run_examples(name)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed:\n{report}"


def test_every_package_has_examples():
    """Guards against a walk that silently finds nothing (e.g. a renamed package)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    for package in PACKAGES:
        found = [
            test
            for name in MODULES
            if name.split(".")[0] == package
            for test in finder.find(importlib.import_module(name), name)
            if test.examples
        ]
        assert found, f"no docstring examples found in {package}"


def test_a_wrong_example_is_reported(tmp_path, monkeypatch):
    """The runner used above does fail on a wrong example."""
    (tmp_path / "vw_doctest_probe.py").write_text(
        'def one():\n    """\n    >>> one()\n    2\n    """\n    return 1\n', encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result, report = run_examples("vw_doctest_probe")
    assert result == (1, 1)
    assert "Expected:\n    2\nGot:\n    1" in report


def test_the_geometry_catalogue_examples_hold():
    result, report = run_examples("geometries")
    assert result.failed == 0 and result.attempted > 0, report


def test_a_warning_in_an_example_fails_it(tmp_path, monkeypatch):
    """filterwarnings = error holds inside the examples too."""
    (tmp_path / "vw_doctest_warns.py").write_text(
        'def old():\n    """\n    >>> old()\n    1\n    """\n'
        "    import warnings\n    warnings.warn('old', UserWarning)\n    return 1\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result, report = run_examples("vw_doctest_warns")
    assert result == (1, 1)
    assert "UserWarning: old" in report
