"""Alerts people can trust: no page for harmless words, none missed after silence,
one live copy, every message answered — on the injected clock, through a recording
adapter (the Telegram and local-chat paths have their own end-to-end tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import DeliveryError
from core.commands import Delivery
from core.records import Alert, AlertReason, AlertState, CheckinState
from gateway.people import PeopleFileError, export_people, import_people
from tests.conftest import Harness
from tests.fakes import Failure

MIN = timedelta(minutes=1)
DAY = timedelta(days=1)


async def open_alert(h: Harness, name: str) -> Alert | None:
    person = await h.person(name)
    async with h.store.transaction() as tx:
        return await tx.unresolved_alert_of(person.id)


async def checkin_states(h: Harness, name: str) -> list[CheckinState]:
    person = await h.person(name)
    async with h.store.read() as tx:
        rows = await tx._all(
            "SELECT state FROM checkins WHERE person_id = ? ORDER BY id", (person.id,)
        )
    return [CheckinState(r["state"]) for r in rows]


async def alerts_to(h: Harness, name: str, about: str) -> list[Delivery]:
    """Fresh alert copies (not edits) a person got about a resident."""
    return [
        d
        for d in await h.inbox(name)
        if not d.edit_of and f"\n{about} (" in d.text and "#" in d.text.split("\n")[0]
    ]


def labels(delivery: Delivery) -> list[str]:
    return [b.label for row in delivery.buttons for b in row]


# -- what a message means ------------------------------------------------------------


async def test_harmless_words_with_negation_raise_no_alert(harness: Harness) -> None:
    await harness.advance(30 * MIN)  # 09:00 round
    await harness.say("Wang", "我很好，腿也不疼了")
    await harness.say("Chen", "I'm fine, no need for help")
    assert await open_alert(harness, "Wang") is None
    assert await open_alert(harness, "Chen") is None
    assert await checkin_states(harness, "Wang") == [CheckinState.OK]
    assert await harness.inbox("Leader Li") == []
    assert "收到，谢谢" in (await harness.last("Wang")).text


async def test_an_unmistakable_call_for_help_pages_the_leader_at_once(harness: Harness) -> None:
    await harness.say("Wang", "救救我")
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.urgent and alert.reason is AlertReason.HELP
    page = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    assert "救救我" in page.text and "Call for help" in page.text
    # The resident hears only what is true: first who is being contacted, then — once
    # the leader's copy was delivered — that the leader has it.
    told = [d.text for d in await harness.inbox("Wang")]
    assert "正在联系Leader Li" in told[-2]
    assert told[-1].startswith("Leader Li已收到您的求助")


async def test_a_worrying_message_is_asked_back_and_yes_opens_an_urgent_alert(
    harness: Harness,
) -> None:
    await harness.say("Wang", "今天有点头晕")
    question = await harness.last("Wang")
    assert "需要有人来看看您吗" in question.text
    assert labels(question) == ["🆘 是，请来人", "🙂 不用，我没事"]
    assert await open_alert(harness, "Wang") is None
    await harness.press("Wang", question, "是，请来人")
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.urgent
    assert "头晕" in (await alerts_to(harness, "Leader Li", "Wang"))[-1].text
    # The question lost its buttons: it cannot be answered twice.
    edited = [d for d in await harness.inbox("Wang") if d.edit_of and "已回答" in d.text]
    assert edited and edited[-1].buttons == ()


async def test_a_worrying_message_answered_no_is_recorded_and_nobody_is_paged(
    harness: Harness,
) -> None:
    await harness.say("Wang", "今天有点头晕")
    await harness.press("Wang", await harness.last("Wang"), "不用")
    await harness.advance(60 * MIN)
    assert await open_alert(harness, "Wang") is None
    assert await harness.inbox("Leader Li") == []
    async with harness.store.read() as tx:
        assert await tx.audit_kinds("concern.dismissed") == 1


async def test_a_worrying_message_without_an_answer_becomes_a_normal_alert(
    harness: Harness,
) -> None:
    await harness.say("Wang", "今天有点头晕")
    await harness.advance(14 * MIN)
    assert await harness.inbox("Leader Li") == []
    await harness.advance(1 * MIN)  # concern_window: 15 minutes
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.reason is AlertReason.CONCERN and not alert.urgent
    page = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    assert "头晕" in page.text and "Needs a look" in page.text


async def test_a_typed_no_answers_the_question(harness: Harness) -> None:
    await harness.say("Chen", "I don't feel well today")
    assert "shall someone come" in (await harness.last("Chen")).text
    await harness.say("Chen", "no thanks")
    await harness.advance(30 * MIN)
    assert await open_alert(harness, "Chen") is None


async def test_every_message_is_kept_with_its_classification(harness: Harness) -> None:
    await harness.say("Wang", "你好")
    await harness.say("Wang", "今天有点头晕")
    person = await harness.person("Wang")
    async with harness.store.read() as tx:
        history = await tx.messages_of(person.id)
    assert [(m.text, m.intent) for m in reversed(history)] == [
        ("你好", "other"),
        ("今天有点头晕", "concern"),
    ]


# -- no silence on repeated misses ---------------------------------------------------


async def test_a_resident_silent_for_three_days_pages_someone_each_day(harness: Harness) -> None:
    paged_days = set()
    for day in range(3):
        await harness.advance(DAY)
        for delivery in await alerts_to(harness, "Leader Li", "Wang"):
            paged_days.add(delivery.text)
        copies = await alerts_to(harness, "Leader Li", "Wang")
        assert copies, f"nobody was paged on day {day + 1}"
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.misses == 3
    newest = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    assert "Missed 3 rounds in a row" in newest.text
    # Each day's page went out that day: count fresh copies per local day.
    async with harness.store.read() as tx:
        rows = await tx._all(
            "SELECT DISTINCT date(at, 'unixepoch', '+8 hours') AS day FROM alert_notifications"
            " WHERE alert_id = ?",
            (alert.id,),
        )
    assert len(rows) == 3


async def test_a_new_miss_walks_the_alert_again_from_the_grid_leader(harness: Harness) -> None:
    await harness.advance(100 * MIN)  # 10:10: leader paged at 10:00
    first = await open_alert(harness, "Wang")
    assert first is not None
    await harness.say("Leader Li", f"/ack {first.id}")
    before = len(await alerts_to(harness, "Leader Li", "Wang"))
    await harness.advance(DAY)  # acknowledged, never closed; silent again the next day
    again = await open_alert(harness, "Wang")
    assert again is not None and again.id == first.id
    assert again.state is AlertState.OPEN and again.misses == 2
    copies = await alerts_to(harness, "Leader Li", "Wang")
    assert len(copies) > before
    assert "Missed 2 rounds in a row" in copies[-1].text


async def test_an_exhausted_alert_is_sent_again_at_the_next_round(harness: Harness) -> None:
    # An urgent call for help nobody acknowledges walks every step and runs out.
    await harness.say("Chen", "Help me, I fell")
    await harness.advance(8 * 60 * MIN)
    alert = await open_alert(harness, "Chen")
    assert alert is not None
    async with harness.store.read() as tx:
        assert await tx.audit_kinds("alert.exhausted") >= 1
    before = len(await alerts_to(harness, "Leader Li", "Chen"))
    await harness.advance(DAY)
    assert len(await alerts_to(harness, "Leader Li", "Chen")) > before


# -- one live copy --------------------------------------------------------------------


async def test_a_newer_copy_takes_the_buttons_from_the_older_one(harness: Harness) -> None:
    await harness.advance(90 * MIN)  # 10:00: leader paged (step 1)
    await harness.advance(90 * MIN)  # 11:30: the policy repeats: leader paged again
    copies = await alerts_to(harness, "Leader Li", "Wang")
    assert len(copies) == 2
    live = [d for d in await harness.inbox("Leader Li") if d.buttons]
    # The newest copy has buttons; the older one was edited to point to it.
    superseded = [d for d in await harness.inbox("Leader Li") if "was updated" in d.text]
    assert superseded and superseded[-1].buttons == ()
    assert live[-1].text == copies[-1].text


# -- rounds by hand -------------------------------------------------------------------


async def test_starting_a_round_three_times_asks_each_resident_once(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))  # 11:00 Shanghai
    await harness.settle()
    for _ in range(3):
        await harness.engine.start_round()
        await harness.settle()
    prompts = [d for d in await harness.inbox("Wang") if "今天身体还好吗" in d.text]
    # The 09:00 round (caught up at start) or the first hand-started one: one prompt.
    assert len(prompts) == 1
    await harness.press("Wang", prompts[0], "我很好")
    await harness.advance(3 * 60 * MIN)
    assert not [d for d in await harness.inbox("Wang") if "还没收到" in d.text]
    assert await open_alert(harness, "Wang") is None


async def test_a_round_started_in_quiet_hours_waits_for_morning(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 11, 23, 13, 42, tzinfo=UTC))  # 21:42 Shanghai
    await harness.settle()
    sent_before = len(harness.adapter.sent)
    result = await harness.engine.start_round()
    await harness.settle()
    assert result.opened == 0 and result.deferred_until is not None
    assert result.deferred_until.astimezone(UTC).hour == 23  # 07:00 Shanghai
    assert len(harness.adapter.sent) == sent_before
    await harness.advance(9 * 60 * MIN + 18 * MIN)  # past 07:00
    assert [d for d in await harness.inbox("Wang") if "今天身体还好吗" in d.text]


async def test_an_emergency_round_goes_out_at_once_and_says_so(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 11, 23, 13, 42, tzinfo=UTC))  # 21:42 Shanghai
    await harness.settle()
    result = await harness.engine.start_round(emergency=True)
    await harness.settle()
    assert result.opened == 2
    assert "紧急问候" in (await harness.last("Wang")).text


# -- every message gets an answer -----------------------------------------------------


async def test_a_message_outside_a_round_is_acknowledged_once_an_hour(harness: Harness) -> None:
    await harness.say("Wang", "你好")
    await harness.say("Wang", "今天天气不错")
    acks = [d for d in await harness.inbox("Wang") if "收到，谢谢您" in d.text]
    assert len(acks) == 1
    await harness.advance(61 * MIN)  # 09:31: the round's prompt has been answered? no
    await harness.say("Wang", "吃过早饭了")
    assert len([d for d in await harness.inbox("Wang") if "收到" in d.text]) >= 2


async def test_an_unknown_command_gets_a_short_help(harness: Harness) -> None:
    await harness.say("Wang", "/foo")
    reply = (await harness.last("Wang")).text
    assert "没有这个命令" in reply and "/need" in reply
    await harness.say("Leader Li", "/bar")
    assert "/alerts" in (await harness.last("Leader Li")).text


async def test_a_leaders_reply_to_an_alert_is_a_note_on_every_copy(harness: Harness) -> None:
    await harness.advance(110 * MIN)  # 10:20: leader and care lead paged
    page = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    message_id = harness.adapter.message_ids[page.outbox_id]
    await harness.say("Leader Li", "On my way to see her", reply_to=message_id)
    assert "Added to #" in (await harness.last("Leader Li")).text
    for name in ("Leader Li", "Lead Zhang"):
        edits = [d for d in await harness.inbox(name) if d.edit_of and "On my way" in d.text]
        assert edits, f"{name}'s copy does not show the note"
        assert "Leader Li: On my way to see her" in edits[-1].text


async def test_a_leaders_free_text_gets_a_hint(harness: Harness) -> None:
    await harness.say("Leader Li", "hello?")
    assert "reply to the alert" in (await harness.last("Leader Li")).text


# -- what an alert carries ------------------------------------------------------------


async def test_an_alert_carries_address_family_and_last_sign_of_life(harness: Harness) -> None:
    await harness.advance(30 * MIN)  # 09:00 round
    await harness.say("Wang", "好的")  # heard from at 09:00
    await harness.advance(DAY + 61 * MIN)  # silent on the 24th: paged at 10:00
    page = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    assert "Address: B3-402" in page.text
    assert "Phone: 1380011" in page.text
    assert "Son Wang 1390021" in page.text
    assert "Last heard: 11-23 09:00" in page.text
    assert "Missed in the last 7 days: 1" in page.text


async def test_an_alert_names_a_family_contacts_relation_from_the_people_file(
    harness: Harness,
) -> None:
    daughter = (
        "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,"
        "family_of,relation\n"
        "Mei Wang,family,,,zh,,1390022,,,,,Wang,daughter\n"
    )
    await import_people(harness.store, harness.config, daughter, harness.clock.now())
    await harness.advance(DAY + 61 * MIN)  # no answer to the 09:00 round: paged at 10:00
    page = (await alerts_to(harness, "Leader Li", "Wang"))[-1]
    assert "Son Wang 1390021; Mei Wang (daughter) 1390022" in page.text
    exported = await export_people(harness.store)
    # (then contact, caller, deputy and risk, all empty)
    assert "Mei Wang,family,,,zh,Asia/Shanghai,1390022,,,,,Wang,daughter,,,,\n" in exported


async def test_a_relation_is_refused_on_anyone_but_family(harness: Harness) -> None:
    text = (
        "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,relation\n"
        "Wu,resident,G1,,zh,,2,,,,,mother\n"
    )
    with pytest.raises(PeopleFileError) as caught:
        await import_people(harness.store, harness.config, text, harness.clock.now())
    assert [str(p) for p in caught.value.problems] == ["line 2: relation is only for family rows"]


# -- who has a need -------------------------------------------------------------------


async def test_a_need_with_no_running_team_names_the_leader_who_has_it(harness: Harness) -> None:
    await harness.say("Wang", "/need 药 降压药吃完了")
    told = (await harness.last("Wang")).text
    assert "已转给网格长Leader Li" in told
    assert "medicine" not in told


# -- responders who cannot be reached -------------------------------------------------

UNENROLLED_LEADER = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
Leader3,grid_leader,G3,B1,en,,1380031,,,,,
Lead3,care_lead,G3,,en,,1380032,,,,,
Zhao,resident,G3,B1,zh,,1380033,B1-101,,,,
"""


