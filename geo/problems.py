"""Problems found in user input, as data: where (row, field, value) and what (a code).

Texts live in :mod:`geo.messages`, keyed by the code, in Simplified Chinese and English,
so every layer of the app can show the same problem in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row (or the whole file when ``row`` is None).

    ``row`` counts as the user sees it in their file: 1 is the first data row (or feature,
    waypoint, placemark). ``severity`` is ``"error"`` (the row is rejected) or ``"warning"``
    (the row is accepted, the user is told).
    """

    code: str
    row: int | None = None
    field: str | None = None
    value: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)
    severity: str = "error"

    def message(self, lang: str = "zh") -> str:
        """The problem in words, in ``lang`` (``"zh"`` or ``"en"``)."""
        from geo.messages import render

        params = {"row": self.row, **self.params}
        return render(self.code, lang, value=self.value, field=self.field, **params)

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """A JSON-ready dict, with the message in ``lang``."""
        return {
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "code": self.code,
            "severity": self.severity,
            "message": self.message(lang),
        }


class InputError(ValueError):
    """Input that cannot be used at all; carries the problems that say why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(p.message("en") for p in problems))


def short_value(value: object, limit: int = 80) -> str:
    """``value`` as a short string, safe to put in a problem report."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
