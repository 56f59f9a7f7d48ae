"""The app's shared resources, like flaskr's ``db.py``: the store, the settings, the
accounts and the county view the map pages share.

Views, the OGC API and the CLI get them from here, never from ``webmap.app``, so the
factory imports the views and nothing imports the factory back.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app

from layers.county_view import Snapshot, county_snapshot
from layers.store_base import BaseStore
from layers.users import UserStore
from webmap import damaged, mapdata
from webmap.settings import Settings

STORE = "villageworks.store"
SETTINGS = "villageworks.settings"
USERS = "villageworks.users"


def _app(app: Flask | None) -> Flask:
    return app or current_app


def get_store(app: Flask | None = None) -> BaseStore:
    """The store of ``app`` (default: the current app); on an overview page, the store
    in which a damaged layer reads as empty (:mod:`webmap.damaged`)."""
    store = _app(app).extensions[STORE]
    if damaged.sparing_now():
        return damaged.sparing_store(_app(app), store)  # type: ignore[return-value]
    return store


def get_settings(app: Flask | None = None) -> Settings:
    """The typed settings of ``app`` (default: the current app)."""
    return _app(app).extensions[SETTINGS]


def get_users(app: Flask | None = None) -> UserStore:
    """The account store of ``app`` (default: the current app)."""
    return _app(app).extensions[USERS]


def get_county_view(app: Flask | None = None) -> Snapshot:
    """The app's view of every layer as of today (frames, places, gap overlays), rebuilt
    only when the day or a layer's version moves (``layers.county_view``)."""
    return county_snapshot(get_store(app), dt.date.today(), mapdata.ref_titles)
