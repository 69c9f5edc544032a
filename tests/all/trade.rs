//! End to end: `liu-engine simulate` (a real WebSocket server speaking the
//! Alpaca stream protocol) and `liu-engine trade` (a producer and real
//! consumer processes), checked through their logs and the database.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::common::*;

const KEY: &str = "test-key-id";
const SECRET: &str = "test-secret";

/// A running child whose output lines arrive on a channel.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_liu-engine"));
        cmd.args(args)
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("LIU_LOG", "info")
            .env("LIU_CACHE_DIR", repo().join("target/liu-cache"))
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Proc::from_command(cmd)
    }

    /// Spawns a command set up with piped stdout and stderr.
    fn from_command(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("spawn");
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Proc { child, lines, seen: Vec::new() }
    }

    /// Waits (up to `limit`) for a line satisfying `pred`; returns it.
    fn wait_for(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("timed out; output so far:\n{}", self.seen.join("\n")),
                Err(RecvTimeoutError::Disconnected) => panic!("process ended; output:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for the process to exit and returns all of its output.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn simulator(listen: &str, speed: &str) -> (Proc, String) {
    let mut sim = Proc::spawn(&["simulate", "--listen", listen, "--symbols", "20", "--bars", "100000", "--speed", speed], &[]);
    let line = sim.wait_for(Duration::from_secs(30), |l| l.starts_with("simulator listening on "));
    let url = line.trim_start_matches("simulator listening on ").to_owned();
    (sim, url)
}

fn symbols_list() -> String {
    (0..20).map(|i| format!("\"SYM{i:03}\"")).collect::<Vec<_>>().join(", ")
}

fn write_plan(dir: &Path, url: &str, stale_secs: f64, extra_strategies: &str) -> PathBuf {
    let sma = component("sma-cross");
    let plan = format!(
        r#"portfolio_value = 100000.0
stale_event_secs = {stale_secs}
# No REST stand-in here to warm up from.
warmup_minutes = 0
consumers = 2
symbols = [{symbols}]

[provider]
kind = "alpaca"
feed = "test"
url = "{url}"
events = ["minute"]

[[strategies]]
component = "{sma}"
params = {{ fast = 2, slow = 4, qty = 1 }}
{extra_strategies}
"#,
        symbols = symbols_list(),
        sma = sma.display()
    );
    let path = dir.join("tradeplan.toml");
    std::fs::write(&path, plan).unwrap();
    path
}

/// `trade --json` on `plan` into `db` for `secs` seconds.
fn spawn_trade(plan: &Path, db: &Path, secs: &str) -> Proc {
    Proc::spawn(
        &["trade", "--tradeplan", plan.to_str().unwrap(), "--db", db.to_str().unwrap(), "--duration-secs", secs, "--json"],
        &[("POLYGON_API_KEY", POLYGON_KEY)],
    )
}

/// Runs `trade` to its end; it must succeed without printing a credential.
/// Returns the batch id and the output.
fn run_trade(plan: &Path, db: &Path, secs: &str) -> (String, Vec<String>) {
    let (status, lines) = spawn_trade(plan, db, secs).finish();
    assert!(status.success(), "{}", lines.join("\n"));
    let text = lines.join("\n");
    assert!(!text.contains(SECRET) && !text.contains(KEY) && !text.contains(POLYGON_KEY), "credentials leaked into output");
    (batch_of(&lines), lines)
}

/// Stops a running `trade` as a user would, with Ctrl-C (SIGINT to the
/// producer, which shuts its consumers down); returns how it ended and its output.
fn stop(trade: Proc) -> (std::process::ExitStatus, Vec<String>) {
    kill(trade.child.id() as i32, libc::SIGINT);
    trade.finish()
}

/// Symbols with fills per algo_run, over the whole database (one batch).
fn symbols_by_run_now(db: &Path) -> HashMap<i64, BTreeSet<String>> {
    symbols_by_run_in(db, None)
}

/// Runs `trade` on `plan` until the database shows `ready` (see
/// [`symbols_by_run_now`]), then stops it; it must end well without printing
/// a credential. Returns the batch id and the output.
fn trade_until(plan: &Path, db: &Path, what: &str, ready: impl Fn(&HashMap<i64, BTreeSet<String>>) -> bool) -> (String, Vec<String>) {
    let mut trade = spawn_trade(plan, db, "60");
    trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
    wait_until(Duration::from_secs(40), what, || symbols_by_run_now(db), ready);
    let (status, lines) = stop(trade);
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(KEY) && !text.contains(POLYGON_KEY), "credentials leaked into output");
    (batch_of(&lines), lines)
}

/// Traded symbols, over every run.
fn traded(by_run: &HashMap<i64, BTreeSet<String>>) -> BTreeSet<&str> {
    by_run.values().flatten().map(String::as_str).collect()
}

/// Waits until both consumers of a two-consumer `trade` have connected;
/// returns each one's "consumer connected" line, by `consumer=N`.
fn both_connected(trade: &mut Proc) -> BTreeMap<&'static str, String> {
    let mut connected = BTreeMap::new();
    while connected.len() < 2 {
        let line = trade.wait_for(Duration::from_secs(30), |l| l.contains("consumer connected"));
        let consumer = if line.contains("consumer=0") { "consumer=0" } else { "consumer=1" };
        connected.insert(consumer, line);
    }
    connected
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn pid_of(line: &str) -> u32 {
    let at = line.find("pid=").expect("pid field") + 4;
    line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// Sends `signal` to process `pid` (a negative `pid` is a process group).
///
/// Through libc, not procps' `kill` command: `kill -KILL -<pgid>` there also
/// signals every process on the machine (kill(-1)), which is how earlier CI
/// runs lost their runner and never finished.
fn kill(pid: i32, signal: libc::c_int) {
    assert!(pid != 0 && pid != -1, "refusing to signal {pid}");
    // SAFETY: kill(2) has no memory effects.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
}

/// Symbols with fills, per algo_run of the batch.
fn symbols_by_run(db: &Path, batch: &str) -> HashMap<i64, BTreeSet<String>> {
    symbols_by_run_in(db, Some(batch))
}

/// Symbols with fills per algo_run: of `batch`, or of every run so far
/// (a live session's, whose batch id is printed when it ends).
fn symbols_by_run_in(db: &Path, batch: Option<&str>) -> HashMap<i64, BTreeSet<String>> {
    let rows: Vec<(i64, String)> = query(db, async |c| {
        sqlx::query_as(
            "SELECT DISTINCT t.algo_run_id, t.symbol FROM new_trades t JOIN algo_run r USING (algo_run_id) WHERE ?1 IS NULL OR r.batch_id = ?1",
        )
        .bind(batch)
        .fetch_all(c)
        .await
        .unwrap()
    });
    let mut out: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for (run, symbol) in rows {
        out.entry(run).or_default().insert(symbol);
    }
    out
}

/// The `--json` summary among a run's output lines (it is printed last, pretty).
/// Log lines (stderr, read on another thread) may land among its lines:
/// they are left out (the JSON's own lines are `{`, `}` or indented).
fn json_summary(lines: &[String]) -> serde_json::Value {
    let json: Vec<&String> = lines.iter().filter(|l| *l == "{" || *l == "}" || l.starts_with(' ')).collect();
    let start = json.iter().position(|l| *l == "{").expect("a JSON summary");
    let end = start + json[start..].iter().position(|l| *l == "}").expect("the end of the JSON summary");
    let text: Vec<&str> = json[start..=end].iter().map(|l| l.as_str()).collect();
    serde_json::from_str(&text.join("\n")).expect("the summary is JSON")
}

fn batch_of(lines: &[String]) -> String {
    let line = lines.iter().find(|l| l.contains("\"batch_id\"")).expect("JSON summary with batch_id");
    line.split('"').nth(3).unwrap().to_owned()
}

#[test]
fn two_consumers_trade_twenty_symbols_each_symbol_on_exactly_one_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    both_connected(&mut trade);
    wait_until(
        Duration::from_secs(30),
        "most symbols traded on both consumers",
        || symbols_by_run_now(&db),
        |by_run| by_run.len() == 2 && by_run.values().map(BTreeSet::len).sum::<usize>() >= 16,
    );
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let batch = batch_of(&lines);
    let runs = runs(&db, &batch);
    assert_eq!(runs.len(), 2, "one algo_run per strategy per consumer: {runs:?}");
    for r in &runs {
        assert_eq!(r.algo_env, "PAPER");
        assert_eq!(r.end_reason.as_deref(), Some("shutdown"));
    }
    let by_run = symbols_by_run(&db, &batch);
    assert_eq!(by_run.len(), 2, "both consumers traded: {by_run:?}");
    let sets: Vec<_> = by_run.values().collect();
    assert!(sets[0].is_disjoint(sets[1]), "a symbol was handled by two consumers: {sets:?}");
    let all: BTreeSet<_> = sets.iter().flat_map(|s| s.iter()).collect();
    assert!(all.len() >= 16, "most symbols should have traded: {all:?}");
    for s in &sets {
        assert!(s.len() <= 10, "partition is balanced, 10 symbols each: {s:?}");
    }
}

#[test]
fn a_killed_consumer_is_restarted_and_its_symbols_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    let first = trade.wait_for(Duration::from_secs(30), |l| l.contains("consumer connected") && l.contains("consumer=1"));
    let old_pid = pid_of(&first);
    kill(old_pid as i32, libc::SIGKILL);
    let again = trade.wait_for(Duration::from_secs(30), |l| l.contains("consumer connected") && l.contains("consumer=1"));
    assert_ne!(pid_of(&again), old_pid);
    // Stop once the restarted process (the last run) and consumer 0 have traded.
    wait_until(
        Duration::from_secs(30),
        "fills from the restarted consumer and from consumer 0",
        || (last_run(&db), symbols_by_run_now(&db)),
        |(last, by_run)| by_run.contains_key(last) && by_run.keys().any(|run| run != last),
    );
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let batch = batch_of(&lines);
    assert_eq!(json_summary(&lines)["restarts"], serde_json::json!([0, 1]), "{}", lines.join("\n"));
    // Three runs: consumer 0, the killed consumer 1 (never finished) and its restart.
    let runs = runs(&db, &batch);
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs.iter().filter(|r| r.end_reason.as_deref() == Some("shutdown")).count(), 2, "{runs:?}");
    // The killed run never recorded an end; the restart is the last run.
    let by_run = symbols_by_run(&db, &batch);
    let ids = run_ids(&db, &batch);
    let none = BTreeSet::new();
    let set = |id: i64| by_run.get(&id).unwrap_or(&none);
    let killed_id = ids.iter().find(|(_, end)| end.is_none()).expect("the killed run has no end_reason").0;
    let restarted_id = ids.last().unwrap().0;
    let consumer0_id = ids.iter().map(|(id, _)| *id).find(|id| *id != killed_id && *id != restarted_id).unwrap();
    let (consumer0, killed, restarted) = (set(consumer0_id), set(killed_id), set(restarted_id));
    assert!(!restarted.is_empty(), "the restarted consumer's symbols resumed trading");
    assert!(!consumer0.is_empty());
    assert!(consumer0.is_disjoint(restarted) && consumer0.is_disjoint(killed), "{consumer0:?} / {killed:?} / {restarted:?}");
}

