"""Where the app is deployed: the signing key kept outside the data directory, and the
settings for running behind a reverse proxy (trusted proxies, server names, HTTPS).

- The key signing session cookies is ``VILLAGEWORKS_SECRET_KEY``, or else a random key
  generated once into ``VILLAGEWORKS_SECRET_KEY_FILE`` (default
  ``<data>.secrets/secret_key``: a sibling of the data directory, mode 0700, the file
  0600). A copy of the data directory alone therefore cannot forge a session. A key an
  older install left in ``<data>/secret_key`` is moved there (its sessions stay valid).
  With a database (``VILLAGEWORKS_DATABASE_URL``) and no key file set, the key lives in
  the database instead (site file :data:`DB_KEY` in ``vw_files``), created once by the
  first server to start (under a site lock, so all of them end with one key; an earlier
  key file's key is kept), so every server over the database signs alike.
- ``VILLAGEWORKS_TRUSTED_PROXIES=N``: werkzeug's ProxyFix believes the last N proxies'
  ``X-Forwarded-For/-Proto/-Host`` (so the login throttle sees the real client).
- ``VILLAGEWORKS_SERVER_NAMES``: other ``Host`` (or trusted ``X-Forwarded-Host``) headers
  get 400 before Flask sees the request, so no link or ``Location`` is built from a
  forged host.
- ``VILLAGEWORKS_HTTPS``: Secure session cookies, ``https`` links (TLS ends at the proxy),
  HSTS.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

from layers.site_files import SiteFiles, site_files
from webmap.i18n import catalogue

log = logging.getLogger(__name__)
HSTS = "max-age=31536000"
#: The signing key's path among a database's site files (as ``villageworks migrate`` has it).
DB_KEY = "secrets/signing_key"


def key_path(data_dir: Path, key_file: str = "") -> Path:
    """The key file: ``key_file``, or ``<data>.secrets/secret_key``."""
    if key_file:
        return Path(key_file).expanduser().absolute()
    return Path(str(data_dir) + ".secrets") / "secret_key"


def _private_dir(folder: Path, default: bool) -> None:
    """Make ``folder`` (mode 0700); the default secrets folder is kept at 0700."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    elif default and folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def _create_once(path: Path, value: str) -> None:
    """Write ``path`` whole and only if absent: a hard link of a finished temp file, so
    workers starting at once (gunicorn -w 4 on a fresh install) all end with one key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another worker made it first: use theirs
    finally:
        tmp.unlink()


def _retire_old_key(old: Path, path: Path) -> None:
    """Delete ``<data>/secret_key`` once the key file holds the same key."""
    try:
        same = old.read_text().strip() == path.read_text().strip()
    except FileNotFoundError:
        return
    if same:
        old.unlink(missing_ok=True)
        log.warning("moved the signing key out of the data directory: %s -> %s", old, path)
    else:
        log.warning("%s is an old signing key, unused (the key is %s): delete it", old, path)


def shared_signing_key(files: SiteFiles, seed: str = "") -> str:
    """The key among the site's ``files`` (a database's), made once: ``seed`` (a key
    this server had before) or a random one, written only if no server wrote one first.

    >>> import tempfile
    >>> files = site_files(tempfile.mkdtemp())
    >>> first = shared_signing_key(files)
    >>> len(first), shared_signing_key(files, seed="other") == first
    (64, True)
    """
    body = files.read(DB_KEY)
    if body is None or not body.strip():
        with files.lock(DB_KEY):  # INSERT ... ON CONFLICT DO NOTHING, across servers
            body = files.read(DB_KEY)
            if body is None or not body.strip():
                body = (seed or secrets.token_hex(32)).encode()
                files.write(DB_KEY, body)
                log.info("made the session signing key, kept in the database")
    return body.decode().strip()


def _database_key(data_dir: Path, database_url: str) -> str:
    """The database's key; a key this server kept in ``<data>.secrets`` seeds it."""
    try:
        seed = key_path(data_dir).read_text().strip()
    except OSError:
        seed = ""
    files = site_files(data_dir, database_url)
    try:
        return shared_signing_key(files, seed)
    finally:
        files.close()


def signing_key(data_dir: Path, key_file: str = "", database_url: str = "") -> str:
    """The key in the key file, made once (moved from ``<data>/secret_key`` if there);
    with ``database_url`` and no ``key_file``, the key in the database."""
    if database_url and not key_file:
        return _database_key(data_dir, database_url)
    path = key_path(data_dir, key_file)
    _private_dir(path.parent, default=not key_file)
    old = data_dir / "secret_key"
    if not path.exists():
        try:
            value = old.read_text().strip()
        except FileNotFoundError:
            value = secrets.token_hex(32)
        _create_once(path, value)
    if old.exists():
        _retire_old_key(old, path)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


def server_names(value: str) -> list[str]:
    """``VILLAGEWORKS_SERVER_NAMES`` as a list (empty: any host)."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


class Gate:
    """WSGI middleware in front of Flask: 400 for a request whose host is not one of
    ``names`` (when set; a name starting with ``.`` allows its subdomains), before
    anything is built from it; with ``https`` every request is taken as an https one
    (TLS ends at the proxy), so absolute links and redirects use https."""

    def __init__(self, wsgi_app: Any, names: list[str], https: bool):
        self.wsgi_app = wsgi_app
        self.names = names
        self.https = https

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.names:
            probe = {**environ, "HTTP_HOST": str(environ.get("HTTP_HOST", "")).lower()}
            try:
                get_host(probe, trusted_hosts=self.names)
            except SecurityError:
                text = f"{catalogue('zh')['auth.bad_host']}\n{catalogue('en')['auth.bad_host']}\n"
                response = Response(text, status=400, mimetype="text/plain")
                response.headers["X-Content-Type-Options"] = "nosniff"
                return response(environ, start_response)
        if self.https:
            environ["wsgi.url_scheme"] = "https"
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Proxy headers, allowed host names and HTTPS, from the app's settings."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    names = server_names(str(app.config.get("SERVER_NAMES") or ""))
    https = bool(app.config.get("HTTPS"))
    if names or https:
        app.wsgi_app = Gate(app.wsgi_app, names, https)  # type: ignore[method-assign]
    if proxies > 0:  # outside the gate: it sees the forwarded host
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    if https:
        app.config.update(SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")

        @app.after_request
        def _hsts(response: Response) -> Response:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            return response
