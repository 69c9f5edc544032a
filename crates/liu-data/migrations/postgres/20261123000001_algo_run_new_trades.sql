-- One row per strategy execution, grouped by batch_id (the seed's algo_run).
CREATE TABLE IF NOT EXISTS algo_run (
    algo_run_id  SERIAL PRIMARY KEY,
    algo_name    TEXT NOT NULL,
    algo_env     TEXT NOT NULL,           -- BACKTEST, PAPER or PROD
    build_number TEXT NOT NULL,           -- engine version
    parameters   JSONB NOT NULL DEFAULT '{}',
    start_time   TIMESTAMPTZ NOT NULL,
    end_time     TIMESTAMPTZ,
    end_reason   TEXT,
    batch_id     TEXT NOT NULL,
    strategy_digest TEXT,                 -- SHA-256 of the component
    fuel_used    BIGINT
);
CREATE INDEX IF NOT EXISTS algo_run_batch_id ON algo_run (batch_id);

-- Every fill, with the strategy's reasons (the seed's new_trades).
CREATE TABLE IF NOT EXISTS new_trades (
    trade_id     SERIAL PRIMARY KEY,
    algo_run_id  INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    symbol       TEXT NOT NULL,
    operation    TEXT NOT NULL CHECK (operation IN ('buy', 'sell', 'sell_short', 'buy_short')),
    qty          DOUBLE PRECISION NOT NULL,
    price        DOUBLE PRECISION NOT NULL,
    indicators   JSONB NOT NULL DEFAULT '{}',
    client_time  TIMESTAMPTZ NOT NULL,    -- event time of the fill
    tstamp       TIMESTAMPTZ NOT NULL DEFAULT now(),
    stop_price   DOUBLE PRECISION,
    target_price DOUBLE PRECISION,
    fee          DOUBLE PRECISION NOT NULL DEFAULT 0,
    order_id     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS new_trades_algo_run_id ON new_trades (algo_run_id);
CREATE INDEX IF NOT EXISTS new_trades_symbol ON new_trades (symbol, client_time);
