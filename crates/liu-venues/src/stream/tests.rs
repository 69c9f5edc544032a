//! Tests of [`super`].

use super::*;
use liu_core::domain::{MarketEvent, Timeframe};
use liu_data::MarketData;
use liu_sim::simulator::{self, SimSource, SimulatorConfig, Speed};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Guard against hangs only; nothing waits on this for synchronisation.
const GUARD: Duration = Duration::from_secs(30);

fn sim_config(listen: SocketAddr, source: SimSource, speed: Speed, repeat: bool) -> SimulatorConfig {
    SimulatorConfig {
        listen,
        source,
        speed,
        repeat,
        key: Some("key-id".into()),
        secret: Some("the-secret".into()),
        batch: 1000,
        polygon_key: Some("polygon-key".into()),
        board: None,
    }
}

async fn start_sim(config: SimulatorConfig) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(simulator::serve(config, Some(tx)));
    (rx.await.expect("simulator started"), task)
}

fn stream_config(addr: SocketAddr, symbols: &[&str], secret: &str) -> StreamConfig {
    StreamConfig {
        protocol: Protocol::Alpaca,
        url: format!("ws://{addr}/v2/test"),
        key: "key-id".into(),
        secret: secret.into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        trades: false,
        quotes: false,
        second_bars: false,
        minute_bars: true,
        daily_bars: false,
        updated_bars: false,
        msgpack: false,
    }
}

struct Client {
    commands: mpsc::Sender<ProviderCommand>,
    events: mpsc::Receiver<ReceivedFrame>,
    stats: Arc<ProviderStats>,
    task: tokio::task::JoinHandle<Result<(), ProviderError>>,
}

fn start_client(config: StreamConfig) -> Client {
    let (commands, cmd_rx) = mpsc::channel(8);
    let (ev_tx, events) = mpsc::channel(16);
    let stats = Arc::new(ProviderStats::default());
    let task = tokio::spawn(run_stream(config, cmd_rx, ev_tx, stats.clone()));
    Client { commands, events, stats, task }
}

impl Client {
    async fn batch(&mut self) -> Vec<SymbolEvent> {
        tokio::time::timeout(GUARD, self.events.recv()).await.expect("events in time").expect("stream running").events
    }

    async fn shutdown(self) {
        self.commands.send(ProviderCommand::Shutdown).await.unwrap();
        let result = tokio::time::timeout(GUARD, self.task).await.unwrap().unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

fn bar_close(e: &SymbolEvent) -> f64 {
    match e.event {
        MarketEvent::Bar { timeframe: Timeframe::Minute, bar } => bar.close,
        other => panic!("expected a minute bar, got {other:?}"),
    }
}

#[tokio::test]
async fn end_to_end_with_the_simulator() {
    let source = SimSource::RandomWalk { symbols: 10, bars: 300, seed: 3 };
    let data = liu_data::synthetic::random_walk(300, 10, 3);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, sim) = start_sim(sim_config(any, source, Speed::Max, false)).await;
    let wanted = ["SYM001", "SYM004", "SYM007"];
    let mut client = start_client(stream_config(addr, &wanted, "the-secret"));

    let mut per_symbol: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    let mut n = 0;
    while n < 3 * 300 {
        for e in client.batch().await {
            per_symbol.entry(e.symbol.to_string()).or_default().push((e.event.time(), bar_close(&e)));
            n += 1;
        }
    }
    assert_eq!(n, 900);
    let mut keys: Vec<&String> = per_symbol.keys().collect();
    keys.sort();
    assert_eq!(keys, wanted);
    for (sym, got) in &per_symbol {
        let id = data.symbols.iter().position(|s| s == sym).unwrap() as u32;
        let want: Vec<f64> = data.events.iter().filter(|e| e.symbol == id).map(|e| e.bar.close).collect();
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), want, "{sym}");
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "{sym}: times increase");
    }
    let stats = client.stats.snapshot();
    assert_eq!((stats.events, stats.malformed, stats.reconnects), (900, 0, 0));
    assert!(stats.connected);
    client.shutdown().await;
    sim.abort();
}

