"""`carecheck users add|list|passwd|disable`: web console accounts.

The password is read from standard input (`--password-stdin`), never from the command
line, where other users of the machine could read it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.console import WebRole
from core.ports import Store
from gateway.command_base import open_store, settings_or_exit

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="web console accounts").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="add an account (password from standard input)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in WebRole])
    add.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="GRID",
        help="a grid the account covers (again for more); care leads and grid leaders",
    )
    add.add_argument("--person", default="", help="the responder this account acts as")
    add.add_argument("--language", default="", choices=["", "zh", "en"])
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.set_defaults(func=cmd_add)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_list)
    passwd = users.add_parser("passwd", help="set a new password (from standard input)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    passwd.set_defaults(func=cmd_passwd)
    disable = users.add_parser("disable", help="disable an account (its sessions end)")
    disable.add_argument("username")
    disable.set_defaults(func=cmd_disable)


def with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    settings = settings_or_exit()

    async def go() -> T:
        store = await open_store(settings)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def _read_password() -> str:
    if sys.stdin.isatty():
        print("password (then Enter): ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def cmd_add(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.users import AccountError, add_user

    password = _read_password()
    try:
        user = with_store(
            lambda store: add_user(
                store,
                SystemClock().now(),
                args.username,
                password,
                WebRole(args.role),
                grids=list(args.grid),
                person=args.person,
                language=args.language,
            )
        )
    except AccountError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    grids = ", ".join(user.grids) or "every grid"
    print(f"added {user.role.value} account {user.username!r} ({grids})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from gateway.users import list_users

    found = with_store(list_users)
    if not found:
        print("no accounts (carecheck users add NAME --role operator --password-stdin)")
        return 0
    for user, person in found:
        state = "active" if user.active else "disabled"
        grids = ",".join(user.grids) or "*"
        print(
            f"{user.username}\t{user.role.value}\tgrids={grids}\tperson={person or '-'}"
            f"\t{user.language}\t{state}"
        )
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.users import AccountError, set_password

    password = _read_password()
    try:
        with_store(lambda store: set_password(store, SystemClock().now(), args.username, password))
    except AccountError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    print(f"password of {args.username!r} changed; its sessions have ended")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.users import AccountError, disable_user

    try:
        with_store(lambda store: disable_user(store, SystemClock().now(), args.username))
    except AccountError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    print(f"account {args.username!r} disabled; its sessions have ended")
    return 0
