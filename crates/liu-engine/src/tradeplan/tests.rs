//! Tests of [`super`].

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

const EXAMPLE: &str = include_str!("../../../../tradeplan.example.toml");

/// A fresh folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir =
            std::env::temp_dir().join(format!("liu-tradeplan-test-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn touch(&self, relative: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"\0asm").unwrap();
        path
    }

    /// Writes `text` as tradeplan.toml (with a fake `s.wasm`) and loads it.
    fn load(&self, text: &str) -> Result<TradePlan, TradePlanError> {
        self.touch("s.wasm");
        let path = self.0.join("tradeplan.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The minimal valid plan; tests append to or edit it.
const MINIMAL: &str = "\
portfolio_value = 1000.0
symbols = [\"AAPL\"]

[provider]
kind = \"alpaca\"

[[strategies]]
component = \"s.wasm\"
";

/// Parses `text` and returns the error's Display, minus the folder.
fn err(text: &str) -> String {
    let scratch = Scratch::new();
    let e = scratch.load(text).expect_err("expected an error");
    let shown = e.to_string();
    let prefix = format!("{}", scratch.0.display());
    shown.strip_prefix(&prefix).map(|s| s.trim_start_matches(['/', '\\'])).unwrap_or(&shown).to_string()
}

fn assert_err(text: &str, expected_start: &str) {
    let shown = err(text);
    assert!(shown.starts_with(expected_start), "got: {shown}\nexpected: {expected_start}…");
}

#[test]
fn example_parses_to_expected_values() {
    let scratch = Scratch::new();
    let sma = scratch.touch("target/strategies/sma-cross.wasm");
    let momentum = scratch.touch("target/strategies/momentum-long.wasm");
    let plan = scratch.load(EXAMPLE).unwrap();
    assert_eq!(
        plan,
        TradePlan {
            portfolio_value: 100000.0,
            risk: 0.001,
            stale_event_secs: 5.0,
            warmup_minutes: 390,
            consumers: 2,
            symbols: vec!["AAPL".into(), "MSFT".into()],
            provider: ProviderConfig {
                kind: ProviderKind::Alpaca { feed: AlpacaFeed::Iex },
                url: None,
                rest_url: None,
                events: vec![EventKind::Minute, EventKind::Trade, EventKind::Quote],
                msgpack: true,
            },
            broker: BrokerConfig { kind: BrokerKind::Paper, base_url: None },
            limits: OrderLimits { max_position_notional: Some(50000.0), max_open_positions: Some(10), shortable: true },
            scanners: vec![ScannerConfig {
                kind: ScannerKind::Momentum,
                filter: MomentumFilter {
                    min_price: 2.0,
                    max_price: 20.0,
                    min_volume: 30000.0,
                    min_day_change_pct: 3.5,
                    min_prev_day_dollar_volume: 500000.0,
                    max_symbols: 40,
                },
                recurrence_minutes: Some(5.0),
            }],
            strategies: vec![
                StrategyConfig {
                    component: sma,
                    params: vec![
                        ("fast".into(), ParamValue::Integer(10)),
                        ("slow".into(), ParamValue::Integer(30)),
                        ("qty".into(), ParamValue::Integer(10))
                    ],
                    schedule: vec![ScheduleWindow { start_minute: 15, duration_minutes: 150 }],
                    limits: StrategyLimits {
                        fuel_per_event: Some(10_000_000),
                        deadline_ms: Some(250),
                        memory_mb: Some(64),
                        log_bytes: Some(1_048_576),
                        log_bytes_per_minute: Some(65_536),
                        max_orders_per_minute: Some(600),
                        max_position_notional: Some(20000.0),
                        max_open_positions: None,
                        allowed_symbols: Some(vec!["AAPL".into(), "MSFT".into()]),
                    },
                    warmup_minutes: None,
                },
                StrategyConfig {
                    component: momentum,
                    params: vec![
                        ("qty".into(), ParamValue::Float(100.0)),
                        ("lookback".into(), ParamValue::Integer(60)),
                        ("rsi-entry-max".into(), ParamValue::Float(75.0))
                    ],
                    schedule: vec![],
                    limits: StrategyLimits::default(),
                    warmup_minutes: Some(960),
                },
            ],
            optimizer: Some(OptimizerPlan {
                start_date: Some("2024-01-02".into()),
                end_date: Some("2024-06-28".into()),
                hyperparameters: BTreeMap::from([(
                    "sma-cross".into(),
                    BTreeMap::from([
                        ("fast".into(), ParamRange::Int { min: 5, max: 20, delta: 5 }),
                        ("qty".into(), ParamRange::Float { min: 10.0, max: 50.0, delta: 20.0 }),
                        ("slow".into(), ParamRange::Values(vec![serde_json::json!(30), serde_json::json!(60)])),
                    ])
                )]),
            }),
        }
    );
    assert_eq!(plan.warmup_bars(), 960, "the most any strategy or the plan asks for");
}

#[test]
fn encoding_and_warmup_are_checked() {
    let scratch = Scratch::new();
    let plan = scratch.load(&MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nencoding = \"json\"")).unwrap();
    assert!(!plan.provider.msgpack);
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nencoding = \"xml\""),
        "tradeplan.toml:6:12: `provider.encoding`: unknown encoding \"xml\"",
    );
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"polygon\"\nencoding = \"msgpack\""),
        "tradeplan.toml:6:12: `provider.encoding`: Polygon's stream is JSON only",
    );
    assert_err(&MINIMAL.replace("symbols", "warmup_minutes = 99999\nsymbols"), "tradeplan.toml:2:18: `warmup_minutes`");
}

