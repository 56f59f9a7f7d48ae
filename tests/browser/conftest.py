"""Headless Chromium harness: Debian's chromium driven by Playwright's sync API.

Every test here is marked ``browser``. Pages are opened through ``page_checked``, which
fails the test on console errors, uncaught exceptions, failed loads and any request to a
host other than this machine, and saves a screenshot to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: mark only those collected below HERE.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str | None:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        reason = "chromium not found (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: browser tests must run in CI", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server_factory() -> Iterator[Callable[[Flask], str]]:
    """Serve Flask apps on 127.0.0.1 (free port) for one test; returns the base URL."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    # data:, blob: and about: URLs never leave the page.
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in LOCAL_HOSTS


class CheckedPage:
    """A page that records everything a test of an offline page must not see."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.external_requests: list[str] = []
        self.failed_loads: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        # Record, then refuse, anything for another host: no test waits on the internet.
        page.route("**/*", self._route)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort("blockedbyclient")

    def _on_request_failed(self, request: Request) -> None:
        # A script's fetch still in flight when the test moves on to another page is
        # cancelled by the navigation (ERR_ABORTED): not a load that failed.
        aborted = "ERR_ABORTED" in (request.failure or "")
        if aborted and request.resource_type in ("fetch", "xhr"):
            return
        if is_local(request.url):
            self.failed_loads.append(f"{request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed_loads.append(f"{response.url}: HTTP {response.status}")

    def goto(self, url: str) -> Response | None:
        return self.page.goto(url, wait_until="load")

    def problems(self) -> dict[str, list[str]]:
        found = {
            "console errors": self.console_errors,
            "uncaught exceptions": self.page_errors,
            "requests to other hosts": self.external_requests,
            "failed loads": self.failed_loads,
        }
        return {kind: items for kind, items in found.items() if items}

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, f"page misbehaved: {problems}"


@pytest.fixture
def page_checked(browser: Browser, request: pytest.FixtureRequest) -> Iterator[CheckedPage]:
    """A fresh page; at teardown a screenshot is saved and the page must be clean."""
    # Playwright's wait_for_function evaluates its predicate with eval, which the app's
    # Content-Security-Policy forbids; tests/reliability/test_xss.py loads every page with
    # the policy in force (and fails on any violation).
    context = browser.new_context(viewport={"width": 1024, "height": 768}, bypass_csp=True)
    context.set_default_timeout(10_000)  # local pages only: fail fast, not after 30 s
    checked = CheckedPage(context.new_page())
    try:
        yield checked
        shots = request.config.rootpath / "test-artifacts" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            checked.page.screenshot(path=str(shots / f"{name}.png"))
        except PlaywrightError as error:  # a closed or crashed page still gets checked
            checked.page_errors.append(f"screenshot failed: {error}")
        checked.assert_clean()
    finally:
        context.close()
