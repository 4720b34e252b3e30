//! The simulation runner: real subsystems, one thread, virtual time, one
//! seeded RNG, every event recorded.
//!
//! # Model
//!
//! Each subsystem (a [`Box<dyn AnySubsystem>`]) has
//!
//! * a **signal transit** queue: signals broadcast by the overseer that have
//!   not reached the subsystem yet. Delivering the head of it is a step of its
//!   own, so a broadcast reaches subsystems in an order chosen by the RNG, as
//!   it does when real subsystems run concurrently;
//! * a **signal queue** of delivered signals, which take priority over
//!   everything else the subsystem has to handle;
//! * a **mailbox** (FIFO) of messages and of its own events (fired timers,
//!   resolved replies);
//! * a [`SignalOrdering`]: every message is tagged with the number of signals
//!   its sender had handled; a message tagged above the receiver's count is
//!   held back and released into the mailbox when the receiver catches up.
//!
//! A step picks one runnable action (deliver a signal to subsystem X, or let
//! subsystem X handle its next input) uniformly with the seeded RNG, runs it,
//! applies the effects, then polls every pending reply with a no-op waker. The
//! runner settles until nothing is runnable, then advances virtual time to the
//! next agenda item (timer, delayed message, scheduled signal or crash fault).
//! It stops when idle, at the end time, or after a crash with
//! [`OnCrash::Stop`]; then every live subsystem gets `Conclude`.

use crate::error::SimError;
use crate::timeline::{format_time, timeline_hash, to_hex, EventKind, TimelineEntry};
use futures::task::noop_waker_ref;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use weft_messages::{ActivatedLeaf, ActiveLeavesUpdate, AllMessages, OverseerSignal, SlotId};
use weft_overseer::{AnyFactory, AnySubsystem, BoxedEvent, Effect, Input, PendingReply, SignalOrdering, TimerId};

/// Default budget of steps before a run is declared non-settling.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// What happens when a subsystem crashes (panics, exits, or a crash fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnCrash {
    /// Record the crash, conclude every other subsystem and stop (the node goes down).
    #[default]
    Stop,
    /// Rebuild the subsystem from its factory and replay the active leaves
    /// it had seen, oldest first, one `ActiveLeaves` signal each (research mode).
    Restart,
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Apply the signal-ordering rule. Always `true` outside tests: turning it
    /// off exists only so that tests can prove they detect a violation.
    pub enforce_signal_ordering: bool,
    /// Steps allowed before the run fails with [`SimError::StepLimit`].
    pub max_steps: u64,
    /// Virtual time at which the run stops (`None`: run until idle).
    pub end: Option<Duration>,
    /// Crash policy.
    pub on_crash: OnCrash,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { enforce_signal_ordering: true, max_steps: DEFAULT_MAX_STEPS, end: None, on_crash: OnCrash::Stop }
    }
}

/// Selects messages by sender, receiver and variant, optionally only the n-th match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Sending slot (`None`: any).
    pub from: Option<SlotId>,
    /// Receiving slot (`None`: any).
    pub to: Option<SlotId>,
    /// Variant name of the receiver's message enum, e.g. `BestBlock` (`None`: any).
    pub variant: Option<String>,
    /// Only the n-th matching message, counting from 1 (`None`: every one).
    pub nth: Option<u64>,
}

impl MessageFilter {
    fn matches(&self, from: SlotId, to: SlotId, variant: &str) -> bool {
        (self.from.is_none() || self.from == Some(from))
            && (self.to.is_none() || self.to == Some(to))
            && (self.variant.is_none() || self.variant.as_deref() == Some(variant))
    }

    fn triggers(&self, seen: u64) -> bool {
        self.nth.is_none() || self.nth == Some(seen)
    }
}

