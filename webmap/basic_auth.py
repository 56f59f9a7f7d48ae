"""HTTP Basic auth with the API token as the password, for clients that cannot send a
Bearer header (QGIS before 3.32, whose built-in authentication is Basic; GDAL with
``GDAL_HTTP_AUTH=BASIC GDAL_HTTP_USERPWD=name:token``).

- ``Authorization: Basic base64(name:token)`` is read wherever ``Bearer <token>`` is
  (:func:`webmap.auth.current_user`): the same account, the same rights, no CSRF token,
  no session (the login form never reads it).
- The password must be an API token (``villageworks users token NAME``), never the
  account's password: a password sent here is refused like any wrong token, so Basic
  auth opens no way to guess passwords.
- The user name may be empty, any name that is no account (``qgis``, ``token``), or the
  name of the token's own account; a name of *another* account is refused (401), so a
  mix-up of two people's credentials is never silently accepted as one of them.
- Refused credentials (malformed header, wrong or revoked token, another account's name)
  answer 401 with a message saying which, in the request's language. A token the site
  never issued counts as a failed token attempt of the client address, as a wrong
  Bearer token does (:func:`webmap.auth.current_user`,
  :meth:`layers.login_throttle.LoginThrottle.token_failed`): past
  ``FREE_TOKENS_PER_ADDRESS`` different wrong tokens the address gets 429 with
  ``Retry-After``, before any token is checked, backing off as failed logins do.
  Tokens are 256-bit random values and no password is ever checked here; the throttle
  bounds guessing anyway.
- A browser may remember Basic credentials and send them with a forged cross-site form:
  a write that a browser marks as coming from another site is refused (403).
- Every 401 of an API route (``/api/``, ``/ogc``) advertises both schemes:
  ``WWW-Authenticate: Basic realm="VillageWorks"`` and ``Bearer realm="VillageWorks"``.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from layers.errors import Forbidden, Unauthorized
from layers.users import User, UserStore
from webmap.i18n import translate

REALM = "VillageWorks"
CHALLENGES = (f'Basic realm="{REALM}"', f'Bearer realm="{REALM}"')
API_PREFIXES = ("/api/", "/ogc")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BasicAuthRefused(Unauthorized):
    """401 for Basic credentials that name no usable account; the message (``qgis.<code>``
    of ``translations/qgis.*.json``) says what is wrong."""

    def user_message(self, lang: str = "zh") -> str:
        return translate(f"qgis.{self.code}", lang)


def credentials(header: str) -> tuple[str, str]:
    """``(name, password)`` of an ``Authorization: Basic ...`` header (UTF-8, as RFC 7617
    advises; Latin-1 where it is not UTF-8); 401 when it cannot be decoded.

    >>> credentials("Basic " + base64.b64encode("张三:vw_abc:d".encode()).decode())
    ('张三', 'vw_abc:d')
    """
    encoded = header[len("Basic ") :].strip()
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BasicAuthRefused("basic_malformed") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if ":" not in text:
        raise BasicAuthRefused("basic_malformed")
    name, password = text.split(":", 1)
    return name.strip(), password.strip()


def _refuse(key: str) -> BasicAuthRefused:
    # Error pages ask who is logged in: nobody, without checking the header again (which
    # would raise inside the error page and count the wrong token twice).
    g.user = None
    return BasicAuthRefused(key)


def basic_user(header: str, users: UserStore) -> User:
    """The account whose API token is the password of ``header``; 401 for a wrong or
    revoked token or for a user name that names another account."""
    try:
        name, token = credentials(header)
    except BasicAuthRefused:
        raise _refuse("basic_malformed") from None
    user = users.user_for_token(token) if token else None
    if user is None:
        raise _refuse("basic_bad_token")
    if name and name != user.name and users.get(name) is not None:
        raise _refuse("basic_other_account")
    if request.method not in _SAFE_METHODS and _cross_site():
        g.user = None
        raise Forbidden()
    return user


def _cross_site() -> bool:
    """Whether a browser says this request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return bool(origin and origin != "null" and urlsplit(origin).netloc != request.host)


def _challenge(response: Response) -> Response:
    if response.status_code == 401 and request.path.startswith(API_PREFIXES):
        response.headers.remove("WWW-Authenticate")
        for challenge in CHALLENGES:
            response.headers.add("WWW-Authenticate", challenge)
    return response


def init_app(app: Flask) -> None:
    """Advertise Basic and Bearer on every 401 of the API."""
    app.after_request(_challenge)
