"""webmap.scriptjson: the one JSON-in-<script> helper stops the known breakouts."""

import json

import numpy as np
import pytest

from webmap.scriptjson import script_json

ATTACKS = [
    "</script><script>alert(1)</script>",
    "</SCRIPT><img src=x onerror=alert(1)>",
    "<!--<script>",
    "a\u2028b\u2029c",
    "&lt;&amp;",
    "]]>",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_no_breakout_survives_and_the_value_round_trips(text):
    out = script_json({"name": text, "list": [text]})
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in out
    assert "</script" not in out.lower() and "<!--" not in out
    assert json.loads(out) == {"name": text, "list": [text]}


def test_numpy_values_become_plain_json():
    out = script_json({"n": np.int64(3), "xs": np.array([1.5, 2.0])})
    assert json.loads(out) == {"n": 3, "xs": [1.5, 2.0]}


def test_pages_use_the_one_helper():
    from webmap import dashboard_map, maps
    from webmap.views import capture, uploads_pages

    for module in (maps, dashboard_map, capture, uploads_pages):
        assert module.script_json is script_json, module.__name__


def test_the_templates_tojson_is_the_same_helper(empty_app):
    with empty_app.app_context():
        render = empty_app.jinja_env.from_string(
            '<script type="application/json">{{ v|tojson }}</script>'
        ).render
        page = render(v={"t": ATTACKS[0] + "'"})
    inner = page.removeprefix('<script type="application/json">').removesuffix("</script>")
    assert inner == script_json({"t": ATTACKS[0] + "'"})
    assert json.loads(inner) == {"t": ATTACKS[0] + "'"}
    assert "'" not in inner and "</script" not in inner.lower()
