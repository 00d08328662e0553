-- BM25 postings of a whole import built once, at its end, instead of by every batch's statement.
--
-- A transaction that sets `mcai.bm25_defer` to 'on' (set_config(…, true): that transaction only)
-- has the INSERT trigger of 0006 note the rows each statement adds in bm25_pending,
-- instead of writing their terms and postings. bm25_flush() then writes them for all the noted rows
-- in one statement: each term is upserted once for the import (not once per batch) and the
-- postings go in as one sorted run. The statistics stay exact in the transaction of the rows:
-- - the importer calls bm25_flush() before it commits;
-- - a DELETE or UPDATE of examples flushes before it changes a row (a BEFORE statement trigger:
--   the rows it removes may be among the noted ones, and must be counted before they go);
-- - a constraint trigger flushes at commit whatever is still noted, so a transaction that forgot
--   cannot commit rows without their statistics;
-- - a rollback takes the noted ids with the rows.
-- Transactions that do not set it (an add, a job's batch, a hand-written INSERT) are as in 0006.

-- One row per deferred INSERT statement: the rows it added (id, dataset, tsv), so the flush reads
-- them from here rather than from examples (with the embeddings, examples outgrows PGlite's page
-- cache). Rows live only inside the transaction that wrote them (flushed before it commits), so
-- the table needs no WAL.
CREATE UNLOGGED TABLE bm25_pending (
  ids bigint[] NOT NULL,
  dataset_ids bigint[] NOT NULL,
  tsvs tsvector[] NOT NULL
);

-- The INSERT branch of bm25_sync (0006) over the noted rows; the same statement, change both
-- together (test/integration/bm25-import.test.ts compares both with a recount).
CREATE FUNCTION bm25_flush() RETURNS void LANGUAGE plpgsql SET enable_mergejoin = off AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bm25_pending) THEN
    RETURN;
  END IF;
  -- The lock of 0006's triggers, in the same order (see there).
  PERFORM 1 FROM datasets WHERE id IN (SELECT unnest(dataset_ids) FROM bm25_pending) ORDER BY id FOR NO KEY UPDATE;
  WITH noted AS (
    DELETE FROM bm25_pending RETURNING ids, dataset_ids, tsvs
  ), new_rows AS MATERIALIZED (
    SELECT u.id, u.dataset_id, u.tsv FROM noted p, unnest(p.ids, p.dataset_ids, p.tsvs) AS u(id, dataset_id, tsv)
  ), lex AS MATERIALIZED (
    SELECT n.id, n.dataset_id, u.lexeme COLLATE "C" AS lexeme, cardinality(u.positions) AS tf
    FROM new_rows n, unnest(n.tsv) u
  ), lens AS (
    SELECT id, sum(tf)::int AS len FROM lex GROUP BY id
  ), stats AS (
    UPDATE datasets d SET bm25_docs = d.bm25_docs + s.docs, bm25_len = d.bm25_len + s.len
    FROM (
      SELECT n.dataset_id, count(*) AS docs, coalesce(sum(l.len), 0) AS len
      FROM new_rows n LEFT JOIN lens l ON l.id = n.id GROUP BY n.dataset_id
    ) s
    WHERE d.id = s.dataset_id
    RETURNING d.id, d.bm25_len::float8 / greatest(d.bm25_docs, 1) AS avgdl
  ), terms AS (
    INSERT INTO bm25_terms (dataset_id, term, df)
    SELECT dataset_id, lexeme, count(*) FROM lex GROUP BY dataset_id, lexeme ORDER BY dataset_id, lexeme
    ON CONFLICT (dataset_id, term) DO UPDATE SET df = bm25_terms.df + excluded.df
    RETURNING id, dataset_id, term
  )
  INSERT INTO bm25_postings (example_id, term_id, impact, doc_len, tf)
  SELECT x.id, t.id,
    x.tf / (x.tf + 1.2 * (0.6 + 0.4 * l.len / greatest(s.avgdl, 1))),
    l.len, x.tf
  FROM lex x
  JOIN lens l ON l.id = x.id
  JOIN stats s ON s.id = x.dataset_id
  JOIN terms t ON t.dataset_id = x.dataset_id AND t.term = x.lexeme
  ORDER BY t.id, 3 DESC;
END
$$;

CREATE FUNCTION bm25_flush_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM bm25_flush();
  RETURN NULL;
END
$$;
-- At commit, whatever a deferring transaction left noted. One event per deferred statement (a
-- batch), so a large import queues a few thousand at most; after the importer's own flush each
-- finds nothing.
CREATE CONSTRAINT TRIGGER bm25_pending_flush AFTER INSERT ON bm25_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bm25_flush_trigger();
-- Before a DELETE or UPDATE of examples touches a row (an AFTER trigger would no longer find the
-- deleted rows to count them).
CREATE TRIGGER examples_bm25_flush BEFORE DELETE OR UPDATE ON examples
  FOR EACH STATEMENT EXECUTE FUNCTION bm25_flush_trigger();

