"""The application factory. Nothing happens at import time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from layers.backends import open_store, seed_if_empty
from layers.journal import UNWRITABLE_ERRNOS
from layers.upload_log import UploadLog
from webmap import (
    auth,
    compression,
    damaged,
    deploy,
    errors,
    extensions,
    http_cache,
    i18n,
    ogc,
    scriptjson,
    security,
)
from webmap.extensions import get_settings, get_store
from webmap.settings import DEMO_DIR, Settings
from webmap.views import (
    admin_layers,
    admin_users,
    api_features,
    capture,
    capture_offline,
    dashboard,
    exports,
    feature_edit,
    home,
    ledger,
    maps,
    report,
    reports_api,
    reports_pages,
    review,
    uploads_api,
    uploads_pages,
)

__all__ = ["create_app", "get_settings", "get_store"]

log = logging.getLogger(__name__)

# The county map comes before home: it is the start page.
BLUEPRINTS = (
    maps.bp,
    api_features.bp,
    home.bp,
    uploads_api.bp,
    exports.bp,
    capture.bp,
    capture_offline.bp,
    uploads_pages.bp,
    admin_users.bp,
    admin_layers.bp,
    dashboard.bp,
    ledger.bp,
    feature_edit.bp,
    review.bp,
    reports_api.bp,
    reports_pages.bp,
    report.bp,
)


def _recover_uploads(data_dir: Path, store: Any) -> None:
    """Settle uploads a dead process left half-done; on a data directory this process
    cannot write, say so and serve reads (writes answer 503)."""
    try:
        UploadLog(store.files).recover(store)
    except OSError as exc:
        if exc.errno not in UNWRITABLE_ERRNOS:
            raise
        log.warning("unfinished uploads not settled, the data directory is not writable: %s", exc)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app: settings from the environment, then ``test_config`` on top.

    The data directory is created and, when empty, seeded from the demo county
    (``SEED_DEMO``, default True).
    """
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(Settings.from_environment().as_config())
    app.config.update(SEED_DEMO=True)
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    data_dir = Path(app.config["DATA_DIR"]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = str(data_dir)
    database_url = str(app.config.get("DATABASE_URL") or "")
    read_only = bool(app.config.get("READ_ONLY"))
    if app.config["SEED_DEMO"] and not read_only and (DEMO_DIR / "layers").is_dir():
        if seed_if_empty(data_dir, DEMO_DIR, database_url):
            log.info("seeded %s from the demo county", "the database" if database_url else data_dir)
    if not app.config.get("SECRET_KEY"):  # never kept in the data directory
        app.config["SECRET_KEY"] = deploy.signing_key(
            data_dir, app.config.get("SECRET_KEY_FILE", ""), database_url
        )
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    app.extensions[extensions.SETTINGS] = Settings.from_config(app.config)
    app.extensions[extensions.STORE] = open_store(data_dir, database_url)
    if not read_only:  # settle uploads a dead process left half-done
        _recover_uploads(data_dir, app.extensions[extensions.STORE])

    compression.init_app(app)  # first: its after_request hook then runs last
    for extension in (deploy, i18n, errors, damaged, security, auth, ogc, scriptjson, http_cache):
        extension.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
