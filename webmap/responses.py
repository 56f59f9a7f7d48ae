"""JSON responses of the app's own APIs (uploads, capture)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response made with orjson (NaN-safe)."""
    return Response(orjson.dumps(body), status=status, mimetype="application/json")
