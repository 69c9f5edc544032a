//! Hostile: opens a TCP connection on a bar. Built for wasm32-wasip2, so
//! `std::net::TcpStream` makes the component import `wasi:sockets`, which
//! the engine must refuse at load time.

use liu_strategy::prelude::*;
use std::io::Write;

struct OpensSockets;

impl Strategy for OpensSockets {
    const NAME: &'static str = "hostile-wasi-sockets";
    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self)
    }
    fn on_bar(&mut self, _symbol: SymbolId, _tf: Timeframe, bar: &Bar) -> Verdict {
        match std::net::TcpStream::connect("127.0.0.1:80") {
            Ok(mut s) => {
                let _ = writeln!(s, "close {}", bar.close);
                log::warn("wasi-sockets: connected to 127.0.0.1:80");
            }
            Err(e) => log::info(&format!("wasi-sockets: connect failed: {e}")),
        }
        Verdict::Keep
    }
}

export_strategy!(OpensSockets);
