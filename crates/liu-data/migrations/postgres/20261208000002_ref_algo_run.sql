-- Liu's `ref_algo_run`: the run this one replays. `backtest --replay` sets
-- it on each run to the `trade` run whose recording it replays (when this
-- database holds that run), so a report can put a live session and its
-- replay side by side. NULL for every other run.
ALTER TABLE algo_run ADD COLUMN IF NOT EXISTS ref_algo_run INTEGER REFERENCES algo_run (algo_run_id);
-- The report looks runs up from either side of the link.
CREATE INDEX IF NOT EXISTS algo_run_ref_algo_run ON algo_run (ref_algo_run);
