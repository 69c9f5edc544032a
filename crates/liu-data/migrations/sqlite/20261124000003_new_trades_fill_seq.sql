-- Each fill's position in its run, so a batch retried after a lost
-- acknowledgement (or replayed from the journal) is not written twice.
ALTER TABLE new_trades ADD COLUMN fill_seq BIGINT;
CREATE UNIQUE INDEX IF NOT EXISTS new_trades_run_fill_seq ON new_trades (algo_run_id, fill_seq);
