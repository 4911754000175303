-- Time the rows that the decide step of the collection run writes, on a
-- database kept by "scripts/bench-run --keep" after its run:
--
--     psql --dbname=fc_bench_run --file=scripts/explain-decide-writes.sql
--
-- Each statement rewrites the rows the run wrote (the items' stages, the
-- invoices' stages, the history rows) inside a transaction that is rolled
-- back, so the database is left as it was. EXPLAIN ANALYZE prints the time of
-- each statement and of each foreign key check.

\echo 'Items with a stage, and invoices with a stage:'
SELECT count(*) FROM account_move_line WHERE collection_stage_id IS NOT NULL;
SELECT count(*) FROM account_move WHERE collection_stage_id IS NOT NULL;

BEGIN;
CREATE TEMP TABLE staged_items AS
SELECT id, collection_stage_id, collection_stage_date
  FROM account_move_line
 WHERE collection_stage_id IS NOT NULL;
\echo 'The items'' stages written again:'
EXPLAIN (ANALYZE, COSTS OFF)
UPDATE account_move_line aml
   SET collection_stage_id = staged.collection_stage_id,
       collection_stage_date = staged.collection_stage_date
  FROM staged_items staged
 WHERE staged.id = aml.id;
ROLLBACK;

BEGIN;
CREATE TEMP TABLE staged_moves AS
SELECT id, collection_stage_id
  FROM account_move
 WHERE collection_stage_id IS NOT NULL;
\echo 'The invoices'' stages written again:'
EXPLAIN (ANALYZE, COSTS OFF)
UPDATE account_move move
   SET collection_stage_id = staged.collection_stage_id
  FROM staged_moves staged
 WHERE staged.id = move.id;
ROLLBACK;

BEGIN;
CREATE TEMP TABLE history_rows AS SELECT * FROM collection_history;
DELETE FROM collection_history;
\echo 'The history rows inserted again:'
EXPLAIN (ANALYZE, COSTS OFF)
INSERT INTO collection_history SELECT * FROM history_rows;
ROLLBACK;