impl std::fmt::Display for MessageFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slot = |s: Option<SlotId>| s.map_or("*", |s| s.name());
        write!(f, "{} -> {}", slot(self.from), slot(self.to))?;
        if let Some(v) = &self.variant {
            write!(f, " {v}")?;
        }
        match self.nth {
            Some(n) => write!(f, " (#{n})"),
            None => write!(f, " (every)"),
        }
    }
}

/// A fault injected into a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Drop matching messages; a dropped request's reply arrives as `Canceled`.
    Drop(MessageFilter),
    /// Deliver matching messages `by` later (virtual time).
    Delay { filter: MessageFilter, by: Duration },
    /// Crash `slot` at virtual time `at`: it crashes instead of handling its next input.
    Crash { slot: SlotId, at: Duration },
}

/// A crash that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashRecord {
    /// Virtual time of the crash.
    pub at: Duration,
    /// The crashed slot.
    pub slot: SlotId,
    /// Its implementation's name.
    pub implementation: String,
    /// Panic message, exit reason, or `injected crash fault`.
    pub reason: String,
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing runnable and nothing scheduled.
    Idle,
    /// The end time was reached.
    EndTime,
    /// A subsystem crashed under [`OnCrash::Stop`].
    Crashed(SlotId),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Idle => f.write_str("idle"),
            StopReason::EndTime => f.write_str("end time reached"),
            StopReason::Crashed(slot) => write!(f, "{slot} crashed"),
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Seed the run used.
    pub seed: u64,
    /// Scheduler steps taken.
    pub steps: u64,
    /// Virtual time when the run stopped, in ms.
    pub end_time_ms: u64,
    /// Why it stopped.
    pub stop: StopReason,
    /// The timeline, one line per event.
    pub timeline: Vec<String>,
    /// The same events, structured (for expectations).
    pub entries: Vec<TimelineEntry>,
    /// blake2-256 of the timeline text (each line followed by `\n`).
    pub timeline_hash: [u8; 32],
    /// Crashes, in order.
    pub crashes: Vec<CrashRecord>,
    /// Restarts performed (research mode).
    pub restarts: u64,
    /// Messages held back by the signal-ordering rule.
    pub held: u64,
}

impl SimReport {
    /// The timeline hash in lowercase hex.
    pub fn timeline_hash_hex(&self) -> String {
        to_hex(&self.timeline_hash)
    }

    /// The timeline as one text, a line per event.
    pub fn timeline_text(&self) -> String {
        self.timeline.join("\n")
    }

    /// Number of timeline entries of `kind`, optionally restricted to a
    /// sender/receiver name.
    pub fn count(&self, kind: EventKind, from: Option<&str>, to: Option<&str>) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == kind)
            .filter(|e| from.is_none() || from == Some(e.from.as_str()))
            .filter(|e| to.is_none() || to == Some(e.to.as_str()))
            .count()
    }

    /// A short multi-line summary: outcome, then the count of each kind of event.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "seed {}: {} steps, stopped at {}ms ({}), {} lines, {} crash(es), {} restart(s), {} held message(s)",
            self.seed,
            self.steps,
            self.end_time_ms,
            self.stop,
            self.timeline.len(),
            self.crashes.len(),
            self.restarts,
            self.held
        );
        for kind in EventKind::ALL {
            let n = self.count(*kind, None, None);
            if n > 0 {
                out.push_str(&format!("\n  {:<12} {n}", kind.name()));
            }
        }
        for crash in &self.crashes {
            out.push_str(&format!(
                "\n  crash of {} ({}) at {}: {}",
                crash.slot,
                crash.implementation,
                format_time(crash.at),
                crash.reason
            ));
        }
        out
    }
}

/// A message in flight: who sent it, after how many signals, and whether it
/// carries a request whose reply the runner awaits.
struct Envelope {
    from: SlotId,
    to: SlotId,
    tag: u64,
    message: AllMessages,
    request: Option<u64>,
}

enum Inbound {
    Message(Envelope),
    Event { label: String, event: BoxedEvent },
}

