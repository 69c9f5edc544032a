//! `liu-engine simulate`: the arguments and the lines printed for the market
//! simulator and the providers' stand-ins, which [`liu_sim::serve::run`]
//! starts and serves; behind the `simulator` feature.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use liu_sim::serve::{Listening, SimulateConfig};
use liu_sim::simulator::Speed;

#[derive(Args)]
pub struct SimulateArgs {
    /// Address to serve the Alpaca market-data stream protocol on.
    #[arg(long, default_value = "127.0.0.1:9300")]
    listen: SocketAddr,
    /// Replay these bars (CSV file or folder) instead of a random walk.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Random walk: number of symbols (SYM000, SYM001, …).
    #[arg(long, default_value_t = 20)]
    symbols: usize,
    /// Random walk: bars per symbol.
    #[arg(long, default_value_t = 100_000)]
    bars: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// `max`, or how many times faster than real time (60: one minute bar per second).
    #[arg(long, default_value = "60")]
    speed: Speed,
    /// Start over at the end of the data, forever.
    #[arg(long)]
    repeat: bool,
    /// Most messages per WebSocket frame.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Also serve stand-ins of the providers' REST snapshots, historical daily
    /// bars and reference data, and of Alpaca's trading API (orders,
    /// positions, account, `trade_updates`) here, filling at the replayed prices.
    #[arg(long)]
    rest_listen: Option<SocketAddr>,
    /// With --rest-listen: the first N bar times of the data are history,
    /// served as minute bars by the REST stand-in (Alpaca `GET /v2/stocks/bars`,
    /// Polygon minute aggregates) on the N minutes before the simulator
    /// started, for `trade`'s warm-up; the stream replays from the bar after.
    #[arg(long, default_value_t = 0)]
    history_bars: usize,
}

pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let config = SimulateConfig {
        listen: args.listen,
        data: args.data,
        symbols: args.symbols,
        bars: args.bars,
        seed: args.seed,
        speed: args.speed,
        repeat: args.repeat,
        batch: args.batch,
        rest_listen: args.rest_listen,
        history_bars: args.history_bars,
    };
    liu_sim::serve::run(config, &mut |listening| match listening {
        Listening::Rest(addr) => super::out::progress(format_args!("stand-in REST listening on http://{addr}")),
        // Tests and scripts wait for this line.
        Listening::Simulator(addr) => super::out::progress(format_args!("simulator listening on ws://{addr}/v2/test")),
    })?;
    Ok(())
}
