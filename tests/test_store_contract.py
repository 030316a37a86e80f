"""The store's contract: the same tests against SQLite and PostgreSQL.

Every test taking `store` runs twice, once on a SQLite file and once on a database of
the session's throw-away PostgreSQL cluster (tests/postgres.py), and expects the same
answers from both. The tests after those are PostgreSQL's own: several instances on
one database, named locks, and copying a database from one store to the other.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tests.postgres
from core.commands import Button, Priority
from core.ids import AlertId, ChatRef, CheckinId, OutboxId, PersonId
from core.outbox import NewMessage
from core.ports import SchemaTooNew, StoreOpenError
from core.records import AlertReason, AlertState, CheckinState, NewAlert, NewPerson
from gateway.database import describe
from store.copy import CopyError, copy_database
from store.postgres import PgStore, create_store, display_url
from store.postgres.migrations import LATEST as PG_LATEST
from store.sqlite import Store
from store.sqlite.deadletters import MAX_RAW
from store.sqlite.migrations import LATEST as SQLITE_LATEST
from tests.postgres import Cluster, NewDatabase, find_binaries, start_or_give_up

AnyStore = Store | PgStore

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def open_any(db: str) -> AnyStore:
    """What the composition root does with CARECHECK_DB (here for the tests alone)."""
    return create_store(db) if db.startswith("postgresql://") else Store(db)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "contract.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(db: str) -> AsyncIterator[AnyStore]:
    opened = open_any(db)
    await opened.open()
    yield opened
    await opened.close()


def person(name: str, role: str = "resident", grid: str = "G1", **kw: str) -> NewPerson:
    fields: dict[str, str] = {
        "building": "",
        "language": "zh",
        "timezone": "Asia/Shanghai",
        "phone": "",
        "address": "",
        "plan": "daily" if role == "resident" else "",
        "family_of_name": "",
    }
    fields.update(kw)
    return NewPerson(name=name, role=role, grid=grid, **fields)


async def add_people(store: AnyStore, *people: NewPerson) -> dict[str, PersonId]:
    async with store.transaction() as tx:
        await tx.upsert_people(list(people), T0)
        return {p.name: p.id for p in await tx.people()}


def message(chat: str, text: str = "hi", **kw: Any) -> NewMessage:
    kw.setdefault("priority", Priority.ROUTINE)
    return NewMessage(chat=ChatRef(chat), text=text, **kw)


# -- people, identities, invitations ---------------------------------------------------


async def test_it_upserts_people_by_name_and_links_family_after_every_row_exists(
    store: AnyStore,
) -> None:
    # The family row comes first: its resident does not exist yet when it is written.
    ids = await add_people(
        store,
        person("Son", role="family", grid="", family_of_name="Wang"),
        person("Wang", phone="1380011", address="B3-402"),
    )
    async with store.transaction() as tx:
        son = await tx.person(ids["Son"])
        assert son is not None and son.family_of == ids["Wang"]
        assert [p.name for p in await tx.family_of(ids["Wang"])] == ["Son"]
        await tx.upsert_people([person("Wang", phone="999", grid="G2")], T0)
        wang = await tx.person_by_name("Wang")
        assert wang is not None and wang.id == ids["Wang"]
        assert (wang.phone, wang.grid, wang.address, wang.active) == ("999", "G2", "", True)
        assert await tx.count_people() == 2
        assert [p.name for p in await tx.people("resident")] == ["Wang"]
        assert [p.name for p in await tx.people()] == ["Son", "Wang"]
        await tx.set_active(ids["Son"], False)
        assert await tx.family_of(ids["Wang"]) == []
        assert await tx.person(10_000) is None and await tx.person_by_name("Nobody") is None


async def test_it_lists_a_grids_responders_before_those_of_every_grid(store: AnyStore) -> None:
    await add_people(
        store,
        person("Everywhere", role="grid_leader", grid=""),
        person("Li", role="grid_leader", grid="G1"),
        person("Other", role="grid_leader", grid="G2"),
        person("Off", role="grid_leader", grid="G1"),
        person("Lead", role="care_lead", grid="G1"),
    )
    async with store.transaction() as tx:
        off = await tx.person_by_name("Off")
        assert off is not None
        await tx.set_active(off.id, False)
        names = [p.name for p in await tx.responders("G1", "grid_leader")]
    assert names == ["Li", "Everywhere"]


async def test_it_sorts_grids_by_code_point_whatever_the_locale(store: AnyStore) -> None:
    await add_people(
        store, *(person(f"R{i}", grid=g) for i, g in enumerate(["b", "B", "a", "_x", "", "a"]))
    )
    async with store.read() as tx:
        assert await tx.grids() == ["B", "_x", "a", "b"]


async def test_it_binds_identities_and_repoints_them(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Li", "grid_leader"))
    async with store.transaction() as tx:
        await tx.bind_identity(ids["Wang"], "telegram", "11", ChatRef("telegram:11"), T0)
        await tx.bind_identity(ids["Wang"], "matrix", "@w:x", ChatRef("matrix:!r"), T0 + MIN)
        # The same address bound again moves to the new person and chat.
        await tx.bind_identity(ids["Chen"], "telegram", "11", ChatRef("telegram:12"), T0)
        found = await tx.identity("telegram", "11")
        assert found is not None and (found.person_id, found.chat) == (ids["Chen"], "telegram:12")
        assert [i.platform for i in await tx.identities_of(ids["Wang"])] == ["matrix"]
        await tx.replace_import_identities(
            [("Wang", "telegram", "21", "telegram:21"), ("Nobody", "telegram", "9", "x:9")], T0
        )
        assert await tx.identity("telegram", "9") is None
        assert [i.platform for i in await tx.identities_of(ids["Wang"])] == [
            "telegram",
            "matrix",
        ]
        assert len(await tx.all_identities()) == 3
        assert await tx.identity("telegram", "404") is None


async def test_it_finds_round_residents_and_grids_without_a_reachable_leader(
    store: AnyStore,
) -> None:
    ids = await add_people(
        store,
        person("Wang", grid="G1"),
        person("Chen", grid="G2", language="en"),
        person("Zhao", grid="G2", plan="weekly"),
        person("Li", role="grid_leader", grid="G1"),
    )
    async with store.transaction() as tx:
        for name in ("Wang", "Chen", "Zhao"):
            await tx.bind_identity(ids[name], "test", name, ChatRef(f"test:{name}"), T0)
        await tx.bind_identity(ids["Li"], "telegram", "1", ChatRef("telegram:1"), T0)
        everyone = await tx.round_residents("daily", "Asia/Shanghai")
        assert everyone == [
            (ids["Wang"], "test:Wang", "Wang", "zh"),
            (ids["Chen"], "test:Chen", "Chen", "en"),
        ]
        assert await tx.round_residents("daily", "Asia/Shanghai", "G2") == everyone[1:]
        assert await tx.round_residents("daily", "Europe/Paris") == []
        assert sorted(await tx.round_keys()) == [
            ("daily", "Asia/Shanghai"),
            ("weekly", "Asia/Shanghai"),
        ]
        assert await tx.grids_without_reachable_leader() == ["G2"]
        assert await tx.grids_without_reachable_leader(["telegram"]) == ["G2"]
        assert await tx.grids_without_reachable_leader(["matrix"]) == ["G1", "G2"]


async def test_an_invitation_is_spent_once_and_never_after_it_expires(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"))
    async with store.transaction() as tx:
        await tx.add_invite("P1", ids["Wang"], None, T0, T0 + 60 * MIN)
        await tx.add_invite("T1", None, "medicine", T0, T0 + 60 * MIN)
        await tx.add_invite("OLD", ids["Wang"], None, T0, T0 + MIN)
        assert await tx.has_open_person_invites(T0)
        opened = await tx.open_invite("P1", T0)
        assert opened is not None and opened.person_id == ids["Wang"] and opened.used_at is None
        assert opened.expires_at == T0 + 60 * MIN
        spent = await tx.spend_invite("P1", T0 + MIN, "telegram:5")
        assert spent is not None and spent.used_at == T0 + MIN and spent.team is None
        assert await tx.spend_invite("P1", T0 + MIN, "telegram:6") is None
        assert await tx.open_invite("P1", T0) is None
        assert await tx.spend_invite("OLD", T0 + 2 * MIN, "telegram:7") is None
        assert await tx.open_invite("OLD", T0 + 2 * MIN) is None
        assert not await tx.has_open_person_invites(T0 + 2 * MIN)
        assert await tx.invite_is_for_team("T1") and not await tx.invite_is_for_team("P1")
        assert not await tx.invite_is_for_team("NONE")
        team = await tx.spend_invite("T1", T0, "telegram:-100")
        assert team is not None and team.team == "medicine" and team.person_id is None


async def test_team_chats_are_linked_once(store: AnyStore) -> None:
    async with store.transaction() as tx:
        await tx.link_team_chat("medicine", ChatRef("telegram:-1"))
        await tx.link_team_chat("medicine", ChatRef("telegram:-1"))
        await tx.link_team_chat("medicine", ChatRef("matrix:!m"))
        assert sorted(await tx.team_chats("medicine")) == ["matrix:!m", "telegram:-1"]
        assert await tx.is_team_chat(ChatRef("telegram:-1"))
        assert not await tx.is_team_chat(ChatRef("telegram:-2"))
        assert await tx.team_chats("supplies") == []


async def test_the_people_export_has_names_family_and_addresses(store: AnyStore) -> None:
    ids = await add_people(
        store, person("Wang"), person("Son", role="family", grid="", family_of_name="Wang")
    )
    async with store.transaction() as tx:
        await tx.bind_identity(ids["Wang"], "telegram", "11", ChatRef("telegram:11"), T0)
        await tx.bind_identity(ids["Wang"], "telegram", "12", ChatRef("telegram:12"), T0 + MIN)
        await tx.bind_identity(ids["Son"], "matrix", "@s:x", ChatRef("matrix:!s"), T0)
        rows = await tx.export_rows()
    assert [(r["name"], r["family_of"], r["telegram"], r["matrix"]) for r in rows] == [
        ("Wang", None, "11 12", None),
        ("Son", "Wang", None, "@s:x"),
    ]
    assert set(rows[0]) == {
        "name", "role", "grid", "building", "language", "timezone", "phone", "address",
        "plan", "family_of", "relation", "contact", "caller", "deputy", "risk", "telegram",
        "matrix",
    }  # fmt: skip


# -- check-ins --------------------------------------------------------------------------


async def test_opening_a_round_twice_opens_each_checkin_once(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"))
    wang, chen, zhao = ids["Wang"], ids["Chen"], ids["Zhao"]
    async with store.transaction() as tx:
        first = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen])
        assert set(first) == {wang, chen} and len(set(first.values())) == 2
        # Replayed after a crash, with one more resident: only the new one is opened.
        again = await tx.open_checkins("daily", T0, T0 + MIN, T0 + 61 * MIN, [wang, chen, zhao])
        assert set(again) == {zhao}
        checkin = await tx.checkin(first[wang])
        assert checkin is not None
        assert (checkin.person_id, checkin.plan, checkin.state) == (wang, "daily", "sent")
        assert (checkin.due_at, checkin.sent_at, checkin.deadline) == (T0, T0, T0 + 60 * MIN)
        assert checkin.answered_at is None and checkin.prompt_outbox_ids == ()
        assert await tx.open_checkins("daily", T0, T0, T0, []) == {}
        assert await tx.checkin(10_000) is None


async def test_a_round_opened_with_ids_drawn_beforehand_has_those_ids(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"), person("Li"))
    wang, chen, zhao, li = ids["Wang"], ids["Chen"], ids["Zhao"], ids["Li"]
    async with store.transaction() as tx:
        earlier = await tx.open_checkins("daily", T0 - 60 * MIN, T0, T0, [wang])
        drawn = await tx.new_checkin_ids(3)
        assert drawn == sorted(drawn) and len(set(drawn)) == 3
        assert min(drawn) > earlier[wang]
        planned = dict(zip([wang, chen, zhao], drawn, strict=True))
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen], planned)
        assert opened == {wang: drawn[0], chen: drawn[1]}
        checkin = await tx.checkin(drawn[1])
        assert checkin is not None and (checkin.person_id, checkin.due_at) == (chen, T0)
        # Replayed: whoever has this round's check-in is left out; the others get theirs.
        again = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen, zhao], planned)
        assert again == {zhao: drawn[2]}
        # A check-in at the same time on another plan is not this round's: left out.
        more = await tx.new_checkin_ids(2)
        other = await tx.open_checkins("x", T0, T0, T0, [wang, li], {wang: more[0], li: more[1]})
        assert other == {li: more[1]}
        assert await tx.new_checkin_ids(0) == []
        assert min(await tx.new_checkin_ids(2)) > max(drawn)


async def test_a_rounds_worth_of_checkins_leaves_out_whoever_has_one_at_that_time(
    store: AnyStore,
) -> None:
    # Large enough for the bulk path (PostgreSQL: COPY, which cannot skip a clash).
    many = 1_500
    ids = await add_people(store, *(person(f"R{n:04d}") for n in range(many)))
    everyone = sorted(ids.values())
    async with store.transaction() as tx:
        # Two already have a check-in at this time: one on this plan, one on another.
        had = await tx.open_checkins("daily", T0, T0, T0, everyone[:1])
        other = await tx.open_checkins("x", T0, T0, T0, everyone[1:2])
        drawn = await tx.new_checkin_ids(many)
        planned = dict(zip(everyone, drawn, strict=True))
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, everyone, planned)
        assert opened == {p: planned[p] for p in everyone[2:]}
        assert await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, everyone, planned) == {}
        last = await tx.checkin(planned[everyone[-1]])
        assert last is not None and last.person_id == everyone[-1]
        assert (last.plan, last.due_at, last.deadline, last.state) == (
            "daily",
            T0,
            T0 + 60 * MIN,
            CheckinState.SENT,
        )
        assert (await tx.checkin(had[everyone[0]])) is not None
        assert (await tx.checkin(other[everyone[1]])) is not None


async def test_a_checkin_state_changes_only_from_the_states_given(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"))
    wang = ids["Wang"]
    open_states = [CheckinState.SENT, CheckinState.REMINDED]
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang])
        checkin_id = opened[wang]
        await tx.count_reminder(checkin_id)
        reminded = await tx.open_checkin_of(wang)
        assert reminded is not None and reminded.state is CheckinState.REMINDED
        assert await tx.set_checkin_state(
            checkin_id, CheckinState.OK, only_if=open_states, answered_at=T0 + MIN, answer="ok"
        )
        # A second answer (a double tap, another instance) changes nothing.
        assert not await tx.set_checkin_state(
            checkin_id, CheckinState.HELP, only_if=open_states, answered_at=T0 + 2 * MIN
        )
        done = await tx.checkin(checkin_id)
        assert done is not None and done.state is CheckinState.OK
        assert done.answered_at == T0 + MIN
        # Without an answer or a time, the old ones stay.
        assert await tx.set_checkin_state(checkin_id, CheckinState.HELP, only_if=[CheckinState.OK])
        await tx.count_reminder(checkin_id)  # no longer open: not counted
        assert await tx.checkin_outcomes() == [
            ("help", 1, (T0 + MIN).timestamp(), T0.timestamp(), (T0 + 60 * MIN).timestamp())
        ]
        assert await tx.open_checkin_of(wang) is None
        assert await tx.open_checkins_of(wang) == []


async def test_it_knows_who_was_asked_and_when_a_prompt_was_delivered(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"))
    async with store.transaction() as tx:
        old = await tx.open_checkins("daily", T0 - 60 * MIN, T0 - 60 * MIN, T0, [ids["Zhao"]])
        await tx.set_checkin_state(
            old[ids["Zhao"]], CheckinState.MISSED, only_if=[CheckinState.SENT]
        )
        earlier = await tx.open_checkins("x", T0 - 30 * MIN, T0 - 30 * MIN, T0, [ids["Chen"]])
        now = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [ids["Wang"]])
        assert await tx.asked_since(T0) == {ids["Wang"], ids["Chen"]}
        assert [c.due_at for c in await tx.open_checkins_of(ids["Chen"])] == [T0 - 30 * MIN]
        checkin = now[ids["Wang"]]
        assert await tx.prompt_delivered_at(checkin) is None
        first = await tx.enqueue("test", message("test:w", purpose="checkin", ref=checkin), T0)
        second = await tx.enqueue("test", message("test:w2", purpose="checkin", ref=checkin), T0)
        await tx.mark_sent(second, "m2", T0 + 3 * MIN)
        await tx.mark_sent(first, "m1", T0 + 5 * MIN)
        assert await tx.prompt_delivered_at(checkin) == T0 + 3 * MIN
        await tx.set_deadline(checkin, T0 + 90 * MIN)
        moved = await tx.checkin(checkin)
        assert moved is not None and moved.deadline == T0 + 90 * MIN
        assert earlier  # opened
        assert await tx.misses_since(ids["Zhao"], T0 - 60 * MIN) == 1
        assert await tx.misses_since(ids["Zhao"], T0) == 0
        counts = await tx.checkin_state_counts()
        assert counts == {"sent": 2, "missed": 1}


# -- alerts -----------------------------------------------------------------------------


async def test_an_alert_is_acknowledged_once_and_resolved_once(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Li", "grid_leader"))
    wang, li = ids["Wang"], ids["Li"]
    async with store.transaction() as tx:
        alert_id = await tx.create_alert(
            wang, None, AlertReason.HELP, True, "standard", T0, "fell", misses=0
        )
        alert = await tx.alert(alert_id)
        assert alert is not None and alert.state is AlertState.OPEN and alert.urgent
        assert (alert.reason, alert.detail, alert.policy) == (AlertReason.HELP, "fell", "standard")
        assert alert.opened_at == T0 and alert.acked_by is None and alert.checkin_id is None
        assert await tx.acknowledge_alert(alert_id, li, T0 + 2 * MIN)
        assert not await tx.acknowledge_alert(alert_id, wang, T0 + 3 * MIN)
        acked = await tx.alert(alert_id)
        assert acked is not None and acked.acked_by == li and acked.acked_at == T0 + 2 * MIN
        await tx.advance_alert(alert_id, 2)
        assert await tx.ack_delays() == [(120.0, 2)]
        assert await tx.resolve_alert(alert_id, li, T0 + 9 * MIN, "visited")
        assert not await tx.resolve_alert(alert_id, wang, T0 + 10 * MIN, "again")
        done = await tx.alert(alert_id)
        assert done is not None and done.state is AlertState.RESOLVED
        assert (done.resolved_by, done.resolved_at, done.outcome) == (li, T0 + 9 * MIN, "visited")
        assert done.acked_at == T0 + 2 * MIN  # kept from the acknowledgement
        assert await tx.unresolved_alert_of(wang) is None
        assert await tx.open_alert_count() == 0
        assert await tx.alert(10_000) is None


async def test_resolving_an_unacknowledged_alert_counts_as_its_acknowledgement(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"))
    async with store.transaction() as tx:
        alert_id = await tx.create_alert(
            ids["Wang"], None, AlertReason.MISSED, False, "standard", T0, ""
        )
        assert await tx.resolve_alert(alert_id, None, T0 + MIN, "late answer")
        done = await tx.alert(alert_id)
        assert done is not None and done.acked_at == T0 + MIN and done.acked_by is None
        assert await tx.ack_delays() == []  # nobody acknowledged it


async def test_an_acknowledged_alert_walks_again_after_a_new_miss(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Li", "grid_leader"))
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + MIN, [ids["Wang"]])
        alert_id = await tx.create_alert(
            ids["Wang"], opened[ids["Wang"]], AlertReason.MISSED, False, "standard", T0, "", 1
        )
        await tx.advance_alert(alert_id, 3)
        await tx.acknowledge_alert(alert_id, ids["Li"], T0 + MIN)
        assert [(a.id, a.position) for a in await tx.unresolved_alerts()] == [(alert_id, 3)]
        assert await tx.reescalate_alert(alert_id, None, 2)
        again = await tx.alert(alert_id)
        assert again is not None and again.state is AlertState.OPEN
        assert (again.position, again.misses, again.acked_by, again.acked_at) == (0, 2, None, None)
        assert again.checkin_id == opened[ids["Wang"]]  # kept when none is given
        assert [(a.id, a.position) for a in await tx.unresolved_alerts()] == [(alert_id, 0)]
        await tx.mark_urgent(alert_id)
        urgent = await tx.alert(alert_id)
        assert urgent is not None and urgent.urgent
        await tx.resolve_alert(alert_id, ids["Li"], T0 + 5 * MIN, "ok")
        assert not await tx.reescalate_alert(alert_id, None, 3)


async def test_unresolved_alerts_are_listed_per_grid_and_recent_ones_newest_first(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang", grid="G1"), person("Chen", grid="G2"))
    async with store.transaction() as tx:
        a1 = await tx.create_alert(ids["Wang"], None, AlertReason.MISSED, False, "p", T0, "")
        a2 = await tx.create_alert(ids["Chen"], None, AlertReason.HELP, True, "p", T0, "")
        a3 = await tx.create_alert(ids["Wang"], None, AlertReason.CONCERN, False, "p", T0, "")
        await tx.resolve_alert(a1, None, T0, "")
        assert [a.id for a in await tx.unresolved_alerts()] == [a2, a3]
        assert [a.id for a in await tx.unresolved_alerts("")] == [a2, a3]
        assert [a.id for a in await tx.unresolved_alerts("G1")] == [a3]
        assert [a.id for a in await tx.recent_alerts()] == [a3, a2, a1]
        assert [a.id for a in await tx.recent_alerts(2)] == [a3, a2]
        latest = await tx.unresolved_alert_of(ids["Wang"])
        assert latest is not None and latest.id == a3
        assert await tx.open_alert_count() == 2


async def test_an_alerts_copies_and_notes_come_back_oldest_first(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Li", "grid_leader"))
    async with store.transaction() as tx:
        alert_id = await tx.create_alert(ids["Wang"], None, AlertReason.HELP, True, "p", T0, "")
        other = await tx.create_alert(ids["Wang"], None, AlertReason.HELP, True, "p", T0, "")
        # Written out of time order: the order is the order of writing.
        await tx.add_notification(alert_id, ids["Li"], OutboxId(7), 0, "grid_leader", T0 + MIN)
        await tx.add_notification(other, None, OutboxId(8), 0, "team", T0)
        await tx.add_notification(alert_id, None, OutboxId(9), 1, "team", T0)
        copies = await tx.notifications(alert_id)
        assert [(n.outbox_id, n.person_id, n.step, n.role, n.at) for n in copies] == [
            (7, ids["Li"], 0, "grid_leader", T0 + MIN),
            (9, None, 1, "team", T0),
        ]
        assert copies[0].seq < copies[1].seq
        await tx.add_alert_note(alert_id, ids["Li"], T0 + 2 * MIN, "on my way")
        await tx.add_alert_note(alert_id, None, T0 + MIN, "called")
        await tx.add_alert_note(alert_id, ids["Li"], T0 + 2 * MIN, "there")
        notes = await tx.alert_notes(alert_id)
        assert [(n.text, n.person_id, n.at) for n in notes] == [
            ("called", None, T0 + MIN),
            ("on my way", ids["Li"], T0 + 2 * MIN),
            ("there", ids["Li"], T0 + 2 * MIN),
        ]
        assert await tx.alert_notes(AlertId(other)) == []


# -- timers -----------------------------------------------------------------------------


async def test_a_timer_fires_once_and_cancelled_timers_never(store: AnyStore) -> None:
    async with store.transaction() as tx:
        assert await tx.next_timer_due() is None
        late = await tx.add_timer(T0 + 10 * MIN, "deadline", 5, "", T0)
        await tx.add_timers(
            [
                (T0 + 5 * MIN, "remind", 5, "1"),
                (T0 + 5 * MIN, "remind", 6, "1"),
                (T0 + 20 * MIN, "step", 7, "a"),
            ],
            T0,
        )
        assert await tx.count_timers() == 4
        assert await tx.next_timer_due() == T0 + 5 * MIN
        due = await tx.due_timers(T0 + 10 * MIN, 10)
        assert [(t.kind, t.ref, t.due_at) for t in due] == [
            ("remind", 5, T0 + 5 * MIN),
            ("remind", 6, T0 + 5 * MIN),
            ("deadline", 5, T0 + 10 * MIN),
        ]
        assert due[0].id < due[1].id and due[2].id == late
        assert len(await tx.due_timers(T0 + 10 * MIN, 2)) == 2
        assert await tx.claim_timer(due[0].id)
        assert not await tx.claim_timer(due[0].id)
        assert await tx.cancel_timers(5, ["deadline", "other"]) == 1
        assert not await tx.claim_timer(late)
        assert [t.ref for t in await tx.timers_of_kind("remind")] == [6]
        assert [t.arg for t in await tx.timers_of_kind("step")] == ["a"]
        assert await tx.cancel_timers(7, ["step"]) == 1
        assert await tx.next_timer_due() == T0 + 5 * MIN
        assert await tx.count_timers() == 1
        await tx.add_timers([], T0)


# -- inbox ------------------------------------------------------------------------------


async def test_an_inbound_event_is_stored_once_and_claimed_once(store: AnyStore) -> None:
    async with store.transaction() as tx:
        assert await tx.store_inbound("telegram", "u1", {"text": "早", "n": 1}, T0)
        assert not await tx.store_inbound("telegram", "u1", {"text": "again"}, T0)
        assert await tx.store_inbound("matrix", "u1", {"text": "other platform"}, T0)
        assert await tx.store_inbound("telegram", "u2", {}, T0)
    async with store.read() as tx:
        pending = await tx.pending_inbound(10)
        assert [payload for _, payload in pending] == [
            {"text": "早", "n": 1},
            {"text": "other platform"},
            {},
        ]
        assert len(await tx.pending_inbound(1)) == 1
    first, second, third = (inbox_id for inbox_id, _ in pending)
    async with store.transaction() as tx:
        assert await tx.claim_inbound([first, second], T0 + MIN) == {first, second}
        assert await tx.claim_inbound([first, second, third], T0 + MIN) == {third}
        assert await tx.claim_inbound([], T0) == set()
        await tx.mark_inbound_failed(second, "ValueError: bad")
        assert await tx.pending_inbound(10) == []
        assert await tx.purge_inbox(T0 + MIN) == 0
        assert await tx.purge_inbox(T0 + 2 * MIN) == 3
        # Purged: the same event id is new again.
        assert await tx.store_inbound("telegram", "u1", {}, T0)


async def test_a_page_of_inbound_events_is_stored_in_order_each_id_once(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        assert await tx.store_inbound("telegram", "u1", {"n": 0}, T0)
    page = [
        ("telegram", "u2", {"n": 1, "text": "早\x00"}),
        ("telegram", "u1", {"n": 2}),  # seen before this page
        ("matrix", "u1", {"n": 3}),  # the same id on another platform is another event
        ("telegram", "u3", {"n": 4}),
        ("telegram", "u2", {"n": 5}),  # earlier in this page
    ]
    async with store.transaction() as tx:
        assert await tx.store_inbound_many(page, T0) == [True, False, True, True, False]
        assert await tx.store_inbound_many([("telegram", "u4", {"n": 6})], T0) == [True]
        assert await tx.store_inbound_many([], T0) == []
    async with store.read() as tx:
        stored = [payload["n"] for _, payload in await tx.pending_inbound(10)]
    assert stored == [0, 1, 3, 4, 6]


# -- outbox -----------------------------------------------------------------------------


async def test_the_outbox_sends_by_priority_then_age_leaving_out_busy_chats(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        routine = await tx.enqueue("test", message("test:a", "routine"), T0)
        alert = await tx.enqueue("test", message("test:b", "alert", priority=Priority.ALERT), T0)
        bulk = await tx.enqueue("test", message("test:c", "bulk", priority=Priority.BULK), T0)
        reply = await tx.enqueue("test", message("test:a", "reply", priority=Priority.REPLY), T0)
        await tx.enqueue("other", message("other:a", "elsewhere"), T0 + MIN)
        later = await tx.enqueue("test", message("test:d"), T0 + 5 * MIN)
    async with store.read() as tx:
        rows = await tx.sendable("test", T0, 10)
        assert [r.id for r in rows] == [alert, reply, routine, bulk]
        assert [r.id for r in await tx.sendable("test", T0, 2)] == [alert, reply]
        skipped = await tx.sendable("test", T0, 10, {"test:a", "test:zz"})
        assert [r.id for r in skipped] == [alert, bulk]
        assert [r.id for r in await tx.sendable("test", T0 + 5 * MIN, 10)] == [
            alert, reply, routine, later, bulk,
        ]  # fmt: skip
        assert await tx.next_not_before("test", T0) == T0 + 5 * MIN
        assert await tx.outbox_depth() == {
            ("test", 0): 1,
            ("test", 1): 1,
            ("test", 2): 2,
            ("test", 3): 1,
            ("other", 2): 1,
        }
        oldest = await tx.oldest_pending(Priority.ALERT)
        assert oldest == ("test", T0)
        assert await tx.oldest_pending(Priority.ROUTINE) == ("test", T0)
    row = rows[0]
    assert (row.platform, row.chat, row.priority, row.state, row.attempts) == (
        "test", "test:b", Priority.ALERT, "pending", 0,
    )  # fmt: skip
    assert row.not_before == T0 and row.payload["text"] == "alert" and row.edit_of is None


async def test_a_message_round_trips_with_its_buttons_and_links(store: AnyStore) -> None:
    buttons = ((Button("✅ 我很好", "tok1", "👍"), Button("🆘", "tok2")),)
    sent = message(
        "test:a",
        "早上好",
        html="<b>早</b>",
        buttons=buttons,
        person_id=PersonId(3),
        purpose="checkin",
        ref=42,
        callback_id="cb",
        links=(("map", "https://example.org"),),
    )
    async with store.transaction() as tx:
        outbox_id = await tx.enqueue("test", sent, T0)
        row = await tx.outbox_row(outbox_id)
    assert row is not None
    assert (row.person_id, row.purpose, row.ref) == (3, "checkin", 42)
    delivery = row.delivery()
    assert (delivery.text, delivery.html, delivery.callback_id) == ("早上好", "<b>早</b>", "cb")
    assert delivery.buttons == buttons and delivery.links == (("map", "https://example.org"),)


async def test_sent_retried_failed_and_cancelled_messages_leave_the_queue(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        ids = [await tx.enqueue("test", message(f"test:{n}"), T0) for n in range(5)]
        await tx.mark_sent(ids[0], "m0", T0 + MIN)
        await tx.mark_retry(ids[1], "timeout", T0 + 10 * MIN, T0 + MIN)
        await tx.mark_failed(ids[2], "blocked", T0 + MIN)
        assert await tx.cancel_pending([ids[0], ids[3]]) == 1
        assert await tx.cancel_pending([]) == 0
    async with store.read() as tx:
        assert [r.id for r in await tx.sendable("test", T0 + 5 * MIN, 10)] == [ids[4]]
        assert [r.id for r in await tx.sendable("test", T0 + 10 * MIN, 10)] == [ids[1], ids[4]]
        states = [(await tx.outbox_row(i)) for i in ids]
        assert [(s.state, s.attempts) for s in states if s] == [
            ("sent", 1), ("pending", 1), ("failed", 1), ("cancelled", 0), ("pending", 0),
        ]  # fmt: skip
        assert states[0] is not None and states[0].platform_message_id == "m0"
        assert await tx.delivery_attempts(ids[0]) == [(True, "")]
        assert await tx.delivery_attempts(ids[1]) == [(False, "timeout")]
        assert await tx.delivery_attempts(ids[2]) == [(False, "blocked")]
        by_message = await tx.outbox_by_message("test", "m0")
        assert by_message is not None and by_message.id == ids[0]
        assert await tx.outbox_by_message("test", "nope") is None
        assert await tx.replied_outbox_id("test", "test:0", "m0") == ids[0]
        assert await tx.replied_outbox_id("test", "test:1", "m0") is None
        assert await tx.next_not_before("test", T0 + 5 * MIN) == T0 + 10 * MIN


async def test_a_row_being_delivered_is_not_cancelled_until_its_delivery_is_over(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        first, second = [await tx.enqueue("test", message("test:1"), T0) for _ in range(2)]
    with store.sending(first):
        # The platform has it in hand: an edit arriving now must follow it, not
        # replace it (the delivered copy would keep its buttons, unknown to the edit).
        async with store.transaction() as tx:
            assert await tx.cancel_pending([first, second]) == 1
    async with store.transaction() as tx:
        assert [(r.id, r.state) for r in await tx.sendable("test", T0, 10)] == [(first, "pending")]
        assert await tx.cancel_pending([first]) == 1  # the delivery failed: now it may go


async def test_an_edit_waits_for_the_message_it_edits(store: AnyStore) -> None:
    async with store.transaction() as tx:
        original = await tx.enqueue("test", message("test:a", "prompt"), T0)
        edit = await tx.enqueue("test", message("test:a", "done", edit_of=original), T0)
        other = await tx.enqueue("test", message("test:b", "x"), T0)
        failed = await tx.enqueue("test", message("test:c", "y"), T0)
        edit_of_failed = await tx.enqueue("test", message("test:c", "z", edit_of=failed), T0)
    async with store.read() as tx:
        assert [r.id for r in await tx.sendable("test", T0, 10)] == [original, other, failed]
    async with store.transaction() as tx:
        await tx.mark_sent(original, "m1", T0)
        await tx.mark_failed(failed, "gone", T0)
    async with store.read() as tx:
        rows = await tx.sendable("test", T0, 10)
        assert [r.id for r in rows] == [edit, other, edit_of_failed]
        assert rows[0].edit_of == original and rows[0].edit_target_message_id == "m1"
        assert rows[0].delivery().edit_of == "m1"
        assert rows[2].edit_target_message_id == ""
        # outbox_for reads originals only.
        assert await tx.outbox_for("", 0) == [
            r for r in [await tx.outbox_row(i) for i in (original, other, failed)] if r
        ]


async def test_outbox_rows_are_found_by_purpose_in_the_order_asked(store: AnyStore) -> None:
    async with store.transaction() as tx:
        reminder = await tx.enqueue("test", message("test:a", purpose="reminder", ref=5), T0)
        prompt = await tx.enqueue("test", message("test:a", purpose="checkin", ref=5), T0)
        await tx.enqueue("test", message("test:a", purpose="checkin", ref=6), T0)
        await tx.enqueue("test", message("test:a", purpose="checkin", ref=5, edit_of=prompt), T0)
        assert [r.id for r in await tx.outbox_for("checkin", 5)] == [prompt]
        both = await tx.outbox_for_each(["checkin", "reminder"], 5)
        assert [r.id for r in both] == [prompt, reminder]
        assert await tx.outbox_for_each([], 5) == []


async def test_many_messages_queue_in_the_order_given(store: AnyStore) -> None:
    async with store.transaction() as tx:
        await tx.enqueue_many(
            [("test", message(f"test:{n}", str(n))) for n in range(700)]
            + [("other", message("other:x", "x"))],
            T0,
        )
        rows = await tx.sendable("test", T0, 1000)
    assert [r.payload["text"] for r in rows] == [str(n) for n in range(700)]
    assert [r.id for r in rows] == sorted(r.id for r in rows)


@pytest.mark.parametrize("made_as_read", [False, True], ids=["list", "generator"])
async def test_a_rounds_worth_of_messages_and_timers_goes_in_whole_and_in_order(
    store: AnyStore, made_as_read: bool
) -> None:
    # Large enough for the bulk path (PostgreSQL: COPY; SQLite: more than one chunk when
    # made as read), with every field set somewhere.
    many = 2_500
    async with store.transaction() as tx:
        first = await tx.enqueue("test", message("test:0", "first"), T0)
        made = (
            (
                "test",
                message(
                    f"test:{n}",
                    f"早 {n}\N{CHECK MARK}",
                    priority=Priority.ALERT if n % 2 else Priority.ROUTINE,
                    person_id=PersonId(n) if n % 3 else None,
                    purpose="checkin",
                    ref=n,
                    edit_of=first if n == 7 else None,
                    buttons=((Button("好", f"ok.{n}", "✅"),),),
                ),
            )
            for n in range(many)
        )
        await tx.enqueue_many(made if made_as_read else list(made), T0 + MIN)
        await tx.add_timers(
            [(T0 + n * MIN, "remind" if n % 2 else "close", n, str(n)) for n in range(many)], T0
        )
    async with store.read() as tx:
        found = await tx.outbox_for_refs(["checkin"], list(range(many)))
        rows = {ref: only for ref, (only,) in found.items()}
        edit = await tx.outbox_row(OutboxId(first + 8))
        due = await tx.due_timers(T0 + many * MIN, 2 * many)
        assert await tx.count_timers() == many
    assert sorted(rows) == [n for n in range(many) if n != 7]
    row = rows[5]
    assert row.id == first + 6 and row.chat == "test:5" and row.person_id == 5
    assert row.priority == Priority.ALERT and row.payload["text"] == "早 5\N{CHECK MARK}"
    assert row.buttons() == ((Button("好", "ok.5", "✅"),),)
    assert row.not_before == T0 + MIN and row.state == "pending"
    assert rows[6].person_id is None and rows[6].priority == Priority.ROUTINE
    assert edit is not None and edit.edit_of == first and edit.ref == 7
    assert [(t.ref, t.kind, t.arg, t.due_at) for t in due[:3]] == [
        (0, "close", "0", T0),
        (1, "remind", "1", T0 + MIN),
        (2, "close", "2", T0 + 2 * MIN),
    ]
    assert [t.id for t in due] == sorted(t.id for t in due)


async def test_a_noted_delivery_is_written_before_anything_reads_the_queue(
    store: AnyStore, db: str
) -> None:
    async with store.transaction() as tx:
        first = await tx.enqueue("test", message("test:a"), T0)
        second = await tx.enqueue("test", message("test:b"), T0)
        third = await tx.enqueue("test", message("test:c"), T0)
    store.record_sent(first, "m1", T0 + MIN)
    async with store.read() as tx:
        assert [r.id for r in await tx.sendable("test", T0, 10)] == [second, third]
        row = await tx.outbox_row(first)
        assert row is not None and row.state == "sent" and row.platform_message_id == "m1"
    store.record_sent(second, "m2", T0 + MIN)
    await store.flush()
    await store.flush()  # nothing left: nothing written twice
    store.record_sent(third, "m3", T0 + MIN)
    await store.close()  # written at close too
    async with open_any(db) as reopened, reopened.read() as tx:
        assert await tx.sendable("test", T0, 10) == []
        assert await tx.delivery_attempts(second) == [(True, "")]
        assert await tx.prompt_delivered_at(CheckinId(0)) is None
    await store.open()  # for the fixture's close


# -- needs, kv, audit, counts ----------------------------------------------------------


async def test_a_need_is_claimed_once_and_closed_once_with_its_history(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang", phone="1"), person("Li", "team_member"))
    async with store.transaction() as tx:
        need_id = await tx.create_need(ids["Wang"], "medicine", "药吃完了", "medicine", None, T0)
        need = await tx.need(need_id)
        assert need is not None and need.state == "open" and need.created_by is None
        assert (need.kind, need.text, need.team, need.created_at) == (
            "medicine", "药吃完了", "medicine", T0,
        )  # fmt: skip
        assert await tx.claim_need(need_id, ids["Li"], T0 + MIN)
        assert not await tx.claim_need(need_id, ids["Wang"], T0 + 2 * MIN)
        assert await tx.close_need(need_id, ids["Li"], T0 + 3 * MIN, "done")
        assert not await tx.close_need(need_id, ids["Li"], T0 + 4 * MIN, "cancelled")
        done = await tx.need(need_id)
        assert done is not None and done.state == "done" and done.claimed_by == ids["Li"]
        assert (done.claimed_at, done.closed_by, done.closed_at) == (
            T0 + MIN, ids["Li"], T0 + 3 * MIN,
        )  # fmt: skip
        other = await tx.create_need(ids["Wang"], "repair", "灯坏了", "", ids["Li"], T0)
        assert await tx.close_need(other, ids["Li"], T0 + MIN, "cancelled")
        closed = await tx.need(other)
        assert closed is not None and closed.claimed_by == ids["Li"] and closed.claimed_at
        await tx.need_history(other, T0 + 2 * MIN, None, "note", "called back")
        rows = await tx.needs_export_rows()
        assert await tx.need(10_000) is None
    assert [(r["id"], r["resident"], r["history"], r["claimed_by"]) for r in rows] == [
        (need_id, "Wang", "opened > claimed > done", "Li"),
        (other, "Wang", "opened > cancelled > note", "Li"),
    ]
    assert rows[0]["created_at"] == T0.timestamp() and rows[1]["created_by"] == "Li"


async def test_kv_audit_and_day_counts(store: AnyStore) -> None:
    ids = await add_people(
        store, person("Wang", grid="G1"), person("Chen", grid="G1"), person("Zhao", grid="G2")
    )
    async with store.transaction() as tx:
        assert await tx.kv_get("telegram.offset") is None
        await tx.kv_set("telegram.offset", "5")
        await tx.kv_set("telegram.offset", "6")
        assert await tx.kv_get("telegram.offset") == "6"
        await tx.audit(T0, "alert.ack", "alert:1", ids["Wang"], "by chat")
        await tx.audit(T0, "alert.resolve", "alert:1")
        await tx.audit(T0, "alert.ack", "alert:2")
        assert await tx.audit_of("alert:1") == [("alert.ack", "by chat"), ("alert.resolve", "")]
        assert await tx.audit_kinds("alert.ack") == 2 and await tx.audit_kinds("x") == 0
        opened = await tx.open_checkins(
            "daily", T0, T0, T0 + MIN, [ids["Wang"], ids["Chen"], ids["Zhao"]]
        )
        await tx.set_checkin_state(
            opened[ids["Wang"]], CheckinState.OK, only_if=[CheckinState.SENT]
        )
        await tx.count_reminder(opened[ids["Chen"]])
        await tx.set_checkin_state(
            opened[ids["Zhao"]], CheckinState.HELP, only_if=[CheckinState.SENT]
        )
        counts = await tx.day_counts(T0, T0 + 24 * 60 * MIN)
        assert await tx.day_counts(T0 + MIN, T0 + 2 * MIN) == []
    keys = ("grid", "pending", "answered", "reminded", "alerted", "help", "total")
    assert [tuple(c[k] for k in keys) for c in counts] == [
        ("G1", 1, 1, 1, 0, 0, 2),
        ("G2", 0, 0, 0, 0, 1, 1),
    ]
    assert [set(c) for c in counts] == [set(keys), set(keys)]


# -- a page of answers, read and written as sets (workflows/answers.py) -----------------


async def test_a_pages_reads_of_people_and_their_chats_are_the_one_by_one_reads(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Li", "grid_leader"))
    wang, chen, li = ids["Wang"], ids["Chen"], ids["Li"]
    async with store.transaction() as tx:
        await tx.bind_identity(wang, "test", "w", ChatRef("test:w"), T0)
        await tx.bind_identity(wang, "other", "w2", ChatRef("other:w2"), T0 + MIN)
        await tx.bind_identity(chen, "test", "c", ChatRef("test:c"), T0)
        found = await tx.identities_at("test", ["w", "c", "stranger"])
        assert found == {"w": await tx.identity("test", "w"), "c": await tx.identity("test", "c")}
        assert await tx.identities_at("other", ["w"]) == {}
        assert await tx.identities_at("test", []) == {}
        people = await tx.people_by_id([wang, li, PersonId(10_000)])
        assert people == {wang: await tx.person(wang), li: await tx.person(li)}
        assert await tx.people_by_id([]) == {}
        each = await tx.identities_of_each([wang, chen, li])
        assert each == {wang: await tx.identities_of(wang), chen: await tx.identities_of(chen)}
        assert [i.platform for i in each[wang]] == ["test", "other"]


async def test_a_pages_reads_of_checkins_alerts_questions_and_prompts_are_the_one_by_one_reads(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"))
    wang, chen, zhao = ids["Wang"], ids["Chen"], ids["Zhao"]
    everyone = [wang, chen, zhao]
    async with store.transaction() as tx:
        first = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen])
        second = await tx.open_checkins("x", T0 + MIN, T0 + MIN, T0 + 60 * MIN, [wang])
        await tx.set_checkin_state(first[chen], CheckinState.OK, only_if=[CheckinState.SENT])
        opened = await tx.open_checkins_of_each(everyone)
        assert opened == {wang: await tx.open_checkins_of(wang)}
        assert [c.id for c in opened[wang]] == [second[wang], first[wang]]  # newest first
        for alert in (AlertReason.MISSED, AlertReason.HELP):
            await tx.create_alert(wang, None, alert, False, "standard", T0, "")
        resolved = await tx.create_alert(chen, None, AlertReason.MISSED, False, "standard", T0, "")
        await tx.resolve_alert(resolved, None, T0, "ok")
        alerts = await tx.unresolved_alert_of_each(everyone)
        assert alerts == {wang: await tx.unresolved_alert_of(wang)}
        assert alerts[wang].reason is AlertReason.HELP
        asked = [
            await tx.add_message(wang, T0 + n * MIN, "text", "头晕", "concern") for n in (1, 2)
        ]
        await tx.add_message(chen, T0, "text", "头晕", "concern")  # its question was answered
        for message_id in asked:
            await tx.add_timer(T0 + 10 * MIN, "concern", message_id, "", T0)
        concerns = await tx.pending_concerns(everyone)
        assert concerns == {wang: await tx.pending_concern(wang)} == {wang: asked[1]}
        ref = first[wang]
        reminder = await tx.enqueue("test", message("test:w", purpose="reminder", ref=ref), T0)
        prompt = await tx.enqueue("test", message("test:w", purpose="checkin", ref=ref), T0)
        await tx.enqueue("test", message("test:w", purpose="checkin", ref=ref, edit_of=prompt), T0)
        other = await tx.enqueue("test", message("test:c", purpose="checkin", ref=first[chen]), T0)
        purposes = ["checkin", "reminder"]
        refs = await tx.outbox_for_refs(purposes, [ref, first[chen], 10_000])
        assert refs == {
            ref: await tx.outbox_for_each(purposes, ref),
            first[chen]: await tx.outbox_for_each(purposes, first[chen]),
        }
        assert [r.id for r in refs[ref]] == [prompt, reminder]
        assert [r.id for r in refs[first[chen]]] == [other]
        for read in (tx.open_checkins_of_each, tx.unresolved_alert_of_each, tx.pending_concerns):
            assert await read([]) == {}
        assert await tx.outbox_for_refs(purposes, []) == {}


async def test_a_batch_of_closing_windows_reads_what_one_by_one_reads(store: AnyStore) -> None:
    ids = await add_people(
        store,
        person("Wang"),
        person("Chen"),
        person("Zhao"),
        person("Son", "family", family_of_name="Wang"),
        person("Daughter", "family", family_of_name="Wang"),
        person("Li", "grid_leader"),
        person("Ma", "grid_leader"),
    )
    wang, chen, zhao, li, ma = (ids[n] for n in ("Wang", "Chen", "Zhao", "Li", "Ma"))
    everyone = [wang, chen, zhao]
    async with store.transaction() as tx:
        first = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen, zhao])
        earlier = await tx.open_checkins("daily", T0 - 1440 * MIN, T0, T0, [wang])
        await tx.set_checkin_state(earlier[wang], CheckinState.MISSED, only_if=[CheckinState.SENT])
        await tx.set_checkin_state(
            first[chen], CheckinState.OK, only_if=[CheckinState.SENT], answered_at=T0 + MIN
        )
        await tx.add_message(zhao, T0 + 2 * MIN, "text", "好", "fine")
        refs = [first[wang], first[chen], first[zhao], CheckinId(10_000)]
        checkins = await tx.checkins_by_id(refs)
        assert checkins == {c: await tx.checkin(c) for c in refs[:3]}
        for n, ref in enumerate(refs[:2]):
            prompt = await tx.enqueue("test", message("test:x", purpose="checkin", ref=ref), T0)
            await tx.enqueue("test", message("test:x", purpose="checkin", ref=ref), T0)
            await tx.mark_sent(prompt, f"m{n}", T0 + (n + 1) * MIN)
        delivered = await tx.prompts_delivered_at(refs)
        assert delivered == {c: await tx.prompt_delivered_at(c) for c in refs[:2]}
        family = await tx.family_of_each(everyone)
        assert family == {wang: await tx.family_of(wang)}
        assert [p.name for p in family[wang]] == ["Son", "Daughter"]
        heard = await tx.last_heard_each(everyone)
        assert heard == {chen: await tx.last_heard(chen), zhao: await tx.last_heard(zhao)}
        since = T0 - 7 * 1440 * MIN
        misses = await tx.misses_since_each(everyone, since)
        assert misses == {wang: await tx.misses_since(wang, since)} == {wang: 1}
        await tx.add_absence(li, T0 + 60 * MIN, "leave", None, T0)
        ended = await tx.add_absence(ma, T0 + 60 * MIN, "leave", None, T0)
        await tx.end_absence(ended, T0 + MIN)
        assert await tx.away_among([li, ma, wang], T0 + 2 * MIN) == {li}
        assert await tx.away_among([li], T0 + 61 * MIN) == set()
        assert await tx.checkins_by_id([]) == await tx.prompts_delivered_at([]) == {}
        assert await tx.family_of_each([]) == await tx.last_heard_each([]) == {}
        assert await tx.misses_since_each([], since) == {}
        assert await tx.away_among([], T0) == set()


async def test_a_batch_of_closing_windows_writes_what_one_by_one_writes(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Li", "grid_leader"))
    wang, chen, li = ids["Wang"], ids["Chen"], ids["Li"]
    async with store.transaction() as tx:
        timers = [await tx.add_timer(T0, "close", n, "", T0) for n in (1, 2, 3)]
        assert await tx.claim_timers([timers[0], timers[2], 10_000]) == {timers[0], timers[2]}
        assert await tx.claim_timers(timers) == {timers[1]}
        assert await tx.claim_timers([]) == set()
        first = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen])
        await tx.set_checkin_state(first[chen], CheckinState.OK, only_if=[CheckinState.SENT])
        open_ = [CheckinState.SENT, CheckinState.REMINDED]
        missed = await tx.set_checkin_states(
            [first[wang], first[chen]], CheckinState.MISSED, only_if=open_
        )
        assert missed == {first[wang]}
        assert (await tx.checkin(first[wang])).state is CheckinState.MISSED
        assert (await tx.checkin(first[chen])).state is CheckinState.OK
        assert await tx.set_checkin_states([], CheckinState.MISSED, only_if=open_) == set()
        single = await tx.create_alert(
            wang, first[wang], AlertReason.MISSED, False, "standard", T0, "", misses=1
        )
        new = [
            NewAlert(wang, first[wang], AlertReason.MISSED, False, "standard", T0, misses=1),
            NewAlert(chen, None, AlertReason.HELP, True, "urgent", T0 + MIN, "救命", position=2),
        ]
        made = await tx.create_alerts(new)
        assert made == [single + 1, single + 2]
        assert await tx.create_alerts([]) == []
        a, b = await tx.alert(made[0]), await tx.alert(made[1])
        alone = await tx.alert(single)
        assert a == replace(alone, id=made[0])
        assert (b.person_id, b.reason, b.urgent, b.policy, b.position, b.detail, b.misses) == (
            chen,
            AlertReason.HELP,
            True,
            "urgent",
            2,
            "救命",
            0,
        )
        assert b.state is AlertState.OPEN and b.opened_at == T0 + MIN
        one = await tx.enqueue("test", message("test:l", "alone"), T0)
        rows = [
            ("test", message("test:l", f"copy {n}", purpose="alert", ref=made[0])) for n in (1, 2)
        ]
        outbox = await tx.enqueue_each(rows, T0)
        assert outbox == [one + 1, one + 2]
        assert [(await tx.outbox_row(o)).payload["text"] for o in outbox] == ["copy 1", "copy 2"]
        assert await tx.enqueue_each([], T0) == []
        await tx.add_notification(made[1], li, one, 1, "grid_leader", T0)
        await tx.add_notifications(
            [(made[0], li, outbox[0], 1, "grid_leader", T0), (made[0], None, outbox[1], 1, "x", T0)]
        )
        await tx.add_notifications([])
        copies = await tx.notifications(made[0])
        assert [(c.person_id, c.outbox_id, c.step, c.role) for c in copies] == [
            (li, outbox[0], 1, "grid_leader"),
            (None, outbox[1], 1, "x"),
        ]


async def test_a_pages_checkins_are_answered_together_only_from_the_states_given(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"))
    wang, chen, zhao = ids["Wang"], ids["Chen"], ids["Zhao"]
    open_states = [CheckinState.SENT, CheckinState.REMINDED]
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen, zhao])
        await tx.count_reminder(opened[chen])
        await tx.set_checkin_state(opened[zhao], CheckinState.MISSED, only_if=open_states)
        answers = [(opened[wang], "text"), (opened[chen], "button"), (opened[zhao], "voice")]
        answered = await tx.answer_checkins(
            answers, CheckinState.OK, only_if=open_states, answered_at=T0 + MIN
        )
        assert answered == {opened[wang], opened[chen]}
        again = await tx.answer_checkins(
            answers, CheckinState.OK, only_if=open_states, answered_at=T0 + 2 * MIN
        )
        assert again == set()
        outcomes = {
            (c.person_id, c.state, c.answered_at)
            for c in [await tx.checkin(opened[p]) for p in (wang, chen, zhao)]
            if c is not None
        }
        assert outcomes == {
            (wang, CheckinState.OK, T0 + MIN),
            (chen, CheckinState.OK, T0 + MIN),
            (zhao, CheckinState.MISSED, None),
        }
        assert (
            await tx.answer_checkins([], CheckinState.OK, only_if=open_states, answered_at=T0)
            == set()
        )


async def test_a_pages_messages_audit_rows_and_cancelled_timers_are_written_together(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"))
    wang, chen = ids["Wang"], ids["Chen"]
    async with store.transaction() as tx:
        await tx.add_messages(
            [
                (wang, T0, "text", "好", "fine"),
                (chen, T0, "voice", "", "other"),
                (wang, T0 + MIN, "text", "ok", "fine"),
            ]
        )
        said = await tx.messages_of(wang)
        assert [(s.text, s.intent, s.at) for s in said] == [
            ("ok", "fine", T0 + MIN),
            ("好", "fine", T0),
        ]
        assert said[1].id < said[0].id  # in the order given
        assert [s.kind for s in await tx.messages_of(chen)] == ["voice"]
        await tx.add_messages([])
        await tx.audit_many(
            [
                (T0, "checkin.ok", "checkin:1", wang, "text"),
                (T0, "checkin.ok", "checkin:1", None, ""),
            ]
        )
        await tx.audit_many([])
        assert await tx.audit_of("checkin:1") == [("checkin.ok", "text"), ("checkin.ok", "")]
        for ref in (1, 2, 3):
            for kind in ("remind", "close", "step"):
                await tx.add_timer(T0 + MIN, kind, ref, "", T0)
        assert await tx.cancel_timers_of([1, 2], ["remind", "close"]) == 4
        assert await tx.cancel_timers_of([], ["remind"]) == 0
        left = sorted((t.ref, t.kind) for t in await tx.due_timers(T0 + MIN, 100))
        assert left == [(1, "step"), (2, "step"), (3, "close"), (3, "remind"), (3, "step")]


# -- history ----------------------------------------------------------------------------


async def test_what_a_resident_said_and_when_they_were_last_heard(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"))
    wang = ids["Wang"]
    async with store.transaction() as tx:
        assert await tx.last_heard(wang) is None
        first = await tx.add_message(wang, T0, "text", "头有点晕", "concern")
        second = await tx.add_message(wang, T0 + 5 * MIN, "voice", "", "")
        third = await tx.add_message(wang, T0 + 5 * MIN, "text", "好了", "ok")
        said = await tx.message(first)
        assert said is not None and (said.text, said.intent, said.at) == ("头有点晕", "concern", T0)
        assert [s.id for s in await tx.messages_of(wang)] == [third, second, first]
        assert [s.id for s in await tx.messages_of(wang, 1)] == [third]
        assert await tx.messages_of(ids["Chen"]) == []
        assert await tx.last_heard(wang) == T0 + 5 * MIN
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang])
        await tx.set_checkin_state(
            opened[wang], CheckinState.OK, only_if=[CheckinState.SENT], answered_at=T0 + 9 * MIN
        )
        assert await tx.last_heard(wang) == T0 + 9 * MIN
        assert await tx.pending_concern(wang) is None
        await tx.add_timer(T0 + 10 * MIN, "concern", first, "", T0)
        assert await tx.pending_concern(wang) == first
        assert await tx.message(10_000) is None


async def test_a_nul_in_free_text_is_stored_not_refused(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"))
    async with store.transaction() as tx:
        said = await tx.add_message(ids["Wang"], T0, "text", "a\x00b", "")
        back = await tx.message(said)
    assert back is not None and back.text in ("a\x00b", "a\ufffdb")


# -- dead letters -----------------------------------------------------------------------


async def test_dead_letters_are_kept_once_per_platform_id_and_bounded(store: AnyStore) -> None:
    async with store.transaction() as tx:
        assert await tx.add_dead_letter("telegram", "17", "{bad", "no json", T0)
        assert not await tx.add_dead_letter("telegram", "17", "{bad", "no json", T0 + MIN)
        assert await tx.add_dead_letter("matrix", "17", "x", "why", T0)
        # Without a platform id, every one is kept.
        assert await tx.add_dead_letter("telegram", "", "a", "r" * 2000, T0)
        assert await tx.add_dead_letter("telegram", "", "y" * (MAX_RAW + 10), "r", T0 + MIN)
        newest = await tx.dead_letters()
        assert [d.platform for d in newest] == ["telegram", "telegram", "matrix", "telegram"]
        assert newest[0].raw.startswith("y" * MAX_RAW) and "10 more characters" in newest[0].raw
        assert len(newest[1].reason) == 500 and newest[3].received_at == T0
        assert [d.ref for d in await tx.dead_letters("matrix")] == ["17"]
        assert len(await tx.dead_letters("telegram", limit=2)) == 2
        assert await tx.dead_letter_counts() == {"telegram": 3, "matrix": 1}


# -- the store itself -------------------------------------------------------------------


async def test_a_failed_transaction_leaves_nothing_and_a_savepoint_rolls_back_alone(
    store: AnyStore,
) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.kv_set("a", "1")
            raise RuntimeError("workflow failed")
    async with store.transaction() as tx:
        assert await tx.kv_get("a") is None
        await tx.kv_set("b", "1")
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.kv_set("c", "1")
                raise RuntimeError("one event failed")
        async with tx.savepoint():
            await tx.kv_set("d", "1")
    async with store.read() as tx:
        assert [await tx.kv_get(k) for k in "abcd"] == [None, "1", None, "1"]


async def test_a_broken_statement_in_a_savepoint_does_not_spoil_the_transaction(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"))
    async with store.transaction() as tx:
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            async with tx.savepoint():
                await tx.add_invite("X", ids["Wang"], None, T0, T0 + MIN)
                await tx.add_invite("X", ids["Wang"], None, T0, T0 + MIN)
        await tx.kv_set("after", "yes")
    async with store.read() as tx:
        assert await tx.kv_get("after") == "yes"
        assert await tx.open_invite("X", T0) is None


async def test_the_store_reports_its_schema_and_health(store: AnyStore, db: str) -> None:
    assert await store.schema_version() == SQLITE_LATEST
    assert await store.ping()
    await store.write_check(T0)
    await store.checkpoint()
    async with store.read() as tx:
        assert await tx.kv_get("health.write_check") == T0.isoformat()
    async with open_any(db) as again:  # opening again changes nothing
        assert await again.schema_version() == SQLITE_LATEST


def test_both_stores_know_the_same_schema_versions() -> None:
    # A SQLite migration needs its PostgreSQL twin in store/postgres/migrations.py.
    assert PG_LATEST == SQLITE_LATEST


async def test_a_stores_write_transactions_run_one_at_a_time(store: AnyStore) -> None:
    inside = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.kv_set("n", "1")
            inside.set()
            for _ in range(20):  # give the second every chance to barge in
                await asyncio.sleep(0)
            order.append("first done")

    async def second() -> None:
        await inside.wait()
        async with store.transaction() as tx:
            order.append("second in")
            assert await tx.kv_get("n") == "1"  # the first has committed

    await asyncio.gather(first(), second())
    assert order == ["first done", "second in"]


# -- privacy: consent, retention, a person's data, erasure ------------------------------


async def test_the_latest_consent_decision_counts_and_every_one_is_kept(store: AnyStore) -> None:
    ids = await add_people(
        store, person("Wang"), person("Son", "family", grid="", family_of_name="Wang")
    )
    wang, son = ids["Wang"], ids["Son"]
    async with store.transaction() as tx:
        assert await tx.consent_decision(son, wang) is None
        await tx.add_consent(son, wang, "asked", "", T0)
        await tx.add_consent(son, wang, "given", "question-1", T0 + MIN, "button")
        await tx.add_consent(son, 0, "refused", "", T0 + 2 * MIN)
        await tx.add_consent(wang, 0, "given", "notice-abc", T0)
        assert await tx.consent_decision(son, wang) == "given"
        assert await tx.consent_decision(son, 0) == "refused"
        rows = await tx.consents_of(son)
        assert [(c.about, c.decision, c.version, c.at) for c in rows] == [
            (wang, "asked", "", T0),
            (wang, "given", "question-1", T0 + MIN),
            (0, "refused", "", T0 + 2 * MIN),
        ]
        assert rows[1].detail == "button"


async def test_contacts_never_asked_are_those_with_a_chat_and_no_consent_row(
    store: AnyStore,
) -> None:
    ids = await add_people(
        store,
        person("Wang"),
        person("Son", "family", grid="", family_of_name="Wang"),
        person("Daughter", "family", grid="", family_of_name="Wang"),
        person("Ma", "team_member"),
        person("Li", "grid_leader"),
    )
    async with store.transaction() as tx:
        for name in ("Son", "Ma", "Li"):
            await tx.bind_identity(ids[name], "test", name, ChatRef(f"test:{name}"), T0)
        assert await tx.contacts_never_asked(10) == sorted([ids["Son"], ids["Ma"]])
        assert len(await tx.contacts_never_asked(1)) == 1
        await tx.add_consent(ids["Son"], ids["Wang"], "asked", "", T0)
        assert await tx.contacts_never_asked(10) == [ids["Ma"]]


async def test_a_key_is_claimed_by_one_of_two_who_expect_the_same_old_value(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        assert await tx.kv_claim("retention.day", None, "2026-11-23")
        assert not await tx.kv_claim("retention.day", None, "2026-11-23")
        assert not await tx.kv_claim("retention.day", "2026-11-22", "2026-11-24")
        assert await tx.kv_claim("retention.day", "2026-11-23", "2026-11-24")
        assert await tx.kv_get("retention.day") == "2026-11-24"


async def test_a_default_is_set_once_and_then_read(store: AnyStore) -> None:
    async with store.transaction() as tx:
        assert await tx.kv_setdefault("actions.key", "first") == "first"
        assert await tx.kv_setdefault("actions.key", "second") == "first"
    async with store.read() as tx:
        assert await tx.kv_get("actions.key") == "first"


async def _history(store: AnyStore) -> dict[str, int]:
    """Wang's old, closed history and a newer open one; Li answers for Wang."""
    ids = await add_people(
        store,
        person("Wang", phone="138", address="3栋402", building="3栋"),
        person("Li", "grid_leader"),
    )
    wang, li = ids["Wang"], ids["Li"]
    old, new = T0, T0 + timedelta(days=100)
    async with store.transaction() as tx:
        await tx.bind_identity(wang, "test", "w", ChatRef("test:w"), old)
        checkins = await tx.open_checkins("daily", old, old, old + 60 * MIN, [wang])
        await tx.set_checkin_state(
            checkins[wang], CheckinState.HELP, only_if=[CheckinState.SENT], answer="胸口疼"
        )
        said = await tx.add_message(wang, old, "text", "胸口疼", "urgent")
        alert = await tx.create_alert(
            wang, checkins[wang], AlertReason.HELP, True, "standard", old, "胸口疼"
        )
        await tx.add_alert_note(alert, li, old + MIN, "我马上过去")
        copy = await tx.enqueue(
            "test", message("test:li", "王秀英 3栋402 138", purpose="alert", ref=alert), old
        )
        await tx.mark_sent(copy, "m1", old)
        await tx.add_notification(alert, li, copy, 1, "grid_leader", old)
        await tx.resolve_alert(alert, li, old + 5 * MIN, "visited")
        need = await tx.create_need(wang, "medicine", "降压药没了", "medicine", wang, old)
        await tx.close_need(need, li, old + MIN, "done")
        await tx.audit(old, "reveal", f"person:{wang}", li, "address, phone | claimed need #1")
        await tx.audit(old, "alert.opened.help", f"alert:{alert}", None, "胸口疼")
        recent = await tx.add_message(wang, new, "text", "今天还好", "fine")
        open_alert = await tx.create_alert(
            wang, None, AlertReason.MISSED, False, "standard", new, ""
        )
    return {
        "wang": wang,
        "li": li,
        "alert": alert,
        "need": need,
        "said": said,
        "recent": recent,
        "copy": copy,
        "open_alert": open_alert,
    }


