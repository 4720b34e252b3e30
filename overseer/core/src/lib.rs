//! Weft's overseer: the frame every subsystem runs in.
//!
//! * [`subsystem`]: the [`Subsystem`] state-machine contract, its [`Context`]
//!   (time, randomness, effects) and the signal-ordering rule.
//! * [`erased`]: [`AnySubsystem`] (any slot behind one type) and the [`Registry`]
//!   of named implementations.
//! * [`actor`]: the actix shell around one subsystem (bounded mailbox, ordering,
//!   effects, failure reports).
//! * [`overseer`]: the builder (`replace_<slot>`, config selection), the
//!   supervising actor and the [`OverseerHandle`].
//! * [`metrics`]: per-subsystem metrics in Prometheus text format.
//! * [`testing`]: a harness running one subsystem alone.
//! * [`wrappers`]: [`Dummy`] and [`Intercepted`] slot fillers.
//!
//! Subsystem logic never sees actix, a clock or a socket; the actix shell and
//! the simulation runner (`weft-sim`) drive the same state machines.

pub mod actor;
pub mod erased;
pub mod metrics;
pub mod overseer;
pub mod subsystem;
pub mod testing;
pub mod wrappers;

pub use erased::{dummy_for, erase, erase_dyn, AnyFactory, AnySubsystem, Factory, Registry};
pub use metrics::{MetricsRegistry, SubsystemMetrics};
pub use overseer::{OverseerBuilder, OverseerError, OverseerHandle, SlotSettings};
pub use subsystem::{
    BoxedEvent, BoxedSubsystem, Clock, Context, DynSubsystem, Effect, Input, PendingReply, RawContext, SignalOrdering,
    Subsystem, TimerId,
};
pub use weft_messages as messages;
pub use wrappers::{Dummy, FnInterceptor, Intercepted, Interceptor};
