"""No write without the right: every route of the app, from ``app.url_map``.

Every state-changing route (POST, PUT, PATCH, DELETE) must refuse an anonymous visitor
(401) and every weaker role (403, by token and by session), and a session's form post
without its CSRF token (400); each refusal leaves the data untouched. Reading routes that
name a role refuse the same way. A route this test cannot fill in fails it: whoever adds
a route adds its sample values below. Then the account rules: a slow KDF, login
throttling, HttpOnly/SameSite session cookies, revocable tokens.
"""

from __future__ import annotations

import io
import re

import orjson
import pytest
from argon2 import extract_parameters

from layers.users import ROLES, UserStore, files_of, verify_password
from webmap.app import create_app

#: Writes open to visitors on purpose: logging in and out (both CSRF-checked).
PUBLIC_WRITES = {"auth.login", "auth.logout"}
#: Writes anyone may send without an account or a CSRF token: a resident's report, its
#: rating and "me too" (``public_write``; they act as nobody). Junk changes nothing, and a
#: browser's cross-site post is refused.
OPEN_WRITES = {"reports_api.create_report", "reports_api.rate", "reports_api.me_too"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def site(tmp_path, rel):
    data = rel.demo_data_dir(tmp_path / "data")
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "t"})
    tokens = rel.make_accounts(data)
    store = app.extensions["villageworks.store"]
    client = app.test_client()
    # An upload and a staged file, so that their routes have real ids to aim at.
    geojson = orjson.dumps(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [112.85, 39.5]},
            "properties": {"power_source": "solar"},
        }
    )
    response = client.post(
        "/api/uploads",
        data={"file": (io.BytesIO(geojson), "one.geojson"), "layer": "streetlights"},
        headers={"Authorization": f"Bearer {tokens['planner']}"},
    )
    assert response.status_code == 201, response.get_json()
    upload_id = response.get_json()["upload_id"]
    field = login(app, "field1", rel.PASSWORD)
    response = field.post(
        "/uploads/new",
        data={
            "file": (io.BytesIO(geojson), "two.geojson"),
            "layer": "streetlights",
            "csrf_token": csrf(field),
        },
    )
    token = response.headers["Location"].rsplit("/", 1)[-1]
    ledger_item = store.features("ledger")[0]["id"]
    entry = (
        next(
            f
            for f in store.features("ledger_progress")
            if f["properties"]["item_id"] == ledger_item
        )["id"]
        if any(
            f["properties"].get("item_id") == ledger_item for f in store.features("ledger_progress")
        )
        else store.features("ledger_progress")[0]["id"]
    )
    light = store.features("streetlights")[0]["id"]
    samples = {
        "layer": "streetlights",
        "collection_id": "streetlights",
        "fid": light,
        "feature_id": light,
        "item_id": ledger_item,
        "entry_id": entry,
        "upload_id": upload_id,
        "token": token,
        "township_id": store.features("boundaries")[1]["id"],
        "village_id": store.features("villages")[0]["id"],
        "photo_id": "0" * 64,
        "filename": "streetlights.geojson",
        "kind": "villages",
        "fmt": "csv",
        "name": "viewer1",
        "action": "disable",
        "code": "ABCDEFGHJK",
        "tms": "WebMercatorQuad",
        "z": "10",
        "x": "822",
        "y": "389",
    }

    class Site:
        pass

    site = Site()
    site.app, site.tokens, site.store, site.samples, site.data = app, tokens, store, samples, data
    return site


