//! Synchronous entry points to the store for callers without an async
//! runtime (the command line): `db migrate`, `db status` and reading a
//! `--from-db` backtest's bars. Each call builds a current-thread tokio
//! runtime, does its work on one [`Store`] and closes both before returning.

use super::bars::{BarQuery, BarsError};
use super::{DbTarget, MigrationStatus, Store, StoreError};
use crate::MarketData;

/// Why [`read_bars`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadBarsError {
    /// The runtime of the call could not be built.
    #[error(transparent)]
    Runtime(std::io::Error),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Open(StoreError),
    /// The database is open but does not hold the bars asked for, or reading them failed.
    #[error(transparent)]
    Read(#[from] BarsError),
}

/// The runtime a synchronous call runs its store work on.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Connects to `target`, applies its pending migrations and then writes the
/// rows runs left in the journal while the database was unreachable (see
/// [`Store::write_journals`]).
///
/// `migrated` is called with the number of migrations that were pending, once
/// they are applied and before the journals are written. Returns how many
/// journaled rows were written.
pub fn migrate(target: &DbTarget, migrated: &mut dyn FnMut(usize)) -> Result<usize, StoreError> {
    runtime().map_err(StoreError::Runtime)?.block_on(async {
        let store = Store::connect(target).await?;
        let pending = store.migration_status().await?.iter().filter(|m| !m.applied).count();
        store.migrate().await?;
        migrated(pending);
        store.write_journals().await
    })
}

/// Every migration of `target`'s backend and whether it is applied; connects
/// without migrating.
pub fn migration_status(target: &DbTarget) -> Result<Vec<MigrationStatus>, StoreError> {
    runtime().map_err(StoreError::Runtime)?.block_on(async { Store::connect(target).await?.migration_status().await })
}

/// Opens and migrates `target` and reads the bars of `query` (see [`Store::read_bars`]).
pub fn read_bars(target: &DbTarget, query: &BarQuery) -> Result<MarketData, ReadBarsError> {
    runtime().map_err(ReadBarsError::Runtime)?.block_on(async {
        let store = Store::open(target).await.map_err(ReadBarsError::Open)?;
        Ok(store.read_bars(query).await?)
    })
}