async def test_retention_reduces_old_texts_to_their_classification_and_keeps_open_things(
    store: AnyStore,
) -> None:
    ids = await _history(store)
    now = T0 + timedelta(days=101)
    async with store.transaction() as tx:
        done = await tx.apply_retention(
            T0 - timedelta(days=1), now - timedelta(days=90), now - timedelta(days=730), T0
        )
        assert done["message_texts_reduced"] == 1 and done["sent_texts_blanked"] == 1
        assert done["alerts_deleted"] == 0 and done["audit_deleted"] == 0
        said = await tx.message(ids["said"])
        assert said is not None and said.text == "urgent"
        recent = await tx.message(ids["recent"])
        assert recent is not None and recent.text == "今天还好"
        assert await tx.alert_notes(AlertId(ids["alert"])) == []
        old_alert = await tx.alert(ids["alert"])
        assert old_alert is not None and old_alert.detail == "help"
        need = await tx.need(ids["need"])
        assert need is not None and need.text == "medicine"
        copy = await tx.outbox_row(ids["copy"])
        assert copy is not None and copy.payload["text"] == ""
        # Run again the next day: nothing left to reduce.
        again = await tx.apply_retention(
            now - timedelta(days=90), now - timedelta(days=89), now - timedelta(days=730), T0
        )
        assert again["message_texts_reduced"] == 0


