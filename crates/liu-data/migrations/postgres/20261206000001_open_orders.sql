-- The orders each strategy of a live batch has open, per symbol, as a JSON
-- array: what a restarted consumer puts back into its strategies' books.
-- Keyed by the strategy's place in the tradeplan, so each restart of a
-- consumer overwrites its predecessor's rows; a symbol with no open order
-- has no row.
CREATE TABLE IF NOT EXISTS open_orders (
    batch_id      TEXT NOT NULL,
    algo_env      TEXT NOT NULL,
    strategy      BIGINT NOT NULL,         -- index of the strategy in the tradeplan
    symbol        TEXT NOT NULL,
    algo_run_id   BIGINT NOT NULL,         -- the run that wrote them last
    orders        TEXT NOT NULL,
    modify_tstamp TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (batch_id, algo_env, strategy, symbol)
);
