"""Who is asking, and may they? Sessions, API tokens, roles, CSRF and login throttling.

- Browsers log in at ``/login``; the session cookie is HttpOnly and SameSite=Lax.
- Scripts and phone apps send ``Authorization: Bearer <token>`` (``villageworks users
  token NAME``); such requests carry no cookie, so they need no CSRF token.
- Every state-changing request authenticated by the session must carry the session's
  CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``), else 400.
- ``require_role("field")`` guards a view: 401 without an account, 403 with a weaker one.
- A login starts a server-side session (``layers.users``): the cookie names it, and it
  ends with logout, a password change, disabling or enabling the account.
- Failed logins back off exponentially per account and per address, counted for every
  worker (and, with a database, every server) in one site file
  (``layers.login_throttle``): 429 with ``Retry-After``. Wrong API tokens (Bearer, or
  Basic with the token as the password) back off the same way per address, under their
  own count (:func:`_token_user`).
- After logging in, ``?next=`` is followed only to a path of this site.
"""

from __future__ import annotations

import functools
import hmac
import math
import secrets
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from geo.messages import render
from layers.errors import BadRequest, Forbidden, Unauthorized
from layers.login_throttle import LoginThrottle
from layers.users import User, UserStore
from webmap import basic_auth, extensions
from webmap.extensions import get_users
from webmap.i18n import current_lang, translate

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
THROTTLE = "villageworks.throttle"


def current_user() -> User | None:
    """The account making this request (session or bearer token), or None."""
    if "user" in g:
        return g.user
    user: User | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith(("Bearer ", "Basic ")):
        g.via_token = True
        user = _token_user(header)
    elif session.get("user"):
        # The cookie names a server-side session; one that has ended (logout, password
        # change, account disabled or re-enabled) is no session.
        user = get_users().session_user(str(session["user"]), str(session.get("sid") or ""))
        if user is None:  # forget it, but keep the CSRF token of an open login form
            session.pop("user", None)
            session.pop("sid", None)
    g.user = user
    return user


def _token_user(header: str) -> User | None:
    """The account of a Bearer token (None for a wrong one) or of Basic credentials with
    the token as the password (401 when refused: :mod:`webmap.basic_auth`). Wrong tokens
    are counted per client address (:meth:`LoginThrottle.token_failed`); an address over
    its share gets 429 with ``Retry-After`` before its token is even looked at."""
    throttle: LoginThrottle = current_app.extensions[THROTTLE]
    address = request.remote_addr or ""
    wait = throttle.token_wait(address)
    if wait > 0:
        g.user = None  # the error page asks who is asking: nobody, and nothing is counted
        seconds = max(1, math.ceil(wait))
        message = render("token_too_many", current_lang(), seconds=seconds)
        raise TooManyRequests(description=message, retry_after=seconds)
    if header.startswith("Bearer "):
        token = header[7:].strip()
        user = get_users().user_for_token(token)
        if user is None:
            _token_refused(throttle, address, header, token)
        return user
    try:
        return basic_auth.basic_user(header, get_users())
    except basic_auth.BasicAuthRefused as refused:
        if refused.code != "basic_malformed":  # a token was tried, and was refused
            _token_refused(throttle, address, header, basic_auth.credentials(header)[1])
        raise


def _token_refused(throttle: LoginThrottle, address: str, header: str, token: str) -> None:
    """Count a refused token unless it is one this site issued (revoked, of a disabled
    account, or another account's): whoever sends it guesses nothing, and a client left
    with an old token must not hold up its address."""
    if not get_users().issued_token(token):
        throttle.token_failed(address, header)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Refuse a state-changing, cookie-authenticated request without the session's token."""
    if request.method not in UNSAFE_METHODS or g.get("via_token"):
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise BadRequest("csrf_failed")


def require_role(role: str) -> Callable[[F], F]:
    """Decorator: the view needs an account with ``role`` or stronger (401/403 otherwise)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                raise Unauthorized()
            if not user.can(role):
                raise Forbidden()
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def user_name() -> str:
    """Name of the account making this request (for audit fields): an
    :class:`layers.changes.Author`, which carries the account's role and areas to the
    change planner of every write (review state, area scope)."""
    user = current_user()
    return user.author() if user else "anonymous"


def _is_local_path(target: str) -> bool:
    """Whether ``target`` (already percent-decoded) is a path on this site and nothing
    a browser could read as another host: no scheme, no host, no ``//`` or backslash,
    no control character (browsers drop tab, CR and LF, so ``/%09/evil`` is ``//evil``)."""
    if not target.startswith("/") or len(target) > 2000:
        return False
    if "\\" in target or any(unicodedata.category(ch) == "Cc" for ch in target):
        return False
    if target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: ``target`` if it is a local path, else home."""
    if target and _is_local_path(target):
        return target
    return url_for("home.index")


def _attempt(name: str, password: str) -> tuple[str | None, int, dict[str, str]]:
    """Check one login (throttled); on success start its session. Returns the error
    (None on success), the status and extra headers."""
    throttle: LoginThrottle = current_app.extensions[THROTTLE]
    address = request.remote_addr or ""
    wait = throttle.admit(name, address)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return translate("auth.too_many", seconds=seconds), 429, {"Retry-After": str(seconds)}
    user = get_users().authenticate(name, password)
    if user is None:
        return translate("auth.bad_login"), 401, {}
    throttle.succeeded(name, address)
    session.clear()
    session["user"] = user.name
    session["sid"] = get_users().start_session(user.name)
    csrf_token()
    return None, 302, {}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; on success back to where the user was going."""
    if request.method != "POST":
        return render_template("login.html", error=None)
    name = request.form.get("name", "").strip()
    error, status, headers = _attempt(name, request.form.get("password", ""))
    if error is None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status, headers


@bp.post("/logout")
def logout() -> Response:
    """End this session on the server too (a copy of the cookie stops working);
    with the form field ``everywhere`` every session of the account."""
    user = current_user()
    if user is not None and not g.get("via_token"):
        if request.form.get("everywhere"):
            get_users().end_sessions(user.name)
        else:
            get_users().end_session(user.name, str(session.get("sid") or ""))
    session.clear()
    return redirect(url_for("home.index"))


def init_app(app: Flask) -> None:
    """Account store, throttle, CSRF check before every request, template helpers."""
    files = app.extensions[extensions.STORE].files  # the database's, with one
    app.extensions[extensions.USERS] = UserStore(files)
    app.extensions[THROTTLE] = LoginThrottle(files)
    basic_auth.init_app(app)

    @app.before_request
    def _guard() -> None:
        if request.routing_exception is not None:
            return  # no such route, or not with this method: its 404 or 405 comes first
        user = current_user()
        # Anonymous writes are refused as such (401) before the CSRF check; the login form
        # is the one anonymous post, and it is CSRF-checked like every other form. A view
        # marked ``public_write`` (a resident's report) acts as nobody: neither applies.
        anyone = getattr(app.view_functions.get(request.endpoint or ""), "public_write", False)
        if (
            request.method in UNSAFE_METHODS
            and user is None
            and not anyone
            and request.endpoint not in ("auth.login", "auth.logout")
        ):
            raise Unauthorized()
        if not anyone:
            check_csrf()
        if not app.config.get("ANONYMOUS_READ", True) and current_user() is None:
            public = {"auth.login", "static"}
            if request.endpoint not in public:
                raise Unauthorized()

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"current_user": current_user(), "csrf_token": csrf_token}

    app.register_blueprint(bp)
