-- jackbench results database, version 2 (SQLite): how many captures of a unit the ambient-noise
-- guard made again because room sound disturbed them.
ALTER TABLE unit ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
