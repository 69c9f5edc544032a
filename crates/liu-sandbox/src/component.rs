//! `liu-engine component new`: turns a core WebAssembly module built with a
//! strategy SDK into a component of the `strategy` world.
//!
//! Rust strategies build for `wasm32-unknown-unknown`, which has no operating
//! system and therefore imports nothing; the SDK's bindings embed the world's
//! type information, which `wit-component` uses to wrap the module. A module
//! importing anything else (e.g. WASI) cannot be wrapped and is refused.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ComponentizeError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Encode { path: String, message: String },
}

/// Wraps the core module at `input` into a component written to `output`.
pub fn new_component(input: &Path, output: &Path) -> Result<(), ComponentizeError> {
    let path = input.display().to_string();
    let core = std::fs::read(input).map_err(|source| ComponentizeError::Read { path: path.clone(), source })?;
    let component = wit_component::ComponentEncoder::default()
        .module(&core)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| ComponentizeError::Encode { path, message: format!("{e:#}") })?;
    std::fs::write(output, component).map_err(|source| ComponentizeError::Write { path: output.display().to_string(), source })
}
