//! Hidden measuring commands for the benchmark scripts:
//! - `liu-engine bench-writes` (`bench/db.sh`): the rate at which the
//!   database takes `new_trades` rows through the same [`BatchWriter`] a
//!   backtest uses, without a strategy or a replay in the way;
//! - `liu-engine bench-handoff` (`bench/handoff.sh`): what waking a sleeping
//!   thread costs on this machine, on the same CPU and on another one; the
//!   floor under the producer → consumer part of tick-to-order latency;
//! - `liu-engine bench-warmup` (`bench/warmup.sh`): how long a live
//!   session's warm-up takes to fetch recent minute bars of many symbols
//!   from a provider's REST API (the stand-in of `simulate --history-bars`),
//!   timed by [`liu_venues::history::timing`].

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use liu_core::domain::{Fill, NANOS_PER_SECOND, Operation, Side};
use liu_data::store::{BatchWriter, Commit, DbTarget, RunEnd, RunStart};

#[derive(Args)]
pub struct BenchWarmupArgs {
    /// The REST API's base URL.
    #[arg(long)]
    rest_url: String,
    /// `alpaca` or `polygon` (credentials from the environment, as `trade` reads them).
    #[arg(long, default_value = "alpaca")]
    provider: String,
    /// Symbols SYM000, SYM001, … (as `simulate` names its random walk).
    #[arg(long, default_value_t = 100)]
    symbols: usize,
    /// Minute bars per symbol.
    #[arg(long, default_value_t = 390)]
    minutes: usize,
    /// Warm-ups to time.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

pub fn warmup(args: BenchWarmupArgs) -> anyhow::Result<()> {
    use liu_venues::history::timing::{WarmupBench, WarmupProvider, time_warmups};
    let provider = match args.provider.as_str() {
        "alpaca" => WarmupProvider::Alpaca,
        "polygon" => WarmupProvider::Polygon,
        other => anyhow::bail!("--provider `{other}`: expected alpaca or polygon"),
    };
    let bench = WarmupBench { provider, rest_url: args.rest_url, symbols: args.symbols, minutes: args.minutes, rounds: args.rounds };
    let times = time_warmups(&bench)?;
    outln!(
        "warm-up {} ({} symbols x {} minutes = {} bars): median {:?}, best {:?}, worst {:?} over {} rounds",
        args.provider,
        bench.symbols,
        bench.minutes,
        bench.bars(),
        times.median(),
        times.best(),
        times.worst(),
        times.times.len()
    );
    Ok(())
}

#[derive(Args)]
pub struct BenchWritesArgs {
    /// Database: a SQLite path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Fills to write, in one run.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Fills per message to the writer. A backtest hands over what its
    /// strategies filled every 65,536 bars: thousands of fills at a time for a
    /// busy strategy.
    #[arg(long, default_value_t = 4096)]
    per_message: usize,
}

pub fn run(args: BenchWritesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rows > 0 && args.per_message > 0, "--rows and --per-message must be at least 1");
    let run = RunStart {
        algo_name: "bench-writes".to_owned(),
        algo_env: liu_core::domain::AlgoEnv::Backtest,
        parameters: serde_json::json!({}),
        start_time: Utc::now(),
        strategy_digest: String::new(),
        replays: None,
    };
    let batch_id = uuid::Uuid::new_v4().to_string();
    // Alternating round trips, one a minute, as a busy strategy makes them.
    let fills: Vec<Fill> = (0..args.rows)
        .map(|i| {
            let buy = i % 2 == 0;
            Fill {
                order_id: i as u64 + 1,
                symbol: 0,
                side: if buy { Side::Buy } else { Side::Sell },
                operation: if buy { Operation::Buy } else { Operation::Sell },
                qty: 10.0,
                price: 100.0 + (i % 100) as f64 / 100.0,
                fee: 0.0,
                time: (1_704_205_800 + 60 * i as i64) * NANOS_PER_SECOND,
                stop_loss: None,
                take_profit: None,
                indicators: String::new(),
            }
        })
        .collect();
    let started = Instant::now();
    let writer = BatchWriter::start(&args.db, &batch_id, vec![run], vec!["SYN".to_owned()], Commit::AtEnd)
        .with_context(|| format!("opening the database {}", args.db))?;
    for chunk in fills.chunks(args.per_message) {
        writer.fills(0, chunk.to_vec());
    }
    let end = RunEnd { end_time: Utc::now(), end_reason: liu_core::domain::EndReason::Completed, fuel_used: 0 };
    writer.finish(vec![end]).with_context(|| format!("writing to {}", args.db))?;
    let secs = started.elapsed().as_secs_f64();
    outln!("wrote {} new_trades rows to {} in {secs:.3} s: {:.0} rows/s", args.rows, args.db, args.rows as f64 / secs.max(1e-9));
    Ok(())
}

