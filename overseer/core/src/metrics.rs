//! Per-subsystem metrics: mailbox depth, inputs handled, time spent in
//! handlers; rendered in the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft_messages::SlotId;

/// Reads how many messages wait in a mailbox channel.
pub type DepthProbe = Box<dyn Fn() -> usize + Send + Sync>;

/// Counters of one subsystem. The mailbox depth is read from the channel
/// itself, so sending costs no counter update. Inputs handled and handler time
/// have one writer, the subsystem's own actor, which updates them with plain
/// loads and stores (no locked read-modify-write per message).
#[derive(Default)]
pub struct SubsystemMetrics {
    depth_probe: std::sync::OnceLock<DepthProbe>,
    held: AtomicI64,
    messages_handled: AtomicU64,
    signals_handled: AtomicU64,
    events_handled: AtomicU64,
    handler_nanos: AtomicU64,
    restarts: AtomicU64,
    blocked_sends: AtomicU64,
    mailbox_depth_max: AtomicI64,
}

impl std::fmt::Debug for SubsystemMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubsystemMetrics")
            .field("mailbox_depth", &self.mailbox_depth())
            .field("messages_handled", &self.messages_handled())
            .field("signals_handled", &self.signals_handled())
            .finish()
    }
}

impl SubsystemMetrics {
    /// Installs the reader of the mailbox channel's length (once).
    pub fn set_depth_probe(&self, probe: DepthProbe) {
        let _ = self.depth_probe.set(probe);
    }
    /// A sender found this mailbox full at `capacity`.
    pub fn on_full(&self, capacity: usize) {
        self.mailbox_depth_max.fetch_max(capacity as i64, Ordering::Relaxed);
    }
    /// A message was held back until a signal arrives.
    pub fn on_held(&self) {
        self.held.fetch_add(1, Ordering::Relaxed);
    }
    /// A held message was released.
    pub fn on_released(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }
    /// This subsystem had to wait because a target's mailbox was full.
    pub fn on_blocked_send(&self) {
        self.blocked_sends.fetch_add(1, Ordering::Relaxed);
    }
    /// Times this subsystem waited on a full mailbox.
    pub fn blocked_sends(&self) -> u64 {
        self.blocked_sends.load(Ordering::Relaxed)
    }
    /// Highest mailbox depth seen (by senders finding it full, or by readers).
    pub fn mailbox_depth_max(&self) -> i64 {
        let current = self.mailbox_depth();
        self.mailbox_depth_max.fetch_max(current, Ordering::Relaxed).max(current)
    }
    /// A message was handled in `took` (called by the subsystem's actor only).
    pub fn on_message(&self, took: Duration) {
        bump(&self.messages_handled, 1);
        self.add_time(took);
    }
    /// A signal was handled in `took` (called by the subsystem's actor only).
    pub fn on_signal(&self, took: Duration) {
        bump(&self.signals_handled, 1);
        self.add_time(took);
    }
    /// An event (timer or reply) was handled in `took` (called by the subsystem's actor only).
    pub fn on_event(&self, took: Duration) {
        bump(&self.events_handled, 1);
        self.add_time(took);
    }
    /// The subsystem was restarted after a crash.
    pub fn on_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }
    fn add_time(&self, took: Duration) {
        if !took.is_zero() {
            bump(&self.handler_nanos, took.as_nanos().min(u128::from(u64::MAX)) as u64);
        }
    }
    /// Messages waiting in the mailbox, including those held for a signal.
    pub fn mailbox_depth(&self) -> i64 {
        let queued = self.depth_probe.get().map(|probe| probe()).unwrap_or(0) as i64;
        queued + self.held.load(Ordering::Relaxed)
    }
    /// Messages handled so far.
    pub fn messages_handled(&self) -> u64 {
        self.messages_handled.load(Ordering::Relaxed)
    }
    /// Signals handled so far.
    pub fn signals_handled(&self) -> u64 {
        self.signals_handled.load(Ordering::Relaxed)
    }
    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
}

/// Adds to a counter that only one thread writes (readers see a recent value).
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// The metrics of every subsystem of a node.
#[derive(Debug, Clone, Default)]
pub struct MetricsRegistry {
    subsystems: BTreeMap<SlotId, Arc<SubsystemMetrics>>,
}

impl MetricsRegistry {
    /// A registry with an entry for each slot.
    pub fn for_slots(slots: &[SlotId]) -> Self {
        MetricsRegistry { subsystems: slots.iter().map(|s| (*s, Arc::default())).collect() }
    }

    /// The metrics of one slot.
    pub fn get(&self, slot: SlotId) -> Option<Arc<SubsystemMetrics>> {
        self.subsystems.get(&slot).cloned()
    }

    /// Prometheus text format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        type Family = (&'static str, &'static str, &'static str, fn(&SubsystemMetrics) -> f64);
        let families: [Family; 8] = [
            ("weft_subsystem_mailbox_depth", "gauge", "Messages waiting in the subsystem's mailbox.", |m| {
                m.mailbox_depth() as f64
            }),
            ("weft_subsystem_mailbox_depth_max", "gauge", "Highest mailbox depth seen.", |m| {
                m.mailbox_depth_max() as f64
            }),
            ("weft_subsystem_blocked_sends_total", "counter", "Sends that waited on a full mailbox.", |m| {
                m.blocked_sends() as f64
            }),
            ("weft_subsystem_messages_handled_total", "counter", "Messages handled.", |m| m.messages_handled() as f64),
            ("weft_subsystem_signals_handled_total", "counter", "Signals handled.", |m| m.signals_handled() as f64),
            ("weft_subsystem_events_handled_total", "counter", "Timer and reply events handled.", |m| {
                m.events_handled.load(Ordering::Relaxed) as f64
            }),
            ("weft_subsystem_handler_seconds_total", "counter", "Time spent in the subsystem's handlers.", |m| {
                m.handler_nanos.load(Ordering::Relaxed) as f64 / 1e9
            }),
            ("weft_subsystem_restarts_total", "counter", "Restarts after a crash (research mode).", |m| {
                m.restarts() as f64
            }),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (slot, metrics) in &self.subsystems {
                let _ = writeln!(out, "{name}{{subsystem=\"{}\"}} {}", slot.name(), value(metrics));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let registry = MetricsRegistry::for_slots(&[SlotId::Sync, SlotId::ChainStore]);
        let sync = registry.get(SlotId::Sync).unwrap();
        sync.set_depth_probe(Box::new(|| 1));
        sync.on_message(Duration::from_millis(5));
        let text = registry.render_prometheus();
        assert!(text.contains("weft_subsystem_mailbox_depth{subsystem=\"sync\"} 1\n"), "{text}");
        assert!(text.contains("weft_subsystem_messages_handled_total{subsystem=\"sync\"} 1\n"));
        assert!(text.contains("weft_subsystem_handler_seconds_total{subsystem=\"sync\"} 0.005\n"));
        assert!(text.contains("# TYPE weft_subsystem_mailbox_depth gauge\n"));
    }
}
