//! Runs one subsystem alone for tests: inject signals and messages, receive
//! what it sends (with timeouts) and the failures it reports.
//!
//! The subsystem runs in the real actix shell; every slot it sends to is a
//! capture channel. Use inside a running actix system (`#[actix::test]`).

use crate::actor::{
    ActorSettings, Mailbox, MessagePacket, Route, RouteTable, Routes, SubsystemActor, SubsystemFailure,
};
use crate::erased::{erase, AnyFactory};
use crate::metrics::SubsystemMetrics;
use crate::subsystem::BoxedSubsystem;
use actix::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use weft_messages::{AllMessages, OverseerSignal, Slot, SlotId};

struct FailureSink(UnboundedSender<SubsystemFailure>);

impl Actor for FailureSink {
    type Context = Context<Self>;
}

impl Handler<SubsystemFailure> for FailureSink {
    type Result = ();
    fn handle(&mut self, failure: SubsystemFailure, _ctx: &mut Context<Self>) {
        let _ = self.0.send(failure);
    }
}

/// A subsystem under test and the channels around it.
pub struct TestHarness<Sl: Slot> {
    mailbox: Mailbox,
    outgoing: UnboundedReceiver<AllMessages>,
    failures: UnboundedReceiver<SubsystemFailure>,
    signals_sent: u64,
    metrics: Arc<SubsystemMetrics>,
    _slot: std::marker::PhantomData<fn() -> Sl>,
}

impl<Sl: Slot> TestHarness<Sl> {
    /// Starts `subsystem` with a mailbox of `mailbox` messages.
    pub fn start(subsystem: BoxedSubsystem<Sl>, capacity: usize) -> Self {
        // The factory hands out the given instance once, then dummies on restart.
        let instance = Arc::new(Mutex::new(Some(subsystem)));
        let factory: AnyFactory = Arc::new(move || {
            let taken = instance.lock().ok().and_then(|mut slot| slot.take());
            erase::<Sl>(taken.unwrap_or_else(|| Box::new(crate::Dummy::<Sl>::new())))
        });
        let (out_tx, outgoing) = unbounded_channel();
        let (fail_tx, failures) = unbounded_channel();
        let routes: Routes = Arc::new(std::sync::OnceLock::new());
        let _ = routes.set(SlotId::ALL.iter().map(|s| (*s, Route::Capture(out_tx.clone()))).collect::<RouteTable>());
        let sink = FailureSink(fail_tx).start();
        let metrics = Arc::new(SubsystemMetrics::default());
        let settings =
            ActorSettings { mailbox: capacity, stall_timeout: Duration::from_secs(10), restart_on_crash: false };
        let (mailbox, receivers) = crate::actor::mailbox(capacity, metrics.clone());
        SubsystemActor::new(factory, settings, routes, sink.recipient(), None, metrics.clone(), receivers).start();
        TestHarness { mailbox, outgoing, failures, signals_sent: 0, metrics, _slot: std::marker::PhantomData }
    }

    /// Delivers a signal.
    pub fn signal(&mut self, signal: OverseerSignal) {
        self.signals_sent += 1;
        let _ = self.mailbox.send_signal(signal);
    }

    /// Delivers a message, as if sent by someone who saw every signal so far.
    pub async fn send(&self, message: Sl::Message) {
        let packet = MessagePacket { sender_signals: self.signals_sent, message: message.into() };
        let _ = self.mailbox.messages.send(packet).await;
    }

    /// The next message the subsystem sent, or `None` after `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<AllMessages> {
        tokio::time::timeout(timeout, self.outgoing.recv()).await.ok().flatten()
    }

    /// The next failure the subsystem reported, or `None` after `timeout`.
    pub async fn failure(&mut self, timeout: Duration) -> Option<SubsystemFailure> {
        tokio::time::timeout(timeout, self.failures.recv()).await.ok().flatten()
    }

    /// The subsystem's metrics.
    pub fn metrics(&self) -> &SubsystemMetrics {
        &self.metrics
    }
}
