"""The check-in and escalation flow on an injected clock, through a recording adapter."""

from __future__ import annotations

import base64
import hmac
from datetime import timedelta

from adapters.base import DeliveryError
from core.events import MessageKind
from core.records import AlertState, CheckinState
from tests.conftest import Harness
from tests.fakes import Failure

MIN = timedelta(minutes=1)


async def about(h: Harness, name: str, resident: str):  # type: ignore[no-untyped-def]
    found = [d for d in await h.inbox(name) if f"\n{resident} (" in d.text]
    assert found, f"{name} got nothing about {resident}"
    return found[-1]


async def checkin_state(h: Harness, name: str) -> CheckinState:
    person = await h.person(name)
    async with h.store.transaction() as tx:
        rows = await tx._all(
            "SELECT state FROM checkins WHERE person_id = ? ORDER BY id DESC LIMIT 1", (person.id,)
        )
    return CheckinState(rows[0]["state"])


async def open_alert(h: Harness, name: str):  # type: ignore[no-untyped-def]
    person = await h.person(name)
    async with h.store.transaction() as tx:
        return await tx.unresolved_alert_of(person.id)


async def test_it_sends_the_checkin_at_nine_in_the_residents_timezone(harness: Harness) -> None:
    await harness.advance(29 * MIN)  # 08:59 in Shanghai
    assert await harness.inbox("Wang") == []
    await harness.advance(1 * MIN)
    prompt = await harness.last("Wang")
    assert "今天身体还好吗" in prompt.text
    labels = [b.label for row in prompt.buttons for b in row]
    assert labels == ["✅ 我很好", "🆘 需要帮助"]
    assert "How are you today" in (await harness.last("Chen")).text
    assert await harness.inbox("Leader Li") == []


