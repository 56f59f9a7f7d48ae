"""Bytes on the wire of the county map in Chromium: first visit and repeat visit.

Counted from CDP ``Network.loadingFinished.encodedDataLength`` (headers and body as
received; an answer from the browser's cache is 0). Only bytes and headers are
asserted, never time. The context is not routed (Playwright's routing turns the HTTP
cache off) and the page is asked for without a basemap, so no request leaves the machine.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import is_local

FIRST_VISIT_MAX_BYTES = 300_000
REPEAT_VISIT_MAX_BYTES = 30_000
PAGE = "/?basemap=none"


class Wire:
    """Bytes and URLs CDP reports for one page's context."""

    def __init__(self, cdp: Any) -> None:
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.encodings: dict[str, str] = {}
        self.pending: set[str] = set()
        self.last_event = time.monotonic()
        cdp.on("Network.loadingFailed", self._failed)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]
        self.pending.add(event["requestId"])
        self.last_event = time.monotonic()

    def _failed(self, event: dict[str, Any]) -> None:
        self.pending.discard(event["requestId"])

    def _received(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.encodings[event["response"]["url"]] = headers.get("content-encoding", "")

    def _finished(self, event: dict[str, Any]) -> None:
        self.pending.discard(event["requestId"])
        self.last_event = time.monotonic()
        url = self.urls.get(event["requestId"], "?")
        if not url.startswith("data:"):
            self.sizes[url] = self.sizes.get(url, 0) + int(event.get("encodedDataLength") or 0)

    def settle(self, quiet_s: float = 1.0) -> None:
        """Wait until nothing is in flight and nothing new came for ``quiet_s``."""
        for _ in range(400):
            if not self.pending and time.monotonic() - self.last_event > quiet_s:
                return
            time.sleep(0.05)

    def take(self) -> dict[str, int]:
        sizes, self.sizes = self.sizes, {}
        return sizes


def _open_ready(page: Any, wire: Wire, url: str) -> None:
    page.goto(url, wait_until="load")
    for _ in range(600):
        try:
            if page.evaluate("document.documentElement.getAttribute('data-vw-ready')") == "1":
                break
        except PlaywrightError:
            pass
        time.sleep(0.05)
    else:
        raise AssertionError("the map never became ready")
    # Images a stylesheet names come after the page is ready (Playwright's networkidle
    # waits on a CDP session's events too, so it is not used).
    wire.settle()


def test_county_map_is_light_on_the_first_and_the_repeat_visit(
    browser, live_server_factory, demo_app
):
    base = live_server_factory(demo_app)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        outside: list[str] = []
        page.on("request", lambda r: None if is_local(r.url) else outside.append(r.url))
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        wire = Wire(cdp)

        _open_ready(page, wire, base + PAGE)
        first = wire.take()
        _open_ready(page, wire, base + PAGE)
        repeat = wire.take()
    finally:
        context.close()

    assert errors == [] and outside == []
    first_total, repeat_total = sum(first.values()), sum(repeat.values())
    biggest = sorted(first.items(), key=lambda kv: -kv[1])[:5]
    assert first_total <= FIRST_VISIT_MAX_BYTES, f"{first_total} bytes; biggest {biggest}"
    assert repeat_total <= REPEAT_VISIT_MAX_BYTES, f"{repeat_total} bytes: {repeat}"
    # The page and its scripts came gzipped; on the repeat visit the page is a 304 and
    # every script and style comes from the cache (nothing but headers on the wire).
    page_url = base + PAGE
    assert wire.encodings[page_url] == "gzip"
    scripts = [u for u in first if u.split("?")[0].endswith(".js")]
    assert scripts and all(wire.encodings[u] == "gzip" for u in scripts)
    assert [u for u, n in repeat.items() if n > 2000] == []
    assert not any(u.split("?")[0].endswith((".js", ".css")) and repeat[u] for u in repeat)
