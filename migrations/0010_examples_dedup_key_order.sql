-- The dedup key of examples, (dataset_id, content_hash), becomes (content_hash, dataset_id): the
-- same uniqueness (ON CONFLICT (dataset_id, content_hash) infers it by its columns, in any order),
-- and the duplicate lookup of an import (dataset_id = $1 AND content_hash = ANY($2)) still probes
-- it. With dataset_id first it also served "the rows of one domain", and the planner took it for
-- a page: for a page of 100 (the default), and for any page size under a generic plan, it read
-- every row of the domain through it and sorted them (top-N heapsort: 23-42 ms for 101 rows of
-- 5,183) instead of reading the next rows of (dataset_id, id) in order (0.1 ms). Without it, the
-- page has one index to read, whatever the page size and whatever the planner guesses of the domain.
ALTER TABLE examples DROP CONSTRAINT examples_dataset_id_content_hash_key;
ALTER TABLE examples ADD CONSTRAINT examples_content_hash_dataset_id_key UNIQUE (content_hash, dataset_id);