async def test_it_records_a_button_answer_and_edits_the_prompt(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    prompt = await harness.last("Wang")
    await harness.press("Wang", prompt, "我很好")
    assert await checkin_state(harness, "Wang") is CheckinState.OK
    edit = await harness.last("Wang")
    assert edit.edit_of and "已记录：您很好" in edit.text and edit.buttons == ()
    toasts = [d for d in await harness.inbox("Wang") if d.callback_id]
    assert toasts, "the button press was not answered"
    await harness.advance(120 * MIN)
    assert await open_alert(harness, "Wang") is None
    assert not [d for d in await harness.inbox("Wang") if "还没收到" in d.text]


async def test_any_message_kind_counts_as_a_sign_of_life(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    await harness.say("Wang", "", kind=MessageKind.VOICE)
    assert await checkin_state(harness, "Wang") is CheckinState.OK
    await harness.say("Chen", "", kind=MessageKind.STICKER)
    assert await checkin_state(harness, "Chen") is CheckinState.OK


async def test_help_words_open_an_urgent_alert_at_once(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    await harness.say("Wang", "我摔倒了，起不来")
    assert await checkin_state(harness, "Wang") is CheckinState.HELP
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.urgent and alert.reason.value == "help"
    message = await harness.last("Leader Li")
    assert "Call for help" in message.text and "1380011" in message.text
    assert "B3" in message.text and "摔倒" in message.text
    # The resident is told help is coming.
    assert any("Leader Li" in d.text for d in await harness.inbox("Wang"))


async def test_english_help_word_outside_a_checkin_still_opens_an_alert(harness: Harness) -> None:
    await harness.say("Chen", "Please help, I fell")
    alert = await open_alert(harness, "Chen")
    assert alert is not None and alert.urgent


async def test_silence_reminds_then_escalates_step_by_step(harness: Harness) -> None:
    await harness.advance(30 * MIN)  # 09:00 round
    await harness.advance(30 * MIN)  # 09:30 reminder
    assert "还没收到" in (await harness.last("Wang")).text
    assert await checkin_state(harness, "Wang") is CheckinState.REMINDED
    await harness.advance(29 * MIN)
    assert await harness.inbox("Leader Li") == []
    await harness.advance(1 * MIN)  # 10:00 window closes
    assert await checkin_state(harness, "Wang") is CheckinState.MISSED
    alert_msg = await about(harness, "Leader Li", "Wang")
    assert "No answer" in alert_msg.text and "1380011" in alert_msg.text
    assert "11-23 09:00" in alert_msg.text and "10:00" in alert_msg.text
    assert await harness.inbox("Lead Zhang") == []
    await harness.advance(20 * MIN)  # nobody acknowledged: care lead
    assert "No answer" in (await harness.last("Lead Zhang")).text
    assert await harness.inbox("Son Wang") == []
    await harness.advance(30 * MIN)  # then family
    assert "No answer" in (await harness.last("Son Wang")).text
    # Another grid's leader is never told.
    assert await harness.inbox("Leader Other") == []


async def test_acknowledging_stops_the_walk_and_resolving_needs_an_outcome(
    harness: Harness,
) -> None:
    await harness.advance(90 * MIN)
    alert_msg = await about(harness, "Leader Li", "Wang")
    await harness.press("Leader Li", alert_msg, "I'll handle it")
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.state is AlertState.ACKNOWLEDGED
    edited = await about(harness, "Leader Li", "Wang")
    assert edited.edit_of and "Acknowledged by Leader Li" in edited.text
    await harness.advance(120 * MIN)
    assert not [d for d in await harness.inbox("Lead Zhang") if "Wang" in d.text]
    await harness.press("Leader Li", edited, "Close")
    menu = await harness.last("Leader Li")
    assert "choose the outcome" in menu.text
    await harness.press("Leader Li", menu, "visited")
    async with harness.store.transaction() as tx:
        closed = await tx.alert(alert.id)
    assert closed is not None and closed.state is AlertState.RESOLVED
    assert closed.outcome == "visited"


async def test_resolve_command_takes_free_text(harness: Harness) -> None:
    await harness.advance(90 * MIN)
    alert = await open_alert(harness, "Wang")
    assert alert is not None
    await harness.say("Leader Li", f"/resolve {alert.id} phoned her daughter, all fine")
    async with harness.store.transaction() as tx:
        closed = await tx.alert(alert.id)
    assert closed is not None and closed.outcome == "phoned her daughter, all fine"
    await harness.say("Leader Li", f"/ack {alert.id}")
    assert "already closed" in (await harness.last("Leader Li")).text


async def test_a_late_answer_resolves_the_alert_and_stands_everyone_down(
    harness: Harness,
) -> None:
    await harness.advance(110 * MIN)  # alert at 10:00, care lead told at 10:20
    assert await harness.inbox("Lead Zhang")
    await harness.say("Wang", "我没事，刚才在买菜")
    alert = await open_alert(harness, "Wang")
    assert alert is None
    for name in ("Leader Li", "Lead Zhang"):
        told = [d for d in await harness.inbox(name) if "can stand down" in d.text]
        assert any("Wang answered" in d.text and not d.edit_of for d in told)
        assert any(d.edit_of and d.buttons == () for d in told), "copies were not edited"
    assert await harness.inbox("Son Wang") == []
    await harness.advance(120 * MIN)
    assert await harness.inbox("Son Wang") == []


async def test_only_responders_of_the_residents_grid_may_act(harness: Harness) -> None:
    await harness.advance(90 * MIN)
    alert = await open_alert(harness, "Wang")
    assert alert is not None
    await harness.say("Leader Other", f"/ack {alert.id}")
    assert "may not act" in (await harness.last("Leader Other")).text
    # A button issued to Leader Li, replayed by the other grid's leader, does nothing.
    alert_msg = await about(harness, "Leader Li", "Wang")
    token = alert_msg.buttons[0][0].token
    await harness.adapter.press(await harness.user("Leader Other"), token)
    await harness.settle()
    still = await open_alert(harness, "Wang")
    assert still is not None and still.state is AlertState.OPEN


async def test_forged_and_replayed_buttons_change_nothing(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    prompt = await harness.last("Wang")
    ok, help_ = prompt.buttons[0]
    await harness.adapter.press(await harness.user("Wang"), ok.token[:-2] + "xx")
    await harness.settle()
    assert await checkin_state(harness, "Wang") is CheckinState.SENT
    await harness.press("Wang", prompt, "我很好")
    await harness.adapter.press(await harness.user("Wang"), help_.token)  # replay of old prompt
    await harness.settle()
    assert await checkin_state(harness, "Wang") is CheckinState.OK
    assert await open_alert(harness, "Wang") is None
    toasts = [d.text for d in await harness.inbox("Wang") if d.callback_id]
    assert any("已经用过" in t for t in toasts)
    # Somebody else pressing Wang's button is refused.
    await harness.adapter.press(await harness.user("Chen"), ok.token)
    await harness.settle()
    assert any("not for you" in d.text for d in await harness.inbox("Chen"))


async def test_a_button_signed_the_way_buttons_were_signed_before_still_works(
    harness: Harness,
) -> None:
    """Buttons stay in people's chats across an upgrade: one signed with HMAC-SHA256,
    as before keyed BLAKE2b, is still taken; a forged one of either kind is not."""
    await harness.advance(30 * MIN)
    ok = (await harness.last("Wang")).buttons[0][0]
    async with harness.store.read() as tx:
        key = await tx.kv_get("actions.key")
    assert key is not None
    body = ok.token.rsplit(".", 1)[0]
    signed_before = hmac.digest(bytes.fromhex(key), body.encode(), "sha256")[:9]
    old = f"{body}.{base64.urlsafe_b64encode(signed_before).decode()}"
    assert old != ok.token
    await harness.adapter.press(
        await harness.user("Wang"), old[:-1] + ("A" if old[-1] != "A" else "B")
    )
    await harness.settle()
    assert await checkin_state(harness, "Wang") is CheckinState.SENT
    await harness.adapter.press(await harness.user("Wang"), old)
    await harness.settle()
    assert await checkin_state(harness, "Wang") is CheckinState.OK


async def test_an_unreachable_resident_is_an_alert(harness: Harness) -> None:
    wang = await harness.chat("Wang")
    harness.adapter.failures[wang] = Failure(DeliveryError("blocked", permanent=True))
    await harness.advance(30 * MIN)
    assert await checkin_state(harness, "Wang") is CheckinState.UNREACHABLE
    alert = await open_alert(harness, "Wang")
    assert alert is not None and alert.reason.value == "unreachable"
    assert "Unreachable" in (await harness.last("Leader Li")).text


async def test_transient_failures_are_retried_with_an_attempt_history(harness: Harness) -> None:
    wang = await harness.chat("Wang")
    harness.adapter.failures[wang] = Failure(DeliveryError("timeout", permanent=False), times=2)
    await harness.advance(30 * MIN)
    assert await harness.inbox("Wang") == []
    await harness.advance(2 * MIN)
    assert "今天身体还好吗" in (await harness.last("Wang")).text
    checkin_id = await _checkin_id(harness, "Wang")
    async with harness.store.transaction() as tx:
        row = (await tx.outbox_for("checkin", checkin_id))[0]
        attempts = await tx.delivery_attempts(row.id)
    assert attempts == [(False, "timeout"), (False, "timeout"), (True, "")]


async def _checkin_id(h: Harness, name: str) -> int:
    person = await h.person(name)
    async with h.store.transaction() as tx:
        c = await tx._all("SELECT id FROM checkins WHERE person_id = ?", (person.id,))
    return int(c[0]["id"])


async def test_a_leaving_resident_is_an_alert(harness: Harness) -> None:
    await harness.adapter.leave(await harness.user("Chen"))
    await harness.settle()
    alert = await open_alert(harness, "Chen")
    assert alert is not None and alert.reason.value == "unreachable"


async def test_inbound_events_are_deduplicated_by_platform_event_id(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    user = await harness.user("Chen")
    assert await harness.adapter.say(user, "hello", event_id="same")
    assert not await harness.adapter.say(user, "hello", event_id="same")
    await harness.settle()
    thanks = [d for d in await harness.inbox("Chen") if "Thank you, noted" in d.text]
    assert len(thanks) == 1


async def test_stop_opts_out_of_routine_checkins_and_tells_the_grid_leader(
    harness: Harness,
) -> None:
    await harness.say("Wang", "/stop")
    assert "不再每天问候" in (await harness.last("Wang")).text
    assert "stopped the daily check-in" in (await harness.last("Leader Li")).text
    await harness.advance(30 * MIN)
    assert not [d for d in await harness.inbox("Wang") if "今天身体还好吗" in d.text]
    assert "How are you" in (await harness.last("Chen")).text


async def test_a_late_answer_is_thanked_and_the_missed_prompt_shows_it(harness: Harness) -> None:
    await harness.advance(90 * MIN)  # window closed at 10:00
    await harness.say("Chen", "sorry, I was asleep")
    texts = [d.text for d in await harness.inbox("Chen")]
    assert any("Thank you, noted" in t for t in texts)
    edits = [d for d in await harness.inbox("Chen") if d.edit_of and "Recorded" in d.text]
    assert edits and all(d.buttons == () for d in edits)


async def test_an_answer_while_the_prompt_is_being_delivered_edits_it_once_it_lands(
    harness: Harness,
) -> None:
    """The resident writes while the platform has their prompt in hand (a slow send, or
    a retry after a lost response): the prompt is not cancelled and replaced but edited
    once delivered, so no copy keeps its buttons."""
    harness.clock.set(harness.clock.now() + 30 * MIN)  # 09:00 in Shanghai
    await harness.engine.fire_due_timers()
    wang = await harness.chat("Wang")
    async with harness.store.read() as tx:
        queued = await tx.sendable("test", harness.clock.now(), 100)
    [prompt] = [r for r in queued if r.chat == wang]
    with harness.store.sending(prompt.id):
        await harness.adapter.say(await harness.user("Wang"), "好")
        assert await harness.engine.process_inbox() == 1
        message_id = await harness.adapter.deliver(prompt.delivery())
    harness.store.record_sent(prompt.id, message_id, harness.clock.now())
    assert await checkin_state(harness, "Wang") is CheckinState.OK
    await harness.settle()
    first, *rest = await harness.inbox("Wang")
    assert first.buttons, "the prompt as delivered"
    [edit] = [d for d in rest if d.edit_of]
    assert edit.edit_of == message_id and "已记录：您很好" in edit.text
    # Nothing else offers the buttons again (the rest is the thank-you).
    assert [d.buttons for d in rest] == [()] * len(rest)
    assert not [d for d in rest if "今天身体还好吗" in d.text and not d.edit_of]


async def test_an_answer_handled_after_the_outbox_chose_the_prompt_edits_it_once_it_lands(
    harness: Harness,
) -> None:
    """The outbox has picked the prompt to send but its send has not started when the
    answer is handled: the prompt is already the outbox's, so it is edited once it
    lands, not cancelled (and then sent all the same) with a replacement after it."""
    harness.clock.set(harness.clock.now() + 30 * MIN)  # 09:00 in Shanghai
    await harness.engine.fire_due_timers()
    await harness.adapter.say(await harness.user("Wang"), "好")
    worker = harness.engine.workers["test"]
    await worker.run_once()  # the sends are started as tasks: none has run yet
    assert await harness.engine.process_inbox() == 1
    await worker.finish_sends()
    assert await checkin_state(harness, "Wang") is CheckinState.OK
    await harness.settle()
    first, *rest = await harness.inbox("Wang")
    assert first.buttons, "the prompt as delivered"
    edits = [d for d in rest if d.edit_of]
    assert len(edits) == 1 and "已记录：您很好" in edits[0].text
    assert not [d for d in rest if d.buttons or ("今天身体还好吗" in d.text and not d.edit_of)]


async def test_an_alert_copy_being_delivered_when_the_alert_is_called_off_is_edited(
    harness: Harness,
) -> None:
    """The leader's copy of an alert is on its way when a late answer calls the alert
    off: the copy is edited once it lands, and stays the one copy on record."""
    await harness.advance(30 * MIN)  # 09:00: prompts out
    alert = None
    for _ in range(180):  # the clock alone, nothing sent: the copy stays queued
        harness.clock.set(harness.clock.now() + MIN)
        await harness.engine.fire_due_timers()
        alert = await open_alert(harness, "Wang")
        if alert is not None:
            break
    assert alert is not None, "no alert for Wang's silence"
    leader = await harness.chat("Leader Li")
    async with harness.store.read() as tx:
        [copy] = await tx.notifications(alert.id)
        row = await tx.outbox_row(copy.outbox_id)
    assert row is not None and row.chat == leader and row.state == "pending"
    with harness.store.sending(row.id):
        await harness.adapter.say(await harness.user("Wang"), "好")
        await harness.engine.process_inbox()
        message_id = await harness.adapter.deliver(row.delivery())
    harness.store.record_sent(row.id, message_id, harness.clock.now())
    assert (await open_alert(harness, "Wang")) is None
    await harness.settle()
    async with harness.store.read() as tx:
        copies = await tx.notifications(alert.id)
        rows = [await tx.outbox_row(c.outbox_id) for c in copies]
    # The copy on record is the message the leader has, not an edit of it.
    assert [(r.id, r.edit_of) for r in rows if r is not None] == [(row.id, None)]
    first, *later = await harness.inbox("Leader Li")
    assert first.buttons, "the alert as delivered"
    edits = [d for d in later if d.edit_of == message_id]
    assert edits and edits[-1].buttons == ()