#[test]
fn algo_env_is_prod_only_on_alpacas_live_host() {
    let scratch = Scratch::new();
    let env_of = |broker: &str| scratch.load(&format!("{MINIMAL}\n{broker}")).unwrap().algo_env().as_str();
    assert_eq!(env_of(""), "PAPER");
    assert_eq!(env_of("[broker]\nkind = \"alpaca\""), "PAPER", "the default host is the paper one");
    assert_eq!(env_of("[broker]\nkind = \"alpaca\"\nbase_url = \"https://paper-api.alpaca.markets\""), "PAPER");
    assert_eq!(env_of("[broker]\nkind = \"alpaca\"\nbase_url = \"https://api.alpaca.markets\""), "PROD");
    assert_eq!(env_of("[broker]\nkind = \"alpaca\"\nbase_url = \"http://127.0.0.1:9301\""), "PAPER");
}

#[test]
fn defaults() {
    let plan = Scratch::new().load(MINIMAL).unwrap();
    assert!(plan.consumers >= 1);
    assert_eq!(plan.consumers, default_consumers());
    assert_eq!(plan.risk, 0.001);
    assert_eq!(plan.stale_event_secs, 5.0);
    assert_eq!(plan.warmup_minutes, DEFAULT_WARMUP_MINUTES);
    assert_eq!(plan.warmup_bars(), DEFAULT_WARMUP_MINUTES);
    assert_eq!(plan.provider.events, vec![EventKind::Minute]);
    assert!(plan.provider.msgpack, "alpaca's stream in MessagePack");
    assert_eq!(plan.provider.kind, ProviderKind::Alpaca { feed: AlpacaFeed::Iex });
    assert_eq!(plan.provider.url, None);
    assert_eq!(plan.broker, BrokerConfig { kind: BrokerKind::Paper, base_url: None });
    assert!(plan.limits.shortable);
    assert_eq!(plan.limits.max_position_notional, None);
    assert!(plan.scanners.is_empty());
    assert!(plan.strategies[0].schedule.is_empty());
    assert!(plan.strategies[0].active_at(0) && plan.strategies[0].active_at(389));
    assert_eq!(plan.strategies[0].limits, StrategyLimits::default());
    assert!(plan.strategies[0].params.is_empty());
    assert_eq!(plan.optimizer, None);
}

#[test]
fn relative_components_resolve_against_the_tradeplan_folder() {
    let scratch = Scratch::new();
    let component = scratch.touch("sub/strats/a.wasm");
    let plan_dir = scratch.0.join("sub/plans");
    std::fs::create_dir_all(&plan_dir).unwrap();
    let path = plan_dir.join("plan.toml");
    let text = MINIMAL.replace("s.wasm", "../strats/a.wasm");
    std::fs::write(&path, &text).unwrap();
    let plan = load(&path).unwrap();
    assert_eq!(std::fs::canonicalize(&plan.strategies[0].component).unwrap(), std::fs::canonicalize(&component).unwrap());
    assert!(plan.strategies[0].component.starts_with(&plan_dir));

    // An absolute component path is kept as is.
    let text = MINIMAL.replace("s.wasm", &component.display().to_string().replace('\\', "\\\\"));
    std::fs::write(&path, &text).unwrap();
    assert_eq!(load(&path).unwrap().strategies[0].component, component);
}

#[test]
fn symbols_are_uppercased_and_checked() {
    let plan = Scratch::new().load(&MINIMAL.replace("[\"AAPL\"]", "[\"aapl\", \"brk.b\"]")).unwrap();
    assert_eq!(plan.symbols, vec!["AAPL", "BRK.B"]);
    assert_err(
        &MINIMAL.replace("[\"AAPL\"]", "[\"AAPL\", \"msft\", \"MSFT\"]"),
        "tradeplan.toml:2:28: `symbols[2]`: duplicate symbol \"MSFT\" (first at line 2)",
    );
    assert_err(&MINIMAL.replace("[\"AAPL\"]", "[\"AAPL\", \"A PL\"]"), "tradeplan.toml:2:20: `symbols[1]`: invalid symbol \"A PL\"");
    assert_err(&MINIMAL.replace("[\"AAPL\"]", "[\"\"]"), "tradeplan.toml:2:12: `symbols[0]`: invalid symbol \"\"");
    assert_err(&MINIMAL.replace("[\"AAPL\"]", "[1]"), "tradeplan.toml:2:12: `symbols[0]`: expected a string, got an integer");
    assert_err(
        &MINIMAL.replace("[\"AAPL\"]", "[]"),
        "tradeplan.toml:2:11: nothing to trade: `symbols` is empty and there are no [[scanners]]",
    );
}