async def test_retention_deletes_closed_records_older_than_the_limit_but_no_open_alert(
    store: AnyStore,
) -> None:
    ids = await _history(store)
    later = T0 + timedelta(days=800)
    async with store.transaction() as tx:
        done = await tx.apply_retention(
            T0 - timedelta(days=1), later, later - timedelta(days=730), later
        )
        assert done["alerts_deleted"] == 1 and done["checkins_deleted"] == 1
        assert done["needs_deleted"] == 1 and done["messages_deleted"] == 1
        assert done["sent_deleted"] == 1 and done["audit_deleted"] == 2
        assert await tx.alert(ids["alert"]) is None
        assert await tx.need(ids["need"]) is None
        assert await tx.alert(ids["open_alert"]) is not None  # open: kept whatever its age
        assert await tx.message(ids["recent"]) is not None


async def test_a_persons_data_holds_everything_kept_about_them(store: AnyStore) -> None:
    ids = await _history(store)
    async with store.transaction() as tx:
        await tx.add_consent(ids["wang"], 0, "given", "notice-1", T0)
        data = await tx.person_data(ids["wang"])
    assert data["profile"][0]["name"] == "Wang" and data["profile"][0]["address"] == "3栋402"
    assert data["profile"][0]["created_at"] == T0
    assert [i["address"] for i in data["identities"]] == ["w"]
    assert [c["version"] for c in data["consents"]] == ["notice-1"]
    assert [c["answer"] for c in data["checkins"]] == ["胸口疼"]
    assert [m["text"] for m in data["messages"]] == ["胸口疼", "今天还好"]
    assert len(data["alerts"]) == 2 and data["alert_notes"][0]["text"] == "我马上过去"
    assert [n["text"] for n in data["needs"]] == ["降压药没了"]
    assert [r["detail"] for r in data["reveals"]] == ["address, phone | claimed need #1"]


