"""Web console accounts: `carecheck users add|list|passwd|disable`, password hashing,
and the checks the login page makes.

Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes); a hash
is checked on a worker thread so a login does not stall the event loop for the ~50 ms
it takes. An account names its grids explicitly: a care lead or a grid leader with no
grid would otherwise see nothing, or everything.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.console import WebRole, WebUser
from core.enums import Role
from core.ports import Store

_HASHER = PasswordHasher()
# Checked against when the username is unknown, so that an unknown name takes as long
# to refuse as a wrong password (no telling which accounts exist by timing).
_DUMMY_HASH = _HASHER.hash("carecheck: not a password")

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[\w.@-]{1,64}")

# Logins refused after this many failures within the window, per account and per address.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class AccountError(Exception):
    """A request about an account that cannot be done: one line saying why."""


@dataclass(frozen=True)
class Throttle:
    """Logins are refused until `until` (for the account, or from the address)."""

    until: datetime


def normalise_username(name: str) -> str:
    """Usernames compare without regard to case or Unicode form."""
    return unicodedata.normalize("NFKC", name.strip()).casefold()


def check_username(name: str) -> str:
    username = normalise_username(name)
    if not _USERNAME.fullmatch(username):
        raise AccountError(
            f"username {name!r}: use 1 to 64 letters, digits, '.', '_', '-' or '@' (no spaces)"
        )
    return username


def check_password(password: str) -> str:
    # A password piped in ends with the newline `echo` adds: that is not part of it.
    password = password.removesuffix("\n").removesuffix("\r")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password may have at most {MAX_PASSWORD} characters")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def password_matches(user: WebUser | None, password: str) -> bool:
    """Whether `password` is the account's; for no account, as slow a "no"."""
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_HASHER.verify, stored, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return user is not None


def needs_rehash(user: WebUser) -> bool:
    return _HASHER.check_needs_rehash(user.password_hash)


async def add_user(
    store: Store,
    now: datetime,
    username: str,
    password: str,
    role: WebRole,
    *,
    grids: list[str],
    person: str = "",
    language: str = "",
) -> WebUser:
    username = check_username(username)
    password = check_password(password)
    hashed = await hash_password(password)
    async with store.transaction() as tx:
        if await tx.web_user(username) is not None:
            raise AccountError(f"an account named {username!r} already exists")
        linked = None
        if person:
            linked = await tx.person_by_name(person)
            if linked is None:
                raise AccountError(f"no person named {person!r} (see `carecheck people export`)")
            if linked.role == Role.RESIDENT:
                raise AccountError(f"{person!r} is a resident; link an account to a responder")
            taken = await tx.web_user_of_person(linked.id)
            if taken is not None:
                raise AccountError(f"{person!r} already has an account: {taken.username!r}")
        if role in (WebRole.GRID_LEADER, WebRole.CARE_LEAD) and not grids:
            if linked is not None and linked.grid:
                grids = [linked.grid]
            else:
                raise AccountError(f"a {role.value} account needs --grid (the grids it covers)")
        if role is WebRole.GRID_LEADER and len(set(grids)) > 1:
            raise AccountError("a grid_leader account covers one grid; use care_lead for more")
        if role is WebRole.OPERATOR and grids:
            raise AccountError("an operator sees every grid; leave out --grid")
        known = set(await tx.grids())
        unknown = [g for g in grids if g not in known]
        if unknown:
            listed = ", ".join(sorted(known)) or "none yet"
            raise AccountError(f"no people in grid {unknown[0]!r} (grids: {listed})")
        lang = language or (linked.language if linked is not None else "zh")
        if lang not in ("zh", "en"):
            raise AccountError(f"language {lang!r} is not zh or en")
        user_id = await tx.add_web_user(
            username,
            hashed,
            role.value,
            grids,
            None if linked is None else linked.id,
            lang,
            now,
        )
        await tx.audit(now, "web.user_added", f"web_user:{user_id}", None, f"{username} {role}")
        user = await tx.web_user_by_id(user_id)
    assert user is not None
    return user


async def set_password(store: Store, now: datetime, username: str, password: str) -> None:
    password = check_password(password)
    hashed = await hash_password(password)
    async with store.transaction() as tx:
        user = await tx.web_user(normalise_username(username))
        if user is None:
            raise AccountError(f"no account named {username!r}")
        await tx.set_web_password(user.id, hashed)
        await tx.clear_login_failures(user.username)
        await tx.audit(now, "web.password_changed", f"web_user:{user.id}")


async def disable_user(store: Store, now: datetime, username: str) -> None:
    async with store.transaction() as tx:
        user = await tx.web_user(normalise_username(username))
        if user is None:
            raise AccountError(f"no account named {username!r}")
        await tx.set_web_user_active(user.id, False)
        await tx.audit(now, "web.user_disabled", f"web_user:{user.id}")


async def list_users(store: Store) -> list[tuple[WebUser, str]]:
    """Every account, with the name of the person it acts as (or "")."""
    async with store.read() as tx:
        users = await tx.web_users()
        names = {}
        for user in users:
            if user.person_id is not None:
                person = await tx.person(user.person_id)
                names[user.id] = person.name if person else ""
    return [(u, names.get(u.id, "")) for u in users]


def throttle_until(failures: list[datetime], now: datetime) -> datetime | None:
    """When logins may be tried again, if `failures` (oldest first, inside the window)
    have reached the limit."""
    if len(failures) < MAX_FAILURES:
        return None
    # The attempt that would make room is when the oldest failure that still counts
    # leaves the window.
    until = failures[len(failures) - MAX_FAILURES] + FAILURE_WINDOW
    return until if until > now else None


async def login_throttle(
    store: Store, username: str, address: str, now: datetime
) -> Throttle | None:
    async with store.read() as tx:
        by_user, by_address = await tx.login_failure_times(username, address, now - FAILURE_WINDOW)
    times = [t for t in (throttle_until(by_user, now), throttle_until(by_address, now)) if t]
    return Throttle(max(times)) if times else None


async def has_operator(store: Store) -> bool:
    async with store.read() as tx:
        return await tx.count_web_users(WebRole.OPERATOR.value) > 0


def exposure_problem(host: str, operators: int) -> str | None:
    """Why the web server must not listen on `host` yet: anywhere but loopback, the
    console needs an operator account first (with none it would be open to all)."""
    from gateway.web.deps import is_loopback

    if is_loopback(host) or operators > 0:
        return None
    return (
        f"refusing to listen on {host}: no operator account exists, so the console would "
        "be open without a login; create one first: "
        "carecheck users add NAME --role operator --password-stdin"
    )
