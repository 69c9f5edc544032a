//! Tests of [`super`].

use super::*;
use liu_core::domain::Timeframe;

fn header() -> Header {
    Header {
        format: FORMAT_VERSION,
        consumer: 1,
        pid: 42,
        batch_id: "b".into(),
        plan_text: "symbols = []".into(),
        plan_path: "/plan.toml".into(),
        plan_digest: plan_digest("symbols = []"),
        strategy_digests: vec!["d".into()],
        kept_state: HashMap::new(),
        restarted: false,
        algo_run_ids: vec![7],
    }
}

fn write_sample(dir: &Path) -> PathBuf {
    let mut r = Recorder::create(dir, header()).unwrap();
    r.write(&Record::Assign(vec![(0, "AAA".into())])).unwrap();
    let bar = Bar { time: 60, open: 1.0, high: 2.0, low: 0.5, close: 1.5, volume: 10.0 };
    r.write(&Record::Events(vec![(0, MarketEvent::Bar { timeframe: Timeframe::Minute, bar })])).unwrap();
    let path = r.path().to_owned();
    r.finish().unwrap();
    path
}

#[test]
fn a_recording_reads_back_record_by_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let (h, mut reader) = RecordingReader::open(&path).unwrap();
    assert_eq!(h, header());
    assert!(matches!(reader.next_record().unwrap(), Some(Record::Assign(a)) if a == [(0, "AAA".to_owned())]));
    assert!(matches!(reader.next_record().unwrap(), Some(Record::Events(e)) if e.len() == 1));
    assert_eq!(reader.next_record().unwrap(), Some(Record::End));
    assert_eq!(reader.next_record().unwrap(), None);
    assert_eq!(recordings_at(dir.path()).unwrap(), [path]);
}

#[test]
fn truncated_corrupt_and_newer_recordings_are_named_with_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    // Cut inside the last (end) record's length, then mid-record.
    for cut in [bytes.len() - 3, bytes.len() - 7] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = RecordingReader::check(&path).unwrap_err();
        assert!(matches!(&e, RecordingError::Truncated { offset, .. } if *offset > 8), "{e}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
    // A record whose bytes are not a record.
    let mut broken = bytes.clone();
    let last = broken.len() - 1;
    broken[last] = 0xc1; // never used in MessagePack
    std::fs::write(&path, &broken).unwrap();
    assert!(matches!(RecordingReader::check(&path), Err(RecordingError::Corrupt { .. })));
    std::fs::write(&path, b"not a recording").unwrap();
    assert!(matches!(RecordingReader::check(&path), Err(RecordingError::NotARecording { .. })));
    // A newer format.
    let mut newer = Recorder::create(dir.path(), Header { format: FORMAT_VERSION + 1, pid: 43, ..header() }).unwrap();
    let newer_path = newer.path().to_owned();
    newer.write(&Record::Assign(Vec::new())).unwrap();
    newer.finish().unwrap();
    assert!(matches!(RecordingReader::check(&newer_path), Err(RecordingError::NewerFormat { found, .. }) if found == FORMAT_VERSION + 1));
}

/// A header as liu-engine wrote it before `algo_run_ids`: the same fields
/// but that one, in the same order (MessagePack arrays name no field).
#[derive(Serialize)]
struct HeaderWithoutRunIds {
    format: u32,
    consumer: u32,
    pid: u32,
    batch_id: String,
    plan_text: String,
    plan_path: PathBuf,
    plan_digest: String,
    strategy_digests: Vec<String>,
    kept_state: HashMap<String, BTreeMap<String, String>>,
    restarted: bool,
}

/// The record enum of that version, for its header variant.
#[derive(Serialize)]
enum OldRecord {
    Header(Box<HeaderWithoutRunIds>),
}

#[test]
fn a_recording_made_before_run_ids_reads_with_none() {
    let h = header();
    let old = OldRecord::Header(Box::new(HeaderWithoutRunIds {
        format: h.format,
        consumer: h.consumer,
        pid: h.pid,
        batch_id: h.batch_id.clone(),
        plan_text: h.plan_text.clone(),
        plan_path: h.plan_path.clone(),
        plan_digest: h.plan_digest.clone(),
        strategy_digests: h.strategy_digests.clone(),
        kept_state: h.kept_state.clone(),
        restarted: h.restarted,
    }));
    let mut bytes = MAGIC.to_vec();
    for record in [rmp_serde::to_vec(&old).unwrap(), rmp_serde::to_vec(&Record::End).unwrap()] {
        bytes.extend_from_slice(&(record.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&record);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.liurec");
    std::fs::write(&path, bytes).unwrap();
    let (read, events) = RecordingReader::check(&path).unwrap();
    assert_eq!((read, events), (Header { algo_run_ids: Vec::new(), ..h }, 0));
}
