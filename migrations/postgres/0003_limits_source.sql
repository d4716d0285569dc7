-- jackbench results database, version 3 (PostgreSQL): which limits each unit was judged against
-- (the rig file or the model's limits file) and when those limits were calibrated.
ALTER TABLE unit ADD COLUMN limits_file TEXT NOT NULL DEFAULT '';
ALTER TABLE unit ADD COLUMN calibrated TEXT;
