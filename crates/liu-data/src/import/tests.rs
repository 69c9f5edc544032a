//! Tests of [`super`].

use super::*;
use crate::store::bars::{BarQuery, BarsError};
use crate::synthetic::{random_walk, write_csv};

/// What an import reported, in order.
#[derive(Default)]
struct Recorder(Vec<String>);

impl ImportProgress for Recorder {
    fn loaded(&mut self, file: &Path, bars: usize) {
        self.0.push(format!("loaded {} {bars}", file.file_name().unwrap().to_string_lossy()));
    }

    fn written(&mut self, bars: usize) {
        self.0.push(format!("written {bars}"));
    }

    fn imported(&mut self, file: &ImportedFile) {
        self.0.push(format!("imported {} {}", file.path.file_name().unwrap().to_string_lossy(), file.bars));
    }
}

#[test]
fn a_folder_lists_its_bar_files_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.csv", "a.CSV", "c.parquet", "notes.txt"] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    std::fs::create_dir(dir.path().join("d.csv")).unwrap();
    let names: Vec<_> = bar_files(dir.path()).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["a.CSV", "b.csv", "c.parquet"]);
    assert_eq!(bar_files(&dir.path().join("b.csv")).unwrap(), [dir.path().join("b.csv")]);

    let err = bar_files(&dir.path().join("notes.txt")).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: not a .csv or .parquet file", dir.path().join("notes.txt").display()));
    let empty = tempfile::tempdir().unwrap();
    let err = bar_files(empty.path()).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: the folder has no .csv or .parquet file", empty.path().display()));
    let missing = dir.path().join("missing");
    let err = bar_files(&missing).unwrap_err();
    assert!(matches!(&err, ImportError::Io { path, .. } if *path == missing), "{err}");
    assert_eq!(err.to_string(), missing.display().to_string(), "the cause is the source");
}

#[test]
fn bars_import_in_steps_read_back_and_a_bad_file_keeps_the_files_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_walk(ROWS_PER_STEP + 10, 1, 7);
    let first = dir.path().join("a.csv");
    write_csv(&data, &first).unwrap();
    let target = DbTarget::Sqlite(dir.path().join("bars.db"));

    let mut progress = Recorder::default();
    let options = ImportOptions::default();
    let summary = import_bars(&target, std::slice::from_ref(&first), &options, &mut progress).unwrap();
    assert_eq!((summary.files, summary.bars), (1, data.events.len()));
    let n = data.events.len();
    assert_eq!(
        progress.0,
        [format!("loaded a.csv {n}"), format!("written {ROWS_PER_STEP}"), "written 10".into(), format!("imported a.csv {n}")]
    );

    let query = BarQuery { symbols: data.symbols.clone(), ..BarQuery::default() };
    assert_eq!(blocking::read_bars(&target, &query).unwrap(), data);
    let err = blocking::read_bars(&target, &BarQuery { symbols: vec!["NOPE".into()], ..BarQuery::default() }).unwrap_err();
    assert!(matches!(err, blocking::ReadBarsError::Read(BarsError::UnknownSymbol { .. })), "{err}");

    let bad = dir.path().join("b.csv");
    std::fs::write(&bad, "symbol,time,open,high,low,close,volume\nX,2024-01-02,1,n/a,1,1,1\n").unwrap();
    let err = import_bars(&target, &[first.clone(), bad.clone()], &options, &mut Recorder::default()).unwrap_err();
    let ImportError::File { file, imported, source: FileError::Load(_) } = err else { panic!("{err}") };
    assert_eq!((file, imported), (bad, vec![first]));
    assert_eq!(blocking::read_bars(&target, &query).unwrap(), data, "importing again changes nothing");
}

#[test]
fn migrate_applies_what_status_lists_as_pending() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: nextest runs each test in a process of its own.
    unsafe { std::env::set_var("LIU_JOURNAL_DIR", dir.path().join("journal")) };
    let target = DbTarget::Sqlite(dir.path().join("fresh.db"));
    let before = blocking::migration_status(&target).unwrap();
    assert!(!before.is_empty() && before.iter().all(|m| !m.applied));
    let mut applied = Vec::new();
    assert_eq!(blocking::migrate(&target, &mut |n| applied.push(n)).unwrap(), 0);
    assert_eq!(applied, [before.len()]);
    assert!(blocking::migration_status(&target).unwrap().iter().all(|m| m.applied));
    blocking::migrate(&target, &mut |n| applied.push(n)).unwrap();
    assert_eq!(applied, [before.len(), 0]);
}
