//! The replay: the source's time steps on a connection's feed clock, the
//! phases of each period at `Speed::Factor` (trades, bars, updated bars),
//! and the frames of `Speed::Max`.

use tokio_tungstenite::tungstenite::Message;

use super::frames::quote_at;
use super::session::{BAR, Dialect, Session, UPDATED_BAR};
use liu_core::domain::{Bar, Timestamp, Trade, wall_clock};

/// Every this many bars of a symbol, one gets a late-reported trade and an
/// updated bar.
const CORRECTED_EVERY: u64 = 5;
/// The late-reported trade's size.
pub(super) const LATE_TRADE_SIZE: f64 = 100.0;

/// One source time step on a connection's feed clock: the source events
/// `[from, to)` and the start of the period whose bars they are.
#[derive(Clone, Copy, Debug)]
struct Step {
    from: usize,
    to: usize,
    start: Timestamp,
    /// Steps since the replay began (which bars get corrections).
    index: u64,
}

/// What happens next in a period (see the module documentation for when).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The current step's opening trades.
    Open,
    /// Its closing trades.
    Close,
    /// The next step's opening trades (before the current step's bars).
    NextOpen,
    /// Its bars.
    Bar,
    /// Its updated bars.
    Update,
}

/// Where a `Speed::Factor` connection is in the replay.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeline {
    current: Step,
    next: Option<Step>,
    phase: Phase,
}

impl<'a> Session<'a> {
    /// Wraps around at the end of the source; false when finished.
    fn at_event(&mut self) -> bool {
        if self.cursor >= self.shared.data.events.len() {
            if self.shared.repeat && !self.shared.data.events.is_empty() {
                self.cursor = 0;
            } else {
                if !self.finished {
                    tracing::info!("simulator: replay finished for this client");
                }
                self.finished = true;
                return false;
            }
        }
        true
    }

    /// Whether the event at the cursor starts a new source time step.
    fn starts_step(&self) -> bool {
        let ev = &self.shared.data.events;
        self.cursor == 0 || ev[self.cursor - 1].bar.time != ev[self.cursor].bar.time
    }

    /// `Speed::Max`: stamps a new step with the wall clock (strictly after
    /// the previous one).
    fn new_step(&mut self) {
        self.step_time = wall_clock().max(self.step_time.saturating_add(1));
    }

    /// `Speed::Max`: writes the messages of the event at the cursor (its bar
    /// ending now, one trade and one quote now) and advances; returns how
    /// many messages were written.
    fn write_event(&mut self) -> usize {
        let shared = self.shared;
        let e = shared.data.events[self.cursor];
        self.cursor += 1;
        let id = e.symbol as usize;
        let now = self.step_time;
        // The market moves whether or not this client listens: the board
        // (what the REST stand-ins serve) follows every symbol of the replay.
        if let Some(board) = &shared.board {
            board.update(&shared.data.symbols[id], &e.bar, now);
        }
        let bar = Bar { time: now - shared.period, ..e.bar };
        self.write_bar(id, BAR, &bar)
            + self.write_daily(id, &bar)
            + self.write_trade(id, &Trade { time: now, price: bar.close, size: bar.volume })
            + self.write_quote(id, &quote_at(bar.close, now))
    }

    /// The source step after `prev` (the first one when `None`), wrapping
    /// around with `repeat`; `None` at the end of the source.
    fn step_after(&self, prev: Option<&Step>, first_start: Timestamp) -> Option<Step> {
        let events = &self.shared.data.events;
        let mut from = prev.map_or(0, |p| p.to);
        if from >= events.len() {
            if !self.shared.repeat || events.is_empty() {
                return None;
            }
            from = 0;
        }
        let time = events[from].bar.time;
        let to = from + events[from..].iter().take_while(|e| e.bar.time == time).count();
        Some(match prev {
            Some(p) => Step { from, to, start: p.start + self.shared.period, index: p.index + 1 },
            None => Step { from, to, start: first_start, index: 0 },
        })
    }

    /// `Speed::Factor`: starts the replay with the period in progress on
    /// the feed clock.
    pub(super) fn start_timeline(&mut self) {
        let period = self.shared.period;
        let now = self.clock.now();
        let first = self.step_after(None, now - now.rem_euclid(period));
        self.timeline = first.map(|current| Timeline { current, next: self.step_after(Some(&current), 0), phase: Phase::Open });
        if self.timeline.is_none() {
            self.finished = true;
        }
    }

