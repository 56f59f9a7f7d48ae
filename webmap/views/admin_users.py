"""The accounts page for administrators: list, add, disable/enable, new token, revoke,
end every session of an account.

A new API token is shown once, in the answer to the request that made it (never through
the session cookie or a redirect), and stored only as a hash.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from geo.messages import register
from layers.errors import BadRequest, VillageWorksError
from layers.users import ROLES
from webmap.auth import require_role, user_name
from webmap.extensions import get_users
from webmap.i18n import current_lang, translate

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")
register(
    "admin_self_lockout",
    "不能停用自己的账号或吊销自己的令牌",
    "You cannot disable your own account or revoke your own tokens",
)


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    page = render_template("admin_users.html", users=get_users().list(), roles=ROLES, **extra)
    return page, status


@bp.get("")
@require_role("admin")
def index() -> tuple[str, int]:
    """Every account with its role and state."""
    return _page()


@bp.post("")
@require_role("admin")
def add() -> Any:
    """Create an account (name, role, initial password)."""
    form = request.form
    try:
        get_users().add(
            form.get("name", "").strip(), form.get("role", ""), form.get("password", "")
        )
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(current_lang()))
    return redirect(url_for("admin_users.index"))


@bp.post("/<name>/<action>")
@require_role("admin")
def act(name: str, action: str) -> Response | tuple[str, int]:
    """``disable``, ``enable``, ``token`` (shown once), ``revoke`` (every token) or
    ``sessions`` (log the account out everywhere) for one account."""
    users = get_users()
    try:
        if action in ("disable", "revoke") and name == user_name():
            raise BadRequest("admin_self_lockout")
        if action == "disable":
            users.set_active(name, False)
            users.revoke_tokens(name)
        elif action == "enable":
            users.set_active(name, True)
        elif action == "revoke":
            users.revoke_tokens(name)
        elif action == "sessions":
            users.end_sessions(name)
        elif action == "token":
            token = users.new_token(name, label=request.form.get("label", "").strip()[:80])
            return _page(new_token=token, token_user=name)
        else:
            raise BadRequest("bad_request", value=action[:40])
    except VillageWorksError as exc:
        return _page(exc.status, error=exc.user_message(current_lang()))
    return redirect(url_for("admin_users.index", done=translate(f"admin.done.{action}")))