-- 0006's function with the deferral: its INSERT branch notes the rows when the transaction defers.
-- Otherwise unchanged.
CREATE OR REPLACE FUNCTION bm25_sync() RETURNS trigger LANGUAGE plpgsql SET enable_mergejoin = off AS $$
DECLARE
  emptied bigint[];
BEGIN
  IF TG_OP = 'INSERT' AND current_setting('mcai.bm25_defer', true) = 'on' THEN
    INSERT INTO bm25_pending (ids, dataset_ids, tsvs)
    SELECT array_agg(id), array_agg(dataset_id), array_agg(tsv) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
  END IF;

  -- Writers of one dataset take turns on its row, in id order, so the per-term counters below cannot
  -- deadlock. NO KEY UPDATE is the lock the version bump takes anyway, and unlike FOR UPDATE it does
  -- not conflict with the KEY SHARE lock every writer already holds from the foreign key check of
  -- its inserted rows (two writers upgrading KEY SHARE to FOR UPDATE deadlock).
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM datasets WHERE id IN (SELECT dataset_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM 1 FROM datasets WHERE id IN (SELECT dataset_id FROM old_rows) ORDER BY id FOR NO KEY UPDATE;
  ELSE
    PERFORM 1 FROM datasets
    WHERE id IN (SELECT dataset_id FROM old_rows UNION SELECT dataset_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
  END IF;

  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    WITH gone AS (
      DELETE FROM bm25_postings p USING old_rows o WHERE p.example_id = o.id
      RETURNING p.term_id, p.tf, o.dataset_id
    ), per_dataset AS (
      SELECT o.dataset_id, count(*) AS docs,
        coalesce((SELECT sum(g.tf) FROM gone g WHERE g.dataset_id = o.dataset_id), 0) AS len
      FROM old_rows o GROUP BY o.dataset_id
    ), stats AS (
      UPDATE datasets d SET bm25_docs = d.bm25_docs - s.docs, bm25_len = d.bm25_len - s.len
      FROM per_dataset s WHERE d.id = s.dataset_id
    ), counted AS (
      UPDATE bm25_terms t SET df = t.df - g.n
      FROM (SELECT term_id, count(*) AS n FROM gone GROUP BY term_id) g
      WHERE t.id = g.term_id
      RETURNING t.id, t.df
    )
    SELECT array_agg(id) INTO emptied FROM counted WHERE df = 0;
    IF emptied IS NOT NULL THEN
      DELETE FROM bm25_terms WHERE id = ANY(emptied) AND df = 0;
    END IF;
  END IF;

  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    WITH lex AS MATERIALIZED (
      SELECT n.id, n.dataset_id, u.lexeme COLLATE "C" AS lexeme, cardinality(u.positions) AS tf
      FROM new_rows n, unnest(n.tsv) u
    ), lens AS (
      SELECT id, sum(tf)::int AS len FROM lex GROUP BY id
    ), stats AS (
      UPDATE datasets d SET bm25_docs = d.bm25_docs + s.docs, bm25_len = d.bm25_len + s.len
      FROM (
        SELECT n.dataset_id, count(*) AS docs, coalesce(sum(l.len), 0) AS len
        FROM new_rows n LEFT JOIN lens l ON l.id = n.id GROUP BY n.dataset_id
      ) s
      WHERE d.id = s.dataset_id
      RETURNING d.id, d.bm25_len::float8 / greatest(d.bm25_docs, 1) AS avgdl
    ), terms AS (
      INSERT INTO bm25_terms (dataset_id, term, df)
      SELECT dataset_id, lexeme, count(*) FROM lex GROUP BY dataset_id, lexeme ORDER BY dataset_id, lexeme
      ON CONFLICT (dataset_id, term) DO UPDATE SET df = bm25_terms.df + excluded.df
      RETURNING id, dataset_id, term
    )
    INSERT INTO bm25_postings (example_id, term_id, impact, doc_len, tf)
    SELECT x.id, t.id,
      x.tf / (x.tf + 1.2 * (0.6 + 0.4 * l.len / greatest(s.avgdl, 1))),
      l.len, x.tf
    FROM lex x
    JOIN lens l ON l.id = x.id
    JOIN stats s ON s.id = x.dataset_id
    JOIN terms t ON t.dataset_id = x.dataset_id AND t.term = x.lexeme
    ORDER BY t.id, 3 DESC;
  END IF;
  RETURN NULL;
END
$$;
