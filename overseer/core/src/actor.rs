//! The thin actix shell around one subsystem state machine.
//!
//! It owns a bounded mailbox, applies the signal-ordering rule, times the
//! handlers, turns effects into sends, timers and awaited replies, and reports
//! failures (panic, exit, stall) to the overseer. Sends are performed in order
//! and awaited: while a target's mailbox is full this actor handles nothing
//! else (back-pressure), and a send still blocked after the stall bound
//! reports the target as stalled.

use crate::erased::{AnyFactory, AnySubsystem, MAX_KEPT_EFFECTS};
use crate::metrics::SubsystemMetrics;
use crate::subsystem::{BoxedEvent, Clock, Effect, Input, SignalOrdering, TimerId};
use actix::prelude::*;
use rand::SeedableRng;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use weft_messages::{ActivatedLeaf, ActiveLeavesUpdate, AllMessages, OverseerSignal, SlotId};

/// A message on its way to a subsystem, tagged with the number of signals its
/// sender had handled when sending it.
pub struct MessagePacket {
    pub sender_signals: u64,
    pub message: AllMessages,
}

/// A signal, delivered outside the bounded message path.
#[derive(Clone)]
pub struct SignalPacket(pub OverseerSignal);

/// The two inbound paths of a subsystem: a bounded channel for messages and an
/// unbounded one for signals (which are few and must never wait).
///
/// Signals take priority: the actor's [`Inbox`] takes every queued signal
/// before each message, so a message tagged with signal *N* normally finds
/// signal *N* handled and stays in the bounded channel until then, keeping
/// back-pressure intact.
#[derive(Clone)]
pub struct Mailbox {
    pub messages: tokio::sync::mpsc::Sender<MessagePacket>,
    signals: tokio::sync::mpsc::UnboundedSender<SignalPacket>,
    /// Signals queued so far; lets the actor skip the signal channel when
    /// nothing new is there (one load per message).
    signals_sent: Arc<AtomicU64>,
    pub metrics: Arc<SubsystemMetrics>,
}

impl Mailbox {
    /// Queues a signal; false if the subsystem has stopped.
    pub fn send_signal(&self, signal: OverseerSignal) -> bool {
        let sent = self.signals.send(SignalPacket(signal)).is_ok();
        self.signals_sent.fetch_add(1, Ordering::Release);
        sent
    }
}

/// The receiving ends of a [`Mailbox`], consumed when the actor starts.
pub struct MailboxReceivers {
    messages: tokio::sync::mpsc::Receiver<MessagePacket>,
    signals: tokio::sync::mpsc::UnboundedReceiver<SignalPacket>,
    signals_sent: Arc<AtomicU64>,
}

/// A new mailbox holding at most `capacity` messages.
pub fn mailbox(capacity: usize, metrics: Arc<SubsystemMetrics>) -> (Mailbox, MailboxReceivers) {
    let (mtx, mrx) = tokio::sync::mpsc::channel(capacity.max(1));
    let weak = mtx.downgrade();
    metrics.set_depth_probe(Box::new(move || weak.upgrade().map(|s| s.max_capacity() - s.capacity()).unwrap_or(0)));
    let (stx, srx) = tokio::sync::mpsc::unbounded_channel();
    let signals_sent = Arc::new(AtomicU64::new(0));
    (
        Mailbox { messages: mtx, signals: stx, signals_sent: signals_sent.clone(), metrics },
        MailboxReceivers { messages: mrx, signals: srx, signals_sent },
    )
}

/// Why a subsystem failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A handler panicked.
    Panicked(String),
    /// The subsystem asked to exit.
    Exited(String),
    /// A send to it stayed blocked past the stall bound.
    Stalled { waited: Duration, sender: SlotId },
}

/// Reported to the overseer when a subsystem fails.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SubsystemFailure {
    pub slot: SlotId,
    pub implementation: String,
    pub kind: FailureKind,
}

/// Reported to the overseer when a subsystem actor stopped.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct SubsystemStopped(pub SlotId);

/// Where a slot's messages go.
#[derive(Clone)]
pub enum Route {
    /// A running subsystem actor's mailbox.
    Actor(Mailbox),
    /// A capture channel (test harness).
    Capture(tokio::sync::mpsc::UnboundedSender<AllMessages>),
}

