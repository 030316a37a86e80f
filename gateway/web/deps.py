"""What the web application is given (`WebDeps`) and what it keeps while it runs
(`Console`), under typed application keys."""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from adapters.local import LocalChatAdapter
from gateway.engine import Engine
from gateway.settings import Settings
from gateway.status import FlagCache
from gateway.web.metrics import Metrics

if TYPE_CHECKING:
    from gateway.web.live import ChangeFeed

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class WebDeps:
    engine: Engine
    local: LocalChatAdapter | None
    metrics: Metrics
    language: str = "zh"
    # The deployment settings: the listening address, the console's public URL, the
    # workflow file. Tests may leave them out: 127.0.0.1 and the defaults.
    settings: Settings | None = None


DEPS: web.AppKey[WebDeps] = web.AppKey("deps", WebDeps)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


def default_base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if is_wildcard(host) else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def base_url(settings: Settings, port: int | None = None) -> str:
    """The console's address as browsers reach it: CARECHECK_WEB_BASE_URL, or
    http://WEB_HOST:WEB_PORT (with the port actually listened on, when known)."""
    if settings.web_base_url:
        return settings.web_base_url.rstrip("/")
    return default_base_url(settings.web_host, port or settings.web_port)


@dataclass
class Console:
    """Per-application state of the console, made at start-up."""

    feed: ChangeFeed
    # Host names a request may name (against DNS rebinding); empty: any.
    hosts: frozenset[str]
    # Origins a POST may come from besides the request's own (the public base URL).
    origins: frozenset[str]
    # The console opens without a login only while it listens on loopback.
    loopback: bool
    secure_cookies: bool
    # Paths that are no part of the console: health, metrics, sensor pings, adapters'
    # own routes (a webhook checks its own secret).
    public: set[str] = field(default_factory=set)
    public_prefixes: tuple[str, ...] = ("/healthz", "/metrics", "/ping/", "/static/")
    early_warning: FlagCache = field(default_factory=FlagCache)


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def console_for(settings: Settings | None, feed: ChangeFeed) -> Console:
    host = settings.web_host if settings is not None else "127.0.0.1"
    explicit = settings.web_base_url if settings is not None else ""
    hosts: set[str] = set()
    origins: set[str] = set()
    if explicit:
        parts = urllib.parse.urlsplit(explicit)
        if parts.hostname:
            hosts.add(parts.hostname)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    if not (is_wildcard(host) and not explicit):
        # Listening on one address: only its names, and loopback's, are ours.
        hosts |= LOOPBACK_NAMES | ({host.strip("[]")} if not is_wildcard(host) else set())
    else:
        hosts = set()  # every address: any name that reaches us is ours
    return Console(
        feed=feed,
        hosts=frozenset(h.lower() for h in hosts),
        origins=frozenset(origins),
        loopback=is_loopback(host),
        secure_cookies=explicit.startswith("https://"),
    )
