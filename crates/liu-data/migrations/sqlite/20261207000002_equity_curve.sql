-- The per-bar equity curve of each run, and the bars a batch replayed, for
-- `liu-engine report` and `export`.
--
-- One row per run (and per symbol of a batch), the series packed as BLOBs
-- of little-endian values (times: i64 nanoseconds since the epoch; prices
-- and equity: f64), not a row per point: a 1 M-bar backtest writes a few
-- 8 MB values in one statement and reads them back in one, where a million
-- rows with their keys and index entries would take seconds each way and
-- several times the space. Nothing queries single points by SQL; the report
-- and export read whole series.
CREATE TABLE IF NOT EXISTS equity_curve (
    algo_run_id     INTEGER PRIMARY KEY REFERENCES algo_run (algo_run_id),
    initial_equity  REAL NOT NULL,
    points          INTEGER NOT NULL,       -- number of values in each BLOB
    steps_in_market INTEGER NOT NULL,       -- points with a position open (exposure)
    times           BLOB NOT NULL,          -- the time step of each point
    equity          BLOB NOT NULL
);

-- The bars of each symbol a backtest batch replayed: buy and hold, and the
-- candles the report marks fills on, whatever the bars came from (a file,
-- the `bars` table).
CREATE TABLE IF NOT EXISTS batch_bars (
    batch_id  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    points    INTEGER NOT NULL,
    times     BLOB NOT NULL,
    open      BLOB NOT NULL,
    high      BLOB NOT NULL,
    low       BLOB NOT NULL,
    close     BLOB NOT NULL,
    PRIMARY KEY (batch_id, symbol)
);
