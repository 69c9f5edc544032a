-- The rest of the seed's schema, plus the bar store that backtests read with --db.
-- Times are RFC 3339 UTC text; JSON columns are checked with json_valid.

-- Daily OHLC per symbol with the engine's indicators (`mine daily-ohlc`).
CREATE TABLE IF NOT EXISTS stock_ohlc (
    symbol_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol        TEXT NOT NULL,
    symbol_date   TEXT NOT NULL,          -- YYYY-MM-DD
    open          REAL NOT NULL,
    high          REAL NOT NULL,
    low           REAL NOT NULL,
    close         REAL NOT NULL,
    volume        REAL NOT NULL,
    indicators    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(indicators)),
    create_tstamp TEXT NOT NULL,
    modify_tstamp TEXT NOT NULL,
    UNIQUE (symbol, symbol_date)
);

-- Reference data per symbol (`mine tickers`).
CREATE TABLE IF NOT EXISTS ticker_data (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    description     TEXT,
    industry        TEXT,
    sector          TEXT,
    exchange        TEXT,
    similar_tickers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(similar_tickers)),  -- JSON array
    tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),             -- JSON array
    short_ratio     REAL,
    create_tstamp   TEXT NOT NULL,
    modify_tstamp   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticker_data_sector ON ticker_data (sector, industry);

-- Per-strategy key/value store (the `state` import of the strategy world).
CREATE TABLE IF NOT EXISTS keystore (
    algo_name     TEXT NOT NULL,
    context       TEXT NOT NULL,           -- the tradeplan/run context, e.g. PAPER
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    modify_tstamp TEXT NOT NULL,
    PRIMARY KEY (algo_name, context, key)
);

-- Cash accounting for a portfolio, as in the seed.
CREATE TABLE IF NOT EXISTS accounts (
    account_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    balance        REAL NOT NULL DEFAULT 0,
    allow_negative INTEGER NOT NULL DEFAULT 0,
    credit_line    REAL NOT NULL DEFAULT 0,
    create_tstamp  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS account_transactions (
    transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     INTEGER NOT NULL REFERENCES accounts (account_id),
    amount         REAL NOT NULL,
    details        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    tstamp         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_transactions_account ON account_transactions (account_id, tstamp);

CREATE TABLE IF NOT EXISTS portfolio (
    portfolio_id  TEXT PRIMARY KEY,
    size          REAL NOT NULL,
    stock_count   INTEGER NOT NULL,
    parameters    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    account_id    INTEGER REFERENCES accounts (account_id),
    create_tstamp TEXT NOT NULL
);

-- One row per optimizer trial: which backtest batch ran which parameters.
CREATE TABLE IF NOT EXISTS optimizer_run (
    optimizer_run_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    optimizer_session_id TEXT NOT NULL,
    batch_id             TEXT NOT NULL,
    parameters           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    tstamp               TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS optimizer_run_session ON optimizer_run (optimizer_session_id);

-- Per-symbol result of a run (the seed's post-run analysis tables).
CREATE TABLE IF NOT EXISTS gain_loss (
    gain_loss_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol          TEXT NOT NULL,
    algo_run_id     INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    gain_percentage REAL NOT NULL,
    gain_value      REAL NOT NULL,
    tstamp          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gain_loss_algo_run ON gain_loss (algo_run_id, symbol);

CREATE TABLE IF NOT EXISTS trade_analysis (
    trade_analysis_id INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol            TEXT NOT NULL,
    algo_run_id       INTEGER NOT NULL REFERENCES algo_run (algo_run_id),
    start_ts          TEXT NOT NULL,
    end_ts            TEXT NOT NULL,
    gain_percentage   REAL NOT NULL,
    gain_value        REAL NOT NULL,
    r_units           REAL,
    tstamp            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trade_analysis_algo_run ON trade_analysis (algo_run_id, symbol);

-- Minute and daily bars for backtests (`import bars`, read by `backtest --db`).
-- `ts` is nanoseconds since the Unix epoch, UTC, at the bar's start.
CREATE TABLE IF NOT EXISTS bars (
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL CHECK (timeframe IN ('second', 'minute', 'day')),
    ts        INTEGER NOT NULL,
    open      REAL NOT NULL,
    high      REAL NOT NULL,
    low       REAL NOT NULL,
    close     REAL NOT NULL,
    volume    REAL NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts)
) WITHOUT ROWID;

-- Reports list a symbol's trades and a batch's runs.
CREATE INDEX IF NOT EXISTS new_trades_client_time ON new_trades (client_time);
CREATE INDEX IF NOT EXISTS trending_tickers_symbol ON trending_tickers (symbol, create_tstamp);
