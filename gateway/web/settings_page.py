"""Settings (`/settings`, operators only): the workflow file as it is on disk now, with
the result of checking it — what `carecheck config check` says. The running gateway
keeps the file it started with: a change takes effect at the next start, and a file
that does not pass the check here would stop that start.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.config import MAX_CONFIG_BYTES, ConfigError, builtin_config_text, load_config
from gateway.users import list_users
from gateway.web.deps import DEPS, base_url
from gateway.web.principal import principal
from gateway.web.render import page
from workflows.web_login import BASE_URL_KEY


@dataclass(frozen=True)
class Checked:
    """What checking the file says: its text, its problems (in English, with line and key
    path, as `carecheck config check` prints them), or what it holds when it is fine."""

    text: str
    problems: list[str]
    builtin: bool = False
    plans: int = 0
    policies: int = 0
    teams: int = 0


def _check(path: Path) -> Checked:
    try:
        config, source = load_config(path)
    except ConfigError as exc:
        text = ""
        with contextlib.suppress(OSError), path.open("rb") as file:
            # No more than the loader itself would read.
            text = file.read(MAX_CONFIG_BYTES).decode("utf-8", errors="replace")
        return Checked(text, [str(p) for p in exc.problems])
    builtin = source == "built-in example"
    return Checked(
        builtin_config_text() if builtin else path.read_text("utf-8"),
        [],
        builtin,
        len(config.plans),
        len(config.escalation_policies),
        len(config.teams),
    )


async def settings_page(request: web.Request) -> web.Response:
    if not principal(request).is_operator:
        raise web.HTTPForbidden(text="settings are for operators\n", content_type="text/plain")
    deps = request.app[DEPS]
    settings = deps.settings
    path = settings.config if settings is not None else Path("./carecheck.yaml")
    checked = await asyncio.to_thread(_check, path)
    accounts = await list_users(deps.engine.store)
    async with deps.engine.store.read() as tx:
        # As the running gateway announced it (with the port it listens on).
        address = await tx.kv_get(BASE_URL_KEY)
    return page(
        request,
        "settings.html",
        {
            "path": str(path),
            "exists": path.exists(),
            "checked": checked,
            "accounts": accounts,
            "platforms": sorted(deps.engine.adapters),
            "base_url": address or (base_url(settings) if settings is not None else ""),
        },
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/settings", settings_page)]
