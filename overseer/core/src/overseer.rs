//! The overseer: builds every slot's subsystem, starts them as actors, routes
//! messages, broadcasts signals and supervises.
//!
//! Supervision: a subsystem that panics, exits, or whose mailbox stays full
//! past the stall bound is reported by name; every subsystem then gets
//! `Conclude` and the overseer stops with that failure as its result. In
//! research mode (`restart_on_crash`) a crashed subsystem is rebuilt from its
//! factory and the current leaves are replayed to it instead.

use crate::actor::{
    mailbox, ActorSettings, FailureKind, Mailbox, MessagePacket, Route, RouteTable, Routes, SubsystemActor,
    SubsystemFailure, SubsystemStopped,
};
use crate::erased::{erase, AnyFactory, Factory, Registry};
use crate::metrics::MetricsRegistry;
use crate::subsystem::{BoxedSubsystem, DynSubsystem};
use crate::Dummy;
use actix::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft_messages::{AllMessages, OverseerSignal, SlotId};

/// Default mailbox capacity of a subsystem.
pub const DEFAULT_MAILBOX: usize = 1024;
/// Default bound on a blocked send before the target is declared stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long subsystems get to conclude before the overseer stops anyway.
pub const CONCLUDE_GRACE: Duration = Duration::from_millis(800);

/// Why the overseer stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverseerError {
    #[error("subsystem `{slot}` ({implementation}) panicked: {message}")]
    SubsystemPanicked { slot: SlotId, implementation: String, message: String },
    #[error("subsystem `{slot}` ({implementation}) exited: {reason}")]
    SubsystemExited { slot: SlotId, implementation: String, reason: String },
    #[error("SubsystemStalled({slot}): its mailbox stayed full for {waited:?} while `{sender}` was sending")]
    SubsystemStalled { slot: SlotId, waited: Duration, sender: SlotId },
    #[error("unknown subsystem slot `{0}` in config; known slots: {1}")]
    UnknownSlot(String, String),
    #[error("no implementation `{implementation}` for slot `{slot}`; available: {available}")]
    UnknownImplementation { slot: SlotId, implementation: String, available: String },
    #[error("the overseer stopped unexpectedly")]
    Stopped,
}

/// Per-slot settings chosen in config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotSettings {
    /// Implementation name from the registry (`default`, `dummy`, ...).
    pub implementation: Option<String>,
    /// Mailbox capacity.
    pub mailbox: Option<usize>,
}

