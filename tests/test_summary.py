"""The daily summary on an injected clock: at `summary_time` in each recipient's own
timezone, once per day per recipient (restarts and a second instance included), and on
demand with /summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import WorkflowConfig
from core.enums import TimerKind
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from store.sqlite import Store
from tests.conftest import START, Harness, make_community
from tests.fakes import RecordingAdapter

MIN = timedelta(minutes=1)
# 20:00 in Shanghai on the first day (START is 08:30 there).
EVENING = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
Leader Li,grid_leader,G1,B3,en,,1380001,,,,,
Lead Zhang,care_lead,,,zh,,1380002,,,,,
Leader Other,grid_leader,G2,B9,en,,1380009,,,,,
Leader Far,grid_leader,G3,,en,Europe/London,1380010,,,,,
Wang,resident,G1,B3,zh,,1380011,B3-402,,,,
Chen,resident,G1,B3,en,,1380012,B3-201,,,,
Zhao,resident,G1,B5,zh,,1380013,B5-101,,,,
Sun,resident,G2,B9,zh,,1380014,B9-301,,,,
Son Wang,family,,,en,,1390021,,,,,Wang
"""


@pytest.fixture
async def h(db_path: Path, config: WorkflowConfig) -> AsyncIterator[Harness]:
    clock = FakeClock(START)
    store = Store(db_path)
    await store.open()
    await make_community(store, config, clock.now(), PEOPLE)
    harness = Harness(store, clock, config, RecordingAdapter())
    await harness.start()
    yield harness
    await harness.engine.stop()
    await store.close()


async def until(h: Harness, when: datetime, step: timedelta = 10 * MIN) -> None:
    while h.clock.now() < when:
        h.clock.set(min(when, h.clock.now() + step))
        await h.settle()


async def summaries(h: Harness, name: str) -> list[str]:
    return [
        d.text
        for d in await h.inbox(name)
        if d.text.startswith(("📋 Today's summary", "📋 今日小结"))
    ]


async def answer(h: Harness, name: str) -> None:
    await h.say(name, "ok")


