"""Accounts scoped to townships and the review write rules, through HTTP on the demo
county (issue #14): every write path refuses a scoped account outside its townships with
a 403 naming them and the feature's township, an upload rejects such rows one by one,
reading stays county-wide, and the review state follows who writes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import shapely
from shapely.geometry import mapping, shape

from layers.backends import seed_if_empty
from layers.photos import PhotoStore
from layers.scopes import belongs_to, townships
from layers.users import UserStore
from webmap.app import create_app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
PASSWORD = "correct-horse-9"
HOME, AWAY = "薛圐圙乡", "岱岳镇"
GEOJSON = "application/geo+json"


def copy_demo(target: Path) -> Path:
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for sub in ("layers", "specs"):
        shutil.copytree(DEMO / sub, target / sub, dirs_exist_ok=True)
    url = os.environ.get("VILLAGEWORKS_DATABASE_URL", "")
    if url:
        seed_if_empty(target, DEMO, url)
    return target


class Site:
    """The demo county with county-wide accounts (``<role>1``) and accounts scoped to
    薛圐圙乡: ``fieldhome``, ``plannerhome``; ``planneraway`` is scoped to 岱岳镇."""

    def __init__(self, tmp_path: Path):
        self.data = copy_demo(tmp_path / "data")
        self.app = create_app({"DATA_DIR": str(self.data), "TESTING": True, "SECRET_KEY": "t"})
        self.store = self.app.extensions["villageworks.store"]
        known = townships(self.store)
        self.home, self.away = known.resolve(HOME), known.resolve(AWAY)
        self.users = UserStore(self.data)
        self.tokens = {}
        for role in ("viewer", "field", "planner", "admin"):
            self.users.add(f"{role}1", role, PASSWORD)
            self.tokens[f"{role}1"] = self.users.new_token(f"{role}1")
        for name, role, area in (
            ("fieldhome", "field", self.home),
            ("plannerhome", "planner", self.home),
            ("planneraway", "planner", self.away),
        ):
            self.users.add(name, role, PASSWORD, areas=[area])
            self.tokens[name] = self.users.new_token(name)
        self.client = self.app.test_client()

    def auth(self, name: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", **extra}

    def inside(self, township_id: str) -> list[float]:
        """A point well inside the township."""
        polygon = shape(self.store.get("boundaries", township_id)["geometry"])
        point = polygon.buffer(-0.005).representative_point()
        return [round(point.x, 6), round(point.y, 6)]

    def light_in(self, township_id: str) -> str:
        spec = self.store.spec("streetlights")
        for f in self.store.features("streetlights"):
            found = belongs_to(self.store, spec, [f["geometry"]], [f["properties"]])[0]
            if {t for t, _ in found} == {township_id}:
                return f["id"]
        raise AssertionError(f"no light in {township_id}")

    def post_light(self, name: str, township_id: str, **props):
        body = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": self.inside(township_id)},
            "properties": {"power_source": "solar", **props},
        }
        return self.client.post(
            "/ogc/collections/streetlights/items",
            data=orjson.dumps(body),
            headers=self.auth(name, **{"Content-Type": GEOJSON}),
        )

    def patch(self, name: str, layer: str, fid: str, props: dict):
        return self.client.patch(
            f"/ogc/collections/{layer}/items/{fid}",
            data=orjson.dumps({"properties": props}),
            headers=self.auth(name, **{"Content-Type": "application/merge-patch+json"}),
        )


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def login(app, name):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/login").get_data(as_text=True)  # the new session's token
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def error_of(response) -> dict:
    return orjson.loads(response.data)["error"]


def assert_outside(response, areas: str, township: str) -> None:
    assert response.status_code == 403, response.data[:400]
    error = error_of(response)
    assert error["code"] == "outside_areas_request"
    assert areas in error["message"] and township in error["message"], error["message"]
    assert "按位置" in error["message"] or "乡镇”字段" in error["message"]


# ----------------------------------------------------------------------------- OGC API
def test_ogc_create_inside_is_submitted_and_outside_is_403_naming_both(site):
    inside = site.post_light("fieldhome", site.home)
    assert inside.status_code == 201, inside.data
    assert orjson.loads(inside.data)["properties"]["review"] == "submitted"
    before = site.store.count("streetlights")
    outside = site.post_light("fieldhome", site.away)
    assert_outside(outside, HOME, AWAY)
    assert site.store.count("streetlights") == before
    # A location inside, a township field naming another township: refused too.
    named = site.post_light("fieldhome", site.home, township=AWAY)
    assert_outside(named, HOME, AWAY)
    assert "乡镇”字段" in error_of(named)["message"]
    english = site.client.post(
        "/ogc/collections/streetlights/items?lang=en",
        data=orjson.dumps(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": site.inside(site.away)},
                "properties": {"power_source": "solar"},
            }
        ),
        headers=site.auth("fieldhome", **{"Content-Type": GEOJSON, "Accept-Language": "en"}),
    )
    message = error_of(english)["message"]
    assert english.status_code == 403 and "fieldhome" in message and AWAY in message


def test_review_state_on_create_follows_the_role(site):
    assert orjson.loads(site.post_light("field1", site.away).data)["properties"]["review"] == (
        "submitted"
    )
    for name in ("planner1", "plannerhome", "admin1"):
        township = site.home if name == "plannerhome" else site.away
        response = site.post_light(name, township)
        assert response.status_code == 201, response.data
        assert orjson.loads(response.data)["properties"]["review"] == "approved", name
    sets = site.post_light("field1", site.away, review="approved")
    assert sets.status_code == 403 and error_of(sets)["code"] == "review_by_planner_only"
    comment = site.post_light("field1", site.away, review_comment="looks fine")
    assert comment.status_code == 403


def test_ogc_put_patch_delete_outside_the_areas_are_403(site):
    away = site.light_in(site.away)
    url = f"/ogc/collections/streetlights/items/{away}"
    version = site.store.version("streetlights")
    assert_outside(
        site.patch("plannerhome", "streetlights", away, {"status": "faulty"}), HOME, AWAY
    )
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": site.inside(site.away)},
        "properties": {"power_source": "grid"},
    }
    put = site.client.put(
        url, data=orjson.dumps(body), headers=site.auth("plannerhome", **{"Content-Type": GEOJSON})
    )
    assert_outside(put, HOME, AWAY)
    assert_outside(site.client.delete(url, headers=site.auth("plannerhome")), HOME, AWAY)
    assert site.store.version("streetlights") == version
    # Moving a light of one's own township into another is writing outside too.
    home = site.light_in(site.home)
    moved = site.client.patch(
        f"/ogc/collections/streetlights/items/{home}",
        data=orjson.dumps({"geometry": {"type": "Point", "coordinates": site.inside(site.away)}}),
        headers=site.auth("plannerhome", **{"Content-Type": "application/merge-patch+json"}),
    )
    assert_outside(moved, HOME, AWAY)
    ok = site.patch("plannerhome", "streetlights", home, {"status": "faulty"})
    assert ok.status_code == 200, ok.data
    assert (
        site.client.delete(
            f"/ogc/collections/streetlights/items/{home}", headers=site.auth("plannerhome")
        ).status_code
        == 204
    )


def test_reading_stays_county_wide(site):
    away = site.light_in(site.away)
    for name in ("fieldhome", "plannerhome"):
        got = site.client.get(
            f"/ogc/collections/streetlights/items/{away}?f=json", headers=site.auth(name)
        )
        assert got.status_code == 200
    listed = site.client.get(
        "/ogc/collections/streetlights/items?f=json&limit=500", headers=site.auth("fieldhome")
    )
    assert orjson.loads(listed.data)["numberMatched"] == site.store.count("streetlights")


# -------------------------------------------------------------------- review decisions
def test_area_planner_decides_by_patch_and_the_history_keeps_it(site):
    fid = orjson.loads(site.post_light("fieldhome", site.home).data)["id"]
    field = site.patch("field1", "streetlights", fid, {"review": "approved"})
    assert field.status_code == 403
    away = site.patch("planneraway", "streetlights", fid, {"review": "approved"})
    assert_outside(away, AWAY, HOME)
    bare = site.patch("plannerhome", "streetlights", fid, {"review": "returned"})
    assert bare.status_code == 422
    problem = error_of(bare)["problems"][0]
    assert problem["field"] == "review_comment" and "意见" in problem["message"]
    bad = site.patch("plannerhome", "streetlights", fid, {"review": "done"})
    assert bad.status_code == 422 and error_of(bad)["problems"][0]["code"] == "bad_review_state"
    returned = site.patch(
        "plannerhome",
        "streetlights",
        fid,
        {"review": "returned", "review_comment": "灯杆位置偏了，请核实"},
    )
    assert returned.status_code == 200, returned.data
    props = orjson.loads(returned.data)["properties"]
    assert (props["review"], props["review_comment"]) == ("returned", "灯杆位置偏了，请核实")
    approved = site.patch("plannerhome", "streetlights", fid, {"review": "approved"})
    assert orjson.loads(approved.data)["properties"]["review"] == "approved"
    history = site.store.history("streetlights", fid)
    decisions = [
        (h["by"], h["feature"]["properties"].get("review"), h["feature"]["properties"].get(
            "review_comment"
        ))
        for h in history
    ]  # fmt: skip
    assert decisions == [
        ("fieldhome", "submitted", None),
        ("plannerhome", "returned", "灯杆位置偏了，请核实"),
        ("plannerhome", "approved", None),
    ]
    assert all(h["at"] for h in history)


def test_a_field_edit_sends_the_work_back_to_review(site):
    fid = site.light_in(site.home)
    assert site.store.get("streetlights", fid)["properties"].get("review", "approved") == "approved"
    data = f"lon,lat,power_source\n{site.inside(site.home)[0]},{site.inside(site.home)[1]},grid\n"
    # An upload by a field account that merges into an existing light (a change).
    feature = site.store.get("streetlights", fid)
    x, y = feature["geometry"]["coordinates"]
    data = f"lon,lat,power_source,status\n{x},{y},grid,faulty\n"
    response = site.client.post(
        "/api/uploads",
        data={
            "file": (io.BytesIO(data.encode()), "merge.csv"),
            "layer": "streetlights",
            "duplicates": "merge",
        },
        headers=site.auth("fieldhome"),
    )
    assert response.status_code == 201, response.data
    changed = site.store.get("streetlights", fid)["properties"]
    assert (changed["status"], changed["review"]) == ("faulty", "submitted")
    assert changed["updated_by"] == "fieldhome"


# -------------------------------------------------------------------- capture, uploads
def capture(site, name, township_id, photo=b""):
    payload = {
        "layer": "streetlights",
        "geometry": {"type": "Point", "coordinates": site.inside(township_id)},
        "properties": {"power_source": "solar"},
        "accuracy_m": 5,
    }
    data = {"capture": orjson.dumps(payload).decode()}
    if photo:
        data["photos"] = (io.BytesIO(photo), "p.jpg")
    return site.client.post(
        "/api/capture",
        data=data,
        headers=site.auth(name),
        content_type="multipart/form-data",
    )


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def test_capture_inside_and_outside(site):
    ok = capture(site, "fieldhome", site.home)
    assert ok.status_code == 201, ok.data
    assert orjson.loads(ok.data)["feature"]["properties"]["review"] == "submitted"
    photos = PhotoStore(site.store.files)
    kept = photos.files.list("photos")
    refused = capture(site, "fieldhome", site.away, photo=jpeg())
    assert_outside(refused, HOME, AWAY)
    assert photos.files.list("photos") == kept


def upload_csv(site, name, rows, **fields):
    text = "lon,lat,power_source\n" + "".join(f"{x},{y},solar\n" for x, y in rows)
    return site.client.post(
        "/api/uploads",
        data={"file": (io.BytesIO(text.encode()), "lights.csv"), "layer": "streetlights", **fields},
        headers=site.auth(name),
    )


def test_upload_rejects_rows_outside_the_areas_row_by_row(site):
    home, away = site.inside(site.home), site.inside(site.away)
    rows = [home, away, [home[0] + 0.002, home[1]]]
    preview = upload_csv(site, "fieldhome", rows, dry_run="1")
    body = orjson.loads(preview.data)
    assert preview.status_code == 200, body
    assert (body["accepted"], body["rejected"]) == (2, 1)
    (problem,) = [p for p in body["problems"] if p["code"] == "outside_areas"]
    assert problem["row"] == 2 and HOME in problem["message"] and AWAY in problem["message"]
    refused = upload_csv(site, "fieldhome", rows)
    assert refused.status_code == 422
    before = site.store.count("streetlights")
    done = upload_csv(site, "fieldhome", rows, skip_rejected="1")
    assert done.status_code == 201, done.data
    ids = orjson.loads(done.data)["ids"]
    assert len(ids) == 2 and site.store.count("streetlights") == before + 2
    assert {site.store.get("streetlights", i)["properties"]["review"] for i in ids} == {"submitted"}
    planner = upload_csv(site, "planner1", [away])
    (fid,) = orjson.loads(planner.data)["ids"]
    assert site.store.get("streetlights", fid)["properties"]["review"] == "approved"


def test_upload_page_commits_only_rows_inside(site):
    client, token = login(site.app, "fieldhome")
    home, away = site.inside(site.home), site.inside(site.away)
    text = f"lon,lat,power_source\n{home[0]},{home[1]},solar\n{away[0]},{away[1]},solar\n"
    staged = client.post(
        "/uploads/new",
        data={
            "file": (io.BytesIO(text.encode()), "lights.csv"),
            "layer": "streetlights",
            "csrf_token": token,
        },
    )
    preview_url = staged.headers["Location"]
    form = {
        "csrf_token": token,
        "layer": "streetlights",
        "crs": "EPSG:4326",
        "swap_xy": "no",
        "duplicates": "skip",
    }
    assert client.post(preview_url, data={**form, "action": "preview"}).status_code == 302
    page = client.get(preview_url).get_data(as_text=True)
    assert "fieldhome" in page and AWAY in page  # the rejected row's message
    before = site.store.count("streetlights")
    done = client.post(preview_url, data={**form, "action": "commit"})
    assert done.status_code == 302 and "/uploads/U-" in done.headers["Location"]
    assert site.store.count("streetlights") == before + 1


# ------------------------------------------------------------------------ ledger pages
def test_ledger_pages_refuse_items_of_other_townships(site):
    client, token = login(site.app, "plannerhome")
    items = {f["properties"].get("township"): f["id"] for f in site.store.features("ledger")}
    away, home = items[AWAY], items[HOME]
    version = site.store.version("ledger")
    deleted = client.post(f"/ledger/{away}/delete", data={"csrf_token": token})
    assert deleted.status_code == 403
    page = deleted.get_data(as_text=True)
    assert HOME in page and AWAY in page
    entry = client.post(
        f"/ledger/{away}/progress",
        data={"csrf_token": token, "date": "2026-11-01", "quantity": "1"},
    )
    assert entry.status_code == 403
    created = client.post(
        "/ledger/new",
        data={
            "csrf_token": token,
            "title": "别的乡镇的事项",
            "category": "streetlights",
            "township": AWAY,
        },
    )
    assert created.status_code == 403
    assert site.store.version("ledger") == version
    ok = client.post(f"/ledger/{home}/delete", data={"csrf_token": token})
    assert ok.status_code == 302


# ------------------------------------------------------------------------- accounts
def villageworks(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEWORKS_DATA": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "webmap.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_users_add_takes_townships_by_name_or_id(site):
    done = villageworks(
        site.data, "users", "add", "zhang", "--role", "field", "--area", HOME,
        "--area", site.away, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert site.users.get("zhang").areas == (site.home, site.away)
    listed = villageworks(site.data, "users", "list").stdout
    assert f"zhang\tfield\tactive\t{site.home},{site.away}" in listed
    wide = villageworks(site.data, "users", "add", "li", "--role", "planner", stdin=PASSWORD)
    assert wide.returncode == 0 and site.users.get("li").areas == ()
    unknown = villageworks(
        site.data, "users", "add", "wang", "--role", "field", "--area", "无此乡",
        "--lang", "en", stdin=PASSWORD,
    )  # fmt: skip
    assert unknown.returncode == 1 and "无此乡" in unknown.stderr and HOME in unknown.stderr
    assert site.users.get("wang") is None
    admin = villageworks(
        site.data, "users", "add", "zhao", "--role", "admin", "--area", HOME, stdin=PASSWORD
    )
    assert admin.returncode == 1 and site.users.get("zhao") is None


def test_a_scoped_account_via_cli_is_refused_outside(site):
    villageworks(
        site.data, "users", "add", "zhou", "--role", "field", "--area", HOME, stdin=PASSWORD
    )
    site.tokens["zhou"] = site.users.new_token("zhou")
    assert_outside(site.post_light("zhou", site.away), HOME, AWAY)
    assert site.post_light("zhou", site.home).status_code == 201


def admin(site):
    client, token = login(site.app, "admin1")
    return client, token


def test_admin_changes_role_and_areas(site):
    client, token = admin(site)
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'data-user="plannerhome"' in page and HOME in page
    moved = client.post(
        "/admin/users/fieldhome/areas", data={"csrf_token": token, "areas": [site.away]}
    )
    assert moved.status_code == 302
    assert site.users.get("fieldhome").areas == (site.away,)
    assert site.post_light("fieldhome", site.away).status_code == 201
    assert_outside(site.post_light("fieldhome", site.home), AWAY, HOME)
    by_name = client.post(
        "/admin/users/fieldhome/areas", data={"csrf_token": token, "areas": [HOME, AWAY]}
    )
    assert by_name.status_code == 302
    assert site.users.get("fieldhome").areas == (site.home, site.away)
    wide = client.post("/admin/users/fieldhome/areas", data={"csrf_token": token})
    assert wide.status_code == 302 and site.users.get("fieldhome").areas == ()
    bad = client.post(
        "/admin/users/fieldhome/areas", data={"csrf_token": token, "areas": ["无此乡"]}
    )
    assert bad.status_code == 400 and "无此乡" in bad.get_data(as_text=True)
    role = client.post("/admin/users/field1/role", data={"csrf_token": token, "role": "planner"})
    assert role.status_code == 302 and site.users.get("field1").role == "planner"
    up = site.patch("field1", "streetlights", site.light_in(site.away), {"status": "faulty"})
    assert up.status_code == 200
    to_admin = client.post(
        "/admin/users/plannerhome/role", data={"csrf_token": token, "role": "admin"}
    )
    assert to_admin.status_code == 302
    assert site.users.get("plannerhome").areas == ()  # an admin covers the county


def test_admin_resets_a_password_shown_once_and_sessions_end(site):
    field, _ = login(site.app, "field1")
    assert field.get("/uploads").status_code == 200
    client, token = admin(site)
    reset = client.post("/admin/users/field1/password", data={"csrf_token": token})
    assert reset.status_code == 200
    new = re.search(r'id="admin-password".*?<code[^>]*>([^<]+)</code>', reset.get_data(
        as_text=True
    ), re.S).group(1)  # fmt: skip
    assert new not in client.get("/admin/users").get_data(as_text=True)
    assert site.users.authenticate("field1", new) is not None
    assert site.users.authenticate("field1", PASSWORD) is None
    assert field.get("/uploads").status_code == 401  # the old session ended at once


def test_admin_reenables_and_cannot_disable_self_or_the_last_admin(site):
    client, token = admin(site)
    assert client.post("/admin/users/field1/disable", data={"csrf_token": token}).status_code == 302
    assert not site.users.get("field1").active
    assert site.post_light("field1", site.home).status_code == 401
    assert client.post("/admin/users/field1/enable", data={"csrf_token": token}).status_code == 302
    assert site.users.get("field1").active
    own = client.post("/admin/users/admin1/disable", data={"csrf_token": token})
    assert own.status_code == 400 and site.users.get("admin1").active
    demote = client.post("/admin/users/admin1/role", data={"csrf_token": token, "role": "viewer"})
    assert demote.status_code == 400 and site.users.get("admin1").role == "admin"
    site.users.add("admin2", "admin", PASSWORD)
    other, other_token = login(site.app, "admin2")
    assert (
        other.post("/admin/users/admin1/disable", data={"csrf_token": other_token}).status_code
        == 302
    )
    # admin2 is now the last active admin: another admin may not be made from nothing,
    # and the store refuses to leave the county without one.
    with pytest.raises(Exception) as refused:
        site.users.set_role("admin2", "planner")
    assert getattr(refused.value, "code", "") == "last_admin"
    with pytest.raises(Exception) as refused:
        site.users.set_active("admin2", False)
    assert getattr(refused.value, "code", "") == "last_admin"


def test_revoked_tokens_and_password_changes_reach_every_worker(site):
    other_worker = create_app({"DATA_DIR": str(site.data), "TESTING": True, "SECRET_KEY": "t"})
    client = other_worker.test_client()
    assert (
        client.post(
            "/ogc/collections/streetlights/items",
            data=orjson.dumps(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": site.inside(site.home)},
                    "properties": {"power_source": "solar"},
                }
            ),
            headers=site.auth("fieldhome", **{"Content-Type": GEOJSON}),
        ).status_code
        == 201
    )
    session, _ = login(other_worker, "plannerhome")
    assert session.get("/uploads").status_code == 200
    site.users.revoke_tokens("fieldhome")
    site.users.set_password("plannerhome", "another-horse-10")
    assert client.get("/api/uploads", headers=site.auth("fieldhome")).status_code == 401
    assert session.get("/uploads").status_code == 401


def test_point_helpers_are_sound(site):
    # The fixture's points must lie where the tests say they do.
    spec = site.store.spec("streetlights")
    for township in (site.home, site.away):
        point = {"type": "Point", "coordinates": site.inside(township)}
        assert belongs_to(site.store, spec, [point], [{}]) == [[(township, "location")]]
    assert shapely.Point(site.inside(site.home)).within(
        shape(site.store.get("boundaries", site.home)["geometry"])
    )
    assert mapping(shapely.Point(0, 0))["type"] == "Point"


def test_cli_import_by_an_account_takes_its_role_and_townships(site, tmp_path):
    home, away = site.inside(site.home), site.inside(site.away)
    csv = tmp_path / "lights.csv"
    csv.write_text(f"lon,lat,power_source\n{home[0]},{home[1]},solar\n{away[0]},{away[1]},grid\n")
    before = site.store.count("streetlights")
    done = villageworks(
        site.data, "import", str(csv), "--layer", "streetlights", "--user", "fieldhome",
        "--skip-rejected",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one row rejected
    assert "fieldhome" in done.stderr and AWAY in done.stderr
    new = [
        f
        for f in site.store.features("streetlights")
        if f["properties"]["created_by"] == "fieldhome"
    ]
    assert len(new) == 1 and new[0]["properties"]["review"] == "submitted"
    assert site.store.count("streetlights") == before + 1
    trusted = villageworks(site.data, "import", str(csv), "--layer", "streetlights",
                           "--user", "operator", "--duplicates", "keep")  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    by_operator = [
        f
        for f in site.store.features("streetlights")
        if f["properties"]["created_by"] == "operator"
    ]
    assert len(by_operator) == 2
    assert {f["properties"]["review"] for f in by_operator} == {"approved"}


def test_cli_changes_role_and_townships(site):
    done = villageworks(site.data, "users", "areas", "field1", "--area", AWAY)
    assert done.returncode == 0, done.stderr
    assert site.users.get("field1").areas == (site.away,)
    assert_outside(site.post_light("field1", site.home), AWAY, HOME)
    wide = villageworks(site.data, "users", "areas", "field1")
    assert wide.returncode == 0 and site.users.get("field1").areas == ()
    role = villageworks(site.data, "users", "role", "plannerhome", "--role", "viewer")
    assert role.returncode == 0 and site.users.get("plannerhome").role == "viewer"
    assert site.users.get("plannerhome").areas == ()
    refused = villageworks(site.data, "users", "areas", "viewer1", "--area", HOME)
    assert refused.returncode == 1 and site.users.get("viewer1").areas == ()
    last = villageworks(site.data, "users", "role", "admin1", "--role", "planner")
    assert last.returncode == 1 and site.users.get("admin1").role == "admin"
