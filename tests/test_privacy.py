"""Privacy by design, on the injected clock: consent, need to know, reveals and their
audit, retention, seeing and erasing one's data, files readable by the owner only, and
no secret in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.enums import TimerKind
from core.records import NewPerson, Person
from gateway.cli import main
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.invites import create_invitation
from gateway.privacy_cli import render_reveals, reveals
from gateway.status import render_table, today
from store.sqlite import Store
from tests.conftest import START, Harness, make_community
from tests.fakes import RecordingAdapter

MIN = timedelta(minutes=1)
GROUP = "test:-700"

CSV = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
Leader Li,grid_leader,G1,B3,en,,1380001,,,,,
Lead Zhang,care_lead,G1,,en,,1380002,,,,,
Officer Zhou,operator,G1,,en,,1380003,,,,,
Volunteer Ma,team_member,G1,,en,,1380004,,,,,
王秀英,resident,G1,3栋,zh,,13800000011,3栋2单元402,,,,
Chen,resident,G1,B3,en,,1380012,B3-201,,,,
Son Wang,family,,,en,,1390021,,,,,王秀英
"""


async def _harness(db_path: Path, *, agreed: bool) -> Harness:
    config = parse_config(builtin_config_text())
    store = Store(db_path)
    await store.open()
    await make_community(store, config, START, CSV, contacts_agreed=agreed)
    h = Harness(store, FakeClock(START), config, RecordingAdapter())
    await h.start()
    return h


@pytest.fixture
async def h(db_path: Path) -> AsyncIterator[Harness]:
    harness = await _harness(db_path, agreed=True)
    yield harness
    await harness.engine.stop()
    await harness.store.close()


@pytest.fixture
async def unasked(db_path: Path) -> AsyncIterator[Harness]:
    """Family contacts and volunteers were added by an operator and never asked."""
    harness = await _harness(db_path, agreed=False)
    yield harness
    await harness.engine.stop()
    await harness.store.close()


async def _add(h: Harness, person: NewPerson) -> Person:
    async with h.store.transaction() as tx:
        await tx.upsert_people([person], h.clock.now())
        found = await tx.person_by_name(person.name)
    assert found is not None
    return found


def _new(name: str, role: str, language: str = "en", family_of: str = "") -> NewPerson:
    return NewPerson(
        name=name,
        role=role,
        grid="G1" if role == "resident" else "",
        building="B5",
        language=language,
        timezone="Asia/Shanghai",
        phone="139",
        address="B5-101",
        plan="daily" if role == "resident" else "",
        family_of_name=family_of,
    )


async def _texts(h: Harness, name: str) -> list[str]:
    return [d.text for d in await h.inbox(name) if not d.callback_id]


# -- consent ---------------------------------------------------------------------------


async def test_a_residents_start_is_recorded_as_consent_with_the_version_of_the_notice(
    h: Harness,
) -> None:
    liu = await _add(h, _new("刘桂兰", "resident", "zh"))
    code = await create_invitation(h.store, h.clock, h.config, "刘桂兰")
    await h.adapter.say("liu", f"/start {code}")
    await h.settle()
    (welcome,) = [d.text for d in h.adapter.to("test:liu")]
    # The greeting says what is kept, who sees it and how to stop, in plain words.
    assert "我们保存" in welcome and "网格长" in welcome and "/stop" in welcome
    assert "/forget" in welcome and "90天" in welcome
    async with h.store.read() as tx:
        (consent,) = await tx.consents_of(liu.id)
    assert consent.decision == "given" and consent.at == START
    assert consent.version.startswith("notice-") and consent.detail == "/start test"
    # The same notice in English is another version of the text.
    assert consent.version != (await _english_version(h))


async def _english_version(h: Harness) -> str:
    from workflows import privacy

    async with h.engine.work() as work:
        return privacy.notice_version(work, "en")


async def test_a_contact_given_a_chat_in_the_people_file_is_asked_at_once(
    unasked: Harness,
) -> None:
    h = unasked
    await h.settle()
    (question,) = await h.inbox("Son Wang")
    assert "Receive 王秀英's alerts?" in question.text
    (volunteer,) = await h.inbox("Volunteer Ma")
    assert "Receive alerts and needs of G1's residents?" in volunteer.text
    await h.advance(10 * MIN)  # asked once, not at every pass
    assert len(await h.inbox("Son Wang")) == 1


def test_a_group_sees_a_first_name_and_never_an_address_or_phone() -> None:
    from workflows.privacy import first_name

    assert [first_name(n) for n in ("王秀英", "李明", "欧阳秀英", "Wang Xiaoming", "Chen")] == [
        "王*英",
        "李*",
        "欧**英",
        "Wang",
        "Chen",
    ]


