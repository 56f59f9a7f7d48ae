"""Script injection: payloads in every text field of every layer, in the names of a village,
a user (as recorded by a commit), an uploaded file and a ledger item, then every page in
headless Chromium with the app's Content-Security-Policy in force.

Every payload sets ``window.__xss`` if it ever runs. After each page (and after its map
popups and tooltips are built the way Leaflet builds them, and some markers are clicked)
the flag must be unset, no dialog may have opened, no policy violation may have been
reported (an injected script or handler, or an inline script of ours without the nonce),
no element may carry an injected handler or ``javascript:`` link, and no template may have
evaluated ``{{7*7}}``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from flask import Blueprint
from werkzeug.serving import make_server

from layers.errors import BadRequest, ValidationFailed
from layers.users import UserStore
from webmap.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.backend_independent]

PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    '"><img src=x onerror=window.__xss=2>',
    "'><svg onload=window.__xss=3>",
    "</script><script>window.__xss=4</script>",
    "${window.__xss=5}",
    "`;window.__xss=6;`",
    "javascript:window.__xss=7",
    '<a href="javascript:window.__xss=8">x</a>',
    "{{7*7}}vw<iframe srcdoc='<script>parent.__xss=9</script>'>",
    "\u2028\u2029</script><img src=x onerror=window.__xss=10>",
]
USER_PAYLOAD = "<img src=x onerror=window.__xss=11>"
FILE_PAYLOAD = "<img src=x onerror=window.__xss=12>`${window.__xss=13}`.geojson"
SOURCE_PAYLOAD = "javascript:window.__xss=14"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
#: Gathers policy violations, and builds every popup and tooltip of every Leaflet map the
#: way Leaflet does when one opens (a string becomes innerHTML, a function is called).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""
BUILD_POPUPS = """() => {
  const maps = [];
  if (window.vw && vw.maps) vw.maps.forEach((s) => maps.push(s.map));
  if (window.vwDashMap) maps.push(window.vwDashMap);
  const box = document.createElement("div");
  box.id = "xss-popups";
  document.body.appendChild(box);
  let built = 0;
  const seen = new Set();
  function content(bound, leaf) {
    if (!bound) return;
    let c = bound._content;
    if (typeof c === "function") c = c(leaf);
    const holder = document.createElement("div");
    if (typeof c === "string") holder.innerHTML = c; else if (c) holder.appendChild(c);
    box.appendChild(holder);
    built += 1;
  }
  function visit(layer) {
    if (!layer || seen.has(layer)) return;
    seen.add(layer);
    if (layer.getLayers) layer.getLayers().forEach(visit);
    if (layer.getPopup) content(layer.getPopup(), layer);
    if (layer.getTooltip) content(layer.getTooltip(), layer);
  }
  maps.forEach((m) => m.eachLayer(visit));
  return built;
}"""
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value;
      if (name.startsWith("on") && value.includes("__xss")) found.push(el.tagName + " " + name);
      const url = name === "href" || name === "src" || name === "action" || name === "formaction";
      if ((url && /^\\s*(javascript|vbscript|data:text\\/html)/i.test(value))
          || (name === "srcdoc" && value.includes("__xss"))) {
        found.push(el.tagName + " " + name + "=" + value.slice(0, 60));
      }
    }
  }
  const nonce = document.querySelector("script[nonce]");
  for (const s of document.querySelectorAll("script:not([src])")) {
    const type = (s.getAttribute("type") || "").toLowerCase();
    if (type.includes("json")) continue;
    if (!s.nonce && s.textContent.trim()) found.push("inline script without nonce: "
      + s.textContent.trim().slice(0, 60));
  }
  if (document.querySelector("img[src=x], iframe[srcdoc]")) found.push("injected element");
  return found;
}"""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright's sync API (in the calling thread)."""
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def in_own_thread(body: Any) -> Any:
    """Run ``body`` in a fresh thread: Playwright's sync API refuses a thread where another
    test's Playwright (tests/browser keeps one for the session) runs an event loop."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = body()
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="xss-browser")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("chromium not found: browser tests must run in CI", pytrace=False)
        pytest.skip("chromium not found (apt-get install chromium)")
    return path


@pytest.fixture
def served(tmp_path) -> Iterator[Any]:
    servers = []

    def serve(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def text_fields(spec) -> list[str]:
    return [
        f.name
        for f in spec.fields
        if (f.type in ("string", "text") or (f.type == "enum" and f.extensible))
        and not f.computed
        and not f.pattern
    ]


def seed(store, data_dir: Path) -> dict[str, Any]:
    """Payloads into every text field of two features of every layer; returns what was
    seeded and where the pages are."""
    seeded: dict[str, list[str]] = {}
    fields = 0
    for spec in store.specs:
        names = text_fields(spec)
        ids = [f["id"] for f in store.features(spec.name)[:2]]
        if not names or not ids:
            continue
        for n, fid in enumerate(ids):
            props = {name: PAYLOADS[(n + i) % len(PAYLOADS)] for i, name in enumerate(names)}
            try:
                store.update(
                    spec.name, fid, user=USER_PAYLOAD, properties=props, source=SOURCE_PAYLOAD
                )
                fields += len(props)
            except ValidationFailed:
                for name, value in props.items():  # what a field refuses is not shown
                    try:
                        store.update(spec.name, fid, user=USER_PAYLOAD, properties={name: value})
                        fields += 1
                    except ValidationFailed:
                        continue
            seeded.setdefault(spec.name, []).append(fid)
    # A ledger progress entry's notes (the ledger item's own fields are seeded above).
    return {"features": seeded, "fields": fields}


def test_no_payload_runs_on_any_page(tmp_path, rel, chromium_path, served):
    data = rel.copy_demo(tmp_path / "data")
    config = {"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t", "DEFAULT_BASEMAP": "none"}
    app = create_app(config)
    store = app.extensions["villageworks.store"]
    # A control: a page that does let a payload through must be caught by every check.
    probe = Blueprint("xss_probe", __name__)
    probe.add_url_rule(
        "/xss-probe",
        "probe",
        lambda: f"<!doctype html><p>{PAYLOADS[0]}</p><script>window.__xss = 99</script>",
    )
    app.register_blueprint(probe)
    tokens = rel.make_accounts(data)
    with pytest.raises(BadRequest):  # account names cannot carry markup at all
        UserStore(data).add(USER_PAYLOAD, "viewer", rel.PASSWORD)
    seeded = seed(store, data)
    features = seeded["features"]
    # A file name: an upload through the API, and one staged through the upload page.
    client = app.test_client()
    body = orjson.dumps(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [112.851, 39.501]},
            "properties": {"power_source": "solar", "road": PAYLOADS[0]},
        }
    )
    response = client.post(
        "/api/uploads",
        data={"file": (io.BytesIO(body), FILE_PAYLOAD), "layer": "streetlights"},
        headers={"Authorization": f"Bearer {tokens['planner']}"},
    )
    assert response.status_code == 201, response.get_json()
    upload_id = response.get_json()["upload_id"]
    # A resident's report whose description and phone carry payloads, accepted so that the
    # public list shows it too.
    light = store.features("streetlights")[3]["geometry"]["coordinates"]
    sent = {"lon": light[0], "lat": light[1], "category": "other",
            "description": PAYLOADS[0] + PAYLOADS[3] + PAYLOADS[4] + PAYLOADS[5]}  # fmt: skip
    response = client.post("/api/reports", json=sent)
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    store.update("reports", report["id"], user="planner1",
                 properties={"status": "accepted", "reply": PAYLOADS[1]})  # fmt: skip
    site = served(app)

    townships = [
        f["id"] for f in store.features("boundaries") if f["properties"]["level"] == "township"
    ]
    village = features["villages"][0]
    ledger_item = features["ledger"][0]
    pages: list[tuple[str, str]] = [
        ("anonymous", "/xss-probe"),
        ("anonymous", "/"),
        ("anonymous", "/?lang=en"),
        ("anonymous", "/layers"),
        ("anonymous", f"/villages/{village}"),
        ("anonymous", "/dashboard"),
        ("anonymous", "/ledger"),
        ("anonymous", f"/ledger/{ledger_item}"),
        ("planner", f"/ledger/{ledger_item}"),
        ("viewer", "/uploads"),
        ("viewer", f"/uploads/{upload_id}"),
        ("field", "/capture"),
        ("admin", "/admin/users"),
        ("anonymous", "/report"),
        ("anonymous", "/reports"),
        ("anonymous", f"/reports/{report['code']}"),
        ("planner", f"/features/reports/{report['id']}"),
    ]
    pages += [("anonymous", f"/townships/{t}") for t in townships[:3]]
    for layer, ids in features.items():
        pages.append(("anonymous", f"/features/{layer}/{ids[0]}"))
        pages.append(("anonymous", f"/ogc/collections/{layer}/items?f=html&limit=20"))
        pages.append(("anonymous", f"/ogc/collections/{layer}/items/{ids[0]}?f=html"))
    # Payloads in the address itself, echoed by pages and error pages.
    reflected = quote(PAYLOADS[0], safe="")
    pages += [
        ("anonymous", f"/features/streetlights/{reflected}"),
        ("anonymous", f"/townships/{reflected}"),
        ("anonymous", f"/ledger/{reflected}"),
        ("anonymous", f"/ogc/collections/{reflected}/items?f=html"),
        ("anonymous", f"/?township={reflected}&layers={reflected}"),
        ("anonymous", f"/login?next={quote('javascript:window.__xss=15', safe='')}"),
    ]

    def browse() -> tuple[list[str], int, int, int]:
        with chromium() as browser:
            contexts: dict[str, Any] = {}
            problems: list[str] = []
            visits = popups = clicks = 0

            def context_for(who: str):
                if who not in contexts:
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.set_default_timeout(15_000)
                    context.add_init_script(WATCH)
                    context.route(
                        re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort()
                    )
                    if who != "anonymous":
                        page = context.new_page()
                        page.goto(f"{site}/login")
                        page.fill("input[name=name]", f"{who}1")
                        page.fill("input[name=password]", rel.PASSWORD)
                        page.click("form button[type=submit], form input[type=submit]")
                        page.wait_for_load_state("load")
                        page.close()
                    contexts[who] = context
                return contexts[who]

            # A staged upload's preview shows the file name too.
            field_context = context_for("field")
            page = field_context.new_page()
            page.goto(f"{site}/uploads/new")
            page.set_input_files(
                "input[type=file]",
                files=[{"name": FILE_PAYLOAD, "mimeType": "application/geo+json", "buffer": body}],
            )
            layer_select = page.locator("select[name=layer]")
            if layer_select.count():
                layer_select.select_option("streetlights")
            page.click("form.up-form button[type=submit]")
            page.wait_for_load_state("load")
            staged = page.url.replace(site, "")
            page.close()
            assert "/uploads/staged/" in staged, staged
            pages.append(("field", staged))

            for who, url in pages:
                page = context_for(who).new_page()
                dialogs: list[str] = []
                errors: list[str] = []
                page.on(
                    "dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss())
                )
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                response = page.goto(site + url, wait_until="load")
                visits += 1
                status = response.status if response else 0
                where = f"{who} {url}"
                if status >= 500 or (
                    status >= 400 and not any(r in url for r in (reflected, "javascript"))
                ):
                    problems.append(f"{where}: HTTP {status}")
                if status == 200 and "vwmap.js" in page.content():
                    try:
                        page.wait_for_selector(
                            "html[data-vw-ready]", state="attached", timeout=10_000
                        )
                    except Exception:  # noqa: BLE001 - reported, then the checks go on
                        problems.append(f"{where}: the map never became ready")
                if url in ("/", "/?lang=en"):
                    clicks += click_seeded_markers(page, features)
                popups += page.evaluate(BUILD_POPUPS)
                page.wait_for_timeout(50)  # let any injected image fail and fire its handler
                state = page.evaluate("() => [window.__xss, window.__csp]")
                injected = page.evaluate(INJECTED)
                if state[0] is not None:
                    problems.append(f"{where}: payload {state[0]} ran")
                if state[1]:
                    problems.append(f"{where}: policy violations {state[1][:3]}")
                if injected:
                    problems.append(f"{where}: injected markup {injected[:3]}")
                if dialogs:
                    problems.append(f"{where}: dialogs {dialogs}")
                if errors:
                    problems.append(f"{where}: script errors {errors[:2]}")
                if "49vw" in page.content():
                    problems.append(f"{where}: a template evaluated {{{{7*7}}}}")
                csp = (response.headers.get("content-security-policy") if response else "") or ""
                if (
                    "script-src" not in csp
                    or "unsafe-inline" in csp.split("script-src")[1].split(";")[0]
                ):
                    problems.append(f"{where}: no strict Content-Security-Policy ({csp[:80]})")
                page.close()
            for context in contexts.values():
                context.close()
            return problems, visits, popups, clicks

    problems, visits, popups, clicks = in_own_thread(browse)
    caught = [p for p in problems if p.startswith("anonymous /xss-probe:")]
    assert len(caught) >= 2, f"the checks missed the control page: {caught}"
    problems = [p for p in problems if p not in caught]
    assert not problems, "\n".join(problems)
    payloads = len(PAYLOADS) + 3  # plus the user name, file name and source payloads
    rel.record_figures(
        "xss",
        {
            "payloads": payloads,
            "fields_seeded": seeded["fields"],
            "layers_seeded": len(features),
            "pages": visits - 1,
            "payloads_x_pages": payloads * (visits - 1),
            "popups_and_tooltips_built": popups,
            "markers_clicked": clicks,
        },
    )


def click_seeded_markers(page, features: dict[str, list[str]]) -> int:
    """Centre the county map on a seeded feature of each drawn layer and click it (a real
    mouse click: the popup opens as a user would see it), then hover for its tooltip."""
    clicked = 0
    page.wait_for_selector("html[data-vw-ready]", state="attached")
    for layer, ids in features.items():
        point = page.evaluate(
            """([layer, fid]) => {
                const state = vw.maps[vw.maps.length - 1];
                const l = state.byName[layer];
                const f = l && l.features.find((x) => x.id === fid);
                if (!f || !f.leaflet || !f.leaflet.getLatLng) return null;
                state.map.setView(f.leaflet.getLatLng(), 18, {animate: false});
                return true;
            }""",
            [layer, ids[0]],
        )
        if not point:
            continue
        page.wait_for_timeout(120)
        point = page.evaluate("([l, f]) => vw.featurePoint(l, f)", [layer, ids[0]])
        if not point:
            continue
        page.mouse.move(point["x"], point["y"])
        page.mouse.click(point["x"], point["y"])
        try:
            page.wait_for_selector(".leaflet-popup", timeout=2000)
            clicked += 1
        except Exception:  # noqa: BLE001 - a marker under another one: the next layer
            continue
    return clicked
