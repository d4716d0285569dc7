-- jackbench results database, version 1 (PostgreSQL). One row per unit tested, its faults ranked,
-- and its measurements with the limits they were judged against.
CREATE TABLE unit (
    id                BIGSERIAL PRIMARY KEY,
    serial            TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    rig               TEXT    NOT NULL,
    bench             TEXT    NOT NULL,
    operator          TEXT    NOT NULL,
    batch             TEXT    NOT NULL,
    tested_at_ms      BIGINT  NOT NULL,   -- Unix time, ms
    jackbench_version TEXT    NOT NULL,
    verdict           TEXT    NOT NULL CHECK (verdict IN ('pass', 'fail')),
    capture_set       TEXT    NOT NULL    -- the capture set's directory
);
CREATE INDEX unit_serial ON unit (serial, tested_at_ms);
CREATE INDEX unit_time ON unit (tested_at_ms);
CREATE INDEX unit_model_time ON unit (model, tested_at_ms);
CREATE INDEX unit_batch ON unit (batch);

CREATE TABLE fault (
    unit_id    BIGINT  NOT NULL REFERENCES unit (id),
    rank       BIGINT  NOT NULL,          -- 1 = most likely
    component  TEXT    NOT NULL,          -- suspects: the components, comma-separated
    code       TEXT    NOT NULL,          -- kind.symptom; suspects: suspect.symptom
    confidence DOUBLE PRECISION,
    evidence   TEXT    NOT NULL,
    remedy     TEXT    NOT NULL
);
CREATE INDEX fault_unit ON fault (unit_id);

CREATE TABLE measurement (
    unit_id    BIGINT  NOT NULL REFERENCES unit (id),
    name       TEXT    NOT NULL,          -- path.quantity, e.g. front-jack.playback_gain_db
    quantity   TEXT    NOT NULL,          -- the quantity alone: playback_gain_db
    value      DOUBLE PRECISION    NOT NULL,
    unit       TEXT    NOT NULL,
    limit_low  DOUBLE PRECISION,
    limit_high DOUBLE PRECISION,
    pass       BIGINT  NOT NULL           -- 1 within its limits (or none apply), 0 outside
);
CREATE INDEX measurement_unit ON measurement (unit_id);
CREATE INDEX measurement_quantity ON measurement (quantity);
