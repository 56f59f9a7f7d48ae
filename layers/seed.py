"""Seeding a data directory from the committed demo county, without touching the demo."""

from __future__ import annotations

import shutil
from pathlib import Path


def is_empty(data_dir: Path) -> bool:
    """True when ``data_dir`` holds no layer file and no journal yet."""
    layers = data_dir / "layers"
    journal = data_dir / "journal"
    has_layers = layers.is_dir() and any(layers.glob("*.geojson"))
    has_journal = journal.is_dir() and any(journal.glob("*.geojsons"))
    return not (has_layers or has_journal)


def seed_demo(data_dir: Path, demo_dir: Path, *, force: bool = False) -> list[str]:
    """Copy the demo's layer files and declarations into ``data_dir``.

    Refuses (``FileExistsError``) to overwrite a directory that already has data unless
    ``force``; with ``force`` the old layer files and journals are removed first. Returns
    the names of the layers written. The demo folder itself is only read.
    """
    if not (demo_dir / "layers").is_dir():
        raise FileNotFoundError(f"no demo data in {demo_dir}")
    if not is_empty(data_dir) and not force:
        raise FileExistsError(f"{data_dir} already holds data; use --force to replace it")
    for sub in ("layers", "journal", "specs"):
        target = data_dir / sub
        if force and target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((demo_dir / "layers").glob("*.geojson")):
        shutil.copyfile(path, data_dir / "layers" / path.name)
        written.append(path.stem)
    if (demo_dir / "specs").is_dir():
        for path in sorted((demo_dir / "specs").glob("*.toml")):
            shutil.copyfile(path, data_dir / "specs" / path.name)
    return written
