-- One row per strategy execution, grouped by batch_id (the seed's algo_run).
CREATE TABLE IF NOT EXISTS algo_run (
    algo_run_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    algo_name    TEXT NOT NULL,
    algo_env     TEXT NOT NULL,           -- BACKTEST, PAPER or PROD
    build_number TEXT NOT NULL,           -- engine version
    parameters   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    start_time   TEXT NOT NULL,           -- RFC 3339, UTC
    end_time     TEXT,
    end_reason   TEXT,
    batch_id     TEXT NOT NULL,
    strategy_digest TEXT,                 -- SHA-256 of the component
    fuel_used    INTEGER
);
CREATE INDEX IF NOT EXISTS algo_run_batch_id ON algo_run (batch_id);

-- Every fill, with the strategy's reasons (the seed's new_trades).
CREATE TABLE IF NOT EXISTS new_trades (
    trade_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    algo_run_id  INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    symbol       TEXT NOT NULL,
    operation    TEXT NOT NULL CHECK (operation IN ('buy', 'sell', 'sell_short', 'buy_short')),
    qty          REAL NOT NULL,
    price        REAL NOT NULL,
    indicators   TEXT NOT NULL DEFAULT '{}',
    client_time  TEXT NOT NULL,           -- event time of the fill, RFC 3339 UTC
    tstamp       TEXT NOT NULL,           -- when the row was written
    stop_price   REAL,
    target_price REAL,
    fee          REAL NOT NULL DEFAULT 0,
    order_id     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS new_trades_algo_run_id ON new_trades (algo_run_id);
CREATE INDEX IF NOT EXISTS new_trades_symbol ON new_trades (symbol, client_time);
