-- The staff side's tables, created at the gateway's start (staff/db.py); every statement
-- is idempotent, so several gateway processes may run it at once.

CREATE TABLE IF NOT EXISTS staff_user (
    username      text PRIMARY KEY,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('agent', 'supervisor', 'agency', 'admin')),
    agency        text,
    display_name  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of each token is stored: a copy of the table signs nobody in.
CREATE TABLE IF NOT EXISTS staff_token (
    token_hash text PRIMARY KEY,
    username   text NOT NULL REFERENCES staff_user (username) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Every staff action: who, when, what, on what.
CREATE TABLE IF NOT EXISTS staff_audit (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    username text,
    action   text NOT NULL,
    target   text,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- A conversation handed to a person, from the handoff until it is released or closed.
CREATE TABLE IF NOT EXISTS handoff_conversation (
    id            text PRIMARY KEY,
    sender        text NOT NULL,            -- "web:<secret>" or "line:<keyed hash of the LINE id>", Rasa's sender id
    channel       text NOT NULL CHECK (channel IN ('web', 'line')),
    status        text NOT NULL CHECK (status IN ('waiting', 'taken', 'closed')),
    agent         text REFERENCES staff_user (username),
    waiting_since timestamptz NOT NULL DEFAULT now(),
    taken_at      timestamptz,
    closed_at     timestamptz,
    outcome       text,
    summary       jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- At most one open handoff per citizen conversation.
CREATE UNIQUE INDEX IF NOT EXISTS handoff_open_sender
    ON handoff_conversation (sender) WHERE status <> 'closed';

-- Everything written while a person holds the conversation (and the bot's transcript copied
-- in at the handoff), masked; agent messages wait here until delivered.
CREATE TABLE IF NOT EXISTS handoff_message (
    id              bigserial PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES handoff_conversation (id) ON DELETE CASCADE,
    author          text NOT NULL CHECK (author IN ('citizen', 'bot', 'agent', 'system')),
    agent           text,
    display_name    text,
    text            text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX IF NOT EXISTS handoff_message_conversation ON handoff_message (conversation_id, id);
-- A system message that marks a change the citizen's page acts on: 'taken', 'released'.
ALTER TABLE handoff_message ADD COLUMN IF NOT EXISTS event text;

-- The LINE id behind a "line:<hash>" sender, for pushing agents' messages: sealed with AES-GCM
-- under a key derived from PII_KEY (gateway/line/recipients.py), kept only while a handoff needs it.
CREATE TABLE IF NOT EXISTS line_recipient (
    sender  text PRIMARY KEY,
    sealed  bytea NOT NULL,                 -- nonce, then the encrypted id bound to `sender`
    seen_at timestamptz NOT NULL DEFAULT now()
);

-- Out of hours: a citizen's request to be called back, given with consent.
CREATE TABLE IF NOT EXISTS callback_request (
    id         bigserial PRIMARY KEY,
    sender     text NOT NULL,
    channel    text NOT NULL,
    name       text NOT NULL,
    phone      text NOT NULL,               -- E.164; the one personal detail kept, for the call
    note       text NOT NULL DEFAULT '',    -- masked
    summary    jsonb NOT NULL DEFAULT '{}'::jsonb,
    consent_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    status     text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'taken', 'done')),
    agent      text,
    done_at    timestamptz,
    outcome    text
);
