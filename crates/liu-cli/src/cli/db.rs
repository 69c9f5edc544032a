//! `liu-engine db migrate` and `db status`.

use clap::Subcommand;
use liu_data::store::{DbTarget, Store};

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
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match command {
            DbCommand::Migrate { db } => {
                let store = Store::connect(&db).await?;
                let before = store.migration_status().await?.iter().filter(|m| !m.applied).count();
                store.migrate().await?;
                println!("{db}: {before} migration(s) applied, schema up to date");
                let journaled = store.write_journals().await?;
                if journaled > 0 {
                    println!("{db}: {journaled} journaled row(s) written");
                }
            }
            DbCommand::Status { db, json } => {
                let store = Store::connect(&db).await?;
                let status = store.migration_status().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&status)?);
                } else {
                    println!("{db}");
                    for m in &status {
                        println!("  {} {:<10} {}", m.version, if m.applied { "applied" } else { "pending" }, m.description);
                    }
                }
            }
        }
        Ok(())
    })
}
