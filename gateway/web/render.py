"""Server-rendered pages: Jinja2 templates (aiohttp-jinja2) with what every page
needs — the principal, the labels of its language, the CSRF token — and the helpers
that turn times into what people read ("2 小时前", "明天 09:00").

The only script besides our own small static/console.js is htmx 2.0.11, vendored as
one file (static/htmx.min.js, from the npm package htmx.org): no build step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.web.deps import DEPS
from gateway.web.principal import CHOSEN_LANGUAGE, PRINCIPAL, Principal
from workflows.texts import Texts, ui

TEMPLATES = jinja2.PackageLoader("gateway.web", "templates")


def environment() -> jinja2.Environment:
    """A template environment outside a request (printed invitation sheets)."""
    return jinja2.Environment(loader=TEMPLATES, autoescape=True, undefined=jinja2.StrictUndefined)


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=TEMPLATES,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        context_processors=[base_context],
        default_helpers=False,
    )


class Labels:
    """`t("key", n=3)` in a template: a console label (workflows/texts UI);
    `t.text("key")`: one of the chat texts (role names, reasons, outcomes)."""

    def __init__(self, language: str, texts: Texts) -> None:
        self.language = language
        self._texts = texts

    def __call__(self, key: str, **fields: object) -> str:
        return ui(self.language, key, **fields)

    def text(self, key: str, **fields: object) -> str:
        return self._texts.render(self.language, key, **fields)


def language_of(request: web.Request) -> str:
    """The account's language; before a login, the one chosen with the switch."""
    found = request.get(PRINCIPAL)
    if isinstance(found, Principal):
        return found.language
    chosen = request.get(CHOSEN_LANGUAGE)
    return chosen if isinstance(chosen, str) else request.app[DEPS].language


async def base_context(request: web.Request) -> dict[str, Any]:
    """What every page's template is given (also made by hand for an error page)."""
    found = request.get(PRINCIPAL)
    deps = request.app[DEPS]
    language = language_of(request)
    return {
        "p": found,
        "t": Labels(language, deps.engine.texts),
        "lang": language,
        "path": request.path,
        "local_chat": deps.local is not None,
    }


def page(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, dict(context), status=status)
    return response


def labels(request: web.Request) -> Labels:
    return Labels(language_of(request), request.app[DEPS].engine.texts)


def who(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def ago(t: Labels, now: datetime, when: datetime | None) -> str:
    """ "2 小时前": how long ago, in the largest whole unit."""
    if when is None:
        return t.text("never")
    delta = max(now - when, timedelta(0))
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return t("just_now")
    if minutes < 60:
        return t.text("minutes_ago", n=minutes)
    if minutes < 48 * 60:
        return t.text("hours_ago", n=minutes // 60)
    return t.text("days_ago", n=minutes // (24 * 60))


def when(t: Labels, now: datetime, at: datetime | None, timezone: str) -> str:
    """A time as a day word and hours: "今天 09:00", "明天 09:00", "11-22 09:00"."""
    if at is None:
        return "—"
    zone = ZoneInfo(timezone)
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    day = {0: t("day_today"), 1: t("day_tomorrow"), -1: t("day_yesterday")}.get(
        days, local.strftime("%m-%d")
    )
    return f"{day} {local.strftime('%H:%M')}"
