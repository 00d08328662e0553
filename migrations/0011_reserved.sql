-- Reserved: number 0011 belongs to another branch; this empty step only keeps the sequence whole on
-- branch `ta` (its own step is 0012). Delete this file when that 0011 is merged. A database migrated
-- from this branch has recorded 0011 as done: such a database (a test or bench one) is to be dropped.
SELECT 1;
