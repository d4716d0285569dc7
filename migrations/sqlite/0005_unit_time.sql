-- jackbench results database, version 5 (SQLite): what each unit cost. bench_s: the plan's bench
-- time per unit (stimuli, tails, round trips, relay switching; RigFile::bench_time); elapsed_s: the
-- wall-clock time from the unit's first capture to its stored result (NULL for a unit recovered
-- after a crash).
ALTER TABLE unit ADD COLUMN bench_s REAL;
ALTER TABLE unit ADD COLUMN elapsed_s REAL;
