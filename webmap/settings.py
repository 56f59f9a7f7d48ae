"""Every setting of the app, declared once with its default and meaning.

Settings come from environment variables (``VILLAGEWORKS_*``) or a test config passed to
``create_app``. ``tests/webmap/test_settings.py`` checks that the README's settings table
lists exactly these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "data" / "demo"


@dataclass(frozen=True)
class Setting:
    """One setting: environment name, config key, default, parser and help text."""

    env: str
    key: str
    default: Any
    help: str
    kind: type = str

    def parse(self, raw: str) -> Any:
        """Convert the environment text to the setting's type."""
        if self.kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if self.kind is int:
            return int(raw)
        if self.kind is float:
            return float(raw)
        return raw


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "VILLAGEWORKS_DATA",
        "DATA_DIR",
        "instance/data",
        "Data directory holding the layer files, journals, users and uploads. Seeded "
        "from the demo county on first run if empty. Relative paths are taken from the "
        "current directory.",
    ),
    Setting(
        "VILLAGEWORKS_SECRET_KEY",
        "SECRET_KEY",
        "",
        "Key signing session cookies. Empty: a random key is generated once and kept in "
        "`<data>/secret_key`.",
    ),
    Setting(
        "VILLAGEWORKS_LANG",
        "DEFAULT_LANG",
        "zh",
        "Default interface language, `zh` (Simplified Chinese) or `en`. Users switch with "
        "`?lang=` (remembered in a cookie).",
    ),
    Setting(
        "VILLAGEWORKS_BASEMAP",
        "DEFAULT_BASEMAP",
        "osm",
        "Default basemap: `osm`, `tianditu`, `amap` or `none` (offline: vectors only).",
    ),
    Setting(
        "VILLAGEWORKS_TIANDITU_KEY",
        "TIANDITU_KEY",
        "",
        "Tianditu (天地图) browser key; the Tianditu basemap is offered only when set.",
    ),
    Setting(
        "VILLAGEWORKS_ANONYMOUS_READ",
        "ANONYMOUS_READ",
        True,
        "Whether visitors who are not logged in may read maps and the API.",
        bool,
    ),
    Setting(
        "VILLAGEWORKS_MAX_UPLOAD_MB",
        "MAX_UPLOAD_MB",
        50,
        "Largest accepted upload in MB; larger requests get 413.",
        int,
    ),
    Setting(
        "VILLAGEWORKS_EMBED_MAX_FEATURES",
        "EMBED_MAX_FEATURES",
        3000,
        "Layers with more features than this are not embedded in map pages; the page "
        "loads what is in view from the bbox API.",
        int,
    ),
    Setting(
        "VILLAGEWORKS_OGC_MAX_LIMIT",
        "OGC_MAX_LIMIT",
        10000,
        "Largest `limit` the OGC API accepts for one page of items.",
        int,
    ),
    Setting(
        "VILLAGEWORKS_AREA_MARGIN_M",
        "AREA_MARGIN_M",
        2000.0,
        "How far outside the county boundary (m) a new feature may lie.",
        float,
    ),
    Setting(
        "VILLAGEWORKS_TIMEZONE",
        "TIMEZONE",
        "Asia/Shanghai",
        "Time zone in which dates and times are shown.",
    ),
    Setting(
        "VILLAGEWORKS_DATABASE_URL",
        "DATABASE_URL",
        "",
        "PostgreSQL/PostGIS URL; empty means the embedded GeoJSON store.",
    ),
    Setting("VILLAGEWORKS_LOG_LEVEL", "LOG_LEVEL", "INFO", "Logging level."),
)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Config values: each setting from the environment, or its default."""
    environ = dict(os.environ) if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        config[setting.key] = setting.default if raw in (None, "") else setting.parse(raw)
    return config


def settings_table() -> str:
    """The settings as a Markdown table (the README's table is checked against this)."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default not in ("", None) else "(empty)"
        lines.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(lines)