async def test_grid_leaders_and_care_leads_get_one_summary_at_eight_in_the_evening(
    h: Harness,
) -> None:
    await h.advance(30 * MIN)  # the 09:00 round
    await answer(h, "Wang")
    await h.say("Zhao", "救命")  # a call for help
    await until(h, EVENING - MIN)  # Chen and Sun stay silent: missed
    assert await summaries(h, "Leader Li") == []
    await until(h, EVENING)
    (text,) = await summaries(h, "Leader Li")
    assert "[G1] check-ins 3: answered 1 · late 0 · missed 1 · help 1 · waiting 0" in text
    assert "Missed: Chen" in text and "Help: Zhao" in text
    assert "Wang" not in text  # simply fine: not named
    assert "Open alerts: #" in text
    assert "Chen no answer (waiting for acknowledgement)" in text
    assert "Zhao call for help (waiting for acknowledgement)" in text
    # The care lead serves every grid: both, in Chinese; G2's Sun missed too.
    (zh,) = await summaries(h, "Lead Zhang")
    assert "【G1】" in zh and "【G2】" in zh and "未回复：Sun" in zh
    assert "【G3】今天没有问候，也没有要处理的事。" in zh  # London's grid had no round yet
    # G2's leader sees only G2.
    (other,) = await summaries(h, "Leader Other")
    assert "[G2]" in other and "[G1]" not in other
    # Residents and family get no summary; the leader in London gets theirs at 20:00 there.
    assert await summaries(h, "Wang") == [] and await summaries(h, "Son Wang") == []
    assert await summaries(h, "Leader Far") == []
    await until(h, datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    (far,) = await summaries(h, "Leader Far")
    assert "[G3] no check-ins today" in far


async def test_a_grid_with_nothing_to_report_says_only_all_answered(h: Harness) -> None:
    await h.advance(30 * MIN)
    for name in ("Wang", "Chen", "Zhao"):
        await answer(h, name)
    await until(h, EVENING)
    (text,) = await summaries(h, "Leader Li")
    assert text.splitlines()[1:] == ["[G1] all 3 answered ✅"]


async def test_the_summary_comes_once_a_day_across_a_restart_and_again_the_next_day(
    h: Harness,
) -> None:
    await until(h, EVENING)
    assert len(await summaries(h, "Leader Li")) == 1
    # The gateway restarts at 20:05: a new engine on the same database sends nothing again.
    await h.engine.stop()
    h.clock.set(EVENING + 5 * MIN)
    h.engine = Engine(h.store, h.clock, h.config, {"test": h.adapter})
    await h.start()
    await h.settle()
    assert len(await summaries(h, "Leader Li")) == 1
    await until(h, EVENING + timedelta(days=1), step=timedelta(hours=1))
    assert len(await summaries(h, "Leader Li")) == 2


async def test_a_summary_due_while_the_gateway_was_down_is_sent_when_it_starts(
    h: Harness,
) -> None:
    await h.engine.stop()
    h.clock.set(EVENING + timedelta(hours=2))  # down from 08:30 to 22:00
    h.engine = Engine(h.store, h.clock, h.config, {"test": h.adapter})
    await h.start()
    await h.settle()
    (text,) = await summaries(h, "Leader Li")
    assert "(11-23)" in text


async def test_two_instances_with_a_timer_each_still_send_each_summary_once(
    h: Harness, config: WorkflowConfig
) -> None:
    # Two instances starting together may each add the timezone's summary timer.
    async with h.store.transaction() as tx:
        for timer in await tx.timers_of_kind(TimerKind.SUMMARY):
            await tx.add_timer(timer.due_at, timer.kind, timer.ref, timer.arg, h.clock.now())
        doubled = [t.arg for t in await tx.timers_of_kind(TimerKind.SUMMARY)]
    assert doubled.count("Asia/Shanghai") == 2
    second = Engine(h.store, h.clock, config, {"test": h.adapter})
    await second.prepare()
    h.clock.set(EVENING)
    await second.fire_due_timers()  # one instance fires one timer …
    await h.settle()  # … the other the other
    await second.flush_outbox()
    assert len(await summaries(h, "Leader Li")) == 1
    assert len(await summaries(h, "Lead Zhang")) == 1
    async with h.store.transaction() as tx:
        left = [t.arg for t in await tx.timers_of_kind(TimerKind.SUMMARY)]
    assert left.count("Asia/Shanghai") == 1  # and tomorrow there is one again


async def test_summary_on_demand_and_only_for_those_who_lead(h: Harness) -> None:
    await h.advance(30 * MIN)
    await answer(h, "Wang")
    await h.say("Leader Li", "/summary")
    (text,) = await summaries(h, "Leader Li")
    assert "waiting 2" in text and "Waiting: Chen, Zhao" in text
    await h.say("Son Wang", "/summary")
    assert "for grid leaders, care leads and operators" in (await h.last("Son Wang")).text
    # A resident's /summary is not a command for them: the short help, not a summary.
    await h.say("Chen", "/summary")
    assert await summaries(h, "Chen") == []


async def test_the_summary_time_is_read_from_the_workflow_file(h: Harness, db_path: Path) -> None:
    # The gateway restarts with a workflow file that moves the summary to 18:30.
    await h.engine.stop()
    config = parse_config(
        builtin_config_text().replace('summary_time: "20:00"', "summary_time: 18:30")
    )
    h.config = config
    h.engine = Engine(h.store, h.clock, config, {"test": h.adapter})
    await h.start()
    async with h.store.read() as tx:
        due = sorted(t.due_at for t in await tx.timers_of_kind(TimerKind.SUMMARY))
    assert due == [
        datetime(2026, 11, 23, 10, 30, tzinfo=UTC),  # 18:30 in Shanghai
        datetime(2026, 11, 23, 18, 30, tzinfo=UTC),  # 18:30 in London
    ]
    await until(h, datetime(2026, 11, 23, 10, 29, tzinfo=UTC))
    assert await summaries(h, "Leader Li") == []
    await until(h, datetime(2026, 11, 23, 10, 30, tzinfo=UTC))
    assert len(await summaries(h, "Leader Li")) == 1


async def test_open_and_overdue_needs_are_listed(h: Harness) -> None:
    await h.say("Wang", "/need 药 降压药没了")
    await until(h, START + timedelta(days=2, hours=1), step=timedelta(hours=1))
    await h.say("Chen", "/need groceries rice please")
    await h.say("Leader Li", "/summary")
    text = (await summaries(h, "Leader Li"))[-1]
    assert "Needs: 2 open, 1 of them older than 48 h:" in text
    assert "Wang medicine⏰" in text and "Chen groceries" in text and "groceries⏰" not in text


async def test_someone_covering_a_whole_street_reads_thirty_grids_and_a_count(
    db_path: Path, config: WorkflowConfig
) -> None:
    header = PEOPLE.splitlines(keepends=True)[0]
    rows = "Lead All,care_lead,,,en,,,,,,,\n" + "".join(
        f"Leader {g},grid_leader,S{g:02d},,en,,,,,,,\nResident {g},resident,S{g:02d},,en,,,,,,,\n"
        for g in range(33)
    )
    clock = FakeClock(START)
    async with Store(db_path) as store:
        await make_community(store, config, clock.now(), header + rows)
        street = Harness(store, clock, config, RecordingAdapter())
        await street.start()
        await until(street, EVENING)  # nobody answered, anywhere
        (everything,) = await summaries(street, "Lead All")
        assert "[S29]" in everything and "[S30]" not in everything
        assert everything.endswith("3 more grids have something to report: see the web console.")
        (own,) = await summaries(street, "Leader 31")
        assert "[S31] check-ins 1:" in own and "Missed: Resident 31" in own
        await street.engine.stop()


async def test_who_is_away_is_in_the_summary_and_their_closed_checkin_is_not_a_miss(
    h: Harness,
) -> None:
    await h.advance(30 * MIN)  # the 09:00 round: Wang, Chen and Zhao are asked
    await h.engine.set_away("Wang", "5d", "住院")  # her open check-in closes as away
    await answer(h, "Chen")
    await answer(h, "Zhao")
    await until(h, EVENING)
    (text,) = await summaries(h, "Leader Li")
    assert "[G1] check-ins 2: answered 2 · late 0 · missed 0" in text
    assert "Away: Wang (until 11-28, 住院)" in text
    (zh,) = await summaries(h, "Lead Zhang")
    assert "外出：Wang（至 11-28，住院）" in zh
