"""A Flask app served on a free port of 127.0.0.1 in a thread, for real HTTP clients
(GDAL's ogrinfo/ogr2ogr, owslib, raw http.client requests as QGIS sends them)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app's base URL (``http://127.0.0.1:PORT``) while it is served."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)


def need_gdal() -> None:
    """Skip without Debian's gdal-bin (fail in CI, where it must be installed)."""
    if shutil.which("ogrinfo") and shutil.which("ogr2ogr"):
        return
    if os.environ.get("CI"):
        pytest.fail("ogrinfo/ogr2ogr (gdal-bin) must be installed in CI")
    pytest.skip("ogrinfo (gdal-bin) is not installed")


def run_gdal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a GDAL command line tool (no proxy for 127.0.0.1); its result, whatever it is."""
    full = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    full.update({"GDAL_HTTP_TIMEOUT": "60", "CPL_VSIL_CURL_USE_CACHE": "NO", **(env or {})})
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=full)
