//! Hostile: tries to read a file. Using `std::fs` makes the component import
//! `wasi:filesystem`, which the engine must refuse at load time.

use liu_strategy::prelude::*;

struct ReadsFiles;

impl Strategy for ReadsFiles {
    const NAME: &'static str = "hostile-wasi-filesystem";
    fn new(_params: &Params) -> Result<Self, String> {
        let secret = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
        log::info(&secret);
        Ok(Self)
    }
}

export_strategy!(ReadsFiles);
