-- jackbench results database, version 4 (PostgreSQL): the bench calibration whose gain and noise
-- windows judged each unit (limits/bench/RIG.toml, `jackbench calibrate --bench`) and its date.
ALTER TABLE unit ADD COLUMN bench_calibration TEXT;
ALTER TABLE unit ADD COLUMN bench_calibrated TEXT;
