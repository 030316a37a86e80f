"""People from CSV: all rows or none, each problem with its line; export round-trips."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import WorkflowConfig
from gateway.cli import main
from gateway.people import PeopleFileError, decode_people_file, export_people, import_people
from store.sqlite import Store

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
    # The optional columns are always exported (an empty risk: general).
    assert lines[0] == HEADER.strip() + ",relation,contact,caller,deputy,risk"
    assert (
        "王秀英,resident,G1,3栋,zh,Asia/Shanghai,138011,3-402,daily,1011,'@wang:example.org,,,,,,"
        in lines
    )
    assert lines[-1].endswith(",王秀英,,,,,")
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


async def test_a_risk_column_sets_each_residents_tier_and_a_wrong_one_names_its_line(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    header = HEADER.strip() + ",risk\n"
    good = header + (
        "李建国,grid_leader,G1,,zh,,,,,1001,,,\n"
        "王秀英,resident,G1,,zh,,,,,1011,,,HIGH\n"
        "陈德福,resident,G1,,zh,,,,,,,,key\n"
        "刘桂兰,resident,G1,,zh,,,,,,,,\n"
    )
    bad = header + (
        "李建国,grid_leader,G1,,zh,,,,,1001,,,high\n"  # 2: only residents have a tier
        "王秀英,resident,G1,,zh,,,,,1011,,,urgent\n"  # 3: not a tier
    )
    async with Store(tmp_path / "db.sqlite") as store:
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, bad, NOW)
        found = [str(p) for p in caught.value.problems]
        assert any(p.startswith("line 2:") and "risk is only for resident" in p for p in found)
        assert any(p.startswith("line 3:") and "risk 'urgent'" in p for p in found), found
        assert await import_people(store, config, good, NOW) == 4
        async with store.transaction() as tx:
            tiers = {p.name: p.risk for p in await tx.people()}
        exported = await export_people(store)
    assert tiers == {"李建国": "", "王秀英": "high", "陈德福": "key", "刘桂兰": ""}
    assert {r["name"]: r["risk"] for r in csv.DictReader(io.StringIO(exported))} == tiers


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


# --- bad input ----------------------------------------------------------------------


async def rejected(tmp_path: Path, config: WorkflowConfig, text: str) -> list[str]:
    """The problems of an import of `text` into a database that holds GOOD, which the
    failed import must leave exactly as it was."""
    async with Store(tmp_path / "db.sqlite") as store:
        if not await export_people(store) or (await export_people(store)).count("\n") < 2:
            await import_people(store, config, GOOD, NOW)
        before = await export_people(store)
        with pytest.raises(PeopleFileError) as caught:
            await import_people(store, config, text, NOW, "people.csv")
        assert await export_people(store) == before
    assert str(caught.value).startswith("people.csv: line ")
    return [str(p) for p in caught.value.problems]


async def test_a_field_of_a_megabyte_is_refused_with_its_line(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    text = GOOD + '"' + "王" * 1_000_000 + '",resident,G1,,zh,,,,,,,\n'
    (problem,) = await rejected(tmp_path, config, text)
    assert problem.startswith("line 5: cannot read: field larger than field limit"), problem


async def test_a_nul_byte_is_refused_with_its_line(tmp_path: Path, config: WorkflowConfig) -> None:
    text = GOOD + "陈德福\x00,resident,G1,,zh,,,,,,,\n"
    (problem,) = await rejected(tmp_path, config, text)
    assert problem.startswith("line 5: contains a NUL byte"), problem
    # A UTF-16 file read as UTF-8 is full of them: the same clear answer, on line 1.
    (problem,) = await rejected(tmp_path, config, HEADER.encode("utf-16-le").decode("utf-8"))
    assert problem.startswith("line 1: contains a NUL byte"), problem


@pytest.mark.parametrize(
    "telegram",
    ["12345678901234567890", "-12345678901234567890", "4503599627370497", "0", "0123", "١٢٣", "+1"],
)
async def test_an_implausible_telegram_id_is_refused(
    tmp_path: Path, config: WorkflowConfig, telegram: str
) -> None:
    (problem,) = await rejected(
        tmp_path, config, GOOD + f"陈德福,resident,G1,,zh,,,,,{telegram},,\n"
    )
    assert problem.startswith("line 5: telegram") and "is not a Telegram chat id" in problem


async def test_people_and_group_ids_telegram_really_uses_are_accepted(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    text = GOOD + "陈德福,resident,G1,,zh,,,,,4503599627370496 -1001234567890 -4012345,,\n"
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, text, NOW) == 4


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("name", "王" * 65, "name is longer than 64 characters"),
        ("address", "路" * 201, "address is longer than 200 characters"),
        ("phone", "1" * 33, "phone is longer than 32 characters"),
        ("building", "楼" * 65, "building is longer than 64 characters"),
        ("name", "王\x1b[2J秀英", "name contains a control character"),
        ("matrix", "@" + "a" * 250 + ":example.org", "is not @user:server"),
    ],
)
async def test_overlong_or_unprintable_values_are_refused(
    tmp_path: Path, config: WorkflowConfig, column: str, value: str, what: str
) -> None:
    row = dict.fromkeys(HEADER.strip().split(","), "")
    row.update(name="陈德福", role="resident", grid="G1", language="zh")
    row[column] = value
    line = ",".join(f'"{v}"' for v in row.values()) + "\n"
    found = await rejected(tmp_path, config, GOOD + line)
    assert any(p.startswith("line 5:") and what in p for p in found), found
    assert all(len(p) < 200 for p in found)


async def test_an_address_may_have_two_lines(tmp_path: Path, config: WorkflowConfig) -> None:
    text = GOOD + '陈德福,resident,G1,,zh,,,"3栋2单元\n402室",,,,\n'
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, text, NOW) == 4


async def test_a_column_given_twice_is_refused(tmp_path: Path, config: WorkflowConfig) -> None:
    (problem,) = await rejected(tmp_path, config, HEADER.strip() + ",phone\n")
    assert problem.startswith("line 1:") and "given twice: phone" in problem


def test_a_file_that_is_not_utf8_names_the_line_and_byte() -> None:
    # What a spreadsheet on Chinese Windows writes unless told to save as UTF-8.
    with pytest.raises(PeopleFileError) as caught:
        decode_people_file(GOOD.encode("gbk"), "people.csv")
    (problem,) = caught.value.problems
    assert str(problem).startswith("line 2: not UTF-8 text: byte 0xc0 at offset 87"), problem
    assert decode_people_file(GOOD.encode("utf-8-sig")) == GOOD


# --- spreadsheet formulas -------------------------------------------------------------


async def test_the_export_neutralises_formulas_and_imports_back_unchanged(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    text = HEADER + (
        "李建国,grid_leader,G1,,zh,,+8613800000001,,,1001,,\n"
        '"=HYPERLINK(""http://x"",""点我"")",resident,G1,,zh,,,@SUM(A1),,-1001234567890,,\n'
        "'=quoted once,resident,G1,,zh,,-5,'plain,,,,\n"
        "''=quoted twice,resident,G1,,zh,,,,,,,\n"
    )
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, text, NOW) == 4
        exported = await export_people(store)
        async with store.transaction() as tx:
            people = {p.name: p for p in await tx.people()}
    assert people["=quoted once"].phone == "-5" and people["=quoted once"].address == "'plain"
    assert "'=quoted twice" in people
    assert people["李建国"].phone == "+8613800000001"
    rows = list(csv.DictReader(io.StringIO(exported)))
    cells = [value for row in rows for value in row.values() if value]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells
    assert "'+8613800000001" in cells and "'-1001234567890" in cells and "'@SUM(A1)" in cells
    assert "'=quoted once" in cells and "''=quoted twice" in cells and "'plain" in cells
    # Exported, edited in a spreadsheet, imported again: the same people.
    async with Store(tmp_path / "db.sqlite") as store:
        assert await import_people(store, config, exported, NOW) == 4
        assert await export_people(store) == exported
        async with store.transaction() as tx:
            assert {p.name: p for p in await tx.people()} == people


def test_the_cli_names_the_line_of_a_file_that_is_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    people = tmp_path / "people.csv"
    # Neither UTF-8 nor GB18030/GBK (a GBK file is read, and says so: test_console_people).
    data = GOOD.encode()
    offset = data.index(b"\n") + 1
    people.write_bytes(data[:offset] + b"\xff" + data[offset:])
    assert main(["people", "import", str(people)]) == 2
    err = capsys.readouterr().err
    expected = f"{people}:2: not UTF-8 or GB18030/GBK text: byte 0xff at offset {offset}"
    assert expected in err, err
    assert "nothing imported" in err
