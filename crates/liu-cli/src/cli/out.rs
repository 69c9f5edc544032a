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