/// (algo_run_id, symbol, signed qty) of every fill of the batch, in the
/// order each run made them, runs in the order they started.
fn signed_fills(db: &Path, batch: &str) -> Vec<(i64, String, f64)> {
    let rows: Vec<(i64, String, String, f64)> = query(db, async |c| {
        sqlx::query_as(
            "SELECT t.algo_run_id, t.symbol, t.operation, t.qty FROM new_trades t JOIN algo_run r USING (algo_run_id)
             WHERE r.batch_id = ? ORDER BY t.algo_run_id, t.fill_seq",
        )
        .bind(batch)
        .fetch_all(c)
        .await
        .unwrap()
    });
    rows.into_iter()
        .map(|(run, symbol, operation, qty)| {
            let sign = if operation.starts_with("buy") { 1.0 } else { -1.0 };
            (run, symbol, sign * qty)
        })
        .collect()
}

#[test]
fn a_restarted_consumer_carries_on_the_positions_its_predecessor_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    let connected = both_connected(&mut trade);
    let old_pid = pid_of(&connected["consumer=1"]);
    // Kill consumer 1 once both consumers' fills are in the database, so it
    // dies holding recorded positions.
    wait_until(Duration::from_secs(30), "fills from both consumers", || symbols_by_run_now(&db), |by_run| by_run.len() == 2);
    kill(old_pid as i32, libc::SIGKILL);
    // The restart books what its predecessor recorded: some position is open.
    trade.wait_for(Duration::from_secs(30), |l| {
        l.contains("booked the fills recorded earlier") && l.contains("consumer=1") && !l.contains("positions=[]")
    });
    // Stop once the restarted process (the last run) has traded a symbol its predecessor held.
    wait_until(
        Duration::from_secs(30),
        "the restart trading a symbol it took over",
        || (last_run(&db), symbols_by_run_now(&db)),
        |(last, by_run)| by_run.get(last).is_some_and(|mine| by_run.iter().any(|(run, theirs)| run != last && !theirs.is_disjoint(mine))),
    );
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let batch = batch_of(&lines);
    let fills = signed_fills(&db, &batch);
    let runs = run_ids(&db, &batch);
    let killed = runs.iter().find(|(_, end)| end.is_none()).expect("the killed run has no end").0;
    let restarted = runs.last().unwrap().0;

    // The killed run left open positions, and the restart traded some of them.
    let mut held: HashMap<&str, f64> = HashMap::new();
    for (_, symbol, qty) in fills.iter().filter(|(run, ..)| *run == killed) {
        *held.entry(symbol).or_default() += qty;
    }
    held.retain(|_, q| q.abs() > 1e-9);
    assert!(!held.is_empty(), "the killed consumer held no position; {fills:?}");
    assert!(fills.iter().any(|(run, symbol, _)| *run == restarted && held.contains_key(symbol.as_str())), "{fills:?}");

    // Exactly: the restart booked, symbol by symbol, the positions the killed
    // run had recorded (its log line per symbol: `positions=["sma-cross: Q"]`).
    let mut booked: HashMap<String, f64> = HashMap::new();
    for line in lines.iter().filter(|l| l.contains("booked the fills recorded earlier") && l.contains("consumer=1")) {
        let field =
            |name: &str| line.split(&format!(" {name}=")).nth(1).map(|rest| rest.split(' ').next().unwrap().trim_matches('"').to_owned());
        let symbol = field("symbol").expect("a symbol field");
        let qty = line.split("sma-cross: ").nth(1).map_or(0.0, |rest| rest.split('"').next().unwrap().parse::<f64>().unwrap());
        booked.insert(symbol, qty);
    }
    booked.retain(|_, q| q.abs() > 1e-9);
    let held_owned: HashMap<String, f64> = held.iter().map(|(s, q)| (s.to_string(), *q)).collect();
    assert_eq!(booked, held_owned, "the restart's positions are exactly the killed run's");

    // sma-cross moves each symbol to +1 or -1 share: across the batch, the
    // recorded position of a symbol never goes beyond that. A restart that
    // started flat would double up on the next cross the way it was held.
    let mut net: HashMap<&str, f64> = HashMap::new();
    for (run, symbol, qty) in &fills {
        let position = net.entry(symbol).or_default();
        *position += qty;
        assert!(position.abs() <= 1.0 + 1e-9, "{symbol} reached {position} in run {run}; {fills:?}");
    }
}

/// The saved open orders of strategy `strategy`: symbol -> (algo_run_id, orders).
fn saved_orders(db: &Path, strategy: i64) -> BTreeMap<String, (i64, Vec<serde_json::Value>)> {
    let rows: Vec<(String, i64, String)> = query(db, async |c| {
        sqlx::query_as("SELECT symbol, algo_run_id, orders FROM open_orders WHERE strategy = ?").bind(strategy).fetch_all(c).await.unwrap()
    });
    rows.into_iter().map(|(symbol, run, orders)| (symbol, (run, serde_json::from_str(&orders).unwrap()))).collect()
}

/// An order's request without what a restart rightly changes (its indicators).
fn request_of(order: &serde_json::Value) -> serde_json::Value {
    let mut request = order["request"].clone();
    request.as_object_mut().unwrap().remove("indicators");
    request
}

/// A killed consumer's open orders are put back into the restarted
/// consumer's books: the probe's resting limit orders (one per symbol, far
/// under the price) come back for exactly the killed consumer's symbols,
/// unchanged, marked as the earlier process's. The session's orders end
/// with it.
#[test]
fn a_restarted_consumer_puts_back_the_orders_its_predecessor_had_open() {
    open_orders_survive_a_restart("paper");
}

/// With the Alpaca broker, the orders put back are those the broker still
/// holds, matched by the `client_order_id` they were placed with; at the end
/// the restarted consumer cancels them under that id, and the broker's
/// reports close them (no order is left waiting).
#[test]
fn a_restarted_consumer_takes_back_its_predecessors_orders_open_at_alpaca() {
    open_orders_survive_a_restart("alpaca");
}

