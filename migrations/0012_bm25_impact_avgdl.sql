-- The smallest avgdl any of a dataset's postings was written under, so that a search can bound the
-- BM25 weight of the postings it did not read.
--
-- A posting's impact (0006) is tf / (tf + 1.2 · (0.6 + 0.4 · len / A0)) with A0 the dataset's
-- avgdl (at least 1) when the row was written; a query weighs it with its own k1, b and the current
-- avgdl. A posting of impact at most c then has tf ≤ c / (1 − c) · 1.2 · (0.6 + 0.4 · len / A0),
-- largest for the smallest A0: with that minimum the unread postings' weight has a true upper
-- bound (services/datasets/search.ts, unreadWeightBound).
ALTER TABLE datasets ADD COLUMN bm25_impact_avgdl_min float8;

-- Every statement that writes postings first raises bm25_docs in the same statement (the stats
-- CTEs of bm25_sync and bm25_flush) and writes them under greatest(bm25_len / bm25_docs, 1) of that
-- new row: the same expression here, so the minimum holds exactly what was used. A delete lowers
-- bm25_docs and writes no postings: not counted.
CREATE FUNCTION bm25_impact_avgdl() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.bm25_impact_avgdl_min := least(NEW.bm25_impact_avgdl_min,
    greatest(NEW.bm25_len::float8 / greatest(NEW.bm25_docs, 1), 1));
  RETURN NEW;
END
$$;
CREATE TRIGGER datasets_bm25_impact_avgdl BEFORE UPDATE OF bm25_docs ON datasets
  FOR EACH ROW WHEN (NEW.bm25_docs > OLD.bm25_docs) EXECUTE FUNCTION bm25_impact_avgdl();

-- The postings already there: each one's A0 solved from its impact, tf and len (A0 = 0.48 · len /
-- (tf / impact − tf − 0.72)). impact is a real (rounded to 24 bits), so the true impact may be up
-- to 2^-22 larger, relatively, than the stored one; the smallest A0 consistent with that is taken.
-- A posting whose len / A0 is below the rounding says nothing (NULL, ignored by min).
UPDATE datasets d SET bm25_impact_avgdl_min = greatest(s.lo, 1)
FROM (
  SELECT t.dataset_id, min(CASE WHEN x.dhi > 0 THEN 0.48 * x.doc_len / x.dhi END) AS lo
  FROM (
    SELECT p.term_id, p.doc_len, p.tf / (p.impact::float8 * (1 - 2.0 ^ (-22))) - p.tf - 0.72 AS dhi
    FROM bm25_postings p
  ) x
  JOIN bm25_terms t ON t.id = x.term_id
  GROUP BY t.dataset_id
) s
WHERE d.id = s.dataset_id;
