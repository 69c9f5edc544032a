//! `liu-engine new strategy`: scaffolds a buildable strategy project in Rust,
//! Python, JavaScript or C from templates compiled into the binary
//! (engine/templates/), so a scaffold always matches the engine that made it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

#[derive(Args)]
pub struct NewStrategyArgs {
    /// Strategy name: lowercase letters, digits and dashes, starting with a letter.
    name: String,
    /// Language of the strategy.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Directory to create (default: ./<name>); it must not exist.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The liu-engine checkout providing wit/ and strategy-sdk/ (default: the
    /// one this binary was built from).
    #[arg(long)]
    root: Option<PathBuf>,
}

/// One file of a template. `text` has placeholders: `{{name}}`, `{{crate}}`
/// (the name as a Rust/C identifier), `{{root}}` (the checkout, verbatim) and
/// `{{root_sh}}` / `{{engine_sh}}` (the checkout and this binary, quoted for sh).
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File { path, text, executable: false }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File { path, text, executable: true }
}

const RUST: &[File] = &[
    file("Cargo.toml", include_str!("../../templates/rust/Cargo.toml")),
    file("src/lib.rs", include_str!("../../templates/rust/src/lib.rs")),
    script("build.sh", include_str!("../../templates/rust/build.sh")),
];

const PYTHON: &[File] =
    &[file("app.py", include_str!("../../templates/python/app.py")), script("build.sh", include_str!("../../templates/python/build.sh"))];

const JS: &[File] = &[
    file("strategy.js", include_str!("../../templates/js/strategy.js")),
    // componentize-js only resolves imports below the build directory, so a
    // project outside the checkout carries its copy of the SDK.
    file("liu-strategy.js", include_str!("../../../../strategy-sdk/js/liu-strategy.js")),
    script("build.sh", include_str!("../../templates/js/build.sh")),
];

const C: &[File] =
    &[file("strategy.c", include_str!("../../templates/c/strategy.c")), script("build.sh", include_str!("../../templates/c/build.sh"))];

fn template(lang: Lang) -> &'static [File] {
    match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::C => C,
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        bail!(
            "invalid strategy name {name:?}: use up to 64 lowercase letters, digits and dashes, \
             starting with a letter and not ending with a dash"
        );
    }
    Ok(())
}

/// The checkout the binary was built from, when it is still there.
fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new(".")).to_owned()
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

pub fn run(args: NewStrategyArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let root = args.root.unwrap_or_else(default_root);
    let root = root
        .canonicalize()
        .ok()
        .filter(|r| r.join("wit/strategy.wit").is_file() && r.join("strategy-sdk").is_dir())
        .with_context(|| format!("{} is not a liu-engine checkout (no wit/strategy.wit); pass --root", root.display()))?;
    let engine = std::env::current_exe().context("locating the liu-engine binary")?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        bail!("{} already exists; choose another name or --dir", dir.display());
    }
    // create_dir (not _all) for the project itself, so a directory that
    // appears meanwhile is still refused rather than written into.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in template(args.lang) {
        let text = f
            .text
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &args.name.replace('-', "_"))
            .replace("{{root_sh}}", &shell_quote(&root))
            .replace("{{engine_sh}}", &shell_quote(&engine))
            .replace("{{root}}", &root.display().to_string());
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", path.display()))?;
        }
    }
    let lang = format!("{:?}", args.lang).to_lowercase();
    eprintln!("created {lang} strategy {} in {}; build it with {}/build.sh", args.name, dir.display(), dir.display());
    Ok(())
}
