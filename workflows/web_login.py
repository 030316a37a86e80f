"""`/web`: a one-tap link into the web console, for a responder whose account is
linked to them (`carecheck users add … --person NAME`).

The link works once, for ten minutes, and only in the person's own chat: asked in a
group, it would let everyone there in. The console's address is the one the running
gateway keeps in the store (gateway/web/server.py `announce`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from core.console import login_link_hash
from core.events import MessageReceived
from core.records import Person
from workflows.context import Work
from workflows.routes import Audience, Routes, reply

LINK_TTL = timedelta(minutes=10)
BASE_URL_KEY = "web.base_url"

routes = Routes()


@routes.command("web", audience=Audience.RESPONDERS)
async def _web_command(work: Work, person: Person, event: MessageReceived, args: list[str]) -> None:
    if event.is_group:
        await reply(work, event, person, "web_not_in_groups")
        return
    account = await work.tx.web_user_of_person(person.id)
    if account is None:
        await reply(work, event, person, "web_no_account")
        return
    token = secrets.token_urlsafe(32)
    await work.tx.add_login_link(login_link_hash(token), account.id, work.now, work.now + LINK_TTL)
    await work.tx.audit(work.now, "web.link_sent", f"web_user:{account.id}", person.id)
    base = await work.tx.kv_get(BASE_URL_KEY) or ""
    minutes = int(LINK_TTL.total_seconds() // 60)
    await reply(work, event, person, "web_link", link=f"{base}/login/link/{token}", minutes=minutes)
