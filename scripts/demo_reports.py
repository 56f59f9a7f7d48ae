"""Demo residents' reports (群众报事) for ``make_demo.py``: about 60 over 2026, in every
state, with departments, replies and ratings. Deterministic (its own seed).

Each report lies a few metres from a streetlight, a road or a village of the demo county
(township and village filled from the location, as ``POST /api/reports`` does); some
streetlight reports name their light (``feature``): the open ones are about the lights
that are already faulty, so the demo's lights keep their statuses. Phone numbers and
codes are made up (``demo: true`` like every other feature).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from layers.changes import Change
from layers.places import find_places, where_is
from layers.reports import CODE_ALPHABET, CODE_LENGTH
from layers.store import GeoJSONStore

SEED = 18
LAYER = "reports"
FIRST_DAY, LAST_DAY = dt.date(2026, 1, 5), dt.date(2026, 10, 28)
STATUS_COUNTS = {
    "new": 8,
    "accepted": 7,
    "in_progress": 9,
    "solved": 15,
    "closed": 15,
    "rejected": 6,
}
CATEGORY_WEIGHTS = {
    "streetlight": 30,
    "water": 14,
    "road": 18,
    "sanitation": 14,
    "greenery": 8,
    "public_facility": 10,
    "other": 6,
}
DEPARTMENTS = {
    "streetlight": ("县住建局", "乡镇人民政府"),
    "water": ("县水利局",),
    "road": ("县交通运输局", "乡镇人民政府"),
    "sanitation": ("县城市管理局", "乡镇人民政府"),
    "greenery": ("县林业局",),
    "public_facility": ("乡镇人民政府", "县文化和旅游局"),
    "other": ("县信访局",),
}
DESCRIPTIONS = {
    "streetlight": (
        "{place}路口的路灯晚上不亮，已经一周了",
        "{place}路边第三根路灯一闪一闪的",
        "{place}村口的太阳能路灯白天也亮着",
        "{place}附近路灯灯罩掉了，很危险",
    ),
    "water": (
        "{place}自来水这几天水压很低，早上基本没水",
        "{place}机井旁边的管道漏水",
        "{place}的水有点发黄，请检测一下",
    ),
    "road": (
        "{place}村道有个大坑，晚上骑车容易摔",
        "{place}路面塌陷了一块",
        "{place}下雨后路上积水很深，走不了",
    ),
    "sanitation": (
        "{place}垃圾箱满了好几天没人清运",
        "{place}路边有人乱倒建筑垃圾",
        "{place}公厕没人打扫，味道很大",
    ),
    "greenery": ("{place}新种的树被羊啃了，需要补种", "{place}路边的树枝挡住了路灯和视线"),
    "public_facility": (
        "{place}文化广场的健身器材坏了",
        "{place}公交站的座椅坏了",
        "{place}村委会门口的宣传栏倒了",
    ),
    "other": ("{place}附近的狗经常追人，希望管一管", "{place}有人在路边烧秸秆，烟很大"),
}
REJECT_REASONS = (
    "与已受理的反映重复",
    "不属于本县管辖范围，已告知向有关单位反映",
    "经现场核实，情况不属实",
)
COMMENTS = {5: "修得很快，谢谢！", 4: "解决了，就是慢了点", 3: "还行", 2: "没有彻底修好"}


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _near(rng: random.Random, lon: float, lat: float) -> list[float]:
    """A point 5-40 m from (lon, lat), rounded as the app stores points."""
    metres, angle = rng.uniform(5, 40), rng.uniform(0, 2 * math.pi)
    dx = metres * math.cos(angle) / (111_320 * math.cos(math.radians(lat)))
    dy = metres * math.sin(angle) / 110_540
    return [round(lon + dx, 7), round(lat + dy, 7)]


def _anchor(store: GeoJSONStore, rng: random.Random, category: str) -> tuple[Any, str | None]:
    """Where a report of ``category`` lies, and the light it may name."""
    if category == "streetlight":
        light = rng.choice(store.features("streetlights"))
        return light["geometry"]["coordinates"], str(light["id"])
    layer = "roads" if category == "road" else "villages"
    feature = rng.choice(store.features(layer))
    coords = feature["geometry"]["coordinates"]
    while isinstance(coords[0], list):  # a line or polygon: one of its vertices
        coords = coords[len(coords) // 2]
    return coords, None


def _code(rng: random.Random) -> str:
    return "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _handled(rng: random.Random, props: dict[str, Any], status: str, category: str) -> None:
    """Department, reply, dates and rating of a report a planner has worked."""
    received = dt.date.fromisoformat(props["reported_date"])
    department = rng.choice(DEPARTMENTS[category])
    if status == "rejected":
        props.update(
            reject_reason=rng.choice(REJECT_REASONS), reply="经核实，不予受理，谢谢您的反映"
        )
        return
    props.update(department=department, reply=f"已受理，已转{department}办理")
    if status in ("solved", "closed"):
        solved = min(
            received + dt.timedelta(days=rng.choice((1, 2, 3, 5, 7, 10, 14, 21))), LAST_DAY
        )
        props.update(
            solved_date=solved.isoformat(),
            reply=f"{department}已于{solved.month}月{solved.day}日处理完毕，感谢您的反映",
        )
        if rng.random() < 0.75:
            stars = rng.choices((5, 4, 3), weights=(6, 3, 1))[0]
            props.update(rating=stars, rating_comment=COMMENTS[stars] if stars != 3 else None)


def _report(
    store: GeoJSONStore, rng: random.Random, places: Any, status: str, faulty: list[str]
) -> Change:
    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    (lon, lat), light = _anchor(store, rng, category)
    point = {"type": "Point", "coordinates": _near(rng, float(lon), float(lat))}
    township, village = where_is(places, {"geometry": point})
    place = village.name if village is not None else (township.name if township else "这里")
    props: dict[str, Any] = {
        "category": category,
        "description": rng.choice(DESCRIPTIONS[category]).format(place=place),
        "status": status,
        "reported_date": _day(rng, FIRST_DAY, LAST_DAY - dt.timedelta(days=30)).isoformat(),
        "me_too": rng.choice((0, 0, 0, 1, 2, 3)) if status != "new" else 0,
        "code": _code(rng),
        "township": township.name if township else None,
        "village": village.name if village else None,
        "village_id": village.id if village else None,
    }
    if rng.random() < 0.6:
        props["phone"] = (
            "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        )
    if status != "new":
        _handled(rng, props, status, category)
    if light is not None and status in ("solved", "closed"):
        props["feature"] = f"streetlights/{light}"
    elif category == "streetlight" and status in ("accepted", "in_progress") and faulty:
        props["feature"] = f"streetlights/{faulty.pop()}"  # already faulty: stays faulty
    return Change(
        "create", geometry=point, properties={k: v for k, v in props.items() if v is not None}
    )


def add_demo_reports(store: GeoJSONStore, *, user: str, source: str) -> list[str]:
    """Commit the demo reports (``demo: true``) into ``store``; their ids, oldest first.
    Two solved reports rated 2 are then reopened, as a low rating does."""
    rng = random.Random(SEED)
    places = find_places(store.frame("boundaries"), store.frame("villages"))
    faulty = sorted(
        str(f["id"])
        for f in store.features("streetlights")
        if f["properties"].get("status") == "faulty"
    )
    statuses = [s for s, n in STATUS_COUNTS.items() for _ in range(n)]
    changes = [_report(store, rng, places, status, faulty) for status in statuses]
    changes.sort(key=lambda c: str((c.properties or {})["reported_date"]))
    result = store.commit(LAYER, changes, user=user, source=source, extra_properties={"demo": True})
    solved = [
        f
        for f in result.features
        if f["properties"]["status"] == "solved"
        and "rating" not in f["properties"]
        and "feature" not in f["properties"]
    ][:2]
    reopen = [
        Change("update", id=f["id"], properties={"rating": 2, "rating_comment": COMMENTS[2]})
        for f in solved
    ]
    reopen += [
        Change("update", id=f["id"], properties={"status": "in_progress", "reopened": True})
        for f in solved
    ]
    for change in reopen:
        store.commit(LAYER, [change], user=user, source=source)
    return result.ids


__all__ = ["add_demo_reports"]