macro_rules! generate_builder {
    ($( ($variant:ident, $snake:ident, $replace:ident, $marker:ident, $msg:ident, $out:ident, $desc:literal)
        sends [ $( $tvariant:ident : $tmsg:ident ),* ] ; )*) => {
        /// The factory filling each slot.
        #[derive(Clone)]
        struct SlotFactories {
            $( $snake: Factory<weft_messages::$marker>, )*
        }

        impl SlotFactories {
            fn all_dummy() -> Self {
                SlotFactories {
                    $( $snake: Arc::new(|| Box::new(Dummy::<weft_messages::$marker>::new())), )*
                }
            }

            fn erased(&self) -> Vec<(SlotId, AnyFactory)> {
                vec![ $( {
                    let f = self.$snake.clone();
                    (SlotId::$variant, Arc::new(move || erase::<weft_messages::$marker>(f())) as AnyFactory)
                }, )* ]
            }

            fn set_from_registry(&mut self, slot: SlotId, name: &str, registry: &Registry) -> bool {
                match slot {
                    $( SlotId::$variant => match registry.get_typed::<weft_messages::$marker>(name) {
                        Some(f) => { self.$snake = f; true }
                        None => false,
                    }, )*
                }
            }
        }

        impl OverseerBuilder {
            $(
                #[doc = concat!("Replaces the `", stringify!($snake), "` subsystem: `f` receives the current one (the \"real\" one) and returns its replacement, e.g. `Intercepted::new(real, filter)`. Also used when the subsystem is restarted.")]
                pub fn $replace<S>(mut self, f: impl Fn(BoxedSubsystem<weft_messages::$marker>) -> S + Send + Sync + 'static) -> Self
                where
                    S: DynSubsystem<weft_messages::$marker> + 'static,
                {
                    let current = self.factories.$snake.clone();
                    self.factories.$snake = Arc::new(move || Box::new(f(current())));
                    self.implementations.insert(SlotId::$variant, "replaced".into());
                    self
                }
            )*
        }
    };
}

weft_messages::with_slots!(generate_builder);

/// Builds an overseer: every slot starts as `Dummy`; config and `replace_*`
/// choose the real implementations.
#[derive(Clone)]
pub struct OverseerBuilder {
    factories: SlotFactories,
    implementations: BTreeMap<SlotId, String>,
    mailboxes: BTreeMap<SlotId, usize>,
    default_mailbox: usize,
    stall_timeout: Duration,
    restart_on_crash: bool,
    thread_per_subsystem: bool,
}

impl Default for OverseerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl OverseerBuilder {
    /// Every slot filled by `Dummy`.
    pub fn new() -> Self {
        OverseerBuilder {
            factories: SlotFactories::all_dummy(),
            implementations: SlotId::ALL.iter().map(|s| (*s, "dummy".to_string())).collect(),
            mailboxes: BTreeMap::new(),
            default_mailbox: DEFAULT_MAILBOX,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            restart_on_crash: false,
            thread_per_subsystem: true,
        }
    }

    /// Run each subsystem on its own arbiter thread (default), or all on the
    /// caller's arbiter (cheaper hand-offs; a blocking handler then blocks all).
    pub fn thread_per_subsystem(mut self, yes: bool) -> Self {
        self.thread_per_subsystem = yes;
        self
    }

    /// Fills every slot with its `default` implementation from `registry`,
    /// where one is registered, then applies the per-slot settings of config.
    pub fn all_from_config(
        mut self,
        slots: &BTreeMap<String, SlotSettings>,
        registry: &Registry,
    ) -> Result<Self, OverseerError> {
        for slot in SlotId::ALL {
            if self.factories.set_from_registry(*slot, "default", registry) {
                self.implementations.insert(*slot, "default".into());
            }
        }
        for (name, settings) in slots {
            let slot = SlotId::from_name(name).ok_or_else(|| {
                OverseerError::UnknownSlot(
                    name.clone(),
                    SlotId::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
                )
            })?;
            if let Some(implementation) = &settings.implementation {
                if !self.factories.set_from_registry(slot, implementation, registry) {
                    let mut available = registry.names(slot);
                    available.push("dummy");
                    return Err(OverseerError::UnknownImplementation {
                        slot,
                        implementation: implementation.clone(),
                        available: available.join(", "),
                    });
                }
                self.implementations.insert(slot, implementation.clone());
            }
            if let Some(mailbox) = settings.mailbox {
                self.mailboxes.insert(slot, mailbox.max(1));
            }
        }
        Ok(self)
    }

    /// Applies a node configuration: overseer settings and, per slot, the
    /// implementation (from `registry`) and mailbox.
    pub fn configure(self, config: &weft_config::NodeConfig, registry: &Registry) -> Result<Self, OverseerError> {
        let slots: BTreeMap<String, SlotSettings> = config
            .subsystems
            .iter()
            .map(|(name, c)| {
                (name.clone(), SlotSettings { implementation: c.implementation.clone(), mailbox: c.mailbox })
            })
            .collect();
        let mut builder = self.all_from_config(&slots, registry)?.restart_on_crash(config.overseer.restart_crashed);
        if let Some(capacity) = config.overseer.default_mailbox {
            builder = builder.default_mailbox(capacity);
        }
        if let Some(ms) = config.overseer.stall_timeout_ms {
            builder = builder.stall_timeout(Duration::from_millis(ms));
        }
        Ok(builder)
    }

    /// Mailbox capacity of one slot.
    pub fn mailbox(mut self, slot: SlotId, capacity: usize) -> Self {
        self.mailboxes.insert(slot, capacity.max(1));
        self
    }

    /// Mailbox capacity of slots without their own setting.
    pub fn default_mailbox(mut self, capacity: usize) -> Self {
        self.default_mailbox = capacity.max(1);
        self
    }

    /// Bound on a blocked send before the target is declared stalled.
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Research mode: restart a crashed subsystem instead of stopping the node.
    pub fn restart_on_crash(mut self, restart: bool) -> Self {
        self.restart_on_crash = restart;
        self
    }

    /// The implementation name filling each slot.
    pub fn implementations(&self) -> &BTreeMap<SlotId, String> {
        &self.implementations
    }

    /// Starts every subsystem as an actor on the current actix system and
    /// returns a handle. Must be called inside a running `actix::System`.
    pub fn start(self) -> OverseerHandle {
        let metrics = MetricsRegistry::for_slots(SlotId::ALL);
        let routes: Routes = Arc::new(std::sync::OnceLock::new());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let overseer = OverseerActor {
            subsystems: HashMap::new(),
            arbiters: Vec::new(),
            implementations: self.implementations.clone(),
            running: 0,
            result: None,
            done: Some(done_tx),
            concluding: false,
        }
        .start();
        let mut addrs = HashMap::new();
        let mut table = Vec::new();
        let mut arbiters = Vec::new();
        for (slot, factory) in self.factories.erased() {
            let implementation = self.implementations.get(&slot).cloned().unwrap_or_default();
            tracing::info!(slot = %slot, implementation = %implementation, "subsystem slot filled");
            let settings = ActorSettings {
                mailbox: self.mailboxes.get(&slot).copied().unwrap_or(self.default_mailbox),
                stall_timeout: self.stall_timeout,
                restart_on_crash: self.restart_on_crash,
            };
            let slot_metrics = metrics.get(slot).unwrap_or_default();
            let (mailbox, receivers) = mailbox(settings.mailbox, slot_metrics.clone());
            let (routes_for_actor, failures, stopped, actor_metrics) =
                (routes.clone(), overseer.clone().recipient(), overseer.clone().recipient(), slot_metrics.clone());
            let make = move || {
                SubsystemActor::new(
                    factory,
                    settings,
                    routes_for_actor,
                    failures,
                    Some(stopped),
                    actor_metrics,
                    receivers,
                )
            };
            if self.thread_per_subsystem {
                let arbiter = Arbiter::new();
                SubsystemActor::start_in_arbiter(&arbiter.handle(), move |_| make());
                arbiters.push(arbiter);
            } else {
                make().start();
            }
            table.push((slot, Route::Actor(mailbox.clone())));
            addrs.insert(slot, mailbox);
        }
        let _ = routes.set(table.into_iter().collect::<RouteTable>());
        overseer.do_send(Register(addrs, arbiters));
        OverseerHandle {
            overseer,
            routes,
            signals_sent: Arc::new(AtomicU64::new(0)),
            metrics,
            done: Arc::new(tokio::sync::Mutex::new(Some(done_rx))),
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Register(HashMap<SlotId, Mailbox>, Vec<Arbiter>);

#[derive(Message)]
#[rtype(result = "()")]
struct Broadcast(OverseerSignal);

#[derive(Message)]
#[rtype(result = "()")]
struct ForceStop;

/// The supervising actor.
struct OverseerActor {
    subsystems: HashMap<SlotId, Mailbox>,
    arbiters: Vec<Arbiter>,
    implementations: BTreeMap<SlotId, String>,
    running: usize,
    result: Option<Result<(), OverseerError>>,
    done: Option<tokio::sync::oneshot::Sender<Result<(), OverseerError>>>,
    concluding: bool,
}

impl OverseerActor {
    fn conclude(&mut self, ctx: &mut Context<Self>) {
        if self.concluding {
            return;
        }
        self.concluding = true;
        for mailbox in self.subsystems.values() {
            let _ = mailbox.send_signal(OverseerSignal::Conclude);
        }
        ctx.notify_later(ForceStop, CONCLUDE_GRACE);
    }

    fn finish(&mut self, ctx: &mut Context<Self>) {
        for arbiter in self.arbiters.drain(..) {
            arbiter.stop();
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(self.result.clone().unwrap_or(Ok(())));
        }
        ctx.stop();
    }
}

impl Actor for OverseerActor {
    type Context = Context<Self>;
}

impl Handler<Register> for OverseerActor {
    type Result = ();
    fn handle(&mut self, Register(addrs, arbiters): Register, _ctx: &mut Context<Self>) {
        self.running = addrs.len();
        self.subsystems = addrs;
        self.arbiters = arbiters;
    }
}

impl Handler<Broadcast> for OverseerActor {
    type Result = ();
    fn handle(&mut self, Broadcast(signal): Broadcast, ctx: &mut Context<Self>) {
        if signal == OverseerSignal::Conclude {
            self.result.get_or_insert(Ok(()));
            self.conclude(ctx);
            return;
        }
        if self.concluding {
            return;
        }
        for mailbox in self.subsystems.values() {
            let _ = mailbox.send_signal(signal.clone());
        }
    }
}

impl Handler<SubsystemFailure> for OverseerActor {
    type Result = ();
    fn handle(&mut self, failure: SubsystemFailure, ctx: &mut Context<Self>) {
        let implementation = if failure.implementation.is_empty() {
            self.implementations.get(&failure.slot).cloned().unwrap_or_default()
        } else {
            failure.implementation
        };
        let error = match failure.kind {
            FailureKind::Panicked(message) => {
                OverseerError::SubsystemPanicked { slot: failure.slot, implementation, message }
            }
            FailureKind::Exited(reason) => {
                OverseerError::SubsystemExited { slot: failure.slot, implementation, reason }
            }
            FailureKind::Stalled { waited, sender } => {
                OverseerError::SubsystemStalled { slot: failure.slot, waited, sender }
            }
        };
        tracing::error!(%error, "stopping the node");
        if self.result.is_none() {
            self.result = Some(Err(error));
        }
        self.conclude(ctx);
    }
}

impl Handler<SubsystemStopped> for OverseerActor {
    type Result = ();
    fn handle(&mut self, SubsystemStopped(slot): SubsystemStopped, ctx: &mut Context<Self>) {
        self.running = self.running.saturating_sub(1);
        tracing::debug!(%slot, remaining = self.running, "subsystem stopped");
        if !self.concluding {
            // An actor stopped without Conclude: treat as an exit.
            let implementation = self.implementations.get(&slot).cloned().unwrap_or_default();
            self.result.get_or_insert(Err(OverseerError::SubsystemExited {
                slot,
                implementation,
                reason: "actor stopped".into(),
            }));
            self.conclude(ctx);
        } else if self.running == 0 {
            self.finish(ctx);
        }
    }
}

impl Handler<ForceStop> for OverseerActor {
    type Result = ();
    fn handle(&mut self, _: ForceStop, ctx: &mut Context<Self>) {
        if self.running > 0 {
            tracing::warn!(remaining = self.running, "subsystems did not conclude in time; stopping anyway");
        }
        self.finish(ctx);
    }
}

/// Resolves when the overseer stopped.
type DoneReceiver = tokio::sync::oneshot::Receiver<Result<(), OverseerError>>;

/// A handle to a running overseer: inject messages and signals, stop it, wait
/// for it, read metrics. Cheap to clone.
#[derive(Clone)]
pub struct OverseerHandle {
    overseer: Addr<OverseerActor>,
    routes: Routes,
    signals_sent: Arc<AtomicU64>,
    metrics: MetricsRegistry,
    done: Arc<tokio::sync::Mutex<Option<DoneReceiver>>>,
}

impl OverseerHandle {
    /// Broadcasts a signal to every subsystem.
    pub fn signal(&self, signal: OverseerSignal) {
        self.signals_sent.fetch_add(1, Ordering::SeqCst);
        self.overseer.do_send(Broadcast(signal));
    }

    /// Sends a message to its slot, waiting while the mailbox is full.
    pub async fn send(&self, message: impl Into<AllMessages>) {
        let message = message.into();
        let packet = MessagePacket { sender_signals: self.signals_sent.load(Ordering::SeqCst), message };
        match self.routes.get().and_then(|r| r.get(&packet.message.slot())) {
            Some(Route::Actor(mailbox)) => match mailbox.messages.send(packet).await {
                Ok(()) => {}
                Err(_) => tracing::debug!("target subsystem stopped; message dropped"),
            },
            Some(Route::Capture(tx)) => {
                let _ = tx.send(packet.message);
            }
            None => {}
        }
    }

    /// Asks every subsystem to conclude; the overseer then stops.
    pub fn stop(&self) {
        self.overseer.do_send(Broadcast(OverseerSignal::Conclude));
    }

    /// Waits until the overseer stopped; returns the failure that stopped it, if any.
    pub async fn wait(&self) -> Result<(), OverseerError> {
        let receiver = self.done.lock().await.take();
        match receiver {
            Some(rx) => rx.await.unwrap_or(Err(OverseerError::Stopped)),
            None => Err(OverseerError::Stopped),
        }
    }

    /// The metrics of every subsystem.
    pub fn metrics(&self) -> &MetricsRegistry {
        &self.metrics
    }
}
