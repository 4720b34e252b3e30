//! The subsystem contract: a state machine fed with signals, messages and its
//! own events (timers firing, replies arriving), which answers with effects.
//!
//! A subsystem never touches a clock, a socket or a global RNG: it reads time
//! and randomness from its [`Context`], and everything it wants done (send a
//! message, make a request, set a timer, exit) is recorded as an [`Effect`].
//! The actix shell ([`crate::actor`]) and the simulation runner (`weft-sim`)
//! both drive the same state machines; only they decide what time it is.

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::RngCore;
use std::any::Any;
use std::marker::PhantomData;
use std::time::Duration;
use weft_messages::{OverseerSignal, Slot};

/// An event a subsystem scheduled for itself, type-erased for transport.
pub type BoxedEvent = Box<dyn Any + Send>;

/// A reply being awaited; resolves to the requester's event.
pub type PendingReply = BoxFuture<'static, BoxedEvent>;

/// Identifies a timer set by a subsystem, unique within that subsystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// What a subsystem asked for while handling one input.
pub enum Effect<O> {
    /// Send a message to another slot.
    Send(O),
    /// Send a request and deliver its reply, mapped to an event, back to the sender.
    Request { message: O, reply: PendingReply },
    /// Deliver `event` back after `after` (virtual or real time).
    SetTimer { id: TimerId, after: Duration, event: BoxedEvent },
    /// Cancel a timer that has not fired.
    CancelTimer(TimerId),
    /// The subsystem stops: the node goes down (or restarts it in research mode).
    Exit(String),
}

impl<O: std::fmt::Debug> std::fmt::Debug for Effect<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Send(m) => f.debug_tuple("Send").field(m).finish(),
            Effect::Request { message, .. } => f.debug_tuple("Request").field(message).finish(),
            Effect::SetTimer { id, after, .. } => {
                f.debug_struct("SetTimer").field("id", id).field("after", after).finish()
            }
            Effect::CancelTimer(id) => f.debug_tuple("CancelTimer").field(id).finish(),
            Effect::Exit(reason) => f.debug_tuple("Exit").field(reason).finish(),
        }
    }
}

/// The time source of a driver: real time since start, or virtual time.
pub trait Clock {
    /// Time since the node or simulation started.
    fn now(&self) -> Duration;
}

/// A fixed instant (simulations, tests).
impl Clock for Duration {
    fn now(&self) -> Duration {
        *self
    }
}

/// Everything a handler may read (time, randomness) and the effects it produced.
/// Time is read from the driver's clock only when a handler asks for it.
pub struct RawContext<'a, O> {
    clock: &'a dyn Clock,
    rng: &'a mut dyn RngCore,
    next_timer: &'a mut u64,
    effects: Vec<Effect<O>>,
}

impl<'a, O> RawContext<'a, O> {
    /// A context reading time from `clock` (e.g. `&Duration` for a fixed instant).
    pub fn new(clock: &'a dyn Clock, rng: &'a mut dyn RngCore, next_timer: &'a mut u64) -> Self {
        Self::with_buffer(clock, rng, next_timer, Vec::new())
    }

    /// A context that records effects into `buffer` (cleared first), so a
    /// driver can reuse one allocation across inputs.
    pub fn with_buffer(
        clock: &'a dyn Clock,
        rng: &'a mut dyn RngCore,
        next_timer: &'a mut u64,
        mut buffer: Vec<Effect<O>>,
    ) -> Self {
        buffer.clear();
        RawContext { clock, rng, next_timer, effects: buffer }
    }

    /// The effects recorded so far, in order.
    pub fn into_effects(self) -> Vec<Effect<O>> {
        self.effects
    }

    /// The effects recorded so far, for wrappers that filter or rewrite them.
    pub fn effects_mut(&mut self) -> &mut Vec<Effect<O>> {
        &mut self.effects
    }

    /// Records an effect directly (used by wrappers such as `Intercepted`).
    pub fn push(&mut self, effect: Effect<O>) {
        self.effects.push(effect);
    }

    /// Current time.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Randomness supplied by the driver (seeded in simulations).
    pub fn rng(&mut self) -> &mut dyn RngCore {
        &mut *self.rng
    }

