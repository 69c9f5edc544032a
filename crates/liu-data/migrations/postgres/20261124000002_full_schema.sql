-- The rest of the seed's schema, plus the bar store that backtests read with --db.

-- Daily OHLC per symbol with the engine's indicators (`mine daily-ohlc`).
CREATE TABLE IF NOT EXISTS stock_ohlc (
    symbol_id     SERIAL PRIMARY KEY,
    symbol        TEXT NOT NULL,
    symbol_date   DATE NOT NULL,
    open          DOUBLE PRECISION NOT NULL,
    high          DOUBLE PRECISION NOT NULL,
    low           DOUBLE PRECISION NOT NULL,
    close         DOUBLE PRECISION NOT NULL,
    volume        DOUBLE PRECISION NOT NULL,
    indicators    JSONB NOT NULL DEFAULT '{}',
    create_tstamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    modify_tstamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (symbol, symbol_date)
);

-- Reference data per symbol (`mine tickers`).
CREATE TABLE IF NOT EXISTS ticker_data (
    id              SERIAL PRIMARY KEY,
    symbol          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    description     TEXT,
    industry        TEXT,
    sector          TEXT,
    exchange        TEXT,
    similar_tickers JSONB NOT NULL DEFAULT '[]',
    tags            JSONB NOT NULL DEFAULT '[]',
    short_ratio     DOUBLE PRECISION,
    create_tstamp   TIMESTAMPTZ NOT NULL DEFAULT now(),
    modify_tstamp   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ticker_data_sector ON ticker_data (sector, industry);

-- Per-strategy key/value store (the `state` import of the strategy world).
CREATE TABLE IF NOT EXISTS keystore (
    algo_name     TEXT NOT NULL,
    context       TEXT NOT NULL,           -- the tradeplan/run context, e.g. PAPER
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    modify_tstamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (algo_name, context, key)
);

-- Cash accounting for a portfolio, as in the seed.
CREATE TABLE IF NOT EXISTS accounts (
    account_id     SERIAL PRIMARY KEY,
    balance        DOUBLE PRECISION NOT NULL DEFAULT 0,
    allow_negative BOOLEAN NOT NULL DEFAULT FALSE,
    credit_line    DOUBLE PRECISION NOT NULL DEFAULT 0,
    create_tstamp  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS account_transactions (
    transaction_id BIGSERIAL PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (account_id),
    amount         DOUBLE PRECISION NOT NULL,
    details        JSONB NOT NULL DEFAULT '{}',
    tstamp         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS account_transactions_account ON account_transactions (account_id, tstamp);

CREATE TABLE IF NOT EXISTS portfolio (
    portfolio_id  TEXT PRIMARY KEY,
    size          DOUBLE PRECISION NOT NULL,
    stock_count   INTEGER NOT NULL,
    parameters    JSONB NOT NULL DEFAULT '{}',
    account_id    INTEGER REFERENCES accounts (account_id),
    create_tstamp TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per optimizer trial: which backtest batch ran which parameters.
CREATE TABLE IF NOT EXISTS optimizer_run (
    optimizer_run_id     SERIAL PRIMARY KEY,
    optimizer_session_id TEXT NOT NULL,
    batch_id             TEXT NOT NULL,
    parameters           JSONB NOT NULL DEFAULT '{}',
    tstamp               TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS optimizer_run_session ON optimizer_run (optimizer_session_id);

-- Per-symbol result of a run (the seed's post-run analysis tables).
CREATE TABLE IF NOT EXISTS gain_loss (
    gain_loss_id    SERIAL PRIMARY KEY,
    symbol          TEXT NOT NULL,
    algo_run_id     INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    gain_percentage DOUBLE PRECISION NOT NULL,
    gain_value      DOUBLE PRECISION NOT NULL,
    tstamp          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gain_loss_algo_run ON gain_loss (algo_run_id, symbol);

CREATE TABLE IF NOT EXISTS trade_analysis (
    trade_analysis_id SERIAL PRIMARY KEY,
    symbol            TEXT NOT NULL,
    algo_run_id       INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    start_ts          TIMESTAMPTZ NOT NULL,
    end_ts            TIMESTAMPTZ NOT NULL,
    gain_percentage   DOUBLE PRECISION NOT NULL,
    gain_value        DOUBLE PRECISION NOT NULL,
    r_units           DOUBLE PRECISION,
    tstamp            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trade_analysis_algo_run ON trade_analysis (algo_run_id, symbol);

-- Minute and daily bars for backtests (`import bars`, read by `backtest --db`).
-- `ts` is nanoseconds since the Unix epoch, UTC, at the bar's start.
CREATE TABLE IF NOT EXISTS bars (
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL CHECK (timeframe IN ('second', 'minute', 'day')),
    ts        BIGINT NOT NULL,
    open      DOUBLE PRECISION NOT NULL,
    high      DOUBLE PRECISION NOT NULL,
    low       DOUBLE PRECISION NOT NULL,
    close     DOUBLE PRECISION NOT NULL,
    volume    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts)
);

-- Reports list a symbol's trades and a batch's runs.
CREATE INDEX IF NOT EXISTS new_trades_client_time ON new_trades (client_time);
CREATE INDEX IF NOT EXISTS trending_tickers_symbol ON trending_tickers (symbol, create_tstamp);