async def test_forgetting_a_person_erases_what_identifies_them_and_keeps_the_counts(
    store: AnyStore,
) -> None:
    ids = await _history(store)
    wang = ids["wang"]
    async with store.transaction() as tx:
        await tx.resolve_alert(ids["open_alert"], ids["li"], T0 + timedelta(days=100), "ok")
        done = await tx.forget_person(wang, T0 + timedelta(days=101))
        assert done["messages_deleted"] == 2 and done["identities_deleted"] == 1
        assert done["sent_texts_blanked"] == 1 and done["people_erased"] == 1
        assert await tx.person_by_name("Wang") is None
        assert [r["name"] for r in await tx.export_rows()] == ["Li"]  # not in the people file
        gone = await tx.person(wang)
        assert gone is not None and gone.name == f"forgotten-{wang}"
        assert (gone.phone, gone.address, gone.building, gone.active) == ("", "", "", False)
        assert await tx.identity("test", "w") is None
        assert await tx.messages_of(wang) == []
        assert await tx.alert_notes(AlertId(ids["alert"])) == []
        kept = await tx.alert(ids["alert"])
        assert kept is not None and kept.detail == "" and kept.outcome == "visited"
        need = await tx.need(ids["need"])
        assert need is not None and need.text == "" and need.state == "done"
        assert ("alert.opened.help", "") in await tx.audit_of(f"alert:{ids['alert']}")
        copy = await tx.outbox_row(ids["copy"])
        assert copy is not None and "3栋402" not in copy.payload_json
        assert await tx.checkin_state_counts() == {"help": 1}


