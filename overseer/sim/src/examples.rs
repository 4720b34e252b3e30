//! Demonstration subsystems: two small but real state machines that fill
//! existing slots, so that the runner, scenario files and the CLI have
//! something to drive before the node's real subsystems exist. They are not
//! part of the node.
//!
//! * [`ExampleTicker`] (`sync` slot, name `example-ticker`): on each
//!   `ActiveLeaves` it asks the chain store for the new leaf's header (a
//!   request that references the leaf, right after the signal) and (re)arms a
//!   timer; each tick requests `BestBlock` and re-arms, a few times per leaf,
//!   with a jitter drawn from the context's RNG. It counts replies and
//!   cancellations.
//! * [`ExampleStore`] (`chain_store` slot, name `example-store`): tracks the
//!   leaves it saw through signals and answers `BestBlock` with the latest
//!   one. A `Header` request for a leaf it has not seen through a signal is a
//!   violation of the signal-ordering guarantee: it exits with
//!   `ordering violated`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_messages::oneshot::Canceled;
use weft_messages::{
    ActivatedLeaf, BlockNumber, ChainStoreMessage, ChainStoreSlot, Hash, Header, OverseerSignal, SyncMessage, SyncSlot,
};
use weft_overseer::{BoxedSubsystem, Context, Registry, Subsystem, TimerId};

/// Registry name of [`ExampleTicker`].
pub const TICKER: &str = "example-ticker";
/// Registry name of [`ExampleStore`].
pub const STORE: &str = "example-store";

/// A registry holding the demonstration subsystems.
pub fn example_registry() -> Registry {
    let mut registry = Registry::new();
    register_examples(&mut registry);
    registry
}

/// Adds the demonstration subsystems to `registry`.
pub fn register_examples(registry: &mut Registry) {
    registry.register::<SyncSlot>(TICKER, || -> BoxedSubsystem<SyncSlot> { Box::new(ExampleTicker::new()) });
    registry.register::<ChainStoreSlot>(STORE, || -> BoxedSubsystem<ChainStoreSlot> { Box::new(ExampleStore::new()) });
}

/// What the ticker observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickerStats {
    /// Timer ticks handled.
    pub ticks: u32,
    /// `BestBlock` replies received.
    pub replies: u32,
    /// Requests whose reply channel closed (request dropped or never answered).
    pub canceled: u32,
    /// `Header` replies received.
    pub headers: u32,
}

/// Events of [`ExampleTicker`].
#[derive(Debug)]
pub enum TickerEvent {
    /// The timer fired.
    Tick,
    /// Reply to `BestBlock`.
    BestBlock(Result<(Hash, BlockNumber), Canceled>),
    /// Reply to `Header`.
    Header(Result<Option<Header>, Canceled>),
}

/// Demonstration subsystem for the `sync` slot (see the module doc).
pub struct ExampleTicker {
    period: Duration,
    ticks_per_leaf: u32,
    ticks_left: u32,
    timer: Option<TimerId>,
    newest: Option<ActivatedLeaf>,
    best: Option<(Hash, BlockNumber)>,
    stats: TickerStats,
    shared: Option<Arc<Mutex<TickerStats>>>,
}

impl Default for ExampleTicker {
    fn default() -> Self {
        Self::new()
    }
}

impl ExampleTicker {
    /// A ticker with a 100 ms period (+ up to 19 ms jitter), 3 ticks per leaf.
    pub fn new() -> Self {
        ExampleTicker {
            period: Duration::from_millis(100),
            ticks_per_leaf: 3,
            ticks_left: 0,
            timer: None,
            newest: None,
            best: None,
            stats: TickerStats::default(),
            shared: None,
        }
    }

    /// A ticker that also publishes its counters to `stats` (for tests).
    pub fn with_stats(stats: Arc<Mutex<TickerStats>>) -> Self {
        ExampleTicker { shared: Some(stats), ..Self::new() }
    }

    /// Its counters.
    pub fn stats(&self) -> &TickerStats {
        &self.stats
    }

    fn publish(&self) {
        if let Some(shared) = &self.shared {
            if let Ok(mut s) = shared.lock() {
                *s = self.stats.clone();
            }
        }
    }

