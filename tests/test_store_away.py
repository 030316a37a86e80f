"""The store's contract for time away, the last human contact and call tasks: the same
tests against SQLite and PostgreSQL (fixtures from tests/test_store_contract.py)."""

from __future__ import annotations

from core.ids import ChatRef, CheckinId
from core.records import CallOutcome, CheckinState, ContactKind
from gateway.web.today import state_of
from tests.test_store_contract import MIN, T0, AnyStore, add_people, db, person, store

__all__ = ["db", "store"]  # the fixtures, used by name

DAY = 24 * 60 * MIN


async def test_an_absence_is_current_until_it_ends_or_its_time_is_over(store: AnyStore) -> None:
    ids = await add_people(
        store, person("Li", "grid_leader"), person("Wang"), person("Chen", grid="G2")
    )
    wang, chen, li = ids["Wang"], ids["Chen"], ids["Li"]
    async with store.transaction() as tx:
        first = await tx.add_absence(wang, T0 + 5 * DAY, "住院", li, T0)
        second = await tx.add_absence(chen, T0 + 2 * DAY, "", None, T0)
    async with store.read() as tx:
        away = await tx.current_absence(wang, T0 + DAY)
        assert away is not None and away.id == first
        assert (away.reason, away.set_by, away.until) == ("住院", li, T0 + 5 * DAY)
        assert await tx.current_absence(wang, T0 + 5 * DAY) is None
        assert await tx.current_absence(li, T0 + DAY) is None
        assert [a.id for a in await tx.away_at(T0 + DAY)] == [second, first]
        assert [a.id for a in await tx.away_at(T0 + DAY, ["G2"])] == [second]
        assert [a.id for a in await tx.away_at(T0 + 3 * DAY)] == [first]
    async with store.transaction() as tx:
        assert await tx.end_absence(first, T0 + DAY)
        assert not await tx.end_absence(first, T0 + 2 * DAY)
    async with store.read() as tx:
        assert await tx.current_absence(wang, T0 + 2 * DAY) is None
        ended = await tx.absence(first)
        assert ended is not None and ended.ended_at == T0 + DAY
        # Ended after a day: it no longer overlaps the rest of the second day.
        assert [a.id for a in await tx.absences_between(T0 + DAY + MIN, T0 + 3 * DAY)] == [second]
        assert len(await tx.absences_between(T0, T0 + DAY)) == 2


async def test_the_last_human_contact_is_the_latest_answer_call_or_visit(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Li", "grid_leader"), person("Wang"), person("Chen"))
    wang, chen, li = ids["Wang"], ids["Chen"], ids["Li"]
    async with store.transaction() as tx:
        assert await tx.last_contacts([wang, chen]) == {}
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang, chen])
        await tx.set_checkin_state(
            opened[wang],
            CheckinState.OK,
            only_if=(CheckinState.SENT,),
            answered_at=T0 + 5 * MIN,
            answer="button",
        )
        # Answered by a caller: that is the call's contact, not the resident's answer.
        await tx.set_checkin_state(
            opened[chen],
            CheckinState.OK,
            only_if=(CheckinState.SENT,),
            answered_at=T0 + 9 * MIN,
            answer="call",
        )
        await tx.add_contact(chen, T0 + 8 * MIN, ContactKind.CALL, li)
    async with store.read() as tx:
        mine = await tx.last_contact(wang)
        assert mine is not None
        assert (mine.kind, mine.at, mine.by) == (ContactKind.ANSWER, T0 + 5 * MIN, wang)
        theirs = await tx.last_contact(chen)
        assert theirs is not None
        assert (theirs.kind, theirs.at, theirs.by) == (ContactKind.CALL, T0 + 8 * MIN, li)
    async with store.transaction() as tx:
        await tx.add_contact(wang, T0 + DAY, ContactKind.VISIT, li, "腿肿了")
        await tx.add_message(chen, T0 + 2 * DAY, "text", "好", "fine")
    async with store.read() as tx:
        both = await tx.last_contacts([wang, chen, li])
        assert set(both) == {wang, chen}
        assert (both[wang].kind, both[wang].note) == (ContactKind.VISIT, "腿肿了")
        assert (both[chen].kind, both[chen].at) == (ContactKind.ANSWER, T0 + 2 * DAY)