# -- PostgreSQL only --------------------------------------------------------------------


@pytest.fixture
async def two(postgres_url: str) -> AsyncIterator[tuple[PgStore, PgStore]]:
    """Two instances on one database."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await asyncio.gather(first.open(), second.open())  # migrating at once: one does it
    yield first, second
    await asyncio.gather(first.close(), second.close())


@pytest.mark.postgres
async def test_two_instances_starting_together_migrate_once(
    two: tuple[PgStore, PgStore],
) -> None:
    assert [await s.schema_version() for s in two] == [PG_LATEST, PG_LATEST]


@pytest.mark.postgres
async def test_a_timer_being_fired_by_one_instance_is_refused_to_the_other_at_once(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    async with a.transaction() as tx:
        timer = await tx.add_timer(T0, "deadline", 1, "", T0)
        kept = await tx.add_timer(T0, "deadline", 2, "", T0)
    async with a.transaction() as fire_a:
        assert await fire_a.claim_timer(timer)
        # a has not committed: b neither waits nor gets it.
        async with asyncio.timeout(5), b.transaction() as fire_b:
            assert [t.id for t in await fire_b.due_timers(T0, 10)] == [timer, kept]
            assert not await fire_b.claim_timer(timer)
    async with b.transaction() as fire_b:
        assert not await fire_b.claim_timer(timer)  # a committed: gone
    # A fire that rolls back leaves its timer for the next pass, of either instance.
    with pytest.raises(RuntimeError):
        async with a.transaction() as fire_a:
            assert await fire_a.claim_timer(kept)
            raise RuntimeError("the workflow failed")
    async with b.transaction() as fire_b:
        assert await fire_b.claim_timer(kept)


@pytest.mark.postgres
async def test_an_instance_is_woken_by_what_another_writes_but_not_by_its_own(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    heard: list[str] = []
    changed = asyncio.Event()

    def wake(table: str) -> None:
        heard.append(table)
        changed.set()

    a.watch(wake)
    async with asyncio.timeout(10):
        while len(heard) < 3:  # on listening, every table counts as changed once
            await changed.wait()
            changed.clear()
    assert sorted(heard) == ["inbox", "outbox", "timers"]
    heard.clear()

    async with a.transaction() as tx:  # its own writes: nothing
        await tx.add_timer(T0, "deadline", 1, "", T0)
        await tx.enqueue("test", message("test:own"), T0)
    async with b.transaction() as tx:
        await tx.enqueue("test", message("test:1"), T0)
        await tx.enqueue("test", message("test:2"), T0)  # one wake-up per transaction
    async with b.transaction() as tx:
        await tx.add_timers([(T0, "deadline", n, "") for n in range(5)], T0)
    # Notifications arrive in commit order: once this last one is heard, anything
    # from the writes above (its own, a second outbox wake-up) would have been too.
    async with b.transaction() as tx:
        await tx.store_inbound("test", "e1", {"kind": "text"}, T0)
    async with asyncio.timeout(10):
        while "inbox" not in heard:
            await changed.wait()
            changed.clear()
    assert heard == ["outbox", "timers", "inbox"]


@pytest.mark.postgres
async def test_two_instances_racing_over_the_same_timers_fire_each_once(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    async with a.transaction() as tx:
        await tx.add_timers([(T0, "k", n, "") for n in range(300)], T0)

    # Both instances read the same first page before either claims, so every
    # timer on it is claimed by both at once, whatever the scheduler does.
    both_read = asyncio.Barrier(2)
    tried: list[int] = []

    async def fire_all(store: PgStore) -> list[int]:
        fired: list[int] = []
        first = True
        while True:
            async with store.read() as tx:
                due = await tx.due_timers(T0, 25)
            if first:
                await both_read.wait()
                first = False
            if not due:
                return fired
            async with store.transaction() as tx:
                for timer in due:
                    tried.append(timer.ref)
                    if await tx.claim_timer(timer.id):
                        fired.append(timer.ref)
                        await asyncio.sleep(0)  # let the other instance in

    fired_a, fired_b = await asyncio.gather(fire_all(a), fire_all(b))
    assert sorted(fired_a + fired_b) == list(range(300))
    assert not set(fired_a) & set(fired_b)
    assert len(tried) > 300, "no timer was tried by both instances: the race was not run"


@pytest.mark.postgres
async def test_two_instances_never_claim_the_same_message_to_send(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    async with a.transaction() as tx:
        await tx.enqueue_many([("test", message(f"test:{n}", str(n))) for n in range(200)], T0)
    lease = T0 + 5 * MIN

    async def claim_all(store: PgStore) -> list[int]:
        taken: list[int] = []
        while True:
            async with store.transaction() as tx:
                rows = await tx.claim_sendable("test", T0, 7, lease)
                await asyncio.sleep(0)  # commit later: the other claims meanwhile
            if not rows:
                return taken
            taken += [r.id for r in rows]

    taken_a, taken_b = await asyncio.gather(claim_all(a), claim_all(b))
    assert len(taken_a) + len(taken_b) == 200
    assert not set(taken_a) & set(taken_b)
    assert taken_a and taken_b, "one instance did all the work: the race was not run"


@pytest.mark.postgres
async def test_a_claimed_message_comes_back_when_its_lease_runs_out(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    async with a.transaction() as tx:
        first = await tx.enqueue("test", message("test:a", "1"), T0)
        second = await tx.enqueue("test", message("test:b", "2", priority=Priority.ALERT), T0)
        edit = await tx.enqueue("test", message("test:a", "1b", edit_of=first), T0)
    async with a.transaction() as tx:
        taken = await tx.claim_sendable("test", T0, 1, T0 + 5 * MIN, skip={"test:b"})
        assert [r.id for r in taken] == [first]
        assert taken[0].not_before == T0  # as it was, not the lease
        async with b.transaction() as other:  # a has not committed yet
            got = await other.claim_sendable("test", T0, 10, T0 + 5 * MIN)
            assert [r.id for r in got] == [second]
    async with b.read() as tx:
        assert await tx.sendable("test", T0 + MIN, 10) == []  # leased; the edit waits
    async with b.transaction() as tx:
        await tx.mark_sent(second, "m2", T0 + MIN)
    # a died without sending: after the lease, b sends it.
    async with b.transaction() as tx:
        again = await tx.claim_sendable("test", T0 + 5 * MIN, 10, T0 + 10 * MIN)
        assert [r.id for r in again] == [first]
        await tx.mark_sent(first, "m1", T0 + 5 * MIN)
    async with b.transaction() as tx:
        rows = await tx.claim_sendable("test", T0 + 5 * MIN, 10, T0 + 10 * MIN)
        assert [(r.id, r.edit_target_message_id) for r in rows] == [(edit, "m1")]


@pytest.mark.postgres
async def test_two_instances_never_claim_the_same_inbound_event(
    two: tuple[PgStore, PgStore],
) -> None:
    a, b = two
    async with a.transaction() as tx:
        for n in range(100):
            await tx.store_inbound("test", f"e{n}", {"n": n}, T0)
        pending = [inbox_id for inbox_id, _ in await tx.pending_inbound(100)]

    async def claim(store: PgStore) -> set[int]:
        got: set[int] = set()
        for start in range(0, 100, 10):
            async with store.transaction() as tx:
                got |= await tx.claim_inbound(pending[start : start + 10], T0)
                await asyncio.sleep(0)
        return got

    got_a, got_b = await asyncio.gather(claim(a), claim(b))
    assert got_a | got_b == set(pending) and not got_a & got_b


@pytest.mark.postgres
async def test_a_named_lock_is_held_by_one_instance_and_taken_over_when_it_goes(
    two: tuple[PgStore, PgStore], postgres_cluster: Cluster
) -> None:
    a, b = two
    assert await a.try_hold("receive:telegram")
    assert await a.try_hold("receive:telegram")  # already held: still true
    assert not await b.try_hold("receive:telegram")
    assert await b.try_hold("receive:matrix")  # another name, another lock
    assert await a.holding("receive:telegram") and not await b.holding("receive:telegram")
    await a.release("receive:telegram")
    assert await b.try_hold("receive:telegram") and not await a.try_hold("receive:telegram")
    # b's session ends behind its back (a server restart, a network cut): a takes over,
    # and b finds out that it lost the lock.
    postgres_cluster.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        database=postgres_cluster_database(a),
    )
    assert await until(lambda: a.try_hold("receive:telegram"))
    assert not await b.holding("receive:telegram")
    assert not await b.holding("receive:matrix")
    assert await b.try_hold("receive:matrix")  # lost, and taken again


@pytest.mark.postgres
async def test_a_named_lock_is_taken_over_when_its_holders_process_dies(
    postgres_url: str,
) -> None:
    root = Path(__file__).parent.parent
    script = textwrap.dedent(
        f"""
        import asyncio
        from store.postgres import PgStore
        async def main():
            store = PgStore({postgres_url!r})
            await store.open()
            print(await store.try_hold("receive:telegram"), flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
        """
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert holder.stdout is not None
        async with asyncio.timeout(30):
            assert (await holder.stdout.readline()).strip() == b"True"
        async with PgStore(postgres_url) as other:
            assert not await other.try_hold("receive:telegram")
            holder.kill()  # SIGKILL: no clean-up of any kind
            await holder.wait()
            assert await until(lambda: other.try_hold("receive:telegram"))
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


@pytest.mark.postgres
async def test_a_read_neither_waits_for_a_write_nor_sees_it_before_its_commit(
    postgres_url: str,
) -> None:
    async with PgStore(postgres_url) as store:
        async with store.transaction() as tx:
            await tx.kv_set("k", "old")
        async with store.transaction() as tx:
            await tx.kv_set("k", "new")
            async with asyncio.timeout(5), store.read() as reader:
                assert await reader.kv_get("k") == "old"
        async with store.read() as reader:
            assert await reader.kv_get("k") == "new"


def test_the_postgres_fixture_takes_the_newest_complete_server(tmp_path: Path) -> None:
    for version, tools in (("13", 3), ("15", 3), ("16", 2), ("x", 3)):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl", "postgres")[:tools]:
            (bin_dir / tool).write_text("")
    assert find_binaries(tmp_path) == tmp_path / "15" / "bin"
    assert find_binaries(tmp_path / "missing") is None


def test_a_missing_postgres_skips_its_tests_but_fails_them_on_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tests.postgres, "PG_ROOT", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server binaries"):
        start_or_give_up()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is required on CI"):
        start_or_give_up()


def postgres_cluster_database(store: PgStore) -> str:
    return store.display_url.rsplit("/", 1)[1]


async def until(check: Any, within: float = 10.0) -> bool:
    """Poll `check` (an async callable) until it is true: for what another process or
    the server does in its own time, not for anything on the gateway's clock."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.postgres
async def test_a_postgres_url_the_server_refuses_is_one_clear_line_without_the_password(
    postgres_cluster: Cluster,
) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{postgres_cluster.port}/no_such_db"
    with pytest.raises(StoreOpenError) as caught:
        await PgStore(url).open()
    message = str(caught.value)
    assert "no_such_db" in message and "does not exist" in message
    assert "s3cret" not in message and "***" in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://carecheck:s3cret@db.example:5432/street",
        "postgresql://carecheck@db.example/street?password=s3cret&sslmode=require",
        "postgresql:///street?host=/run/postgresql&PASSWORD=s3cret",
    ],
)
def test_a_postgres_url_is_shown_without_its_password_wherever_it_is_written(url: str) -> None:
    for shown in (display_url(url), describe(url)):
        assert "s3cret" not in shown and "***" in shown
        assert "street" in shown


