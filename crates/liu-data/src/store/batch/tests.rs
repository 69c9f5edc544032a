//! Tests of [`super`].

use super::*;
use liu_core::domain::{NANOS_PER_SECOND, Operation, Side};

fn fill(i: usize) -> Fill {
    Fill {
        order_id: i as u64 + 1,
        symbol: 0,
        side: Side::Buy,
        operation: Operation::Buy,
        qty: 1.0,
        price: 100.0 + i as f64,
        fee: 0.0,
        time: (1_764_000_000 + i as i64) * NANOS_PER_SECOND,
        stop_loss: None,
        take_profit: None,
        indicators: String::new(),
    }
}

fn run() -> RunStart {
    RunStart {
        algo_name: "t".into(),
        algo_env: liu_core::domain::AlgoEnv::Paper,
        parameters: serde_json::json!({}),
        start_time: Utc::now(),
        strategy_digest: String::new(),
        replays: None,
    }
}

fn end() -> RunEnd {
    RunEnd { end_time: Utc::now(), end_reason: liu_core::domain::EndReason::Shutdown, fuel_used: 0 }
}

/// Rows in `new_trades` and their distinct sequence numbers.
fn trade_rows(target: &DbTarget) -> (i64, i64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Store::open(target).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let count = sql_scalar!(i64, tx, "SELECT COUNT(*) FROM new_trades").unwrap();
        let distinct = sql_scalar!(i64, tx, "SELECT COUNT(DISTINCT fill_seq) FROM new_trades").unwrap();
        (count, distinct)
    })
}

/// A journal left behind is written by the next writer of its database
/// (`Store::write_journals`, which `trade` and `db migrate` run) and
/// removed; replayed again (a writer that died before removing it), or
/// holding rows the database already has, it adds nothing twice.
#[test]
fn a_journal_is_written_once_however_often_it_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: nextest runs each test in a process of its own.
    unsafe { std::env::set_var("LIU_JOURNAL_DIR", dir.path().join("journal")) };
    let target = DbTarget::Sqlite(dir.path().join("live.db"));
    let writer = BatchWriter::start(&target, "batch", vec![run()], vec!["AAA".into()], Commit::AsTheyCome).unwrap();
    writer.fills(0, (0..3).map(fill).collect());
    writer.finish(vec![end()]).unwrap();
    assert_eq!(trade_rows(&target), (3, 3));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(Store::open(&target)).unwrap();
    let (run_id, last_seq) = runtime.block_on(async {
        let mut tx = store.begin().await.unwrap();
        (
            sql_scalar!(i64, tx, "SELECT MAX(algo_run_id) FROM new_trades").unwrap(),
            sql_scalar!(i64, tx, "SELECT MAX(fill_seq) FROM new_trades").unwrap(),
        )
    });
    // The last fill again (already stored) and two the database never got.
    let row = |seq: i64| TradeRow {
        algo_run_id: run_id,
        fill_seq: seq,
        symbol: "AAA".into(),
        operation: "buy".into(),
        qty: 1.0,
        price: 200.0,
        indicators: "{}".into(),
        client_time: "2025-11-24T16:00:00Z".into(),
        stop_price: None,
        target_price: None,
        fee: 0.0,
        order_id: seq,
    };
    let mut journal = Journal::new("batch", &target);
    journal.append(&[last_seq, last_seq + 1, last_seq + 2].map(|s| JournalEntry::Trade(row(s)))).unwrap();
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(journal.path(), &copy).unwrap();

    assert_eq!(runtime.block_on(store.write_journals()).unwrap(), 3, "its rows were read");
    assert!(!journal.path().exists(), "and the journal removed");
    assert_eq!(trade_rows(&target), (5, 5), "the stored fill is not stored twice");
    std::fs::copy(&copy, journal.path()).unwrap();
    runtime.block_on(store.write_journals()).unwrap();
    assert_eq!(trade_rows(&target), (5, 5), "replayed again, nothing is added");
    assert!(!journal.path().exists());
}

#[test]
fn a_live_writer_commits_a_lone_fill_without_waiting_for_more() {
    let dir = tempfile::tempdir().unwrap();
    let target = DbTarget::Sqlite(dir.path().join("live.db"));
    let writer = BatchWriter::start(&target, "batch", vec![run()], vec!["AAA".into()], Commit::AsTheyCome).unwrap();
    writer.fills(0, vec![fill(0)]);
    // The fill becomes visible while the run goes on (polling for that event, bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    while trade_rows(&target).0 == 0 {
        assert!(Instant::now() < deadline, "a lone fill was not committed while the run went on");
        std::thread::yield_now();
    }
    // A burst larger than any one statement shape, in pieces of odd sizes.
    let burst: Vec<Fill> = (1..=2_200).map(fill).collect();
    for piece in burst.chunks(97) {
        writer.fills(0, piece.to_vec());
    }
    writer.finish(vec![end()]).unwrap();
    assert_eq!(trade_rows(&target), (2_201, 2_201));
}

#[test]
fn sqlite_inserts_take_rows_in_the_fixed_chunk_sizes_largest_first() {
    let rows = vec![0u8; 1100];
    let sizes: Vec<usize> = super::sqlite_insert_chunks(&rows).map(<[u8]>::len).collect();
    assert_eq!(sizes, [1024, 64, 8, 1, 1, 1, 1]);
    assert_eq!(super::sqlite_insert_chunks::<u8>(&[]).count(), 0);
}