/// Where each slot's messages go, indexed by slot.
#[derive(Clone, Default)]
pub struct RouteTable(Vec<Option<Route>>);

impl RouteTable {
    /// The route of a slot.
    pub fn get(&self, slot: &SlotId) -> Option<&Route> {
        self.0.get(*slot as usize).and_then(Option::as_ref)
    }
}

impl FromIterator<(SlotId, Route)> for RouteTable {
    fn from_iter<I: IntoIterator<Item = (SlotId, Route)>>(iter: I) -> Self {
        let mut table = vec![None; SlotId::ALL.len()];
        for (slot, route) in iter {
            table[slot as usize] = Some(route);
        }
        RouteTable(table)
    }
}

/// The routing table, filled once every actor has started.
pub type Routes = Arc<OnceLock<RouteTable>>;

/// Real time since the actor started, read only when a handler asks.
struct SinceStart(Instant);

impl Clock for SinceStart {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Settings of one subsystem actor.
#[derive(Clone)]
pub struct ActorSettings {
    pub mailbox: usize,
    pub stall_timeout: Duration,
    pub restart_on_crash: bool,
}

/// The actix actor that runs one subsystem.
pub struct SubsystemActor {
    slot: SlotId,
    subsystem: Box<dyn AnySubsystem>,
    factory: AnyFactory,
    settings: ActorSettings,
    routes: Routes,
    failures: Recipient<SubsystemFailure>,
    stopped: Option<Recipient<SubsystemStopped>>,
    metrics: Arc<SubsystemMetrics>,
    ordering: SignalOrdering<AllMessages>,
    leaves: Vec<ActivatedLeaf>,
    timers: HashMap<TimerId, SpawnHandle>,
    next_timer: u64,
    rng: rand_chacha::ChaCha8Rng,
    started: Instant,
    failed: bool,
    receivers: Option<MailboxReceivers>,
    signals: Option<tokio::sync::mpsc::UnboundedReceiver<SignalPacket>>,
    inputs: u64,
    /// Reused for the effects of each input.
    effects: Vec<Effect<AllMessages>>,
    /// Sends queued behind a full mailbox, in order (the buffer is reused).
    blocked: Vec<MessagePacket>,
    /// A drain of queued sends is under way (the actor waits for it).
    draining: bool,
    /// Signals taken from the channel outside the inbox (a message waiting
    /// for its signal).
    signals_awaited: u64,
}

/// One message in this many has its handler timed (the total is scaled up).
const TIMING_SAMPLE: u64 = 8;

impl SubsystemActor {
    /// A new actor for the subsystem `factory` builds.
    pub fn new(
        factory: AnyFactory,
        settings: ActorSettings,
        routes: Routes,
        failures: Recipient<SubsystemFailure>,
        stopped: Option<Recipient<SubsystemStopped>>,
        metrics: Arc<SubsystemMetrics>,
        receivers: MailboxReceivers,
    ) -> Self {
        let subsystem = factory();
        SubsystemActor {
            slot: subsystem.slot(),
            subsystem,
            factory,
            settings,
            routes,
            failures,
            stopped,
            metrics,
            ordering: SignalOrdering::default(),
            leaves: Vec::new(),
            timers: HashMap::new(),
            next_timer: 0,
            rng: rand_chacha::ChaCha8Rng::from_entropy(),
            started: Instant::now(),
            failed: false,
            receivers: Some(receivers),
            signals: None,
            inputs: 0,
            effects: Vec::new(),
            blocked: Vec::new(),
            draining: false,
            signals_awaited: 0,
        }
    }

    fn report(&mut self, kind: FailureKind) {
        self.failures.do_send(SubsystemFailure {
            slot: self.slot,
            implementation: self.subsystem.implementation().to_string(),
            kind,
        });
    }

    fn track_leaves(&mut self, signal: &OverseerSignal) {
        if let OverseerSignal::ActiveLeaves(update) = signal {
            self.leaves.retain(|l| !update.deactivated.contains(&l.hash));
            if let Some(leaf) = update.activated {
                self.leaves.retain(|l| l.hash != leaf.hash);
                self.leaves.push(leaf);
            }
        }
    }

