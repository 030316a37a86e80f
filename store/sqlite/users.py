"""Web console accounts, failed logins and one-time login links."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.console import WebRole, WebUser
from core.ids import PersonId
from store.sqlite.base import Repo, from_ts, ts

_USER_COLUMNS = (
    "u.id, u.username, u.password_hash, u.role, u.person_id, u.language, u.active, "
    "u.generation, u.created_at, "
    "(SELECT group_concat(g.grid, char(10)) FROM "
    " (SELECT grid FROM web_user_grids WHERE user_id = u.id ORDER BY grid) g) AS grids"
)
# Failed logins are kept this long: far longer than the throttling window needs.
KEEP_FAILURES = timedelta(days=1)


def _user(row: sqlite3.Row) -> WebUser:
    grids = row["grids"]
    return WebUser(
        id=int(row["id"]),
        username=row["username"],
        password_hash=row["password_hash"],
        role=WebRole(row["role"]),
        grids=tuple(grids.split("\n")) if grids else (),
        person_id=None if row["person_id"] is None else PersonId(row["person_id"]),
        language=row["language"],
        active=bool(row["active"]),
        generation=int(row["generation"]),
        created_at=from_ts(row["created_at"]),
    )


class UsersRepo(Repo):
    async def add_web_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        grids: Sequence[str],
        person_id: PersonId | None,
        language: str,
        now: datetime,
    ) -> int:
        user_id = await self._run(
            "INSERT INTO web_users (username, password_hash, role, person_id, language, "
            "created_at) VALUES (?,?,?,?,?,?)",
            (username, password_hash, role, person_id, language, ts(now)),
        )
        await self._many(
            "INSERT INTO web_user_grids (user_id, grid) VALUES (?, ?)",
            [(user_id, grid) for grid in dict.fromkeys(grids)],
        )
        return user_id

    async def web_user(self, username: str) -> WebUser | None:
        row = await self._one(
            f"SELECT {_USER_COLUMNS} FROM web_users u WHERE u.username = ?", (username,)
        )
        return None if row is None else _user(row)

    async def web_user_by_id(self, user_id: int) -> WebUser | None:
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM web_users u WHERE u.id = ?", (user_id,))
        return None if row is None else _user(row)

    async def web_user_of_person(self, person_id: PersonId) -> WebUser | None:
        row = await self._one(
            f"SELECT {_USER_COLUMNS} FROM web_users u WHERE u.person_id = ? AND u.active = 1 "
            "ORDER BY u.id LIMIT 1",
            (person_id,),
        )
        return None if row is None else _user(row)

    async def web_users(self) -> list[WebUser]:
        rows = await self._all(f"SELECT {_USER_COLUMNS} FROM web_users u ORDER BY u.username")
        return [_user(r) for r in rows]

    async def count_web_users(self, role: str | None = None) -> int:
        if role is None:
            row = await self._one("SELECT count(*) AS n FROM web_users")
        else:
            row = await self._one(
                "SELECT count(*) AS n FROM web_users WHERE role = ? AND active = 1", (role,)
            )
        return int(row["n"]) if row else 0

    async def set_web_password(self, user_id: int, password_hash: str) -> None:
        await self._run(
            "UPDATE web_users SET password_hash = ?, generation = generation + 1 WHERE id = ?",
            (password_hash, user_id),
        )

    async def set_web_user_active(self, user_id: int, active: bool) -> None:
        await self._run(
            "UPDATE web_users SET active = ?, generation = generation + 1 WHERE id = ?",
            (int(active), user_id),
        )

    async def add_login_failure(self, username: str, address: str, now: datetime) -> None:
        await self._run("DELETE FROM web_login_failures WHERE at < ?", (ts(now - KEEP_FAILURES),))
        await self._run(
            "INSERT INTO web_login_failures (username, address, at) VALUES (?,?,?)",
            (username, address, ts(now)),
        )

    async def login_failure_times(
        self, username: str, address: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        by_user = await self._all(
            "SELECT at FROM web_login_failures WHERE username = ? AND at >= ? ORDER BY at",
            (username, ts(since)),
        )
        by_address = await self._all(
            "SELECT at FROM web_login_failures WHERE address = ? AND at >= ? ORDER BY at",
            (address, ts(since)),
        )
        return [from_ts(r["at"]) for r in by_user], [from_ts(r["at"]) for r in by_address]

    async def clear_login_failures(self, username: str) -> None:
        await self._run("DELETE FROM web_login_failures WHERE username = ?", (username,))

    async def add_login_link(
        self, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        await self._run("DELETE FROM web_login_links WHERE expires_at < ?", (ts(now),))
        await self._run(
            "INSERT INTO web_login_links (token_hash, user_id, created_at, expires_at) "
            "VALUES (?,?,?,?)",
            (token_hash, user_id, ts(now), ts(expires_at)),
        )

    async def spend_login_link(self, token_hash: str, now: datetime) -> int | None:
        # Compare-and-set: of two requests racing with one link, one wins.
        changed = await self._run(
            "UPDATE web_login_links SET used_at = ? "
            "WHERE token_hash = ? AND used_at IS NULL AND expires_at >= ?",
            (ts(now), token_hash, ts(now)),
        )
        if not changed:
            return None
        row = await self._one(
            "SELECT user_id FROM web_login_links WHERE token_hash = ?", (token_hash,)
        )
        return None if row is None else int(row["user_id"])
