//! `liu-engine db migrate` and `db status`.

use clap::Subcommand;
use liu_data::store::{DbTarget, blocking};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (every command that opens the database does this too), and
    /// write the rows runs left in the journal while the database was unreachable.
    Migrate {
        /// Database: a SQLite path or sqlite:// URL, or a postgres:// URL.
        #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
        db: DbTarget,
    },
    /// List the migrations and whether each is applied.
    Status {
        /// Database: a SQLite path or sqlite:// URL, or a postgres:// URL.
        #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
        db: DbTarget,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Migrate { db } => {
            let mut said = None;
            let journaled = blocking::migrate(&db, &mut |applied| said = Some(applied))?;
            if let Some(applied) = said {
                outln!("{db}: {applied} migration(s) applied, schema up to date");
            }
            if journaled > 0 {
                outln!("{db}: {journaled} journaled row(s) written");
            }
        }
        DbCommand::Status { db, json } => {
            let status = blocking::migration_status(&db)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                outln!("{db}");
                for m in &status {
                    outln!("  {} {:<10} {}", m.version, if m.applied { "applied" } else { "pending" }, m.description);
                }
            }
        }
    }
    Ok(())
}
