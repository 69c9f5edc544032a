-- Symbols picked by scanners, per batch (the seed's trending_tickers).
CREATE TABLE IF NOT EXISTS trending_tickers (
    trending_id INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol        TEXT NOT NULL,
    scanner_name  TEXT NOT NULL,
    create_tstamp TEXT NOT NULL,            -- RFC 3339, UTC
    batch_id      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trending_tickers_batch_id ON trending_tickers (batch_id);
