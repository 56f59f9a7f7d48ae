"""JSON safe inside an HTML ``<script>`` element: the one helper every page uses.

A value a page hands to its scripts (map layers, the dashboard's figures, the upload
preview, the capture form's settings) is written into the HTML as JSON. Any user text in
it could otherwise end the element (``</script>``), open an HTML comment (``<!--``, which
changes how the parser finds the end of a script) or, as raw U+2028/U+2029, end a string
literal in older JavaScript engines. :func:`script_json` escapes ``<``, ``>``, ``&`` and
``'`` as ``\\u003c``/``\\u003e``/``\\u0026``/``\\u0027`` and the two separators as
``\\u2028``/``\\u2029``: the result is still exactly the same JSON value, and it never
contains those characters raw.

The result is meant for a ``<script type="application/json">`` block, a plain JavaScript
expression or a single-quoted HTML attribute, never for a template literal (backticks,
``${...}``). :func:`init_app` makes it the ``tojson`` filter of the app's templates too,
so Folium's elements and the Jinja pages write JSON into scripts the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson
from markupsafe import Markup

if TYPE_CHECKING:
    from flask import Flask

_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("'", "\\u0027"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


def script_json(value: Any) -> str:
    r"""``value`` as JSON text safe inside ``<script>``.

    Numpy numbers and arrays are serialised as plain numbers and lists.

    >>> print(script_json({"name": "</script><script>alert(1)</script>"}))
    {"name":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"}
    >>> print(script_json(["<!--", "a\u2028b", "&"]))
    ["\u003c!--","a\u2028b","\u0026"]
    >>> script_json([])
    '[]'
    >>> print(script_json({"a": "{{7*7}} {%x%} {#c#}", "b": {"c": {}}}))
    {"a":"\u007b{7*7}} \u007b%x%} \u007b#c#}","b":{"c":{}}}
    """
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    # branca renders each folium element's output again as a Jinja template: user text
    # holding "{{", "{%" or "{#" would run there (server-side). Compact JSON never has a
    # "{" before those characters outside a string, so only text in strings changes.
    return _JINJA_OPENER.sub(r"\\u007b", text)


def init_app(app: Flask) -> None:
    """Make the templates' ``tojson`` filter :func:`script_json`, as markup: in a
    ``<script>`` or a single-quoted attribute nothing in it needs escaping again."""

    def tojson(value: Any) -> Markup:
        # Markup is safe here: script_json leaves no <, >, & or ' in its text.
        return Markup(script_json(value))  # noqa: S704

    app.jinja_env.filters["tojson"] = tojson
