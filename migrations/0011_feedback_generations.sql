-- Feedback generations: what keeps a cached answer from being served after a vote that changes it, on
-- every node, whether or not the node heard the vote's broadcast. A query's ranking reads the votes
-- cast for queries sharing a content term with it, or for the same query (knowledge/store.ts
-- votesFor). Each term, and each whole query, falls in one of 1,024 buckets (knowledge/feedback.ts
-- feedbackBuckets); a vote that moves its example raises the generation of its query's buckets, and a
-- cached answer is keyed by the sum of its query's bucket generations (L1) or kept with it (L2). Nodes
-- keep the generations in memory and read them again within KNOWLEDGE_VERSION_CHECK_MS. A bucket
-- without a row is at generation 0.
CREATE TABLE knowledge_feedback_generation (
  bucket integer PRIMARY KEY CHECK (bucket >= 0),
  generation bigint NOT NULL
);

-- Raises the generation of each of `buckets` by one, taking them in order (two votes sharing buckets
-- cannot deadlock), and returns their generations now.
CREATE FUNCTION raise_feedback_generations(buckets integer[]) RETURNS SETOF knowledge_feedback_generation
LANGUAGE sql AS $$
  INSERT INTO knowledge_feedback_generation AS g (bucket, generation)
    SELECT DISTINCT b, 1 FROM unnest(buckets) AS b ORDER BY b
  ON CONFLICT (bucket) DO UPDATE SET generation = g.generation + 1
  RETURNING g.*
$$;

-- The buckets a vote raised in its own transaction: its query's, when the service found that the vote
-- moves its example (empty otherwise: a vote that moves nothing keeps the cached answers).
ALTER TABLE feedback ADD COLUMN raised_buckets integer[] NOT NULL DEFAULT '{}';

CREATE FUNCTION feedback_raise_generations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM raise_feedback_generations(NEW.raised_buckets);
  RETURN NULL;
END $$;

-- After the vote's row, in its transaction: whoever reads the raised generations reads the vote too.
CREATE TRIGGER feedback_raise_generations AFTER INSERT ON feedback
  FOR EACH ROW WHEN (cardinality(NEW.raised_buckets) > 0) EXECUTE FUNCTION feedback_raise_generations();

-- The sum of its query's bucket generations when the answer was made (read before its votes were).
-- Rows kept before this migration were made at generation 0, which is where every bucket starts.
ALTER TABLE knowledge_cache ADD COLUMN feedback_generation bigint NOT NULL DEFAULT 0;