async def test_an_unreachable_postgres_server_is_a_clear_error() -> None:
    with pytest.raises(
        StoreOpenError, match=r"cannot open database postgresql://x@127\.0\.0\.1:1/db: "
    ):
        await PgStore("postgresql://x@127.0.0.1:1/db").open()


def test_only_postgres_urls_make_a_postgres_store() -> None:
    assert isinstance(create_store("postgresql://u@h/db"), PgStore)
    assert isinstance(create_store("postgres://u@h/db"), PgStore)
    for other in ("mysql://u:pw@h/db", "./carecheck.db", "sqlite:///x.db"):
        with pytest.raises(ValueError, match="not a PostgreSQL URL") as caught:
            create_store(other)
        assert "pw" not in str(caught.value)


@pytest.mark.postgres
async def test_a_postgres_database_newer_than_this_carecheck_is_refused(
    postgres_url: str, postgres_cluster: Cluster
) -> None:
    async with PgStore(postgres_url):
        pass
    postgres_cluster.sql(
        f"UPDATE schema_version SET version = {PG_LATEST + 1}",
        database=postgres_url.rsplit("/", 1)[1],
    )
    with pytest.raises(SchemaTooNew, match=f"schema version {PG_LATEST + 1}"):
        await PgStore(postgres_url).open()