    fn next_timer_id(&mut self) -> TimerId {
        *self.next_timer += 1;
        TimerId(*self.next_timer)
    }

    /// A context that shares time, RNG and timer ids with `self` but collects
    /// effects of another outgoing type (for wrappers that rewrite traffic).
    pub fn reborrow<P>(&mut self) -> RawContext<'_, P> {
        RawContext { clock: self.clock, rng: &mut *self.rng, next_timer: &mut *self.next_timer, effects: Vec::new() }
    }
}

/// The typed context handed to a [`Subsystem`]'s handlers.
pub struct Context<'r, 'a, S: Subsystem + ?Sized> {
    raw: &'r mut RawContext<'a, <S::Slot as Slot>::Outgoing>,
    _subsystem: PhantomData<fn(&S)>,
}

impl<'r, 'a, S: Subsystem + ?Sized> Context<'r, 'a, S> {
    /// Wraps a raw context.
    pub fn new(raw: &'r mut RawContext<'a, <S::Slot as Slot>::Outgoing>) -> Self {
        Context { raw, _subsystem: PhantomData }
    }

    /// Current time since start.
    pub fn now(&self) -> Duration {
        self.raw.now()
    }

    /// The driver's randomness.
    pub fn rng(&mut self) -> &mut dyn RngCore {
        self.raw.rng()
    }

    /// Sends a message to a slot this subsystem declared as a target.
    pub fn send(&mut self, message: impl Into<<S::Slot as Slot>::Outgoing>) {
        self.raw.effects.push(Effect::Send(message.into()));
    }

    /// Sends a request whose variant carries a reply channel; when the reply
    /// arrives (or the responder drops the channel) `on_reply` maps it to an
    /// event delivered to [`Subsystem::on_event`].
    pub fn request<T, R>(
        &mut self,
        make: impl FnOnce(oneshot::Sender<T>) -> R,
        on_reply: impl FnOnce(Result<T, oneshot::Canceled>) -> S::Event + Send + 'static,
    ) where
        T: Send + 'static,
        R: Into<<S::Slot as Slot>::Outgoing>,
    {
        let (tx, rx) = oneshot::channel();
        let message = make(tx).into();
        let reply = rx.map(move |r| Box::new(on_reply(r)) as BoxedEvent).boxed();
        self.raw.effects.push(Effect::Request { message, reply });
    }

    /// Schedules `event` after `after`.
    pub fn set_timer(&mut self, after: Duration, event: S::Event) -> TimerId {
        let id = self.raw.next_timer_id();
        self.raw.effects.push(Effect::SetTimer { id, after, event: Box::new(event) });
        id
    }

    /// Cancels a timer.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.raw.effects.push(Effect::CancelTimer(id));
    }

    /// Stops the subsystem (and with it the node, unless restarts are enabled).
    pub fn exit(&mut self, reason: impl Into<String>) {
        self.raw.effects.push(Effect::Exit(reason.into()));
    }
}

/// A subsystem: the state machine that fills one slot.
pub trait Subsystem: Send + 'static {
    /// The slot it fills: fixes what it consumes and what it may send.
    type Slot: Slot;
    /// Events it schedules for itself (timers, replies).
    type Event: Send + 'static;

    /// Name of this implementation (`"default"`, `"dummy"`, ...), for logs.
    fn implementation(&self) -> &str;

    /// Handles a signal. `Conclude` is the last input a subsystem sees.
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>);

    /// Handles a message addressed to the slot.
    fn on_message(&mut self, message: <Self::Slot as Slot>::Message, ctx: &mut Context<'_, '_, Self>);

    /// Handles one of its own events (a timer fired or a reply arrived).
    fn on_event(&mut self, event: Self::Event, ctx: &mut Context<'_, '_, Self>) {
        let _ = (event, ctx);
    }
}

/// One input to a subsystem.
pub enum Input<M> {
    Signal(OverseerSignal),
    Message(M),
    Event(BoxedEvent),
}

