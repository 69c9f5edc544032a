//! `liu-engine report`: a batch's or a sweep's HTML tear sheet (see [`liu_research::report`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use liu_data::store::DbTarget;

#[derive(Args)]
pub struct ReportArgs {
    /// What to report on: the `batch_id` of a `backtest` or `trade`, or an
    /// `optimize` sweep (its sweep id, or the batch id of an `optimize` run).
    id: String,
    /// Database: a SQLite file path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// The HTML file to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    write_report(&args.db, &args.id, &args.output)?;
    outln!("{}", args.output.display());
    Ok(())
}

/// Builds the report of `id` (a batch or a sweep) and writes it to `path`, whole or not at all.
pub fn write_report(db: &DbTarget, id: &str, path: &Path) -> anyhow::Result<()> {
    let html = liu_research::report::report(db, id).with_context(|| format!("report of {id} in {db}"))?;
    let mut partial = path.file_name().unwrap_or_default().to_owned();
    partial.push(".partial");
    let partial = path.with_file_name(partial);
    std::fs::write(&partial, html)
        .and_then(|()| std::fs::rename(&partial, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })
        .with_context(|| format!("writing {}", path.display()))
}
