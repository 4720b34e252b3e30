//! Subsystems of any slot behind one type, and the registry of named
//! implementations.
//!
//! Compile-time checks happen where messages are produced (a subsystem can only
//! build its slot's narrow outgoing type); past that point the runtime moves
//! [`AllMessages`] around, so drivers (the actix shell, the simulation runner)
//! handle every slot with one code path through [`AnySubsystem`].

use crate::subsystem::{BoxedSubsystem, Clock, DynSubsystem, Effect, Input, RawContext};
use rand::RngCore;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_messages::{AllMessages, Slot, SlotId};

/// A subsystem of some slot, taking and producing [`AllMessages`].
pub trait AnySubsystem: Send {
    /// The slot it fills.
    fn slot(&self) -> SlotId;
    /// The implementation's name.
    fn implementation(&self) -> &str;
    /// Handles one input, appending its effects to `effects`. A message
    /// addressed to another slot is dropped with an error log.
    fn handle_into(
        &mut self,
        input: Input<AllMessages>,
        clock: &dyn Clock,
        rng: &mut dyn RngCore,
        next_timer: &mut u64,
        effects: &mut Vec<Effect<AllMessages>>,
    );

    /// Handles one input and returns its effects.
    fn handle(
        &mut self,
        input: Input<AllMessages>,
        clock: &dyn Clock,
        rng: &mut dyn RngCore,
        next_timer: &mut u64,
    ) -> Vec<Effect<AllMessages>> {
        let mut effects = Vec::new();
        self.handle_into(input, clock, rng, next_timer, &mut effects);
        effects
    }
}

/// A slot's subsystem behind [`AnySubsystem`], with a reusable buffer for the
/// effects it records in its slot's outgoing type.
struct SlotAdapter<Sl: Slot> {
    subsystem: BoxedSubsystem<Sl>,
    scratch: Vec<Effect<Sl::Outgoing>>,
}

/// A reusable effect buffer above this many entries is released after use
/// instead of kept (a burst should not pin its memory).
pub(crate) const MAX_KEPT_EFFECTS: usize = 16 * 1024;

impl<Sl: Slot> AnySubsystem for SlotAdapter<Sl> {
    fn slot(&self) -> SlotId {
        Sl::ID
    }

    fn implementation(&self) -> &str {
        self.subsystem.implementation()
    }

    fn handle_into(
        &mut self,
        input: Input<AllMessages>,
        clock: &dyn Clock,
        rng: &mut dyn RngCore,
        next_timer: &mut u64,
        effects: &mut Vec<Effect<AllMessages>>,
    ) {
        let input = match input {
            Input::Message(all) => match Sl::Message::try_from(all) {
                Ok(m) => Input::Message(m),
                Err(other) => {
                    tracing::error!(slot = %Sl::ID, to = %other.slot(), "misrouted message dropped");
                    return;
                }
            },
            Input::Signal(s) => Input::Signal(s),
            Input::Event(e) => Input::Event(e),
        };
        let scratch = std::mem::take(&mut self.scratch);
        let mut ctx = RawContext::<Sl::Outgoing>::with_buffer(clock, rng, next_timer, scratch);
        self.subsystem.handle(input, &mut ctx);
        let mut recorded = ctx.into_effects();
        effects.extend(recorded.drain(..).map(|e| match e {
            Effect::Send(o) => Effect::Send(o.into()),
            Effect::Request { message, reply } => Effect::Request { message: message.into(), reply },
            Effect::SetTimer { id, after, event } => Effect::SetTimer { id, after, event },
            Effect::CancelTimer(id) => Effect::CancelTimer(id),
            Effect::Exit(reason) => Effect::Exit(reason),
        }));
        if recorded.capacity() <= MAX_KEPT_EFFECTS {
            self.scratch = recorded;
        }
    }
}

/// Erases a slot's subsystem.
pub fn erase<Sl: Slot>(subsystem: BoxedSubsystem<Sl>) -> Box<dyn AnySubsystem> {
    Box::new(SlotAdapter { subsystem, scratch: Vec::new() })
}

/// Erases any concrete subsystem implementation.
pub fn erase_dyn<Sl: Slot, S: DynSubsystem<Sl> + 'static>(subsystem: S) -> Box<dyn AnySubsystem> {
    erase::<Sl>(Box::new(subsystem))
}

/// Builds a fresh instance of a slot's subsystem (also used to restart it).
pub type Factory<Sl> = Arc<dyn Fn() -> BoxedSubsystem<Sl> + Send + Sync>;

/// Builds a fresh erased subsystem.
pub type AnyFactory = Arc<dyn Fn() -> Box<dyn AnySubsystem> + Send + Sync>;

struct RegistryEntry {
    /// A `Factory<Sl>` for the entry's slot, behind `Any`.
    typed: Arc<dyn std::any::Any + Send + Sync>,
    erased: AnyFactory,
}

/// Named implementations per slot, from which config files choose.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<(SlotId, String), Arc<RegistryEntry>>,
}

impl Registry {
    /// An empty registry. `"dummy"` is always available without registering.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` as an implementation of slot `Sl`.
    pub fn register<Sl: Slot>(&mut self, name: &str, factory: impl Fn() -> BoxedSubsystem<Sl> + Send + Sync + 'static) {
        let typed: Factory<Sl> = Arc::new(factory);
        let for_erased = typed.clone();
        let erased: AnyFactory = Arc::new(move || erase::<Sl>(for_erased()));
        self.factories.insert((Sl::ID, name.to_string()), Arc::new(RegistryEntry { typed: Arc::new(typed), erased }));
    }

    /// The factory registered for `slot` under `name`, erased.
    pub fn get(&self, slot: SlotId, name: &str) -> Option<AnyFactory> {
        if name == "dummy" && !self.factories.contains_key(&(slot, name.to_string())) {
            return Some(Arc::new(move || dummy_for(slot)));
        }
        self.factories.get(&(slot, name.to_string())).map(|e| e.erased.clone())
    }

    /// The factory registered for slot `Sl` under `name`, typed.
    pub fn get_typed<Sl: Slot>(&self, name: &str) -> Option<Factory<Sl>> {
        if name == "dummy" && !self.factories.contains_key(&(Sl::ID, name.to_string())) {
            return Some(Arc::new(|| Box::new(crate::Dummy::<Sl>::new())));
        }
        self.factories.get(&(Sl::ID, name.to_string())).and_then(|e| e.typed.downcast_ref::<Factory<Sl>>().cloned())
    }

    /// Names registered for a slot (`dummy` is always available too).
    pub fn names(&self, slot: SlotId) -> Vec<&str> {
        self.factories.keys().filter(|(s, _)| *s == slot).map(|(_, n)| n.as_str()).collect()
    }

    /// Adds every entry of `other` (its entries win on a name clash).
    pub fn extend(&mut self, other: &Registry) {
        for (k, v) in &other.factories {
            self.factories.insert(k.clone(), v.clone());
        }
    }
}

/// Builds a `Dummy` for any slot id.
pub fn dummy_for(slot: SlotId) -> Box<dyn AnySubsystem> {
    macro_rules! dummy_match {
        ($( ($variant:ident, $snake:ident, $replace:ident, $marker:ident, $msg:ident, $out:ident, $desc:literal)
            sends [ $( $tvariant:ident : $tmsg:ident ),* ] ; )*) => {
            match slot {
                $( SlotId::$variant => erase::<weft_messages::$marker>(Box::new(crate::Dummy::<weft_messages::$marker>::new())), )*
            }
        };
    }
    weft_messages::with_slots!(dummy_match)
}
