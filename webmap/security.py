"""Security headers on every response, and the nonce of the pages' inline scripts.

- ``Content-Security-Policy``: scripts only from this app plus the inline scripts the
  templates mark with this response's nonce (``<script nonce="{{ csp_nonce() }}">``, and
  ``{{ parts.header|nonced }}`` for folium's generated header). An injected ``<script>``,
  ``onerror=`` attribute or ``javascript:`` link has no nonce and never runs. Styles may be
  inline (Leaflet and folium write them); images may come from the configured tile hosts;
  no plugins, no framing, no ``<base>`` elsewhere, forms post only here.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``X-Frame-Options``.

A response that sets its own policy (a stored photo: ``default-src 'none'``) keeps it.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g
from markupsafe import Markup
from werkzeug.wrappers import Response

from webmap.mapdata import BASEMAPS
from webmap.maps import basemap_tiles

_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)
#: Vendored scripts that compile templates with ``new Function`` when they load
#: (leaflet-measure bundles lodash templates): a page including one is allowed
#: 'unsafe-eval'. Injected markup still cannot run: inline code needs the nonce.
_NEEDS_EVAL = ("leaflet-measure",)


def csp_nonce() -> str:
    """This response's script nonce (made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        g.csp_nonce = nonce
    return str(nonce)


def nonced(markup: str) -> Markup:
    """App-generated markup (folium's header) with this response's nonce on every
    ``<script>`` tag. Never use it on anything holding user data."""
    if any(name in str(markup) for name in _NEEDS_EVAL):
        g.csp_eval = True
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{csp_nonce()}"', str(markup)))  # noqa: S704


def tile_sources(tianditu_key: str = "") -> list[str]:
    """CSP sources of every basemap's tile servers (``https://*.is.autonavi.com`` ...)."""
    sources: list[str] = []
    for name in BASEMAPS:
        for tiles in basemap_tiles(name, "zh", tianditu_key):
            scheme, _, rest = tiles.url.partition("://")
            labels = rest.split("/")[0].split(".")
            if "{" in labels[0]:
                labels[0] = "*"  # a subdomain template: t{s}, webrd0{s}
            source = f"{scheme}://{'.'.join(labels)}"
            if source not in sources:
                sources.append(source)
    return sources


def policy(nonce: str, img_sources: list[str], *, allow_eval: bool = False) -> str:
    """The Content-Security-Policy of an app page."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{nonce}'", *(["'unsafe-eval'"] if allow_eval else [])],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *img_sources],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def init_app(app: Flask) -> None:
    """Register the headers and the template helpers ``csp_nonce()`` and ``|nonced``."""
    img_sources = tile_sources(str(app.config.get("TIANDITU_KEY") or ""))
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["nonced"] = nonced

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        csp = policy(csp_nonce(), img_sources, allow_eval=bool(g.get("csp_eval")))
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        return response
