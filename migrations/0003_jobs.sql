-- artifacts: result files, content-addressed (id = sha256 of the bytes), so identical bytes are
-- stored once whatever the number of jobs that made them.
CREATE TABLE artifacts (
  id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
  content_type text NOT NULL,
  size integer NOT NULL,
  bytes bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- jobs: the durable queue. Workers claim queued jobs with FOR UPDATE SKIP LOCKED; the node that
-- claimed one keeps heartbeat_at fresh, so a job whose node died goes back to the queue.
-- version increases on every change a client can see (the SSE event id).
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  seq bigserial NOT NULL UNIQUE,
  kind text NOT NULL,
  params jsonb NOT NULL,
  params_hash text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
  progress real NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  timeout_s integer NOT NULL,
  run_after timestamptz NOT NULL DEFAULT now(),
  node_id text,
  heartbeat_at timestamptz,
  idempotency_key text UNIQUE,
  result jsonb,
  error text,
  artifact_id text REFERENCES artifacts(id),
  reused_from uuid,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX jobs_queued ON jobs (run_after, seq) WHERE status = 'queued';
CREATE INDEX jobs_processing ON jobs (node_id) WHERE status = 'processing';
CREATE INDEX jobs_reuse ON jobs (kind, params_hash, finished_at DESC) WHERE status = 'completed';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('completed', 'failed', 'cancelled');
CREATE INDEX jobs_artifact ON jobs (artifact_id) WHERE artifact_id IS NOT NULL;