async def test_a_group_text_cannot_be_given_a_phone(h: Harness) -> None:
    from workflows import privacy

    wang = await h.person("王秀英")

    with pytest.raises(ValueError, match="phone may not be posted to a group"):
        async with h.engine.work() as work:
            privacy.for_group(work, "zh", "need_posted_group", wang, phone="1")


async def test_a_family_contact_receives_nothing_about_a_resident_until_they_accept(
    unasked: Harness,
) -> None:
    h = unasked
    await h.advance(145 * MIN)  # 10:55: the window closed at 10:00, the family step at 10:50
    (question,) = await h.inbox("Son Wang")
    assert "Receive 王秀英's alerts?" in question.text
    assert "13800000011" not in question.text and "402" not in question.text
    labels = [b.label for row in question.buttons for b in row]
    assert labels == ["✅ Agree", "❌ Do not agree"]
    await h.press("Son Wang", question, "Agree")
    async with h.store.read() as tx:
        son = await tx.person_by_name("Son Wang")
        assert son is not None and son.family_of is not None
        assert await tx.consent_decision(son.id, son.family_of) == "given"
    # The policy walks again; at the next family step he is told, with what he needs.
    await h.advance(50 * MIN)
    alert = (await h.inbox("Son Wang"))[-1]
    assert "No answer" in alert.text and "3栋2单元402" in alert.text


async def test_a_refusal_is_recorded_and_the_operator_is_told(unasked: Harness) -> None:
    h = unasked
    await h.advance(145 * MIN)
    (question,) = await h.inbox("Son Wang")
    await h.press("Son Wang", question, "Do not agree")
    assert "will not receive 王秀英's alerts" in (await h.inbox("Son Wang"))[-1].text
    told = await _texts(h, "Officer Zhou")
    assert any("Son Wang does not agree to receive 王秀英's alerts" in t for t in told)
    await h.advance(120 * MIN)  # further walks pass him over
    assert not any("No answer" in t for t in await _texts(h, "Son Wang"))
    async with h.store.read() as tx:
        son = await tx.person_by_name("Son Wang")
        assert son is not None
        assert [c.decision for c in await tx.consents_of(son.id)] == ["asked", "refused"]


async def test_a_contact_invited_by_code_is_asked_after_their_own_invitation(
    h: Harness,
) -> None:
    await _add(h, _new("Daughter Chen", "family", family_of="Chen"))
    code = await create_invitation(h.store, h.clock, h.config, "Daughter Chen")
    await h.adapter.say("dchen", f"/start {code}")
    await h.settle()
    welcome, question = h.adapter.to("test:dchen")
    assert "Hello Daughter Chen" in welcome.text and "Receive Chen's alerts?" in question.text
    assert question.buttons


async def test_help_lists_stop_and_forget_and_a_contacts_stop_takes_back_their_yes(
    h: Harness,
) -> None:
    await h.say("王秀英", "/help")
    assert "/stop" in (await h.last("王秀英")).text and "/forget" in (await h.last("王秀英")).text
    await h.say("Son Wang", "/help")
    assert "/stop" in (await h.last("Son Wang")).text
    assert "/forget" in (await h.last("Son Wang")).text
    await h.say("Son Wang", "/stop")
    assert "no longer receive 王秀英's alerts" in (await h.last("Son Wang")).text
    assert any("Son Wang has stopped receiving" in t for t in await _texts(h, "Officer Zhou"))
    await h.advance(145 * MIN)
    assert not any("No answer" in t for t in await _texts(h, "Son Wang"))


# -- need to know ----------------------------------------------------------------------


async def test_an_alert_taken_from_a_group_reveals_the_address_privately_until_resolved(
    h: Harness,
) -> None:
    await h.advance(90 * MIN)  # 10:00: 王秀英 missed the check-in; alert #1
    await h.adapter.say(await h.user("Volunteer Ma"), "/alerts", group=GROUP)
    await h.settle()
    listed = h.adapter.to(GROUP)[-1].text
    assert "#1 王*英 (3栋)" in listed and "402" not in listed and "王秀英" not in listed
    await h.adapter.say(await h.user("Volunteer Ma"), "/ack 1", group=GROUP)
    await h.settle()
    assert "13800000011" not in h.adapter.to(GROUP)[-1].text
    (revealed,) = [d for d in await h.inbox("Volunteer Ma") if "3栋2单元402" in d.text]
    assert "13800000011" in revealed.text and "王秀英" in revealed.text
    # Resolved: that private message is edited so the details are gone.
    await h.say("Volunteer Ma", "/resolve 1 visited")
    edits = [
        d
        for d in await h.inbox("Volunteer Ma")
        if d.edit_of == h.adapter.message_ids[revealed.outbox_id]
    ]
    assert edits and "402" not in edits[-1].text and "13800000011" not in edits[-1].text
    assert "#1" in edits[-1].text and "王*英" in edits[-1].text


