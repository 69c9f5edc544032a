-- The per-bar equity curve of each run, and the bars a batch replayed, for
-- `liu-engine report` and `export`.
--
-- One row per run (and per symbol of a batch), the series packed as BYTEA
-- of little-endian values (times: i64 nanoseconds since the epoch; prices
-- and equity: f64), not a row per point: a 1 M-bar backtest writes a few
-- 8 MB values in one statement and reads them back in one, where a million
-- rows with their keys and index entries would take seconds each way and
-- several times the space. Nothing queries single points by SQL; the report
-- and export read whole series.
CREATE TABLE IF NOT EXISTS equity_curve (
    algo_run_id     INTEGER PRIMARY KEY REFERENCES algo_run (algo_run_id),
    initial_equity  DOUBLE PRECISION NOT NULL,
    points          BIGINT NOT NULL,        -- number of values in each BYTEA
    steps_in_market BIGINT NOT NULL,        -- points with a position open (exposure)
    times           BYTEA NOT NULL,         -- the time step of each point
    equity          BYTEA NOT NULL
);

-- The bars of each symbol a backtest batch replayed: buy and hold, and the
-- candles the report marks fills on, whatever the bars came from (a file,
-- the `bars` table).
CREATE TABLE IF NOT EXISTS batch_bars (
    batch_id  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    points    BIGINT NOT NULL,
    times     BYTEA NOT NULL,
    open      BYTEA NOT NULL,
    high      BYTEA NOT NULL,
    low       BYTEA NOT NULL,
    close     BYTEA NOT NULL,
    PRIMARY KEY (batch_id, symbol)
);