    fn arm(&mut self, ctx: &mut Context<'_, '_, Self>) {
        let jitter = Duration::from_millis(u64::from(ctx.rng().next_u32() % 20));
        self.timer = Some(ctx.set_timer(self.period + jitter, TickerEvent::Tick));
    }
}

impl Subsystem for ExampleTicker {
    type Slot = SyncSlot;
    type Event = TickerEvent;

    fn implementation(&self) -> &str {
        TICKER
    }

    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        match signal {
            OverseerSignal::ActiveLeaves(update) => {
                if let Some(leaf) = update.activated {
                    self.newest = Some(leaf);
                    ctx.request(|reply| ChainStoreMessage::Header { hash: leaf.hash, reply }, TickerEvent::Header);
                    self.ticks_left = self.ticks_per_leaf;
                    if self.timer.is_none() {
                        self.arm(ctx);
                    }
                }
            }
            OverseerSignal::BlockFinalized(..) => {}
            OverseerSignal::Conclude => {
                if let Some(timer) = self.timer.take() {
                    ctx.cancel_timer(timer);
                }
            }
        }
    }

    fn on_message(&mut self, message: SyncMessage, _ctx: &mut Context<'_, '_, Self>) {
        if let SyncMessage::Status { reply } = message {
            let seen = self.newest.map_or(0, |l| l.number);
            let ours = self.best.map_or(0, |(_, n)| n);
            let _ = reply.send((seen, ours));
        }
    }

    fn on_event(&mut self, event: TickerEvent, ctx: &mut Context<'_, '_, Self>) {
        match event {
            TickerEvent::Tick => {
                self.timer = None;
                self.stats.ticks += 1;
                ctx.request(|reply| ChainStoreMessage::BestBlock { reply }, TickerEvent::BestBlock);
                self.ticks_left = self.ticks_left.saturating_sub(1);
                if self.ticks_left > 0 {
                    self.arm(ctx);
                }
            }
            TickerEvent::BestBlock(Ok(best)) => {
                self.stats.replies += 1;
                self.best = Some(best);
            }
            TickerEvent::BestBlock(Err(Canceled)) | TickerEvent::Header(Err(Canceled)) => self.stats.canceled += 1,
            TickerEvent::Header(Ok(_)) => self.stats.headers += 1,
        }
        self.publish();
    }
}

/// Demonstration subsystem for the `chain_store` slot (see the module doc).
#[derive(Debug, Default)]
pub struct ExampleStore {
    seen: BTreeMap<Hash, BlockNumber>,
    latest: Option<ActivatedLeaf>,
    finalized: Option<(Hash, BlockNumber)>,
}

impl ExampleStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Subsystem for ExampleStore {
    type Slot = ChainStoreSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        STORE
    }

    fn on_signal(&mut self, signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {
        match signal {
            OverseerSignal::ActiveLeaves(update) => {
                if let Some(leaf) = update.activated {
                    self.seen.insert(leaf.hash, leaf.number);
                    self.latest = Some(leaf);
                }
            }
            OverseerSignal::BlockFinalized(hash, number) => self.finalized = Some((*hash, *number)),
            OverseerSignal::Conclude => {}
        }
    }

    fn on_message(&mut self, message: ChainStoreMessage, ctx: &mut Context<'_, '_, Self>) {
        match message {
            ChainStoreMessage::BestBlock { reply } => {
                let _ = reply.send(self.latest.map_or((Hash::ZERO, 0), |l| (l.hash, l.number)));
            }
            ChainStoreMessage::FinalizedBlock { reply } => {
                let _ = reply.send(self.finalized.unwrap_or((Hash::ZERO, 0)));
            }
            ChainStoreMessage::Header { hash, reply } => {
                if !self.seen.contains_key(&hash) {
                    ctx.exit(format!("ordering violated: Header request for leaf {hash:?} not yet seen via a signal"));
                    return;
                }
                // The demonstration store keeps no headers.
                let _ = reply.send(None);
            }
            ChainStoreMessage::BlockHash { number, reply } => {
                let hash = self.seen.iter().find(|(_, n)| **n == number).map(|(h, _)| *h);
                let _ = reply.send(hash);
            }
        }
    }
}
