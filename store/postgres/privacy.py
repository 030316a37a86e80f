"""Consent, retention, erasure and one person's data on PostgreSQL (the SQL is shared:
store/privacy_sql.py)."""

from __future__ import annotations

import itertools
import re

from store.postgres.base import Repo
from store.privacy_sql import PrivacyQueries

_PLACEHOLDER = re.compile(r"\?")


class PrivacyRepo(Repo, PrivacyQueries):
    _BLANK_PAYLOAD = (
        "jsonb_set(jsonb_set(payload::jsonb, '{text}', '\"\"'), '{html}', '\"\"')::text"
    )
    _PAYLOAD_TEXT = "(payload::jsonb ->> 'text')"

    def _sql(self, sql: str) -> str:
        # The shared statements hold no literal '?', so each one is a parameter.
        numbers = itertools.count(1)
        return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
