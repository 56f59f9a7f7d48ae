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
"""

from __future__ import annotations

from geo.messages import register
from layers.errors import Forbidden, Unauthorized
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
