//! Determinism, scenario files, faults, crash policies and the
//! signal-before-message guarantee of the simulation runner.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_messages::{
    BabeSlot, ChainStoreMessage, ChainStoreSlot, GrandpaSlot, Hash, OverseerSignal, Slot, SlotId, SyncSlot,
};
use weft_overseer::{erase, AnyFactory, BoxedSubsystem, Context, Registry, Subsystem};
use weft_sim::examples::{ExampleStore, ExampleTicker, TickerStats};
use weft_sim::{
    active_leaves_signal, example_registry, run_scenario_file, EventKind, Expectation, Fault, MessageFilter, OnCrash,
    Scenario, SimError, SimOptions, SimReport, Simulation, StopReason,
};

fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../integration-tests/scenarios").join(name)
}

fn ticker_store(seed: Option<u64>) -> SimReport {
    match run_scenario_file(&scenario_path("ticker-store.toml"), seed, &example_registry()) {
        Ok(report) => report,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn same_seed_gives_the_same_timeline_byte_for_byte() {
    let a = ticker_store(None);
    let b = ticker_store(Some(7));
    assert_eq!(a.seed, 7);
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.timeline_hash, b.timeline_hash);
    assert_eq!(a.steps, b.steps);
    println!("{}\ntimeline {}", a.summary(), a.timeline_hash_hex());
}

#[test]
fn different_seeds_give_different_timelines() {
    let seven = ticker_store(Some(7));
    let eight = ticker_store(Some(8));
    println!("seed 7: timeline {}\nseed 8: timeline {}", seven.timeline_hash_hex(), eight.timeline_hash_hex());
    assert_ne!(seven.timeline_hash, eight.timeline_hash);
}

#[test]
fn ticker_store_expectations_hold_for_many_seeds() {
    let scenario = Scenario::load(&scenario_path("ticker-store.toml")).unwrap();
    let registry = example_registry();
    for seed in 0..200 {
        if let Err(e) = scenario.run(Some(seed), &registry) {
            panic!("seed {seed}: {e}");
        }
    }
}

#[test]
fn the_dropped_request_arrives_as_canceled() {
    let scenario = Scenario::load(&scenario_path("ticker-store.toml")).unwrap();
    let stats = Arc::new(Mutex::new(TickerStats::default()));
    let mut registry = example_registry();
    let shared = stats.clone();
    registry.register::<SyncSlot>("counting-ticker", move || -> BoxedSubsystem<SyncSlot> {
        Box::new(ExampleTicker::with_stats(shared.clone()))
    });
    let mut scenario = scenario.clone();
    scenario.subsystems[0].1 = "counting-ticker".into();
    let report = scenario.run(None, &registry).unwrap();
    let stats = stats.lock().unwrap().clone();
    assert_eq!(stats.canceled, 1, "{stats:?}");
    assert_eq!(stats.headers, 4, "{stats:?}");
    assert_eq!(stats.replies + 1, stats.ticks, "{stats:?}");
    assert_eq!(report.count(EventKind::Drop, Some("sync"), Some("chain_store")), 1);
}

#[test]
fn crash_restart_scenario_restarts_and_replays() {
    let report = run_scenario_file(&scenario_path("crash-restart.toml"), None, &example_registry())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.restarts, 1);
    assert_eq!(report.crashes.len(), 1);
    assert_eq!(report.crashes[0].slot, SlotId::ChainStore);
    assert_eq!(report.crashes[0].reason, "injected crash fault");
    assert_eq!(report.stop, StopReason::Idle);
    let restart = report.timeline.iter().position(|l| l.contains(" restart ")).unwrap();
    let replay = report.timeline.iter().position(|l| l.contains("(replay)")).unwrap();
    assert!(restart < replay);
}

