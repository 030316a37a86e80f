"""Versioned, forward-only PostgreSQL schema migrations. Add a step; never edit an old one.

Step N reaches the same logical schema as step N of the SQLite store
(store/sqlite/migrations.py): the same tables, columns and indexes, so that a
database can be copied from one to the other and both report the same schema version.
Ids are BIGINT (BIGSERIAL where SQLite has INTEGER PRIMARY KEY); times are epoch
seconds in DOUBLE PRECISION, as SQLite's REAL; flags stay INTEGER 0/1.

Differences, all deliberate:
- alert_notifications gets `id BIGSERIAL`: SQLite orders its copies by the implicit
  rowid, which PostgreSQL does not have.
- people.grid sorts by code point (COLLATE "C"), as SQLite sorts text, whatever the
  database's locale.
- Foreign keys are DEFERRABLE (checked at once all the same): copying a database in
  can then defer them while rows arrive in any order.
"""

from __future__ import annotations

# The PostgreSQL translation of SQLite's SCHEMA_V1.
SCHEMA_V1 = """
CREATE TABLE people (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    grid TEXT COLLATE "C" NOT NULL DEFAULT '',
    building TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'zh',
    timezone TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    family_of BIGINT REFERENCES people(id) DEFERRABLE,
    active INTEGER NOT NULL DEFAULT 1,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX people_round ON people(plan, timezone) WHERE role = 'resident';
CREATE INDEX people_grid ON people(grid, role);
CREATE INDEX people_family ON people(family_of);

CREATE TABLE identities (
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE DEFERRABLE,
    platform TEXT NOT NULL,
    address TEXT NOT NULL,
    chat TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (platform, address)
);
CREATE INDEX identities_person ON identities(person_id);
CREATE INDEX identities_chat ON identities(chat);

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    person_id BIGINT REFERENCES people(id) DEFERRABLE,
    team TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION,
    used_by TEXT
);

CREATE TABLE team_chats (
    team TEXT NOT NULL,
    chat TEXT NOT NULL,
    PRIMARY KEY (team, chat)
);

CREATE TABLE checkins (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    plan TEXT NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION NOT NULL,
    deadline DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    answered_at DOUBLE PRECISION,
    answer TEXT NOT NULL DEFAULT '',
    reminders_sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (person_id, due_at)
);
CREATE INDEX checkins_open ON checkins(person_id, state);
CREATE INDEX checkins_day ON checkins(due_at);

CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    checkin_id BIGINT REFERENCES checkins(id) DEFERRABLE,
    reason TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    opened_at DOUBLE PRECISION NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    acked_by BIGINT REFERENCES people(id) DEFERRABLE,
    acked_at DOUBLE PRECISION,
    resolved_by BIGINT REFERENCES people(id) DEFERRABLE,
    resolved_at DOUBLE PRECISION,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_person ON alerts(person_id, state);
CREATE INDEX alerts_state ON alerts(state);

CREATE TABLE alert_notifications (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts(id) DEFERRABLE,
    person_id BIGINT REFERENCES people(id) DEFERRABLE,
    outbox_id BIGINT NOT NULL,
    step INTEGER NOT NULL,
    role TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX alert_notifications_alert ON alert_notifications(alert_id);

CREATE TABLE timers (
    id BIGSERIAL PRIMARY KEY,
    due_at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    ref BIGINT NOT NULL DEFAULT 0,
    arg TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX timers_due ON timers(due_at);
CREATE INDEX timers_ref ON timers(ref, kind);

CREATE TABLE inbox (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    payload TEXT NOT NULL,
    handled_at DOUBLE PRECISION,
    error TEXT,
    UNIQUE (platform, event_id)
);
CREATE INDEX inbox_pending ON inbox(id) WHERE handled_at IS NULL;

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    person_id BIGINT,
    priority INTEGER NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    ref BIGINT NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    edit_of BIGINT REFERENCES outbox(id) DEFERRABLE,
    state TEXT NOT NULL DEFAULT 'pending',
    not_before DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION,
    platform_message_id TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox(platform, priority, id) WHERE state = 'pending';
CREATE INDEX outbox_message ON outbox(platform, platform_message_id);

CREATE TABLE delivery_attempts (
    id BIGSERIAL PRIMARY KEY,
    outbox_id BIGINT NOT NULL REFERENCES outbox(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
    ok INTEGER NOT NULL,
    permanent INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts(outbox_id);

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    actor BIGINT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_subject ON audit(subject);

CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

V2_OUTBOX_BY_REF = """
CREATE INDEX outbox_ref ON outbox(ref, purpose);
"""

V3_NEEDS = """
CREATE TABLE needs (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    created_by BIGINT REFERENCES people(id) DEFERRABLE,
    created_at DOUBLE PRECISION NOT NULL,
    claimed_by BIGINT REFERENCES people(id) DEFERRABLE,
    claimed_at DOUBLE PRECISION,
    closed_by BIGINT REFERENCES people(id) DEFERRABLE,
    closed_at DOUBLE PRECISION
);
CREATE INDEX needs_state ON needs(state);
CREATE TABLE need_events (
    id BIGSERIAL PRIMARY KEY,
    need_id BIGINT NOT NULL REFERENCES needs(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
    actor BIGINT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX need_events_need ON need_events(need_id);
"""

V4_HISTORY = """
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    intent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX messages_person ON messages(person_id, at);
CREATE TABLE alert_notes (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts(id) DEFERRABLE,
    person_id BIGINT REFERENCES people(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX alert_notes_alert ON alert_notes(alert_id);
ALTER TABLE alerts ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;
CREATE INDEX checkins_sent ON checkins(sent_at);
CREATE INDEX checkins_pending ON checkins(state) WHERE state IN ('sent', 'reminded');
"""

V5_DEAD_LETTERS = """
CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    raw TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX dead_letters_ref ON dead_letters(platform, ref) WHERE ref != '';
"""

V6_WEB_CONSOLE = """
CREATE TABLE web_users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    person_id BIGINT REFERENCES people(id) DEFERRABLE,
    language TEXT NOT NULL DEFAULT 'zh',
    active INTEGER NOT NULL DEFAULT 1,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX web_users_person ON web_users(person_id);
CREATE TABLE web_user_grids (
    user_id BIGINT NOT NULL REFERENCES web_users(id) DEFERRABLE,
    grid TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, grid)
);
CREATE TABLE web_login_failures (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX web_login_failures_user ON web_login_failures(username, at);
CREATE INDEX web_login_failures_address ON web_login_failures(address, at);
CREATE TABLE web_login_links (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES web_users(id) DEFERRABLE,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION
);
ALTER TABLE people ADD COLUMN deactivated_at DOUBLE PRECISION;
"""

# Instances sharing the database wake each other: a statement that adds messages to
# send, deadlines or inbound events notifies every listening instance (one notification
# per table per transaction; the payload names the table and the writer's
# application_name, so an instance can ignore its own). See PgStore.watch.
V7_WAKE_OTHERS = """
CREATE FUNCTION carecheck_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carecheck_wake',
                      TG_TABLE_NAME || ' ' || current_setting('application_name'));
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION carecheck_wake();
CREATE TRIGGER timers_wake AFTER INSERT ON timers
    FOR EACH STATEMENT EXECUTE FUNCTION carecheck_wake();
CREATE TRIGGER inbox_wake AFTER INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION carecheck_wake();
"""

# Care beyond the daily tap: how each resident is checked on (`contact`: chat or phone,
# and their `caller`), who covers for an absent responder (`deputy`), time away
# (`absences`), calls and visits made for a resident (`contacts`: with their own
# answers, the last human contact), and each phone call of a call task.
V8_AWAY_AND_CALLS = """
ALTER TABLE people ADD COLUMN contact TEXT NOT NULL DEFAULT 'chat';
ALTER TABLE people ADD COLUMN caller_id BIGINT REFERENCES people(id) DEFERRABLE;
ALTER TABLE people ADD COLUMN deputy_id BIGINT REFERENCES people(id) DEFERRABLE;
CREATE TABLE absences (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    starts_at DOUBLE PRECISION NOT NULL,
    until_at DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    set_by BIGINT REFERENCES people(id) DEFERRABLE,
    ended_at DOUBLE PRECISION
);
CREATE INDEX absences_person ON absences(person_id, until_at);
CREATE INDEX absences_open ON absences(until_at) WHERE ended_at IS NULL;
CREATE TABLE contacts (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    by_id BIGINT REFERENCES people(id) DEFERRABLE,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_person ON contacts(person_id, at);
CREATE TABLE call_attempts (
    id BIGSERIAL PRIMARY KEY,
    checkin_id BIGINT NOT NULL REFERENCES checkins(id) DEFERRABLE,
    caller_id BIGINT REFERENCES people(id) DEFERRABLE,
    at DOUBLE PRECISION NOT NULL,
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

# Consent, retention and erasure (SQLite's V11_PRIVACY).
V11_PRIVACY = """
CREATE TABLE consents (
    id BIGSERIAL PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) DEFERRABLE,
    about BIGINT NOT NULL DEFAULT 0,
    decision TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consents_person ON consents(person_id, about, id);
ALTER TABLE messages ADD COLUMN reduced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN forgotten_at DOUBLE PRECISION;
CREATE INDEX messages_at ON messages(at);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX outbox_created ON outbox(created_at);
"""

# A row taken for sending by an instance (take_for_sending) is leased until this time:
# an edit made by any instance then follows the message instead of cancelling its row
# (cancel_pending leaves leased rows alone). A retry ends the lease.
V12_SEND_LEASE = """
ALTER TABLE outbox ADD COLUMN leased_until DOUBLE PRECISION;
"""

# Each entry upgrades from version N to N+1, in step with the SQLite list.
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

# Where the version lives (SQLite keeps it in PRAGMA user_version).
VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version INTEGER NOT NULL
)
"""
