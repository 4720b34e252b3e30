//! Ready-made slot fillers: [`Dummy`] drops everything; [`Intercepted`] wraps a
//! real subsystem and filters or rewrites its traffic (the way adversarial and
//! fault-injecting test nodes are built).

use crate::subsystem::{BoxedSubsystem, Context, DynSubsystem, Effect, Input, RawContext, Subsystem};
use std::marker::PhantomData;
use weft_messages::{OverseerSignal, Slot};

/// Fills a slot with nothing: logs each input and drops it. Requests sent to a
/// dummy see their reply channel closed.
pub struct Dummy<Sl: Slot>(PhantomData<fn() -> Sl>);

impl<Sl: Slot> Default for Dummy<Sl> {
    fn default() -> Self {
        Dummy(PhantomData)
    }
}

impl<Sl: Slot> Dummy<Sl> {
    /// A new dummy.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<Sl: Slot> Subsystem for Dummy<Sl> {
    type Slot = Sl;
    type Event = ();

    fn implementation(&self) -> &str {
        "dummy"
    }

    fn on_signal(&mut self, signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {
        tracing::debug!(slot = %Sl::ID, ?signal, "dummy subsystem: signal ignored");
    }

    fn on_message(&mut self, message: Sl::Message, _ctx: &mut Context<'_, '_, Self>) {
        tracing::debug!(slot = %Sl::ID, ?message, "dummy subsystem: message dropped");
    }
}

/// Rewrites the traffic of a wrapped subsystem. Returning `None` drops the
/// message; a dropped request closes its reply channel.
pub trait Interceptor<Sl: Slot>: Send + 'static {
    /// A message on its way into the wrapped subsystem.
    fn incoming(&mut self, message: Sl::Message) -> Option<Sl::Message> {
        Some(message)
    }
    /// A message the wrapped subsystem sends.
    fn outgoing(&mut self, message: Sl::Outgoing) -> Option<Sl::Outgoing> {
        Some(message)
    }
}

/// An interceptor from two closures.
pub struct FnInterceptor<I, O> {
    pub incoming: I,
    pub outgoing: O,
}

impl<Sl, I, O> Interceptor<Sl> for FnInterceptor<I, O>
where
    Sl: Slot,
    I: FnMut(Sl::Message) -> Option<Sl::Message> + Send + 'static,
    O: FnMut(Sl::Outgoing) -> Option<Sl::Outgoing> + Send + 'static,
{
    fn incoming(&mut self, message: Sl::Message) -> Option<Sl::Message> {
        (self.incoming)(message)
    }
    fn outgoing(&mut self, message: Sl::Outgoing) -> Option<Sl::Outgoing> {
        (self.outgoing)(message)
    }
}

/// A real subsystem whose traffic passes through an [`Interceptor`].
pub struct Intercepted<Sl: Slot, F> {
    inner: BoxedSubsystem<Sl>,
    interceptor: F,
    name: String,
}

impl<Sl: Slot, F: Interceptor<Sl>> Intercepted<Sl, F> {
    /// Wraps `inner`.
    pub fn new(inner: BoxedSubsystem<Sl>, interceptor: F) -> Self {
        let name = format!("intercepted({})", inner.implementation());
        Intercepted { inner, interceptor, name }
    }
}

impl<Sl: Slot, F: Interceptor<Sl>> DynSubsystem<Sl> for Intercepted<Sl, F> {
    fn implementation(&self) -> &str {
        &self.name
    }

    fn handle(&mut self, input: Input<Sl::Message>, ctx: &mut RawContext<'_, Sl::Outgoing>) {
        let input = match input {
            Input::Message(m) => match self.interceptor.incoming(m) {
                Some(m) => Input::Message(m),
                None => return,
            },
            other => other,
        };
        let first_new = ctx.effects_mut().len();
        self.inner.handle(input, ctx);
        let produced: Vec<_> = ctx.effects_mut().drain(first_new..).collect();
        for effect in produced {
            let kept = match effect {
                Effect::Send(m) => self.interceptor.outgoing(m).map(Effect::Send),
                Effect::Request { message, reply } => {
                    self.interceptor.outgoing(message).map(|message| Effect::Request { message, reply })
                }
                other => Some(other),
            };
            if let Some(effect) = kept {
                ctx.push(effect);
            }
        }
    }
}
