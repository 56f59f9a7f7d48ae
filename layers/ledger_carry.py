"""Carry-over (结转) of an unfinished ledger item into the next plan year.

The new item continues the old one: same title, category, place, unit, measure and
responsible unit, ``plan_year`` + 1, running from 1 January to 31 December of that year,
with the **remaining amount** (target minus what was done) as its target, so that the two
years' figures never count the same work twice; an item without a target keeps none.
``carried_from`` names the old item; the old one gets ``carried_to`` and keeps its status,
figures, linked works and history (it stays in its own year, shown as carried over).
Both writes are one commit: all or nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geo.messages import register
from layers.errors import VillageWorksError
from layers.ledger import ItemProgress, item_plan_year, ledger_progress
from layers.store_base import BaseStore, Change

#: Fields the next year's item takes over unchanged.
COPIED = (
    "title",
    "category",
    "township",
    "village",
    "unit",
    "measure",
    "species",
    "responsible_unit",
)

for _code, _zh, _en in (
    (
        "carry_finished",
        "事项 {value} 已完成或已取消，不需要结转",
        "The item {value} is done or cancelled: there is nothing to carry over",
    ),
    (
        "carry_already",
        "事项 {value} 已结转到 {to}，不能再次结转",
        "The item {value} was already carried over to {to}",
    ),
    (
        "carry_no_year",
        "事项 {value} 没有计划年度（也没有开始日期或完成时限），不能结转",
        "The item {value} has no plan year (nor a start date or deadline): it cannot be "
        "carried over",
    ),
):
    register(_code, _zh, _en)


class CannotCarry(VillageWorksError):
    """The item cannot be carried over (409): finished, already carried, no year."""

    status = 409
    code = "carry_finished"


def carried_id(item_id: str, year: int) -> str:
    """The id of ``item_id`` carried into ``year``: new, and known before the commit, so
    that both items are written together.

    >>> carried_id("LG-000014", 2027)
    'LG-000014-2027'
    """
    return f"{item_id}-{year}"


def next_year_properties(
    props: dict[str, Any], progress: ItemProgress, year: int
) -> dict[str, Any]:
    """The properties of the item that carries ``props`` (item ``progress``) into ``year``."""
    out = {k: props.get(k) for k in COPIED if props.get(k) not in (None, "")}
    if progress.target:
        out["target"] = round(progress.shortfall, 2)
    done = f"原目标 {_plain(progress.target)}，已完成 {_plain(progress.actual)}"
    note = f"由 {progress.id}（{year - 1}年度）结转：{done}"
    out.update(
        plan_year=year,
        start_date=f"{year}-01-01",
        deadline=f"{year}-12-31",
        status="in_progress",
        carried_from=progress.id,
        notes=note,
    )
    return out


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def carry_over(store: BaseStore, item_id: str, *, user: str, today: dt.date | None = None) -> str:
    """Carry the unfinished item ``item_id`` into the next plan year; the new item's id.

    :class:`CannotCarry` (409) when it is done, cancelled, already carried over or has
    no plan year; :class:`layers.errors.NotFound` for an unknown item. The store checks
    the account's rights and townships as for any edit.
    """
    feature = store.require("ledger", item_id)
    props = dict(feature.get("properties") or {})
    # The account's rights and townships first: an item outside them is refused (403)
    # whatever its state, as any edit of it would be.
    touch = Change("update", id=item_id, properties={"title": props.get("title")})
    store.commit("ledger", [touch], user=user, source="ledger:carry-over", dry_run=True)
    if props.get("carried_to"):
        raise CannotCarry("carry_already", value=item_id, to=str(props["carried_to"]))
    year = item_plan_year(props)
    if year is None:
        raise CannotCarry("carry_no_year", value=item_id)
    progress = next(p for p in ledger_progress(store, today=today, year=year) if p.id == item_id)
    if progress.finished:
        raise CannotCarry("carry_finished", value=item_id)
    new_id = carried_id(item_id, year + 1)
    changes = [
        Change("create", id=new_id, properties=next_year_properties(props, progress, year + 1)),
        Change(
            "update",
            id=item_id,
            properties={"carried_to": new_id, "plan_year": year},
            if_version=int(props.get("version") or 1),
        ),
    ]
    store.commit("ledger", changes, user=user, source=f"ledger:{item_id}:carry-over")
    return new_id
