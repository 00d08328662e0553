-- Okapi BM25 statistics over the lexemes of examples.tsv (Postgres's `english` configuration), kept
-- exact by statement-level triggers on examples in the transaction that changes the rows: every
-- path that writes examples (import, add, delete, rotation, a hand-written INSERT) goes through them.
--
-- datasets.bm25_docs / bm25_len: documents and the sum of their lengths (a length is the number of
-- positions in tsv: tokens after stop words, each lexeme's positions capped at 256 by tsvector).
ALTER TABLE datasets
  ADD COLUMN bm25_docs bigint NOT NULL DEFAULT 0,
  ADD COLUMN bm25_len bigint NOT NULL DEFAULT 0;

-- One row per (dataset, lexeme) with its document frequency; the id keys the postings. A term
-- goes when its df reaches 0, so the table needs no foreign key: deleting a dataset deletes its
-- examples, whose trigger removes their terms. Lexemes compare bytewise (COLLATE "C": faster, and
-- the order does not matter). fillfactor leaves room on each page for df updates that touch no index.
CREATE TABLE bm25_terms (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dataset_id bigint NOT NULL,
  term text COLLATE "C" NOT NULL,
  df integer NOT NULL,
  UNIQUE (dataset_id, term)
) WITH (fillfactor = 70);

-- One row per (example, lexeme). impact orders a term's postings by their BM25 term weight
-- tf / (tf + k1·(1 − b + b·len/avgdl)) with k1 = 1.2, b = 0.4 and the dataset's avgdl when the row
-- was written: queries read a very common term's best postings first and score them exactly with
-- the configured k1, b and the current avgdl. The primary key serves deletes and exact lookups of
-- (example, term).
CREATE TABLE bm25_postings (
  example_id bigint NOT NULL,
  term_id bigint NOT NULL,
  impact real NOT NULL,
  doc_len integer NOT NULL,
  tf smallint NOT NULL,
  PRIMARY KEY (example_id, term_id)
);
-- A term's list is read from this index alone where the visibility map allows (index-only scans:
-- half the time of fetching each posting's row).
CREATE INDEX bm25_postings_term_impact ON bm25_postings (term_id, impact DESC) INCLUDE (example_id, tf, doc_len);

-- One function for the three triggers: it reads `old_rows` on DELETE and UPDATE, `new_rows` on
-- INSERT and UPDATE (PL/pgSQL plans a statement when it first runs, so the branch not taken never
-- names a transition table its trigger lacks). The planner cannot estimate the transition tables
-- and picks sort-merge joins on lexemes; hash joins are twice as fast here.
CREATE FUNCTION bm25_sync() RETURNS trigger LANGUAGE plpgsql SET enable_mergejoin = off AS $$
DECLARE
  emptied bigint[];
BEGIN
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

CREATE TRIGGER examples_bm25_insert AFTER INSERT ON examples
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bm25_sync();
CREATE TRIGGER examples_bm25_delete AFTER DELETE ON examples
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bm25_sync();
CREATE TRIGGER examples_bm25_update AFTER UPDATE ON examples
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bm25_sync();

-- The rows already there.
INSERT INTO bm25_terms (dataset_id, term, df)
SELECT e.dataset_id, u.lexeme COLLATE "C", count(*) FROM examples e, unnest(e.tsv) u GROUP BY 1, 2;
UPDATE datasets d SET bm25_docs = s.docs, bm25_len = s.len
FROM (
  SELECT e.dataset_id, count(*) AS docs,
    coalesce(sum((SELECT sum(cardinality(u.positions)) FROM unnest(e.tsv) u)), 0) AS len
  FROM examples e GROUP BY e.dataset_id
) s
WHERE d.id = s.dataset_id;
INSERT INTO bm25_postings (example_id, term_id, impact, doc_len, tf)
SELECT x.id, t.id, x.tf / (x.tf + 1.2 * (0.6 + 0.4 * x.len / greatest(d.bm25_len::float8 / greatest(d.bm25_docs, 1), 1))),
  x.len, x.tf
FROM (
  SELECT e.id, e.dataset_id, u.lexeme COLLATE "C" AS lexeme, cardinality(u.positions) AS tf,
    sum(cardinality(u.positions)) OVER (PARTITION BY e.id) AS len
  FROM examples e, unnest(e.tsv) u
) x
JOIN datasets d ON d.id = x.dataset_id
JOIN bm25_terms t ON t.dataset_id = x.dataset_id AND t.term = x.lexeme;
