"""Who may write which layer: one check for every write path.

Each layer declares the weakest role that may create, change or delete its features
(:attr:`layers.specs.LayerSpec.write_role`: ``field`` for work layers, ``planner`` for
reference layers and the ledger, unless its TOML says otherwise). Every path that writes
features calls :func:`require_write` with the layer: the OGC API (POST/PUT/PATCH/DELETE),
``/api/capture``, uploads (API and pages, undo included) and the ledger pages. Anonymous
requests get 401, weaker accounts 403 with a message naming the role needed.

The rest of "who may do what" goes with the change itself, so that no path can skip it:
every route passes the account as the author of its commit (``webmap.auth.user_name``, a
:class:`layers.changes.Author` with role and areas), and the change planner refuses a
scoped account's write or review decision outside its townships (403 naming the
account's areas and the feature's township, :mod:`layers.scopes`; an upload's rows
outside them are rejected row by row) and a field account's review decision (403,
:mod:`layers.review`).

On the feature page's edit form (``POST /features/<layer>/<fid>/edit``), a field account
may change only a work it submitted (created it, or sent its current state) that is not
approved: its own work awaiting review, or returned or rejected, to correct and send
again (:func:`require_feature_edit`, :func:`layers.returned.may_correct`); anything else
is refused with 403 naming the account, the layer, the feature and its review state.
Planners and admins edit any feature of a layer they may write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.messages import register
from layers.errors import Forbidden, Unauthorized
from layers.returned import may_correct
from layers.review import review_label, review_of
from layers.specs import LayerSpec
from layers.users import User
from webmap.auth import current_user
from webmap.extensions import get_store
from webmap.i18n import translate

register(
    "write_role_needed",
    "只有“{role}”或更高角色的账号可以修改图层“{layer}”",
    "Only an account with the role '{role}' or higher may change the layer '{layer}'",
)
register(
    "edit_not_submitter",
    "外业账号“{user}”只能修改自己提交、尚未验收通过的项目；图层“{layer}”的 {id}"
    "（{state}）不是，请联系规划人员",
    "The field account '{user}' may change only works it submitted that are not approved; "
    "{id} of the layer '{layer_en}' ({state_en}) is not one of them: ask a planner",
)


def may_write(user: User | None, spec: LayerSpec) -> bool:
    """Whether ``user`` may create, change or delete features of the layer ``spec``."""
    return user is not None and user.can(spec.write_role)


def require_write(layer: LayerSpec | str) -> LayerSpec:
    """The spec of ``layer`` if the account of this request may write it; 401 without an
    account, 403 naming the role needed otherwise (404 for an unknown layer)."""
    spec = layer if isinstance(layer, LayerSpec) else get_store().spec(layer)
    user = current_user()
    if user is None:
        raise Unauthorized()
    if not may_write(user, spec):
        raise Forbidden(
            "write_role_needed",
            role=translate(f"role.{spec.write_role}", "zh"),
            role_en=translate(f"role.{spec.write_role}", "en"),
            layer=spec.label_in("zh"),
            layer_en=spec.label_in("en"),
            needed=spec.write_role,
        )
    return spec


def writable(specs: list[LayerSpec]) -> list[LayerSpec]:
    """The layers of ``specs`` the account of this request may write (for forms)."""
    user = current_user()
    return [spec for spec in specs if may_write(user, spec)]


def may_edit_feature(user: User | None, spec: LayerSpec, feature: Mapping[str, Any]) -> bool:
    """Whether ``user`` may change ``feature`` of ``spec`` on its page: a planner or an
    admin any feature of a layer it may write; a field account (on a reviewed layer) only
    a work it submitted that is not approved."""
    if user is None or not may_write(user, spec):
        return False
    if user.can("planner") or not spec.reviewed:
        return True
    return may_correct(get_store(), spec.name, feature, user.name)


def require_feature_edit(spec: LayerSpec, feature: Mapping[str, Any]) -> None:
    """403 (zh/en, naming the account, the layer, the feature and its review state)
    unless this request's account may change ``feature`` (:func:`may_edit_feature`)."""
    user = current_user()
    spec = require_write(spec)
    if may_edit_feature(user, spec, feature):
        return
    state = review_of(feature.get("properties"))
    raise Forbidden(
        "edit_not_submitter",
        user=user.name if user else "",
        layer=spec.label_in("zh"),
        layer_en=spec.label_in("en"),
        id=str(feature.get("id", "")),
        state=review_label(state, "zh"),
        state_en=review_label(state, "en"),
    )
