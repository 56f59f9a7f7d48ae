"""Every gap kind has one count on the demo county: the map legend, the dashboard figure,
the dashboard's export and ``villageworks gaps KIND`` agree, through HTTP and the CLI.

The map counts as of today; the dashboard, its export and the CLI are given the same day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from layers.analyses import KINDS

ROOT = Path(__file__).resolve().parents[2]


class _GapCounts(HTMLParser):
    """``data-count`` of every element with ``data-gap-kind``, by kind (each kind once)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, list[int]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        kind = found.get("data-gap-kind")
        if kind is not None:
            self.counts.setdefault(kind, []).append(int(found["data-count"] or "-1"))


def gap_counts(html: str) -> dict[str, int]:
    parser = _GapCounts()
    parser.feed(html)
    assert all(len(v) == 1 for v in parser.counts.values()), parser.counts
    return {kind: values[0] for kind, values in parser.counts.items()}


def get_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]
    return response.get_data(as_text=True)


def cli_count(data_dir: str, kind: str, day: dt.date, out: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "webmap.cli", "gaps", kind, "--data", data_dir,
         "--as-of", day.isoformat(), "-o", str(out)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return len(json.loads(out.read_text(encoding="utf-8"))["features"])


def every_count(demo_app, tmp_path: Path, day: dt.date) -> dict[str, dict[str, int]]:
    client = demo_app.test_client()
    legend = gap_counts(get_html(client, "/"))
    board = gap_counts(get_html(client, f"/dashboard?as_of={day.isoformat()}"))
    out: dict[str, dict[str, int]] = {}
    for kind in KINDS:
        url = f"/dashboard/gaps/{kind}.geojson?as_of={day.isoformat()}"
        export = len(json.loads(client.get(url).data)["features"])
        cli = cli_count(demo_app.config["DATA_DIR"], kind, day, tmp_path / f"{kind}.geojson")
        out[kind] = {
            "map": legend.get(kind, -1),
            "dashboard": board.get(kind, -1),
            "export": export,
            "cli": cli,
        }
    return out


def test_every_gap_kind_has_one_count_on_the_map_dashboard_export_and_cli(demo_app, tmp_path):
    for _ in range(2):  # the map counts as of today: try again if midnight passed meanwhile
        day = dt.date.today()
        counts = every_count(demo_app, tmp_path, day)
        if dt.date.today() == day:
            break
    for kind, by_place in counts.items():
        assert len(set(by_place.values())) == 1, (kind, by_place)
    for kind in ("lighting", "irrigation", "visits"):
        assert counts[kind]["map"] > 0, kind


def test_the_legend_and_dashboard_say_what_each_kind_covers(demo_app):
    client = demo_app.test_client()
    html = get_html(client, "/?lang=en")
    assert "Irrigation: greenhouses, villages and farmland &gt;500 m from a working well" in html
    assert "Villages to visit: not visited in 90 days, or problems open" in html
    board = get_html(client, "/dashboard?as_of=2026-10-31&max_days=30&lang=en")
    assert "Villages to visit: not visited in 30 days, or problems open" in board
    zh = get_html(client, "/dashboard?as_of=2026-10-31&lang=zh")
    assert "灌溉缺口：距在用机井超500米的大棚、村和农田，未配管道的机井" in zh


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_one_legend_entry_with_its_overlays_inside(demo_app, kind):
    html = get_html(demo_app.test_client(), "/")
    start = html.index(f'data-gap-kind="{kind}"')
    entry = html[start : html.index("</ul>", start)]
    assert "data-vw-layer=" in entry  # its overlays switch on and off one by one