struct QueuedSignal {
    signal: OverseerSignal,
    /// A restart's replay: not one of the overseer's broadcast signals, so it
    /// does not count for the ordering rule.
    replay: bool,
}

struct Node {
    implementation: String,
    factory: AnyFactory,
    subsystem: Box<dyn AnySubsystem>,
    transit: VecDeque<OverseerSignal>,
    signals: VecDeque<QueuedSignal>,
    mailbox: VecDeque<Inbound>,
    ordering: SignalOrdering<Envelope>,
    next_timer: u64,
    crash_armed: Option<String>,
    concluded: bool,
    dead: bool,
    /// Active leaves as seen through the broadcast signals handled, oldest first.
    leaves: Vec<ActivatedLeaf>,
}

impl Node {
    fn live(&self) -> bool {
        !self.dead && !self.concluded
    }

    fn runnable(&self) -> bool {
        self.crash_armed.is_some() || !self.signals.is_empty() || !self.mailbox.is_empty()
    }
}

enum Agenda {
    Signal(OverseerSignal),
    Timer { slot: SlotId, id: TimerId, event: BoxedEvent },
    Delayed(Envelope),
    Crash(SlotId),
}

struct Pending {
    id: u64,
    requester: SlotId,
    responder: SlotId,
    label: String,
    reply: PendingReply,
}

#[derive(Clone, Copy)]
enum Action {
    Deliver(SlotId),
    Run(SlotId),
}

/// A deterministic simulation of a set of subsystems.
pub struct Simulation {
    seed: u64,
    options: SimOptions,
    rng: ChaCha8Rng,
    now: Duration,
    nodes: BTreeMap<SlotId, Node>,
    agenda: BTreeMap<(Duration, u64), Agenda>,
    agenda_seq: u64,
    timers: BTreeMap<(SlotId, TimerId), (Duration, u64)>,
    pending: Vec<Pending>,
    next_request: u64,
    dropped_requests: BTreeSet<u64>,
    faults: Vec<(Fault, u64)>,
    entries: Vec<TimelineEntry>,
    crashes: Vec<CrashRecord>,
    steps: u64,
    restarts: u64,
    held: u64,
    stopped: Option<StopReason>,
    finishing: bool,
}

const OVERSEER: &str = "overseer";

/// The block hash the simulator uses for block `number` (blake2-256 of
/// `weft-sim-block` followed by the little-endian number).
pub fn leaf_hash(number: u32) -> weft_messages::Hash {
    let mut data = b"weft-sim-block".to_vec();
    data.extend_from_slice(&number.to_le_bytes());
    weft_messages::Hash::blake2_256_of(&data)
}

/// `ActiveLeaves` activating block `number` (hash from [`leaf_hash`]) and
/// deactivating the given blocks.
pub fn active_leaves_signal(number: u32, deactivated: &[u32]) -> OverseerSignal {
    OverseerSignal::ActiveLeaves(ActiveLeavesUpdate {
        activated: Some(ActivatedLeaf { hash: leaf_hash(number), number }),
        deactivated: deactivated.iter().map(|n| leaf_hash(*n)).collect(),
    })
}

/// The `Debug` text of a message without its routing wrapper:
/// `BestBlock { reply: Sender { complete: false } }`.
fn message_text(message: &AllMessages) -> String {
    let full = format!("{message:?}");
    match full.find('(') {
        Some(open) if full.ends_with(')') => full[open + 1..full.len() - 1].to_string(),
        _ => full,
    }
}