def login(app, name: str, password: str):
    client = app.test_client()
    response = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": csrf(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def routes(app, samples):
    """(endpoint, method, url, required role) of every rule of the app."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        missing = [a for a in rule.arguments if a not in samples]
        assert not missing, f"{rule.rule}: add sample values for {missing} to this test"
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{a: samples[a] for a in rule.arguments})
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url, getattr(view, "required_role", None)))
    return found


def weaker(role: str) -> list[str]:
    return list(ROLES[: ROLES.index(role)])


def test_every_write_refuses_visitors_weaker_roles_and_posts_without_csrf(site, rel):
    app, tokens = site.app, site.tokens
    sessions = {role: login(app, f"{role}1", rel.PASSWORD) for role in ROLES}
    writes = [r for r in routes(app, site.samples) if r[1] in UNSAFE]
    reads = [r for r in routes(app, site.samples) if r[1] not in UNSAFE]
    checked, failures = 0, []

    def state():
        return rel.data_fingerprint(site.data), [
            site.store.version(n) for n in site.store.layer_names()
        ]

    for endpoint, method, url, role in writes:
        before = state()
        outcomes = []
        if endpoint in OPEN_WRITES:
            assert getattr(app.view_functions[endpoint], "public_write", False), endpoint
            junk = app.test_client().open(url, method=method, data={"x": "1"})
            outcomes.append(("anonymous junk", junk.status_code // 100, 4))
            foreign = app.test_client().open(
                url, method=method, json={}, headers={"Origin": "https://evil.example"}
            )
            outcomes.append(("cross-site", foreign.status_code, 403))
        elif endpoint not in PUBLIC_WRITES:
            if role is None:
                failures.append(f"{method} {url} ({endpoint}) names no required role")
                continue
            anon = app.test_client().open(url, method=method, data={"x": "1"})
            outcomes.append(("anonymous", anon.status_code, 401))
            for weak in weaker(role):
                by_token = app.test_client().open(
                    url, method=method, headers={"Authorization": f"Bearer {tokens[weak]}"}
                )
                outcomes.append((f"{weak} token", by_token.status_code, 403))
                by_session = sessions[weak].open(
                    url, method=method, data={"csrf_token": csrf(sessions[weak])}
                )
                outcomes.append((f"{weak} session", by_session.status_code, 403))
            # Right role, session cookie, but no CSRF token (or a wrong one): 400.
            strong = sessions[role]
            no_token = strong.open(url, method=method, data={"x": "1"})
            outcomes.append(("no csrf token", no_token.status_code, 400))
            wrong = strong.open(url, method=method, data={"csrf_token": "forged"})
            outcomes.append(("forged csrf token", wrong.status_code, 400))
            if no_token.status_code == 400:
                body = no_token.get_json(silent=True) or {}
                code = (body.get("error") or {}).get("code")
                html = no_token.get_data(as_text=True)
                assert code == "csrf_failed" or "CSRF" in html, (endpoint, body)
        else:
            # Logging in or out is open, yet a form post without the token is refused.
            anon = app.test_client().open(url, method=method, data={"name": "admin1"})
            outcomes.append(("no csrf token", anon.status_code, 400))
        for who, got, expected in outcomes:
            checked += 1
            if got != expected:
                failures.append(f"{method} {url}: {who} got {got}, expected {expected}")
        if state() != before:
            failures.append(f"{method} {url}: a refused request changed the data")
    for endpoint, method, url, role in reads:
        if role is None:
            continue
        checked += 1
        got = app.test_client().open(url, method=method).status_code
        if got != 401:
            failures.append(f"{method} {url}: anonymous got {got}, expected 401")
        for weak in weaker(role):
            checked += 1
            got = (
                app.test_client()
                .open(url, method=method, headers={"Authorization": f"Bearer {tokens[weak]}"})
                .status_code
            )
            if got != 403:
                failures.append(f"{method} {url}: {weak} got {got}, expected 403")
    assert not failures, "\n".join(failures)
    rel.record_figures(
        "rights",
        {
            "routes": len({(e, u) for e, _, u, _ in writes + reads}),
            "route_methods": len(writes) + len(reads),
            "writes": len(writes),
            "refusals_checked": checked,
        },
    )


def test_with_anonymous_read_off_every_page_and_api_asks_for_a_login(tmp_path, rel, site):
    app = create_app(
        {"DATA_DIR": str(site.data), "TESTING": True, "SECRET_KEY": "t", "ANONYMOUS_READ": False}
    )
    failures = []
    for endpoint, method, url, _role in routes(app, site.samples):
        if method in UNSAFE or endpoint in ("auth.login",):
            continue
        got = app.test_client().open(url, method=method).status_code
        if got not in (401, 302):
            failures.append(f"{method} {url}: anonymous got {got}")
    assert not failures, "\n".join(failures)


def test_passwords_use_a_slow_kdf_and_nothing_secret_is_kept_in_clear(site, rel):
    files = files_of(site.data)  # the data directory's file, or the database's
    users = orjson.loads(files.read("users.json"))["users"]
    assert users
    for name, entry in users.items():
        params = extract_parameters(entry["password"])  # Argon2id at OWASP's parameters
        assert entry["password"].startswith("$argon2id$"), name
        assert params.memory_cost >= 19456 and params.time_cost >= 2, name
        assert rel.PASSWORD not in entry["password"]
        for token in entry["tokens"]:
            assert re.fullmatch(r"[0-9a-f]{64}", token["hash"])  # SHA-256, never the token
    text = files.read("users.json").decode()
    assert not any(token in text for token in site.tokens.values())
    if (site.data / "users.json").exists():  # on the GeoJSON store
        assert oct((site.data / "users.json").stat().st_mode & 0o777) == "0o600"
    # The cost of a check is in the Argon2id parameters above, not measured here.
    assert verify_password(rel.PASSWORD, users["admin1"]["password"])


def test_logins_are_throttled_and_session_cookies_are_httponly_samesite(site, rel):
    client = site.app.test_client()
    for _ in range(5):
        response = client.post(
            "/login",
            data={"name": "admin1", "password": "wrong-pass-1", "csrf_token": csrf(client)},
        )
        assert response.status_code == 401
    response = client.post(
        "/login", data={"name": "admin1", "password": rel.PASSWORD, "csrf_token": csrf(client)}
    )
    assert response.status_code == 429, "the right password must wait after 5 failures"
    other = login(site.app, "viewer1", rel.PASSWORD)  # another account is not locked out
    assert other.get("/uploads").status_code == 200
    client = site.app.test_client()
    response = client.get("/login")
    cookies = response.headers.getlist("Set-Cookie") + login_response(
        site.app, rel
    ).headers.getlist("Set-Cookie")
    sessions = [c for c in cookies if c.startswith("session=")]
    assert sessions
    for cookie in sessions:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


def login_response(app, rel):
    client = app.test_client()
    return client.post(
        "/login", data={"name": "field1", "password": rel.PASSWORD, "csrf_token": csrf(client)}
    )


def test_revoked_tokens_and_disabled_accounts_lose_every_write(site, rel):
    app = site.app
    users = UserStore(site.data)
    session = login(app, "planner1", rel.PASSWORD)
    anyone = PUBLIC_WRITES | OPEN_WRITES
    writes = [r for r in routes(app, site.samples) if r[1] in UNSAFE and r[0] not in anyone]
    users.revoke_tokens("planner1")
    users.set_active("planner1", False)
    before = rel.data_fingerprint(site.data)
    for _endpoint, method, url, _role in writes:
        by_token = app.test_client().open(
            url, method=method, headers={"Authorization": f"Bearer {site.tokens['planner']}"}
        )
        assert by_token.status_code == 401, (method, url, by_token.status_code)
        by_session = session.open(url, method=method, data={"csrf_token": csrf(session)})
        assert by_session.status_code == 401, (method, url, by_session.status_code)
    assert rel.data_fingerprint(site.data) == before


def test_every_response_carries_a_strict_content_security_policy(site):
    client = site.app.test_client()
    nonces = []
    for url in (
        "/",
        "/dashboard",
        "/layers",
        "/login",
        "/ledger",
        "/no-such-page",
        "/ogc/collections?f=json",
        "/api/layers/streetlights/features?bbox=112.4,39.1,113.1,39.8",
        "/static/app.css",
    ):
        response = client.get(url)
        csp = response.headers.get("Content-Security-Policy", "")
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        script = directives.get("script-src", "")
        assert "'unsafe-inline'" not in script and "http" not in script, (url, script)
        assert "'nonce-" in script, url
        assert directives.get("object-src") == "'none'", url
        assert directives.get("base-uri") == "'self'", url
        assert directives.get("frame-ancestors") == "'none'", url
        assert "http" not in directives.get("default-src", "") + directives.get("connect-src", "")
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
        assert response.headers.get("Referrer-Policy"), url
        if url in ("/", "/dashboard"):
            nonce = re.search(r"'nonce-([^']+)'", script).group(1)
            html = response.get_data(as_text=True)
            inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
            code = [attrs for attrs in inline if "application/json" not in attrs]
            assert code and all(f'nonce="{nonce}"' in attrs for attrs in code), (url, code)
            nonces.append(nonce)
    assert len(set(nonces)) == len(nonces), "a nonce must never be reused"


#: Write routes that name one feature, ledger item, entry or upload, with a request that
#: would succeed for a county-wide planner: a planner scoped to another township must get
#: 403 on each, and change nothing.
SCOPED_WRITES = {
    "ogc_write.update": ("PATCH", "json", {"properties": {"status": "faulty"}}),
    "ogc_write.replace": ("PUT", "json", None),  # the sample light's own body
    "ogc_write.delete": ("DELETE", None, None),
    "ledger.edit": ("POST", "form", {"title": "改名", "category": "streetlights"}),
    "ledger.delete": ("POST", "form", {}),
    "ledger.link": ("POST", "form", {"layer": "streetlights", "ids": "{fid}"}),
    "ledger.unlink": ("POST", "form", {"layer": "streetlights", "ids": "{fid}"}),
    "ledger.add_entry": ("POST", "form", {"date": "2026-11-01", "quantity": "1"}),
    "ledger.delete_entry": ("POST", "form", {}),
    "ledger.carry": ("POST", "form", {}),
    "uploads_api.undo": ("POST", "form", {}),
    "uploads_pages.undo": ("POST", "form", {}),
}


def _elsewhere(site) -> tuple[str, str]:
    """The sample light's township id, and a township holding none of the samples."""
    from layers.scopes import belongs_to, townships

    store, samples = site.store, site.samples
    light = store.get("streetlights", samples["fid"])
    spec = store.spec("streetlights")
    taken = {t for t, _ in belongs_to(store, spec, [light["geometry"]], [light["properties"]])[0]}
    uploaded = {"type": "Point", "coordinates": [112.85, 39.5]}
    taken |= {t for t, _ in belongs_to(store, spec, [uploaded], [{}])[0]}
    item = store.get("ledger", samples["item_id"])["properties"].get("township")
    known = townships(store)
    taken.add(known.resolve(item))
    home = next(iter(belongs_to(store, spec, [light["geometry"]], [{}])[0]))[0]
    return home, next(t for t in known.names if t not in taken)