async def _grid_three(h: Harness, enrol: tuple[str, ...]) -> None:
    await import_people(h.store, h.config, UNENROLLED_LEADER, h.clock.now())
    async with h.store.transaction() as tx:
        for name in enrol:
            person = await tx.person_by_name(name)
            assert person is not None
            await tx.bind_identity(
                person.id, "test", str(person.id), f"test:{person.id}", h.clock.now()
            )


async def test_a_step_nobody_can_be_reached_on_passes_on_at_once(harness: Harness) -> None:
    await _grid_three(harness, ("Lead3", "Zhao"))
    await harness.say("Zhao", "救命，我摔倒了")
    alert = await open_alert(harness, "Zhao")
    assert alert is not None
    # The care lead has it now, not after the grid leader's 20 minutes.
    page = (await alerts_to(harness, "Lead3", "Zhao"))[-1]
    assert "Leader3 cannot be reached" in page.text
    async with harness.store.read() as tx:
        audit = await tx.audit_of(f"alert:{alert.id}")
    assert any(kind == "alert.step_unreachable" for kind, *_ in audit)
    told = [d.text for d in await harness.inbox("Zhao")]
    assert any("正在联系Lead3" in t for t in told)
    assert not any("Leader3" in t for t in told)


async def test_a_leader_who_blocked_the_bot_is_passed_over_when_the_copy_fails(
    harness: Harness,
) -> None:
    leader = await harness.chat("Leader Li")
    harness.adapter.failures[leader] = Failure(DeliveryError("blocked", permanent=True))
    await harness.say("Wang", "救命")
    assert await alerts_to(harness, "Lead Zhang", "Wang"), "care lead not told at once"


