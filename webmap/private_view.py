"""The layer spec as the account of this request may read it.

Planners and admins read every field; everyone else (visitors, viewers, field staff)
reads a spec without the layer's private fields (``private = true``, see
:mod:`layers.private_fields`), and every document built from that spec (OGC items and
schemas, exports, feature pages and their history) leaves those values out.
"""

from __future__ import annotations

from layers.private_fields import for_reader, reads_private
from layers.specs import LayerSpec
from webmap.auth import current_user


def reader_spec(spec: LayerSpec) -> LayerSpec:
    """``spec`` as this request's account reads it."""
    user = current_user()
    return for_reader(spec, user.role if user is not None else None)


def reads_private_now() -> bool:
    """Whether this request's account reads private fields (a planner or an admin)."""
    user = current_user()
    return reads_private(user.role if user is not None else None)


__all__ = ["reader_spec", "reads_private_now"]