#[test]
fn unknown_keys() {
    assert_err(
        &MINIMAL.replace("symbols", "consumer = 2\nsymbols"),
        "tradeplan.toml:2:1: unknown key `consumer`, expected one of `portfolio_value`, `risk`",
    );
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nkinds = 1"),
        "tradeplan.toml:6:1: unknown key `provider.kinds`, expected one of `kind`, `feed`, `url`, `rest_url`, `events`",
    );
    assert_err(
        &format!("{MINIMAL}schedule = [{{ start = 1, length = 2 }}]\n"),
        "tradeplan.toml:9:26: unknown key `strategies[0].schedule[0].length`, expected one of `start`, `duration`",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nfuel = 1\n"),
        "tradeplan.toml:10:1: unknown key `strategies[0].limits.fuel`, expected one of `fuel_per_event`",
    );
}

#[test]
fn top_level_values() {
    assert_err(&MINIMAL.replace("symbols", "consumers = 0\nsymbols"), "tradeplan.toml:2:13: `consumers` must be at least 1, got 0");
    assert_err(&MINIMAL.replace("symbols", "consumers = -3\nsymbols"), "tradeplan.toml:2:13: `consumers` must be at least 1, got -3");
    assert_err(
        &MINIMAL.replace("symbols", "consumers = 1.5\nsymbols"),
        "tradeplan.toml:2:13: `consumers`: expected an integer, got a float",
    );
    assert_err(&MINIMAL.replace("1000.0", "0"), "tradeplan.toml:1:19: `portfolio_value` must be greater than 0, got 0");
    assert_err(&MINIMAL.replace("1000.0", "inf"), "tradeplan.toml:1:19: `portfolio_value` must be a finite number, got inf");
    assert_err(&MINIMAL.replace("1000.0", "nan"), "tradeplan.toml:1:19: `portfolio_value` must be a finite number, got NaN");
    assert_err(&MINIMAL.replace("1000.0", "\"lots\""), "tradeplan.toml:1:19: `portfolio_value`: expected a number, got a string");
    assert_err(&MINIMAL.replace("portfolio_value = 1000.0\n", "\n"), "tradeplan.toml:1:1: missing key `portfolio_value`");
    for bad in ["0", "1", "1.5", "-0.1"] {
        assert_err(
            &MINIMAL.replace("symbols", &format!("risk = {bad}\nsymbols")),
            &format!("tradeplan.toml:2:8: `risk` must be between 0 and 1 (exclusive), got {}", bad.parse::<f64>().unwrap()),
        );
    }
    assert_err(
        &MINIMAL.replace("symbols", "stale_event_secs = 0\nsymbols"),
        "tradeplan.toml:2:20: `stale_event_secs` must be greater than 0, got 0",
    );
    assert_err(&MINIMAL.replace("symbols", "consumers = 99999999999999999999\nsymbols"), "tradeplan.toml:2:");
}

#[test]
fn provider() {
    assert_err(
        &MINIMAL.replace("\"alpaca\"", "\"ibkr\""),
        "tradeplan.toml:5:8: `provider.kind`: unknown value \"ibkr\", expected \"alpaca\" or \"polygon\"",
    );
    assert_err(&MINIMAL.replace("[provider]\nkind = \"alpaca\"\n", ""), "tradeplan.toml:1:1: missing table [provider]");
    assert_err(&MINIMAL.replace("kind = \"alpaca\"\n", ""), "tradeplan.toml:4:1: missing key `provider.kind`");
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nfeed = \"otc\""),
        "tradeplan.toml:6:8: `provider.feed`: unknown alpaca feed \"otc\", expected \"iex\", \"sip\" or \"test\"",
    );
    let plan = Scratch::new()
        .load(&MINIMAL.replace("kind = \"alpaca\"", "kind = \"polygon\"\nfeed = \"whatever\"\nurl = \"wss://x.test/stocks\""))
        .unwrap();
    assert_eq!(plan.provider.kind, ProviderKind::Polygon, "Polygon has no feed: `feed` is ignored");
    assert_eq!(plan.provider.url.as_deref(), Some("wss://x.test/stocks"));
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nurl = \"http://x\""),
        "tradeplan.toml:6:7: `provider.url`: \"http://x\" is not a ws:// or wss:// URL",
    );
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nevents = [\"minute\", \"bars\"]"),
        "tradeplan.toml:6:21: `provider.events[1]`: unknown event \"bars\"",
    );
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nevents = [\"minute\", \"minute\"]"),
        "tradeplan.toml:6:21: `provider.events[1]`: listed twice",
    );
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\nevents = []"),
        "tradeplan.toml:6:10: `provider.events`: must list at least one event",
    );
    assert_err(
        &MINIMAL.replace("[provider]\nkind = \"alpaca\"", "provider = \"alpaca\""),
        "tradeplan.toml:4:12: `provider`: expected a table, got a string",
    );
}

