"""The accounts page for administrators: list, add, change role and areas, reset a
password, disable/enable, new token, revoke, end every session of an account.

A new API token or a reset password is shown once, in the answer to the request that made
it (never through the session cookie or a redirect), and stored only as a hash. Areas are
townships of the boundaries layer (``layers.scopes``): a field or planner account with
areas writes and reviews only inside them. An admin cannot disable, revoke or demote
their own account, and the last active admin stays one (``layers.users``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from geo.messages import register
from layers.errors import BadRequest, VillageWorksError
from layers.scopes import resolve_areas, townships
from layers.users import ROLES, UserStore
from webmap.auth import require_role, user_name
from webmap.extensions import get_store, get_users
from webmap.i18n import current_lang, translate

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")
register(
    "admin_self_lockout",
    "不能停用自己的账号或吊销自己的令牌",
    "You cannot disable your own account or revoke your own tokens",
)
register(
    "admin_self_demote",
    "不能更改自己账号的角色（请让另一位管理员来改）",
    "You cannot change the role of your own account (ask another admin)",
)
#: Actions on one account that change its state and then go back to the list.
_SIMPLE = ("disable", "enable", "revoke", "sessions", "role", "areas")


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    known = townships(get_store())
    page = render_template(
        "admin_users.html",
        users=get_users().list(),
        roles=ROLES,
        townships=sorted(known.names.items(), key=lambda item: item[1]),
        township_name=known.name,
        **extra,
    )
    return page, status


def _areas(role: str) -> tuple[str, ...]:
    """The township ids the form's ``areas`` name (ids or names), for ``role``."""
    return resolve_areas(get_store(), request.form.getlist("areas"), role)


@bp.get("")
@require_role("admin")
def index() -> tuple[str, int]:
    """Every account with its role, areas and state."""
    return _page()


@bp.post("")
@require_role("admin")
def add() -> Any:
    """Create an account (name, role, areas, initial password)."""
    form = request.form
    try:
        role = form.get("role", "")
        get_users().add(
            form.get("name", "").strip(),
            role,
            form.get("password", ""),
            areas=_areas(role) if role in ROLES else (),
        )
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(current_lang()))
    return redirect(url_for("admin_users.index"))


def _simple(users: UserStore, name: str, action: str) -> None:
    """One of :data:`_SIMPLE` for the account ``name``."""
    if action in ("disable", "revoke") and name == user_name():
        raise BadRequest("admin_self_lockout")
    if action == "role" and name == user_name():
        raise BadRequest("admin_self_demote")
    if action == "disable":
        users.set_active(name, False)
        users.revoke_tokens(name)
    elif action == "enable":
        users.set_active(name, True)
    elif action == "revoke":
        users.revoke_tokens(name)
    elif action == "sessions":
        users.end_sessions(name)
    elif action == "role":
        role = request.form.get("role", "")
        areas = _areas(role) if role in ROLES else ()
        users.set_role(name, role)
        if areas:
            users.set_areas(name, areas)
    elif action == "areas":
        user = users.get(name)
        users.set_areas(name, _areas(user.role if user else ""))


@bp.post("/<name>/<action>")
@require_role("admin")
def act(name: str, action: str) -> Response | tuple[str, int]:
    """``disable``, ``enable``, ``role`` (form fields ``role`` and ``areas``), ``areas``,
    ``password`` (a new random one, shown once), ``token`` (shown once), ``revoke``
    (every token) or ``sessions`` (log the account out everywhere) for one account."""
    users = get_users()
    try:
        if action in _SIMPLE:
            _simple(users, name, action)
        elif action == "token":
            token = users.new_token(name, label=request.form.get("label", "").strip()[:80])
            return _page(new_token=token, token_user=name)
        elif action == "password":
            return _page(new_password=users.reset_password(name), password_user=name)
        else:
            raise BadRequest("bad_request", value=action[:40])
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(current_lang()))
    return redirect(url_for("admin_users.index", done=translate(f"admin.done.{action}")))
