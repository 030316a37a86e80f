"""The people file's and the workflow file's parts for care beyond the daily tap:
columns contact, caller and deputy; keys grids.G.callers and plans.P.channel,
call_retry, call_attempts. Every problem with its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import Channel, WorkflowConfig
from gateway.config import ConfigError, builtin_config_text, parse_config
from gateway.people import PeopleFileError, export_people, import_people
from store.sqlite import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
HEADER = (
    "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,"
    "family_of,contact,caller,deputy\n"
)
GOOD = HEADER + (
    "李建国,grid_leader,G1,3栋,zh,,138001,,,1001,,,,,周丽\n"
    "周丽,team_member,G1,,zh,,138002,,,1002,,,,,\n"
    "刘芳,caller,G1,,zh,,138003,,,1003,,,,,\n"
    "刘桂兰,resident,G1,3栋,zh,,13800000011,3栋2单元402,,,,,phone,刘芳,\n"
    "王秀英,resident,G1,3栋,zh,,138011,3-402,,1011,,,,周丽,\n"
)


async def test_contact_caller_and_deputy_are_imported_and_exported_again(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, GOOD, NOW) == 5
        async with store.read() as tx:
            people = {p.name: p for p in await tx.people()}
        assert people["刘桂兰"].contact == "phone"
        assert people["刘桂兰"].caller == people["刘芳"].id
        assert people["王秀英"].caller == people["周丽"].id  # a team member may phone too
        assert people["李建国"].deputy == people["周丽"].id
        exported = await export_people(store)
        assert (
            "刘桂兰,resident,G1,3栋,zh,Asia/Shanghai,13800000011,3栋2单元402,daily,,,,,phone,刘芳,"
            in (exported)
        )
        assert await import_people(store, config, exported, NOW) == 5
        assert await export_people(store) == exported


async def test_bad_contact_caller_and_deputy_cells_are_named_by_line(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    bad = HEADER + (
        "李建国,grid_leader,G1,,zh,,138001,,,,,,,,李建国\n"  # 2: deputy is themselves
        "周丽,team_member,G1,,zh,,,,,,,,phone,,\n"  # 3: a responder on the phone
        "刘桂兰,resident,G1,,zh,,,,,,,,phone,,\n"  # 4: phone without a number
        "王秀英,resident,G1,,zh,,1,,,,,,pager,李建国,\n"  # 5: contact; caller is a leader
        "陈德福,resident,G1,,zh,,1,,,,,,,,李建国\n"  # 6: a resident with a deputy
        "张敏,care_lead,G1,,zh,,1,,,,,,,刘桂兰,王秀英\n"  # 7: caller, deputy
    )
    async with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, bad, NOW)
        async with store.read() as tx:
            assert await tx.people() == []
    found = [str(p) for p in caught.value.problems]
    for line, words in [
        (2, "deputy is the person themselves"),
        (3, "contact phone is only for residents"),
        (4, "contact phone needs a phone number"),
        (5, "contact 'pager' is not one of chat, phone"),
        (5, "caller '李建国' is not a caller or team_member"),
        (6, "deputy is only for responders"),
        (7, "caller is only for residents"),
        (7, "deputy '王秀英' is not a responder"),
    ]:
        assert any(p.startswith(f"line {line}:") and words in p for p in found), (line, found)


def test_grids_may_name_their_callers_and_plans_may_phone_everyone() -> None:
    config = parse_config(
        builtin_config_text().replace(
            "    quiet_hours:",
            "    channel: phone\n    call_retry: 20m\n    call_attempts: 2\n    quiet_hours:",
            1,
        )
        + "grids:\n  G1: {callers: [刘芳, 陈静]}\n  G2:\n"
    )
    assert config.grids["G1"].callers == ["刘芳", "陈静"] and config.grids["G2"].callers == []
    plan = config.plans["daily"]
    assert (plan.channel, plan.call_retry, plan.call_attempts) == (
        Channel.PHONE,
        timedelta(minutes=20),
        2,
    )
    # The plain list of grid names still reads as before.
    assert list(parse_config(builtin_config_text() + "grids: [G1, G2]\n").grids) == ["G1", "G2"]
    # Without the keys: chat, 30 minutes, 3 calls.
    default = parse_config(builtin_config_text()).plans["daily"]
    assert (default.channel, default.call_retry, default.call_attempts) == (
        Channel.CHAT,
        timedelta(minutes=30),
        3,
    )


def test_bad_call_keys_and_grid_entries_are_named_by_line() -> None:
    text = (
        builtin_config_text().replace(
            "    quiet_hours:",
            "    channel: fax\n    call_retry: 0m\n    call_attempts: 0\n    quiet_hours:",
            1,
        )
        + "grids:\n  G1: {callers: [刘芳], leader: x}\n"
    )
    lines = text.splitlines()
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    found = [str(p) for p in caught.value.problems]

    def at(word: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(word))

    for line, words in [
        (at("channel:"), "plans.daily.channel: Input should be 'chat' or 'phone'"),
        (at("call_retry:"), "plans.daily.call_retry: must be longer than zero"),
        (at("call_attempts:"), "plans.daily.call_attempts: Input should be greater than or"),
        (at("G1:"), "grids.G1.leader: unknown key"),
    ]:
        assert any(p.startswith(f"c.yaml:{line}: {words}") for p in found), (line, words, found)
    with pytest.raises(ConfigError) as caught:
        parse_config(builtin_config_text() + "grids:\n  - G1\n  - [G2]\n", "c.yaml")
    assert str(caught.value.problems[0]).endswith("grids.1: must be a grid name")