async def test_phone_residents_are_left_out_of_chat_rounds_and_listed_for_calls(
    store: AnyStore,
) -> None:
    ids = await add_people(
        store,
        person("Li", "grid_leader"),
        person("Zhou", "caller"),
        person("Boss", "grid_leader", deputy_name="Zhou"),
        person("Wang", contact="phone", caller_name="Zhou"),
        person("Chen"),
    )
    wang, chen = ids["Wang"], ids["Chen"]
    async with store.transaction() as tx:
        await tx.bind_identity(wang, "telegram", "1", ChatRef("telegram:1"), T0)
        await tx.bind_identity(chen, "telegram", "2", ChatRef("telegram:2"), T0)
        found = await tx.person(wang)
        assert found is not None and (found.contact, found.caller) == ("phone", ids["Zhou"])
        boss = await tx.person(ids["Boss"])
        assert boss is not None and boss.deputy == ids["Zhou"]
        assert [r[0] for r in await tx.round_residents("daily", "Asia/Shanghai")] == [chen]
        assert [p.id for p in await tx.call_residents("daily", "Asia/Shanghai")] == [wang]
        everyone = await tx.call_residents("daily", "Asia/Shanghai", everyone=True)
        assert [p.id for p in everyone] == [wang, chen]
        await tx.set_contact(chen, "phone")
        assert await tx.round_residents("daily", "Asia/Shanghai") == []
        rows = {r["name"]: r for r in await tx.export_rows()}
        assert (rows["Wang"]["contact"], rows["Wang"]["caller"]) == ("phone", "Zhou")
        assert rows["Boss"]["deputy"] == "Zhou"


async def test_calls_are_kept_per_check_in_and_counted_by_outcome(store: AnyStore) -> None:
    ids = await add_people(store, person("Zhou", "caller"), person("Wang", contact="phone"))
    wang, zhou = ids["Wang"], ids["Zhou"]
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, [wang])
        checkin = CheckinId(opened[wang])
        await tx.add_call_attempt(checkin, zhou, T0 + MIN, CallOutcome.NO_ANSWER)
        await tx.add_call_attempt(checkin, zhou, T0 + 31 * MIN, CallOutcome.HELP, "摔了")
    async with store.read() as tx:
        calls = await tx.call_attempts(checkin)
        assert [(c.outcome, c.caller, c.note) for c in calls] == [
            (CallOutcome.NO_ANSWER, zhou, ""),
            (CallOutcome.HELP, zhou, "摔了"),
        ]
        assert await tx.call_outcome_counts(T0, T0 + DAY) == {"no_answer": 1, "help": 1}
        assert await tx.call_outcome_counts(T0 + 2 * MIN, T0 + DAY) == {"help": 1}
        assert [c.id for c in await tx.recent_checkins(wang, 2)] == [checkin]


async def test_an_import_row_without_a_contact_keeps_the_contact_a_person_has(
    store: AnyStore,
) -> None:
    ids = await add_people(store, person("Wang"))
    async with store.transaction() as tx:
        await tx.set_contact(ids["Wang"], "phone")
        await tx.upsert_people([person("Wang", phone="139")], T0)
        found = await tx.person(ids["Wang"])
        assert found is not None and found.contact == "phone"
        await tx.upsert_people([person("Wang", contact="chat")], T0)
        found = await tx.person(ids["Wang"])
        assert found is not None and found.contact == "chat"


async def test_the_rows_of_the_today_page_say_who_is_away_until_when(store: AnyStore) -> None:
    ids = await add_people(store, person("Li", "grid_leader"), person("Wang"), person("Chen"))
    async with store.transaction() as tx:
        absence = await tx.add_absence(ids["Wang"], T0 + 5 * DAY, "住院", ids["Li"], T0)
    async with store.read() as tx:
        rows = {r.name: r for r in await tx.resident_rows(None)}
    assert rows["Wang"].away_until == T0 + 5 * DAY and rows["Chen"].away_until is None
    assert state_of(rows["Wang"]) == "away" and state_of(rows["Chen"]) == "none"
    async with store.transaction() as tx:
        await tx.end_absence(absence, T0 + DAY)
    async with store.read() as tx:
        rows = {r.name: r for r in await tx.resident_rows(None)}
    assert rows["Wang"].away_until is None and state_of(rows["Wang"]) == "none"
