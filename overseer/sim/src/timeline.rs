//! The recorded timeline of a run: one deterministic text line per event.
//!
//! A line reads `<time> <kind> <from> -> <to> <detail>`, e.g.
//! `     100ms message      sync -> chain_store BestBlock { reply: Sender { complete: false } }`.
//! Nothing in a line depends on addresses, wall-clock time or hash-map order,
//! so the same scenario and seed give the same text, byte for byte.

use std::fmt;
use std::time::Duration;

/// What a timeline line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A subsystem handled a signal (`from` is `overseer`).
    Signal,
    /// A subsystem emitted a message or request (`from` sender, `to` target).
    Send,
    /// A subsystem handled a message (`from` sender, `to` receiver).
    Message,
    /// A message was held back by the signal-ordering rule until its receiver
    /// catches up with the signals its sender had handled.
    Hold,
    /// A subsystem handled one of its own events (a fired timer or a reply).
    Event,
    /// A subsystem set a timer.
    TimerSet,
    /// A subsystem cancelled a timer.
    TimerCancel,
    /// A timer became due; its event is queued for its owner.
    TimerFired,
    /// A pending reply resolved (answered, or its channel closed).
    Reply,
    /// A message was dropped (fault, or receiver concluded).
    Drop,
    /// A message was delayed by a fault.
    Delay,
    /// A subsystem crashed (panic, `Exit`, or injected fault).
    Crash,
    /// A crashed subsystem was rebuilt from its factory.
    Restart,
    /// A subsystem asked to exit.
    Exit,
    /// The scheduler chose among several runnable actions (`deliver` a
    /// broadcast signal to the subsystem, or `run` its next input); recorded
    /// only when there was a choice, so that interleavings show in the timeline.
    Pick,
    /// A message addressed a slot that is not part of the simulation.
    Unrouted,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [EventKind] = &[
        EventKind::Signal,
        EventKind::Send,
        EventKind::Message,
        EventKind::Hold,
        EventKind::Event,
        EventKind::TimerSet,
        EventKind::TimerCancel,
        EventKind::TimerFired,
        EventKind::Reply,
        EventKind::Drop,
        EventKind::Delay,
        EventKind::Crash,
        EventKind::Restart,
        EventKind::Exit,
        EventKind::Pick,
        EventKind::Unrouted,
    ];

    /// The name used in timeline lines and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Signal => "signal",
            EventKind::Send => "send",
            EventKind::Message => "message",
            EventKind::Hold => "hold",
            EventKind::Event => "event",
            EventKind::TimerSet => "timer-set",
            EventKind::TimerCancel => "timer-cancel",
            EventKind::TimerFired => "timer-fired",
            EventKind::Reply => "reply",
            EventKind::Drop => "drop",
            EventKind::Delay => "delay",
            EventKind::Crash => "crash",
            EventKind::Restart => "restart",
            EventKind::Exit => "exit",
            EventKind::Pick => "pick",
            EventKind::Unrouted => "unrouted",
        }
    }

    /// Looks a kind up by its name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Virtual time of the event.
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
    /// Origin: a slot name, or `overseer` for signals.
    pub from: String,
    /// Destination: a slot name.
    pub to: String,
    /// `Debug` text of the message or signal, or a short description.
    pub detail: String,
}

impl TimelineEntry {
    /// The entry as one line of text.
    pub fn line(&self) -> String {
        let line = format!(
            "{:>10} {:<12} {:>13} -> {:<13} {}",
            format_time(self.at),
            self.kind.name(),
            self.from,
            self.to,
            self.detail
        );
        line.trim_end().to_string()
    }
}

/// Formats a virtual time as milliseconds (`1500ms`, or `2.000500ms` when
/// the time is not a whole number of milliseconds).
pub fn format_time(at: Duration) -> String {
    let sub_ms_nanos = at.subsec_nanos() % 1_000_000;
    if sub_ms_nanos == 0 {
        format!("{}ms", at.as_millis())
    } else {
        format!("{}.{:06}ms", at.as_millis(), sub_ms_nanos)
    }
}

/// blake2-256 of the timeline text: every line followed by `\n`.
pub fn timeline_hash(lines: &[String]) -> [u8; 32] {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    weft_crypto::hashing::blake2_256(text.as_bytes())
}

/// Lowercase hex of a byte string.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(*kind));
        }
        assert_eq!(EventKind::from_name("nonsense"), None);
    }

    #[test]
    fn time_format_is_in_milliseconds() {
        assert_eq!(format_time(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_time(Duration::from_nanos(2_000_500)), "2.000500ms");
    }

    #[test]
    fn line_layout() {
        let entry = TimelineEntry {
            at: Duration::from_millis(5),
            kind: EventKind::Signal,
            from: "overseer".into(),
            to: "sync".into(),
            detail: "Conclude".into(),
        };
        assert_eq!(entry.line(), "       5ms signal            overseer -> sync          Conclude");
        assert_eq!(to_hex(&[0, 0xab]), "00ab");
    }
}