#[test]
fn broker_and_limits() {
    let plan = Scratch::new()
        .load(&format!(
            "{MINIMAL}\n[broker]\nkind = \"alpaca\"\nbase_url = \"https://paper-api.alpaca.markets\"\n[limits]\nshortable = false\n"
        ))
        .unwrap();
    assert_eq!(plan.broker, BrokerConfig { kind: BrokerKind::Alpaca, base_url: Some("https://paper-api.alpaca.markets".into()) });
    assert!(!plan.limits.shortable);
    // Lines 9.. of the appended text: 9 blank, 10 [broker], 11 kind, 12 base_url.
    assert_err(
        &format!("{MINIMAL}\n[broker]\nbase_url = \"https://x\"\n"),
        "tradeplan.toml:11:1: `broker.base_url`: applies only to kind = \"alpaca\"",
    );
    assert_err(
        &format!("{MINIMAL}\n[broker]\nkind = \"ib\"\n"),
        "tradeplan.toml:11:8: `broker.kind`: unknown value \"ib\", expected \"paper\" or \"alpaca\"",
    );
    assert_err(
        &format!("{MINIMAL}\n[limits]\nmax_position_notional = -1\n"),
        "tradeplan.toml:11:25: `limits.max_position_notional` must be greater than 0, got -1",
    );
    assert_err(
        &format!("{MINIMAL}\n[limits]\nmax_open_positions = 0\n"),
        "tradeplan.toml:11:22: `limits.max_open_positions` must be at least 1, got 0",
    );
    assert_err(
        &format!("{MINIMAL}\n[limits]\nshortable = \"yes\"\n"),
        "tradeplan.toml:11:13: `limits.shortable`: expected true or false, got a string",
    );
}

#[test]
fn scanners() {
    let scanner = "\n[[scanners]]\nkind = \"momentum\"\n";
    let plan = Scratch::new().load(&format!("{MINIMAL}{scanner}")).unwrap();
    assert_eq!(plan.scanners[0].filter.max_symbols, 40);
    assert_eq!(plan.scanners[0].recurrence_minutes, None);
    // Scanners alone are enough to trade.
    Scratch::new().load(&format!("{}{scanner}", MINIMAL.replace("[\"AAPL\"]", "[]"))).unwrap();
    assert_err(
        &format!("{MINIMAL}{scanner}min_price = 25\nmax_price = 20\n"),
        "tradeplan.toml:13:13: `scanners[0].min_price` (25) must not exceed `scanners[0].max_price` (20)",
    );
    assert_err(&format!("{MINIMAL}{scanner}min_price = 25\n"), "tradeplan.toml:12:13: `scanners[0].min_price` (25)");
    assert_err(
        &format!("{MINIMAL}{scanner}max_symbols = 0\n"),
        "tradeplan.toml:12:15: `scanners[0].max_symbols` must be at least 1, got 0",
    );
    assert_err(
        &format!("{MINIMAL}{scanner}recurrence_minutes = 0\n"),
        "tradeplan.toml:12:22: `scanners[0].recurrence_minutes` must be greater than 0, got 0",
    );
    assert_err(
        &format!("{MINIMAL}{scanner}\n[[scanners]]\nkind = \"gap\"\n"),
        "tradeplan.toml:14:8: `scanners[1].kind`: unknown value \"gap\", expected \"momentum\"",
    );
    assert_err(&format!("{MINIMAL}\n[[scanners]]\nmin_price = 1\n"), "tradeplan.toml:10:1: missing key `scanners[0].kind`");
    assert_err(
        &format!("{MINIMAL}{scanner}min_volume = -5\n"),
        "tradeplan.toml:12:14: `scanners[0].min_volume` must not be negative, got -5",
    );
    assert_err(
        &format!("scanners = 3\n{MINIMAL}"),
        "tradeplan.toml:1:12: `scanners`: expected an array of tables ([[scanners]]), got an integer",
    );
}

