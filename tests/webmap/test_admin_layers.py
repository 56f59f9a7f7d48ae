"""County-declared layers at run time: ``POST /admin/layers`` (admins, CSRF) and
``villageworks layers add``; a layer declared through one app is served by another app
over the same site (the same data directory, or on PostGIS another, empty one over the
same database) at its next request."""

import io
import os
import re

from layers.spec_files import spec_paths
from webmap import cli
from webmap.app import create_app
from webmap.extensions import get_store

PASSWORD = "correct-horse-9"
BUS_STOPS = """name = "bus_stops"
kind = "work"
geometry = ["Point"]
id_prefix = "BS"
label = { zh = "公交站", en = "Bus stops" }

[[fields]]
name = "stop_name"
type = "string"
label = { zh = "站名", en = "Stop" }
""".encode()
BAD = """name = "bad_layer"
kind = "work"
geometry = ["Blob"]
label = { zh = "坏", en = "Bad" }
""".encode()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(app, name):
    client = app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    return client, _csrf(client.get("/").get_data(as_text=True))


def _other_app(app, tmp_path):
    """Another server of the same site: on PostGIS with its own, empty data directory."""
    same_db = bool(os.environ.get("VILLAGEWORKS_DATABASE_URL"))
    data = tmp_path / "other" if same_db else app.config["DATA_DIR"]
    return create_app({"DATA_DIR": str(data), "TESTING": True, "SECRET_KEY": "test"})


def _upload(client, csrf, body, name="bus_stops.toml", **extra):
    data = {"file": (io.BytesIO(body), name), **extra}
    if csrf:
        data["csrf_token"] = csrf
    return client.post("/admin/layers", data=data, content_type="multipart/form-data")


def test_only_admins_declare_layers_and_every_server_serves_them(empty_app, accounts, tmp_path):
    accounts(empty_app)
    other = _other_app(empty_app, tmp_path)
    assert other.test_client().get("/ogc/collections/bus_stops").status_code == 404
    anonymous = empty_app.test_client()
    assert _upload(anonymous, "", BUS_STOPS).status_code == 401
    planner, planner_csrf = _login(empty_app, "planner1")
    assert planner.get("/admin/layers").status_code == 403
    assert _upload(planner, planner_csrf, BUS_STOPS).status_code == 403
    admin, csrf = _login(empty_app, "admin1")
    assert _upload(admin, "", BUS_STOPS).status_code == 400  # no CSRF token
    before = spec_paths(get_store(empty_app).files)
    assert "specs/bus_stops.toml" not in before
    done = _upload(admin, csrf, BUS_STOPS)
    assert done.status_code == 302, done.get_data(as_text=True)
    listing = admin.get("/admin/layers?lang=en").get_data(as_text=True)
    assert 'data-layer="bus_stops"' in listing and "specs/bus_stops.toml" in listing
    assert "Bus stops" in listing
    assert admin.get("/ogc/collections/bus_stops").status_code == 200
    # The other server has not restarted: it takes the declaration up at its next request.
    served = other.test_client().get("/ogc/collections/bus_stops?lang=en")
    assert served.status_code == 200 and "Bus stops" in served.get_data(as_text=True)
    token = accounts_token(other)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [112.8, 39.5]},
        "properties": {"stop_name": "东关站"},
    }
    made = other.test_client().post(
        "/ogc/collections/bus_stops/items",
        json=feature,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    items = admin.get("/ogc/collections/bus_stops/items").get_json()
    assert [f["properties"]["stop_name"] for f in items["features"]] == ["东关站"]
    # A field added to the layer later reaches the other server too, with the layer's
    # features it already holds.
    extra = b'name = "bus_stops"\n\n[[fields]]\nname = "shelter"\ntype = "boolean"\n'
    extra += 'label = { zh = "候车亭", en = "Shelter" }\n'.encode()
    assert _upload(admin, csrf, extra, name="bus_stops_shelter.toml").status_code == 302
    feature["properties"] = {"stop_name": "西关站", "shelter": True}
    made = other.test_client().post(
        "/ogc/collections/bus_stops/items",
        json=feature,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    items = other.test_client().get("/ogc/collections/bus_stops/items").get_json()
    shelters = {
        f["properties"]["stop_name"]: f["properties"].get("shelter") for f in items["features"]
    }
    assert shelters == {"东关站": None, "西关站": True}


def accounts_token(app):
    """A new token of ``admin1`` made through ``app``'s account store (the site's)."""
    from webmap.extensions import get_users

    return get_users(app).new_token("admin1")


def test_a_bad_declaration_is_refused_with_file_and_key_and_nothing_is_kept(empty_app, accounts):
    accounts(empty_app)
    before = spec_paths(get_store(empty_app).files)
    admin, csrf = _login(empty_app, "admin1")
    refused = _upload(admin, csrf, BAD, name="bad_layer.toml")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "图层定义文件 bad_layer.toml 有误" in text and "geometry" in text and "Blob" in text
    in_english = admin.post(
        "/admin/layers?lang=en",
        data={"csrf_token": csrf, "file": (io.BytesIO(BAD), "bad_layer.toml")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "The layer declaration bad_layer.toml is invalid" in in_english
    for body, name in (
        (b"\xff\xfe", "x.toml"),
        (b"not = [toml", "y.toml"),
        (BUS_STOPS, "bus_stops.txt"),
    ):
        assert _upload(admin, csrf, body, name=name).status_code == 400
    assert _upload(admin, csrf, BUS_STOPS, name="Bus Stops.toml").status_code == 400
    assert spec_paths(get_store(empty_app).files) == before
    assert "bad_layer" not in get_store(empty_app).specs


def test_the_cli_declares_a_layer_for_the_site(empty_app, tmp_path, capsys, monkeypatch):
    good, bad = tmp_path / "bus_stops.toml", tmp_path / "bad_layer.toml"
    good.write_bytes(BUS_STOPS)
    bad.write_bytes(BAD)
    data = empty_app.config["DATA_DIR"]
    assert cli.main(["layers", "add", str(bad), "--data", data, "--lang", "en"]) == 1
    assert "bad_layer.toml" in capsys.readouterr().err
    assert cli.main(["layers", "add", str(bad), "--data", data, "--lang", "zh"]) == 1
    assert "图层定义文件 bad_layer.toml 有误" in capsys.readouterr().err
    before = spec_paths(get_store(empty_app).files)
    assert cli.main(["layers", "add", str(good), "--data", data]) == 0
    assert "bus_stops" in capsys.readouterr().out
    assert spec_paths(get_store(empty_app).files) == sorted([*before, "specs/bus_stops.toml"])
    page = empty_app.test_client().get("/ogc/collections/bus_stops")
    assert page.status_code == 200
    if not os.environ.get("VILLAGEWORKS_DATABASE_URL"):  # where it always was
        assert (tmp_path / "data" / "specs" / "bus_stops.toml").read_bytes() == BUS_STOPS