#[derive(Args)]
pub struct BenchHandoffArgs {
    /// Round trips per placement.
    #[arg(long, default_value_t = 5000)]
    rounds: u32,
    /// Pause before each round trip, in microseconds, so the other side has
    /// gone to sleep (`bench/latency.sh` sends a frame every millisecond).
    #[arg(long, default_value_t = 1000)]
    gap_us: u64,
}

/// Ping-pongs one byte over a Unix socket pair between two threads pinned to
/// given CPUs, each blocking in `read` as a consumer waits for its next frame.
/// Half a round trip is one hand-off: a write, a wake-up, a read.
pub fn handoff(args: BenchHandoffArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let cpus = allowed_cpus()?;
    let mut placements = vec![("same CPU", cpus[0], cpus[0])];
    if let Some(&other) = cpus.get(1) {
        placements.push(("another CPU", cpus[0], other));
    }
    for (label, sender_cpu, receiver_cpu) in placements {
        let (mut ping, mut pong) = UnixStream::pair().context("creating a socket pair")?;
        let echo = std::thread::spawn(move || -> std::io::Result<()> {
            pin_to(receiver_cpu)?;
            let mut byte = [0u8];
            while pong.read(&mut byte)? == 1 {
                pong.write_all(&byte)?;
            }
            Ok(())
        });
        let gap = Duration::from_micros(args.gap_us);
        let rounds = args.rounds;
        let timing = std::thread::spawn(move || -> std::io::Result<hdrhistogram::Histogram<u64>> {
            pin_to(sender_cpu)?;
            let mut one_way = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("constant bounds are valid");
            let mut byte = [1u8];
            for _ in 0..rounds {
                std::thread::sleep(gap);
                let started = Instant::now();
                ping.write_all(&byte)?;
                ping.read_exact(&mut byte)?;
                one_way.saturating_record((started.elapsed().as_nanos() / 2) as u64);
            }
            Ok(one_way)
        });
        let one_way = timing.join().map_err(|_| anyhow::anyhow!("the timing thread panicked"))?.context("ping")?;
        echo.join().map_err(|_| anyhow::anyhow!("the echo thread panicked"))?.context("echo")?;
        let us = |q: f64| one_way.value_at_quantile(q) as f64 / 1000.0;
        outln!(
            "{label} (CPU {sender_cpu} -> {receiver_cpu}): one hand-off p50 {:.1} µs p99 {:.1} µs p99.9 {:.1} µs max {:.1} µs ({rounds} round trips, {} µs apart)",
            us(0.5),
            us(0.99),
            us(0.999),
            one_way.max() as f64 / 1000.0,
            args.gap_us
        );
    }
    Ok(())
}

/// The CPUs this process may run on.
fn allowed_cpus() -> anyhow::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(std::io::Error::last_os_error()).context("reading the CPU affinity");
    }
    // SAFETY: CPU_ISSET reads `set` within CPU_SETSIZE.
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect();
    anyhow::ensure!(!cpus.is_empty(), "no CPU is allowed to this process");
    Ok(cpus)
}

/// Pins the calling thread to one CPU.
fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: as in `allowed_cpus`; CPU_SET writes within CPU_SETSIZE (cpu came from CPU_ISSET).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