/// The leading identifier of a message's text: its variant name.
fn variant_name(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

impl Simulation {
    /// An empty simulation seeded with `seed`.
    pub fn new(seed: u64, options: SimOptions) -> Self {
        Simulation {
            seed,
            options,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: Duration::ZERO,
            nodes: BTreeMap::new(),
            agenda: BTreeMap::new(),
            agenda_seq: 0,
            timers: BTreeMap::new(),
            pending: Vec::new(),
            next_request: 0,
            dropped_requests: BTreeSet::new(),
            faults: Vec::new(),
            entries: Vec::new(),
            crashes: Vec::new(),
            steps: 0,
            restarts: 0,
            held: 0,
            stopped: None,
            finishing: false,
        }
    }

    /// Adds the subsystem `factory` builds (the factory is kept for restarts).
    /// Returns the slot it fills.
    pub fn add_subsystem(&mut self, factory: AnyFactory) -> Result<SlotId, SimError> {
        let subsystem = factory();
        let slot = subsystem.slot();
        if self.nodes.contains_key(&slot) {
            return Err(SimError::DuplicateSlot(slot));
        }
        let node = Node {
            implementation: subsystem.implementation().to_string(),
            factory,
            subsystem,
            transit: VecDeque::new(),
            signals: VecDeque::new(),
            mailbox: VecDeque::new(),
            ordering: SignalOrdering::default(),
            next_timer: 0,
            crash_armed: None,
            concluded: false,
            dead: false,
            leaves: Vec::new(),
        };
        self.nodes.insert(slot, node);
        Ok(slot)
    }

    /// Slots filled, in slot order.
    pub fn slots(&self) -> Vec<SlotId> {
        self.nodes.keys().copied().collect()
    }

    /// Broadcasts `signal` to every subsystem at virtual time `at`.
    pub fn schedule_signal(&mut self, at: Duration, signal: OverseerSignal) {
        self.schedule(at, Agenda::Signal(signal));
    }

    /// Adds a fault. Crash faults are scheduled; message faults apply to every
    /// message sent from now on.
    pub fn add_fault(&mut self, fault: Fault) {
        if let Fault::Crash { slot, at } = &fault {
            self.schedule(*at, Agenda::Crash(*slot));
        }
        self.faults.push((fault, 0));
    }

    fn schedule(&mut self, at: Duration, item: Agenda) -> (Duration, u64) {
        self.agenda_seq += 1;
        let key = (at, self.agenda_seq);
        self.agenda.insert(key, item);
        key
    }

    fn record(&mut self, kind: EventKind, from: &str, to: &str, detail: impl Into<String>) {
        let entry =
            TimelineEntry { at: self.now, kind, from: from.to_string(), to: to.to_string(), detail: detail.into() };
        tracing::trace!(line = %entry.line(), "sim");
        self.entries.push(entry);
    }

    /// Runs to the end and reports what happened.
    pub fn run(mut self) -> Result<SimReport, SimError> {
        let stop = loop {
            self.fire_due();
            self.settle()?;
            if let Some(stop) = self.stopped {
                break stop;
            }
            let Some(&(due, _)) = self.agenda.keys().next() else {
                break StopReason::Idle;
            };
            if let Some(end) = self.options.end {
                if due > end {
                    self.now = end;
                    break StopReason::EndTime;
                }
            }
            self.now = due;
        };
        self.finish();
        let timeline: Vec<String> = self.entries.iter().map(TimelineEntry::line).collect();
        let timeline_hash = timeline_hash(&timeline);
        Ok(SimReport {
            seed: self.seed,
            steps: self.steps,
            end_time_ms: u64::try_from(self.now.as_millis()).unwrap_or(u64::MAX),
            stop,
            timeline,
            entries: self.entries,
            timeline_hash,
            crashes: self.crashes,
            restarts: self.restarts,
            held: self.held,
        })
    }

    /// Applies every agenda item due by now, in (time, sequence) order.
    fn fire_due(&mut self) {
        while let Some(entry) = self.agenda.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            match entry.remove() {
                Agenda::Signal(signal) => {
                    for node in self.nodes.values_mut().filter(|n| n.live()) {
                        node.transit.push_back(signal.clone());
                    }
                }
                Agenda::Timer { slot, id, event } => {
                    self.timers.remove(&(slot, id));
                    self.record(EventKind::TimerFired, slot.name(), slot.name(), format!("timer#{}", id.0));
                    if let Some(node) = self.nodes.get_mut(&slot).filter(|n| n.live()) {
                        node.mailbox.push_back(Inbound::Event { label: format!("timer#{}", id.0), event });
                    }
                }
                Agenda::Delayed(envelope) => self.deliver(envelope),
                Agenda::Crash(slot) => {
                    if let Some(node) = self.nodes.get_mut(&slot).filter(|n| n.live()) {
                        node.crash_armed = Some("injected crash fault".to_string());
                    }
                }
            }
        }
    }

    fn runnable(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        for (slot, node) in self.nodes.iter().filter(|(_, n)| n.live()) {
            if !node.transit.is_empty() {
                actions.push(Action::Deliver(*slot));
            }
            if node.runnable() {
                actions.push(Action::Run(*slot));
            }
        }
        actions
    }

    /// Steps until nothing is runnable (or the run stopped).
    fn settle(&mut self) -> Result<(), SimError> {
        while self.stopped.is_none() {
            let actions = self.runnable();
            if actions.is_empty() {
                return Ok(());
            }
            if self.steps >= self.options.max_steps {
                let start = self.entries.len().saturating_sub(100);
                let tail: Vec<String> = self.entries[start..].iter().map(TimelineEntry::line).collect();
                return Err(SimError::StepLimit {
                    limit: self.options.max_steps,
                    at: format_time(self.now),
                    tail: tail.join("\n"),
                });
            }
            self.steps += 1;
            let pick = if actions.len() == 1 { 0 } else { self.rng.gen_range(0..actions.len()) };
            if actions.len() > 1 {
                let (what, slot) = match actions[pick] {
                    Action::Deliver(slot) => ("deliver", slot),
                    Action::Run(slot) => ("run", slot),
                };
                let detail = format!("{what} ({} of {})", pick + 1, actions.len());
                self.record(EventKind::Pick, OVERSEER, slot.name(), detail);
            }
            match actions[pick] {
                Action::Deliver(slot) => {
                    if let Some(node) = self.nodes.get_mut(&slot) {
                        if let Some(signal) = node.transit.pop_front() {
                            node.signals.push_back(QueuedSignal { signal, replay: false });
                        }
                    }
                }
                Action::Run(slot) => self.run_node(slot),
            }
            self.poll_replies();
        }
        Ok(())
    }

    /// Lets `slot` handle its next input: an armed crash, else a signal, else
    /// the head of its mailbox.
    fn run_node(&mut self, slot: SlotId) {
        let Some(node) = self.nodes.get_mut(&slot) else { return };
        if let Some(reason) = node.crash_armed.take() {
            self.crash(slot, reason);
            return;
        }
        if let Some(queued) = node.signals.pop_front() {
            let detail = format!("{:?}{}", queued.signal, if queued.replay { " (replay)" } else { "" });
            self.record(EventKind::Signal, OVERSEER, slot.name(), detail);
            self.handle_signal(slot, queued);
            return;
        }
        match node.mailbox.pop_front() {
            Some(Inbound::Message(envelope)) => {
                let request = envelope.request.map(|id| format!("request#{id} ")).unwrap_or_default();
                let detail = format!("{request}{}", message_text(&envelope.message));
                self.record(EventKind::Message, envelope.from.name(), slot.name(), detail);
                self.handle(slot, Input::Message(envelope.message));
            }
            Some(Inbound::Event { label, event }) => {
                self.record(EventKind::Event, slot.name(), slot.name(), label);
                self.handle(slot, Input::Event(event));
            }
            None => {}
        }
    }

    fn handle_signal(&mut self, slot: SlotId, queued: QueuedSignal) {
        let QueuedSignal { signal, replay } = queued;
        if let Some(node) = self.nodes.get_mut(&slot) {
            if !replay {
                // The signal counts as handled even if the handler crashes: a
                // restarted instance is brought up to date by the replay.
                if let OverseerSignal::ActiveLeaves(update) = &signal {
                    node.leaves.retain(|l| !update.deactivated.contains(&l.hash));
                    if let Some(leaf) = update.activated {
                        node.leaves.retain(|l| l.hash != leaf.hash);
                        node.leaves.push(leaf);
                    }
                }
                let released = node.ordering.signal_handled();
                node.mailbox.extend(released.into_iter().map(Inbound::Message));
            }
            if signal == OverseerSignal::Conclude {
                node.concluded = true;
                let ids: Vec<TimerId> = self.timers.keys().filter(|(s, _)| *s == slot).map(|(_, id)| *id).collect();
                for id in ids {
                    if let Some(key) = self.timers.remove(&(slot, id)) {
                        self.agenda.remove(&key);
                    }
                }
            }
        }
        self.handle(slot, Input::Signal(signal));
    }

    /// Calls the subsystem's handler, catching panics, and applies its effects.
    fn handle(&mut self, slot: SlotId, input: Input<AllMessages>) {
        let Some(node) = self.nodes.get_mut(&slot) else { return };
        let now = self.now;
        let rng = &mut self.rng;
        let result = catch_unwind(AssertUnwindSafe(|| node.subsystem.handle(input, &now, rng, &mut node.next_timer)));
        match result {
            Ok(effects) => self.apply_effects(slot, effects),
            Err(payload) => self.crash(slot, format!("panic: {}", panic_message(payload.as_ref()))),
        }
    }

    fn apply_effects(&mut self, slot: SlotId, effects: Vec<Effect<AllMessages>>) {
        let Some(node) = self.nodes.get(&slot) else { return };
        let tag = node.ordering.signals_handled();
        for effect in effects {
            match effect {
                Effect::Send(message) => self.route(slot, tag, message, None),
                Effect::Request { message, reply } => {
                    self.next_request += 1;
                    let id = self.next_request;
                    let label = variant_name(&message_text(&message)).to_string();
                    self.pending.push(Pending { id, requester: slot, responder: message.slot(), label, reply });
                    self.route(slot, tag, message, Some(id));
                }
                Effect::SetTimer { id, after, event } => {
                    let due = self.now + after;
                    let detail = format!("timer#{} after {} due {}", id.0, format_time(after), format_time(due));
                    self.record(EventKind::TimerSet, slot.name(), slot.name(), detail);
                    let key = self.schedule(due, Agenda::Timer { slot, id, event });
                    if let Some(old) = self.timers.insert((slot, id), key) {
                        self.agenda.remove(&old);
                    }
                }
                Effect::CancelTimer(id) => {
                    let found = self.timers.remove(&(slot, id));
                    if let Some(key) = found {
                        self.agenda.remove(&key);
                    }
                    let detail = format!("timer#{}{}", id.0, if found.is_some() { "" } else { " (not pending)" });
                    self.record(EventKind::TimerCancel, slot.name(), slot.name(), detail);
                }
                Effect::Exit(reason) => {
                    self.record(EventKind::Exit, slot.name(), slot.name(), reason.clone());
                    let concluded = self.nodes.get(&slot).is_some_and(|n| n.concluded);
                    if !concluded {
                        self.crash(slot, format!("exit: {reason}"));
                        return;
                    }
                }
            }
        }
    }

    /// Routes one outgoing message: unrouted, faults, then delivery.
    fn route(&mut self, from: SlotId, tag: u64, message: AllMessages, request: Option<u64>) {
        let to = message.slot();
        let text = message_text(&message);
        let variant = variant_name(&text).to_string();
        let request_label = request.map(|id| format!("request#{id} ")).unwrap_or_default();
        self.record(EventKind::Send, from.name(), to.name(), format!("{request_label}{text}"));
        if !self.nodes.contains_key(&to) {
            self.record(EventKind::Unrouted, from.name(), to.name(), format!("{request_label}{variant}"));
            if let Some(id) = request {
                self.dropped_requests.insert(id);
            }
            return;
        }
        let mut drop_by = None;
        let mut delay_by = None;
        for (index, (fault, seen)) in self.faults.iter_mut().enumerate() {
            let (filter, delay) = match fault {
                Fault::Drop(filter) => (filter, None),
                Fault::Delay { filter, by } => (filter, Some(*by)),
                Fault::Crash { .. } => continue,
            };
            if !filter.matches(from, to, &variant) {
                continue;
            }
            *seen += 1;
            if filter.triggers(*seen) {
                match delay {
                    None => {
                        drop_by.get_or_insert(index);
                    }
                    Some(by) => {
                        delay_by.get_or_insert((index, by));
                    }
                }
            }
        }
        let envelope = Envelope { from, to, tag, message, request };
        if let Some(index) = drop_by {
            self.record(EventKind::Drop, from.name(), to.name(), format!("{request_label}{variant} (fault #{index})"));
            if let Some(id) = request {
                self.dropped_requests.insert(id);
            }
            return;
        }
        if let Some((index, by)) = delay_by {
            let detail = format!("{request_label}{variant} by {} (fault #{index})", format_time(by));
            self.record(EventKind::Delay, from.name(), to.name(), detail);
            self.schedule(self.now + by, Agenda::Delayed(envelope));
            return;
        }
        self.deliver(envelope);
    }

    /// Hands a message to its receiver, through the signal-ordering rule.
    fn deliver(&mut self, envelope: Envelope) {
        let (from, to) = (envelope.from, envelope.to);
        let request_label = envelope.request.map(|id| format!("request#{id} ")).unwrap_or_default();
        let Some(node) = self.nodes.get_mut(&to) else { return };
        if !node.live() {
            let why = if node.dead { "receiver crashed" } else { "receiver concluded" };
            let detail = format!("{request_label}{} ({why})", variant_name(&message_text(&envelope.message)));
            if let Some(id) = envelope.request {
                self.dropped_requests.insert(id);
            }
            self.record(EventKind::Drop, from.name(), to.name(), detail);
            return;
        }
        if !self.options.enforce_signal_ordering {
            node.mailbox.push_back(Inbound::Message(envelope));
            return;
        }
        let (tag, handled) = (envelope.tag, node.ordering.signals_handled());
        let variant = variant_name(&message_text(&envelope.message)).to_string();
        match node.ordering.offer(tag, envelope) {
            Some(envelope) => node.mailbox.push_back(Inbound::Message(envelope)),
            None => {
                self.held += 1;
                let detail =
                    format!("{request_label}{variant} (sent after signal {tag}, receiver has handled {handled})");
                self.record(EventKind::Hold, from.name(), to.name(), detail);
            }
        }
    }

    /// Records a crash and applies the crash policy.
    fn crash(&mut self, slot: SlotId, reason: String) {
        let Some(node) = self.nodes.get_mut(&slot) else { return };
        let implementation = node.implementation.clone();
        self.crashes.push(CrashRecord {
            at: self.now,
            slot,
            implementation: implementation.clone(),
            reason: reason.clone(),
        });
        self.record(EventKind::Crash, slot.name(), slot.name(), format!("{implementation}: {reason}"));
        if self.finishing || self.options.on_crash == OnCrash::Stop {
            if let Some(node) = self.nodes.get_mut(&slot) {
                node.dead = true;
            }
            if !self.finishing {
                self.stopped = Some(StopReason::Crashed(slot));
            }
            return;
        }
        // Research mode: a fresh instance; what belonged to the old one
        // (timers, awaited replies, its queued events) goes with it.
        self.pending.retain(|p| p.requester != slot);
        let ids: Vec<TimerId> = self.timers.keys().filter(|(s, _)| *s == slot).map(|(_, id)| *id).collect();
        for id in ids {
            if let Some(key) = self.timers.remove(&(slot, id)) {
                self.agenda.remove(&key);
            }
        }
        let Some(node) = self.nodes.get_mut(&slot) else { return };
        node.subsystem = (node.factory)();
        node.crash_armed = None;
        node.mailbox.retain(|inbound| matches!(inbound, Inbound::Message(_)));
        // Replay every active leaf, oldest first, ahead of the queued signals.
        for leaf in node.leaves.iter().rev() {
            let signal =
                OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(*leaf), deactivated: vec![] });
            node.signals.push_front(QueuedSignal { signal, replay: true });
        }
        let detail = match node.leaves.as_slice() {
            [] => format!("{implementation} rebuilt; no active leaf to replay"),
            [leaf] => format!("{implementation} rebuilt; replaying active leaf #{} {:?}", leaf.number, leaf.hash),
            leaves => format!(
                "{implementation} rebuilt; replaying active leaves {}",
                leaves.iter().map(|l| format!("#{} {:?}", l.number, l.hash)).collect::<Vec<_>>().join(", ")
            ),
        };
        self.restarts += 1;
        self.record(EventKind::Restart, OVERSEER, slot.name(), detail);
    }

    /// Polls every awaited reply once; ready ones become events of their requester.
    fn poll_replies(&mut self) {
        let mut cx = TaskContext::from_waker(noop_waker_ref());
        let mut index = 0;
        while index < self.pending.len() {
            let Poll::Ready(event) = self.pending[index].reply.as_mut().poll(&mut cx) else {
                index += 1;
                continue;
            };
            let pending = self.pending.remove(index);
            let dropped = self.dropped_requests.remove(&pending.id);
            let detail = format!(
                "request#{} {}{}",
                pending.id,
                pending.label,
                if dropped { " (request dropped: channel closed)" } else { "" }
            );
            self.record(EventKind::Reply, pending.responder.name(), pending.requester.name(), detail);
            if let Some(node) = self.nodes.get_mut(&pending.requester).filter(|n| n.live()) {
                let label = format!("reply#{} {}", pending.id, pending.label);
                node.mailbox.push_back(Inbound::Event { label, event });
            }
        }
    }

    /// Sends `Conclude` to every live subsystem, in slot order.
    fn finish(&mut self) {
        self.finishing = true;
        let slots: Vec<SlotId> = self.nodes.iter().filter(|(_, n)| n.live()).map(|(s, _)| *s).collect();
        for slot in slots {
            self.record(EventKind::Signal, OVERSEER, slot.name(), format!("{:?}", OverseerSignal::Conclude));
            if let Some(node) = self.nodes.get_mut(&slot) {
                node.concluded = true;
            }
            self.handle(slot, Input::Signal(OverseerSignal::Conclude));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_name_is_the_leading_identifier() {
        assert_eq!(variant_name("BestBlock { reply: Sender { complete: false } }"), "BestBlock");
        assert_eq!(variant_name("Approved(0x00)"), "Approved");
        assert_eq!(variant_name(""), "");
    }

    #[test]
    fn leaf_hashes_differ_per_number() {
        assert_ne!(leaf_hash(1), leaf_hash(2));
        assert_eq!(leaf_hash(1), leaf_hash(1));
    }

    #[test]
    fn filter_counts_nth() {
        let filter =
            MessageFilter { from: Some(SlotId::Sync), to: None, variant: Some("BestBlock".into()), nth: Some(2) };
        assert!(filter.matches(SlotId::Sync, SlotId::ChainStore, "BestBlock"));
        assert!(!filter.matches(SlotId::Babe, SlotId::ChainStore, "BestBlock"));
        assert!(!filter.matches(SlotId::Sync, SlotId::ChainStore, "Header"));
        assert!(!filter.triggers(1));
        assert!(filter.triggers(2));
        assert_eq!(filter.to_string(), "sync -> * BestBlock (#2)");
    }
}
