//! The command's output on standard output. A reader that stops early
//! (`liu-engine optimize … | head`) closes the pipe; what is left is not
//! written and the command ends quietly with status 141 (128 + SIGPIPE, as
//! Unix tools end), instead of the panic of `println!`.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

/// Standard output was closed by its reader.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writes `text` to standard output; see the module documentation.
pub fn write(text: Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        other => Ok(other?),
    }
}

/// Writes a line of progress made while work goes on (a mined symbol, a
/// listening address): if the reader has gone, the work goes on unsaid.
pub fn progress(line: Arguments<'_>) {
    let _ = write(format_args!("{line}\n"));
}

/// A strategy's position left open when its run ended `when` ("at end of
/// data", "at the end"), as `backtest` and `trade` print it under their tables.
pub fn open_position(strategy: &str, when: &str, p: &liu_core::domain::OpenPosition) -> anyhow::Result<()> {
    write(format_args!(
        "\n{strategy}: open {when}: {} {} @ {:.2}, marked {:.2} (unrealized {:+.2})\n",
        p.symbol, p.qty, p.avg_price, p.last_price, p.unrealized_pnl
    ))
}