async def test_someone_sent_a_copy_is_not_sent_the_details_again(h: Harness) -> None:
    await h.advance(90 * MIN)
    await h.adapter.say(await h.user("Leader Li"), "/ack 1", group=GROUP)
    await h.settle()
    details = [d for d in await h.inbox("Leader Li") if "🔒" in d.text]
    assert details == []


async def test_every_reveal_is_audited_and_carecheck_audit_lists_them(
    h: Harness, db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await h.advance(90 * MIN)
    await h.adapter.say(await h.user("Volunteer Ma"), "/ack 1", group=GROUP)
    await h.settle()
    found = await reveals(h.store, "王秀英")
    assert [(r.who, r.what) for r in found] == [("Volunteer Ma", "address, phone, family (chat)")]
    assert found[0].at == START + 90 * MIN and "acknowledged alert #1" in found[0].why
    assert "Volunteer Ma" in render_reveals("王秀英", found, "Asia/Shanghai")
    monkeypatch.setenv("CARECHECK_DB", str(db_path))
    monkeypatch.setenv("CARECHECK_CONFIG", str(db_path.parent / "absent.yaml"))
    assert await asyncio.to_thread(main, ["audit", "--person", "王秀英"]) == 0
    out = capsys.readouterr().out
    assert "王秀英: shown 1 time(s)" in out and "10:00  Volunteer Ma  address, phone" in out
    assert await asyncio.to_thread(main, ["audit", "--person", "Nobody"]) == 2


# -- retention -------------------------------------------------------------------------


async def test_the_daily_job_reduces_old_texts_to_their_classification_and_status_says_so(
    h: Harness,
) -> None:
    await h.advance(31 * MIN)
    await h.say("王秀英", "我很好，刚吃完早饭")
    async with h.store.read() as tx:
        (timer,) = await tx.timers_of_kind(TimerKind.RETENTION)
    assert timer.due_at == START + timedelta(hours=19)  # 03:30 in Shanghai
    h.clock.set(START + timedelta(days=91))
    await h.settle()
    async with h.store.read() as tx:
        wang = await tx.person_by_name("王秀英")
        assert wang is not None
        (said,) = [m for m in await tx.messages_of(wang.id) if m.at < START + MIN * 60]
        assert said.text == "fine"
        (again,) = await tx.timers_of_kind(TimerKind.RETENTION)
        assert again.due_at > h.clock.now()  # tomorrow's
    status = await today(h.store, h.clock.now(), "Asia/Shanghai")
    assert status.retention["message_texts_reduced"] == 1
    assert "retention (last run" in render_table(status)
    assert "message texts reduced 1" in render_table(status)


async def test_the_daily_job_runs_once_a_day_even_when_two_timers_fire(h: Harness) -> None:
    async with h.store.transaction() as tx:
        (timer,) = await tx.timers_of_kind(TimerKind.RETENTION)
        # As two instances starting at once could each have added one.
        await tx.add_timer(timer.due_at, TimerKind.RETENTION, 0, "", START)
    h.clock.set(timer.due_at + MIN)
    await h.settle()
    async with h.store.read() as tx:
        assert await tx.audit_kinds("retention.applied") == 1
        assert len(await tx.timers_of_kind(TimerKind.RETENTION)) == 1


# -- see, correct, erase ---------------------------------------------------------------


async def test_a_resident_cannot_be_forgotten_while_an_alert_is_open_and_is_told_why(
    h: Harness,
) -> None:
    await h.say("王秀英", "救命")
    await h.say("王秀英", "/forget")
    confirm = await h.last("王秀英")
    assert "确定要删除" in confirm.text
    await h.press("王秀英", confirm, "确定删除")
    assert "未关闭的提醒 #1" in h.adapter.to(await h.chat("王秀英"))[-1].text
    async with h.store.read() as tx:
        assert await tx.person_by_name("王秀英") is not None


async def test_a_residents_own_forget_asks_first_tells_the_leader_then_erases(
    h: Harness,
) -> None:
    await h.advance(31 * MIN)
    await h.say("王秀英", "我很好")
    chat = await h.chat("王秀英")
    wang = await h.person("王秀英")
    await h.say("王秀英", "/forget")
    await h.press("王秀英", await h.last("王秀英"), "取消")
    assert "什么都没有删除" in h.adapter.to(chat)[-1].text
    await h.say("王秀英", "/forget")
    await h.press("王秀英", await h.last("王秀英"), "确定删除")
    told = await _texts(h, "Leader Li")
    assert any("王秀英 (G1 3栋) asked for their personal data to be deleted" in t for t in told)
    assert "资料已经删除" in [d.text for d in h.adapter.to(chat) if not d.callback_id][-1]
    async with h.store.read() as tx:
        assert await tx.person_by_name("王秀英") is None
        gone = await tx.person(wang.id)
        assert gone is not None and gone.phone == "" and gone.address == ""
        assert await tx.messages_of(wang.id) == []
        assert await tx.identities_of(wang.id) == []
        assert (await tx.checkin_state_counts()).get("ok") == 1  # the counts are kept
    await h.adapter.say(str(wang.id), "还在吗")
    await h.settle()
    assert "邀请" in h.adapter.to(chat)[-1].text  # a stranger now


async def test_people_forget_on_the_command_line_refuses_an_open_alert_then_erases(
    h: Harness, db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(db_path))
    monkeypatch.setenv("CARECHECK_CONFIG", str(db_path.parent / "absent.yaml"))
    await h.say("王秀英", "救命")
    assert await asyncio.to_thread(main, ["people", "forget", "王秀英"]) == 2
    assert "has an open alert (#1): nothing erased" in capsys.readouterr().err
    await h.say("Leader Li", "/resolve 1 visited")
    assert await asyncio.to_thread(main, ["people", "forget", "王秀英"]) == 0
    assert "erased 王秀英's personal data" in capsys.readouterr().out
    # The command line ran on the wall clock: its notice waits in the outbox for the
    # running gateway, addressed to the grid leader.
    async with h.store.read() as tx:
        queued = await tx.sendable("test", START + timedelta(days=400), 50)
    (notice,) = [r for r in queued if "asked for their personal data" in r.payload["text"]]
    assert notice.chat == await h.chat("Leader Li")
    assert (
        await asyncio.to_thread(main, ["people", "forget", "王秀英"]) == 2
    )  # nobody of that name any more


async def test_export_data_writes_everything_held_about_a_person_readable_by_the_owner_only(
    h: Harness, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(db_path))
    await h.say("王秀英", "/need 药 降压药没了")
    await h.say("王秀英", "救命")
    await h.adapter.say(await h.user("Volunteer Ma"), "/ack 1", group=GROUP)
    await h.settle()
    out = tmp_path / "wang.json"
    assert await asyncio.to_thread(main, ["people", "export-data", "王秀英", "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["profile"][0]["address"] == "3栋2单元402"
    assert data["family_contacts"][0]["name"] == "Son Wang"
    assert [i["platform"] for i in data["identities"]] == ["test"]
    assert [m["text"] for m in data["messages"]] == ["救命"]
    assert data["alerts"][0]["reason"] == "help" and data["needs"][0]["text"] == "降压药没了"
    assert "Volunteer Ma" not in json.dumps(data) and data["reveals"][0]["actor"] is not None
    assert set(data) >= {"consents", "checkins", "alert_notes", "need_events"}


# -- files and logs --------------------------------------------------------------------


async def test_the_database_and_its_wal_and_shm_are_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    store = Store(path)
    await store.open()
    async with store.transaction() as tx:
        await tx.kv_set("k", "v")
    files = [path, tmp_path / "new.db-wal", tmp_path / "new.db-shm"]
    assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600] * 3
    await store.close()
    # A database made before (or copied in by hand) is tightened when opened.
    path.chmod(0o644)
    store = Store(path)
    await store.open()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await store.close()


async def test_tokens_and_invitation_codes_never_appear_in_the_logs_of_a_whole_flow(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    leader = await h.person("Leader Li")
    async with h.store.transaction() as tx:
        await tx.add_web_user("li", "x", "grid_leader", ["G1"], leader.id, "en", START)
    await _add(h, _new("Daughter Chen", "family", family_of="Chen"))
    code = await create_invitation(h.store, h.clock, h.config, "Daughter Chen")
    await h.adapter.say("dchen", f"/start {code}")
    await h.settle()
    await h.press("Daughter Chen", h.adapter.to("test:dchen")[-1], "Agree")
    await h.say("Leader Li", "/web")
    link = (await h.last("Leader Li")).text
    token = link.split("/login/link/")[1].split()[0]
    await h.advance(95 * MIN)  # a round, a reminder, a miss, an alert
    alert = next(d for d in await h.inbox("Leader Li") if d.buttons)
    await h.press("Leader Li", alert, "handle it")
    buttons = [b.token for d in h.adapter.sent for row in d.buttons for b in row]
    assert buttons and code and token
    logged = caplog.text
    assert "opened for person" in logged  # the logs were captured
    for secret in [code, token, *buttons]:
        assert secret not in logged