fn open_orders_survive_a_restart(broker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url, rest) = simulator_with_rest(&["--symbols", "20", "--bars", "100000"]);
    let probe = format!(
        "[[strategies]]\ncomponent = \"{}\"\nparams = {{ tif = \"gtc\", limit-offset-pct = -50.0, qty = 1.0 }}\n",
        component("probe").display()
    );
    let plan = write_plan(dir.path(), &url, 5.0, &probe);
    if broker == "alpaca" {
        let text = std::fs::read_to_string(&plan).unwrap() + &format!("\n[broker]\nkind = \"alpaca\"\nbase_url = \"{rest}\"\n");
        std::fs::write(&plan, text).unwrap();
    }
    let db = dir.path().join("liu.db");
    // Stopped by a signal once the restart's orders are saved; the duration is a backstop.
    let mut trade = spawn_trade(&plan, &db, "120");
    let connected = both_connected(&mut trade);
    let old_pid = pid_of(&connected["consumer=1"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let saved = if db.exists() { saved_orders(&db, 1) } else { BTreeMap::new() };
        if saved.len() == 20 {
            break saved;
        }
        assert!(Instant::now() < deadline, "the probe's 20 resting orders were not saved: {saved:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    kill(old_pid as i32, libc::SIGKILL);
    let again = trade.wait_for(Duration::from_secs(30), |l| l.contains("consumer connected") && l.contains("consumer=1"));
    assert_ne!(pid_of(&again), old_pid);

    // The restart saves its books under its own run: wait until every
    // symbol it took over has both the put-back order and the new probe's.
    let old_runs: BTreeSet<i64> = before.values().map(|(run, _)| *run).collect();
    let after = loop {
        let saved = saved_orders(&db, 1);
        let moved: BTreeMap<_, _> = saved.iter().filter(|(_, (run, _))| !old_runs.contains(run)).collect();
        if !moved.is_empty() && moved.values().all(|(_, orders)| orders.len() == 2) && moved.len() == 10 {
            break saved;
        }
        assert!(Instant::now() < deadline, "the restart's books were not saved: {saved:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let moved: BTreeSet<&String> = after.iter().filter(|(_, (run, _))| !old_runs.contains(run)).map(|(s, _)| s).collect();
    let killed_run = before[*moved.iter().next().unwrap()].0;
    let killed: BTreeSet<&String> = before.iter().filter(|(_, (run, _))| *run == killed_run).map(|(s, _)| s).collect();
    assert_eq!(moved, killed, "the restart took over exactly the killed consumer's symbols");
    for symbol in &killed {
        let (old, new) = (&before[*symbol].1, &after[*symbol].1);
        assert_eq!(old.len(), 1);
        assert_eq!(request_of(&new[0]), request_of(&old[0]), "{symbol}: the put-back order is the killed one's");
        let marks: serde_json::Value = serde_json::from_str(new[0]["request"]["indicators"].as_str().unwrap()).unwrap();
        if broker == "alpaca" {
            // Known to the broker by the id it was placed with, by the killed process.
            let placed_as = old[0]["placed_as"].as_str().unwrap();
            assert!(placed_as.contains(&format!("-1.{old_pid}-1-")), "{placed_as}");
            assert_eq!(new[0]["placed_as"], old[0]["placed_as"], "{symbol}");
            assert_eq!(marks["placed_by_earlier_process"], old[0]["placed_as"], "{symbol}");
            assert_ne!(new[1]["placed_as"], old[0]["placed_as"], "{symbol}");
        } else {
            assert_eq!(marks["placed_by_earlier_process"], old[0]["id"], "{symbol}");
        }
    }
    // The other consumer's orders were left where they were (they go on
    // living: `first_day` is set by their first bar).
    for (symbol, (run, orders)) in before.iter().filter(|(s, _)| !killed.contains(s)) {
        let (run_after, orders_after) = &after[symbol];
        assert_eq!(
            (run_after, orders_after.iter().map(request_of).collect::<Vec<_>>()),
            (run, orders.iter().map(request_of).collect()),
            "{symbol}"
        );
    }

    kill(trade.child.id() as i32, libc::SIGINT);
    let (status, lines) = trade.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    let put_back = lines
        .iter()
        .filter(|l| l.contains("put back the orders open when the earlier process ended") && l.contains("strategy=\"probe\""))
        .count();
    assert_eq!(put_back, 10, "one line per symbol taken over");
    assert!(!lines.iter().any(|l| l.contains("orders still open at the broker")), "every cancel was confirmed:\n{}", lines.join("\n"));
    assert!(saved_orders(&db, 1).is_empty(), "the session's orders end with it");
}

fn run_count(db: &Path) -> i64 {
    query(db, async |c| sqlx::query_scalar("SELECT count(*) FROM algo_run").fetch_one(c).await.unwrap())
}

/// The latest run (a restarted consumer's, after a kill).
fn last_run(db: &Path) -> i64 {
    query(db, async |c| sqlx::query_scalar("SELECT max(algo_run_id) FROM algo_run").fetch_one(c).await.unwrap())
}

/// (algo_run_id, end_reason) of the batch's runs, in insertion order.
fn run_ids(db: &Path, batch: &str) -> Vec<(i64, Option<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query_as("SELECT algo_run_id, end_reason FROM algo_run WHERE batch_id = ? ORDER BY algo_run_id")
            .bind(batch)
            .fetch_all(&mut c)
            .await
            .unwrap()
    })
}

#[test]
fn the_producer_reconnects_and_resubscribes_when_the_stream_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, url) = simulator("127.0.0.1:0", "600");
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
    drop(sim); // kills the simulator: the stream drops
    let (_sim2, _) = simulator(&addr, "600");
    let restarted_at = now_nanos();
    // Stop once a fill stamped after the stream came back is recorded.
    let latest = || {
        query(&db, async |c| sqlx::query_scalar::<_, Option<String>>("SELECT max(client_time) FROM new_trades").fetch_one(c).await.unwrap())
    };
    wait_until(Duration::from_secs(30), "a fill after the stream came back", latest, |t| {
        t.as_deref().and_then(liu_core::time::parse_timestamp).is_some_and(|t| t > restarted_at)
    });
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let text = lines.join("\n");
    let reconnects: u64 = text
        .split("\"reconnects\": ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("reconnects in summary");
    assert!(reconnects >= 1, "{text}");
    // Events flowed again after the reconnect: fills stamped after the restart.
    let batch = batch_of(&lines);
    let after = trades(&db, &batch).iter().filter(|t| liu_core::time::parse_timestamp(&t.client_time).unwrap() > restarted_at).count();
    assert!(after > 0, "no fill after the stream came back\n{text}");
    assert_eq!(runs(&db, &batch).len(), 2);
}

#[test]
fn a_slow_strategy_puts_only_its_consumer_out_of_sync_and_it_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let slow = component("hostile-slow-symbol");
    // SYM003 is owned by consumer 1 (sorted names, round robin): consumer 0
    // owns the even-numbered symbols.
    let extra = format!(
        "[[strategies]]\ncomponent = \"{}\"\nparams = {{ symbol = \"SYM003\", spin = 150000000 }}\n[strategies.limits]\nfuel_per_event = 4000000000\ndeadline_ms = 5000\n",
        slow.display()
    );
    // The same finite replay at 600x, with and without the slow strategy.
    let replay = || Replay { bars: 60, speed: "600", stale_secs: 0.5, encoding: "json" };
    let (batch, lines) = trade_replay(dir.path(), &extra, replay());
    let alone_dir = tempfile::tempdir().unwrap();
    let (alone_batch, _) = trade_replay(alone_dir.path(), "", replay());
    let consumer0 = |fills: HashMap<String, Vec<(String, f64, f64)>>| -> BTreeMap<String, Vec<(String, f64, f64)>> {
        fills.into_iter().filter(|(symbol, _)| symbol[3..].parse::<u32>().unwrap() % 2 == 0).collect()
    };
    let with_slow = consumer0(sma_fills_by_symbol(&dir.path().join("liu.db"), &batch));
    let alone = consumer0(sma_fills_by_symbol(&alone_dir.path().join("liu.db"), &alone_batch));
    assert!(alone.len() >= 8, "most of consumer 0's symbols traded: {alone:?}");
    assert_eq!(with_slow, alone, "consumer 0 trades as if the slow strategy were not there");
    let out_of_sync: Vec<_> = lines.iter().filter(|l| l.contains("out of sync w")).collect();
    assert!(!out_of_sync.is_empty(), "{}", lines.join("\n"));
    assert!(out_of_sync.iter().all(|l| l.contains("consumer 1 ")), "only consumer 1 is slow: {out_of_sync:?}");
    assert!(lines.iter().any(|l| l.contains("caught up after falling behind") && l.contains("consumer=1")));
    // The stale counters each consumer reports when it finishes.
    let dropped = |consumer: &str| -> u64 {
        let line = lines
            .iter()
            .find(|l| l.contains("consumer finished") && l.contains(consumer))
            .unwrap_or_else(|| panic!("no summary of {consumer}"));
        let digits = line.split("stale_dropped=").nth(1).unwrap_or_else(|| panic!("{line}"));
        digits.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    assert_eq!(dropped("consumer=0"), 0, "consumer 0 keeps up");
    assert!(dropped("consumer=1") > 0, "consumer 1 drops what went stale");
}

/// Minutes since today's 9:30 New York open (negative before it), from the
/// wall clock: the simulator's clock starts at the wall clock when a client
/// connects.
fn minutes_from_open_now() -> i64 {
    let out = Command::new("date").args(["+%H %M"]).env("TZ", "America/New_York").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace().map(|p| p.parse::<i64>().unwrap());
    let (h, m) = (parts.next().unwrap(), parts.next().unwrap());
    h * 60 + m - (9 * 60 + 30)
}

#[test]
fn a_strategy_outside_its_schedule_window_sees_no_events() {
    let dir = tempfile::tempdir().unwrap();
    let now = minutes_from_open_now();
    // At 600x the 4 s run covers 40 minutes of the feed's clock from now: a
    // 10-minute window from now (when the session is open long enough for
    // one) is met and left. Otherwise any valid window (it must end by the
    // close, minute 390), which may or may not be met.
    let (start, window_contains_now) = if (0..=380).contains(&now) { (now, true) } else { ((now + 30).rem_euclid(381), false) };
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let extra = format!(
        "[[strategies]]\ncomponent = \"{}\"\nparams = {{ fast = 2, slow = 4, qty = 7 }}\nschedule = [{{ start = {start}, duration = 10 }}]\n",
        component("sma-cross").display()
    );
    let plan = write_plan(dir.path(), &url, 5.0, &extra);
    let db = dir.path().join("liu.db");
    let (batch, _) = run_trade(&plan, &db, "4");
    let rows = trades(&db, &batch);
    let minute_from_open = |t: &TradeRow| {
        let time = chrono::DateTime::parse_from_rfc3339(&t.client_time).unwrap_or_else(|e| panic!("{}: {e}", t.client_time));
        let local = time.with_timezone(&chrono_tz::America::New_York);
        use chrono::Timelike;
        i64::from(local.hour() * 60 + local.minute()) - (9 * 60 + 30)
    };
    let outside: Vec<_> = rows.iter().filter(|t| t.qty == 1.0 && !(start..=start + 10).contains(&minute_from_open(t))).collect();
    assert!(!outside.is_empty(), "the unscheduled strategy trades outside the window too");
    // A paper order fills on the next bar: an order of the window's last
    // minute fills in the minute after it.
    let scheduled: Vec<_> = rows.iter().filter(|t| t.qty == 7.0).collect();
    assert!(
        scheduled.iter().all(|t| (start..=start + 10).contains(&minute_from_open(t))),
        "the scheduled one trades only inside its window: {scheduled:?}"
    );
    if window_contains_now {
        assert!(!scheduled.is_empty(), "the scheduled one trades inside its window");
    }
}

/// At real speed, across a real minute boundary: the bar of the minute in
/// progress is sent just after that minute closes, stamped with its start
/// (as Alpaca does), and reaches the strategies; none is called out of sync.
#[test]
fn a_real_minute_bar_reaches_the_strategies_just_after_its_minute_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "1");
    let extra = format!("[[strategies]]\ncomponent = \"{}\"\n", component("bar-counter").display());
    let plan = write_plan(dir.path(), &url, 5.0, &extra);
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "150");
    trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
    // Every symbol's first bar is counted once its minute has closed (within 61 s).
    let deadline = Instant::now() + Duration::from_secs(90);
    while keystore(&db, "bar-counter").len() < 20 {
        assert!(Instant::now() < deadline, "no bar reached the strategies in 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    kill(trade.child.id() as i32, libc::SIGTERM);
    let (status, lines) = trade.finish();
    assert!(status.success(), "{}", lines.join("\n"));
    let out_of_sync: Vec<_> = lines.iter().filter(|l| l.contains("out of sync")).collect();
    assert!(out_of_sync.is_empty(), "{out_of_sync:?}");
    let counts = keystore(&db, "bar-counter");
    assert!(counts.values().all(|v| v == "1"), "one bar per symbol, each seen once: {counts:?}");
}

/// `liu-engine simulate` with the stand-in REST servers; returns the
/// stream URL (Alpaca dialect) and the REST base URL.
fn simulator_with_rest(extra: &[&str]) -> (Proc, String, String) {
    let mut args = vec!["simulate", "--listen", "127.0.0.1:0", "--rest-listen", "127.0.0.1:0"];
    if !extra.contains(&"--speed") {
        args.extend(["--speed", "600"]);
    }
    args.extend_from_slice(extra);
    let mut sim = Proc::spawn(&args, &[("POLYGON_API_KEY", POLYGON_KEY)]);
    let mut stream = None;
    let mut rest = None;
    while stream.is_none() || rest.is_none() {
        let line = sim.wait_for(Duration::from_secs(30), |l| {
            l.starts_with("simulator listening on ") || l.starts_with("stand-in REST listening on ")
        });
        if let Some(url) = line.strip_prefix("simulator listening on ") {
            stream = Some(url.to_owned());
        } else if let Some(url) = line.strip_prefix("stand-in REST listening on ") {
            rest = Some(url.to_owned());
        }
    }
    (sim, stream.unwrap(), rest.unwrap())
}

const POLYGON_KEY: &str = "test-polygon-key";

/// One symbol, WARM: 40 minutes falling from 100 by 0.5 (the fast SMA under
/// the slow one), then `live` minutes that jump to 200 and keep rising.
fn write_warmup_data(dir: &Path, live: usize) -> PathBuf {
    let folder = dir.join("warm-bars");
    std::fs::create_dir_all(&folder).unwrap();
    let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
    for m in 0..40 + live {
        let (open, close) = if m < 40 {
            let close = 100.0 - 0.5 * m as f64;
            (close + 0.25, close)
        } else {
            // The first live bar's close makes the fast SMA cross above the slow one.
            let k = (m - 40) as f64;
            (200.0 + k + if m == 40 { 0.0 } else { 0.25 }, 200.0 + k)
        };
        let (h, mm) = (9 + (30 + m) / 60, (30 + m) % 60);
        csv.push_str(&format!("2024-03-05 {h:02}:{mm:02}:00,{open},{},{},{close},1000\n", open.max(close) + 0.5, open.min(close) - 0.5));
    }
    std::fs::write(folder.join("WARM.csv"), csv).unwrap();
    folder
}

/// A plan trading WARM with sma-cross 10/30 (and bar-counter), warming
/// `warmup_minutes` from the REST stand-in at `rest`.
fn warmup_plan(dir: &Path, url: &str, rest: &str, kind: &str, warmup_minutes: u32) -> PathBuf {
    let plan = dir.join("tradeplan.toml");
    let text = format!(
        r#"portfolio_value = 100000.0
warmup_minutes = {warmup_minutes}
consumers = 1
symbols = ["WARM"]
[provider]
kind = "{kind}"
url = "{url}"
rest_url = "{rest}"
events = ["minute"]
[[strategies]]
component = "{sma}"
params = {{ fast = 10, slow = 30, qty = 7 }}
[[strategies]]
component = "{counter}"
"#,
        sma = component("sma-cross").display(),
        counter = component("bar-counter").display(),
    );
    std::fs::write(&plan, text).unwrap();
    plan
}

fn count_rows(db: &Path, table: &str) -> i64 {
    query(db, async |c| sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(c).await.unwrap_or(0))
}

/// Warm-up: the first 40 bars are history on the stand-in's REST bars, the
/// stream starts after them. Warm, sma-cross 10/30 crosses on the very first
/// live bar and its order fills at the second bar's open; cold, it has not
/// seen 31 bars by the end and never trades. Both providers' REST dialects.
#[test]
fn a_warm_session_trades_on_its_first_live_bar_and_a_cold_one_cannot() {
    for kind in ["alpaca", "polygon"] {
        let dir = tempfile::tempdir().unwrap();
        let data = write_warmup_data(dir.path(), 3);
        let (_sim, url, rest) = simulator_with_rest(&["--data", data.to_str().unwrap(), "--history-bars", "40", "--speed", "60"]);
        let url = if kind == "polygon" { url.replace("/v2/test", "/stocks") } else { url };
        let db = dir.path().join("liu.db");
        let mut trade = spawn_trade(&warmup_plan(dir.path(), &url, &rest, kind, 40), &db, "120");
        trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while count_rows(&db, "new_trades") == 0 {
            assert!(Instant::now() < deadline, "{kind}: no fill within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        kill(trade.child.id() as i32, libc::SIGTERM);
        let (status, lines) = trade.finish();
        let text = lines.join("\n");
        assert!(status.success(), "{text}");
        assert!(lines.iter().any(|l| l.contains("warm-up loaded") && l.contains("symbols=1") && l.contains("bars=40")), "{kind}: {text}");
        assert!(lines.iter().any(|l| l.contains("history warmed up") && l.contains("bars=40")), "{kind}: {text}");
        let fills: Vec<_> = trades(&db, &batch_of(&lines)).into_iter().filter(|t| t.algo_name == "sma-cross").collect();
        let got: Vec<_> = fills.iter().map(|t| (t.symbol.as_str(), t.operation.as_str(), t.qty, t.price)).collect();
        assert_eq!(got, [("WARM", "buy", 7.0, 201.25)], "{kind}: ordered on the first live bar, filled at the next open");

        // Cold: every live bar reaches the strategies, and none trades.
        let dir = tempfile::tempdir().unwrap();
        let data = write_warmup_data(dir.path(), 3);
        let (_sim, url, rest) = simulator_with_rest(&["--data", data.to_str().unwrap(), "--history-bars", "40", "--speed", "60"]);
        let url = if kind == "polygon" { url.replace("/v2/test", "/stocks") } else { url };
        let db = dir.path().join("liu.db");
        let mut trade = spawn_trade(&warmup_plan(dir.path(), &url, &rest, kind, 0), &db, "120");
        trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while keystore(&db, "bar-counter").get("bars:WARM").map(String::as_str) != Some("3") {
            assert!(Instant::now() < deadline, "{kind}: the three live bars did not arrive within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        kill(trade.child.id() as i32, libc::SIGTERM);
        let (status, lines) = trade.finish();
        assert!(status.success(), "{}", lines.join("\n"));
        assert_eq!(count_rows(&db, "new_trades"), 0, "{kind}: cold, sma-cross 10/30 cannot trade on 3 bars");
    }
}

#[test]
fn the_polygon_stream_feeds_the_consumers_like_alpaca() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let polygon_url = url.replace("/v2/test", "/stocks");
    let plan = write_plan(dir.path(), &polygon_url, 5.0, "");
    let text = std::fs::read_to_string(&plan).unwrap().replace("kind = \"alpaca\"\nfeed = \"test\"", "kind = \"polygon\"");
    std::fs::write(&plan, text).unwrap();
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed") && l.contains("subscribed to: AM.SYM000"));
    wait_until(Duration::from_secs(30), "fills from both consumers", || symbols_by_run_now(&db), |by_run| by_run.len() == 2);
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let batch = batch_of(&lines);
    let by_run = symbols_by_run(&db, &batch);
    assert_eq!(by_run.len(), 2, "both consumers traded on Polygon minute aggregates: {by_run:?}");
    let sets: Vec<_> = by_run.values().collect();
    assert!(sets[0].is_disjoint(sets[1]));
}

/// Two days of minute bars per symbol: `(symbol, price yesterday, price at the
/// end of today, volume per bar yesterday, volume per bar today)`.
fn write_scanner_data(dir: &Path) -> PathBuf {
    let folder = dir.join("bars");
    std::fs::create_dir_all(&folder).unwrap();
    let symbols: [(&str, f64, f64, f64, f64); 6] = [
        ("GOOD1", 10.0, 11.0, 2000.0, 1000.0), // +10%: picked
        ("GOOD2", 5.0, 5.25, 4000.0, 1000.0),  // +5%: picked, after GOOD1
        ("CHEAP", 1.0, 1.2, 900000.0, 1000.0), // under min_price
        ("FLAT", 10.0, 10.1, 2000.0, 1000.0),  // +1%: under min_day_change_pct
        ("THIN", 10.0, 11.0, 10.0, 1000.0),    // yesterday's dollar volume too low
        ("QUIET", 10.0, 11.0, 2000.0, 10.0),   // today's volume too low
    ];
    for (name, p0, p1, v0, v1) in symbols {
        let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
        // Yesterday flat at p0; today drifting from p0 to p1.
        for (day, from, to, volume) in [("2024-03-04", p0, p0, v0), ("2024-03-05", p0, p1, v1)] {
            for m in 0..60 {
                let f = f64::from(m) / 59.0;
                // A wiggle so that moving averages cross; the last bar closes exactly at `to`.
                let wiggle = if m == 59 { 0.0 } else { 0.01 * from * (f64::from(m) / 3.0).sin() };
                let close = from + (to - from) * f + wiggle;
                let (h, mm) = (9 + (30 + m) / 60, (30 + m) % 60);
                csv.push_str(&format!("{day} {h:02}:{mm:02}:00,{close},{},{},{close},{volume}\n", close * 1.001, close * 0.999));
            }
        }
        std::fs::write(folder.join(format!("{name}.csv")), csv).unwrap();
    }
    folder
}

fn trending(db: &Path, batch: &str) -> Vec<(String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query_as("SELECT symbol, scanner_name FROM trending_tickers WHERE batch_id = ? ORDER BY trending_id")
            .bind(batch)
            .fetch_all(&mut c)
            .await
            .unwrap()
    })
}

/// A plan with no fixed symbols: a momentum scanner (Liu's filters, plus
/// `scanner_extra`) picks them from the stand-ins at `rest`; sma-cross trades.
fn momentum_scanner_plan(dir: &Path, url: &str, rest: &str, scanner_extra: &str) -> PathBuf {
    let plan = dir.join("tradeplan.toml");
    let text = format!(
        r#"portfolio_value = 100000.0
consumers = 2
[provider]
kind = "alpaca"
feed = "test"
url = "{url}"
rest_url = "{rest}"
[[scanners]]
kind = "momentum"
min_price = 2.0
max_price = 20.0
min_volume = 30000
min_day_change_pct = 3.5
min_prev_day_dollar_volume = 500000.0
{scanner_extra}
[[strategies]]
component = "{sma}"
params = {{ fast = 2, slow = 4, qty = 1 }}
"#,
        sma = component("sma-cross").display()
    );
    std::fs::write(&plan, text).unwrap();
    plan
}

#[test]
fn the_momentum_scanner_picks_symbols_records_them_and_only_they_trade() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_scanner_data(dir.path());
    let (_sim, url, rest) = simulator_with_rest(&["--data", data.to_str().unwrap(), "--repeat"]);
    let plan = momentum_scanner_plan(dir.path(), &url, &rest, "max_symbols = 10");
    let db = dir.path().join("liu.db");
    let (batch, lines) =
        trade_until(&plan, &db, "both picks traded", |by_run| traded(by_run).is_superset(&BTreeSet::from(["GOOD1", "GOOD2"])));
    let picks = trending(&db, &batch);
    assert_eq!(picks, [("GOOD1".to_owned(), "momentum".to_owned()), ("GOOD2".to_owned(), "momentum".to_owned())], "{}", lines.join("\n"));
    let traded: BTreeSet<String> = symbols_by_run(&db, &batch).into_values().flatten().collect();
    assert_eq!(traded, BTreeSet::from(["GOOD1".to_owned(), "GOOD2".to_owned()]), "{}", lines.join("\n"));
}

#[test]
fn the_alpaca_broker_trades_through_the_trading_api_and_its_trade_updates() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url, rest) = simulator_with_rest(&["--symbols", "20", "--bars", "100000"]);
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let text = std::fs::read_to_string(&plan).unwrap() + &format!("\n[broker]\nkind = \"alpaca\"\nbase_url = \"{rest}\"\n");
    std::fs::write(&plan, text).unwrap();
    let db = dir.path().join("liu.db");
    let (batch, lines) = trade_until(&plan, &db, "fills from the broker on both consumers", |by_run| by_run.len() == 2);
    let rows = trades(&db, &batch);
    assert!(!rows.is_empty(), "no fill came back from the broker\n{}", lines.join("\n"));
    // What the database recorded is what the broker holds.
    let mut recorded: HashMap<String, f64> = HashMap::new();
    for t in &rows {
        let sign = if t.operation == "buy" || t.operation == "buy_short" { 1.0 } else { -1.0 };
        *recorded.entry(t.symbol.clone()).or_default() += sign * t.qty;
    }
    recorded.retain(|_, q| *q != 0.0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let held: HashMap<String, f64> = rt.block_on(async {
        let client = liu_venues::alpaca::trading::AlpacaClient::new(&rest, KEY, SECRET).unwrap();
        client.positions().await.unwrap().into_iter().map(|p| (p.symbol, p.qty)).filter(|(_, q)| *q != 0.0).collect()
    });
    assert_eq!(recorded, held, "{}", lines.join("\n"));
}

