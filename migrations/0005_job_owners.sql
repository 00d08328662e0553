-- Jobs have owners: the caller that submitted one ("key:<id of its API key>" or "anon:<hash of its
-- owner token>"). Jobs from before owners, and those submitted from inside the cluster (the REPL),
-- belong to '' : only admin keys see them.
ALTER TABLE jobs ADD COLUMN owner text NOT NULL DEFAULT '';
CREATE INDEX jobs_owner ON jobs (owner, seq);
-- The per-owner cap counts an owner's waiting and running jobs.
CREATE INDEX jobs_owner_waiting ON jobs (owner) WHERE status IN ('queued', 'processing');
-- The results budget drops the oldest artifacts first.
CREATE INDEX artifacts_created ON artifacts (created_at);
-- Fair claiming looks at whom the workers served in the last hour.
CREATE INDEX jobs_started ON jobs (started_at) WHERE started_at IS NOT NULL;