#[test]
fn strategies() {
    assert_err(
        &MINIMAL.replace("[[strategies]]\ncomponent = \"s.wasm\"\n", ""),
        "tradeplan.toml:1:1: no strategies: add at least one [[strategies]] table",
    );
    assert_err(&MINIMAL.replace("component = \"s.wasm\"", "params = {}"), "tradeplan.toml:7:1: missing key `strategies[0].component`");
    let shown = err(&MINIMAL.replace("s.wasm", "nope.wasm"));
    assert!(shown.starts_with("tradeplan.toml:8:13: `strategies[0].component`: no such file: "), "{shown}");
    assert!(shown.ends_with("nope.wasm"), "{shown}");
    let shown = err(&MINIMAL.replace("s.wasm", "."));
    assert!(shown.starts_with("tradeplan.toml:8:13: `strategies[0].component`: not a file: "), "{shown}");
    assert_err(&MINIMAL.replace("\"s.wasm\"", "\"\""), "tradeplan.toml:8:13: `strategies[0].component`: must not be empty");
    assert_err(
        &format!("strategies = []\n{MINIMAL}").replace("[[strategies]]\ncomponent = \"s.wasm\"\n", ""),
        "tradeplan.toml:1:14: `strategies`: add at least one",
    );
}

#[test]
fn params() {
    let plan = Scratch::new()
        .load(&format!("{MINIMAL}params = {{ z = 1, a = 10.5, b = 10.0, s = \"x y\", t = true, h = 0x10, n = -2, at = 15:45:00 }}\n"))
        .unwrap();
    let params: Vec<(&str, &ParamValue)> = plan.strategies[0].params.iter().map(|(n, v)| (n.as_str(), v)).collect();
    assert_eq!(
        params,
        vec![
            ("z", &ParamValue::Integer(1)),
            ("a", &ParamValue::Float(10.5)),
            ("b", &ParamValue::Float(10.0)),
            ("s", &ParamValue::Text("x y".into())),
            ("t", &ParamValue::Flag(true)),
            ("h", &ParamValue::Integer(16)),
            ("n", &ParamValue::Integer(-2)),
            ("at", &ParamValue::Text("15:45:00".into()))
        ]
    );
    assert_err(
        &format!("{MINIMAL}params = {{ slow = 3, fast = [1, 2] }}\n"),
        "tradeplan.toml:9:22: `strategies[0].params.fast`: arrays/tables are not allowed as parameter values",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.params]\nfast = {{ a = 1 }}\n"),
        "tradeplan.toml:10:1: `strategies[0].params.fast`: arrays/tables are not allowed as parameter values",
    );
    assert_err(
        &format!("{MINIMAL}params = {{ x = nan }}\n"),
        "tradeplan.toml:9:16: `strategies[0].params.x` must be a finite number, got NaN",
    );
    assert_err(&format!("{MINIMAL}params = 3\n"), "tradeplan.toml:9:10: `strategies[0].params`: expected a table, got an integer");
}

#[test]
fn schedule() {
    let plan =
        Scratch::new().load(&format!("{MINIMAL}schedule = [{{ start = 0, duration = 30 }}, {{ start = 360, duration = 30 }}]\n")).unwrap();
    let s = &plan.strategies[0];
    assert_eq!(s.schedule[1], ScheduleWindow { start_minute: 360, duration_minutes: 30 });
    assert!(s.active_at(0) && s.active_at(29) && !s.active_at(30) && s.active_at(389) && !s.active_at(390));
    let w = ScheduleWindow { start_minute: 15, duration_minutes: 150 };
    assert!(!w.contains(14) && w.contains(15) && w.contains(164) && !w.contains(165) && !w.contains(u32::MAX));
    assert_err(
        &format!("{MINIMAL}schedule = [{{ start = 15, duration = 0 }}]\n"),
        "tradeplan.toml:9:38: `strategies[0].schedule[0].duration` must be at least 1, got 0",
    );
    assert_err(
        &format!("{MINIMAL}schedule = [{{ start = 300, duration = 100 }}]\n"),
        "tradeplan.toml:9:39: `strategies[0].schedule[0].duration`: window 300..400 ends after the regular session",
    );
    assert_err(
        &format!("{MINIMAL}schedule = [{{ start = -1, duration = 10 }}]\n"),
        "tradeplan.toml:9:23: `strategies[0].schedule[0].start` must be at least 0, got -1",
    );
    assert_err(
        &format!("{MINIMAL}schedule = [{{ duration = 10 }}]\n"),
        "tradeplan.toml:9:13: missing key `strategies[0].schedule[0].start`",
    );
}

#[test]
fn strategy_limits() {
    for (key, col) in [("fuel_per_event", 18), ("deadline_ms", 15), ("memory_mb", 13), ("log_bytes", 13)] {
        assert_err(
            &format!("{MINIMAL}[strategies.limits]\n{key} = 0\n"),
            &format!("tradeplan.toml:10:{col}: `strategies[0].limits.{key}` must be at least 1, got 0"),
        );
    }
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nmemory_mb = 5000\n"),
        "tradeplan.toml:10:13: `strategies[0].limits.memory_mb` must be at most 4096, got 5000",
    );
}

