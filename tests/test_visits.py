"""Proxy visits: someone who saw the resident says so (/visited), on the injected clock
through the recording adapter."""

from __future__ import annotations

from core.records import AlertReason, AlertState, CheckinState, ContactKind
from tests.care_harness import MIN, care, care_config, checkins, fresh, open_alert
from tests.conftest import Harness

__all__ = ["care", "care_config"]


async def test_a_visit_answers_the_pending_check_in_by_proxy(care: Harness) -> None:
    await care.advance(30 * MIN)  # 09:00: Wang is asked
    await care.say("Deputy Zhou", "/visited Wang ok")
    assert "visited Wang, all right" in (await care.last("Deputy Zhou")).text
    assert await checkins(care, "Wang") == [(CheckinState.OK, "visit")]
    # Wang's prompt says who vouched for him, and cannot be answered again.
    edited = [d for d in await care.inbox("Wang") if d.edit_of]
    assert "Deputy Zhou确认您平安" in edited[-1].text and edited[-1].buttons == ()
    wang, zhou = await care.person("Wang"), await care.person("Deputy Zhou")
    async with care.store.read() as tx:
        contact = await tx.last_contact(wang.id)
    assert contact is not None and (contact.kind, contact.by) == (ContactKind.VISIT, zhou.id)
    await care.advance(2 * 60 * MIN)
    assert await open_alert(care, "Wang") is None


async def test_a_visit_stands_down_a_missed_check_in_alert(care: Harness) -> None:
    await care.advance(90 * MIN)  # 10:00: Wang missed, Leader Li paged
    missed = await open_alert(care, "Wang")
    assert missed is not None and missed.reason is AlertReason.MISSED
    await care.say("Son Wang", "/visited Wang ok")
    async with care.store.read() as tx:
        closed = await tx.alert(missed.id)
    assert closed is not None and closed.state is AlertState.RESOLVED
    assert closed.outcome == "visited"
    reply = (await care.last("Son Wang")).text
    assert f"alert #{missed.id} is called off" in reply
    told = await fresh(care, "Leader Li", "Son Wang confirmed Wang is all right")
    assert len(told) == 1 and "visited" in told[0].text


async def test_a_visit_does_not_stand_down_a_call_for_help(care: Harness) -> None:
    await care.say("Wang", "救命")
    helping = await open_alert(care, "Wang")
    assert helping is not None and helping.urgent
    await care.say("Leader Li", "/visited Wang ok")
    still = await open_alert(care, "Wang")
    assert still is not None and still.id == helping.id and still.state is AlertState.OPEN


async def test_a_visit_with_a_concern_opens_a_normal_alert_with_the_note(care: Harness) -> None:
    await care.advance(30 * MIN)
    await care.say("Caller Liu", "/visited Wang concern 腿肿了，走路疼")
    alert = await open_alert(care, "Wang")
    assert alert is not None and alert.reason is AlertReason.REPORTED and not alert.urgent
    assert await checkins(care, "Wang") == [(CheckinState.OK, "visit")]
    page = (await fresh(care, "Leader Li", "Reported after a visit"))[-1]
    assert "Caller Liu visited and reports: 腿肿了，走路疼" in page.text
    assert f"#{alert.id}" in (await care.last("Caller Liu")).text


async def test_only_the_grid_s_people_and_the_family_may_report_a_visit(care: Harness) -> None:
    await care.say("Leader Other", "/visited Wang ok")
    assert "You may not act for Wang" in (await care.last("Leader Other")).text
    await care.say("Leader Li", "/visited Nobody ok")
    assert "Nobody named" in (await care.last("Leader Li")).text
    await care.say("Leader Li", "/visited Wang concern")
    assert "Usage: /visited" in (await care.last("Leader Li")).text
    # A resident cannot vouch for a neighbour: the command is for responders.
    await care.say("Chen", "/visited Wang ok")
    assert "I don't know that command" in (await care.last("Chen")).text
    wang = await care.person("Wang")
    async with care.store.read() as tx:
        assert await tx.last_contact(wang.id) is None