/// sma-cross's fills of a batch per symbol, in order, without times (the
/// simulator stamps bars with the wall clock).
fn sma_fills_by_symbol(db: &Path, batch: &str) -> HashMap<String, Vec<(String, f64, f64)>> {
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for t in trades(db, batch).into_iter().filter(|t| t.algo_name == "sma-cross") {
        out.entry(t.symbol).or_default().push((t.operation, t.qty, t.price));
    }
    out
}

/// `trade` over a whole finite replay (300 bars of 20 symbols, as fast as
/// the simulator can send them); the summary must show every bar received
/// and none dropped, so that two runs see the same events.
fn trade_whole_replay(dir: &Path, extra_strategies: &str) -> (String, Vec<String>) {
    trade_whole_replay_in(dir, extra_strategies, "json")
}

/// [`trade_whole_replay`] with the stream in `encoding` (`json`, `msgpack`).
fn trade_whole_replay_in(dir: &Path, extra_strategies: &str, encoding: &str) -> (String, Vec<String>) {
    let (batch, lines) = trade_replay(dir, extra_strategies, Replay { bars: 300, speed: "max", stale_secs: 3600.0, encoding });
    assert_eq!(json_summary(&lines)["dropped_full"], serde_json::json!([0, 0]), "nothing dropped:\n{}", lines.join("\n"));
    (batch, lines)
}

/// A finite replay of 20 symbols for [`trade_replay`].
struct Replay<'a> {
    bars: u32,
    speed: &'a str,
    stale_secs: f64,
    encoding: &'a str,
}

