"""JSON safe inside an HTML ``<script>`` element: the one helper every page uses.

A value a page hands to its scripts (map layers, the dashboard's figures, the upload
preview, the capture form's settings) is written into the HTML as JSON. Any user text in
it could otherwise end the element (``</script>``), open an HTML comment (``<!--``, which
changes how the parser finds the end of a script) or, as raw U+2028/U+2029, end a string
literal in older JavaScript engines. :func:`script_json` escapes ``<``, ``>`` and ``&``
as ``\\u003c``/``\\u003e``/``\\u0026`` and the two separators as ``\\u2028``/``\\u2029``:
the result is still exactly the same JSON value, and it never contains those characters
raw.

The result is meant for a ``<script type="application/json">`` block or a plain
JavaScript expression, never for a template literal (backticks, ``${...}``) or an HTML
attribute.
"""

from __future__ import annotations

from typing import Any

import orjson

_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def script_json(value: Any) -> str:
    r"""``value`` as JSON text safe inside ``<script>``.

    Numpy numbers and arrays are serialised as plain numbers and lists.

    >>> print(script_json({"name": "</script><script>alert(1)</script>"}))
    {"name":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"}
    >>> print(script_json(["<!--", "a\u2028b", "&"]))
    ["\u003c!--","a\u2028b","\u0026"]
    >>> script_json([])
    '[]'
    """
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text
