"""#15 item 20: every dependency is pinned, so what is installed is what was audited.

``constraints.txt`` holds the exact version of every package the runtime and test extras
install (``scripts/_env.sh`` installs with it); ``pip-audit -r constraints.txt`` audits
them where the public vulnerability database is reachable (README, "Auditing
dependencies").
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version.strip(), f"not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in pins, f"{name} is pinned twice"
        pins[key] = Version(version.strip())
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    return [Requirement(text) for text in texts]


def test_every_dependency_in_pyproject_is_pinned_within_its_range() -> None:
    pins = _pins()
    unpinned, outside = [], []
    for requirement in _declared():
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            unpinned.append(requirement.name)
        elif not requirement.specifier.contains(version, prereleases=True):
            outside.append(f"{requirement} (pinned {version})")
        for extra in requirement.extras:  # psycopg[binary] needs psycopg-binary too
            if extra == "binary" and canonicalize_name(f"{requirement.name}-binary") not in pins:
                unpinned.append(f"{requirement.name}-binary")
    assert not unpinned, f"not in constraints.txt: {unpinned}"
    assert not outside, f"pinned outside pyproject's range: {outside}"


def test_the_install_script_uses_the_constraints() -> None:
    env = (ROOT / "scripts" / "_env.sh").read_text(encoding="utf-8")
    assert '-c "$ROOT/constraints.txt"' in env
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Auditing dependencies" in readme and "pip-audit -r constraints.txt" in readme
