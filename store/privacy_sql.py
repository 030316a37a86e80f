"""Consent, retention, erasure and one person's data: the SQL both stores share.

The statements are plain SQL that SQLite and PostgreSQL both read. They are written with
`?` placeholders; the PostgreSQL store numbers them ($1, $2, …) through `_sql`. The one
thing the two databases spell differently — editing the JSON of an outbox payload — is a
pair of class attributes each store sets (`_BLANK_PAYLOAD`, `_PAYLOAD_TEXT`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.records import Consent
from store.sqlite.base import from_ts

# Columns holding epoch seconds: shown as times in a person's data.
_TIME_COLUMNS = frozenset(
    {
        "at",
        "created_at",
        "due_at",
        "sent_at",
        "deadline",
        "answered_at",
        "opened_at",
        "acked_at",
        "resolved_at",
        "claimed_at",
        "closed_at",
        "deactivated_at",
        "forgotten_at",
    }
)

_OPEN_CHECKIN = "('sent', 'reminded')"
_CLOSED_NEED = "('done', 'cancelled')"


def _row(row: Any) -> dict[str, Any]:
    data = dict(row)
    for key, value in data.items():
        if key in _TIME_COLUMNS and value is not None:
            data[key] = from_ts(float(value))
    return data


class PrivacyQueries:
    """A mixin of both stores' Tx: what the privacy workflows ask of the database."""

    # SQL expressions over the column `payload` (JSON text): the payload with its text
    # and html emptied, and its text.
    _BLANK_PAYLOAD: str
    _PAYLOAD_TEXT: str

    def _sql(self, sql: str) -> str:
        return sql

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [_row(r) for r in await self._all(self._sql(sql), params)]

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._run(self._sql(sql), params)

    # -- consent --------------------------------------------------------------------

    async def add_consent(
        self,
        person_id: int,
        about: int,
        decision: str,
        version: str,
        now: datetime,
        detail: str = "",
    ) -> None:
        await self._exec(
            "INSERT INTO consents (person_id, about, decision, version, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (person_id, about, decision, version, now.timestamp(), detail),
        )

    async def consent_decision(self, person_id: int, about: int) -> str | None:
        rows = await self._all(
            self._sql(
                "SELECT decision FROM consents WHERE person_id = ? AND about = ? "
                "ORDER BY id DESC LIMIT 1"
            ),
            (person_id, about),
        )
        return str(rows[0]["decision"]) if rows else None

    async def consents_of(self, person_id: int) -> list[Consent]:
        rows = await self._all(
            self._sql(
                "SELECT person_id, about, decision, version, at, detail FROM consents "
                "WHERE person_id = ? ORDER BY id"
            ),
            (person_id,),
        )
        return [
            Consent(
                person_id=r["person_id"],
                about=r["about"],
                decision=r["decision"],
                version=r["version"],
                at=from_ts(float(r["at"])),
                detail=r["detail"],
            )
            for r in rows
        ]

    async def contacts_never_asked(self, limit: int) -> list[int]:
        """Family contacts and volunteers (team members, callers) who can be reached
        (they have a chat) and have never been asked whether they agree to hear about
        residents."""
        rows = await self._all(
            self._sql(
                "SELECT p.id FROM people p WHERE p.role IN ('family', 'team_member', 'caller') "
                "AND p.active = 1 AND p.forgotten_at IS NULL "
                "AND EXISTS (SELECT 1 FROM identities i WHERE i.person_id = p.id) "
                "AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.person_id = p.id) "
                "ORDER BY p.id LIMIT ?"
            ),
            (limit,),
        )
        return [int(r["id"]) for r in rows]

    # -- a compare-and-set on the key-value table -----------------------------------

    async def kv_claim(self, key: str, old: str | None, new: str) -> bool:
        """Set `key` to `new` only if it still holds `old` (None: not set). Of two
        instances doing the same, exactly one gets True: the loser's UPDATE waits for the
        winner's commit and then no longer matches."""
        if old is None:
            await self._exec(
                "INSERT INTO kv (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING",
                (key,),
            )
            old = ""
        return (
            await self._exec("UPDATE kv SET value = ? WHERE key = ? AND value = ?", (new, key, old))
            == 1
        )

    # -- retention ------------------------------------------------------------------

    async def apply_retention(
        self,
        texts_since: datetime,
        texts_before: datetime,
        records_before: datetime,
        audit_before: datetime,
    ) -> dict[str, int]:
        """Reduce what people wrote in [texts_since, texts_before) to what it was taken
        to mean; delete closed check-ins, alerts, needs, messages and sent messages from
        before `records_before`, and audit entries from before `audit_before`. Nothing
        still open is touched. Returns what was done, by name."""
        t_since, t_before = texts_since.timestamp(), texts_before.timestamp()
        r_before, a_before = records_before.timestamp(), audit_before.timestamp()
        window = (t_since, t_before)
        done: dict[str, int] = {}
        done["message_texts_reduced"] = await self._exec(
            "UPDATE messages SET text = intent, reduced = 1 "
            "WHERE at >= ? AND at < ? AND reduced = 0",
            window,
        )
        await self._exec(
            "UPDATE checkins SET answer = state WHERE due_at >= ? AND due_at < ? "
            f"AND answer != '' AND answer != state AND state NOT IN {_OPEN_CHECKIN}",
            window,
        )
        await self._exec(
            "DELETE FROM alert_notes WHERE at >= ? AND at < ? AND alert_id IN "
            "(SELECT id FROM alerts WHERE state = 'resolved')",
            window,
        )
        await self._exec(
            "UPDATE alerts SET detail = reason WHERE opened_at >= ? AND opened_at < ? "
            "AND state = 'resolved' AND detail != reason",
            window,
        )
        await self._exec(
            "UPDATE needs SET text = kind WHERE created_at >= ? AND created_at < ? "
            f"AND state IN {_CLOSED_NEED}",
            window,
        )
        await self._exec(
            "UPDATE need_events SET detail = '' WHERE at >= ? AND at < ? AND detail != ''",
            window,
        )
        done["sent_texts_blanked"] = await self._exec(
            f"UPDATE outbox SET payload = {self._BLANK_PAYLOAD} "
            "WHERE created_at >= ? AND created_at < ? AND state != 'pending' "
            f"AND {self._PAYLOAD_TEXT} != ''",
            window,
        )
        done["dead_letters_deleted"] = await self._exec(
            "DELETE FROM dead_letters WHERE received_at < ?", (t_before,)
        )

        old_alerts = "SELECT id FROM alerts WHERE state = 'resolved' AND opened_at < ?"
        await self._exec(
            f"DELETE FROM alert_notifications WHERE alert_id IN ({old_alerts})", (r_before,)
        )
        await self._exec(f"DELETE FROM alert_notes WHERE alert_id IN ({old_alerts})", (r_before,))
        done["alerts_deleted"] = await self._exec(
            "DELETE FROM alerts WHERE state = 'resolved' AND opened_at < ?", (r_before,)
        )
        done["checkins_deleted"] = await self._exec(
            f"DELETE FROM checkins WHERE due_at < ? AND state NOT IN {_OPEN_CHECKIN} "
            "AND id NOT IN (SELECT checkin_id FROM alerts WHERE checkin_id IS NOT NULL)",
            (r_before,),
        )
        old_needs = f"SELECT id FROM needs WHERE state IN {_CLOSED_NEED} AND created_at < ?"
        await self._exec(f"DELETE FROM need_events WHERE need_id IN ({old_needs})", (r_before,))
        done["needs_deleted"] = await self._exec(
            f"DELETE FROM needs WHERE id IN ({old_needs})", (r_before,)
        )
        done["messages_deleted"] = await self._exec(
            "DELETE FROM messages WHERE at < ?", (r_before,)
        )
        # Sent messages, but none that a newer edit or a kept alert still points to.
        old_outbox = (
            "SELECT id FROM outbox WHERE created_at < ? AND state != 'pending' "
            "AND id NOT IN (SELECT edit_of FROM outbox WHERE edit_of IS NOT NULL "
            "AND (created_at >= ? OR state = 'pending')) "
            "AND id NOT IN (SELECT outbox_id FROM alert_notifications)"
        )
        await self._exec(
            f"DELETE FROM delivery_attempts WHERE outbox_id IN ({old_outbox})",
            (r_before, r_before),
        )
        done["sent_deleted"] = await self._exec(
            f"DELETE FROM outbox WHERE id IN ({old_outbox})",
            (r_before, r_before),
        )
        done["audit_deleted"] = await self._exec("DELETE FROM audit WHERE at < ?", (a_before,))
        return done

    # -- one person's data ----------------------------------------------------------

    async def person_data(self, person_id: int) -> dict[str, list[dict[str, Any]]]:
        """Everything held about one person, table by table (times as datetimes)."""
        one = (person_id,)
        alerts = "SELECT id FROM alerts WHERE person_id = ?"
        needs = "SELECT id FROM needs WHERE person_id = ?"
        return {
            "profile": await self._rows(
                "SELECT id, name, role, grid, building, language, timezone, phone, address, "
                "plan, active, created_at, deactivated_at, forgotten_at FROM people "
                "WHERE id = ?",
                one,
            ),
            "family_contacts": await self._rows(
                "SELECT name, language, phone FROM people WHERE family_of = ? ORDER BY id", one
            ),
            "identities": await self._rows(
                "SELECT platform, address, chat, created_at FROM identities "
                "WHERE person_id = ? ORDER BY created_at",
                one,
            ),
            "consents": await self._rows(
                "SELECT about, decision, version, at, detail FROM consents "
                "WHERE person_id = ? ORDER BY id",
                one,
            ),
            "checkins": await self._rows(
                "SELECT id, plan, due_at, sent_at, deadline, state, answered_at, answer, "
                "reminders_sent FROM checkins WHERE person_id = ? ORDER BY due_at",
                one,
            ),
            "messages": await self._rows(
                "SELECT id, at, kind, text, intent, reduced FROM messages "
                "WHERE person_id = ? ORDER BY at, id",
                one,
            ),
            "alerts": await self._rows(
                "SELECT id, checkin_id, reason, urgent, state, opened_at, detail, acked_by, "
                "acked_at, resolved_by, resolved_at, outcome, misses FROM alerts "
                "WHERE person_id = ? ORDER BY id",
                one,
            ),
            "alert_notes": await self._rows(
                "SELECT alert_id, person_id AS author, at, text FROM alert_notes "
                f"WHERE alert_id IN ({alerts}) ORDER BY id",
                one,
            ),
            "needs": await self._rows(
                "SELECT id, kind, text, team, state, created_by, created_at, claimed_by, "
                "claimed_at, closed_by, closed_at FROM needs WHERE person_id = ? ORDER BY id",
                one,
            ),
            "need_events": await self._rows(
                "SELECT need_id, at, actor, action, detail FROM need_events "
                f"WHERE need_id IN ({needs}) ORDER BY id",
                one,
            ),
            "reveals": await self._rows(
                "SELECT at, actor, detail FROM audit WHERE kind = 'reveal' AND subject = ? "
                "ORDER BY id",
                (f"person:{person_id}",),
            ),
        }

    # -- erasure --------------------------------------------------------------------

    async def forget_person(self, person_id: int, now: datetime) -> dict[str, int]:
        """Erase what identifies a person and what they said, keeping the rows that
        counts are made of (check-ins, alerts, needs: their states and times) under an
        anonymous name. The caller has checked that no alert of theirs is open."""
        p, at = person_id, now.timestamp()
        alerts = "SELECT id FROM alerts WHERE person_id = ?"
        needs = "SELECT id FROM needs WHERE person_id = ?"
        checkins = "SELECT id FROM checkins WHERE person_id = ?"
        done: dict[str, int] = {}
        # Deadlines of what is still open for them: nothing should fire about nobody.
        await self._exec(
            "DELETE FROM timers WHERE (kind IN ('remind', 'close') AND ref IN "
            f"(SELECT id FROM checkins WHERE person_id = ? AND state IN {_OPEN_CHECKIN})) "
            "OR (kind = 'concern' AND ref IN (SELECT id FROM messages WHERE person_id = ?))",
            (p, p),
        )
        await self._exec(
            f"UPDATE checkins SET state = 'ok', answered_at = ? WHERE person_id = ? "
            f"AND state IN {_OPEN_CHECKIN}",
            (at, p),
        )
        await self._exec(
            "UPDATE outbox SET state = 'cancelled' WHERE person_id = ? AND state = 'pending'",
            (p,),
        )
        # Every message about them that went out: their own prompts and answers, and the
        # copies of their alerts and needs (with name, address, phone) sent to others.
        about = (
            "person_id = ? "
            f"OR (purpose IN ('alert', 'outcome_menu', 'reveal_alert') AND ref IN ({alerts})) "
            f"OR (purpose IN ('need', 'reveal_need') AND ref IN ({needs})) "
            f"OR (purpose IN ('checkin', 'reminder', 'concern') AND ref IN ({checkins}))"
        )
        done["sent_texts_blanked"] = await self._exec(
            f"UPDATE outbox SET payload = {self._BLANK_PAYLOAD} WHERE state != 'pending' "
            f"AND (({about}) OR edit_of IN (SELECT id FROM outbox WHERE {about}))",
            (p, p, p, p, p, p, p, p),
        )
        done["messages_deleted"] = await self._exec(
            "DELETE FROM messages WHERE person_id = ?", (p,)
        )
        await self._exec("UPDATE checkins SET answer = '' WHERE person_id = ?", (p,))
        await self._exec(f"DELETE FROM alert_notes WHERE alert_id IN ({alerts})", (p,))
        await self._exec("UPDATE alerts SET detail = '' WHERE person_id = ?", (p,))
        await self._exec("UPDATE needs SET text = '' WHERE person_id = ?", (p,))
        await self._exec(f"UPDATE need_events SET detail = '' WHERE need_id IN ({needs})", (p,))
        await self._exec(
            "UPDATE audit SET detail = '' WHERE subject = ? "
            "OR subject IN (SELECT 'alert:' || id FROM alerts WHERE person_id = ?) "
            "OR subject IN (SELECT 'need:' || id FROM needs WHERE person_id = ?)",
            (f"person:{p}", p, p),
        )
        # What they wrote, as it arrived (kept a while for deduplication).
        for identity in await self._all(
            self._sql("SELECT platform, address FROM identities WHERE person_id = ?"), (p,)
        ):
            address = json.dumps(str(identity["address"]), ensure_ascii=False)
            await self._exec(
                "DELETE FROM inbox WHERE platform = ? AND payload LIKE ?",
                (identity["platform"], f'%"address": {address}%'),
            )
        done["identities_deleted"] = await self._exec(
            "DELETE FROM identities WHERE person_id = ?", (p,)
        )
        await self._exec("DELETE FROM invites WHERE person_id = ?", (p,))
        done["people_erased"] = await self._exec(
            "UPDATE people SET name = ?, phone = '', address = '', building = '', "
            "active = 0, family_of = NULL, deactivated_at = coalesce(deactivated_at, ?), "
            "forgotten_at = ? WHERE id = ?",
            (f"forgotten-{p}", at, at, p),
        )
        return done