    /// Feed time of the timeline's next phase.
    pub(super) fn next_due(&self) -> Option<Timestamp> {
        let t = self.timeline.as_ref()?;
        let period = self.shared.period;
        let margin = period / 1200;
        let start = t.current.start;
        Some(match t.phase {
            Phase::Open => start + margin,
            Phase::Close => start + period - margin,
            Phase::NextOpen => start + period + margin,
            Phase::Bar => start + period + 2 * margin,
            Phase::Update => start + period + period / 2,
        })
    }

    /// `Speed::Factor`: the frames of every phase due on the feed clock (at
    /// most a bounded number, so a slow client's connection still reads).
    pub(super) fn due_frames(&mut self) -> Vec<Message> {
        const MOST_PHASES: usize = 64;
        let now = self.clock.now();
        let batch = self.shared.batch;
        let mut frames = Vec::new();
        let mut count = 0;
        for _ in 0..MOST_PHASES {
            match self.next_due() {
                Some(due) if due <= now => {}
                _ => break,
            }
            count += self.run_phase(now);
            if count >= batch {
                frames.extend(self.frame.finish());
                count = 0;
            }
        }
        frames.extend(self.frame.finish());
        frames
    }

    /// Writes the timeline's next phase and moves on; returns the messages written.
    fn run_phase(&mut self, now: Timestamp) -> usize {
        let Some(mut t) = self.timeline else { return 0 };
        let shared = self.shared;
        let period = shared.period;
        let margin = period / 1200;
        let due = self.next_due().unwrap_or(now);
        let mut written = 0;
        let step = if t.phase == Phase::NextOpen { t.next.unwrap_or(t.current) } else { t.current };
        for e in &shared.data.events[step.from..step.to] {
            let id = e.symbol as usize;
            let b = e.bar;
            let opening = (b.volume / 2.0).floor();
            let corrected = (step.index + u64::from(e.symbol)) % CORRECTED_EVERY == 0;
            written += match t.phase {
                Phase::Open | Phase::NextOpen => {
                    self.write_trade(id, &Trade { time: due, price: b.open, size: opening }) + self.write_quote(id, &quote_at(b.open, due))
                }
                Phase::Close => {
                    self.write_trade(id, &Trade { time: due, price: b.close, size: b.volume - opening })
                        + self.write_quote(id, &quote_at(b.close, due))
                }
                Phase::Bar => {
                    let bar = Bar { time: step.start, ..b };
                    if let Some(board) = &shared.board {
                        board.update(&shared.data.symbols[id], &bar, step.start + period);
                    }
                    let written = self.write_bar(id, BAR, &bar) + self.write_daily(id, &bar);
                    if corrected {
                        // A trade made before the close but reported after the
                        // bar went out: the updated bar counts it.
                        written
                            + self.write_trade(id, &Trade { time: step.start + period - 5 * margin, price: b.close, size: LATE_TRADE_SIZE })
                    } else {
                        written
                    }
                }
                Phase::Update if corrected => {
                    self.write_bar(id, UPDATED_BAR, &Bar { time: step.start, volume: b.volume + LATE_TRADE_SIZE, ..b })
                }
                Phase::Update => 0,
            };
        }
        t.phase = match t.phase {
            Phase::Open => Phase::Close,
            Phase::Close if t.next.is_some() => Phase::NextOpen,
            Phase::Close | Phase::NextOpen => Phase::Bar,
            Phase::Bar if self.dialect == Dialect::Alpaca => Phase::Update,
            Phase::Bar | Phase::Update => {
                let Some(next) = t.next else {
                    tracing::info!("simulator: replay finished for this client");
                    self.finished = true;
                    self.timeline = None;
                    return written;
                };
                t.next = self.step_after(Some(&next), 0);
                t.current = next;
                Phase::Close
            }
        };
        self.timeline = Some(t);
        written
    }

    /// `Speed::Max`: the next frame of up to `batch` messages, or `None` when a
    /// stretch of events had nothing subscribed (or the source ended).
    pub(super) fn fill_frame(&mut self) -> Option<Message> {
        let batch = self.shared.batch;
        let scan_limit = batch.saturating_mul(16).max(4096);
        let mut count = 0;
        for _ in 0..scan_limit {
            if !self.at_event() {
                break;
            }
            let e = self.shared.data.events[self.cursor];
            let need = self.mask.get(e.symbol as usize).map_or(0, |m| m.count_ones() as usize);
            if count > 0 && count + need > batch {
                break;
            }
            if self.starts_step() {
                self.new_step();
            }
            count += self.write_event();
            if count >= batch {
                break;
            }
        }
        self.frame.finish()
    }
}
