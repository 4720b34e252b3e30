//! Scenario files: what to run (subsystems, signals, faults), for how long,
//! and what must hold afterwards.
//!
//! ```toml
//! seed = 7
//! end_ms = 1000
//! on_crash = "stop"            # or "restart" (research mode)
//!
//! [[subsystems]]
//! slot = "sync"
//! implementation = "example-ticker"
//!
//! [[signals]]
//! at_ms = 0
//! kind = "active_leaves"       # "active_leaves" | "finalized" | "conclude"
//! number = 1                   # block number; its hash is `leaf_hash(number)`
//! # deactivate = [0]           # default: the parent, if it is an active leaf
//!
//! [[faults]]
//! kind = "drop"                # "drop" | "delay" | "crash"
//! from = "sync"
//! to = "chain_store"
//! variant = "BestBlock"        # optional
//! nth = 2                      # optional: only the 2nd match; absent = every match
//! # delay_ms = 50              # for kind = "delay"
//! # slot = "chain_store", at_ms = 250   # for kind = "crash"
//!
//! [[expect]]
//! kind = "reply"               # a timeline kind; from/to/detail narrow it
//! to = "sync"
//! at_least = 3                 # or exactly / at_most
//! [[expect]]
//! no_crash = true              # or crashed = "<slot>", or timeline_contains = "<text>"
//! ```

use crate::error::SimError;
use crate::runner::{
    active_leaves_signal, leaf_hash, Fault, MessageFilter, OnCrash, SimOptions, SimReport, Simulation,
    DEFAULT_MAX_STEPS,
};
use crate::timeline::EventKind;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use weft_messages::{BlockNumber, OverseerSignal, SlotId};
use weft_overseer::{dummy_for, AnyFactory, Registry};

/// A signal broadcast at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSignal {
    pub at: Duration,
    pub signal: OverseerSignal,
}

/// How a count is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Exactly(u64),
    AtLeast(u64),
    AtMost(u64),
}

impl Comparison {
    fn holds(self, n: u64) -> bool {
        match self {
            Comparison::Exactly(m) => n == m,
            Comparison::AtLeast(m) => n >= m,
            Comparison::AtMost(m) => n <= m,
        }
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comparison::Exactly(n) => write!(f, "== {n}"),
            Comparison::AtLeast(n) => write!(f, ">= {n}"),
            Comparison::AtMost(n) => write!(f, "<= {n}"),
        }
    }
}

/// Something that must hold after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The number of timeline entries of `kind` (optionally from/to a slot or
    /// `overseer`, optionally with `detail` in their text) compares as given.
    Count { kind: EventKind, from: Option<String>, to: Option<String>, detail: Option<String>, cmp: Comparison },
    /// This slot crashed at least once.
    Crashed(SlotId),
    /// Nothing crashed.
    NoCrash,
    /// Some timeline line contains this text.
    TimelineContains(String),
}

impl Expectation {
    /// Checks the expectation against a report; `Err` says what was found instead.
    pub fn check(&self, report: &SimReport) -> Result<(), String> {
        match self {
            Expectation::Count { kind, from, to, detail, cmp } => {
                let n = report
                    .entries
                    .iter()
                    .filter(|e| e.kind == *kind)
                    .filter(|e| from.is_none() || from.as_deref() == Some(e.from.as_str()))
                    .filter(|e| to.is_none() || to.as_deref() == Some(e.to.as_str()))
                    .filter(|e| contains_if_some(detail.as_deref(), &e.detail))
                    .count() as u64;
                if cmp.holds(n) {
                    Ok(())
                } else {
                    Err(format!("found {n}"))
                }
            }
            Expectation::Crashed(slot) => {
                if report.crashes.iter().any(|c| c.slot == *slot) {
                    Ok(())
                } else if report.crashes.is_empty() {
                    Err("nothing crashed".to_string())
                } else {
                    let crashed: Vec<&str> = report.crashes.iter().map(|c| c.slot.name()).collect();
                    Err(format!("crashed: {}", crashed.join(", ")))
                }
            }
            Expectation::NoCrash => match report.crashes.first() {
                None => Ok(()),
                Some(c) => Err(format!("{} crashed: {}", c.slot, c.reason)),
            },
            Expectation::TimelineContains(text) => {
                if report.timeline.iter().any(|l| l.contains(text.as_str())) {
                    Ok(())
                } else {
                    Err("no such line".to_string())
                }
            }
        }
    }
}

