"""HTTP caching: immutable static files under content-hashed URLs, ETag and 304 for the
map pages and the OGC API's items.

**Static files.** Pages link our files and the vendored ones as
``/static/<path>?v=<sha256[:12]>`` (:func:`static_url`, the templates' ``static_url``;
:func:`webmap.assets.localise` for folium's assets). A request whose ``v`` is the file's
current hash is answered ``Cache-Control: public, max-age=31536000, immutable``: a new
version of the file has another URL, so a browser never asks again. Any other request
(no ``v``, an old one, a file a stylesheet names by a relative URL) gets
:data:`UNVERSIONED_CACHE`, a short cache, and revalidates with the file's ETag.

**Pages.** :func:`cached_page` decorates the county, township and village map pages.
Their ETag is a digest of everything the HTML is made of (:func:`request_digest`): the
version of every layer, today's date (gaps and overdue works depend on it), the account
(name, role, areas) and its session's CSRF token, the language, the path and query
string, the host, the app's code, templates and static files, and its settings. A
matching ``If-None-Match`` is answered 304 without building the page. The page's CSP
nonce is derived from the digest (HMAC with the app's secret key) so that the page a
browser keeps and the policy of the 304 that revalidates it agree; a page needing
``'unsafe-eval'`` (leaflet-measure) says so in its ETag (suffix ``.e``), so the 304's
policy allows it too. Pages are ``Cache-Control: private, no-cache``: always
revalidated, never kept by a shared cache.

**OGC items.** :func:`data_etag` digests a layer's version with the same request facts;
``/ogc/collections/{id}/items`` answers 304 to it. (A single item's ETag stays the
feature's version, which ``If-Match`` of the transactions compares.)
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Response, current_app, g, make_response, request, session, url_for
from werkzeug.http import parse_etags
from werkzeug.wrappers import Response as BaseResponse

from webmap.auth import current_user
from webmap.compression import base_etags
from webmap.damaged import damaged_layers
from webmap.extensions import get_store
from webmap.i18n import current_lang

if TYPE_CHECKING:
    from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])
#: Cache-Control of a static file asked for by its content-hashed URL.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
#: Cache-Control of a static file asked for without (or with an outdated) hash.
UNVERSIONED_CACHE = "public, max-age=600"
#: Cache-Control of a map page: kept by the browser, revalidated on every visit.
PAGE_CACHE = "private, no-cache"
#: Hex digits of the sha256 in a static URL's ``v``; shorter ones (>= 8) are accepted.
VERSION_DIGITS = 12
MIN_VERSION_DIGITS = 8
#: Suffix of a page's ETag when its policy allows 'unsafe-eval'.
EVAL_MARK = ".e"

_ROOT = Path(__file__).resolve().parents[1]
_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def file_version(path: Path) -> str:
    """The sha256 (hex) of a file's content, computed once per size and mtime."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is None:
        known = hashlib.sha256(path.read_bytes()).hexdigest()
        with _HASHES_LOCK:
            _HASHES[key] = known
    return known


def static_version(filename: str) -> str:
    """The short content hash of ``filename`` under the app's static folder."""
    folder = Path(current_app.static_folder or "")
    return file_version(folder / filename)[:VERSION_DIGITS]


def static_url(filename: str) -> str:
    """URL of one of the app's static files, pinned to its content (``?v=<hash>``)."""
    return url_for("static", filename=filename, v=static_version(filename))


def _static_headers(response: BaseResponse) -> BaseResponse:
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = str((request.view_args or {}).get("filename") or "")
    sent = request.args.get("v", "")
    current = ""
    if len(sent) >= MIN_VERSION_DIGITS:
        try:
            current = static_version(filename)
        except OSError:
            current = ""
    pinned = bool(current) and current.startswith(sent[:VERSION_DIGITS])
    response.headers["Cache-Control"] = IMMUTABLE_CACHE if pinned else UNVERSIONED_CACHE
    response.headers.pop("Expires", None)
    return response


@functools.cache
def _code_fingerprint(root: Path) -> str:
    """Paths, sizes and mtimes of the code, templates, translations and static files
    the pages are made from (a deploy of new code changes every page's ETag)."""
    digest = hashlib.sha256()
    for package in ("geo", "layers", "webmap"):
        for folder, dirs, files in os.walk(root / package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                stat = (Path(folder) / name).stat()
                digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _account() -> tuple[str, ...]:
    user = current_user()
    if user is None:
        return ("",)
    csrf = str(session.get("csrf") or "")
    return (user.name, user.role, ",".join(user.areas), csrf)


def request_digest(*parts: Any) -> str:
    """A digest of ``parts`` and every fact of the request a page or answer depends on:
    path, query string, host, language, ``Accept``, the account, the date, the app's
    code and settings."""
    config = sorted((k, repr(v)) for k, v in current_app.config.items())
    facts = (
        _code_fingerprint(_ROOT),
        repr(config),
        request.path,
        request.query_string.decode("latin-1"),
        request.host_url,
        request.headers.get("Accept", ""),
        current_lang(),
        _account(),
        dt.date.today().isoformat(),
        parts,
    )
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:32]


def layer_versions() -> tuple[tuple[str, int], ...]:
    """Every layer of the store with its version."""
    store = get_store()
    return tuple((name, store.version(name)) for name in store.layer_names())


def data_etag(*versions: Any) -> str:
    """The ETag (quoted) of an answer made from data at ``versions``, for this request."""
    return f'"{request_digest("data", versions)}"'


def client_holds(*tags: str) -> str | None:
    """The first of ``tags`` (quoted) the request's ``If-None-Match`` names, coding
    suffixes (``-gz``) aside, or None."""
    if request.method not in ("GET", "HEAD"):
        return None
    held = parse_etags(base_etags(request.headers.get("If-None-Match")))
    for tag in tags:
        if held.contains_weak(tag.strip('"')):
            return tag
    return None


def not_modified(tag: str, cache_control: str = PAGE_CACHE) -> Response:
    """A 304 for ``tag`` (with ``cache_control`` unless it is empty)."""
    response = Response(status=304)
    response.headers["ETag"] = tag
    if cache_control:
        response.headers["Cache-Control"] = cache_control
    response.vary.add("Accept-Encoding")
    return response


def _page_nonce(digest: str) -> str:
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    mac = hmac.new(key, f"csp-nonce:{digest}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def cached_page(view: F) -> F:
    """Decorator of a map page: ETag from :func:`request_digest` over the layers'
    versions, 304 to a matching ``If-None-Match`` (see the module doc)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        digest = request_digest("page", layer_versions())
        g.csp_nonce = _page_nonce(digest)
        plain, with_eval = f'"{digest}"', f'"{digest}{EVAL_MARK}"'
        held = client_holds(plain, with_eval)
        if held is not None:
            g.csp_eval = held == with_eval
            return not_modified(held)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and not damaged_layers():
            response.headers["ETag"] = with_eval if g.get("csp_eval") else plain
            response.headers["Cache-Control"] = PAGE_CACHE
        return response

    return wrapped  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    """Long-lived caching of versioned static files; ``static_url`` in templates."""
    app.jinja_env.globals["static_url"] = static_url
    app.after_request(_static_headers)