#[test]
fn strategy_trading_limits() {
    let plan = Scratch::new()
            .load(&format!(
                "{MINIMAL}[strategies.limits]\nmax_orders_per_minute = 30\nmax_position_notional = 2500.5\nmax_open_positions = 3\nallowed_symbols = [\"aapl\", \"brk.b\"]\nlog_bytes_per_minute = 4096\n"
            ))
            .unwrap();
    let l = &plan.strategies[0].limits;
    assert_eq!(l.max_orders_per_minute, Some(30));
    assert_eq!(l.max_position_notional, Some(2500.5));
    assert_eq!(l.max_open_positions, Some(3));
    assert_eq!(l.allowed_symbols.as_deref(), Some(&["AAPL".to_string(), "BRK.B".to_string()][..]));
    assert_eq!(l.log_bytes_per_minute, Some(4096));
    for (key, col) in [("max_orders_per_minute", 25), ("max_open_positions", 22), ("log_bytes_per_minute", 24)] {
        assert_err(
            &format!("{MINIMAL}[strategies.limits]\n{key} = 0\n"),
            &format!("tradeplan.toml:10:{col}: `strategies[0].limits.{key}` must be at least 1, got 0"),
        );
    }
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nmax_orders_per_minute = 5000000000\n"),
        "tradeplan.toml:10:25: `strategies[0].limits.max_orders_per_minute` must be at most 4294967295, got 5000000000",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nmax_position_notional = 0\n"),
        "tradeplan.toml:10:25: `strategies[0].limits.max_position_notional` must be greater than 0, got 0",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nmax_position_notional = \"lots\"\n"),
        "tradeplan.toml:10:25: `strategies[0].limits.max_position_notional`: expected a number, got a string",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nallowed_symbols = [\"AAPL\", \"A PL\"]\n"),
        "tradeplan.toml:10:28: `strategies[0].limits.allowed_symbols[1]`: invalid symbol \"A PL\"",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nallowed_symbols = [\"aapl\", \"AAPL\"]\n"),
        "tradeplan.toml:10:28: `strategies[0].limits.allowed_symbols[1]`: duplicate symbol \"AAPL\" (first at line 10)",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nallowed_symbols = []\n"),
        "tradeplan.toml:10:19: `strategies[0].limits.allowed_symbols`: must list at least one symbol",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nallowed_symbols = \"AAPL\"\n"),
        "tradeplan.toml:10:19: `strategies[0].limits.allowed_symbols`: expected an array, got a string",
    );
    assert_err(
        &format!("{MINIMAL}[strategies.limits]\nmax_orders = 5\n"),
        "tradeplan.toml:10:1: unknown key `strategies[0].limits.max_orders`, expected one of `fuel_per_event`",
    );
}

#[test]
fn credentials_are_refused() {
    let expected_message =
        "credentials are read from the environment (APCA_API_KEY_ID / APCA_API_SECRET_KEY, POLYGON_API_KEY), not from the tradeplan";
    assert_eq!(
        err(&MINIMAL.replace("kind = \"alpaca\"", "kind = \"alpaca\"\napi_key = \"PK123\"")),
        format!("tradeplan.toml:6:1: {expected_message}")
    );
    assert_eq!(err(&format!("secret = \"x\"\n{MINIMAL}")), format!("tradeplan.toml:1:1: {expected_message}"));
    assert_eq!(
        err(&format!("{MINIMAL}params = {{ fast = 1, password = \"hunter2\" }}\n")),
        format!("tradeplan.toml:9:22: {expected_message}")
    );
    assert_eq!(
        err(&format!("{MINIMAL}\n[broker]\nkind = \"alpaca\"\nAPCA-API-SECRET-KEY = \"x\"\nkey = \"y\"\n")),
        format!("tradeplan.toml:12:1: {expected_message}")
    );
    for ok in ["monkey", "keys", "key_level", "tokens_per_bar"] {
        assert!(!is_credential(ok), "{ok}");
    }
    for bad in ["key", "KEY", "api_key", "api-key", "secret_key", "polygon_api_key", "password", "access_token", "key_id"] {
        assert!(is_credential(bad), "{bad}");
    }
}

#[test]
fn unreadable_and_invalid_toml() {
    let scratch = Scratch::new();
    let missing = scratch.0.join("absent.toml");
    let shown = load(&missing).unwrap_err().to_string();
    assert!(shown.starts_with(&format!("{}: cannot read: ", missing.display())), "{shown}");

    let e = scratch.load("portfolio_value = 1\nrisk = = 2\n").unwrap_err();
    assert!(matches!(e, TradePlanError::Syntax { .. }), "{e:?}");
    assert_eq!(e.location().map(|(line, _)| line), Some(2), "{e}");

    let e = scratch.load("a = 1\na = 2\n").unwrap_err();
    assert_eq!(e.location(), Some((2, 1)), "{e}");
    assert!(e.to_string().ends_with("tradeplan.toml:2:1: duplicate key `a`"), "{e}");
}

