#!/usr/bin/env python3
"""Bytes on the wire of the county map page, in Chromium on a throttled network.

    .venv/bin/python scripts/bench_wire.py                 # serves a copy of the demo county
    .venv/bin/python scripts/bench_wire.py --url http://127.0.0.1:8000

The network is throttled with CDP ``Network.emulateNetworkConditions`` (1.6 Mbit/s =
200,000 bytes/s down, 150 ms latency), like a phone on rural 4G. The page is opened
twice in one browser context: the first visit starts with an empty cache, the repeat
visit keeps it. Bytes are the sum of CDP ``Network.loadingFinished.encodedDataLength``
(headers and body as received); "requests" counts those that reached the network (an
answer from the browser's cache has 0 bytes, a ``data:`` URL is not counted); "interactive"
is the time from navigation until the map script marks the page ready
(``<html data-vw-ready="1">``). The server answers the page once before the browser
opens it, so its one-off start (building the county snapshot) is not counted.

``measure_wire(base_url)`` returns the figures as a dict (``scripts/bench.py`` calls it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

#: Throttling of the measurement: 1.6 Mbit/s down and up, 150 ms round trips.
DOWNLOAD_BYTES_PER_S = 200_000
UPLOAD_BYTES_PER_S = 200_000
LATENCY_MS = 150
#: The page measured: the county map (the start page).
MAP_PATH = "/"
READY_TIMEOUT_S = 60.0
#: The basemap's tile servers are on the internet and not ours to count: no name but
#: this machine's resolves. (Playwright's request routing would turn the cache off.)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise SystemExit("chromium not found (apt-get install chromium)")
    return path


class _WireLog:
    """Everything CDP says was received for one visit."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0
        self.by_url: dict[str, int] = {}
        self._urls: dict[str, str] = {}
        self.pending: set[str] = set()
        self.last_event = time.monotonic()

    def on_request(self, event: dict[str, Any]) -> None:
        self._urls[event["requestId"]] = event["request"]["url"]
        self.pending.add(event["requestId"])
        self.last_event = time.monotonic()

    def on_failed(self, event: dict[str, Any]) -> None:
        self.pending.discard(event["requestId"])
        self.last_event = time.monotonic()

    def settle(self, quiet_s: float = 1.0, timeout_s: float = 30.0) -> None:
        """Wait until nothing is in flight and nothing happened for ``quiet_s`` (what
        Playwright's networkidle means, which a CDP session's listeners can stall)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if not self.pending and time.monotonic() - self.last_event > quiet_s:
                return
            time.sleep(0.05)

    def on_finished(self, event: dict[str, Any]) -> None:
        self.pending.discard(event["requestId"])
        self.last_event = time.monotonic()
        size = int(event.get("encodedDataLength") or 0)
        url = self._urls.get(event["requestId"], "?")
        if not size or url.startswith("data:"):
            return  # from the browser's cache, or never on the network
        self.requests += 1
        self.bytes += size
        self.by_url[url] = self.by_url.get(url, 0) + size


def _visit(page: Any, cdp: Any, url: str) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError

    log = _WireLog()
    cdp.on("Network.requestWillBeSent", log.on_request)
    cdp.on("Network.loadingFinished", log.on_finished)
    cdp.on("Network.loadingFailed", log.on_failed)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    interactive = None
    while time.perf_counter() - start < READY_TIMEOUT_S:
        try:
            ready = page.evaluate("document.documentElement.getAttribute('data-vw-ready')")
        except PlaywrightError:  # the document is still being replaced
            ready = None
        if ready == "1":
            interactive = time.perf_counter() - start
            break
        time.sleep(0.02)
    page.wait_for_load_state("load")
    log.settle()
    # Web fonts are asked for only when text needs them: wait for those too.
    for _ in range(200):
        if page.evaluate("document.fonts.status") == "loaded":
            break
        time.sleep(0.05)
    log.settle()
    cdp.remove_listener("Network.requestWillBeSent", log.on_request)
    cdp.remove_listener("Network.loadingFinished", log.on_finished)
    cdp.remove_listener("Network.loadingFailed", log.on_failed)
    return {
        "bytes": log.bytes,
        "requests": log.requests,
        "interactive_s": interactive,
        "by_url": dict(sorted(log.by_url.items(), key=lambda kv: -kv[1])),
    }


def measure_wire(base_url: str, path: str = MAP_PATH, throttle: bool = True) -> dict[str, Any]:
    """Open ``base_url + path`` twice in one Chromium context (cache kept) and return
    ``{"first": {...}, "repeat": {...}}``, each with ``bytes`` (on the wire),
    ``requests``, ``interactive_s`` (None if the page never became ready) and ``by_url``.
    """
    from playwright.sync_api import sync_playwright

    url = base_url.rstrip("/") + path
    # The visitor's first visit, not the server's: its county snapshot is built already.
    with urllib.request.urlopen(url, timeout=120) as warm:
        warm.read()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            if throttle:
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": LATENCY_MS,
                        "downloadThroughput": DOWNLOAD_BYTES_PER_S,
                        "uploadThroughput": UPLOAD_BYTES_PER_S,
                    },
                )
            first = _visit(page, cdp, url)
            repeat = _visit(page, cdp, url)
            context.close()
        finally:
            browser.close()
    return {"url": url, "first": first, "repeat": repeat}


@contextmanager
def demo_server() -> Iterator[str]:
    """Serve a fresh copy of the demo county on a free port; yields its base URL."""
    from werkzeug.serving import make_server

    from webmap.app import create_app

    with tempfile.TemporaryDirectory(prefix="vw-wire-") as tmp:
        data = Path(tmp) / "data"
        for sub in ("layers", "specs"):
            source = ROOT / "data" / "demo" / sub
            if source.is_dir():
                shutil.copytree(source, data / sub)
        app = create_app({"DATA_DIR": str(data), "SECRET_KEY": "bench-wire"})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def table(result: dict[str, Any]) -> str:
    """The figures as a small text table."""
    lines = [
        f"{result['url']}",
        f"{'visit':<8} {'KB on wire':>11} {'requests':>9} {'interactive':>12}",
    ]
    for visit in ("first", "repeat"):
        row = result[visit]
        ready = row["interactive_s"]
        ready_text = f"{ready:.2f} s" if ready is not None else "never"
        lines.append(
            f"{visit:<8} {row['bytes'] / 1000:>11.1f} {row['requests']:>9} {ready_text:>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running server (default: serve the demo)")
    parser.add_argument("--path", default=MAP_PATH, help="page to measure (default: /)")
    parser.add_argument("--no-throttle", action="store_true", help="measure on the bare network")
    parser.add_argument("--detail", action="store_true", help="bytes of every request")
    args = parser.parse_args(argv)
    if args.url:
        result = measure_wire(args.url, args.path, throttle=not args.no_throttle)
    else:
        with demo_server() as base:
            result = measure_wire(base, args.path, throttle=not args.no_throttle)
    print(table(result))
    if args.detail:
        for visit in ("first", "repeat"):
            print(f"\n{visit}:")
            for url, size in result[visit]["by_url"].items():
                print(f"{size:>9}  {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
