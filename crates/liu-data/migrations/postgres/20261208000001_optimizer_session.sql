-- One row per `optimize` sweep: what it swept and how it ranked, so that
-- `liu-engine report SWEEP_ID` can draw the parameter surface and rank the
-- combinations of `optimizer_run` as the sweep did. Written when the sweep
-- starts; a sweep started again with the same arguments has the same id
-- and keeps the row.
CREATE TABLE IF NOT EXISTS optimizer_session (
    optimizer_session_id TEXT PRIMARY KEY,
    strategy_name        TEXT NOT NULL,
    strategy_digest      TEXT NOT NULL,
    -- The axes, sampling, objective, constraints, walk-forward windows and
    -- data span, as JSON (liu-research's `SweepDescription`).
    description          JSONB NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS optimizer_run_batch ON optimizer_run (batch_id);
