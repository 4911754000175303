-- Time the rows that the decide step of the collection run writes, on a
-- database kept by "scripts/bench-run --keep" after its run:
--
--     psql --dbname=fc_bench_run --file=scripts/explain-decide-writes.sql
--
-- Each measured statement writes again as many rows as the run wrote (the
-- items' stages, the invoices' stages, the history rows) inside a
-- transaction that is rolled back, so the database is left as it was. The
-- stages are set to another stage than theirs, because PostgreSQL skips the
-- foreign key check of a value that does not change. EXPLAIN ANALYZE prints
-- the time of each statement and of each foreign key check. The tables are
-- vacuumed before, and after, since rolled-back writes leave dead rows that
-- slow down the next writes until autovacuum removes them.

VACUUM account_move_line, account_move, collection_history;

\echo 'Items with a stage, and invoices with a stage:'
SELECT count(*) FROM account_move_line WHERE collection_stage_id IS NOT NULL;
SELECT count(*) FROM account_move WHERE collection_stage_id IS NOT NULL;

BEGIN;
CREATE TEMP TABLE staged_items AS
SELECT aml.id,
       (SELECT other.id FROM collection_stage other
         WHERE other.id != aml.collection_stage_id
         ORDER BY other.id LIMIT 1) AS other_stage_id
  FROM account_move_line aml
 WHERE aml.collection_stage_id IS NOT NULL;
\echo 'The items'' stages written again:'
EXPLAIN (ANALYZE, COSTS OFF)
UPDATE account_move_line aml
   SET collection_stage_id = staged.other_stage_id,
       collection_stage_date = CURRENT_DATE
  FROM staged_items staged
 WHERE staged.id = aml.id;
ROLLBACK;

BEGIN;
CREATE TEMP TABLE staged_moves AS
SELECT move.id,
       (SELECT other.id FROM collection_stage other
         WHERE other.id != move.collection_stage_id
         ORDER BY other.id LIMIT 1) AS other_stage_id
  FROM account_move move
 WHERE move.collection_stage_id IS NOT NULL;
\echo 'The invoices'' stages written again:'
EXPLAIN (ANALYZE, COSTS OFF)
UPDATE account_move move
   SET collection_stage_id = staged.other_stage_id
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

VACUUM account_move_line, account_move, collection_history;
