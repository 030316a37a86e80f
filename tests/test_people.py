"""People from CSV: all rows or none, each problem with its line; export round-trips."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import WorkflowConfig
from gateway.people import PeopleFileError, export_people, import_people
from gateway.store import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of\n"
GOOD = HEADER + (
    "李建国,grid_leader,G1,3栋,zh,,138001,,,1001,,\n"
    "王秀英,resident,G1,3栋,zh,Asia/Shanghai,138011,3-402,daily,1011,@wang:example.org,\n"
    "Tom,family,,,en,Europe/London,44700,,,,@tom:example.org,王秀英\n"
)


async def test_a_clean_file_is_imported_and_exported_in_the_same_format(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, GOOD, NOW) == 3
        exported = await export_people(store)
    lines = exported.splitlines()
    assert lines[0] == HEADER.strip()
    assert (
        "王秀英,resident,G1,3栋,zh,Asia/Shanghai,138011,3-402,daily,1011,@wang:example.org,"
        in lines
    )
    assert lines[-1].endswith(",王秀英")
    # The export imports again unchanged (an operator edits and re-imports).
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, exported, NOW) == 3
        assert await export_people(store) == exported


async def test_a_bad_file_imports_nothing_and_names_every_bad_line(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    bad = HEADER + (
        "李建国,grid_leader,G1,,zh,,,,,1001,,\n"  # line 2: fine
        "王秀英,resident,G9,,zh,,,,,,,\n"  # 3: grid without a leader
        "陈德福,resident,G1,,zh,Moon/Base,,,,,,\n"  # 4: bad timezone
        "刘桂兰,resident,G1,,zh,,,,,1001,,\n"  # 5: identity used on line 2
        "Tom,family,,,en,,,,,,,\n"  # 6: family without family_of
        "Ann,nurse,G1,,fr,,,,weekly,,bob,\n"  # 7: role, language, plan, matrix
        "李建国,care_lead,G1,,zh,,,,,,,\n"  # 8: duplicate name
    )
    async with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, bad, NOW)
        async with store.transaction() as tx:
            assert await tx.people() == []
    found = [str(p) for p in caught.value.problems]
    for line, words in [
        (3, "unknown grid 'G9'"),
        (4, "Moon/Base"),
        (5, "already used on line 2"),
        (6, "family_of"),
        (7, "role 'nurse'"),
        (7, "language 'fr'"),
        (7, "unknown plan"),
        (7, "'bob' is not @user:server"),
        (8, "already used on line 2"),
    ]:
        assert any(p.startswith(f"line {line}:") and words in p for p in found), (line, found)
    assert not any(p.startswith("line 2:") for p in found)


async def test_an_identity_held_by_someone_in_the_database_is_refused(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    async with Store(tmp_path / "db.sqlite") as store:
        await import_people(store, config, GOOD, NOW)
        clash = HEADER + "Other,grid_leader,G1,,zh,,,,,1011,,\n"
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, clash, NOW)
    assert "already belongs to '王秀英'" in str(caught.value)


async def test_a_header_that_does_not_match_is_one_clear_error(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    async with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, "name,role\nx,resident\n", NOW)
    (problem,) = caught.value.problems
    assert problem.line == 1 and "missing column(s): grid" in problem.message


def test_the_cli_imports_exports_and_invites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)
    people = tmp_path / "people.csv"
    people.write_text(GOOD, encoding="utf-8")
    assert main(["people", "import", str(people)]) == 0
    assert "imported 3 people" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["people", "export", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith(HEADER.strip())
    card = tmp_path / "card.svg"
    assert main(["people", "invite", "王秀英", "--qr", str(card)]) == 0
    printed = capsys.readouterr().out
    assert "invitation code for 王秀英:" in printed and "!link" in printed
    assert "王秀英" in card.read_text(encoding="utf-8")
    assert main(["people", "invite", "Nobody"]) == 2
    assert "no person named 'Nobody'" in capsys.readouterr().err


def test_the_cli_reports_bad_rows_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    people = tmp_path / "people.csv"
    people.write_text(HEADER + "王秀英,resident,G1,,zh,,,,,,,\n", encoding="utf-8")
    assert main(["people", "import", str(people)]) == 2
    err = capsys.readouterr().err
    assert "nothing imported" in err and f"{people}:2: unknown grid 'G1'" in err