def test_scoped_accounts_write_and_review_only_inside_their_townships(site, rel):
    app, store, samples = site.app, site.store, site.samples
    home, elsewhere = _elsewhere(site)
    users = UserStore(site.data)
    users.add("planner_elsewhere", "planner", rel.PASSWORD, areas=[elsewhere])
    users.add("planner_home", "planner", rel.PASSWORD, areas=[home])
    token = users.new_token("planner_elsewhere")
    light = store.get("streetlights", samples["fid"])
    found = {r[0]: r for r in routes(app, samples) if r[1] in UNSAFE}
    failures = []
    for endpoint, (method, kind, payload) in SCOPED_WRITES.items():
        assert endpoint in found, f"{endpoint} is gone: update SCOPED_WRITES"
        url = found[endpoint][2]
        if endpoint == "ledger.delete_entry":  # the sample entry under its own item
            entry = store.get("ledger_progress", samples["entry_id"])["properties"]
            url = f"/ledger/{entry['item_id']}/progress/{samples['entry_id']}/delete"
        before = rel.data_fingerprint(site.data), [store.version(n) for n in store.layer_names()]
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "json":
            body = payload or {
                "type": "Feature",
                **{k: light[k] for k in ("geometry", "properties")},
            }
            headers["Content-Type"] = "application/merge-patch+json" if method == "PATCH" else (
                "application/geo+json"
            )  # fmt: skip
            response = app.test_client().open(
                url, method=method, data=orjson.dumps(body), headers=headers
            )
        else:
            data = {k: v.format(**samples) for k, v in (payload or {}).items()}
            response = app.test_client().open(url, method=method, data=data, headers=headers)
        after = rel.data_fingerprint(site.data), [store.version(n) for n in store.layer_names()]
        if response.status_code != 403:
            failures.append(f"{method} {url}: got {response.status_code}, expected 403")
        if after != before:
            failures.append(f"{method} {url}: a refused request changed the data")
    assert not failures, "\n".join(failures)
    # The review decision: field accounts never, planners only in their townships.
    url = f"/ogc/collections/streetlights/items/{samples['fid']}"
    decision = orjson.dumps({"properties": {"review": "approved"}})
    patch = {"Content-Type": "application/merge-patch+json"}
    field = app.test_client().patch(
        url, data=decision, headers={**patch, "Authorization": f"Bearer {site.tokens['field']}"}
    )
    assert field.status_code == 403
    away = app.test_client().patch(
        url, data=decision, headers={**patch, "Authorization": f"Bearer {token}"}
    )
    assert away.status_code == 403 and away.get_json()["error"]["code"] == "outside_areas_request"
    inside = app.test_client().patch(
        url,
        data=orjson.dumps({"properties": {"review": "rejected", "review_comment": "重复"}}),
        headers={**patch, "Authorization": f"Bearer {users.new_token('planner_home')}"},
    )
    assert inside.status_code == 200, inside.get_data(as_text=True)
    assert store.get("streetlights", samples["fid"])["properties"]["review"] == "rejected"