/// `trade` over the whole of a finite replay; the summary must show every
/// bar received.
fn trade_replay(dir: &Path, extra_strategies: &str, replay: Replay<'_>) -> (String, Vec<String>) {
    let bars = replay.bars.to_string();
    let mut sim = Proc::spawn(&["simulate", "--listen", "127.0.0.1:0", "--symbols", "20", "--bars", &bars, "--speed", replay.speed], &[]);
    let line = sim.wait_for(Duration::from_secs(30), |l| l.starts_with("simulator listening on "));
    let url = line.trim_start_matches("simulator listening on ").to_owned();
    let plan = write_plan(dir, &url, replay.stale_secs, extra_strategies);
    let encoding = replay.encoding;
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("events = [\"minute\"]", &format!("events = [\"minute\"]\nencoding = \"{encoding}\""));
    std::fs::write(&plan, text).unwrap();
    // Stopped by a signal once the producer has received the whole replay
    // (its trace line counts the events); the duration is a backstop.
    let db = dir.join("liu.db");
    let mut trade = Proc::spawn(
        &["trade", "--tradeplan", plan.to_str().unwrap(), "--db", db.to_str().unwrap(), "--duration-secs", "90", "--json"],
        &[("POLYGON_API_KEY", POLYGON_KEY), ("LIU_LOG", "info,liu_engine::producer=trace")],
    );
    let all = format!("events={}", 20 * replay.bars);
    trade.wait_for(Duration::from_secs(90), |l| l.contains("market events received") && l.split_whitespace().any(|w| w == all));
    kill(trade.child.id() as i32, libc::SIGINT);
    let (status, lines) = trade.finish();
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(KEY) && !text.contains(POLYGON_KEY), "credentials leaked into output");
    assert_eq!(json_summary(&lines)["events"], 20 * replay.bars, "the whole replay was received:\n{text}");
    (batch_of(&lines), lines)
}

/// Alpaca's two encodings of the same replay give the same fills: the
/// producer asks for MessagePack on the handshake and reads binary frames.
#[test]
fn the_messagepack_stream_trades_exactly_as_the_json_one() {
    let json_dir = tempfile::tempdir().unwrap();
    let (json_batch, _) = trade_whole_replay_in(json_dir.path(), "", "json");
    let msgpack_dir = tempfile::tempdir().unwrap();
    let (msgpack_batch, lines) = trade_whole_replay_in(msgpack_dir.path(), "", "msgpack");
    assert!(!lines.iter().any(|l| l.contains("ignoring a binary frame")), "{}", lines.join("\n"));
    let json = sma_fills_by_symbol(&json_dir.path().join("liu.db"), &json_batch);
    let msgpack = sma_fills_by_symbol(&msgpack_dir.path().join("liu.db"), &msgpack_batch);
    assert!(json.len() >= 16, "most symbols traded: {json:?}");
    assert_eq!(json, msgpack);
}

/// The hostile corpus inside `trade`, beside sma-cross in both consumers:
/// the consumers survive (no restart), each hostile run ends with its reason
/// recorded, and sma-cross's fills are exactly those of a run without them.
#[test]
fn hostile_strategies_in_trade_are_contained_and_sma_cross_trades_as_alone() {
    let alone_dir = tempfile::tempdir().unwrap();
    let (alone_batch, _) = trade_whole_replay(alone_dir.path(), "");
    let alone = sma_fills_by_symbol(&alone_dir.path().join("liu.db"), &alone_batch);
    assert!(alone.len() >= 16, "most symbols traded: {alone:?}");

    let hostile = [
        "hostile-infinite-loop",
        "hostile-panic",
        "hostile-memory-bomb",
        "hostile-deep-recursion",
        "hostile-huge-strings",
        "hostile-order-spam",
        "hostile-bad-numbers",
        "hostile-slow-burn",
        "hostile-snoop",
    ];
    let extra: String = hostile.iter().map(|name| format!("[[strategies]]\ncomponent = \"{}\"\n", component(name).display())).collect();
    let mixed_dir = tempfile::tempdir().unwrap();
    let (mixed_batch, lines) = trade_whole_replay(mixed_dir.path(), &extra);
    let db = mixed_dir.path().join("liu.db");
    let text = lines.join("\n");
    assert_eq!(json_summary(&lines)["restarts"], serde_json::json!([0, 0]), "no consumer died:\n{text}");
    assert_eq!(sma_fills_by_symbol(&db, &mixed_batch), alone);

    let runs = runs(&db, &mixed_batch);
    assert_eq!(runs.len(), 2 * (hostile.len() + 1), "{runs:?}");
    let reasons = |name: &str| -> Vec<String> {
        runs.iter().filter(|r| r.algo_name == name).map(|r| r.end_reason.clone().unwrap_or_default()).collect()
    };
    let expect = [
        ("hostile-infinite-loop", "out of fuel"),
        ("hostile-slow-burn", "out of fuel"),
        ("hostile-panic", "deliberate failure"),
        ("hostile-memory-bomb", "memory"),
        ("hostile-deep-recursion", "stack overflow"),
        ("hostile-order-spam", "orders rejected in a row"),
    ];
    for (name, reason) in expect {
        let got = reasons(name);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|r| r.contains(reason)), "{name}: expected {reason:?} in both consumers' runs, got {got:?}");
    }
    // The others are contained without being disabled.
    for name in ["sma-cross", "hostile-snoop"] {
        assert_eq!(reasons(name), ["shutdown", "shutdown"], "{name}");
    }
    // The snoop checked bars in both consumers and never saw another strategy's state.
    assert!(lines.iter().filter(|l| l.contains("snoop:") && l.contains("bars checked")).count() >= 2, "{text}");
    assert!(!text.contains("FOREIGN"), "a strategy saw another's state:\n{text}");
    assert!(!trades(&db, &mixed_batch).iter().any(|t| t.algo_name == "hostile-snoop"));
}

/// A component importing WASI is refused before anything starts: one error
/// naming the import, a non-zero exit, nothing written.
#[test]
fn trade_refuses_a_plan_with_a_wasi_importing_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[[strategies]]\ncomponent = \"{}\"\n", component("hostile-wasi-filesystem").display());
    let plan = write_plan(dir.path(), "ws://127.0.0.1:9/v2/test", 5.0, &extra);
    let db = dir.path().join("liu.db");
    let (status, lines) = spawn_trade(&plan, &db, "5").finish();
    let text = lines.join("\n");
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("hostile-wasi-filesystem.wasm imports `wasi:") && text.contains("outside the liu:engine strategy world"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    assert!(!db.exists() || run_count(&db) == 0, "nothing is written");
}

/// Credentials live in the producer alone: the consumer processes (which
/// host the strategies) do not have them in their environment, and neither
/// the output nor the database file holds them.
#[test]
fn credentials_reach_neither_consumers_nor_logs_nor_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "60");
    for (consumer, line) in both_connected(&mut trade) {
        let environ = std::fs::read(format!("/proc/{}/environ", pid_of(&line))).expect("consumer environment");
        let environ = String::from_utf8_lossy(&environ);
        for secret in [KEY, SECRET, POLYGON_KEY] {
            assert!(!environ.contains(secret), "{consumer} has a credential in its environment");
        }
        assert!(!environ.contains("APCA_") && !environ.contains("POLYGON_API_KEY"), "{consumer}: {environ}");
    }
    wait_until(Duration::from_secs(30), "fills recorded", || symbols_by_run_now(&db), |by_run| by_run.len() == 2);
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let text = lines.join("\n");
    let batch = batch_of(&lines);
    assert!(!trades(&db, &batch).is_empty());
    let mut stored = std::fs::read(&db).unwrap();
    for side in ["liu.db-wal", "liu.db-shm"] {
        stored.extend(std::fs::read(dir.path().join(side)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    for secret in [KEY, SECRET, POLYGON_KEY] {
        assert!(!text.contains(secret), "a credential reached the output");
        assert!(!stored.contains(secret), "a credential reached the database");
    }
}

/// A private PostgreSQL server in a temporary directory (initdb, run as the
/// `postgres` user), for the test that kills it mid-run and restarts it.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Proc>,
}

impl PrivatePostgres {
    fn bin(name: &str) -> PathBuf {
        let root = Path::new("/usr/lib/postgresql");
        let mut versions: Vec<_> = std::fs::read_dir(root).expect("PostgreSQL server binaries in /usr/lib/postgresql").flatten().collect();
        versions.sort_by_key(|e| e.file_name());
        versions.last().unwrap().path().join("bin").join(name)
    }

    fn as_postgres(program: &Path) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        cmd
    }

    fn init() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("chown").args(["postgres:postgres", dir.path().to_str().unwrap()]).status().unwrap().success();
        assert!(ok, "chown the server's directory (the tests run as root)");
        let out = Self::as_postgres(&Self::bin("initdb"))
            .args(["-D", dir.path().join("data").to_str().unwrap(), "-U", "postgres", "--auth=trust", "--no-sync"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut pg = PrivatePostgres { dir, port, server: None };
        pg.start();
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    fn start(&mut self) {
        use std::os::unix::process::CommandExt;
        let data = self.dir.path().join("data");
        let mut cmd = Self::as_postgres(&Self::bin("postgres"));
        cmd.args(["-D", data.to_str().unwrap(), "-p", &self.port.to_string(), "-k", self.dir.path().to_str().unwrap()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut server = Proc::from_command(cmd);
        server.wait_for(Duration::from_secs(60), |l| l.contains("database system is ready to accept connections"));
        self.server = Some(server);
    }

    /// SIGKILLs the whole server (postmaster and backends): a crash.
    fn kill(&mut self) {
        let server = self.server.take().expect("running");
        kill(-(server.child.id() as i32), libc::SIGKILL);
        drop(server);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.kill();
        }
    }
}

/// The database crashes mid-run and comes back: the consumers keep their
/// fills in memory and in the journal meanwhile, write them when it is back,
/// and every fill a consumer made is in `new_trades` exactly once.
#[test]
fn killing_the_database_mid_run_loses_no_trade() {
    let mut pg = PrivatePostgres::init();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let mut trade = Proc::spawn(
        &["trade", "--tradeplan", plan.to_str().unwrap(), "--db", &pg.url(), "--duration-secs", "60", "--json"],
        &[("LIU_JOURNAL_DIR", journal.to_str().unwrap())],
    );
    // Both consumers have their runs recorded before the database goes.
    both_connected(&mut trade);
    pg.kill();
    trade.wait_for(Duration::from_secs(30), |l| l.contains("database write failed"));
    pg.start();
    trade.wait_for(Duration::from_secs(30), |l| l.contains("database reachable again"));
    let (status, lines) = stop(trade);
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    let made: u64 = lines
        .iter()
        .filter(|l| l.contains("consumer finished:"))
        .map(|l| l.split("fills=").nth(1).unwrap().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(made > 0, "{text}");
    let batch = batch_of(&lines);
    let stored = TestDb::Postgres(pg.url()).trades(&batch);
    assert_eq!(stored.len() as u64, made, "every fill stored once\n{text}");
    let runs = TestDb::Postgres(pg.url()).runs(&batch);
    assert!(runs.iter().all(|r| r.end_reason.as_deref() == Some("shutdown")), "{runs:?}");
    let left: Vec<_> = std::fs::read_dir(&journal).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "the journal is removed once written: {left:?}");
}

/// `trade` on a PostgreSQL database: runs and fills land there as on SQLite.
#[test]
fn trade_records_runs_and_fills_in_postgres() {
    let pg = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let mut trade = Proc::spawn(&["trade", "--tradeplan", plan.to_str().unwrap(), "--db", &pg.url, "--duration-secs", "60", "--json"], &[]);
    both_connected(&mut trade);
    let runs_with_fills = || {
        pg_query(&pg.url, async |c| {
            sqlx::query_scalar::<_, i64>("SELECT count(DISTINCT algo_run_id) FROM new_trades").fetch_one(c).await.unwrap()
        })
    };
    wait_until(Duration::from_secs(30), "fills from both consumers", runs_with_fills, |n| *n == 2);
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    let batch = batch_of(&lines);
    let db = TestDb::Postgres(pg.url.clone());
    let runs = db.runs(&batch);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.algo_env == "PAPER" && r.end_reason.as_deref() == Some("shutdown")));
    let trades = db.trades(&batch);
    assert!(!trades.is_empty());
    assert!(trades.iter().all(|t| t.algo_name == "sma-cross" && t.symbol.starts_with("SYM")));
}

/// `keystore` rows of a strategy in a SQLite database, by key.
fn keystore(db: &Path, algo_name: &str) -> BTreeMap<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM keystore WHERE algo_name = ? AND context = 'PAPER'")
            .bind(algo_name)
            .fetch_all(&mut c)
            .await
            .unwrap();
        rows.into_iter().collect()
    })
}