#[test]
fn a_restart_replays_every_active_leaf_oldest_first() {
    // Two forks (#2 does not deactivate #1) are active when the store crashes.
    let text = r#"
        name = "fork-restart"
        seed = 3
        end_ms = 600
        on_crash = "restart"
        [[subsystems]]
        slot = "sync"
        implementation = "example-ticker"
        [[subsystems]]
        slot = "chain_store"
        implementation = "example-store"
        [[signals]]
        at_ms = 0
        kind = "active_leaves"
        number = 1
        [[signals]]
        at_ms = 100
        kind = "active_leaves"
        number = 2
        deactivate = []
        [[faults]]
        kind = "crash"
        slot = "chain_store"
        at_ms = 250
        [[expect]]
        timeline_contains = "replaying active leaves #1"
        [[expect]]
        kind = "signal"
        to = "chain_store"
        detail = "(replay)"
        exactly = 2
    "#;
    let scenario = Scenario::from_toml_str(text, "fork-restart").unwrap_or_else(|e| panic!("{e}"));
    let report = scenario.run(None, &example_registry()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.restarts, 1);
    let replays: Vec<&String> = report.timeline.iter().filter(|l| l.contains("(replay)")).collect();
    assert_eq!(replays.len(), 2);
    assert!(replays[0].contains("number: 1"), "{}", replays[0]);
    assert!(replays[1].contains("number: 2"), "{}", replays[1]);
}

#[test]
fn crash_with_on_crash_stop_concludes_the_rest_and_stops() {
    let mut scenario = Scenario::load(&scenario_path("crash-restart.toml")).unwrap();
    scenario.on_crash = OnCrash::Stop;
    scenario.expectations = vec![Expectation::Crashed(SlotId::ChainStore)];
    let report = scenario.run(None, &example_registry()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.stop, StopReason::Crashed(SlotId::ChainStore));
    assert_eq!(report.end_time_ms, 250);
    assert_eq!(report.restarts, 0);
    assert_eq!(report.count(EventKind::Restart, None, None), 0);
    let last = report.entries.last().unwrap();
    assert_eq!((last.kind, last.to.as_str(), last.detail.as_str()), (EventKind::TimerCancel, "sync", "timer#3"));
    assert!(report.timeline.iter().any(|l| l.contains("signal") && l.contains("-> sync") && l.ends_with("Conclude")));
    assert!(!report.timeline.iter().any(|l| l.contains("-> chain_store") && l.ends_with("Conclude")));
}

#[test]
fn a_failing_expectation_carries_the_whole_timeline() {
    let mut scenario = Scenario::load(&scenario_path("ticker-store.toml")).unwrap();
    scenario.expectations.push(Expectation::Crashed(SlotId::Sync));
    let error = scenario.run(None, &example_registry()).unwrap_err();
    let SimError::ExpectationFailed { report, .. } = &error else { panic!("unexpected error {error}") };
    let message = error.to_string();
    assert!(message.starts_with("expectation failed: crashed = sync (nothing crashed) (seed 7)\n"), "{message}");
    for line in &report.timeline {
        assert!(message.contains(line.as_str()), "missing {line}");
    }
    assert!(message.contains(&report.timeline_hash_hex()));
}

#[test]
fn bad_scenario_files_give_one_line_errors() {
    let missing = run_scenario_file(&scenario_path("no-such.toml"), None, &Registry::new()).unwrap_err();
    assert!(matches!(missing, SimError::Io { .. }));
    assert!(!missing.to_string().contains('\n'));
    let registry = Registry::new();
    let scenario = Scenario::load(&scenario_path("ticker-store.toml")).unwrap();
    let error = scenario.run(None, &registry).unwrap_err().to_string();
    assert!(error.ends_with("unknown implementation \"example-ticker\" for slot sync (known: dummy)"), "{error}");
}

fn pair(options: SimOptions, seed: u64) -> Simulation {
    let mut sim = Simulation::new(seed, options);
    let ticker: AnyFactory = Arc::new(|| erase::<SyncSlot>(Box::new(ExampleTicker::new())));
    let store: AnyFactory = Arc::new(|| erase::<ChainStoreSlot>(Box::new(ExampleStore::new())));
    sim.add_subsystem(ticker).unwrap();
    sim.add_subsystem(store).unwrap();
    sim.schedule_signal(Duration::ZERO, active_leaves_signal(1, &[]));
    sim
}

