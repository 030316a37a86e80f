"""The ports: what the workflows and the engine need from a database, as protocols.

`store/sqlite` (the embedded default) and `store/postgres` implement them; nothing above
the store names a concrete database. The same contract tests run on both
(tests/test_store_contract.py), and mypy checks each implementation against these.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from core.commands import Priority
from core.console import AckTime, AuditEntry, CheckinDay, DeliveryAttempt, ResidentRow, WebUser
from core.ids import AlertId, ChatRef, CheckinId, OutboxId, PersonId
from core.outbox import NewMessage, OutboxRow
from core.records import (
    Absence,
    Alert,
    AlertNote,
    AlertReason,
    CallAttempt,
    CallOutcome,
    Checkin,
    CheckinState,
    Consent,
    ContactKind,
    DeadLetter,
    HumanContact,
    Identity,
    Invite,
    Need,
    NewAlert,
    NewPerson,
    Notification,
    Person,
    Said,
    Timer,
)
from core.watch import CheckinFact, ContactFact, PlatformDelivery, PromptCounts


class StoreOpenError(Exception):
    """The database cannot be opened (missing directory, read-only, not a database)."""


class SchemaTooNew(StoreOpenError):
    """The database was written by a newer carecheck: refuse rather than guess."""


class Tx(Protocol):
    """Everything read or written inside one transaction."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested unit: one failing event rolls back alone."""
        ...

    # -- check-ins, alerts, notifications, timers ----------------------------

    async def ack_delays(self) -> list[tuple[float, int]]: ...
    async def acknowledge_alert(self, alert_id: AlertId, by: PersonId, now: datetime) -> bool: ...
    async def add_notification(
        self,
        alert_id: AlertId,
        person_id: PersonId | None,
        outbox_id: OutboxId,
        step: int,
        role: str,
        now: datetime,
    ) -> None: ...
    async def add_timer(
        self, due_at: datetime, kind: str, ref: int, arg: str, now: datetime
    ) -> int: ...
    async def add_timers(
        self, timers: Sequence[tuple[datetime, str, int, str]], now: datetime
    ) -> None: ...
    async def answer_checkins(
        self,
        answers: Sequence[tuple[CheckinId, str]],
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
        answered_at: datetime,
    ) -> set[CheckinId]:
        """`set_checkin_state` of many check-ins (each with its `answer`) at once; returns
        the ones it changed."""
        ...

    async def advance_alert(self, alert_id: AlertId, position: int) -> None: ...
    async def alert(self, alert_id: int) -> Alert | None: ...
    async def asked_since(self, since: datetime) -> set[PersonId]: ...
    async def cancel_timers(self, ref: int, kinds: Sequence[str]) -> int: ...
    async def cancel_timers_of(self, refs: Sequence[int], kinds: Sequence[str]) -> int: ...
    async def checkin(self, checkin_id: int) -> Checkin | None: ...
    async def checkin_outcomes(self) -> list[tuple[str, int, float | None, float, float]]: ...
    async def claim_timer(self, timer_id: int) -> bool: ...
    async def claim_timers(self, timer_ids: Sequence[int]) -> set[int]: ...
    async def checkins_by_id(
        self, checkin_ids: Sequence[CheckinId]
    ) -> dict[CheckinId, Checkin]: ...
    async def prompts_delivered_at(
        self, checkin_ids: Sequence[CheckinId]
    ) -> dict[CheckinId, datetime]: ...
    async def set_checkin_states(
        self,
        checkin_ids: Sequence[CheckinId],
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
    ) -> set[CheckinId]: ...
    async def create_alerts(self, alerts: Sequence[NewAlert]) -> list[AlertId]: ...
    async def add_notifications(
        self,
        rows: Sequence[tuple[AlertId, PersonId | None, OutboxId, int, str, datetime]],
    ) -> None: ...
    async def count_reminder(self, checkin_id: CheckinId) -> None: ...
    async def count_timers(self) -> int: ...
    async def create_alert(
        self,
        person_id: PersonId,
        checkin_id: CheckinId | None,
        reason: AlertReason,
        urgent: bool,
        policy: str,
        now: datetime,
        detail: str,
        misses: int = 0,
    ) -> AlertId: ...
    async def due_timers(self, now: datetime, limit: int) -> list[Timer]: ...
    async def mark_urgent(self, alert_id: AlertId) -> None: ...
    async def next_timer_due(self) -> datetime | None: ...
    async def notifications(self, alert_id: AlertId) -> list[Notification]: ...
    async def open_checkin_of(self, person_id: PersonId) -> Checkin | None: ...
    async def new_checkin_ids(self, count: int) -> list[CheckinId]:
        """`count` ids no check-in has, ascending, for `open_checkins(ids=…)`: a round
        can sign its prompts' buttons before its check-ins are written."""
        ...

    async def open_checkins(
        self,
        plan: str,
        due_at: datetime,
        sent_at: datetime,
        deadline: datetime,
        people: Sequence[PersonId],
        ids: Mapping[PersonId, CheckinId] | None = None,
    ) -> dict[PersonId, CheckinId]:
        """One check-in per person for this round (with the id given in `ids`, from
        `new_checkin_ids`). A person who has this round's check-in already (a round
        replayed after a crash) is left out of the result."""
        ...

    async def open_checkins_of(self, person_id: PersonId) -> list[Checkin]: ...
    async def open_checkins_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, list[Checkin]]:
        """`open_checkins_of` of each person, in one read (nobody without one)."""
        ...

    async def prompt_delivered_at(self, checkin_id: CheckinId) -> datetime | None: ...
    async def recent_alerts(self, limit: int = 50) -> list[Alert]: ...
    async def reescalate_alert(
        self, alert_id: AlertId, checkin_id: CheckinId | None, misses: int
    ) -> bool: ...
    async def resolve_alert(
        self, alert_id: AlertId, by: PersonId | None, now: datetime, outcome: str
    ) -> bool: ...
    async def set_checkin_state(
        self,
        checkin_id: CheckinId,
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
        answered_at: datetime | None = None,
        answer: str = "",
    ) -> bool: ...
    async def set_deadline(self, checkin_id: CheckinId, deadline: datetime) -> None: ...
    async def timers_of_kind(self, kind: str) -> list[Timer]: ...
    async def unresolved_alert_of(self, person_id: PersonId) -> Alert | None: ...
    async def unresolved_alert_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, Alert]:
        """`unresolved_alert_of` of each person, in one read (nobody without one)."""
        ...

    async def unresolved_alerts(self, grid: str | None = None) -> list[Alert]: ...

    # -- what residents said, alert notes ------------------------------------

    async def add_alert_note(
        self, alert_id: AlertId, person_id: PersonId | None, at: datetime, text: str
    ) -> None: ...
    async def add_message(
        self, person_id: PersonId, at: datetime, kind: str, text: str, intent: str
    ) -> int: ...
    async def add_messages(
        self, messages: Sequence[tuple[PersonId, datetime, str, str, str]]
    ) -> None:
        """`add_message` of each (person, at, kind, text, intent), ids in this order."""
        ...

    async def alert_notes(self, alert_id: AlertId) -> list[AlertNote]: ...
    async def last_heard(self, person_id: PersonId) -> datetime | None: ...
    async def last_heard_each(self, person_ids: Sequence[PersonId]) -> dict[PersonId, datetime]:
        """`last_heard` of each (a person never heard from is left out)."""
        ...

    async def message(self, message_id: int) -> Said | None: ...
    async def messages_of(self, person_id: PersonId, limit: int = 50) -> list[Said]: ...
    async def misses_since(self, person_id: PersonId, since: datetime) -> int: ...
    async def misses_since_each(
        self, person_ids: Sequence[PersonId], since: datetime
    ) -> dict[PersonId, int]:
        """`misses_since` of each (a person with none is left out)."""
        ...

    async def pending_concern(self, person_id: PersonId) -> int | None: ...
    async def pending_concerns(self, person_ids: Sequence[PersonId]) -> dict[PersonId, int]:
        """`pending_concern` of each person, in one read (nobody without one)."""
        ...

    async def replied_outbox_id(self, platform: str, chat: str, message_id: str) -> int | None: ...

    # -- dead letters, health ------------------------------------------------

    async def add_dead_letter(
        self, platform: str, ref: str, raw: str, reason: str, now: datetime
    ) -> bool: ...
    async def dead_letter_counts(self) -> dict[str, int]: ...
    async def dead_letters(
        self, platform: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...
    async def oldest_pending(self, priority: Priority) -> tuple[str, datetime] | None: ...
    async def write_check(self, now: datetime) -> None: ...

    # -- people, identities, invitations, team chats -------------------------

    async def add_invite(
        self,
        code: str,
        person_id: PersonId | None,
        team: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...
    async def all_identities(self) -> list[Identity]: ...
    async def bind_identity(
        self, person_id: PersonId, platform: str, address: str, chat: ChatRef, now: datetime
    ) -> None: ...
    async def count_people(self) -> int: ...
    async def export_rows(self) -> list[dict[str, Any]]: ...
    async def family_of(self, resident: PersonId) -> list[Person]: ...
    async def family_of_each(
        self, residents: Sequence[PersonId]
    ) -> dict[PersonId, list[Person]]: ...
    async def grids(self) -> list[str]: ...
    async def grids_without_reachable_leader(self, platforms: Sequence[str] = ()) -> list[str]: ...
    async def has_open_person_invites(self, now: datetime) -> bool: ...
    async def identities_of(self, person_id: PersonId) -> list[Identity]: ...
    async def identities_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, list[Identity]]: ...
    async def identities_at(self, platform: str, addresses: Sequence[str]) -> dict[str, Identity]:
        """`identity` of each address on one platform, in one read (unknown ones left out)."""
        ...

    async def identity(self, platform: str, address: str) -> Identity | None: ...
    async def invite_is_for_team(self, code: str) -> bool: ...
    async def is_team_chat(self, chat: ChatRef) -> bool: ...
    async def link_team_chat(self, team: str, chat: ChatRef) -> None: ...
    async def open_invite(self, code: str, now: datetime) -> Invite | None: ...
    async def people(self, role: str | None = None) -> list[Person]: ...
    async def person(self, person_id: int) -> Person | None: ...
    async def people_by_id(self, person_ids: Sequence[PersonId]) -> dict[PersonId, Person]: ...
    async def person_by_name(self, name: str) -> Person | None: ...
    async def replace_import_identities(
        self, rows: Sequence[tuple[str, str, str, str]], now: datetime
    ) -> None: ...
    async def responders(self, grid: str, role: str) -> list[Person]: ...
    async def round_keys(self) -> list[tuple[str, str]]: ...
    async def round_residents(
        self, plan: str, timezone: str, grid: str = ""
    ) -> list[tuple[PersonId, ChatRef, str, str]]:
        """Residents asked in their chat (contact "chat"), one row per identity."""
        ...

    async def set_active(self, person_id: PersonId, active: bool) -> None: ...
    async def spend_invite(self, code: str, now: datetime, used_by: str) -> Invite | None: ...
    async def team_chats(self, team: str) -> list[ChatRef]: ...
    async def upsert_people(self, people: Sequence[NewPerson], now: datetime) -> int: ...

    # -- away, last human contact, phone calls ------------------------------
    # A person away (resident: no check-ins; responder: a deputy covers), the latest
    # time someone was in touch with a resident, and the calls made for call tasks.

    async def add_absence(
        self,
        person_id: PersonId,
        until: datetime,
        reason: str,
        set_by: PersonId | None,
        now: datetime,
    ) -> int:
        """Away from `now` until `until`; returns the absence's id."""
        ...

    async def absence(self, absence_id: int) -> Absence | None: ...
    async def current_absence(self, person_id: PersonId, at: datetime) -> Absence | None:
        """The absence the person is in at `at` (not ended, started, not yet over)."""
        ...

    async def away_among(self, person_ids: Sequence[PersonId], at: datetime) -> set[PersonId]:
        """Of these people, those with a `current_absence` at `at`."""
        ...

    async def end_absence(self, absence_id: int, at: datetime) -> bool:
        """Mark it over at `at`, once: False when it had already ended."""
        ...

    async def away_at(self, at: datetime, grids: Sequence[str] | None = None) -> list[Absence]:
        """Everyone away at `at` (of people in `grids`, when given), soonest back first."""
        ...

    async def absences_between(self, start: datetime, end: datetime) -> list[Absence]:
        """Absences that overlap [start, end): away days, reports."""
        ...

    async def add_contact(
        self,
        person_id: PersonId,
        at: datetime,
        kind: ContactKind,
        by: PersonId | None,
        note: str = "",
    ) -> None:
        """Someone was in touch with the resident for them (a call, a visit). Their own
        answers and messages need no row: `last_contact` reads them where they are."""
        ...

    async def last_contact(self, person_id: PersonId) -> HumanContact | None:
        """The resident's last human contact: their own answer or message (kind
        `answer`), or a call or visit recorded for them, whichever is latest."""
        ...

    async def last_contacts(self, people: Sequence[PersonId]) -> dict[PersonId, HumanContact]:
        """`last_contact` for many residents at once (those never in touch are absent)."""
        ...

    async def add_call_attempt(
        self,
        checkin_id: CheckinId,
        caller: PersonId | None,
        at: datetime,
        outcome: CallOutcome,
        note: str = "",
    ) -> None: ...
    async def call_attempts(self, checkin_id: CheckinId) -> list[CallAttempt]: ...
    async def call_outcome_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """Calls made in [start, end) by outcome."""
        ...

    async def set_contact(self, person_id: PersonId, contact: str) -> None:
        """How the resident is checked on from now: "chat" or "phone"."""
        ...

    async def call_residents(
        self, plan: str, timezone: str, grid: str = "", everyone: bool = False
    ) -> list[Person]:
        """Active residents on a plan in a timezone (and grid) to be phoned: those whose
        contact is "phone", or all of them with `everyone` (a plan with channel phone)."""
        ...

    async def recent_checkins(self, person_id: PersonId, limit: int) -> list[Checkin]:
        """The person's latest check-ins, newest first."""
        ...

    # -- key-value, audit, counts --------------------------------------------

    async def audit(
        self,
        now: datetime,
        kind: str,
        subject: str = "",
        actor: int | None = None,
        detail: str = "",
    ) -> None: ...
    async def audit_kinds(self, kind: str) -> int: ...
    async def audit_many(
        self, entries: Sequence[tuple[datetime, str, str, int | None, str]]
    ) -> None:
        """`audit` of each (now, kind, subject, actor, detail), ids in this order."""
        ...

    async def audit_of(self, subject: str) -> list[tuple[str, str]]: ...
    async def checkin_state_counts(self) -> dict[str, int]: ...
    async def day_counts(self, start: datetime, end: datetime) -> list[dict[str, int | str]]: ...
    async def kv_get(self, key: str) -> str | None: ...
    async def kv_set(self, key: str, value: str) -> None: ...
    async def kv_setdefault(self, key: str, value: str) -> str:
        """The value `key` holds, after setting it to `value` if it was unset. Of two
        instances doing this at once, both get the same value (the first one's)."""
        ...

    async def kv_advance(self, key: str, value: str) -> bool:
        """Set `key` to `value` if it is unset or holds a smaller value (text order);
        True when this call set it. Of two instances racing, exactly one gets True."""
        ...

    async def open_alert_count(self) -> int: ...
    async def kv_claim(self, key: str, old: str | None, new: str) -> bool:
        """Set `key` to `new` only if it still holds `old` (None: unset); exactly one of
        two instances doing the same at once gets True."""
        ...

    # -- privacy: consent, retention, a person's data, erasure -----------------

    async def add_consent(
        self,
        person_id: int,
        about: int,
        decision: str,
        version: str,
        now: datetime,
        detail: str = "",
    ) -> None: ...
    async def consent_decision(self, person_id: int, about: int) -> str | None: ...
    async def consents_of(self, person_id: int) -> list[Consent]: ...
    async def contacts_never_asked(self, limit: int) -> list[int]: ...
    async def apply_retention(
        self,
        texts_since: datetime,
        texts_before: datetime,
        records_before: datetime,
        audit_before: datetime,
    ) -> dict[str, int]: ...
    async def person_data(self, person_id: int) -> dict[str, list[dict[str, Any]]]: ...
    async def forget_person(self, person_id: int, now: datetime) -> dict[str, int]: ...

    # -- inbox and outbox ----------------------------------------------------

    async def cancel_pending(self, outbox_ids: Sequence[OutboxId]) -> int:
        """Cancel these rows if still pending and not being delivered right now: not
        marked by this process (`Store.sending`), nor taken for sending by any instance
        (`take_for_sending`, until a retry ends the lease). Returns how many were
        cancelled."""
        ...

    async def claim_inbound(self, inbox_ids: Sequence[int], now: datetime) -> set[int]: ...
    async def delivery_attempts(self, outbox_id: OutboxId) -> list[tuple[bool, str]]: ...
    async def enqueue(self, platform: str, message: NewMessage, now: datetime) -> OutboxId: ...
    async def enqueue_many(self, rows: Iterable[tuple[str, NewMessage]], now: datetime) -> None:
        """Messages in the order given. `rows` may be made as they are read (a round's
        prompts, rendered while the database writes those before them): read once, in
        order, a chunk at a time, never all held at once."""
        ...

    async def enqueue_each(
        self, rows: Sequence[tuple[str, NewMessage]], now: datetime
    ) -> list[OutboxId]:
        """`enqueue` of each row in turn: their ids, in the order given."""
        ...

    async def mark_failed(self, outbox_id: OutboxId, error: str, now: datetime) -> None: ...
    async def mark_inbound_failed(self, inbox_id: int, error: str) -> None: ...
    async def mark_retry(
        self, outbox_id: OutboxId, error: str, not_before: datetime, now: datetime
    ) -> None: ...
    async def mark_sent(self, outbox_id: OutboxId, message_id: str, now: datetime) -> None: ...
    async def mark_sent_many(self, sent: Sequence[tuple[OutboxId, str, float]]) -> None: ...
    async def next_not_before(self, platform: str, after: datetime) -> datetime | None: ...
    async def outbox_by_message(self, platform: str, message_id: str) -> OutboxRow | None: ...
    async def outbox_depth(self) -> dict[tuple[str, int], int]: ...
    async def outbox_for(self, purpose: str, ref: int) -> list[OutboxRow]: ...
    async def outbox_for_each(self, purposes: Sequence[str], ref: int) -> list[OutboxRow]: ...
    async def outbox_for_refs(
        self, purposes: Sequence[str], refs: Sequence[int]
    ) -> dict[int, list[OutboxRow]]:
        """`outbox_for_each` of each reference, in one read (none without rows)."""
        ...

    async def outbox_row(self, outbox_id: int) -> OutboxRow | None: ...
    async def pending_inbound(self, limit: int) -> list[tuple[int, dict[str, Any]]]: ...
    async def purge_inbox(self, before: datetime) -> int: ...
    async def take_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        """Of these rows, the ones still pending and due, leased to this instance until
        `lease_until` (another instance will not send them meanwhile; if this one dies,
        they are sent again after the lease: at least once, never lost). A leased row is
        not cancelled by an edit, whichever instance makes it: the edit follows it."""
        ...

    async def sendable(
        self, platform: str, now: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OutboxRow]: ...
    async def store_inbound(
        self, platform: str, event_id: str, payload: dict[str, Any], now: datetime
    ) -> bool: ...
    async def store_inbound_many(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        """`store_inbound` of each (platform, event id, payload), in this order, in one
        write: for each, True when it was stored, False when that platform's event id
        was seen before (earlier in this batch too)."""
        ...

    # -- needs ---------------------------------------------------------------

    async def claim_need(self, need_id: int, by: PersonId, now: datetime) -> bool: ...
    async def close_need(self, need_id: int, by: PersonId, now: datetime, state: str) -> bool: ...
    async def create_need(
        self,
        person_id: PersonId,
        kind: str,
        text: str,
        team: str,
        created_by: PersonId | None,
        now: datetime,
    ) -> int: ...
    async def need(self, need_id: int) -> Need | None: ...
    async def need_history(
        self, need_id: int, now: datetime, actor: PersonId | None, action: str, detail: str = ""
    ) -> None: ...
    async def needs_export_rows(self) -> list[dict[str, Any]]: ...

    # -- web console: accounts, failed logins, one-time login links ------------

    async def add_web_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        grids: Sequence[str],
        person_id: PersonId | None,
        language: str,
        now: datetime,
    ) -> int: ...
    async def web_user(self, username: str) -> WebUser | None: ...
    async def web_user_by_id(self, user_id: int) -> WebUser | None: ...
    async def web_user_of_person(self, person_id: PersonId) -> WebUser | None: ...
    async def web_users(self) -> list[WebUser]: ...
    async def count_web_users(self, role: str | None = None) -> int:
        """Accounts of `role` that are active; with no role, every account ever made."""
        ...

    async def set_web_password(self, user_id: int, password_hash: str) -> None: ...
    async def set_web_user_active(self, user_id: int, active: bool) -> None: ...
    async def add_login_failure(self, username: str, address: str, now: datetime) -> None: ...
    async def login_failure_times(
        self, username: str, address: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        """Failed logins since `since`: (for this account, from this address)."""
        ...

    async def clear_login_failures(self, username: str) -> None: ...
    async def add_login_link(
        self, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None: ...
    async def spend_login_link(self, token_hash: str, now: datetime) -> int | None:
        """The account a login link is for, once, if it has not expired."""
        ...

    # -- web console: what its pages read ------------------------------------

    async def resident_rows(
        self, grids: Sequence[str] | None, platforms: Sequence[str] = ()
    ) -> list[ResidentRow]: ...
    async def checkin_days(self, person_id: PersonId, since: datetime) -> list[CheckinDay]: ...
    async def audit_entries(self, subject: str) -> list[AuditEntry]: ...
    async def attempts_of(
        self, outbox_ids: Sequence[OutboxId]
    ) -> dict[OutboxId, list[DeliveryAttempt]]: ...
    async def timers_of(self, ref: int, kind: str) -> list[Timer]: ...
    async def needs_in(self, grids: Sequence[str] | None, closed_since: datetime) -> list[Need]: ...
    async def ack_times(self, grids: Sequence[str] | None, since: datetime) -> list[AckTime]: ...
    async def set_deactivated(self, person_id: PersonId, when: datetime | None) -> None: ...
    async def deactivated_people(self) -> set[PersonId]: ...

    # -- the daily summary, early warning, the outage guard ------------------

    async def checkin_facts(
        self, since: datetime, until: datetime, grids: Sequence[str] | None
    ) -> list[CheckinFact]:
        """Check-ins due in [since, until) of active residents (of `grids`; None: all),
        by resident and due time."""
        ...

    async def contact_facts(self, grids: Sequence[str] | None) -> list[ContactFact]:
        """Every active resident (of `grids`; None: all) with their risk tier and
        their last answer."""
        ...

    async def prompt_counts(self, since: datetime) -> list[PromptCounts]:
        """Check-in prompts written since `since`, per platform."""
        ...

    async def platform_delivery(self, platform: str, since: datetime) -> PlatformDelivery: ...


class Store(Protocol):
    """One database: transactions, and deliveries noted outside them."""

    # Whether other instances may use this database at the same time (PostgreSQL):
    # then outbox rows are taken before sending, and each platform's receiving loop
    # and sender run where its named lock is held.
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def read(self) -> AbstractAsyncContextManager[Tx]: ...

    def record_sent(self, outbox_id: OutboxId, message_id: str, now: datetime) -> None: ...

    async def append_inbound(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        """`Tx.store_inbound_many`, committed when it returns. Storing an event decides
        nothing, so it need not wait for a transaction in progress (PostgreSQL: it does
        not, and a page of answers is stored while the one before it is handled); calls
        are stored one after the other, in the order they were made."""
        ...

    async def lease_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        """`Tx.take_for_sending`, committed when it returns, without waiting for a
        transaction in progress (the rows are taken with a lock the others skip)."""
        ...

    def sending(self, outbox_id: OutboxId) -> AbstractContextManager[None]:
        """Around a delivery: while the platform has the message in hand, `cancel_pending`
        leaves its row alone (the edit that wanted it cancelled follows it instead)."""
        ...

    async def flush(self) -> None: ...

    async def ping(self) -> bool: ...

    async def schema_version(self) -> int: ...

    async def write_check(self, now: datetime) -> None:
        """One tiny write in its own transaction; raises when the database cannot take it."""
        ...

    async def checkpoint(self) -> None:
        """Housekeeping the database may need (SQLite: empty the WAL)."""
        ...

    async def try_hold(self, name: str) -> bool:
        """Take the named lock unless another instance holds it; True while held. It is
        let go when the holder's process dies (take-over), or by `release`."""
        ...

    async def holding(self, name: str) -> bool: ...

    async def release(self, name: str) -> None: ...

    def watch(self, changed: Callable[[str], None]) -> None:
        """Call `changed(table)` when another instance adds rows to `outbox`, `timers`
        or `inbox`, so this one looks at once instead of at its next poll (and with
        every table after a lost connection to the database, whatever was missed).
        Nothing to do for a database no other instance writes to."""
        ...
