-- Candidate models (staff/candidates/, docs/agency.md): the examples agencies add, the candidates
-- they start, the job queue, and the regression set's growth. Applied by the gateway and the
-- worker at start; every statement is idempotent.

CREATE TABLE IF NOT EXISTS model_candidate (
    id            text PRIMARY KEY,
    agency        text,                       -- the agency whose services it changes (null: admin, several)
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'training', 'testing', 'passed', 'failed', 'deployed')),
    progress      double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    step          text NOT NULL DEFAULT 'queued',
    report        jsonb NOT NULL DEFAULT '{}'::jsonb,
    faq_entries   jsonb NOT NULL DEFAULT '[]'::jsonb,
    base_model_id text,                       -- the live model it was trained and gated against
    model_id      text,
    model_path    text,
    data_dir      text,
    attempts      integer NOT NULL DEFAULT 0, -- jobs started (a worker that died leaves it to another)
    started_at    timestamptz,
    finished_at   timestamptz,
    deployed_at   timestamptz,
    deployed_by   text,
    error         text
);
CREATE INDEX IF NOT EXISTS model_candidate_created ON model_candidate (created_at DESC);

-- Example questions as agencies submit them; accepted (part of every later candidate) once their
-- candidate is deployed.
CREATE TABLE IF NOT EXISTS candidate_example (
    id           bigserial PRIMARY KEY,
    candidate_id text NOT NULL REFERENCES model_candidate (id) ON DELETE CASCADE,
    agency       text,
    service_id   text NOT NULL,
    topic        text NOT NULL,
    text         text NOT NULL,
    accepted_at  timestamptz
);
CREATE INDEX IF NOT EXISTS candidate_example_candidate ON candidate_example (candidate_id);
CREATE INDEX IF NOT EXISTS candidate_example_accepted ON candidate_example (accepted_at) WHERE accepted_at IS NOT NULL;

-- The queue: one row per candidate to train. A worker keeps its row locked (SELECT ... FOR UPDATE
-- SKIP LOCKED) for the whole job and deletes it at the end, so a job whose worker died is taken
-- up again by the next worker, and two workers never take the same one.
CREATE TABLE IF NOT EXISTS candidate_job (
    candidate_id text PRIMARY KEY REFERENCES model_candidate (id) ON DELETE CASCADE,
    queued_at    timestamptz NOT NULL DEFAULT now()
);

-- The regression set grows with every deployed candidate: its examples become questions the next
-- candidates must keep answering (the frozen part is regression/*.yml; staff.candidates.export
-- writes these there).
CREATE TABLE IF NOT EXISTS regression_question (
    id           bigserial PRIMARY KEY,
    agency       text NOT NULL,
    service_id   text NOT NULL,
    topic        text NOT NULL,
    text         text NOT NULL,
    candidate_id text REFERENCES model_candidate (id) ON DELETE SET NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (service_id, text)
);
