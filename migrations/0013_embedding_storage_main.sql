-- examples.embedding kept in the heap row (storage MAIN) instead of pgvector's default EXTENDED.
-- With EXTENDED a row over the TOAST threshold (~2 KB: a vector(384) is 1,544 bytes, beside the
-- text and its tsvector) moves the vector out of line, and the exact k-nearest scan of the vector
-- search fetches every one back through the TOAST table's index: SciFact (5,183 abstracts) on
-- PGlite, scan p50 24.6 ms out of line against 8.0 ms inline (docs/search.md, Vector). MAIN still
-- lets the text columns (EXTENDED) be compressed and moved out first, and moves the vector out only
-- when the row would not fit in a page otherwise (EMBEDDING_DIM near 2,000 and more).
--
-- Only the column's setting changes (no rewrite: a catalog update). Rows written before keep their
-- vectors where they are until rewritten; new and updated rows get the new storage. An operator
-- rewrites the table with `VACUUM FULL examples` (outside a transaction; it locks the table and
-- rebuilds its indexes while it runs). examples_archive is not searched: left as it is.
-- Where pgvector is absent there is no embedding column: nothing to do.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = 'examples'::regclass AND attname = 'embedding' AND NOT attisdropped) THEN
    ALTER TABLE examples ALTER COLUMN embedding SET STORAGE MAIN;
  END IF;
END
$$;