#[test]
fn no_panics_on_odd_input() {
    let scratch = Scratch::new();
    for text in [
        "",
        "\u{feff}",
        "é = 1",
        "[[strategies]]\n[[strategies]]\n",
        "strategies = [1, 2]",
        "strategies = [[]]",
        "portfolio_value = 1e400",
        "portfolio_value = 1\nconsumers = 0x7fffffffffffffff",
        "symbols = \"AAPL\"",
        "[provider]\nkind = [\"alpaca\"]",
        "provider.events = [[\"minute\"]]",
    ] {
        let _ = scratch.load(text);
        let _ = parse(text, Path::new(""));
    }
    // Multi-byte characters count as one column.
    assert_err(&format!("{MINIMAL}params = {{ 'é' = 1, 'ü' = [1] }}\n"), "tradeplan.toml:9:21: `strategies[0].params.\"ü\"`");
}

#[test]
fn alpaca_feeds() {
    let scratch = Scratch::new();
    for feed in AlpacaFeed::ALL {
        let plan =
            scratch.load(&MINIMAL.replace("kind = \"alpaca\"", &format!("kind = \"alpaca\"\nfeed = \"{}\"", feed.as_str()))).unwrap();
        assert_eq!(plan.provider.kind, ProviderKind::Alpaca { feed });
    }
    assert_err(
        &MINIMAL.replace("kind = \"alpaca\"", "kind = \"polygon\"\nfeed = 1"),
        "tradeplan.toml:6:8: `provider.feed`: expected a string, got an integer",
    );
}

/// `[optimizer]` appended to the minimal plan: its lines start at 9.
fn with_optimizer(text: &str) -> String {
    format!("{MINIMAL}{text}")
}

const FAST: &str = "[optimizer.hyperparameters.strategies.sma-cross.fast]\n";
const FAST_KEY: &str = "optimizer.hyperparameters.strategies.sma-cross.fast";

