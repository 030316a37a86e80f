"""`carecheck round start`: a round queued for whichever gateway runs on the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.cli import main

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,en,,1380001,,,1001,
Wang,resident,G1,B3,zh,,1380011,B3-402,,2001,
Leader Two,grid_leader,G2,B5,en,,1380002,,,1002,
Zhao,resident,G2,B5,zh,,1380012,B5-101,,2002,
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "c.db"
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    monkeypatch.setenv("CARECHECK_DB", str(path))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["people", "import", str(people)]) == 0
    return path


def manual_rounds(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT arg FROM timers WHERE kind = 'round_manual'").fetchall()
    return [r[0] for r in rows]


def test_an_emergency_round_is_queued_for_now_for_one_grid(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["round", "start", "--grid", "G1", "--now"]) == 0
    out = capsys.readouterr().out
    assert "urgent round for plan daily (Asia/Shanghai) queued now" in out
    assert manual_rounds(db) == ["daily|Asia/Shanghai|G1|emergency"]


def test_an_unknown_plan_or_grid_is_refused_with_what_exists(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["round", "start", "--plan", "weekly"]) == 2
    assert "no plan 'weekly' in the workflow file (plans: daily)" in capsys.readouterr().err
    assert main(["round", "start", "--grid", "G9"]) == 2
    assert "no residents in grid 'G9'" in capsys.readouterr().err
    assert manual_rounds(db) == []
