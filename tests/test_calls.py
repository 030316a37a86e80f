"""Phone-call tasks: a resident without a chat app is checked by a caller's call, on the
injected clock through the recording adapter (the Telegram rendering of a task has its
own test in tests/test_telegram_calls.py)."""

from __future__ import annotations

from adapters.base import DeliveryError
from core.records import AlertReason, CheckinState, ContactKind
from tests.care_harness import (
    MIN,
    care,
    care_config,
    checkins,
    fresh,
    labels,
    open_alert,
)
from tests.conftest import Harness
from tests.fakes import Failure

__all__ = ["care", "care_config"]

TASK = "请给刘桂兰打电话：13800000011（3栋2单元402）"


async def test_at_round_time_the_caller_gets_one_task_per_resident_with_three_buttons(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)  # the 09:00 round
    tasks = await fresh(care, "Caller Liu", "打电话")
    assert [t.text for t in tasks] == [TASK]
    assert labels(tasks[0]) == ["✅ 接通·平安", "🆘 接通·需要帮助", "📵 无人接听"]
    # The number is a tel: link where the platform can show one.
    assert tasks[0].links == (("拨打", "tel:13800000011"),)
    # Her own caller has her; the grid's callers phone only those without one.
    assert await fresh(care, "Caller Gao", "call") == []
    assert await checkins(care, "刘桂兰") == [(CheckinState.SENT, "")]
    # Chat residents are asked in their chat as before.
    assert "今天身体还好吗" in (await care.last("Wang")).text


async def test_reached_and_fine_answers_the_check_in_by_proxy(care: Harness) -> None:
    await care.advance(30 * MIN)
    task = (await fresh(care, "Caller Liu", "打电话"))[0]
    await care.press("Caller Liu", task, "接通·平安")
    assert await checkins(care, "刘桂兰") == [(CheckinState.OK, "call")]
    resident, caller = await care.person("刘桂兰"), await care.person("Caller Liu")
    async with care.store.read() as tx:
        contact = await tx.last_contact(resident.id)
        calls = await tx.call_attempts((await tx.recent_checkins(resident.id, 1))[0].id)
    assert contact is not None and (contact.kind, contact.by) == (ContactKind.CALL, caller.id)
    assert [c.outcome.value for c in calls] == ["answered"]
    edited = [d for d in await care.inbox("Caller Liu") if d.edit_of]
    assert edited and "Caller Liu 已接通：平安" in edited[-1].text and edited[-1].buttons == ()
    # Nothing escalates when the window would have closed.
    await care.advance(90 * MIN)
    assert await open_alert(care, "刘桂兰") is None
    assert await fresh(care, "Leader Li", "刘桂兰") == []


async def test_reached_but_needing_help_opens_an_urgent_alert_and_a_reply_adds_a_note(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)
    task = (await fresh(care, "Caller Liu", "打电话"))[0]
    await care.press("Caller Liu", task, "需要帮助")
    alert = await open_alert(care, "刘桂兰")
    assert alert is not None and alert.urgent and alert.reason is AlertReason.HELP
    assert await checkins(care, "刘桂兰") == [(CheckinState.HELP, "call")]
    page = (await fresh(care, "Leader Li", "刘桂兰"))[-1]
    assert "caller Caller Liu reached them: needs help" in page.text
    # What the resident said on the phone: a reply to the task is a note on the alert.
    await care.say(
        "Caller Liu", "摔了一跤，腿疼", reply_to=care.adapter.message_ids[task.outbox_id]
    )
    async with care.store.read() as tx:
        notes = await tx.alert_notes(alert.id)
    assert [n.text for n in notes] == ["摔了一跤，腿疼"]
    assert "摔了一跤" in (await care.inbox("Leader Li"))[-1].text


