"""The web console's store methods, the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.commands import Priority
from core.console import WebRole
from core.ids import ChatRef, CheckinId, OutboxId, PersonId
from core.outbox import NewMessage
from core.records import AlertReason, CheckinState, NewPerson
from store.postgres import PgStore, create_store
from store.sqlite import Store

AnyStore = Store | PgStore

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    opened: AnyStore
    if request.param == "sqlite":
        opened = Store(tmp_path / "console.db")
    else:
        opened = create_store(request.getfixturevalue("postgres_url"))
    await opened.open()
    yield opened
    await opened.close()


def person(name: str, role: str = "resident", grid: str = "G1") -> NewPerson:
    return NewPerson(
        name=name,
        role=role,
        grid=grid,
        building="B1",
        language="zh",
        timezone="Asia/Shanghai",
        phone="",
        address="",
        plan="daily" if role == "resident" else "",
    )


async def people(store: AnyStore, *new: NewPerson) -> dict[str, PersonId]:
    async with store.transaction() as tx:
        await tx.upsert_people(list(new), T0)
        return {p.name: p.id for p in await tx.people()}


async def test_it_keeps_accounts_with_their_grids_and_person(store: AnyStore) -> None:
    ids = await people(store, person("Li", "grid_leader"), person("Wang"))
    async with store.transaction() as tx:
        assert await tx.count_web_users() == 0
        first = await tx.add_web_user("li", "h1", "grid_leader", ["G1"], ids["Li"], "en", T0)
        await tx.add_web_user("ops", "h2", "operator", [], None, "zh", T0)
        await tx.add_web_user("lead", "h3", "care_lead", ["G2", "G1", "G2"], None, "zh", T0)
    async with store.transaction() as tx:
        li = await tx.web_user("li")
        assert li is not None and li.id == first
        assert (li.role, li.grids, li.person_id, li.language) == (
            WebRole.GRID_LEADER,
            ("G1",),
            ids["Li"],
            "en",
        )
        assert li.active and li.generation == 0 and li.created_at == T0
        lead = await tx.web_user("lead")
        assert lead is not None and lead.grids == ("G1", "G2")
        assert await tx.web_user_of_person(ids["Li"]) == li
        assert await tx.web_user_by_id(first) == li
        assert [u.username for u in await tx.web_users()] == ["lead", "li", "ops"]
        assert await tx.count_web_users() == 3
        assert await tx.count_web_users("operator") == 1
        await tx.set_web_password(first, "h9")
        await tx.set_web_user_active(first, False)
        li = await tx.web_user("li")
        assert li is not None and (li.password_hash, li.active, li.generation) == ("h9", False, 2)
        # A disabled account still counts as an account (the console never falls open),
        # but is no one's way in any more.
        assert await tx.count_web_users() == 3
        assert await tx.web_user_of_person(ids["Li"]) is None
        assert await tx.web_user("nobody") is None


async def test_it_counts_failed_logins_per_account_and_address_inside_a_window(
    store: AnyStore,
) -> None:
    async with store.transaction() as tx:
        await tx.add_login_failure("li", "10.0.0.1", T0)
        await tx.add_login_failure("li", "10.0.0.2", T0 + MIN)
        await tx.add_login_failure("ops", "10.0.0.1", T0 + 2 * MIN)
        by_user, by_address = await tx.login_failure_times("li", "10.0.0.1", T0)
        assert by_user == [T0, T0 + MIN]
        assert by_address == [T0, T0 + 2 * MIN]
        assert await tx.login_failure_times("li", "10.0.0.1", T0 + MIN) == (
            [T0 + MIN],
            [T0 + 2 * MIN],
        )
        await tx.clear_login_failures("li")
        assert await tx.login_failure_times("li", "10.0.0.1", T0) == ([], [T0 + 2 * MIN])
        # Old failures are dropped as new ones come in.
        await tx.add_login_failure("x", "10.0.0.9", T0 + timedelta(days=2))
        assert await tx.login_failure_times("ops", "10.0.0.1", T0) == ([], [])


async def test_a_login_link_works_once_and_not_after_it_expired(store: AnyStore) -> None:
    async with store.transaction() as tx:
        user = await tx.add_web_user("li", "h", "operator", [], None, "zh", T0)
        await tx.add_login_link("a" * 64, user, T0, T0 + 10 * MIN)
        await tx.add_login_link("b" * 64, user, T0, T0 + 10 * MIN)
        assert await tx.spend_login_link("a" * 64, T0 + MIN) == user
        assert await tx.spend_login_link("a" * 64, T0 + MIN) is None
        assert await tx.spend_login_link("b" * 64, T0 + 11 * MIN) is None
        assert await tx.spend_login_link("c" * 64, T0) is None


async def test_it_reads_residents_with_their_latest_checkin_alert_and_needs(
    store: AnyStore,
) -> None:
    ids = await people(
        store,
        person("Li", "grid_leader"),
        person("Wang"),
        person("Chen"),
        person("Zhao", grid="G2"),
    )
    async with store.transaction() as tx:
        first = await tx.open_checkins(
            "daily", T0 - timedelta(days=1), T0 - timedelta(days=1), T0, [ids["Wang"]]
        )
        await tx.set_checkin_state(
            first[ids["Wang"]],
            CheckinState.OK,
            only_if=[CheckinState.SENT],
            answered_at=T0 - timedelta(hours=23),
        )
        today = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [ids["Wang"], ids["Chen"]])
        await tx.set_checkin_state(
            today[ids["Chen"]], CheckinState.MISSED, only_if=[CheckinState.SENT]
        )
        alert = await tx.create_alert(
            ids["Chen"],
            CheckinId(today[ids["Chen"]]),
            AlertReason.MISSED,
            False,
            "standard",
            T0 + 60 * MIN,
            "",
        )
        await tx.add_message(ids["Chen"], T0 - 5 * MIN, "text", "hello", "")
        await tx.create_need(ids["Chen"], "medicine", "pills", "", None, T0)
        await tx.bind_identity(ids["Wang"], "telegram", "1", ChatRef("telegram:1"), T0)
    async with store.read() as tx:
        rows = {r.name: r for r in await tx.resident_rows(None)}
        assert set(rows) == {"Wang", "Chen", "Zhao"}
        wang, chen, zhao = rows["Wang"], rows["Chen"], rows["Zhao"]
        assert (wang.checkin_state, wang.checkin_due, wang.reachable) == ("sent", T0, True)
        assert wang.last_heard == T0 - timedelta(hours=23) and wang.alert_id is None
        assert (chen.checkin_state, chen.alert_id, chen.alert_state) == ("missed", alert, "open")
        assert (chen.alert_reason, chen.open_needs, chen.reachable) == ("missed", 1, False)
        assert chen.last_heard == T0 - 5 * MIN
        assert (zhao.checkin_state, zhao.last_heard, zhao.open_needs) == (None, None, 0)
        assert [r.name for r in await tx.resident_rows(["G2"])] == ["Zhao"]
        assert await tx.resident_rows([]) == []
        only_matrix = {r.name: r.reachable for r in await tx.resident_rows(None, ["matrix"])}
        assert only_matrix["Wang"] is False
        days = await tx.checkin_days(ids["Wang"], T0 - timedelta(days=2))
        assert [(d.state, d.due_at) for d in days] == [
            ("ok", T0 - timedelta(days=1)),
            ("sent", T0),
        ]
        needs = await tx.needs_in(["G1"], T0)
        assert [n.text for n in needs] == ["pills"]
        assert await tx.needs_in(["G2"], T0) == []
        times = await tx.ack_times(None, T0)
        assert [(t.grid, t.acked_at) for t in times] == [("G1", None)]
        assert await tx.ack_times(["G2"], T0) == []


async def test_it_reads_an_alerts_audit_attempts_and_timers(store: AnyStore) -> None:
    ids = await people(store, person("Wang"))
    async with store.transaction() as tx:
        alert = await tx.create_alert(
            ids["Wang"], None, AlertReason.HELP, True, "standard", T0, "help!"
        )
        await tx.audit(T0, "alert.opened", f"alert:{alert}", ids["Wang"], "x")
        await tx.audit(T0 + MIN, "alert.notified", f"alert:{alert}", None, "step 1")
        message = NewMessage(chat=ChatRef("telegram:1"), text="t", priority=Priority.ALERT)
        outbox = await tx.enqueue("telegram", message, T0)
        await tx.mark_retry(outbox, "boom", T0 + MIN, T0)
        await tx.add_timer(T0 + 20 * MIN, "escalate", alert, "1", T0)
        await tx.add_timer(T0 + 20 * MIN, "remind", alert, "", T0)
    async with store.read() as tx:
        entries = await tx.audit_entries(f"alert:{alert}")
        assert [(e.kind, e.at, e.actor) for e in entries] == [
            ("alert.opened", T0, ids["Wang"]),
            ("alert.notified", T0 + MIN, None),
        ]
        attempts = await tx.attempts_of([outbox, OutboxId(outbox + 100)])
        assert [(a.ok, a.error, a.at) for a in attempts[outbox]] == [(False, "boom", T0)]
        assert attempts[OutboxId(outbox + 100)] == []
        assert [t.due_at for t in await tx.timers_of(alert, "escalate")] == [T0 + 20 * MIN]


async def test_someone_who_left_is_kept_but_no_longer_listed_or_asked(store: AnyStore) -> None:
    ids = await people(store, person("Wang"), person("Chen"))
    async with store.transaction() as tx:
        await tx.set_deactivated(ids["Wang"], T0)
        assert await tx.deactivated_people() == {ids["Wang"]}
        wang = await tx.person(ids["Wang"])
        assert wang is not None and not wang.active
        assert [r.name for r in await tx.resident_rows(None)] == ["Chen"]
        await tx.set_deactivated(ids["Wang"], None)
        wang = await tx.person(ids["Wang"])
        assert wang is not None and wang.active
        assert await tx.deactivated_people() == set()
