"""Every setting of the app, declared once: a typed, frozen ``Settings`` object.

Each field of ``Settings`` names its environment variable (``VILLAGEWORKS_*``), the Flask
config key the app fills from it, its default and its help text. The app (``create_app``)
and the CLI both build it with ``Settings.from_environment()``, so they honour the same
values. ``tests/webmap/test_settings_and_i18n.py`` checks the README's settings table
against it row by row.

>>> Settings.from_environment({"VILLAGEWORKS_AREA_MARGIN_M": "500"}).area_margin_m
500.0
>>> Settings.from_environment({}).max_upload_bytes
52428800
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
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
        """Convert the environment text to the setting's type.

        >>> Setting("X", "X", False, "", bool).parse("Yes")
        True
        """
        if self.kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if self.kind is int:
            return int(raw)
        if self.kind is float:
            return float(raw)
        return raw


def _setting(env: str, key: str, default: Any, help_text: str) -> Any:
    """A dataclass field of ``Settings`` carrying its environment name, key and help."""
    meta = {"env": env, "key": key, "help": help_text}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """The app's settings, from the environment (``from_environment``) or defaults."""

    data_dir: str = _setting(
        "VILLAGEWORKS_DATA",
        "DATA_DIR",
        "instance/data",
        "Data directory holding the layer files, journals, users and uploads. Seeded "
        "from the demo county on first run if empty. Relative paths are taken from the "
        "current directory.",
    )
    secret_key: str = _setting(
        "VILLAGEWORKS_SECRET_KEY",
        "SECRET_KEY",
        "",
        "Key signing session cookies. Empty: a random key is generated once and kept in "
        "the key file (`VILLAGEWORKS_SECRET_KEY_FILE`), never in the data directory; with "
        "`VILLAGEWORKS_DATABASE_URL` and no key file, in the database, for every server.",
    )
    secret_key_file: str = _setting(
        "VILLAGEWORKS_SECRET_KEY_FILE",
        "SECRET_KEY_FILE",
        "",
        "Where the generated signing key is kept (mode 0600) when `VILLAGEWORKS_SECRET_KEY` "
        "is empty. Empty: `<data>.secrets/secret_key`, beside the data directory and "
        "outside it, so a copy of the data directory holds no usable credential (with a "
        "database: the database's key, `secrets/signing_key`).",
    )
    lang: str = _setting(
        "VILLAGEWORKS_LANG",
        "DEFAULT_LANG",
        "zh",
        "Default interface language, `zh` (Simplified Chinese) or `en`. Users switch with "
        "`?lang=` (remembered in a cookie).",
    )
    basemap: str = _setting(
        "VILLAGEWORKS_BASEMAP",
        "DEFAULT_BASEMAP",
        "osm",
        "Default basemap: `osm`, `tianditu`, `amap` or `none` (offline: vectors only).",
    )
    tianditu_key: str = _setting(
        "VILLAGEWORKS_TIANDITU_KEY",
        "TIANDITU_KEY",
        "",
        "Tianditu (天地图) browser key; the Tianditu basemap is offered only when set.",
    )
    anonymous_read: bool = _setting(
        "VILLAGEWORKS_ANONYMOUS_READ",
        "ANONYMOUS_READ",
        True,
        "Whether visitors who are not logged in may read maps and the API.",
    )
    max_upload_mb: int = _setting(
        "VILLAGEWORKS_MAX_UPLOAD_MB",
        "MAX_UPLOAD_MB",
        50,
        "Largest accepted upload in MB; larger requests get 413, larger files given to "
        "`villageworks import` are refused.",
    )
    embed_max_features: int = _setting(
        "VILLAGEWORKS_EMBED_MAX_FEATURES",
        "EMBED_MAX_FEATURES",
        3000,
        "Layers with more features than this (or whose features would take more than "
        "about 80 KB of the page) are not embedded in map pages; the page loads what is "
        "in view from the bbox API.",
    )
    ogc_max_limit: int = _setting(
        "VILLAGEWORKS_OGC_MAX_LIMIT",
        "OGC_MAX_LIMIT",
        10000,
        "Largest `limit` the OGC API accepts for one page of items.",
    )
    area_margin_m: float = _setting(
        "VILLAGEWORKS_AREA_MARGIN_M",
        "AREA_MARGIN_M",
        2000.0,
        "How far outside the county boundary (m) a new feature may lie, in the app and "
        "in `villageworks import`.",
    )
    timezone: str = _setting(
        "VILLAGEWORKS_TIMEZONE",
        "TIMEZONE",
        "Asia/Shanghai",
        "Time zone in which dates and times are shown.",
    )
    database_url: str = _setting(
        "VILLAGEWORKS_DATABASE_URL",
        "DATABASE_URL",
        "",
        "PostgreSQL/PostGIS URL; empty means the embedded GeoJSON store.",
    )
    read_only: bool = _setting(
        "VILLAGEWORKS_READ_ONLY",
        "READ_ONLY",
        False,
        "Serve reads only, for a full disk or a read-only copy of the data: every write "
        "(forms, the OGC API, capture, uploads, logging in and out) answers 503 with a "
        "message, pages show a banner instead of their write buttons, nothing is settled "
        "or seeded at start, and write commands of `villageworks` refuse. Reads also work "
        "without it on a data directory that cannot be written; writes then answer 503.",
    )
    trusted_proxies: int = _setting(
        "VILLAGEWORKS_TRUSTED_PROXIES",
        "TRUSTED_PROXIES",
        0,
        "How many reverse proxies (nginx) stand in front of the app. Their "
        "`X-Forwarded-For/-Proto/-Host` headers are then believed (werkzeug's ProxyFix), "
        "so throttles and logs see the real client. 0: the headers are ignored.",
    )
    server_names: str = _setting(
        "VILLAGEWORKS_SERVER_NAMES",
        "SERVER_NAMES",
        "",
        "Comma-separated host names the app answers to (for example "
        "`works.example.gov.cn,localhost`); other `Host` headers get 400. Empty: any.",
    )
    https: bool = _setting(
        "VILLAGEWORKS_HTTPS",
        "HTTPS",
        False,
        "The site is served over HTTPS: session cookies get the `Secure` flag and links "
        "use `https`.",
    )
    max_photo_pixels: int = _setting(
        "VILLAGEWORKS_MAX_PHOTO_PIXELS",
        "MAX_PHOTO_PIXELS",
        40_000_000,
        "Largest photo accepted, in pixels (width x height); photos are re-encoded.",
    )
    anonymous_exports_per_minute: int = _setting(
        "VILLAGEWORKS_ANONYMOUS_EXPORTS_PER_MINUTE",
        "ANONYMOUS_EXPORTS_PER_MINUTE",
        10,
        "Whole-layer exports a visitor who is not logged in may make per minute, per "
        "address; more get 429.",
    )
    reports_per_hour: int = _setting(
        "VILLAGEWORKS_REPORTS_PER_HOUR",
        "REPORTS_PER_HOUR",
        10,
        "Residents' reports (`POST /api/reports`) one address may send per hour; more get "
        "429 with a message saying when to try again.",
    )
    log_level: str = _setting("VILLAGEWORKS_LOG_LEVEL", "LOG_LEVEL", "INFO", "Logging level.")

    @classmethod
    def declared(cls) -> tuple[Setting, ...]:
        """Each setting as declared on the fields: env name, config key, default, help."""
        return tuple(
            Setting(
                f.metadata["env"], f.metadata["key"], f.default, f.metadata["help"], type(f.default)
            )
            for f in dataclasses.fields(cls)
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); unset or empty: default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f, setting in zip(dataclasses.fields(cls), cls.declared(), strict=True):
            raw = environ.get(setting.env)
            values[f.name] = setting.default if raw in (None, "") else setting.parse(raw)
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings held in a Flask config (keys such as ``AREA_MARGIN_M``)."""
        values: dict[str, Any] = {}
        for f, setting in zip(dataclasses.fields(cls), cls.declared(), strict=True):
            value = config.get(setting.key)
            if value is None:
                value = setting.default
            elif isinstance(value, str) and setting.kind is not str:
                value = setting.parse(value)
            values[f.name] = setting.kind(value)
        return cls(**values)

    def as_config(self) -> dict[str, Any]:
        """The Flask config keys and values (``{"AREA_MARGIN_M": 2000.0, ...}``)."""
        return {
            setting.key: getattr(self, f.name)
            for f, setting in zip(dataclasses.fields(self), self.declared(), strict=True)
        }

    @property
    def max_upload_bytes(self) -> int:
        """The upload size cap in bytes."""
        return int(self.max_upload_mb) * 1024 * 1024


SETTINGS: tuple[Setting, ...] = Settings.declared()


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config values: each setting from the environment, or its default."""
    return Settings.from_environment(environ).as_config()


def settings_table() -> str:
    """The settings as a Markdown table (the README's table is checked against this)."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default not in ("", None) else "(empty)"
        lines.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(lines)