impl<M: std::fmt::Debug> std::fmt::Debug for Input<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Signal(s) => f.debug_tuple("Signal").field(s).finish(),
            Input::Message(m) => f.debug_tuple("Message").field(m).finish(),
            Input::Event(_) => f.write_str("Event"),
        }
    }
}

/// A subsystem with its event type erased, so that different implementations
/// of one slot can fill it interchangeably.
pub trait DynSubsystem<Sl: Slot>: Send {
    /// Name of the implementation.
    fn implementation(&self) -> &str;
    /// Handles one input, recording effects in `ctx`.
    fn handle(&mut self, input: Input<Sl::Message>, ctx: &mut RawContext<'_, Sl::Outgoing>);
}

impl<S: Subsystem> DynSubsystem<S::Slot> for S {
    fn implementation(&self) -> &str {
        Subsystem::implementation(self)
    }

    fn handle(
        &mut self,
        input: Input<<S::Slot as Slot>::Message>,
        raw: &mut RawContext<'_, <S::Slot as Slot>::Outgoing>,
    ) {
        let mut ctx = Context::<S>::new(raw);
        match input {
            Input::Signal(signal) => self.on_signal(&signal, &mut ctx),
            Input::Message(message) => self.on_message(message, &mut ctx),
            Input::Event(event) => match event.downcast::<S::Event>() {
                Ok(event) => self.on_event(*event, &mut ctx),
                Err(_) => tracing::error!(subsystem = %S::Slot::ID, "event of a foreign type dropped"),
            },
        }
    }
}

/// A boxed subsystem for slot `Sl`.
pub type BoxedSubsystem<Sl> = Box<dyn DynSubsystem<Sl>>;

impl<Sl: Slot> DynSubsystem<Sl> for BoxedSubsystem<Sl> {
    fn implementation(&self) -> &str {
        (**self).implementation()
    }
    fn handle(&mut self, input: Input<Sl::Message>, ctx: &mut RawContext<'_, Sl::Outgoing>) {
        (**self).handle(input, ctx)
    }
}

/// Buffers messages that arrive before the signal their sender had seen.
///
/// Every message carries the number of signals its sender had handled when it
/// sent it. A receiver that has handled fewer holds the message back until it
/// catches up, which gives the guarantee: a message sent after its sender saw
/// signal *N* is never handled before the receiver has handled signal *N*.
#[derive(Debug)]
pub struct SignalOrdering<M> {
    signals_handled: u64,
    held: std::collections::VecDeque<(u64, M)>,
}

impl<M> Default for SignalOrdering<M> {
    fn default() -> Self {
        SignalOrdering { signals_handled: 0, held: Default::default() }
    }
}

impl<M> SignalOrdering<M> {
    /// Signals handled so far.
    pub fn signals_handled(&self) -> u64 {
        self.signals_handled
    }

    /// Messages currently held back.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Offers a message tagged with its sender's signal count: returns it if it
    /// may be handled now, or holds it.
    pub fn offer(&mut self, sender_signals: u64, message: M) -> Option<M> {
        if sender_signals <= self.signals_handled {
            Some(message)
        } else {
            self.held.push_back((sender_signals, message));
            None
        }
    }

    /// Records that one more signal was handled; returns the held messages that
    /// became deliverable, in arrival order.
    pub fn signal_handled(&mut self) -> Vec<M> {
        self.signals_handled += 1;
        let mut ready = Vec::new();
        let mut still_held = std::collections::VecDeque::new();
        for (tag, m) in self.held.drain(..) {
            if tag <= self.signals_handled {
                ready.push(m);
            } else {
                still_held.push_back((tag, m));
            }
        }
        self.held = still_held;
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_holds_messages_until_signal() {
        let mut q = SignalOrdering::default();
        assert_eq!(q.offer(0, "a"), Some("a"));
        assert_eq!(q.offer(1, "b"), None);
        assert_eq!(q.offer(2, "c"), None);
        assert_eq!(q.signal_handled(), vec!["b"]);
        assert_eq!(q.held(), 1);
        assert_eq!(q.signal_handled(), vec!["c"]);
        assert_eq!(q.offer(2, "d"), Some("d"));
    }
}
