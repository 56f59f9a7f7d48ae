"""Shared fixtures: a fresh app per test over a data directory in tmp_path."""

import shutil
from pathlib import Path

import pytest

from layers.store import GeoJSONStore
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PASSWORD = "correct-horse-9"


def copy_demo(target: Path) -> Path:
    """The committed demo county copied into ``target`` (never modified in place)."""
    target.mkdir(parents=True, exist_ok=True)
    for sub in ("layers", "specs"):
        if (DEMO / sub).is_dir():
            shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)
    return target


@pytest.fixture
def empty_app(tmp_path):
    """An app over an empty data directory (no demo)."""
    return create_app(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SEED_DEMO": False,
            "SECRET_KEY": "test",
        }
    )


@pytest.fixture
def demo_app(tmp_path):
    """An app over a copy of the demo county."""
    data = copy_demo(tmp_path / "data")
    return create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def store(tmp_path):
    """A store over an empty data directory."""
    return GeoJSONStore(tmp_path / "store")


@pytest.fixture
def accounts():
    """Create one account per role in an app's data directory; returns name -> token."""

    def make(app):
        users = UserStore(app.config["DATA_DIR"])
        tokens = {}
        for role in ("viewer", "field", "planner", "admin"):
            users.add(f"{role}1", role, PASSWORD)
            tokens[role] = users.new_token(f"{role}1")
        return tokens

    return make
