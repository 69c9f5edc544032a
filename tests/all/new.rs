//! End to end: `liu-engine new strategy` scaffolds a project per language
//! that its own build.sh turns into a component passing `liu-engine audit`,
//! and refuses bad names, unknown languages and existing directories.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn scaffold(dir: &Path, name: &str, lang: &str) -> std::process::Output {
    liu(&["new", "strategy", name, "--lang", lang, "--dir", dir.to_str().unwrap()])
}

/// Runs the project's build.sh; Rust builds share one target directory
/// across test runs so only the first pays for compiling the SDK.
fn build(dir: &Path) -> Result<(), String> {
    let out =
        Command::new(dir.join("build.sh")).env("CARGO_TARGET_DIR", repo().join("target/scaffold-test")).output().expect("run build.sh");
    if out.status.success() { Ok(()) } else { Err(format!("build.sh failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out))) }
}

fn audit_passes(component: &Path) -> Result<(), String> {
    let out = liu(&["audit", "--json", component.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("no audit report ({e}): {}", stderr(&out)))?;
    if out.status.code() != Some(0) {
        return Err(format!("audit failed: {}", report["reasons"]));
    }
    // The template buys on the first bar, so its name and its order show up.
    assert!(report["strategy"].as_str().unwrap().starts_with("my-first-"), "{}", report["strategy"]);
    assert!(report["runs"][0]["orders"].as_u64().unwrap() > 0, "{report}");
    Ok(())
}

#[test]
fn each_language_scaffold_builds_into_a_component_that_passes_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    // Every language is tried so that one failure does not hide another.
    let mut failures = Vec::new();
    for (lang, source) in [("rust", "src/lib.rs"), ("python", "app.py"), ("js", "strategy.js"), ("c", "strategy.c")] {
        let name = format!("my-first-{lang}");
        let dir = tmp.path().join(&name);
        let out = scaffold(&dir, &name, lang);
        assert!(out.status.success(), "{lang}: {}", stderr(&out));
        let text = std::fs::read_to_string(dir.join(source)).unwrap();
        assert!(text.contains(&name), "{lang}: {source} does not carry the strategy name");
        for entry in walk(&dir) {
            let content = std::fs::read_to_string(&entry).unwrap();
            assert!(!content.contains("{{"), "{}: a placeholder was left", entry.display());
        }
        if let Err(e) = build(&dir).and_then(|()| audit_passes(&dir.join(format!("{name}.wasm")))) {
            failures.push(format!("{lang}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().unwrap() != "target" {
                files.extend(walk(&path));
            }
        } else if path.extension().is_none_or(|e| e != "wasm" && e != "lock") {
            files.push(path);
        }
    }
    files
}

#[test]
fn an_existing_directory_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let out = scaffold(&dir, "taken", "c");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("already exists") && err.contains("taken"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "mine");
}

#[test]
fn bad_names_languages_and_roots_are_refused_without_creating_anything() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["Upper", "9lives", "has_underscore", "trailing-", "../escape", ""] {
        let dir = tmp.path().join("project");
        let out = scaffold(&dir, name, "rust");
        assert_eq!(out.status.code(), Some(1), "{name:?}");
        let err = stderr(&out);
        assert!(err.contains("invalid strategy name"), "{name:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        assert!(!dir.exists(), "{name:?} created {}", dir.display());
    }
    let dir = tmp.path().join("rootless");
    let out = liu(&["new", "strategy", "rootless", "--lang", "c", "--dir", dir.to_str().unwrap(), "--root", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not a liu-engine checkout"), "{}", stderr(&out));
    assert!(!dir.exists());
    let dir = tmp.path().join("cobol");
    let out = scaffold(&dir, "cobol", "cobol");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid value 'cobol'") && err.contains("rust, python, js, c"), "{err}");
    assert!(!dir.exists());
}
