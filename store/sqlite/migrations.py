"""Versioned, forward-only schema migrations. Add a step; never edit an old one."""

from __future__ import annotations

SCHEMA_V1 = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    grid TEXT NOT NULL DEFAULT '',
    building TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'zh',
    timezone TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    family_of INTEGER REFERENCES people(id),
    active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE INDEX people_round ON people(plan, timezone) WHERE role = 'resident';
CREATE INDEX people_grid ON people(grid, role);
CREATE INDEX people_family ON people(family_of);

-- How to reach a person: `address` names them on the platform, `chat` is where to send.
CREATE TABLE identities (
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    address TEXT NOT NULL,
    chat TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, address)
);
CREATE INDEX identities_person ON identities(person_id);
CREATE INDEX identities_chat ON identities(chat);

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    person_id INTEGER REFERENCES people(id),
    team TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    used_by TEXT
);

CREATE TABLE team_chats (
    team TEXT NOT NULL,
    chat TEXT NOT NULL,
    PRIMARY KEY (team, chat)
);

CREATE TABLE checkins (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    plan TEXT NOT NULL,
    due_at REAL NOT NULL,
    sent_at REAL NOT NULL,
    deadline REAL NOT NULL,
    state TEXT NOT NULL,
    answered_at REAL,
    answer TEXT NOT NULL DEFAULT '',
    reminders_sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (person_id, due_at)
);
CREATE INDEX checkins_open ON checkins(person_id, state);
CREATE INDEX checkins_day ON checkins(due_at);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    checkin_id INTEGER REFERENCES checkins(id),
    reason TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    opened_at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    acked_by INTEGER REFERENCES people(id),
    acked_at REAL,
    resolved_by INTEGER REFERENCES people(id),
    resolved_at REAL,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_person ON alerts(person_id, state);
CREATE INDEX alerts_state ON alerts(state);

-- Who was told about an alert, and by which message: for edits and stand-downs.
CREATE TABLE alert_notifications (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    person_id INTEGER REFERENCES people(id),
    outbox_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    role TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX alert_notifications_alert ON alert_notifications(alert_id);

-- Every deadline is a row, written with the change that creates it.
CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    due_at REAL NOT NULL,
    kind TEXT NOT NULL,
    ref INTEGER NOT NULL DEFAULT 0,
    arg TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX timers_due ON timers(due_at);
CREATE INDEX timers_ref ON timers(ref, kind);

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    payload TEXT NOT NULL,
    handled_at REAL,
    error TEXT,
    UNIQUE (platform, event_id)
);
CREATE INDEX inbox_pending ON inbox(id) WHERE handled_at IS NULL;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    person_id INTEGER,
    priority INTEGER NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    ref INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    edit_of INTEGER REFERENCES outbox(id),
    state TEXT NOT NULL DEFAULT 'pending',
    not_before REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    sent_at REAL,
    platform_message_id TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox(platform, priority, id) WHERE state = 'pending';
CREATE INDEX outbox_message ON outbox(platform, platform_message_id);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),
    at REAL NOT NULL,
    ok INTEGER NOT NULL,
    permanent INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts(outbox_id);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    actor INTEGER,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_subject ON audit(subject);

CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Answering a check-in finds the prompts sent for it (`outbox_for`); without this
# index that was a scan of the whole outbox, which grows by every message sent.
V2_OUTBOX_BY_REF = """
CREATE INDEX outbox_ref ON outbox(ref, purpose);
"""

V3_NEEDS = """
CREATE TABLE needs (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    created_by INTEGER REFERENCES people(id),
    created_at REAL NOT NULL,
    claimed_by INTEGER REFERENCES people(id),
    claimed_at REAL,
    closed_by INTEGER REFERENCES people(id),
    closed_at REAL
);
CREATE INDEX needs_state ON needs(state);
CREATE TABLE need_events (
    id INTEGER PRIMARY KEY,
    need_id INTEGER NOT NULL REFERENCES needs(id),
    at REAL NOT NULL,
    actor INTEGER,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX need_events_need ON need_events(need_id);
"""