@pytest.mark.postgres
async def test_both_stores_have_the_same_tables_columns_and_indexes(
    tmp_path: Path, postgres_url: str
) -> None:
    async with Store(tmp_path / "s.db") as sqlite_store, PgStore(postgres_url) as pg:
        sqlite_tables: dict[str, set[str]] = {}
        for (name,) in sqlite_store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            columns = sqlite_store.db.execute(f"PRAGMA table_info({name})").fetchall()
            sqlite_tables[name] = {c[1] for c in columns}
        sqlite_indexes = {
            name
            for (name,) in sqlite_store.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall()
        }
        async with pg.read() as tx:
            rows = await tx.conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name <> 'schema_version'"
            )
            pg_indexes = {
                r["indexname"]
                for r in await tx.conn.fetch(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
    pg_tables: dict[str, set[str]] = {}
    for r in rows:
        pg_tables.setdefault(r["table_name"], set()).add(r["column_name"])
    # SQLite's implicit rowid orders an alert's copies; PostgreSQL names it.
    sqlite_tables["alert_notifications"].add("id")
    assert pg_tables == sqlite_tables
    # PostgreSQL names the indexes behind keys and UNIQUE; SQLite leaves them implicit.
    assert sqlite_indexes <= pg_indexes
    implicit = {i for i in pg_indexes - sqlite_indexes if not i.endswith(("_pkey", "_key"))}
    assert implicit == set()


# -- a whole flow on each store ---------------------------------------------------------


async def test_a_round_answered_and_missed_runs_the_same_on_each_store(
    store: AnyStore,
) -> None:
    from gateway.clock import FakeClock
    from gateway.config import builtin_config_text, parse_config
    from tests.conftest import START, Harness, make_community
    from tests.fakes import RecordingAdapter

    clock = FakeClock(START)
    config = parse_config(builtin_config_text())
    await make_community(store, config, clock.now())  # type: ignore[arg-type]
    h = Harness(store, clock, config, RecordingAdapter())  # type: ignore[arg-type]
    await h.start()
    try:
        await h.advance(30 * MIN)
        prompt = await h.last("Wang")
        assert "Wang" in prompt.text and prompt.buttons
        await h.press("Wang", prompt, "我很好")
        await h.advance(240 * MIN)
        async with store.read() as tx:
            wang, chen = await tx.person_by_name("Wang"), await tx.person_by_name("Chen")
            assert wang is not None and chen is not None
            assert await tx.unresolved_alert_of(wang.id) is None
            alert = await tx.unresolved_alert_of(chen.id)
        assert alert is not None and alert.reason is AlertReason.MISSED
        assert any("Chen" in d.text for d in await h.inbox("Leader Li"))
    finally:
        await h.engine.stop()


# -- copying a database -----------------------------------------------------------------


async def fill(store: AnyStore) -> None:
    """A little of everything, including ids with gaps and a family link forward."""
    ids = await add_people(
        store, person("Son", "family", "", family_of_name="Wang"), person("Wang", phone="1")
    )
    async with store.transaction() as tx:
        await tx.bind_identity(ids["Wang"], "telegram", "11", ChatRef("telegram:11"), T0)
        await tx.add_invite("C1", ids["Wang"], None, T0, T0 + MIN)
        await tx.link_team_chat("medicine", ChatRef("telegram:-1"))
        opened = await tx.open_checkins("daily", T0, T0, T0 + MIN, [ids["Wang"]])
        alert = await tx.create_alert(
            ids["Wang"], opened[ids["Wang"]], AlertReason.MISSED, False, "p", T0, "x"
        )
        prompt = await tx.enqueue("test", message("test:1", "早"), T0)
        await tx.enqueue("test", message("test:1", "早!", edit_of=prompt), T0)
        await tx.mark_retry(prompt, "flaky", T0 + MIN, T0)
        await tx.add_notification(alert, ids["Son"], prompt, 0, "family", T0)
        await tx.add_notification(alert, None, prompt, 1, "team", T0)
        await tx.add_timer(T0 + MIN, "step", alert, "", T0)
        gone = await tx.add_timer(T0 + MIN, "step", alert, "", T0)
        await tx.claim_timer(gone)
        await tx.store_inbound("test", "e1", {"x": 1}, T0)
        await tx.audit(T0, "kind", "subject", ids["Wang"], "détail")
        await tx.kv_set("k", "v")
        need = await tx.create_need(ids["Wang"], "medicine", "药", "medicine", None, T0)
        await tx.claim_need(need, ids["Son"], T0)
        await tx.add_message(ids["Wang"], T0, "text", "hi", "ok")
        await tx.add_alert_note(alert, ids["Son"], T0, "note")
        await tx.add_dead_letter("test", "r", "{", "bad", T0)


async def snapshot(store: AnyStore) -> dict[str, Any]:
    """What the workflows would read back, id for id."""
    async with store.read() as tx:
        people = await tx.people()
        alerts = await tx.recent_alerts()
        return {
            "people": people,
            "identities": await tx.all_identities(),
            "invite": await tx.open_invite("C1", T0),
            "alerts": alerts,
            "notifications": await tx.notifications(alerts[0].id),
            "notes": await tx.alert_notes(alerts[0].id),
            "timers": await tx.due_timers(T0 + MIN, 10),
            "outbox": await tx.sendable("test", T0 + MIN, 10),
            "attempts": await tx.delivery_attempts(OutboxId(1)),
            "inbox": await tx.pending_inbound(10),
            "audit": await tx.audit_of("subject"),
            "kv": await tx.kv_get("k"),
            "needs": await tx.needs_export_rows(),
            "messages": await tx.messages_of(people[1].id),
            "dead": await tx.dead_letters(),
            "teams": await tx.team_chats("medicine"),
            "export": await tx.export_rows(),
        }


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["sqlite to postgres", "postgres to sqlite"])
async def test_a_database_is_copied_whole_with_its_ids(
    direction: str, tmp_path: Path, postgres_url: str
) -> None:
    sqlite_store, pg = Store(tmp_path / "c.db"), PgStore(postgres_url)
    source, target = (sqlite_store, pg) if direction == "sqlite to postgres" else (pg, sqlite_store)
    async with sqlite_store, pg:
        await fill(source)
        counts = await copy_database(source, target)
        assert counts["people"] == 2 and counts["timers"] == 1 and counts["outbox"] == 2
        assert counts["alert_notifications"] == 2 and sum(counts.values()) >= 20
        assert await snapshot(target) == await snapshot(source)
        # New rows go on after the copied ids. (SQLite hands out the highest id plus
        # one, so a deleted timer's id comes again; a PostgreSQL sequence never goes
        # back, so it does not.)
        async with target.transaction() as tx:
            assert await tx.add_timer(T0, "k", 0, "", T0) > max(
                t.id for t in await tx.timers_of_kind("step")
            )
            assert await tx.enqueue("test", message("test:9"), T0) == 3
        with pytest.raises(CopyError, match=r"not empty.*people"):
            await copy_database(source, target)


@pytest.mark.postgres
async def test_a_copy_back_and_forth_changes_nothing(
    tmp_path: Path, postgres_databases: NewDatabase
) -> None:
    first = Store(tmp_path / "first.db")
    middle = PgStore(postgres_databases())
    last = Store(tmp_path / "last.db")
    async with first, middle, last:
        await fill(first)
        there = await copy_database(first, middle)
        back = await copy_database(middle, last)
        assert there == back
        assert await snapshot(last) == await snapshot(first)


async def test_copying_onto_a_store_with_data_is_refused(tmp_path: Path) -> None:
    async with Store(tmp_path / "a.db") as source, Store(tmp_path / "b.db") as target:
        await fill(source)
        async with target.transaction() as tx:
            await tx.kv_set("already", "here")
        with pytest.raises(CopyError, match="not empty: kv"):
            await copy_database(source, target)
        async with target.read() as tx:
            assert await tx.count_people() == 0


async def test_rows_taken_for_sending_are_taken_once_until_their_lease_runs_out(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        first = await tx.enqueue("test", message("test:a", "1"), T0)
        later = await tx.enqueue("test", message("test:b", "2"), T0 + 10 * MIN)
    async with store.transaction() as tx:
        # The one not yet due is not taken.
        assert await tx.take_for_sending([first, later], T0, T0 + MIN) == {first}
    async with store.transaction() as tx:
        assert await tx.take_for_sending([first], T0, T0 + MIN) == set()
    async with store.transaction() as tx:
        assert await tx.take_for_sending([first], T0 + MIN, T0 + 2 * MIN) == {first}
        await tx.mark_sent(first, "m1", T0 + MIN)
    async with store.transaction() as tx:
        assert await tx.take_for_sending([first], T0 + 5 * MIN, T0 + 6 * MIN) == set()


async def test_a_row_taken_for_sending_is_not_cancelled_by_any_instance_until_a_retry(
    db: str,
) -> None:
    """One instance takes the prompt for sending; an answer handled by another edits
    it: the row is not cancelled (the edit follows the message). A failed attempt puts
    the row back in the queue, unleased: an edit may cancel it again."""
    sender, editor = open_any(db), open_any(db)
    await sender.open()
    await editor.open()
    try:
        async with sender.transaction() as tx:
            row = await tx.enqueue("test", message("test:a", "prompt"), T0)
            other = await tx.enqueue("test", message("test:b", "prompt"), T0)
        assert await sender.lease_for_sending([row], T0, T0 + MIN) == {row}
        async with editor.transaction() as tx:
            assert await tx.cancel_pending([row, other]) == 1  # the one not taken
        async with sender.transaction() as tx:
            await tx.mark_retry(row, "timed out", T0 + 2 * MIN, T0)
        async with editor.transaction() as tx:
            assert await tx.cancel_pending([row]) == 1
            cancelled = await tx.outbox_row(row)
        assert cancelled is not None and cancelled.state == "cancelled"
    finally:
        await sender.close()
        await editor.close()


async def test_leases_taken_outside_a_transaction_are_the_same_leases(store: AnyStore) -> None:
    async with store.transaction() as tx:
        first = await tx.enqueue("test", message("test:a", "1"), T0)
        later = await tx.enqueue("test", message("test:b", "2"), T0 + 10 * MIN)
    assert await store.lease_for_sending([first, later], T0, T0 + MIN) == {first}
    assert await store.lease_for_sending([first], T0, T0 + MIN) == set()
    async with store.transaction() as tx:
        assert await tx.take_for_sending([first], T0 + MIN, T0 + 2 * MIN) == {first}
    assert await store.lease_for_sending([], T0, T0 + MIN) == set()


async def test_appends_of_inbound_events_keep_the_order_they_were_made_in(
    store: AnyStore,
) -> None:
    pages = [[("test", f"p{n}e{i}", {"page": n, "i": i}) for i in range(3)] for n in range(4)]
    results = await asyncio.gather(*(store.append_inbound(page, T0) for page in pages))
    assert results == [[True] * 3] * 4
    # Handed in again (a platform redelivering after a crash): nothing is stored twice.
    assert await store.append_inbound(pages[0], T0) == [False] * 3
    async with store.read() as tx:
        stored = [(p["page"], p["i"]) for _, p in await tx.pending_inbound(20)]
    assert stored == [(n, i) for n in range(4) for i in range(3)]


@pytest.mark.postgres
async def test_storing_events_and_leasing_rows_do_not_wait_for_a_write_transaction(
    postgres_databases: NewDatabase,
) -> None:
    async with PgStore(postgres_databases()) as store:
        async with store.transaction() as tx:
            row = await tx.enqueue("test", message("test:a", "1"), T0)
        async with store.transaction() as tx:
            # The workflows are busy in a transaction of their own: an adapter's page
            # of events is stored meanwhile, and the outbox takes its rows.
            await tx.kv_set("busy", "yes")
            stored = await asyncio.wait_for(
                store.append_inbound([("test", "e1", {"n": 1})], T0), timeout=10
            )
            leased = await asyncio.wait_for(
                store.lease_for_sending([row], T0, T0 + MIN), timeout=10
            )
        assert stored == [True] and leased == {row}
        async with store.read() as tx:
            assert [p for _, p in await tx.pending_inbound(5)] == [{"n": 1}]


async def test_a_named_lock_is_held_by_one_instance(db: str) -> None:
    first, second = open_any(db), open_any(db)
    await first.open()
    await second.open()
    try:
        assert await first.try_hold("platform:test")
        assert await first.holding("platform:test")
        if first.shared:
            assert not await second.try_hold("platform:test")
            await first.release("platform:test")
            assert await second.try_hold("platform:test")
        else:
            # One process has a SQLite file to itself: nobody to share the lock with.
            assert await second.try_hold("platform:test")
    finally:
        await first.close()
        await second.close()


@pytest.mark.postgres
async def test_two_instances_claiming_the_same_day_at_once_get_it_once(
    two: tuple[PgStore, PgStore],
) -> None:
    """The daily retention job fires once even when both instances fire it together."""
    both = asyncio.Barrier(2)

    async def claim(store: PgStore) -> bool:
        async with store.transaction() as tx:
            await both.wait()
            got = await tx.kv_claim("retention.day", None, "2026-11-23")
            await asyncio.sleep(0.05)  # hold the transaction open while the other tries
            return got

    assert sorted(await asyncio.gather(*(claim(s) for s in two))) == [False, True]
