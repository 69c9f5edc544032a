//! The `liu-engine` command line: a thin layer over the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if args.verbose { "info" } else { "warn" }));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the output went away (`| head`): end as Unix tools do, quietly.
        Err(e) if e.is::<cli::out::StdoutClosed>() => ExitCode::from(141),
        Err(e) => {
            eprintln!("error: {}", said_once(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-joined, each said once: a typed error
/// whose message already quotes its source (`{path}: {source}`) would
/// otherwise repeat it.
fn said_once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::said_once;

    /// Like the library's typed errors: the message quotes the source.
    #[derive(Debug)]
    struct Read {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Read {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Read {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated_and_new_ones_are_added() {
        let quoted = anyhow::Error::new(Read { path: "x.csv".into(), source: std::io::Error::other("gone") }).context("loading bars");
        assert_eq!(said_once(&quoted), "loading bars: x.csv: gone");
        let plain = anyhow::anyhow!("gone").context("x.csv").context("loading bars");
        assert_eq!(said_once(&plain), "loading bars: x.csv: gone");
    }
}