/// `true` when there is no needle or the haystack contains it.
fn contains_if_some(needle: Option<&str>, haystack: &str) -> bool {
    match needle {
        None => true,
        Some(needle) => haystack.contains(needle),
    }
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expectation::Count { kind, from, to, detail, cmp } => {
                write!(f, "count(kind = {kind}")?;
                if let Some(from) = from {
                    write!(f, ", from = {from}")?;
                }
                if let Some(to) = to {
                    write!(f, ", to = {to}")?;
                }
                if let Some(detail) = detail {
                    write!(f, ", detail contains {detail:?}")?;
                }
                write!(f, ") {cmp}")
            }
            Expectation::Crashed(slot) => write!(f, "crashed = {slot}"),
            Expectation::NoCrash => f.write_str("no_crash"),
            Expectation::TimelineContains(text) => write!(f, "timeline_contains = {text:?}"),
        }
    }
}

/// A validated scenario. Build one from TOML with [`Scenario::from_toml_str`]
/// or [`Scenario::load`], or fill the fields in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Where it came from (file path or `<inline>`), for error messages.
    pub origin: String,
    /// Optional name.
    pub name: Option<String>,
    /// Optional one-paragraph description.
    pub description: Option<String>,
    /// Default seed.
    pub seed: u64,
    /// Virtual end time (`None`: until idle).
    pub end: Option<Duration>,
    /// Crash policy.
    pub on_crash: OnCrash,
    /// Step budget.
    pub max_steps: u64,
    /// Slot and implementation name of each subsystem.
    pub subsystems: Vec<(SlotId, String)>,
    /// Signals, sorted by time (stable).
    pub signals: Vec<ScheduledSignal>,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Expectations, checked in order.
    pub expectations: Vec<Expectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    seed: u64,
    #[serde(default)]
    end_ms: Option<u64>,
    #[serde(default)]
    on_crash: OnCrash,
    #[serde(default)]
    max_steps: Option<u64>,
    #[serde(default)]
    subsystems: Vec<RawSubsystem>,
    #[serde(default)]
    signals: Vec<RawSignal>,
    #[serde(default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubsystem {
    slot: String,
    #[serde(default = "dummy_name")]
    implementation: String,
}

