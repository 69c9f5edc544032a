-- One row per combination of an `optimize` sweep (and per walk-forward
-- window and sample): what was tried, how it scored, and why it failed if
-- it did. A sweep run again with the same arguments has the same
-- optimizer_session_id and skips what its rows already hold, hence the
-- unique key; batch_id tells which invocation ran the combination.
ALTER TABLE optimizer_run ADD COLUMN window_index    INTEGER NOT NULL DEFAULT 0;
-- `full` (no walk-forward), `in` (in-sample) or `out` (out-of-sample).
ALTER TABLE optimizer_run ADD COLUMN sample          TEXT NOT NULL DEFAULT 'full';
-- The swept values only, as canonical JSON (sorted keys, values as given):
-- the resume key. `parameters` holds every resolved parameter.
ALTER TABLE optimizer_run ADD COLUMN params_key      TEXT NOT NULL DEFAULT '{}';
ALTER TABLE optimizer_run ADD COLUMN objective       REAL;
ALTER TABLE optimizer_run ADD COLUMN metrics         TEXT CHECK (metrics IS NULL OR json_valid(metrics));
ALTER TABLE optimizer_run ADD COLUMN strategy_digest TEXT NOT NULL DEFAULT '';
-- `ok` or `failed` (the strategy refused its parameters or trapped; `failure` says why).
ALTER TABLE optimizer_run ADD COLUMN status          TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE optimizer_run ADD COLUMN failure         TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS optimizer_run_combination
    ON optimizer_run (optimizer_session_id, window_index, sample, params_key);