#[test]
fn delayed_messages_arrive_later() {
    let mut sim = pair(SimOptions { end: Some(Duration::from_millis(500)), ..SimOptions::default() }, 3);
    sim.add_fault(Fault::Delay {
        filter: MessageFilter { from: Some(SlotId::Sync), variant: Some("Header".into()), ..MessageFilter::default() },
        by: Duration::from_millis(40),
    });
    let report = sim.run().unwrap();
    assert_eq!(report.count(EventKind::Delay, Some("sync"), Some("chain_store")), 1);
    let handled = report
        .entries
        .iter()
        .find(|e| e.kind == EventKind::Message && e.detail.contains("Header"))
        .expect("header handled");
    assert_eq!(handled.at, Duration::from_millis(40));
    assert!(report.crashes.is_empty());
}

#[test]
fn messages_to_absent_slots_are_unrouted_and_their_replies_canceled() {
    let stats = Arc::new(Mutex::new(TickerStats::default()));
    let shared = stats.clone();
    let mut sim = Simulation::new(1, SimOptions::default());
    let ticker: AnyFactory = Arc::new(move || erase::<SyncSlot>(Box::new(ExampleTicker::with_stats(shared.clone()))));
    sim.add_subsystem(ticker).unwrap();
    sim.schedule_signal(Duration::ZERO, active_leaves_signal(1, &[]));
    let report = sim.run().unwrap();
    assert_eq!(report.stop, StopReason::Idle);
    // One header lookup and three ticks, none routed.
    assert_eq!(report.count(EventKind::Unrouted, Some("sync"), Some("chain_store")), 4);
    assert_eq!(stats.lock().unwrap().canceled, 4);
    assert_eq!(report.count(EventKind::Reply, None, None), 4);
}

#[test]
fn filling_a_slot_twice_is_an_error() {
    let mut sim = pair(SimOptions::default(), 0);
    let again: AnyFactory = Arc::new(|| erase::<SyncSlot>(Box::new(ExampleTicker::new())));
    assert_eq!(sim.add_subsystem(again).unwrap_err().to_string(), "slot sync is filled twice");
}

#[test]
fn a_run_that_never_settles_hits_the_step_limit() {
    // Without an end time the ticker keeps the run busy only for a while, so
    // make the budget tiny instead.
    let sim = pair(SimOptions { max_steps: 5, ..SimOptions::default() }, 0);
    let error = sim.run().unwrap_err();
    assert!(error.to_string().starts_with("step limit of 5 reached at virtual time 0ms"), "{error}");
}

/// Panics on its first message.
struct Panicker;

impl Subsystem for Panicker {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "panicker"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        panic!("panicker got {}", if matches!(message, ChainStoreMessage::Header { .. }) { "a header" } else { "?" });
    }
}

