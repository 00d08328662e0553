/**
 * The BM25 statistics two ways, for tests that check the triggers keep them exact: as stored
 * (migration 0006's triggers) and recounted from scratch from examples.tsv.
 */
import type { Db } from "../../services/lib/db";

export type Stats = { datasets: unknown[]; terms: unknown[]; postings: unknown[] };

/** The BM25 statistics as the triggers of migration 0006 keep them. */
export async function stored(db: Db): Promise<Stats> {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    datasets: await q("SELECT id::int AS id, bm25_docs::int AS docs, bm25_len::int AS len FROM datasets ORDER BY id"),
    terms: await q('SELECT dataset_id::int AS d, term, df FROM bm25_terms ORDER BY dataset_id, term COLLATE "C"'),
    postings: await q(
      `SELECT p.example_id::int AS e, t.term, p.tf::int AS tf, p.doc_len AS len
       FROM bm25_postings p JOIN bm25_terms t ON t.id = p.term_id ORDER BY p.example_id, t.term COLLATE "C"`,
    ),
  };
}

/** The same statistics computed from scratch from examples.tsv. */
export async function recomputed(db: Db): Promise<Stats> {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    datasets: await q(
      `SELECT d.id::int AS id, count(e.id)::int AS docs,
         coalesce(sum((SELECT sum(cardinality(u.positions)) FROM unnest(e.tsv) u)), 0)::int AS len
       FROM datasets d LEFT JOIN examples e ON e.dataset_id = d.id GROUP BY d.id ORDER BY d.id`,
    ),
    terms: await q(
      `SELECT e.dataset_id::int AS d, u.lexeme AS term, count(*)::int AS df
       FROM examples e, unnest(e.tsv) u GROUP BY 1, 2 ORDER BY 1, u.lexeme COLLATE "C"`,
    ),
    postings: await q(
      `SELECT e.id::int AS e, u.lexeme AS term, cardinality(u.positions) AS tf,
         (SELECT sum(cardinality(v.positions)) FROM unnest(e.tsv) v)::int AS len
       FROM examples e, unnest(e.tsv) u ORDER BY 1, u.lexeme COLLATE "C"`,
    ),
  };
}
