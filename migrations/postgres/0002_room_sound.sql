-- jackbench results database, version 2 (PostgreSQL): how many captures of a unit the
-- ambient-noise guard made again because room sound disturbed them.
ALTER TABLE unit ADD COLUMN repeats BIGINT NOT NULL DEFAULT 0;