#[test]
fn a_panic_is_a_crash_and_restart_mode_rebuilds() {
    for on_crash in [OnCrash::Stop, OnCrash::Restart] {
        let mut sim = Simulation::new(5, SimOptions { on_crash, ..SimOptions::default() });
        sim.add_subsystem(Arc::new(|| erase::<SyncSlot>(Box::new(ExampleTicker::new())))).unwrap();
        sim.add_subsystem(Arc::new(|| erase::<ChainStoreSlot>(Box::new(Panicker)))).unwrap();
        sim.schedule_signal(Duration::ZERO, active_leaves_signal(1, &[]));
        let report = sim.run().unwrap();
        assert_eq!(report.crashes[0].reason, "panic: panicker got a header");
        match on_crash {
            OnCrash::Stop => assert_eq!(report.stop, StopReason::Crashed(SlotId::ChainStore)),
            OnCrash::Restart => {
                // Every message crashes it again: one header lookup and three ticks.
                assert_eq!(report.restarts, 4);
                assert_eq!(report.stop, StopReason::Idle);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The signal-before-message guarantee.

/// On every `ActiveLeaves` immediately asks the chain store about the new leaf.
struct Announcer<Sl>(PhantomData<fn() -> Sl>);

impl<Sl: Slot> Subsystem for Announcer<Sl>
where
    Sl::Outgoing: From<ChainStoreMessage>,
{
    type Slot = Sl;
    type Event = ();
    fn implementation(&self) -> &str {
        "announcer"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(update) = signal {
            if let Some(leaf) = update.activated {
                ctx.request(|reply| ChainStoreMessage::Header { hash: leaf.hash, reply }, |_| ());
            }
        }
    }
    fn on_message(&mut self, _: Sl::Message, _: &mut Context<'_, '_, Self>) {}
}

/// Asserts that every leaf it is asked about was announced to it by a signal first.
struct Checker {
    seen: Vec<Hash>,
    checks: Arc<AtomicU64>,
}

impl Subsystem for Checker {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "checker"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, _: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(update) = signal {
            self.seen.extend(update.activated.map(|l| l.hash));
        }
    }
    fn on_message(&mut self, message: ChainStoreMessage, ctx: &mut Context<'_, '_, Self>) {
        if let ChainStoreMessage::Header { hash, reply } = message {
            self.checks.fetch_add(1, Ordering::Relaxed);
            if !self.seen.contains(&hash) {
                ctx.exit("ordering violated");
                return;
            }
            let _ = reply.send(None);
        }
    }
}

fn ordering_run(seed: u64, enforce: bool, checks: &Arc<AtomicU64>) -> SimReport {
    let options = SimOptions { enforce_signal_ordering: enforce, ..SimOptions::default() };
    let mut sim = Simulation::new(seed, options);
    sim.add_subsystem(Arc::new(|| erase::<SyncSlot>(Box::new(Announcer::<SyncSlot>(PhantomData))))).unwrap();
    sim.add_subsystem(Arc::new(|| erase::<BabeSlot>(Box::new(Announcer::<BabeSlot>(PhantomData))))).unwrap();
    sim.add_subsystem(Arc::new(|| erase::<GrandpaSlot>(Box::new(Announcer::<GrandpaSlot>(PhantomData))))).unwrap();
    let checks = checks.clone();
    let checker: AnyFactory =
        Arc::new(move || erase::<ChainStoreSlot>(Box::new(Checker { seen: Vec::new(), checks: checks.clone() })));
    sim.add_subsystem(checker).unwrap();
    // Several signals at one instant, so that many are in transit at once.
    for (at, number) in [(0, 1), (0, 2), (5, 3), (5, 4), (5, 5)] {
        sim.schedule_signal(Duration::from_millis(at), active_leaves_signal(number, &[]));
    }
    sim.run().unwrap()
}

const SEEDS: u64 = 10_000;

#[test]
fn signal_before_message_over_10000_interleavings() {
    let checks = Arc::new(AtomicU64::new(0));
    let mut held = 0;
    let mut hashes = std::collections::BTreeSet::new();
    for seed in 0..SEEDS {
        let report = ordering_run(seed, true, &checks);
        if let Some(crash) = report.crashes.first() {
            panic!("seed {seed}: {} crashed: {}\n{}", crash.slot, crash.reason, report.timeline_text());
        }
        held += report.held;
        hashes.insert(report.timeline_hash);
    }
    // Every announcer asked about every leaf, and the rule had work to do.
    assert_eq!(checks.load(Ordering::Relaxed), SEEDS * 3 * 5);
    assert!(held > SEEDS, "only {held} messages held over {SEEDS} runs");
    assert!(hashes.len() > 1000, "only {} distinct interleavings", hashes.len());
}

#[test]
fn without_the_ordering_rule_the_check_fails() {
    let checks = Arc::new(AtomicU64::new(0));
    let violation = (0..SEEDS).find(|seed| {
        let report = ordering_run(*seed, false, &checks);
        report.crashes.iter().any(|c| c.reason == "exit: ordering violated")
    });
    let seed = violation.expect("some interleaving must violate the guarantee when the rule is off");
    // And the same seed with the rule on is fine.
    assert!(ordering_run(seed, true, &checks).crashes.is_empty());
}