#[test]
fn optimizer_plan() {
    let plan = Scratch::new()
        .load(&with_optimizer(
            "[optimizer]\nstart_date = 2024-01-02\nend_date = \"2024-06-28T16:00:00Z\"\n\
             [optimizer.hyperparameters.strategies.\"my.sma\"]\nfast = { min = 2, max = 10, delta = 2 }\n\
             pct = { min = 0.5, max = 1.5, delta = 0.25 }\nmode = { values = [\"gtc\", 1, 2.5, true, 2024-01-02] }\n",
        ))
        .unwrap();
    let optimizer = plan.optimizer.unwrap();
    assert_eq!(optimizer.start_date.as_deref(), Some("2024-01-02"), "a TOML date, as its text");
    assert_eq!(optimizer.end_date.as_deref(), Some("2024-06-28T16:00:00Z"));
    let ranges = &optimizer.hyperparameters["my.sma"];
    assert_eq!(ranges["fast"], ParamRange::Int { min: 2, max: 10, delta: 2 });
    assert_eq!(ranges["pct"], ParamRange::Float { min: 0.5, max: 1.5, delta: 0.25 });
    assert_eq!(ranges["mode"], ParamRange::Values(serde_json::from_str(r#"["gtc", 1, 2.5, true, "2024-01-02"]"#).unwrap()));

    // An optimizer table alone, or without hyperparameters.
    let plan = Scratch::new().load(&with_optimizer("[optimizer]\n")).unwrap();
    assert_eq!(plan.optimizer, Some(OptimizerPlan { start_date: None, end_date: None, hyperparameters: BTreeMap::new() }));
}

#[test]
fn optimizer_mistakes() {
    assert_err(
        &with_optimizer("[optimizer]\nstart = \"2024-01-02\"\n"),
        "tradeplan.toml:10:1: unknown key `optimizer.start`, expected one of `start_date`, `end_date`, `hyperparameters`",
    );
    assert_err(
        &with_optimizer("[optimizer]\nstart_date = \"soon\"\n"),
        "tradeplan.toml:10:14: `optimizer.start_date`: expected a date (2024-01-31), a datetime or epoch seconds, got \"soon\"",
    );
    assert_err(
        &with_optimizer("[optimizer]\nend_date = 3\n"),
        "tradeplan.toml:10:12: `optimizer.end_date`: expected a date, got an integer",
    );
    assert_err(
        &with_optimizer("[optimizer]\nstart_date = 2024-02-01\nend_date = 2024-01-01\n"),
        "tradeplan.toml:11:12: `optimizer.start_date` (2024-02-01) must not be after `optimizer.end_date` (2024-01-01)",
    );
    assert_err(
        &with_optimizer("[optimizer]\nhyperparameters = 1\n"),
        "tradeplan.toml:10:19: `optimizer.hyperparameters`: expected a table, got an integer",
    );
    assert_err(
        &with_optimizer("[optimizer.hyperparameters.params.sma-cross.fast]\nmin = 1\n"),
        "tradeplan.toml:9:28: unknown key `optimizer.hyperparameters.params`, expected one of `strategies`",
    );
    assert_err(
        &with_optimizer("[optimizer.hyperparameters.strategies]\nsma-cross = 1\n"),
        "tradeplan.toml:10:13: `optimizer.hyperparameters.strategies.sma-cross`: expected a table, got an integer",
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1\nmax = 2\nstep = 1\n")),
        &format!("tradeplan.toml:12:1: unknown key `{FAST_KEY}.step`, expected one of `min`, `max`, `delta`, `values`"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1\nmax = 5\n")),
        &format!("tradeplan.toml:9:1: missing key `{FAST_KEY}.delta`: a range is `min`, `max` and `delta`, or `values`"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1\nmax = 5\ndelta = 0\n")),
        &format!("tradeplan.toml:12:9: `{FAST_KEY}.delta` must be greater than 0, got 0"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1.0\nmax = 5.0\ndelta = -0.5\n")),
        &format!("tradeplan.toml:12:9: `{FAST_KEY}.delta` must be greater than 0, got -0.5"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 6\nmax = 5\ndelta = 1\n")),
        &format!("tradeplan.toml:11:7: `{FAST_KEY}.min` (6) must not exceed `{FAST_KEY}.max` (5)"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1\nmax = 5.5\ndelta = 1\n")),
        &format!("tradeplan.toml:11:7: `{FAST_KEY}.max`: expected an integer, as `min` is, got a float"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = 1.0\nmax = 5.5\ndelta = 1\n")),
        &format!("tradeplan.toml:12:9: `{FAST_KEY}.delta`: expected a float, as `min` is, got an integer"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = \"1\"\nmax = 5\ndelta = 1\n")),
        &format!("tradeplan.toml:10:7: `{FAST_KEY}.min`: expected a number, got a string"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}min = nan\nmax = 5.0\ndelta = 1.0\n")),
        &format!("tradeplan.toml:10:7: `{FAST_KEY}.min` must be a finite number, got NaN"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}values = [1, 2]\ndelta = 1\n")),
        &format!("tradeplan.toml:11:9: `{FAST_KEY}.delta`: give either `values` or `min`, `max` and `delta`, not both"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}values = []\n")),
        &format!("tradeplan.toml:10:10: `{FAST_KEY}.values`: must list at least one value"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}values = [1, [2]]\n")),
        &format!("tradeplan.toml:10:14: `{FAST_KEY}.values[1]`: arrays/tables are not allowed as parameter values"),
    );
    assert_err(
        &with_optimizer(&format!("{FAST}values = 3\n")),
        &format!("tradeplan.toml:10:10: `{FAST_KEY}.values`: expected an array, got an integer"),
    );
    assert_err(
        &with_optimizer("[optimizer.hyperparameters.strategies.sma-cross]\nfast = [1, 2]\n"),
        "tradeplan.toml:10:8: `optimizer.hyperparameters.strategies.sma-cross.fast`: expected a table, got an array",
    );
}

/// serde would fill a table from an array of its values in order; a
/// tradeplan's tables are tables.
#[test]
fn tables_are_not_arrays() {
    assert_err(
        &format!("{MINIMAL}schedule = [[1, 30]]\n"),
        "tradeplan.toml:9:13: `strategies[0].schedule[0]`: expected a table, got an array",
    );
    assert_err(
        &MINIMAL.replace("[provider]\nkind = \"alpaca\"", "provider = [\"alpaca\", \"iex\"]"),
        "tradeplan.toml:4:12: `provider`: expected a table, got an array",
    );
    assert_err(&format!("limits = 2024-01-02\n{MINIMAL}"), "tradeplan.toml:1:10: `limits`: expected a table, got a datetime");
    assert_err(&format!("risk = 2024-01-02\n{MINIMAL}"), "tradeplan.toml:1:8: `risk`: expected a number, got a datetime");
    assert_err(
        &format!("strategies = [1]\n{MINIMAL}").replace("[[strategies]]\ncomponent = \"s.wasm\"\n", ""),
        "tradeplan.toml:1:15: `strategies[0]`: expected a table, got an integer",
    );
}

#[test]
fn numbers_out_of_range() {
    assert_err(
        &MINIMAL.replace("symbols", "consumers = 99999999999999999999\nsymbols"),
        "tradeplan.toml:2:13: `consumers`: integer 99999999999999999999 is out of range",
    );
    assert_err(
        &format!("{MINIMAL}params = {{ fast = 1, x = 9999999999999999999 }}\n"),
        "tradeplan.toml:9:26: `strategies[0].params.x`: integer 9999999999999999999 is out of range",
    );
    assert_err(&MINIMAL.replace("1000.0", "1e400"), "tradeplan.toml:1:19: `portfolio_value` must be a finite number, got 1e400");
}
