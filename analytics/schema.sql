-- Analytics tables in the staff database, created by the analytics consumer and by the gateway's
-- analytics API (analytics/store.py); every statement is idempotent.

-- One row per turn: a citizen's message and what the bot's reply was (its envelope). The key is
-- natural, the conversation and the user event's timestamp as Rasa stored it, so a repeated
-- event or a reconciliation writes the same row again instead of another one.
CREATE TABLE IF NOT EXISTS analytics_turn (
    conversation  text NOT NULL,              -- sha256 of Rasa's sender id (analytics/turns.py)
    user_ts       double precision NOT NULL,  -- the user event's timestamp (seconds since 1970)
    at            timestamptz NOT NULL,
    session_start double precision,           -- the Rasa session: a conversation is one session
    channel       text NOT NULL,
    kind          text NOT NULL,              -- the envelope's kind, or 'unknown'
    intent        text,
    service_id    text,
    topic         text,
    confidence    double precision,
    handoff       boolean NOT NULL DEFAULT false,
    feedback      text CHECK (feedback IN ('helpful', 'unhelpful')),
    latency_ms    integer,
    text          text,                       -- masked; cleared after ANALYTICS_RETENTION_DAYS
    text_hash     text,
    message_id    text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation, user_ts)
);
CREATE INDEX IF NOT EXISTS analytics_turn_at ON analytics_turn (at);

-- e5 embeddings of unanswered questions' texts, made once per text (by the consumer in the
-- background, or by the API for one it has not reached yet); removed with the texts.
CREATE TABLE IF NOT EXISTS analytics_embedding (
    text_hash  text PRIMARY KEY,
    vector     real[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