# What residents said (with what it was taken to mean), notes on alerts, and how many
# rounds in a row an alert's resident has missed.
V4_HISTORY = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    intent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX messages_person ON messages(person_id, at);
CREATE TABLE alert_notes (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    person_id INTEGER REFERENCES people(id),
    at REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX alert_notes_alert ON alert_notes(alert_id);
ALTER TABLE alerts ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;
-- Rounds started by hand skip whoever was asked already: by time, or still open.
CREATE INDEX checkins_sent ON checkins(sent_at);
CREATE INDEX checkins_pending ON checkins(state) WHERE state IN ('sent', 'reminded');
"""

# Updates a platform sent that could not be read: kept for an operator, counted in
# /metrics, and no longer retried forever. `ref` is the platform's id for the update
# (when it had a readable one), so a page fetched twice keeps one copy.
V5_DEAD_LETTERS = """
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    raw TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE UNIQUE INDEX dead_letters_ref ON dead_letters(platform, ref) WHERE ref != '';
"""

# The web console: accounts (argon2id hashes; `generation` ends older sessions), the
# grids an account may see, failed logins (for throttling), one-time login links sent
# by the `/web` chat command (only a hash of the token is kept), and people who left
# (`deactivated_at`: kept with their history, no longer asked or listed).
V6_WEB_CONSOLE = """
CREATE TABLE web_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    person_id INTEGER REFERENCES people(id),
    language TEXT NOT NULL DEFAULT 'zh',
    active INTEGER NOT NULL DEFAULT 1,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX web_users_person ON web_users(person_id);
CREATE TABLE web_user_grids (
    user_id INTEGER NOT NULL REFERENCES web_users(id),
    grid TEXT NOT NULL,
    PRIMARY KEY (user_id, grid)
);
CREATE TABLE web_login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX web_login_failures_user ON web_login_failures(username, at);
CREATE INDEX web_login_failures_address ON web_login_failures(address, at);
CREATE TABLE web_login_links (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES web_users(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
ALTER TABLE people ADD COLUMN deactivated_at REAL;
"""

# Version 7 wakes other instances sharing a PostgreSQL database; a SQLite file has one
# process, which wakes itself. Kept so both stores count versions alike.
V7_WAKE_OTHERS = """
-- nothing to do on SQLite
"""

# Care beyond the daily tap: how each resident is checked on (`contact`: chat or phone,
# and their `caller`), who covers for an absent responder (`deputy`), time away
# (`absences`), calls and visits made for a resident (`contacts`: with their own
# answers, the last human contact), and each phone call of a call task.
V8_AWAY_AND_CALLS = """
ALTER TABLE people ADD COLUMN contact TEXT NOT NULL DEFAULT 'chat';
ALTER TABLE people ADD COLUMN caller_id INTEGER REFERENCES people(id);
ALTER TABLE people ADD COLUMN deputy_id INTEGER REFERENCES people(id);
CREATE TABLE absences (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    starts_at REAL NOT NULL,
    until_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    set_by INTEGER REFERENCES people(id),
    ended_at REAL
);
CREATE INDEX absences_person ON absences(person_id, until_at);
CREATE INDEX absences_open ON absences(until_at) WHERE ended_at IS NULL;
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    by_id INTEGER REFERENCES people(id),
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_person ON contacts(person_id, at);
CREATE TABLE call_attempts (
    id INTEGER PRIMARY KEY,
    checkin_id INTEGER NOT NULL REFERENCES checkins(id),
    caller_id INTEGER REFERENCES people(id),
    at REAL NOT NULL,
    outcome TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX call_attempts_checkin ON call_attempts(checkin_id);
CREATE INDEX call_attempts_at ON call_attempts(at);
"""

# A family contact's relation to their resident, shown on alerts beside name and phone.
V9_FAMILY_RELATION = """
ALTER TABLE people ADD COLUMN relation TEXT NOT NULL DEFAULT '';
"""

# Each resident's risk tier (high, key, general; '' is general) for the early-warning
# rule on human contact; the summary finds a late answer through its check-in's alert.
V10_RISK = """
ALTER TABLE people ADD COLUMN risk TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_checkin ON alerts(checkin_id);
"""

# Privacy: what each person agreed to (a resident's consent at enrollment, with the
# version of the text they were shown; a family contact's or volunteer's yes or no to
# hearing about one resident, `about`, 0 for "the residents of my grid"); message texts
# reduced to their classification by retention (`reduced`); people erased on request
# (`forgotten_at`: the row stays, anonymous, so counts still add up). The indexes on
# times are for the daily retention job.
V11_PRIVACY = """
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    about INTEGER NOT NULL DEFAULT 0,
    decision TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consents_person ON consents(person_id, about, id);
ALTER TABLE messages ADD COLUMN reduced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN forgotten_at REAL;
CREATE INDEX messages_at ON messages(at);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX outbox_created ON outbox(created_at);
"""

# A row taken for sending by an instance of a shared database (take_for_sending) is
# leased until this time; cancel_pending leaves leased rows alone, a retry ends the
# lease. Kept here too so that both schemas stay the same (`carecheck db copy`).
V12_SEND_LEASE = """
ALTER TABLE outbox ADD COLUMN leased_until REAL;
"""

# Each entry upgrades from version N to N+1. Never edit a shipped step: add a new one.
MIGRATIONS: list[str] = [
    SCHEMA_V1,
    V2_OUTBOX_BY_REF,
    V3_NEEDS,
    V4_HISTORY,
    V5_DEAD_LETTERS,
    V6_WEB_CONSOLE,
    V7_WAKE_OTHERS,
    V8_AWAY_AND_CALLS,
    V9_FAMILY_RELATION,
    V10_RISK,
    V11_PRIVACY,
    V12_SEND_LEASE,
]

LATEST = len(MIGRATIONS)
