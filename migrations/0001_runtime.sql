-- What the runtime needs before any service's tables.
-- pgvector where the server has it: PGlite always does; managed Postgres services ship it;
-- Debian's Postgres 15 does not, and then the vector columns and indexes of later migrations
-- are skipped (they check pg_extension) and search runs lexical only.
-- (PGlite does not list its bundled extensions in pg_available_extensions: try, and catch.)
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS vector;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pgvector is not available here: %', SQLERRM;
END
$$;
