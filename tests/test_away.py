"""Time away and cover: check-ins pause and resume by themselves with a welcome back; a
grid leader away has their alerts go to a deputy at once. On the injected clock,
through the recording adapter."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.records import AlertReason, CheckinState
from gateway.cli import main
from gateway.status import render_table, today
from tests.care_harness import DAY, MIN, PEOPLE, care, care_config, checkins, fresh, open_alert
from tests.conftest import Harness

__all__ = ["care", "care_config"]


async def test_a_resident_away_is_not_asked_and_comes_back_with_a_welcome_back_check_in(
    care: Harness,
) -> None:
    await care.say("Wang", "/away 2d 住院")  # 08:30 Monday
    assert "暂停每日问候" in (await care.last("Wang")).text
    told = await fresh(care, "Leader Li", "is away until 11-25 08:30")
    assert len(told) == 1 and "住院" in told[0].text and "Recorded by Wang" in told[0].text
    await care.advance(30 * MIN)  # Monday's round
    assert await checkins(care, "Wang") == []
    assert "How are you today" in (await care.last("Chen")).text
    await care.advance(DAY)  # Tuesday's round
    assert await checkins(care, "Wang") == []
    status = await today(care.store, care.clock.now(), "Asia/Shanghai")
    assert [(a.name, a.until, a.reason) for a in status.away] == [
        ("Wang", "2026-11-25 08:30", "住院")
    ]
    assert "Wang  resident  G1  until 2026-11-25 08:30 (住院)" in render_table(status)
    await care.advance(DAY - 30 * MIN)  # Wednesday 08:30: back
    assert "欢迎回来" in (await care.last("Wang")).text
    assert await checkins(care, "Wang") == [(CheckinState.SENT, "")]
    assert len(await fresh(care, "Leader Li", "Wang (G1 B3) is back")) == 1
    await care.say("Wang", "好")
    assert await checkins(care, "Wang") == [(CheckinState.OK, "text")]


async def test_a_grid_leader_records_a_resident_in_hospital_and_back_early(
    care: Harness,
) -> None:
    await care.advance(30 * MIN)  # 09:00: Wang is asked
    await care.say("Leader Li", "/away Wang 5d hospital")
    assert "Wang is away until 11-28 09:00" in (await care.last("Leader Li")).text
    # The open check-in is closed (nobody answered it), nobody is paged later.
    assert await checkins(care, "Wang") == [(CheckinState.AWAY, "away")]
    assert "Leader Li为您登记了外出" in (await care.last("Wang")).text
    await care.advance(2 * 60 * MIN)
    assert await open_alert(care, "Wang") is None
    await care.say("Leader Li", "/back Wang")
    assert "Wang is back" in (await care.last("Leader Li")).text
    assert "欢迎回来" in (await care.last("Wang")).text


async def test_someone_away_with_a_missed_check_in_stands_the_alert_down(care: Harness) -> None:
    await care.advance(90 * MIN)  # 10:00: Wang missed, the leader is paged
    alert = await open_alert(care, "Wang")
    assert alert is not None and alert.reason is AlertReason.MISSED
    await care.say("Son Wang", "/away Wang 3d in hospital since this morning")
    assert await open_alert(care, "Wang") is None
    stand_down = (await fresh(care, "Leader Li", "Son Wang confirmed Wang is all right"))[-1]
    assert "away / in hospital" in stand_down.text


async def test_only_the_grid_s_responders_and_the_family_may_record_someone_away(
    care: Harness,
) -> None:
    await care.say("Leader Other", "/away Wang 3d")
    assert "You may not act for Wang" in (await care.last("Leader Other")).text
    await care.say("Chen", "/away Wang 3d")
    assert "You may not act for Wang" in (await care.last("Chen")).text
    await care.say("Leader Li", "/away Nobody 3d")
    assert "Nobody named" in (await care.last("Leader Li")).text
    await care.say("Leader Li", "/away Wang tomorrow")
    assert "Usage: /away" in (await care.last("Leader Li")).text
    async with care.store.read() as tx:
        assert await tx.away_at(care.clock.now()) == []


async def test_while_the_grid_leader_is_away_their_alerts_go_to_the_deputy_at_once(
    care: Harness,
) -> None:
    await care.say("Leader Li", "/away 3d 出差")
    assert "Alerts go to: Deputy Zhou" in (await care.last("Leader Li")).text
    assert len(await fresh(care, "Deputy Zhou", "grid leader Leader Li is away until")) == 1
    await care.advance(90 * MIN)  # 10:00: Wang and Chen missed their check-in
    pages = await fresh(care, "Deputy Zhou", "No answer #")
    assert {p.text.split("\n")[1].split(" (")[0] for p in pages} == {"Wang", "Chen", "刘桂兰"}
    assert all("Leader Li is away; Deputy Zhou covers" in p.text for p in pages)
    assert await fresh(care, "Leader Li", "No answer #") == []
    # Not passed over to the care lead: the deputy's step waits as the leader's would.
    assert await fresh(care, "Lead Ma", "No answer #") == []
    await care.say("Leader Li", "/back")
    assert len(await fresh(care, "Deputy Zhou", "Leader Li is back: your cover ends")) == 1
    await care.advance(24 * 60 * MIN)  # the next day's misses go to the leader again
    assert await fresh(care, "Leader Li", "No answer #") != []


async def test_a_grid_leader_without_a_deputy_is_covered_by_the_care_lead(care: Harness) -> None:
    await care.say("Leader Other", "/away 2d")
    assert "Alerts go to: Lead Ma" in (await care.last("Leader Other")).text
    await care.advance(90 * MIN)  # Zhao (grid G2) missed
    page = (await fresh(care, "Lead Ma", "Zhao (G2 B9)"))[-1]
    assert "Leader Other is away; Lead Ma covers" in page.text
    assert await fresh(care, "Leader Other", "Zhao (G2 B9)") == []


def test_carecheck_people_away_pauses_and_back_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "c.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["people", "import", str(people)]) == 0
    capsys.readouterr()
    back_on = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=10)).date()
    assert main(["people", "away", "Wang", "--until", back_on.isoformat(), "--reason", "住院"]) == 0
    assert f"Wang is away until {back_on:%m-%d} 00:00" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert f"Wang  resident  G1  until {back_on} 00:00 (住院)" in capsys.readouterr().out
    assert main(["people", "away", "Nobody", "--until", "3d"]) == 2
    assert "no person named 'Nobody'" in capsys.readouterr().err
    assert main(["people", "away", "Wang", "--until", "2001-01-01"]) == 2
    assert "is not in the future" in capsys.readouterr().err
    assert main(["people", "back", "Wang"]) == 0
    assert "Wang is back" in capsys.readouterr().out
    assert main(["people", "away", "Wang", "--end"]) == 0
    assert "Wang was not away" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "away:" not in capsys.readouterr().out


async def test_a_leader_whose_deputy_is_away_too_is_covered_by_the_care_lead_else_passed_over(
    care: Harness,
) -> None:
    await care.say("Deputy Zhou", "/away 3d")
    await care.say("Leader Li", "/away 3d")
    assert "Alerts go to: Lead Ma" in (await care.last("Leader Li")).text
    await care.say("Lead Ma", "/away 3d")  # and now nobody covers the grid's leader
    await care.advance(90 * MIN)
    page = (await fresh(care, "Son Wang", "Wang (G1 B3)"))[-1]
    assert "Leader Li is away, and nobody covers." in page.text
    for name in ("Leader Li", "Deputy Zhou", "Lead Ma"):
        assert await fresh(care, name, "No answer #") == [], name
