"""After logout the phone no longer keeps the capture page with the last account's name
(issue #16); the captures waiting on the phone stay (IndexedDB is not touched)."""

from pathlib import Path

import pytest

from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-9"
CACHED = "caches.open('vw-capture-v1').then(c => c.match('/capture')).then(r => r ? r.text() : '')"


@pytest.fixture
def app(tmp_path):
    import shutil

    data = tmp_path / "data"
    for sub in ("layers", "specs"):
        shutil.copytree(ROOT / "data" / "demo" / sub, data / sub)
    app = create_app(
        {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "browser", "DEFAULT_BASEMAP": "none"}
    )
    UserStore(data).add("fieldworker7", "field", PASSWORD)
    return app


def settles(page, wanted, tries=100):
    """Whether the cached copy of /capture comes to satisfy ``wanted`` (the worker and the
    page's script write the cache asynchronously), looking every 100 ms."""
    for _ in range(tries):
        if wanted(page.evaluate(CACHED)):
            return True
        page.wait_for_timeout(100)
    return False


def test_logout_forgets_the_cached_capture_page(app, live_server_factory, page_checked):
    base = live_server_factory(app)
    page = page_checked.page
    page_checked.goto(f"{base}/login?next=/capture")
    page.fill("input[name=name]", "fieldworker7")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form-narrow button[type=submit]")
    page.wait_for_url(f"{base}/capture")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()  # served through the worker, which keeps the fresh page
    assert settles(page, lambda text: "fieldworker7" in text)
    page.click("header form[action$='/logout'] button")
    page.wait_for_load_state("load")
    assert settles(page, lambda text: text == "")
    assert "fieldworker7" not in page.content()
    assert page_checked.problems() == {}
