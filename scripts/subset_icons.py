#!/usr/bin/env python3
"""Write the Font Awesome subset the map pages load instead of all of Font Awesome.

    .venv/bin/python scripts/subset_icons.py

Font Awesome's ``all.min.css`` (100 KB) and its solid font (150 KB) are loaded by
folium for icons; our pages draw markers themselves and use only the icons of the
locate control (``fa fa-map-marker``, and ``fa fa-spinner fa-spin`` while it waits).
This writes ``webmap/static/vendor/@fortawesome/fontawesome-free@6.2.0/css/vw-icons.css``:
those rules cut from ``all.min.css`` and a WOFF font of just those glyphs (fontTools'
subsetter), inline as a ``data:`` URL. ``webmap.assets`` serves it for folium's
``awesome_markers_font_css``. A page needing another icon: add it to :data:`ICONS`.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
FA = ROOT / "webmap" / "static" / "vendor" / "@fortawesome" / "fontawesome-free@6.2.0"
OUT = FA / "css" / "vw-icons.css"
#: Icon classes our pages use (the locate control's options in leaflet.locatecontrol).
ICONS = ("fa-map-marker", "fa-spinner")
#: Rules of all.min.css kept whole: the base classes and the spin animation.
KEPT_SELECTOR_STARTS = (".fa{", ".fa,", ".fa-spin{", ".fa-spin,")


def _rules(css: str) -> list[str]:
    """Top-level rules of a minified stylesheet (one ``@media`` or ``@keyframes`` each)."""
    rules, depth, start = [], 0, 0
    for i, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rules.append(css[start : i + 1])
                start = i + 1
    return rules


def icon_rules(css: str) -> tuple[list[str], set[int]]:
    """The rules the subset keeps and the code points of its icons."""
    kept, points = [], set()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    for rule in _rules(css):
        body = rule.strip()
        if body.startswith(KEPT_SELECTOR_STARTS) or body.startswith("@keyframes fa-spin{"):
            kept.append(body)
        elif body.startswith("@media (prefers-reduced-motion") and ".fa-spin" in body:
            kept.append(body)
        else:
            for icon in ICONS:
                if re.search(rf"\.{icon}:before[,{{]", body):
                    code = re.search(r'content:"\\([0-9a-f]+)"', body)
                    if code:
                        points.add(int(code.group(1), 16))
                        kept.append(f'.{icon}:before{{content:"\\{code.group(1)}"}}')
    return kept, points


def subset_font(points: set[int]) -> bytes:
    """The solid font cut down to ``points``, as WOFF (zlib: no brotli needed)."""
    font = TTFont(FA / "webfonts" / "fa-solid-900.ttf")
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = False
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=sorted(points))
    cutter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def main() -> int:
    css = (FA / "css" / "all.min.css").read_text("utf-8")
    rules, points = icon_rules(css)
    if len(points) != len(ICONS):
        raise SystemExit(f"found {len(points)} of the icons {ICONS} in all.min.css")
    woff = base64.b64encode(subset_font(points)).decode()
    face = (
        '@font-face{font-family:"Font Awesome 6 Free";font-style:normal;font-weight:900;'
        f'font-display:block;src:url(data:font/woff;base64,{woff}) format("woff")}}'
    )
    header = (
        "/*! Font Awesome Free 6.2.0 by @fontawesome - https://fontawesome.com License -\n"
        " * https://fontawesome.com/license/free (Icons: CC BY 4.0, Fonts: SIL OFL 1.1, Code:\n"
        " * MIT). Cut down to " + ", ".join(ICONS) + " by scripts/subset_icons.py. */\n"
    )
    OUT.write_text(header + face + "\n" + "\n".join(rules) + "\n", "utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
