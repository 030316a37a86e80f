"""`carecheck db copy SOURCE TARGET`: a street moves from SQLite to PostgreSQL (and
back), checked by counts; a target that is not empty is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.database import create_store

pytestmark = pytest.mark.postgres

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,zh,,1380001,,,1001,
Wang,resident,G1,B3,zh,,1380011,B3-402,,2001,
"""


async def count_people(db: str) -> int:
    store = create_store(db)
    await store.open()
    try:
        async with store.read() as tx:
            return await tx.count_people()
    finally:
        await store.close()


def test_a_street_moves_to_postgresql_and_back(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqlite_db = tmp_path / "street.db"
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    monkeypatch.setenv("CARECHECK_DB", str(sqlite_db))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["people", "import", str(people)]) == 0
    capsys.readouterr()

    assert main(["db", "copy", str(sqlite_db), postgres_url]) == 0
    out = capsys.readouterr().out
    assert "every table's count checked" in out and "people" in out
    assert "postgres:***@" in out or "postgres@" in out  # never a password
    assert asyncio.run(count_people(postgres_url)) == 2

    # Copying again into what is no longer empty is refused, and changes nothing.
    assert main(["db", "copy", str(sqlite_db), postgres_url]) == 2
    assert "empty" in capsys.readouterr().err
    assert asyncio.run(count_people(postgres_url)) == 2

    back = tmp_path / "back.db"
    assert main(["db", "copy", postgres_url, str(back)]) == 0
    assert asyncio.run(count_people(str(back))) == 2


def test_an_unknown_database_scheme_is_refused_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["db", "copy", "mysql://x@h/db", str(tmp_path / "t.db")]) == 2
    assert "unknown database scheme mysql://" in capsys.readouterr().err
