-- jackbench results database, version 6 (SQLite): a unit's verdict may be 'incomplete' (spec
-- v1.2: a unit whose planned captures were not all measured, and in which nothing found fails
-- it). SQLite cannot change a CHECK constraint in place: the table is made again with it, as
-- SQLite's documentation describes (foreign keys are off while the migrations run, and checked
-- after them).
CREATE TABLE unit_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    serial            TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    rig               TEXT    NOT NULL,
    bench             TEXT    NOT NULL,
    operator          TEXT    NOT NULL,
    batch             TEXT    NOT NULL,
    tested_at_ms      INTEGER NOT NULL,
    jackbench_version TEXT    NOT NULL,
    verdict           TEXT    NOT NULL CHECK (verdict IN ('pass', 'fail', 'incomplete')),
    capture_set       TEXT    NOT NULL,
    repeats           INTEGER NOT NULL DEFAULT 0,
    limits_file       TEXT    NOT NULL DEFAULT '',
    calibrated        TEXT,
    bench_calibration TEXT,
    bench_calibrated  TEXT,
    bench_s           REAL,
    elapsed_s         REAL
);
INSERT INTO unit_new (id, serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict,
                      capture_set, repeats, limits_file, calibrated, bench_calibration, bench_calibrated, bench_s,
                      elapsed_s)
    SELECT id, serial, model, rig, bench, operator, batch, tested_at_ms, jackbench_version, verdict, capture_set,
           repeats, limits_file, calibrated, bench_calibration, bench_calibrated, bench_s, elapsed_s
    FROM unit;
DROP TABLE unit;
ALTER TABLE unit_new RENAME TO unit;
CREATE INDEX unit_serial ON unit (serial, tested_at_ms);
CREATE INDEX unit_time ON unit (tested_at_ms);
CREATE INDEX unit_model_time ON unit (model, tested_at_ms);
CREATE INDEX unit_batch ON unit (batch);