async def test_no_answer_rings_again_after_call_retry_then_opens_a_missed_alert(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)
    for attempt in (1, 2, 3):
        tasks = await fresh(care, "Caller Liu", "打电话")
        assert len(tasks) == attempt
        if attempt > 1:
            assert f"第{attempt}次，共3次" in tasks[-1].text
        assert await open_alert(care, "刘桂兰") is None
        await care.press("Caller Liu", tasks[-1], "无人接听")
        if attempt < 3:
            await care.advance(29 * MIN)
            assert len(await fresh(care, "Caller Liu", "打电话")) == attempt
            await care.advance(1 * MIN)  # call_retry: 30 minutes
    alert = await open_alert(care, "刘桂兰")
    assert alert is not None and alert.reason is AlertReason.MISSED and not alert.urgent
    assert await checkins(care, "刘桂兰") == [(CheckinState.MISSED, "")]
    page = (await fresh(care, "Leader Li", "刘桂兰"))[-1]
    assert "3 calls, none answered" in page.text


async def test_a_task_nobody_takes_within_the_reply_window_escalates_like_a_missed_check_in(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)
    await care.advance(59 * MIN)
    assert await open_alert(care, "刘桂兰") is None
    await care.advance(1 * MIN)  # reply_window: 60 minutes
    alert = await open_alert(care, "刘桂兰")
    assert alert is not None and alert.reason is AlertReason.MISSED
    assert await fresh(care, "Leader Li", "#") != []
    # Reached later after all: as a late answer, it calls the alert off.
    task = (await fresh(care, "Caller Liu", "打电话"))[0]
    await care.press("Caller Liu", task, "接通·平安")
    assert await open_alert(care, "刘桂兰") is None
    assert len(await fresh(care, "Leader Li", "Caller Liu confirmed 刘桂兰 is all right")) == 1
    # Now the task is done with.
    await care.press("Caller Liu", task, "无人接听")
    assert "已经用过" in (await care.inbox("Caller Liu"))[-1].text


async def test_the_retry_window_restarts_so_a_retried_call_is_not_missed_early(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)
    await care.press("Caller Liu", (await fresh(care, "Caller Liu", "打电话"))[0], "无人接听")
    # The first window (09:00-10:00) is over, but the second call went out at 09:30.
    await care.advance(60 * MIN)
    assert await open_alert(care, "刘桂兰") is None
    await care.press("Caller Liu", (await fresh(care, "Caller Liu", "打电话"))[-1], "平安")
    assert await checkins(care, "刘桂兰") == [(CheckinState.OK, "call")]


async def test_a_resident_with_no_caller_at_all_is_an_alert_at_once(care: Harness) -> None:
    async with care.store.transaction() as tx:
        zhao = await tx.person_by_name("Zhao")
        assert zhao is not None
        await tx.set_contact(zhao.id, "phone")
    await care.advance(30 * MIN)
    alert = await open_alert(care, "Zhao")
    assert alert is not None and alert.reason is AlertReason.UNREACHABLE
    assert "no caller" in (await fresh(care, "Leader Other", "Zhao"))[-1].text


async def test_a_chat_resident_unreachable_two_rounds_in_a_row_is_phoned_and_the_leader_told(
    care: Harness,
) -> None:
    chat = await care.chat("Chen")
    care.adapter.failures[chat] = Failure(DeliveryError("bot was blocked", permanent=True))
    await care.advance(30 * MIN)  # round 1: undeliverable, an alert
    alert = await open_alert(care, "Chen")
    assert alert is not None and alert.reason is AlertReason.UNREACHABLE
    async with care.store.transaction() as tx:
        assert await tx.resolve_alert(alert.id, None, care.clock.now(), "unreachable")
    assert (await care.person("Chen")).contact == "chat"
    await care.advance(24 * 60 * MIN)  # round 2: undeliverable again
    assert (await care.person("Chen")).contact == "phone"
    told = await fresh(care, "Leader Li", "will be phoned from now on")
    assert len(told) == 1 and "Chen" in told[0].text and "Caller Gao" in told[0].text
    # Round 3: no chat prompt, a task for the grid's caller instead.
    sent_before = len(care.adapter.to(chat))
    await care.advance(24 * 60 * MIN)
    assert [t.text for t in await fresh(care, "Caller Gao", "Please call Chen")] == [
        "Please call Chen: 1380012 (B3-201)"
    ]
    assert len(care.adapter.to(chat)) == sent_before
    assert len(await fresh(care, "Leader Li", "will be phoned from now on")) == 1
