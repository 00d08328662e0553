-- feedback: a user's vote on an answer of knowledge.query (issue 14). `query` is the normalized query,
-- `query_terms` its distinct content terms (stemmed, no stop words), by which votes on close queries
-- are found. `example_id` is the example the vote is about (the one named, else the answer's top
-- match); `example_ids` are the matches the answer showed. No foreign key to examples: a vote stays
-- when its example is archived or removed (it then ranks nothing). `client_key` is `key:<key id>` for
-- an API key, else `ip:<keyed hash of the address>`: never the raw address.
CREATE TABLE feedback (
  id bigserial PRIMARY KEY,
  query text NOT NULL,
  query_terms text[] NOT NULL,
  dataset_version bigint NOT NULL,
  answer_id text,
  example_id bigint,
  example_ids bigint[] NOT NULL DEFAULT '{}',
  helpful boolean NOT NULL,
  comment text CHECK (char_length(comment) <= 2000),
  client_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Ranking reads the votes on the examples of one answer (a handful of ids: the selective part), then
-- keeps those whose terms overlap the query's.
CREATE INDEX feedback_example_id ON feedback (example_id);
-- The admin list filters on helpful and pages by id.
CREATE INDEX feedback_helpful_id ON feedback (helpful, id);

-- The L2 cache keeps the query's terms too, so that a vote can invalidate the cached answers of
-- close queries through the same index kind. Rows written before this migration have none; they
-- are matched by their exact normalized query and go by their TTL.
ALTER TABLE knowledge_cache ADD COLUMN query_terms text[];
CREATE INDEX knowledge_cache_query_terms ON knowledge_cache USING gin (query_terms);

-- A decline (source 'none') is cached like any answer, but 0004's check refused it in L2, so a decline
-- was kept in L1 only and its answer_id could not be found again: the check now takes it.
ALTER TABLE knowledge_cache DROP CONSTRAINT knowledge_cache_source_check;
ALTER TABLE knowledge_cache ADD CONSTRAINT knowledge_cache_source_check CHECK (source IN ('dataset', 'llm', 'none'));