#[tokio::test]
async fn wrong_credentials_are_fatal() {
    let source = SimSource::RandomWalk { symbols: 2, bars: 10, seed: 1 };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, sim) = start_sim(sim_config(any, source, Speed::Max, false)).await;
    let client = start_client(stream_config(addr, &["SYM000"], "wrong"));
    let result = tokio::time::timeout(GUARD, client.task).await.unwrap().unwrap();
    match result {
        Err(ProviderError::Auth { code: 402, msg }) => assert_eq!(msg, "auth failed"),
        other => panic!("expected an auth error, got {other:?}"),
    }
    sim.abort();
}

#[tokio::test]
async fn invalid_url_is_fatal() {
    let (_c, cmd_rx) = mpsc::channel(1);
    let (tx, _rx) = mpsc::channel(1);
    let mut config = stream_config("127.0.0.1:1".parse().unwrap(), &[], "x");
    config.url = "http://example.invalid/".into();
    let result = run_stream(config, cmd_rx, tx, Arc::default()).await;
    assert!(matches!(result, Err(ProviderError::InvalidUrl(_))), "{result:?}");
}

/// Random-walk data with every price shifted up by `shift`.
fn shifted(shift: f64) -> MarketData {
    let mut d = liu_data::synthetic::random_walk(100, 4, 9);
    for e in &mut d.events {
        e.bar.open += shift;
        e.bar.high += shift;
        e.bar.low += shift;
        e.bar.close += shift;
    }
    d
}

#[tokio::test]
async fn reconnects_and_resubscribes() {
    // 1 ms per minute bar, forever.
    let speed = Speed::Factor(60_000.0);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, first) = start_sim(sim_config(any, SimSource::Data(shifted(0.0)), speed, true)).await;
    let mut client = start_client(stream_config(addr, &["SYM001", "SYM002"], "the-secret"));
    let batch = client.batch().await;
    assert!(batch.iter().all(|e| bar_close(e) < 5_000.0));

    // Stop the simulator (its connections close with it), then serve on
    // the same port with prices shifted by 10,000.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let (addr2, second) = start_sim(sim_config(addr, SimSource::Data(shifted(10_000.0)), speed, true)).await;
    assert_eq!(addr2, addr);

    let mut seen = BTreeSet::new();
    while seen.len() < 2 {
        for e in client.batch().await {
            assert!(e.symbol == "SYM001" || e.symbol == "SYM002", "{}", e.symbol);
            if bar_close(&e) > 5_000.0 {
                seen.insert(e.symbol);
            }
        }
    }
    let stats = client.stats.snapshot();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert!(stats.connected);
    client.shutdown().await;
    second.abort();
}

#[tokio::test]
async fn subscribe_command_adds_symbols() {
    let speed = Speed::Factor(60_000.0);
    let source = SimSource::RandomWalk { symbols: 4, bars: 100, seed: 5 };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, sim) = start_sim(sim_config(any, source, speed, true)).await;
    let mut client = start_client(stream_config(addr, &["SYM000"], "the-secret"));
    let batch = client.batch().await;
    assert!(batch.iter().all(|e| e.symbol == "SYM000"));

    client.commands.send(ProviderCommand::Subscribe(vec!["SYM002".into(), "SYM000".into()])).await.unwrap();
    loop {
        let batch = client.batch().await;
        assert!(batch.iter().all(|e| e.symbol == "SYM000" || e.symbol == "SYM002"));
        if batch.iter().any(|e| e.symbol == "SYM002") {
            break;
        }
    }
    client.shutdown().await;
    sim.abort();
}

#[tokio::test]
async fn dropping_the_events_receiver_stops_the_stream() {
    let source = SimSource::RandomWalk { symbols: 2, bars: 10, seed: 1 };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (addr, sim) = start_sim(sim_config(any, source, Speed::Max, true)).await;
    let mut client = start_client(stream_config(addr, &["*"], "the-secret"));
    client.batch().await;
    drop(client.events);
    let result = tokio::time::timeout(GUARD, client.task).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
    sim.abort();
}

#[test]
fn credentials_are_not_printed() {
    let mut c = stream_config("127.0.0.1:1".parse().unwrap(), &[], "the-secret");
    c.url = "wss://user:pw@example.com/v2/iex".into();
    let text = format!("{c:?}");
    assert!(!text.contains("the-secret") && !text.contains("key-id") && !text.contains("pw"), "{text}");
    assert!(text.contains("wss://***@example.com/v2/iex"), "{text}");
}
