"""GeoPackage 1.2 files that GDAL 3.6 (Debian 12's QGIS 3.22) reads without a warning,
with real DATE and DATETIME columns.

The GDAL inside pyogrio writes GeoPackage 1.4 by default (``user_version`` 10400), which
GDAL ≤ 3.6 warns about; ``VERSION=1.2`` asks for 1.2 (``application_id`` 'GPKG',
``user_version`` 10200). pyogrio writes ``datetime64`` columns as DATETIME but has no
date-only type without pyarrow: date fields are written as ISO text (``YYYY-MM-DD``, as the
GeoPackage stores a DATE anyway) and their declared column type is then set to ``DATE``
in the table's schema, which is all GDAL, QGIS and the GeoPackage standard look at.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

#: Dataset creation options of every GeoPackage we write.
DATASET_OPTIONS = {"VERSION": "1.2"}
GPKG_APPLICATION_ID = 0x47504B47  # 'GPKG'
GPKG_USER_VERSION = 10200


def date_series(values: Iterable[object]) -> pd.Series:
    """ISO day text of each value (None where there is none or it is no date).

    >>> list(date_series(["2021-08-15", "2021-08-15T10:30:00", None, "soon"]))
    ['2021-08-15', '2021-08-15', None, None]
    """
    out: list[str | None] = []
    for value in values:
        text = None if value is None else str(value)[:10]
        try:
            out.append(dt.date.fromisoformat(text).isoformat() if text else None)
        except ValueError:
            out.append(None)
    return pd.Series(out, dtype="object")


def datetime_series(values: Iterable[object]) -> pd.Series:
    """UTC ``datetime64`` of ISO date-time text (NaT where there is none), written by
    pyogrio as a DATETIME column."""
    return pd.to_datetime(pd.Series(list(values), dtype="object"), utc=True, errors="coerce")


def declare_dates(path: Path, table: str, columns: Iterable[str]) -> None:
    """Declare ``columns`` of ``table`` as ``DATE`` (they hold ISO day text)."""
    wanted = list(columns)
    if not wanted:
        return
    with sqlite3.connect(path) as db:
        (sql,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        for column in wanted:
            pattern = rf'("{re.escape(column)}"|\b{re.escape(column)}\b) TEXT\b'
            sql = re.sub(pattern, lambda m: f"{m.group(1)} DATE", sql, count=1)
        (version,) = db.execute("PRAGMA schema_version").fetchone()
        db.execute("PRAGMA writable_schema = ON")
        db.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
        db.execute(f"PRAGMA schema_version = {int(version) + 1}")
        db.execute("PRAGMA writable_schema = OFF")
    with sqlite3.connect(path) as db:  # a fresh connection reads the new schema
        (ok,) = db.execute("PRAGMA integrity_check").fetchone()
        if ok != "ok":
            raise RuntimeError(f"GeoPackage schema of {table} not valid after DATE: {ok}")
