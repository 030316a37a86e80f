"""Consent, retention, erasure and one person's data on SQLite (the SQL is shared:
store/privacy_sql.py)."""

from __future__ import annotations

from store.privacy_sql import PrivacyQueries
from store.sqlite.base import Repo


class PrivacyRepo(Repo, PrivacyQueries):
    _BLANK_PAYLOAD = "json_set(payload, '$.text', '', '$.html', '')"
    _PAYLOAD_TEXT = "json_extract(payload, '$.text')"
