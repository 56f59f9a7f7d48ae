"""Message catalogue for :class:`geo.problems.Problem` codes, zh (default) and en.

Add a code to the ``msg_*`` module of its family when you add a check;
``tests/geo/test_messages.py`` fails on a code used in the source but missing here.
Placeholders use ``str.format`` names.
"""

from __future__ import annotations

from typing import Any

from geo import msg_crs, msg_gaps, msg_readers, msg_validate

MESSAGES: dict[str, dict[str, str]] = {
    "unknown": {"zh": "未知问题：{value}", "en": "Unknown problem: {value}"},
}
for _module in (msg_crs, msg_readers, msg_validate, msg_gaps):
    MESSAGES.update(_module.MESSAGES)


def register(code: str, zh: str, en: str) -> None:
    """Add the texts of one problem code; a code means one thing everywhere.

    Registering the same code again with other texts raises ``ValueError``, so two
    modules cannot silently give one code two meanings.
    """
    texts = {"zh": zh, "en": en}
    if code in MESSAGES and MESSAGES[code] != texts:
        raise ValueError(f"problem code {code!r} is already registered with other texts")
    MESSAGES[code] = texts


def render(code: str, lang: str = "zh", **params: Any) -> str:
    """The text of ``code`` in ``lang`` with ``params`` filled in.

    Unknown codes and missing parameters never raise: a message is always produced.
    """
    texts = MESSAGES.get(code) or MESSAGES["unknown"]
    template = texts.get(lang) or texts["zh"]
    safe = {k: ("" if v is None else v) for k, v in params.items()}
    suffix = f"_{lang}"
    for key in [k for k in safe if k.endswith(suffix) and safe[k]]:
        safe[key[: -len(suffix)]] = safe[key]
    safe.setdefault("value", code)
    try:
        return template.format(**safe)
    except (KeyError, IndexError, ValueError):
        return template
