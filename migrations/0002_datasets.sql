-- datasets: one row per domain; its version comes from one global sequence, so every change gives
-- a number larger than any before it, and max(version) is the global version used in cache keys.
CREATE SEQUENCE dataset_version_seq;

CREATE TABLE datasets (
  id bigserial PRIMARY KEY,
  domain_name text NOT NULL UNIQUE CHECK (domain_name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  version bigint NOT NULL DEFAULT nextval('dataset_version_seq'),
  example_count bigint NOT NULL DEFAULT 0,
  archived_count bigint NOT NULL DEFAULT 0,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- examples: content_hash is sha256 of the normalized content, unique within a dataset (re-imports
-- add nothing). tsv is generated for full-text search; the keyset pages walk (dataset_id, id).
CREATE TABLE examples (
  id bigserial PRIMARY KEY,
  dataset_id bigint NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  content text NOT NULL,
  response text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  content_hash text NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content || ' ' || coalesce(response, ''))) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dataset_id, content_hash)
);
CREATE INDEX examples_dataset_id_id ON examples (dataset_id, id);
CREATE INDEX examples_tsv ON examples USING gin (tsv);

CREATE TABLE examples_archive (
  id bigint PRIMARY KEY,
  dataset_id bigint NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  content text NOT NULL,
  response text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  content_hash text NOT NULL,
  created_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX examples_archive_dataset_id ON examples_archive (dataset_id, id);

-- The embedding column and its HNSW index exist only where pgvector does. The dimension comes
-- from EMBEDDING_DIM, passed by the migrator as the setting mcai.embedding_dim.
DO $$
DECLARE
  dim int := coalesce(nullif(current_setting('mcai.embedding_dim', true), ''), '384')::int;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    EXECUTE format('ALTER TABLE examples ADD COLUMN embedding vector(%s)', dim);
    EXECUTE format('ALTER TABLE examples_archive ADD COLUMN embedding vector(%s)', dim);
    CREATE INDEX examples_embedding_hnsw ON examples USING hnsw (embedding vector_cosine_ops);
  ELSE
    RAISE NOTICE 'pgvector is not installed: examples get no embedding column, search is lexical only';
  END IF;
END
$$;