async def test_status_warns_of_a_grid_without_a_reachable_leader(harness: Harness) -> None:
    from gateway.status import render_table, today

    await _grid_three(harness, ("Zhao",))
    status = await today(harness.store, harness.clock.now(), "Asia/Shanghai")
    assert status.grids_without_leader == ["G3"]
    assert "grid G3 has no grid leader enrolled" in render_table(status)


# -- who may act ----------------------------------------------------------------------

TEAM_MEMBER = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
Helper Wu,team_member,,,en,,1380041,,,,,
"""


async def test_a_team_member_without_a_grid_cannot_act_on_alerts(harness: Harness) -> None:
    await import_people(harness.store, harness.config, TEAM_MEMBER, harness.clock.now())
    async with harness.store.transaction() as tx:
        wu = await tx.person_by_name("Helper Wu")
        assert wu is not None
        await tx.bind_identity(wu.id, "test", str(wu.id), f"test:{wu.id}", harness.clock.now())
    await harness.say("Wang", "救命")
    alert = await open_alert(harness, "Wang")
    assert alert is not None
    await harness.say("Helper Wu", f"/ack {alert.id}")
    assert "may not act" in (await harness.last("Helper Wu")).text
    token = (await alerts_to(harness, "Leader Li", "Wang"))[-1].buttons[0][0].token
    await harness.adapter.press(await harness.user("Helper Wu"), token)
    await harness.settle()
    still = await open_alert(harness, "Wang")
    assert still is not None and still.state is AlertState.OPEN


# -- the window counts from delivery --------------------------------------------------


async def test_the_reply_window_counts_from_this_residents_delivery(harness: Harness) -> None:
    wang = await harness.chat("Wang")
    # Wang's prompt is held up: the platform keeps failing for a while.
    harness.adapter.failures[wang] = Failure(DeliveryError("timeout", permanent=False), times=8)
    await harness.advance(30 * MIN)  # 09:00 round
    await harness.advance(50 * MIN)  # 09:50
    prompts = [d for d in await harness.inbox("Wang") if "今天身体还好吗" in d.text]
    assert prompts, "the prompt never got through"
    delivered_at = harness.clock.now()
    await harness.advance(15 * MIN)  # 10:05: past the round's window, inside Wang's
    assert await open_alert(harness, "Wang") is None
    await harness.press("Wang", prompts[-1], "我很好")
    assert await checkin_states(harness, "Wang") == [CheckinState.OK]
    await harness.advance(2 * 60 * MIN)
    assert await open_alert(harness, "Wang") is None
    assert delivered_at > datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


# -- invitations never take an identity -----------------------------------------------


async def test_an_invitation_never_moves_an_account_away_from_its_person(
    harness: Harness,
) -> None:
    wang = await harness.person("Wang")
    async with harness.store.transaction() as tx:
        from workflows.enrollment import new_code

        code = new_code()
        await tx.add_invite(code, wang.id, None, harness.clock.now(), harness.clock.now() + DAY)
    # The grid leader opens the resident's link from their own account.
    await harness.say("Leader Li", f"/start {code}")
    assert "already enrolled as Leader Li" in (await harness.last("Leader Li")).text
    leader = await harness.person("Leader Li")
    async with harness.store.read() as tx:
        identity = await tx.identity("test", str(leader.id))
        invite = await tx.open_invite(code, harness.clock.now())
    assert identity is not None and identity.person_id == leader.id
    assert invite is not None, "a refused code stays usable for the right person"
