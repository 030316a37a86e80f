"""How a resident's ping URL is kept: its token never, only the token's sha256, in the
key-value state (the adapter looks a call up by it; the workflow and the command that
makes URLs read and write the same keys)."""

from __future__ import annotations

import hashlib
import secrets

# 24 random bytes: 192 bits, 32 URL-safe characters.
TOKEN_BYTES = 24
TOKEN_PATTERN = "[A-Za-z0-9_-]{32,64}"
# sha256 of the token → the person's id; the person's id → that sha256.
TOKEN_KEY = "ping.token:"
PERSON_KEY = "ping.person:"
# When the last ping that counted arrived (ISO time), for the console and status.
LAST_KEY = "ping.last:"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shown(token: str) -> str:
    """A token as logs may show it: enough to tell two apart, never enough to use."""
    return token[:4] + "…"
