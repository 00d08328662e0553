-- Imports sent over HTTP run as jobs (kind 'import'). The upload is kept here until its job has
-- read it all: the bytes in chunks, and the checkpoint of the rows already committed
-- (records_done, with the counts so far), written in the same transaction as each batch of rows,
-- so an import whose node died resumes after its last committed batch.
CREATE TABLE imports (
  id uuid PRIMARY KEY,
  domain text NOT NULL,
  format text NOT NULL CHECK (format IN ('json', 'jsonl', 'txt')),
  filename text NOT NULL,
  size bigint NOT NULL DEFAULT 0,
  records integer NOT NULL DEFAULT 0,
  job_id uuid,
  records_done integer NOT NULL DEFAULT 0,
  summary jsonb NOT NULL DEFAULT '{}',
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_created ON imports (created_at);

CREATE TABLE import_chunks (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  n integer NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (import_id, n)
);
