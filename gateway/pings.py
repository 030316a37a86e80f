"""`carecheck people ping-url NAME [--rotate]`: a resident's sign-of-life URL.

Only the token's sha256 is stored, so a URL is shown once, when it is made; `--rotate`
makes a new one and the old one stops working at once. When the resident's plan
expects pings, the first deadline is set now (a sensor never set up is noticed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from core.config import WorkflowConfig
from core.enums import Role
from core.pings import PERSON_KEY, TOKEN_KEY, digest, new_token
from core.ports import Store
from gateway.command_base import config_or_exit, open_store, settings_or_exit
from workflows import signals


class PingUrlError(Exception):
    pass


async def make_ping_url(
    store: Store, config: WorkflowConfig, name: str, *, rotate: bool, now: datetime
) -> str:
    """A new token for the resident (returned once, never stored)."""
    token = new_token()
    async with store.transaction() as tx:
        person = await tx.person_by_name(name)
        if person is None:
            raise PingUrlError(f"nobody is called {name!r}")
        if person.role != Role.RESIDENT:
            raise PingUrlError(f"{name} is a {person.role}: ping URLs are for residents")
        old = await tx.kv_get(f"{PERSON_KEY}{person.id}")
        if old and not rotate:
            raise PingUrlError(
                f"{name} has a ping URL already; it is stored hashed and cannot be shown "
                "again: --rotate makes a new one (the old one stops working)"
            )
        if old:
            await tx.kv_set(f"{TOKEN_KEY}{old}", "")
        hashed = digest(token)
        await tx.kv_set(f"{TOKEN_KEY}{hashed}", str(person.id))
        await tx.kv_set(f"{PERSON_KEY}{person.id}", hashed)
        await tx.audit(now, "signal.url_made", f"person:{person.id}", person.id, hashed[:8])
        plan = config.plans.get(person.plan)
        if plan is not None and plan.expect is not None:
            await signals.arm(tx, person.id, now + plan.expect.ping_every, now)
    return token


def register(people: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ping = people.add_parser("ping-url", help="a resident's sign-of-life URL for sensors")
    ping.add_argument("name", help="the resident's name")
    ping.add_argument(
        "--rotate", action="store_true", help="make a new URL; the old one stops working"
    )
    ping.set_defaults(func=cmd_ping_url)


def cmd_ping_url(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.web.deps import base_url

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)

    async def go() -> str:
        store = await open_store(settings)
        try:
            return await make_ping_url(
                store, config, args.name, rotate=args.rotate, now=SystemClock().now()
            )
        finally:
            await store.close()

    try:
        token = asyncio.run(go())
    except PingUrlError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    print(f"{base_url(settings)}/ping/{token}")
    print(
        'GET, HEAD or POST it as a sign of life; POST {"water_litres": 3.2} carries a '
        "reading. Shown once: keep it like a password.",
        file=sys.stderr,
    )
    return 0