    /// Runs one input through the state machine and carries out its effects.
    fn deliver(&mut self, input: Input<AllMessages>, ctx: &mut Context<Self>) {
        if self.failed {
            return;
        }
        let kind = match &input {
            Input::Signal(_) => 0,
            Input::Message(_) => 1,
            Input::Event(_) => 2,
        };
        // Messages are timed one in TIMING_SAMPLE (scaled up), signals and events always:
        // a clock read costs about as much as a small handler.
        self.inputs += 1;
        let timed = kind != 1 || self.inputs.is_multiple_of(TIMING_SAMPLE);
        let began = timed.then(Instant::now);
        let clock = SinceStart(self.started);
        let subsystem = &mut self.subsystem;
        let rng = &mut self.rng;
        let next_timer = &mut self.next_timer;
        // The effect buffer is reused across inputs (taken, so a nested
        // delivery during `apply` gets a buffer of its own).
        let mut effects = std::mem::take(&mut self.effects);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            subsystem.handle_into(input, &clock, rng, next_timer, &mut effects)
        }));
        let took = match began {
            Some(began) if kind == 1 => began.elapsed() * TIMING_SAMPLE as u32,
            Some(began) => began.elapsed(),
            None => Duration::ZERO,
        };
        match kind {
            0 => self.metrics.on_signal(took),
            1 => self.metrics.on_message(took),
            _ => self.metrics.on_event(took),
        }
        match outcome {
            Ok(()) => {
                self.apply(&mut effects, ctx);
                if effects.capacity() <= MAX_KEPT_EFFECTS {
                    self.effects = effects;
                }
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                self.crashed(FailureKind::Panicked(message), ctx);
            }
        }
    }

    fn crashed(&mut self, kind: FailureKind, ctx: &mut Context<Self>) {
        let implementation = self.subsystem.implementation().to_string();
        if self.settings.restart_on_crash {
            tracing::error!(slot = %self.slot, %implementation, ?kind, "subsystem crashed; restarting it (research mode)");
            for (_, handle) in self.timers.drain() {
                ctx.cancel_future(handle);
            }
            self.subsystem = (self.factory)();
            self.metrics.on_restart();
            // Replay every active leaf, oldest first, so the new instance
            // knows what to work on.
            for leaf in self.leaves.clone() {
                let replay =
                    OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(leaf), deactivated: Vec::new() });
                self.deliver(Input::Signal(replay), ctx);
            }
        } else {
            tracing::error!(slot = %self.slot, %implementation, ?kind, "subsystem failed; stopping the node");
            self.failed = true;
            self.report(kind);
        }
    }

    fn apply(&mut self, effects: &mut Vec<Effect<AllMessages>>, ctx: &mut Context<Self>) {
        let tag = self.ordering.signals_handled();
        for effect in effects.drain(..) {
            match effect {
                Effect::Send(message) => self.route(MessagePacket { sender_signals: tag, message }),
                Effect::Request { message, reply } => {
                    self.route(MessagePacket { sender_signals: tag, message });
                    ctx.spawn(reply.into_actor(self).map(|event: BoxedEvent, act, ctx| {
                        act.deliver(Input::Event(event), ctx);
                    }));
                }
                Effect::SetTimer { id, after, event } => {
                    let mut event = Some(event);
                    let handle = ctx.run_later(after, move |act, ctx| {
                        act.timers.remove(&id);
                        if let Some(event) = event.take() {
                            act.deliver(Input::Event(event), ctx);
                        }
                    });
                    self.timers.insert(id, handle);
                }
                Effect::CancelTimer(id) => {
                    if let Some(handle) = self.timers.remove(&id) {
                        ctx.cancel_future(handle);
                    }
                }
                Effect::Exit(reason) => {
                    // What was sent before the exit still goes out.
                    self.flush_blocked(ctx);
                    self.crashed(FailureKind::Exited(reason), ctx);
                    return;
                }
            }
        }
        self.flush_blocked(ctx);
    }

    /// Tries a non-blocking send. Keeps this sender's order: once a message
    /// could not be delivered at once, everything after it is queued behind
    /// it, including what later inputs send while the queue drains.
    fn route(&mut self, packet: MessagePacket) {
        let target = packet.message.slot();
        let Some(route) = self.routes.get().and_then(|r| r.get(&target)) else {
            tracing::warn!(from = %self.slot, to = %target, "no route to slot; message dropped");
            return;
        };
        if self.draining || !self.blocked.is_empty() {
            self.blocked.push(packet);
            return;
        }
        match route {
            Route::Capture(tx) => {
                let _ = tx.send(packet.message);
            }
            Route::Actor(mailbox) => match mailbox.messages.try_send(packet) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(packet)) => {
                    mailbox.metrics.on_full(mailbox.messages.max_capacity());
                    self.blocked.push(packet)
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    tracing::debug!(from = %self.slot, to = %target, "target stopped; message dropped")
                }
            },
        }
    }

    /// Starts draining the queued sends, unless a drain is already under way
    /// (it picks them up when it ends). One drain at a time: actix runs the
    /// newest `wait` first, so two would reorder the sends.
    fn flush_blocked(&mut self, ctx: &mut Context<Self>) {
        if self.draining || self.blocked.is_empty() {
            return;
        }
        self.metrics.on_blocked_send();
        self.draining = true;
        let queued = std::mem::take(&mut self.blocked);
        self.send_blocked(queued, ctx);
    }

    /// Awaits the blocked sends in order; this actor handles nothing meanwhile.
    /// The emptied queue comes back to the actor for reuse.
    fn send_blocked(&mut self, mut blocked: Vec<MessagePacket>, ctx: &mut Context<Self>) {
        let stall = self.settings.stall_timeout;
        let sender = self.slot;
        let routes = self.routes.clone();
        let work = async move {
            let mut stalled = None;
            if let Some(table) = routes.get() {
                for packet in blocked.drain(..) {
                    let target = packet.message.slot();
                    match table.get(&target) {
                        None => {}
                        Some(Route::Capture(tx)) => {
                            let _ = tx.send(packet.message);
                        }
                        Some(Route::Actor(mailbox)) => {
                            // Only a still-full mailbox pays for a timer.
                            let packet = match mailbox.messages.try_send(packet) {
                                Ok(()) => continue,
                                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => continue,
                                Err(tokio::sync::mpsc::error::TrySendError::Full(packet)) => packet,
                            };
                            match tokio::time::timeout(stall, mailbox.messages.send(packet)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(_closed)) => {}
                                Err(_) => {
                                    stalled = Some(SubsystemFailure {
                                        slot: target,
                                        implementation: String::new(),
                                        kind: FailureKind::Stalled { waited: stall, sender },
                                    });
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            blocked.clear();
            (stalled, blocked)
        };
        ctx.wait(work.into_actor(self).map(|(stalled, emptied), act, ctx| {
            act.draining = false;
            if let Some(failure) = stalled {
                tracing::error!(stalled = %failure.slot, sender = %act.slot, "subsystem stalled: its mailbox stayed full");
                act.failures.do_send(failure);
                // The node is going down: what is still queued is not sent.
                act.blocked.clear();
            }
            if act.blocked.is_empty() {
                if emptied.capacity() <= MAX_KEPT_EFFECTS {
                    act.blocked = emptied;
                }
            } else {
                // Sent by later inputs while this drain ran: they go next.
                act.flush_blocked(ctx);
            }
        }));
    }
}

impl Actor for SubsystemActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(receivers) = self.receivers.take() {
            self.signals = Some(receivers.signals);
            ctx.spawn(Inbox { messages: receivers.messages, signals_sent: receivers.signals_sent, signals_taken: 0 });
        }
        tracing::debug!(slot = %self.slot, implementation = self.subsystem.implementation(), "subsystem started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(stopped) = &self.stopped {
            stopped.do_send(SubsystemStopped(self.slot));
        }
    }
}

/// Feeds the actor from its mailbox: every queued signal first, then one
/// message, again and again.
///
/// One poll takes up to [`INBOX_BATCH`] inputs before yielding to the other
/// futures of the actor (replies, timers); it stops early when a handler made
/// the actor wait (a blocked send, a message waiting for its signal). actix's
/// own stream handler yields after 16 items, which costs a trip through the
/// scheduler every 16 messages.
struct Inbox {
    messages: tokio::sync::mpsc::Receiver<MessagePacket>,
    /// Signals queued by the overseer, and taken by this actor.
    signals_sent: Arc<AtomicU64>,
    signals_taken: u64,
}

/// Inputs the inbox hands over in one poll before letting other futures run.
const INBOX_BATCH: usize = 256;

impl Inbox {
    /// Takes a queued signal without registering for wake-ups.
    fn queued_signal(&mut self, act: &mut SubsystemActor) -> Option<OverseerSignal> {
        let taken_all = self.signals_sent.load(Ordering::Acquire) <= self.signals_taken + act.signals_awaited;
        if taken_all {
            return None;
        }
        let SignalPacket(signal) = act.signals.as_mut()?.try_recv().ok()?;
        Some(signal)
    }
}

impl ActorFuture<SubsystemActor> for Inbox {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        act: &mut SubsystemActor,
        ctx: &mut Context<SubsystemActor>,
        task: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        use std::task::Poll;
        let this = self.get_mut();
        for _ in 0..INBOX_BATCH {
            if let Some(signal) = this.queued_signal(act) {
                this.signals_taken += 1;
                act.handle_signal(signal, ctx);
                if ctx.waiting() {
                    return Poll::Pending;
                }
                continue;
            }
            match this.messages.poll_recv(task) {
                Poll::Ready(Some(packet)) => {
                    act.on_packet(packet, ctx);
                    if ctx.waiting() {
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => {
                    // Nothing to read: be woken by a signal too. (The signal
                    // receiver is away only while the actor waits for a signal.)
                    let Some(signals) = act.signals.as_mut() else { return Poll::Pending };
                    match signals.poll_recv(task) {
                        Poll::Ready(Some(SignalPacket(signal))) => {
                            this.signals_taken += 1;
                            act.handle_signal(signal, ctx);
                            if ctx.waiting() {
                                return Poll::Pending;
                            }
                        }
                        Poll::Ready(None) => {
                            act.signals = None;
                            return Poll::Pending;
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

impl SubsystemActor {
    fn handle_signal(&mut self, signal: OverseerSignal, ctx: &mut Context<Self>) {
        let conclude = signal == OverseerSignal::Conclude;
        self.track_leaves(&signal);
        // Count the signal first: what the subsystem sends while handling
        // signal N is tagged N, so no receiver handles it before signal N.
        let released = self.ordering.signal_handled();
        self.deliver(Input::Signal(signal), ctx);
        for message in released {
            self.metrics.on_released();
            self.deliver(Input::Message(message), ctx);
        }
        if conclude {
            self.signals = None;
            ctx.stop();
        }
    }

    /// A message from the mailbox, all queued signals having been handled.
    fn on_packet(&mut self, packet: MessagePacket, ctx: &mut Context<Self>) {
        let missing = packet.sender_signals.saturating_sub(self.ordering.signals_handled());
        if missing > 0 {
            if let Some(mut signals) = self.signals.take() {
                // The sender saw signals we have not: wait for them before
                // taking anything else, so the message channel stays full and
                // back-pressure holds.
                let wait_for_signals = async move {
                    let mut received = Vec::new();
                    while (received.len() as u64) < missing {
                        match signals.recv().await {
                            Some(SignalPacket(signal)) => received.push(signal),
                            None => break,
                        }
                    }
                    (signals, received)
                };
                ctx.wait(wait_for_signals.into_actor(self).map(move |(signals, received), act, ctx| {
                    act.signals = Some(signals);
                    act.signals_awaited += received.len() as u64;
                    for signal in received {
                        act.handle_signal(signal, ctx);
                    }
                    act.accept(packet, ctx);
                }));
                return;
            }
        }
        self.accept(packet, ctx);
    }
}

impl SubsystemActor {
    /// Delivers a message now, or holds it if its sender saw signals this
    /// subsystem has not handled (only when the signal path is closed).
    fn accept(&mut self, packet: MessagePacket, ctx: &mut Context<Self>) {
        match self.ordering.offer(packet.sender_signals, packet.message) {
            Some(message) => self.deliver(Input::Message(message), ctx),
            None => self.metrics.on_held(),
        }
    }
}
