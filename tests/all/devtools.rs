//! A headless Chromium driven over the DevTools protocol, for the tests of
//! pages the engine writes: opens a file and reports the console errors and
//! exceptions, every network request the page made, what the page left in
//! `window.__liuReport`, and a screenshot.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// What a page did while it loaded.
pub struct PageRun {
    /// Console errors, failed assertions and uncaught exceptions, as text.
    pub errors: Vec<String>,
    /// The URL of every request the page sent (`Network.requestWillBeSent`).
    pub requests: Vec<String>,
    /// `window.__liuReport`, once the page fired `liu-report-ready`.
    pub report: Value,
    /// A PNG of the page's first screen.
    pub screenshot: Vec<u8>,
}

/// The browser: Debian's `chromium` (`.ci/run` installs it).
fn chromium() -> &'static str {
    let found = Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "chromium is not installed: the report tests need it (apt-get install -y chromium; .ci/run does)");
    "chromium"
}

/// Kills the browser when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens `path` in a fresh headless Chromium and waits for the page's `liu-report-ready`.
pub fn open(path: &Path) -> PageRun {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let browser = Running(child);
    // The browser prints its DevTools endpoint on stderr; the rest is drained
    // so that it never blocks on a full pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, url)) = line.split_once("DevTools listening on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let endpoint = rx.recv_timeout(Duration::from_secs(60)).expect("chromium printed no DevTools endpoint");
    let url = format!("file://{}", path.canonicalize().unwrap().display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let run = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), drive(&endpoint, &url)).await.expect("the page did not get ready within 120 s")
    });
    drop(browser);
    run
}

struct Session {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl Session {
    /// Sends a command (to the page session `session`, or the browser) and
    /// returns its result; events that arrive meanwhile are kept.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(message.to_string())).await.unwrap();
        loop {
            let value = self.next().await;
            if value["id"] == json!(id) {
                assert!(value.get("error").is_none(), "{method}: {}", value["error"]);
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    async fn next(&mut self) -> Value {
        loop {
            match self.ws.next().await.expect("DevTools connection closed").unwrap() {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                _ => continue,
            }
        }
    }

    /// Waits for the event `method`, keeping the others.
    async fn event(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        loop {
            let value = self.next().await;
            let found = value["method"] == method;
            self.events.push(value);
            if found {
                return;
            }
        }
    }
}

async fn drive(endpoint: &str, url: &str) -> PageRun {
    let (ws, _) = tokio_tungstenite::connect_async(endpoint).await.expect("connect to chromium's DevTools");
    let mut s = Session { ws, next_id: 0, events: Vec::new() };
    let target = s.call(None, "Target.createTarget", json!({"url": "about:blank"})).await;
    let attached = s.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await;
    let page = attached["sessionId"].as_str().unwrap().to_owned();
    let page = Some(page.as_str());
    for domain in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
        s.call(page, domain, json!({})).await;
    }
    s.events.clear();
    s.call(page, "Page.navigate", json!({"url": url})).await;
    s.event("Page.loadEventFired").await;
    let ready = s
        .call(
            page,
            "Runtime.evaluate",
            json!({
                "expression": "window.__liuReport ?? new Promise(r => addEventListener('liu-report-ready', () => r(window.__liuReport)))",
                "awaitPromise": true,
                "returnByValue": true,
            }),
        )
        .await;
    let report = ready["result"]["value"].clone();
    let shot = s.call(page, "Page.captureScreenshot", json!({"format": "png"})).await;
    let screenshot = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
    let mut run = PageRun { errors: Vec::new(), requests: Vec::new(), report, screenshot };
    for e in &s.events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => run.errors.push(p["args"].to_string()),
            "Runtime.exceptionThrown" => run.errors.push(p["exceptionDetails"].to_string()),
            "Log.entryAdded" if p["entry"]["level"] == "error" => run.errors.push(p["entry"]["text"].to_string()),
            "Network.requestWillBeSent" => run.requests.push(p["request"]["url"].as_str().unwrap_or("").to_owned()),
            _ => {}
        }
    }
    run
}