/// A strategy's `state` store outlives its session: what one `trade` run
/// kept, the next one's strategy reads back (it logs where it resumes).
#[test]
fn a_strategys_state_is_kept_in_the_keystore_across_sessions() {
    // The same counter in every language: each SDK's `state` wrapper.
    let counters = ["bar-counter", "bar-counter-python", "bar-counter-js", "bar-counter-c"];
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let extra: String = counters.iter().map(|name| format!("[[strategies]]\ncomponent = \"{}\"\n", component(name).display())).collect();
    let plan = write_plan(dir.path(), &url, 5.0, &extra);
    let db = dir.path().join("liu.db");
    // A session that stops once `ready` holds for the counters' keystores.
    type Kept = [BTreeMap<String, String>];
    let session = |what: &str, ready: &dyn Fn(&Kept) -> bool| -> Vec<String> {
        let mut trade = spawn_trade(&plan, &db, "60");
        // Generous: a cold compile cache (as in CI) compiles the Python and
        // JavaScript interpreters (12–18 MB components) before the consumers start.
        trade.wait_for(Duration::from_secs(120), |l| l.contains("market-data subscription confirmed"));
        wait_until(
            Duration::from_secs(40),
            what,
            || counters.iter().map(|name| keystore(&db, name)).collect::<Vec<_>>(),
            |kept| ready(kept),
        );
        let (status, lines) = stop(trade);
        assert!(status.success(), "{}", lines.join("\n"));
        lines
    };
    let first = session("every counter keeps a count per symbol", &|kept| kept.iter().all(|k| k.len() == 20));
    assert!(!first.iter().any(|l| l.contains(": resuming")), "the first session starts empty");
    let kept: Vec<_> = counters.iter().map(|name| keystore(&db, name)).collect();
    for (name, kept) in counters.iter().zip(&kept) {
        assert_eq!(kept.len(), 20, "{name}: one count per symbol: {kept:?}");
        assert!(kept.values().all(|v| v.parse::<u64>().unwrap() > 0), "{name}: {kept:?}");
    }

    let count = |v: &String| v.parse::<u64>().unwrap();
    let second = session("every count went on", &|now| {
        now.iter().zip(&kept).all(|(now, kept)| kept.iter().all(|(key, value)| now.get(key).is_some_and(|v| count(v) > count(value))))
    });
    for (name, kept) in counters.iter().zip(&kept) {
        for (key, value) in kept {
            let symbol = key.trim_start_matches("bars:");
            let line = format!("{name}: resuming {symbol} at {value}");
            assert!(second.iter().any(|l| l.contains(&line)), "missing {line:?}:\n{}", second.join("\n"));
        }
        let after = keystore(&db, name);
        for (key, value) in kept {
            assert!(after[key].parse::<u64>().unwrap() > value.parse::<u64>().unwrap(), "{name}: {key} kept counting");
        }
    }
}

/// `trending_tickers` of a batch with their times, oldest first.
fn trending_at(db: &Path, batch: &str) -> Vec<(String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query_as("SELECT symbol, create_tstamp FROM trending_tickers WHERE batch_id = ? ORDER BY trending_id")
            .bind(batch)
            .fetch_all(&mut c)
            .await
            .unwrap()
    })
}

/// The scanner runs again on its recurrence, on the market as it is then:
/// LATE, down on the day at the start, is up once the replay has moved it;
/// a later scan picks it, it is recorded and subscribed, and it trades.
#[test]
fn a_recurring_scan_picks_a_symbol_that_qualifies_later_and_it_trades() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bars");
    std::fs::create_dir_all(&folder).unwrap();
    // (name, yesterday's price, today's price, today's last close): GOOD1 is
    // up 10% at the start. LATE closes today 9% down, so the first scan
    // skips it; once the replay runs, the board's previous session is the
    // data's last day (close 10) and the replayed prices are 11: up 10%.
    for (name, yesterday, today, last) in [("GOOD1", 10.0, 11.0, 11.0), ("LATE", 11.0, 11.0, 10.0)] {
        let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
        for (day, price) in [("2024-03-04", yesterday), ("2024-03-05", today)] {
            for m in 0..60 {
                let wiggle = 0.01 * price * (f64::from(m) / 3.0).sin();
                let close = if day == "2024-03-05" && m == 59 { last } else { price + wiggle };
                let (h, mm) = (9 + (30 + m) / 60, (30 + m) % 60);
                csv.push_str(&format!("{day} {h:02}:{mm:02}:00,{close},{},{},{close},2000\n", close * 1.001, close * 0.999));
            }
        }
        std::fs::write(folder.join(format!("{name}.csv")), csv).unwrap();
    }
    let (_sim, url, rest) = simulator_with_rest(&["--data", folder.to_str().unwrap(), "--repeat"]);
    let plan = momentum_scanner_plan(dir.path(), &url, &rest, "recurrence_minutes = 0.02");
    let db = dir.path().join("liu.db");
    let (batch, lines) = trade_until(&plan, &db, "LATE traded", |by_run| traded(by_run).contains("LATE"));
    let text = lines.join("\n");
    let picks = trending_at(&db, &batch);
    assert_eq!(picks.first().map(|p| p.0.as_str()), Some("GOOD1"), "{text}");
    let first_scan = &picks[0].1;
    let late = picks.iter().find(|p| p.0 == "LATE").unwrap_or_else(|| panic!("LATE never picked: {picks:?}\n{text}"));
    assert!(&late.1 > first_scan, "LATE is picked by a later scan: {picks:?}");
    assert!(!picks.iter().any(|p| p.0 == "LATE" && &p.1 == first_scan));
    let traded: BTreeSet<String> = symbols_by_run(&db, &batch).into_values().flatten().collect();
    assert!(traded.contains("LATE"), "LATE was subscribed and traded: {traded:?}\n{text}");
}

/// With the Alpaca broker, an order placed by a consumer that then died is
/// still the engine's: when the broker fills it later, the restarted
/// consumer records the fill under its run of the same strategy, marked as
/// placed by the earlier process.
#[test]
fn a_fill_of_an_order_placed_by_a_consumer_that_died_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url, rest) = simulator_with_rest(&["--symbols", "20", "--bars", "100000"]);
    let extra = format!("[[strategies]]\ncomponent = \"{}\"\nparams = {{ pct = 0.2 }}\n", component("limit-dip").display());
    let plan = write_plan(dir.path(), &url, 5.0, &extra);
    let text = std::fs::read_to_string(&plan).unwrap() + &format!("\n[broker]\nkind = \"alpaca\"\nbase_url = \"{rest}\"\n");
    std::fs::write(&plan, text).unwrap();
    let db = dir.path().join("liu.db");
    let mut trade = Proc::spawn(
        &["trade", "--tradeplan", plan.to_str().unwrap(), "--db", db.to_str().unwrap(), "--duration-secs", "60", "--json"],
        &[("LIU_LOG", "info,liu_venues::routing=debug")],
    );
    let first = trade.wait_for(Duration::from_secs(30), |l| l.contains("consumer connected") && l.contains("consumer=1"));
    let pid = pid_of(&first);
    // limit-dip is the second strategy: its orders from consumer 1 carry `-1.{pid}-1-`.
    let mark = format!("-1.{pid}-1-");
    trade.wait_for(Duration::from_secs(30), |l| l.contains("order accepted by alpaca") && l.contains(&mark));
    kill(pid as i32, libc::SIGKILL);
    let marked = || {
        query(&db, async |c| {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM new_trades WHERE indicators LIKE '%placed_by_earlier_process%'")
                .fetch_one(c)
                .await
                .unwrap()
        })
    };
    wait_until(Duration::from_secs(40), "a fill of the dead consumer's order recorded", marked, |n| *n > 0);
    let (status, lines) = stop(trade);
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    let batch = batch_of(&lines);
    let orphans: Vec<_> = trades(&db, &batch).into_iter().filter(|t| t.indicators.contains("placed_by_earlier_process")).collect();
    assert!(!orphans.is_empty(), "no fill of the dead consumer's resting orders was recorded\n{text}");
    for t in &orphans {
        assert_eq!((t.algo_name.as_str(), t.operation.as_str()), ("limit-dip", "buy"));
        assert!(t.indicators.contains(&mark), "{t:?}");
    }
    // Nothing of the session stays open at the broker, the dead consumer's resting orders included.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let open: Vec<serde_json::Value> = rt.block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{rest}/v2/orders?status=open&limit=500"))
            .header("APCA-API-KEY-ID", KEY)
            .header("APCA-API-SECRET-KEY", SECRET)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    });
    let prefix = format!("{}-", &batch[..8]);
    let left: Vec<_> = open.iter().filter(|o| o["client_order_id"].as_str().is_some_and(|c| c.starts_with(&prefix))).collect();
    assert!(left.is_empty(), "orders of the session left open: {left:?}\n{text}");
}

/// One symbol, BRK, whose bars take limit-dip's bracket through its take
/// profit without a gap: the entry limit (99.80) is traded through on the
/// second bar, the take profit (100.30) on the third, the stop (98.80) never.
fn write_bracket_data(dir: &Path) -> PathBuf {
    let folder = dir.join("bracket-bars");
    std::fs::create_dir_all(&folder).unwrap();
    let bars = [
        (100.0, 100.0, 100.0, 100.0),
        (100.0, 100.0, 99.5, 99.5),
        (99.6, 101.0, 99.6, 101.0),
        (101.0, 101.0, 101.0, 101.0),
        (101.0, 101.0, 101.0, 101.0),
    ];
    let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
    for (m, (o, h, l, c)) in bars.iter().enumerate() {
        csv.push_str(&format!("2024-03-05 09:{:02}:00,{o},{h},{l},{c},1000\n", 30 + m));
    }
    std::fs::write(folder.join("BRK.csv"), csv).unwrap();
    folder
}