fn dummy_name() -> String {
    "dummy".to_string()
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawSignalKind {
    ActiveLeaves,
    Finalized,
    Conclude,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    at_ms: u64,
    kind: RawSignalKind,
    #[serde(default)]
    number: Option<BlockNumber>,
    #[serde(default)]
    deactivate: Option<Vec<BlockNumber>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawFaultKind {
    Drop,
    Delay,
    Crash,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: RawFaultKind,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    nth: Option<u64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    slot: Option<String>,
    #[serde(default)]
    at_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    exactly: Option<u64>,
    #[serde(default)]
    at_least: Option<u64>,
    #[serde(default)]
    at_most: Option<u64>,
    #[serde(default)]
    crashed: Option<String>,
    #[serde(default)]
    no_crash: Option<bool>,
    #[serde(default)]
    timeline_contains: Option<String>,
}

fn slot_names() -> String {
    SlotId::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

fn parse_slot(name: &str, context: &str) -> Result<SlotId, String> {
    SlotId::from_name(name).ok_or_else(|| format!("{context}: unknown slot {name:?} (slots: {})", slot_names()))
}

/// Turns a TOML error into one line: `line L, column C: message`.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

impl Scenario {
    /// Parses and validates a scenario; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, SimError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| SimError::scenario(origin, toml_error(text, &e)))?;
        Self::validate(raw, origin).map_err(|message| SimError::scenario(origin, message))
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, SimError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| SimError::Io { path: origin.clone(), error })?;
        Self::from_toml_str(&text, &origin)
    }

    fn validate(raw: RawScenario, origin: &str) -> Result<Scenario, String> {
        let mut subsystems = Vec::new();
        let mut filled = BTreeSet::new();
        for (i, s) in raw.subsystems.iter().enumerate() {
            let slot = parse_slot(&s.slot, &format!("subsystems[{i}]"))?;
            if !filled.insert(slot) {
                return Err(format!("subsystems[{i}]: slot {slot} is filled twice"));
            }
            subsystems.push((slot, s.implementation.clone()));
        }

        let mut order: Vec<usize> = (0..raw.signals.len()).collect();
        order.sort_by_key(|&i| raw.signals[i].at_ms);
        let mut active = BTreeSet::new();
        let mut signals = Vec::new();
        for i in order {
            let s = &raw.signals[i];
            let context = format!("signals[{i}]");
            let at = Duration::from_millis(s.at_ms);
            let signal = match s.kind {
                RawSignalKind::ActiveLeaves => {
                    let number = s.number.ok_or_else(|| format!("{context}: active_leaves needs a block number"))?;
                    let deactivated: Vec<BlockNumber> = match &s.deactivate {
                        Some(list) => list.clone(),
                        None => number.checked_sub(1).filter(|parent| active.contains(parent)).into_iter().collect(),
                    };
                    for n in &deactivated {
                        active.remove(n);
                    }
                    active.insert(number);
                    active_leaves_signal(number, &deactivated)
                }
                RawSignalKind::Finalized => {
                    if s.deactivate.is_some() {
                        return Err(format!("{context}: deactivate only applies to active_leaves"));
                    }
                    let number = s.number.ok_or_else(|| format!("{context}: finalized needs a block number"))?;
                    OverseerSignal::BlockFinalized(leaf_hash(number), number)
                }
                RawSignalKind::Conclude => {
                    if s.number.is_some() || s.deactivate.is_some() {
                        return Err(format!("{context}: conclude takes no number or deactivate"));
                    }
                    OverseerSignal::Conclude
                }
            };
            signals.push(ScheduledSignal { at, signal });
        }

        let mut faults = Vec::new();
        for (i, f) in raw.faults.iter().enumerate() {
            faults.push(Self::validate_fault(f, &format!("faults[{i}]"), &filled)?);
        }

        let mut expectations = Vec::new();
        for (i, e) in raw.expect.iter().enumerate() {
            expectations.push(Self::validate_expect(e, &format!("expect[{i}]"))?);
        }

        Ok(Scenario {
            origin: origin.to_string(),
            name: raw.name,
            description: raw.description,
            seed: raw.seed,
            end: raw.end_ms.map(Duration::from_millis),
            on_crash: raw.on_crash,
            max_steps: raw.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
            subsystems,
            signals,
            faults,
            expectations,
        })
    }

    fn validate_fault(f: &RawFault, context: &str, filled: &BTreeSet<SlotId>) -> Result<Fault, String> {
        let filter = || -> Result<MessageFilter, String> {
            if f.slot.is_some() || f.at_ms.is_some() {
                return Err(format!("{context}: slot and at_ms only apply to kind = \"crash\""));
            }
            if f.nth == Some(0) {
                return Err(format!("{context}: nth counts from 1"));
            }
            Ok(MessageFilter {
                from: f.from.as_deref().map(|s| parse_slot(s, &format!("{context}.from"))).transpose()?,
                to: f.to.as_deref().map(|s| parse_slot(s, &format!("{context}.to"))).transpose()?,
                variant: f.variant.clone(),
                nth: f.nth,
            })
        };
        match f.kind {
            RawFaultKind::Drop => {
                if f.delay_ms.is_some() {
                    return Err(format!("{context}: delay_ms only applies to kind = \"delay\""));
                }
                Ok(Fault::Drop(filter()?))
            }
            RawFaultKind::Delay => {
                let delay = f.delay_ms.ok_or_else(|| format!("{context}: kind = \"delay\" needs delay_ms"))?;
                Ok(Fault::Delay { filter: filter()?, by: Duration::from_millis(delay) })
            }
            RawFaultKind::Crash => {
                if f.from.is_some() || f.to.is_some() || f.variant.is_some() || f.nth.is_some() || f.delay_ms.is_some()
                {
                    return Err(format!("{context}: kind = \"crash\" takes only slot and at_ms"));
                }
                let name = f.slot.as_deref().ok_or_else(|| format!("{context}: kind = \"crash\" needs slot"))?;
                let slot = parse_slot(name, &format!("{context}.slot"))?;
                if !filled.contains(&slot) {
                    return Err(format!("{context}: slot {slot} to crash is not part of the simulation"));
                }
                let at = f.at_ms.ok_or_else(|| format!("{context}: kind = \"crash\" needs at_ms"))?;
                Ok(Fault::Crash { slot, at: Duration::from_millis(at) })
            }
        }
    }

    fn validate_expect(e: &RawExpect, context: &str) -> Result<Expectation, String> {
        let forms = [e.kind.is_some(), e.crashed.is_some(), e.no_crash.is_some(), e.timeline_contains.is_some()];
        if forms.iter().filter(|f| **f).count() != 1 {
            return Err(format!(
                "{context}: give exactly one of kind (a count), crashed, no_crash or timeline_contains"
            ));
        }
        let count_fields = e.from.is_some()
            || e.to.is_some()
            || e.detail.is_some()
            || e.exactly.is_some()
            || e.at_least.is_some()
            || e.at_most.is_some();
        if e.kind.is_none() && count_fields {
            return Err(format!(
                "{context}: from, to, detail, exactly, at_least and at_most only apply to a count (kind)"
            ));
        }
        if let Some(kind) = &e.kind {
            let kind = EventKind::from_name(kind).ok_or_else(|| {
                let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                format!("{context}: unknown kind {kind:?} (kinds: {})", kinds.join(", "))
            })?;
            let endpoint = |name: &Option<String>, field: &str| -> Result<Option<String>, String> {
                match name.as_deref() {
                    None => Ok(None),
                    Some("overseer") => Ok(Some("overseer".to_string())),
                    Some(n) => parse_slot(n, &format!("{context}.{field}")).map(|s| Some(s.name().to_string())),
                }
            };
            let cmp = match (e.exactly, e.at_least, e.at_most) {
                (Some(n), None, None) => Comparison::Exactly(n),
                (None, Some(n), None) => Comparison::AtLeast(n),
                (None, None, Some(n)) => Comparison::AtMost(n),
                _ => return Err(format!("{context}: a count needs exactly one of exactly, at_least, at_most")),
            };
            return Ok(Expectation::Count {
                kind,
                from: endpoint(&e.from, "from")?,
                to: endpoint(&e.to, "to")?,
                detail: e.detail.clone(),
                cmp,
            });
        }
        if let Some(slot) = &e.crashed {
            return Ok(Expectation::Crashed(parse_slot(slot, &format!("{context}.crashed"))?));
        }
        if let Some(no_crash) = e.no_crash {
            if !no_crash {
                return Err(format!(
                    "{context}: no_crash = false expects nothing; remove it or use crashed = \"<slot>\""
                ));
            }
            return Ok(Expectation::NoCrash);
        }
        match &e.timeline_contains {
            Some(text) => Ok(Expectation::TimelineContains(text.clone())),
            None => Err(format!("{context}: empty expectation")),
        }
    }

    /// The factory for each subsystem: the registry's, or the built-in `dummy`.
    fn factories(&self, registry: &Registry) -> Result<Vec<AnyFactory>, SimError> {
        self.subsystems
            .iter()
            .map(|(slot, name)| {
                if let Some(factory) = registry.get(*slot, name) {
                    return Ok(factory);
                }
                if name == "dummy" {
                    let slot = *slot;
                    let factory: AnyFactory = Arc::new(move || dummy_for(slot));
                    return Ok(factory);
                }
                let mut known = registry.names(*slot);
                if !known.contains(&"dummy") {
                    known.push("dummy");
                }
                Err(SimError::scenario(
                    &self.origin,
                    format!("unknown implementation {name:?} for slot {slot} (known: {})", known.join(", ")),
                ))
            })
            .collect()
    }

    /// Builds the simulation for `seed`, with default options plus the
    /// scenario's end time, crash policy and step budget.
    pub fn build(&self, seed: u64, registry: &Registry) -> Result<Simulation, SimError> {
        let options =
            SimOptions { end: self.end, on_crash: self.on_crash, max_steps: self.max_steps, ..SimOptions::default() };
        self.build_with(seed, registry, options)
    }

    /// Builds the simulation with explicit options (tests).
    pub fn build_with(&self, seed: u64, registry: &Registry, options: SimOptions) -> Result<Simulation, SimError> {
        let mut sim = Simulation::new(seed, options);
        for factory in self.factories(registry)? {
            sim.add_subsystem(factory)?;
        }
        for s in &self.signals {
            sim.schedule_signal(s.at, s.signal.clone());
        }
        for fault in &self.faults {
            sim.add_fault(fault.clone());
        }
        Ok(sim)
    }

    /// Checks every expectation; the error names each failed one and carries
    /// the whole timeline.
    pub fn check(&self, report: &SimReport) -> Result<(), SimError> {
        let failures: Vec<String> = self
            .expectations
            .iter()
            .filter_map(|e| e.check(report).err().map(|found| format!("{e} ({found})")))
            .collect();
        if failures.is_empty() {
            return Ok(());
        }
        let timeline = format!(
            "--- timeline of {} (seed {}, {} lines, hash {}) ---\n{}\n--- end of timeline ---",
            self.origin,
            report.seed,
            report.timeline.len(),
            report.timeline_hash_hex(),
            report.timeline_text()
        );
        Err(SimError::ExpectationFailed {
            expectation: failures.join("; "),
            seed: report.seed,
            timeline,
            report: Box::new(report.clone()),
        })
    }

    /// Runs with the scenario's seed (or `seed_override`) and checks the expectations.
    pub fn run(&self, seed_override: Option<u64>, registry: &Registry) -> Result<SimReport, SimError> {
        let report = self.build(seed_override.unwrap_or(self.seed), registry)?.run()?;
        self.check(&report)?;
        Ok(report)
    }
}

/// Loads a scenario file, runs it (with `seed_override` if given) against the
/// implementations of `registry` (plus the built-in `dummy`), and checks its
/// expectations.
pub fn run_scenario_file(path: &Path, seed_override: Option<u64>, registry: &Registry) -> Result<SimReport, SimError> {
    Scenario::load(path)?.run(seed_override, registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Scenario::from_toml_str(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn bad_input_gives_one_line_errors() {
        let cases = [
            ("seed = ", "invalid scenario t.toml: line 1"),
            ("seed = 1\n[[subsystems]]\nslot = \"nope\"", "unknown slot \"nope\""),
            ("seed = 1\nbogus = 2", "unknown field `bogus`"),
            ("seed = 1\n[[signals]]\nat_ms = 0\nkind = \"active_leaves\"", "needs a block number"),
            ("seed = 1\n[[signals]]\nat_ms = 0\nkind = \"sunrise\"", "unknown variant `sunrise`"),
            ("seed = 1\n[[faults]]\nkind = \"crash\"\nslot = \"sync\"\nat_ms = 1", "not part of the simulation"),
            ("seed = 1\n[[faults]]\nkind = \"delay\"\nfrom = \"sync\"", "needs delay_ms"),
            ("seed = 1\n[[expect]]\nkind = \"replies\"\nexactly = 1", "unknown kind \"replies\""),
            ("seed = 1\n[[expect]]\nkind = \"reply\"", "exactly one of exactly, at_least, at_most"),
            ("seed = 1\n[[expect]]\nno_crash = true\ncrashed = \"sync\"", "exactly one of kind"),
            ("seed = 1\non_crash = \"explode\"", "unknown variant `explode`"),
        ];
        for (text, expected) in cases {
            let message = err(text);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
            assert!(!message.contains('\n'), "multi-line error: {message:?}");
        }
    }

    #[test]
    fn parent_is_deactivated_by_default() {
        let text = "seed = 1\n[[signals]]\nat_ms = 5\nkind = \"active_leaves\"\nnumber = 2\n\
                    [[signals]]\nat_ms = 0\nkind = \"active_leaves\"\nnumber = 1\n";
        let scenario = Scenario::from_toml_str(text, "t").unwrap();
        assert_eq!(scenario.signals[0].signal, active_leaves_signal(1, &[]));
        assert_eq!(scenario.signals[1].signal, active_leaves_signal(2, &[1]));
    }

    #[test]
    fn unknown_implementation_is_reported() {
        let text = "seed = 1\n[[subsystems]]\nslot = \"sync\"\nimplementation = \"fancy\"";
        let scenario = Scenario::from_toml_str(text, "t.toml").unwrap();
        let message = scenario.build(1, &Registry::new()).err().unwrap().to_string();
        assert_eq!(message, "invalid scenario t.toml: unknown implementation \"fancy\" for slot sync (known: dummy)");
    }
}