/// limit-dip's bracket (entry 99.80, stop loss 98.80, take profit 100.30):
/// the paper broker and the Alpaca broker (the trading stand-in's bracket
/// orders and their `trade_updates`) record the same two fills: the entry,
/// and the take-profit leg under the strategy that placed the parent.
#[test]
fn bracket_exits_are_recorded_alike_by_the_paper_and_the_alpaca_broker() {
    let mut seen = Vec::new();
    for broker in ["paper", "alpaca"] {
        let dir = tempfile::tempdir().unwrap();
        let data = write_bracket_data(dir.path());
        let (_sim, url, rest) = simulator_with_rest(&["--data", data.to_str().unwrap(), "--speed", "60"]);
        let plan = dir.path().join("tradeplan.toml");
        let mut text = format!(
            "portfolio_value = 100000.0\nwarmup_minutes = 0\nconsumers = 1\nsymbols = [\"BRK\"]\n\
             [provider]\nkind = \"alpaca\"\nurl = \"{url}\"\nrest_url = \"{rest}\"\n\
             [[strategies]]\ncomponent = \"{}\"\nparams = {{ qty = 5, pct = 0.2, stop-pct = 1.0, target-pct = 0.5 }}\n",
            component("limit-dip").display()
        );
        if broker == "alpaca" {
            text += &format!("[broker]\nkind = \"alpaca\"\nbase_url = \"{rest}\"\n");
        }
        std::fs::write(&plan, text).unwrap();
        let db = dir.path().join("liu.db");
        let mut trade = spawn_trade(&plan, &db, "60");
        trade.wait_for(Duration::from_secs(30), |l| l.contains("market-data subscription confirmed"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while count_rows(&db, "new_trades") < 2 {
            assert!(Instant::now() < deadline, "{broker}: the entry and its exit were not both recorded within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        kill(trade.child.id() as i32, libc::SIGTERM);
        let (status, lines) = trade.finish();
        let text = lines.join("\n");
        assert!(status.success(), "{text}");
        let rows = trades(&db, &batch_of(&lines));
        let got: Vec<_> = rows
            .iter()
            .map(|t| {
                let leg = serde_json::from_str::<serde_json::Value>(&t.indicators)
                    .ok()
                    .and_then(|v| v["bracket_leg"].as_str().map(str::to_owned));
                (t.algo_name.clone(), t.operation.clone(), t.qty, t.price, leg)
            })
            .collect();
        let want = [
            ("limit-dip".to_owned(), "buy".to_owned(), 5.0, 99.8, None),
            ("limit-dip".to_owned(), "sell".to_owned(), 5.0, 100.3, Some("take_profit".to_owned())),
        ];
        assert_eq!(got, want, "{broker}:\n{text}");
        assert_eq!((rows[0].stop_price, rows[0].target_price), (Some(98.8), Some(100.3)), "{broker}");
        // The summary: one strategy, flat, 2.50 realized.
        let summary = json_summary(&lines);
        let limit_dip = &summary["strategies"][0];
        assert_eq!((limit_dip["name"].as_str(), limit_dip["fills"].as_u64()), (Some("limit-dip"), Some(2)), "{broker}: {summary}");
        assert!((limit_dip["realized_pnl"].as_f64().unwrap() - 2.5).abs() < 1e-9, "{broker}: {summary}");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "paper and Alpaca agree");
}

/// With the Alpaca broker, `trade` reads the account first: a position it
/// holds that the session did not open (bought here beforehand through the
/// trading API) is reported, and its symbol is not traded.
#[test]
fn positions_the_session_did_not_open_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url, rest) = simulator_with_rest(&["--symbols", "20", "--bars", "100000"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bought: serde_json::Value = rt.block_on(async {
        let order = serde_json::json!({"symbol": "SYM003", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"});
        let response = reqwest::Client::new()
            .post(format!("{rest}/v2/orders"))
            .header("APCA-API-KEY-ID", KEY)
            .header("APCA-API-SECRET-KEY", SECRET)
            .json(&order)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{:?}", response.text().await);
        response.json().await.unwrap()
    });
    assert_eq!(bought["symbol"], "SYM003");
    let plan = write_plan(dir.path(), &url, 5.0, "");
    let text = std::fs::read_to_string(&plan).unwrap() + &format!("\n[broker]\nkind = \"alpaca\"\nbase_url = \"{rest}\"\n");
    std::fs::write(&plan, text).unwrap();
    let db = dir.path().join("liu.db");
    let (batch, lines) = trade_until(&plan, &db, "ten symbols traded", |by_run| traded(by_run).len() >= 10);
    let text = lines.join("\n");
    assert!(lines.iter().any(|l| l.contains("the account holds a position this session did not open") && l.contains("SYM003")), "{text}");
    assert!(lines.iter().any(|l| l.contains("not trading SYM003")), "{text}");
    let traded: BTreeSet<String> = symbols_by_run(&db, &batch).into_values().flatten().collect();
    assert!(!traded.contains("SYM003") && traded.len() >= 10, "SYM003 left alone, the others traded: {traded:?}");
}

/// Live as in a backtest: `run-all` runs once per time step, after the bars
/// of every symbol the consumer owns (ten each here), and a rejected
/// symbol's bars never reach the strategy.
#[test]
fn run_all_follows_each_step_of_the_owned_symbols_and_a_rejected_symbol_stays_away() {
    let dir = tempfile::tempdir().unwrap();
    // Frames of at most 3 messages: a step's bars arrive over several frames,
    // so a run-all per frame (not per step) would show up as partial counts.
    let mut sim =
        Proc::spawn(&["simulate", "--listen", "127.0.0.1:0", "--symbols", "20", "--bars", "100000", "--speed", "600", "--batch", "3"], &[]);
    let line = sim.wait_for(Duration::from_secs(30), |l| l.starts_with("simulator listening on "));
    let url = line.trim_start_matches("simulator listening on ").to_owned();
    let extra =
        format!("[[strategies]]\ncomponent = \"{}\"\nparams = {{ reject = \"SYM004\", run-all = true }}\n", component("probe").display());
    let plan = write_plan(dir.path(), &url, 5.0, &extra);
    let db = dir.path().join("liu.db");
    let mut trade = spawn_trade(&plan, &db, "120");
    for _ in 0..8 {
        trade.wait_for(Duration::from_secs(30), |l| l.contains("run-all "));
    }
    kill(trade.child.id() as i32, libc::SIGTERM);
    let (status, lines) = trade.finish();
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    let runs: Vec<&String> = lines.iter().filter(|l| l.contains("run-all ")).collect();
    assert!(runs.len() >= 8);
    // Each consumer owns ten symbols; SYM004's owner gets it, but the probe refused it.
    let partial: Vec<_> = runs.iter().filter(|l| !l.contains("after 10 bars") && !l.contains("after 9 bars")).collect();
    assert!(partial.is_empty(), "run-all before a step's bars were all in: {partial:?}");
    assert!(runs.iter().any(|l| l.contains("after 9 bars")), "the consumer owning SYM004 counts 9: {runs:?}");
    assert!(!lines.iter().any(|l| l.contains(" bar SYM004")), "a rejected symbol's bar reached the strategy");
    assert!(lines.iter().any(|l| l.contains(" bar SYM003")));
}

/// One of the providers' own Python clients (tests/clients/), run against
/// the simulator; its output lines as JSON.
fn provider_client(script: &str, target: &str, want: usize) -> Vec<serde_json::Value> {
    let python = repo().join("target/langs/clients/bin/python");
    assert!(python.exists(), "{} is missing: run `just setup-langs`", python.display());
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/clients").join(script))
        .arg(target)
        .arg(want.to_string())
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env("POLYGON_API_KEY", POLYGON_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut client = Proc::from_command(cmd);
    let mut got = Vec::new();
    let mut bars = 0;
    while bars < want {
        let line = client.wait_for(Duration::from_secs(60), |l| l.starts_with('{'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        bars += usize::from(value.get("kind").is_none_or(|k| k == "bar"));
        got.push(value);
    }
    got
}

/// Alpaca's official SDK (alpaca-py, which asks for MessagePack) reads the
/// simulator's stream: bars labelled with their minute's start, a minute
/// apart, each after the next minute's first trade, as Alpaca documents.
#[test]
fn alpaca_py_reads_the_simulators_messagepack_stream() {
    let (_sim, url) = simulator("127.0.0.1:0", "60");
    let got = provider_client("alpaca_stream.py", &url, 6);
    let t = |v: &serde_json::Value| v["t"].as_f64().unwrap();
    let bars: Vec<(usize, &serde_json::Value)> = got.iter().enumerate().filter(|(_, v)| v["kind"] == "bar").collect();
    assert_eq!(bars.len(), 6);
    for symbol in ["SYM000", "SYM001"] {
        let starts: Vec<f64> = bars.iter().filter(|(_, b)| b["symbol"] == symbol).map(|(_, b)| t(b)).collect();
        assert!(starts.len() >= 2, "{got:?}");
        assert!(starts.iter().all(|s| s.rem_euclid(60.0) == 0.0), "labelled with the minute's start: {starts:?}");
        assert!(starts.windows(2).all(|w| w[1] - w[0] == 60.0), "a minute apart: {starts:?}");
    }
    // Every bar but the first minute's comes after a trade of its symbol's next minute.
    for (i, bar) in bars.iter().skip(2) {
        let next_trade_first = got[..*i].iter().any(|v| v["kind"] == "trade" && v["symbol"] == bar["symbol"] && t(v) >= t(bar) + 60.0);
        assert!(next_trade_first, "the next minute's first trade precedes {bar}: {got:?}");
    }
}

/// Polygon's official client (polygon-api-client) reads the simulator's
/// minute aggregates: `s` the window's start, `e` its end, a minute apart.
#[test]
fn polygon_api_client_reads_the_simulators_aggregates() {
    let (_sim, url) = simulator("127.0.0.1:0", "60");
    let host = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let got = provider_client("polygon_stream.py", &host, 6);
    for symbol in ["SYM000", "SYM001"] {
        let windows: Vec<(i64, i64)> =
            got.iter().filter(|v| v["symbol"] == symbol).map(|v| (v["start"].as_i64().unwrap(), v["end"].as_i64().unwrap())).collect();
        assert!(windows.len() >= 2, "{got:?}");
        assert!(windows.iter().all(|(s, e)| s % 60_000 == 0 && e - s == 60_000), "{windows:?}");
        assert!(windows.windows(2).all(|w| w[1].0 - w[0].0 == 60_000), "{windows:?}");
    }
}

/// Fills as (operation, qty, price, event time), per (strategy, symbol).
type FillsBySymbol = BTreeMap<(String, String), Vec<(String, f64, f64, String)>>;

/// Fills of a batch per (strategy, symbol), in the order they were made.
fn fills_by_strategy_and_symbol(db: &Path, batch: &str) -> FillsBySymbol {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for t in trades(db, batch) {
        out.entry((t.algo_name, t.symbol)).or_default().push((t.operation, t.qty, t.price, t.client_time));
    }
    out
}

/// A paper session of 20 symbols on two consumers, recorded with `trade --record`.
struct RecordedSession {
    db: PathBuf,
    plan: PathBuf,
    recording: PathBuf,
    batch: String,
    summary: serde_json::Value,
}

/// Trades the simulator at `url` with sma-cross (and `extra_strategies`),
/// recording, until the database holds `fills` fills; stops it with Ctrl-C.
fn record_session(dir: &Path, url: &str, extra_strategies: &str, fills: i64) -> RecordedSession {
    let plan = write_plan(dir, url, 5.0, extra_strategies);
    let db = dir.join("liu.db");
    let recording = dir.join("recording");
    let mut trade = Proc::spawn(
        &[
            "trade",
            "--tradeplan",
            plan.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--duration-secs",
            "60",
            "--json",
            "--record",
            recording.to_str().unwrap(),
        ],
        &[],
    );
    both_connected(&mut trade);
    let fill_count = || query(&db, async |c| sqlx::query_scalar::<_, i64>("SELECT count(*) FROM new_trades").fetch_one(c).await.unwrap());
    wait_until(Duration::from_secs(40), "enough fills", fill_count, |n| *n >= fills);
    let (status, lines) = stop(trade);
    assert!(status.success(), "{}", lines.join("\n"));
    RecordedSession { db, plan, recording, batch: batch_of(&lines), summary: json_summary(&lines) }
}

/// `backtest --replay` of `recording` into `db`; its JSON summary.
fn replay_recording(recording: &Path, db: &Path) -> serde_json::Value {
    let out = liu(&["backtest", "--replay", recording.to_str().unwrap(), "--db", db.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A paper session of 20 symbols recorded with `trade --record` and
/// replayed with `backtest --replay` into the same database: every fill is
/// the same (strategy, symbol, side, qty, price, event time, in order) and
/// so is every strategy's result. sma-cross trades at market, limit-dip
/// with bracket orders (limit entries, stop and take-profit legs). Both
/// batches store each run's equity curve, and each replay run references
/// the trade run it replays and stores the same curve, point for point.
#[test]
fn a_recorded_session_replayed_through_the_backtester_makes_the_same_fills() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let extra = format!(
        "[[strategies]]\ncomponent = \"{}\"\nparams = {{ pct = 0.1, stop-pct = 0.5, target-pct = 0.3 }}\n",
        component("limit-dip").display()
    );
    let RecordedSession { db, plan, recording, batch: live_batch, summary: live } = record_session(dir.path(), &url, &extra, 300);

    let replay = replay_recording(&recording, &db);
    let replay_batch = replay["batch_id"].as_str().unwrap();
    assert_ne!(replay_batch, live_batch);
    assert_eq!(replay["recordings"].as_array().unwrap().len(), 2, "one recording per consumer");

    let (live_fills, replay_fills) = (fills_by_strategy_and_symbol(&db, &live_batch), fills_by_strategy_and_symbol(&db, replay_batch));
    assert!(
        live_fills.keys().any(|(s, _)| s == "limit-dip") && live_fills.len() >= 30,
        "both strategies traded most symbols: {:?}",
        live_fills.keys()
    );
    assert_eq!(replay_fills, live_fills);
    let results = |summary: &serde_json::Value| -> Vec<serde_json::Value> {
        summary["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                serde_json::json!([
                    s["name"],
                    s["fills"],
                    s["realized_pnl"],
                    s["unrealized_pnl"],
                    s["fees"],
                    s["equity"],
                    s["open_positions"]
                ])
            })
            .collect()
    };
    assert_eq!(results(&replay), results(&live));
    let runs = runs(&db, replay_batch);
    assert_eq!(runs.len(), 4, "two strategies on each of two recorded consumers: {runs:?}");
    assert!(runs.iter().all(|r| r.algo_env == "BACKTEST" && r.end_reason.as_deref() == Some("replayed")), "{runs:?}");

    // Same fills at the same steps: the same equity at every step.
    let (live_curves, replay_curves) = (stored_curves(&db, &live_batch), stored_curves(&db, replay_batch));
    assert_eq!((live_curves.len(), replay_curves.len()), (4, 4), "every run stored its curve");
    assert!(live_curves.iter().all(|c| c.times.len() > 10 && c.ref_algo_run.is_none()), "{live_curves:?}");
    let mut referenced: Vec<i64> = replay_curves.iter().map(|c| c.ref_algo_run.expect("the trade run it replays")).collect();
    referenced.sort_unstable();
    assert_eq!(referenced, live_curves.iter().map(|c| c.algo_run_id).collect::<Vec<_>>(), "one replay run per trade run");
    for r in &replay_curves {
        let live = live_curves.iter().find(|c| Some(c.algo_run_id) == r.ref_algo_run).unwrap();
        assert_eq!(
            (r.initial_equity, r.steps_in_market, &r.times, &r.equity),
            (live.initial_equity, live.steps_in_market, &live.times, &live.equity),
            "run {} replays run {}",
            r.algo_run_id,
            live.algo_run_id
        );
    }

    // Bad recordings: one clear error naming the file (and the offset), nothing written.
    let file = std::fs::read_dir(&recording).unwrap().flatten().map(|e| e.path()).min().unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let before = run_count(&db);
    let replay_err = |args: &[&str]| {
        let mut all = vec!["backtest", "--replay", recording.to_str().unwrap(), "--db", db.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = liu(&all);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(run_count(&db), before, "nothing written: {err}");
        err
    };
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = replay_err(&[]);
    assert!(err.contains(&file.display().to_string()) && err.contains("truncated at byte offset"), "{err}");
    std::fs::write(&file, &bytes).unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(&other, std::fs::read_to_string(&plan).unwrap().replace("portfolio_value = 100000.0", "portfolio_value = 5000.0"))
        .unwrap();
    let err = replay_err(&["--tradeplan", other.to_str().unwrap()]);
    assert!(err.contains("plan digest") && err.contains("other.toml"), "{err}");
}

/// A recording as liu-engine wrote it before headers named their runs: the
/// header record (a MessagePack map of its variant to the array of its
/// fields) re-encoded without its last field, `algo_run_ids`.
fn without_run_ids(bytes: &[u8]) -> Vec<u8> {
    let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut record: serde_json::Value = rmp_serde::from_slice(&bytes[12..12 + len]).unwrap();
    let fields = record["Header"].as_array_mut().expect("the header record");
    let ids = fields.pop().unwrap();
    assert!(ids.as_array().is_some_and(|ids| !ids.is_empty()), "the header named its runs: {ids}");
    let header = rmp_serde::to_vec(&record).unwrap();
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[12 + len..]);
    out
}

/// A recorded session and its replay on one equity chart: the report of
/// either batch, opened in headless Chromium, draws its own runs and the
/// other batch's, one point per stored step each, names the other batch
/// under the metric table, and logs no error. Both batches store the
/// minute bars their strategies saw, the same in each: each report draws
/// buy-and-hold and every symbol's candles, one per stored bar, with every
/// fill marked. A linked run that stored no curve (a consumer that died)
/// is drawn rebuilt from its fills, and the note says so. A recording made
/// before headers named their runs still replays, to the same fills,
/// unlinked.
#[test]
fn the_report_of_a_trade_batch_or_of_its_replay_draws_both_on_the_equity_chart() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = simulator("127.0.0.1:0", "600");
    let session = record_session(dir.path(), &url, "", 60);
    let db = &session.db;
    let replay = replay_recording(&session.recording, db);
    let replay_batch = replay["batch_id"].as_str().unwrap().to_owned();
    let (live_curves, replay_curves) = (stored_curves(db, &session.batch), stored_curves(db, &replay_batch));
    assert_eq!((live_curves.len(), replay_curves.len()), (2, 2), "sma-cross on each of two consumers");
    // Short enough to be drawn whole (not downsampled).
    assert!(live_curves.iter().chain(&replay_curves).all(|c| c.times.len() > 10 && c.times.len() <= 4000));
    let bars = stored_bars(db, &session.batch);
    assert_eq!(stored_bars(db, &replay_batch), bars, "the replay saw the session's bars");
    assert_eq!(bars.len(), 20, "every symbol's bars: {:?}", bars.iter().map(|b| &b.symbol).collect::<Vec<_>>());
    for b in &bars {
        assert!(b.times.len() > 1 && b.times.windows(2).all(|w| w[0] < w[1]), "{}: bars in time order", b.symbol);
        assert!((0..b.times.len()).all(|i| b.low[i] <= b.open[i].min(b.close[i]) && b.high[i] >= b.open[i].max(b.close[i])));
    }

    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (batch, mine, theirs, my_part, their_part, other) in [
        (&session.batch, &live_curves, &replay_curves, "trade", "replay", &replay_batch),
        (&replay_batch, &replay_curves, &live_curves, "replay", "trade", &session.batch),
    ] {
        let page = dir.path().join(format!("{my_part}.html"));
        let out = liu(&["report", batch, "--db", db.to_str().unwrap(), "-o", page.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains(&format!("Linked batch {other}")), "{my_part}: a note names the linked batch");
        assert!(!html.contains("no equity curve was stored"), "{my_part}: the stored curves are drawn");
        assert!(html.contains("Rolling Sharpe (a fifth of the run: "), "{my_part}: a session of minutes rolls over a fifth of its steps");

        let run = crate::devtools::open(&page);
        std::fs::write(artifacts.join(format!("report-{my_part}-and-linked.png")), &run.screenshot).unwrap();
        assert_eq!(run.errors, Vec::<String>::new(), "{my_part}: console errors");
        let drawn: BTreeMap<String, u64> = run.report["charts"]["equity"]["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["name"].as_str().unwrap().to_owned(), s["points"].as_u64().unwrap()))
            .collect();
        let mut expected = BTreeMap::from([("buy and hold".to_owned(), mine[0].times.len() as u64)]);
        for c in mine {
            expected.insert(format!("sma-cross #{} ({my_part})", c.algo_run_id), c.times.len() as u64);
        }
        for c in theirs {
            expected.insert(format!("sma-cross #{} ({their_part}, batch {})", c.algo_run_id, &other[..8]), c.times.len() as u64);
        }
        assert_eq!(drawn, expected, "{my_part}: the equity chart");
        for (i, b) in bars.iter().enumerate() {
            let candles = &run.report["charts"][format!("price_{i}").as_str()]["series"][0];
            assert_eq!(candles["name"], b.symbol.as_str(), "{my_part}: candle chart {i}");
            assert_eq!(candles["points"].as_u64(), Some(b.times.len() as u64), "{my_part}: one candle per bar of {}", b.symbol);
        }
        let fills: usize = fills_by_strategy_and_symbol(db, batch).values().map(Vec::len).sum();
        assert_eq!(run.report["fills"].as_u64(), Some(fills as u64), "{my_part}: fill markers = fills");
    }

    let lost = replay_curves[0].algo_run_id;
    let fill_times: Vec<String> = query(db, async |c| {
        sqlx::query("DELETE FROM equity_curve WHERE algo_run_id = ?").bind(lost).execute(&mut *c).await.unwrap();
        sqlx::query_scalar("SELECT client_time FROM new_trades WHERE algo_run_id = ? ORDER BY fill_seq")
            .bind(lost)
            .fetch_all(c)
            .await
            .unwrap()
    });
    let page = dir.path().join("trade-rebuilt.html");
    let out = liu(&["report", &session.batch, "--db", db.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&page).unwrap().contains("1 of its runs stored no curve: theirs is rebuilt from their fills"));
    let run = crate::devtools::open(&page);
    assert_eq!(run.errors, Vec::<String>::new(), "console errors");
    let name = format!("sma-cross #{lost} (replay, batch {}, rebuilt from fills)", &replay_batch[..8]);
    let rebuilt = run.report["charts"]["equity"]["series"].as_array().unwrap().iter().find(|s| s["name"] == name.as_str()).cloned();
    let points = fill_times.chunk_by(|a, b| a == b).count() as u64;
    assert_eq!(rebuilt.map(|s| s["points"].clone()), Some(points.into()), "{name}: one point per fill time");

    let old = dir.path().join("recording-before-run-ids");
    std::fs::create_dir(&old).unwrap();
    for file in std::fs::read_dir(&session.recording).unwrap().flatten() {
        std::fs::write(old.join(file.file_name()), without_run_ids(&std::fs::read(file.path()).unwrap())).unwrap();
    }
    let unlinked = replay_recording(&old, db);
    let unlinked_batch = unlinked["batch_id"].as_str().unwrap();
    let refs = run_refs(db, unlinked_batch);
    assert!(refs.len() == 2 && refs.iter().all(|(_, r)| r.is_none()), "{refs:?}");
    assert_eq!(fills_by_strategy_and_symbol(db, unlinked_batch), fills_by_strategy_and_symbol(db, &session.batch));
}
