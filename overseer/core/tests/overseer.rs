//! The overseer's guarantees, exercised on real actors: swapping by builder and
//! by config, supervision of panics (stop, or restart in research mode),
//! back-pressure and stall detection, signal ordering, clean start and stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_messages::*;
use weft_overseer::testing::TestHarness;
use weft_overseer::*;

fn leaf(n: u32) -> ActivatedLeaf {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    ActivatedLeaf { hash: Hash::from(bytes), number: n }
}

fn activate(n: u32) -> OverseerSignal {
    OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(leaf(n)), deactivated: vec![] })
}

/// A chain store that answers `BestBlock` with `(tag, calls)` and counts messages.
struct TaggedStore {
    tag: u8,
    calls: Arc<AtomicUsize>,
}

impl Subsystem for TaggedStore {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "tagged"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        let calls = self.calls.fetch_add(1, Ordering::SeqCst) as u32 + 1;
        if let ChainStoreMessage::BestBlock { reply } = message {
            let _ = reply.send((Hash::from([self.tag; 32]), calls));
        }
    }
}

async fn best_block(handle: &OverseerHandle) -> (Hash, BlockNumber) {
    let (tx, rx) = oneshot::channel();
    handle.send(ChainStoreMessage::BestBlock { reply: tx }).await;
    tokio::time::timeout(Duration::from_secs(30), rx).await.expect("reply in time").expect("replied")
}

#[actix::test]
async fn all_dummy_node_starts_and_stops_cleanly() {
    let builder = OverseerBuilder::new();
    assert!(builder.implementations().values().all(|i| i == "dummy"));
    assert_eq!(builder.implementations().len(), SlotId::ALL.len());
    let handle = builder.start();
    handle.signal(activate(1));
    // A request to a dummy: its reply channel is dropped, not answered.
    let (tx, rx) = oneshot::channel::<(Hash, BlockNumber)>();
    handle.send(ChainStoreMessage::BestBlock { reply: tx }).await;
    assert!(tokio::time::timeout(Duration::from_secs(30), rx).await.unwrap().is_err());
    let started = std::time::Instant::now();
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()));
    // Reported, not asserted: tests do not bound wall-clock time.
    eprintln!("all-dummy node stopped in {:?}", started.elapsed());
}

#[actix::test]
async fn replace_by_builder_routes_real_traffic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let handle =
        OverseerBuilder::new().replace_chain_store(move |_dummy| TaggedStore { tag: 7, calls: c.clone() }).start();
    let (hash, n) = best_block(&handle).await;
    assert_eq!((hash, n), (Hash::from([7; 32]), 1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    handle.stop();
    handle.wait().await.unwrap();
}

#[actix::test]
async fn intercepted_rewrites_a_real_subsystems_traffic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let handle = OverseerBuilder::new()
        .replace_chain_store(move |_dummy| TaggedStore { tag: 1, calls: c.clone() })
        .replace_chain_store(move |real| {
            let s = s.clone();
            Intercepted::new(
                real,
                FnInterceptor {
                    // Drop every `FinalizedBlock` request, count the rest.
                    incoming: move |m: ChainStoreMessage| match m {
                        ChainStoreMessage::FinalizedBlock { .. } => None,
                        other => {
                            s.fetch_add(1, Ordering::SeqCst);
                            Some(other)
                        }
                    },
                    outgoing: |o: ChainStoreOutgoing| Some(o),
                },
            )
        })
        .start();
    assert_eq!(best_block(&handle).await.0, Hash::from([1; 32]));
    let (tx, rx) = oneshot::channel();
    handle.send(ChainStoreMessage::FinalizedBlock { reply: tx }).await;
    assert!(tokio::time::timeout(Duration::from_secs(30), rx).await.unwrap().is_err(), "filtered: channel closed");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    handle.stop();
    handle.wait().await.unwrap();
}

#[actix::test]
async fn replace_by_config_toml_routes_real_traffic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let c = calls.clone();
    registry.register::<ChainStoreSlot>("tagged", move || Box::new(TaggedStore { tag: 9, calls: c.clone() }));
    let config = weft_config::NodeConfig::from_toml_str(
        "[subsystems.chain_store]\nimplementation = \"tagged\"\nmailbox = 16\n[subsystems.approval_voting]\nimplementation = \"dummy\"\n",
        "test.toml",
    )
    .unwrap();
    let builder = OverseerBuilder::new().configure(&config, &registry).unwrap();
    assert_eq!(builder.implementations()[&SlotId::ChainStore], "tagged");
    let handle = builder.start();
    assert_eq!(best_block(&handle).await.0, Hash::from([9; 32]));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    handle.stop();
    handle.wait().await.unwrap();

    // Unknown slot and unknown implementation are clear errors.
    let bad = weft_config::NodeConfig::from_toml_str("[subsystems.chain_stor]\nmailbox = 1\n", "t").unwrap();
    let err = OverseerBuilder::new().configure(&bad, &registry).err().unwrap().to_string();
    assert!(err.contains("unknown subsystem slot `chain_stor`"), "{err}");
    let bad = weft_config::NodeConfig::from_toml_str("[subsystems.sync]\nimplementation = \"x\"\n", "t").unwrap();
    let err = OverseerBuilder::new().configure(&bad, &registry).err().unwrap().to_string();
    assert!(err.contains("no implementation `x` for slot `sync`"), "{err}");
}

/// Panics on its first message if `panic_first` says so; records leaves it saw.
struct FragileStore {
    instance: usize,
    leaves: Arc<Mutex<Vec<(usize, u32)>>>,
}

impl Subsystem for FragileStore {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "fragile"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, _: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(l), .. }) = signal {
            self.leaves.lock().unwrap().push((self.instance, l.number));
        }
    }
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        if self.instance == 1 {
            panic!("fragile store fell over");
        }
        if let ChainStoreMessage::BestBlock { reply } = message {
            let _ = reply.send((Hash::ZERO, self.instance as u32));
        }
    }
}

fn fragile_builder(leaves: Arc<Mutex<Vec<(usize, u32)>>>) -> OverseerBuilder {
    let instances = Arc::new(AtomicUsize::new(0));
    OverseerBuilder::new().replace_chain_store(move |_| FragileStore {
        instance: instances.fetch_add(1, Ordering::SeqCst) + 1,
        leaves: leaves.clone(),
    })
}

#[actix::test]
async fn panicking_subsystem_stops_the_node_with_its_name() {
    let handle = fragile_builder(Arc::default()).start();
    let (tx, _rx) = oneshot::channel();
    let started = std::time::Instant::now();
    handle.send(ChainStoreMessage::BestBlock { reply: tx }).await;
    let result = tokio::time::timeout(Duration::from_secs(30), handle.wait()).await.expect("stops");
    let err = result.unwrap_err();
    assert!(matches!(&err, OverseerError::SubsystemPanicked { slot: SlotId::ChainStore, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("chain_store") && text.contains("fragile store fell over"), "{text}");
    eprintln!("node stopped {:?} after the panic", started.elapsed());
}

#[actix::test]
async fn research_mode_restarts_and_replays_leaves() {
    let leaves = Arc::new(Mutex::new(Vec::new()));
    let handle = fragile_builder(leaves.clone()).restart_on_crash(true).start();
    handle.signal(activate(5));
    handle.signal(activate(6));
    handle.signal(activate(7));
    handle
        .signal(OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: None, deactivated: vec![leaf(6).hash] }));
    let (tx, rx) = oneshot::channel();
    handle.send(ChainStoreMessage::BestBlock { reply: tx }).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(30), rx).await.unwrap().is_err(),
        "crashed instance never replied"
    );
    // The restarted instance answers and was told about the active leaves
    // #5 and #7, oldest first (#6 was deactivated).
    let (_, instance) = best_block(&handle).await;
    assert_eq!(instance, 2);
    assert_eq!(*leaves.lock().unwrap(), vec![(1, 5), (1, 6), (1, 7), (2, 5), (2, 7)]);
    assert_eq!(handle.metrics().get(SlotId::ChainStore).unwrap().restarts(), 1);
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()));
}

/// On every ActiveLeaves signal, sends `count` requests to the chain store.
struct Flooder {
    count: u32,
}

impl Subsystem for Flooder {
    type Slot = SyncSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "flooder"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if matches!(signal, OverseerSignal::ActiveLeaves(_)) {
            for number in 0..self.count {
                let (reply, _) = oneshot::channel();
                ctx.send(ChainStoreMessage::BlockHash { number, reply });
            }
        }
    }
    fn on_message(&mut self, _: SyncMessage, _: &mut Context<'_, '_, Self>) {}
}

/// Blocks its thread for `delay` per message (a slow disk, say).
struct SlowStore {
    delay: Duration,
    handled: Arc<AtomicUsize>,
}

impl Subsystem for SlowStore {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "slow"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, _: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        std::thread::sleep(self.delay);
        self.handled.fetch_add(1, Ordering::SeqCst);
    }
}

#[actix::test]
async fn full_mailbox_makes_the_sender_wait() {
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let handle = OverseerBuilder::new()
        .replace_sync(|_| Flooder { count: 30 })
        .replace_chain_store(move |_| SlowStore { delay: Duration::from_millis(10), handled: h.clone() })
        .mailbox(SlotId::ChainStore, 4)
        .stall_timeout(Duration::from_secs(5))
        .start();
    handle.signal(activate(1));
    for _ in 0..10_000 {
        if handled.load(Ordering::SeqCst) == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Nothing dropped; the sender had to wait; the queue never grew past
    // its capacity (plus the one message being received).
    let store = handle.metrics().get(SlotId::ChainStore).unwrap();
    let sync = handle.metrics().get(SlotId::Sync).unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 30);
    assert!(sync.blocked_sends() >= 1, "the sender never waited");
    assert!(store.mailbox_depth_max() <= 5, "mailbox depth reached {}", store.mailbox_depth_max());
    assert!(store.mailbox_depth_max() >= 3, "mailbox never filled (depth {})", store.mailbox_depth_max());
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()));
}

/// On each new leaf #n, sends `count` requests for blocks n * 10,000 + i;
/// a fragile one panics on any message.
struct RoundFlooder {
    count: u32,
    fragile: bool,
}

impl Subsystem for RoundFlooder {
    type Slot = SyncSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "round-flooder"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(leaf), .. }) = signal {
            for i in 0..self.count {
                let (reply, _) = oneshot::channel();
                ctx.send(ChainStoreMessage::BlockHash { number: leaf.number * 10_000 + i, reply });
            }
        }
    }
    fn on_message(&mut self, _: SyncMessage, _: &mut Context<'_, '_, Self>) {
        assert!(!self.fragile, "fragile flooder fell over");
    }
}

/// What the recording store saw, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Leaf(u32),
    Block(u32),
}

/// Records the leaves and the block numbers asked for, in the order handled.
struct RecordingStore {
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Subsystem for RecordingStore {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "recording"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, _: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(leaf), .. }) = signal {
            self.log.lock().unwrap().push(Seen::Leaf(leaf.number));
        }
    }
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        if let ChainStoreMessage::BlockHash { number, .. } = message {
            self.log.lock().unwrap().push(Seen::Block(number));
        }
    }
}

/// The recording store's log once it holds `expected` entries (or after
/// about 20 s, when the length check fails).
async fn recorded(log: &Mutex<Vec<Seen>>, expected: usize) -> Vec<Seen> {
    for _ in 0..10_000 {
        if log.lock().unwrap().len() == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), expected, "messages or signals lost");
    log
}

/// The blocks asked for are exactly those a [`RoundFlooder`] sent for
/// `leaves`, in that order.
fn assert_sent_in_order(log: &[Seen], leaves: &[u32], per_leaf: u32) {
    let blocks: Vec<u32> = log.iter().filter_map(|e| if let Seen::Block(n) = e { Some(*n) } else { None }).collect();
    let sent: Vec<u32> = leaves.iter().flat_map(|leaf| (0..per_leaf).map(move |i| leaf * 10_000 + i)).collect();
    if let Some(at) = blocks.iter().zip(&sent).position(|(got, want)| got != want) {
        let end = (at + 3).min(blocks.len()).min(sent.len());
        panic!("out of order at {at}: got {:?}, sent {:?}", &blocks[at..end], &sent[at..end]);
    }
    assert_eq!(blocks.len(), sent.len(), "messages lost or duplicated");
}

#[actix::test]
async fn bursts_beyond_the_mailbox_arrive_whole_and_in_order() {
    // Three rounds of 3,000 messages through a mailbox of 16: each round
    // blocks the sender many times, and the queue of blocked sends is reused.
    const PER_ROUND: u32 = 3_000;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let handle = OverseerBuilder::new()
        .replace_sync(|_| RoundFlooder { count: PER_ROUND, fragile: false })
        .replace_chain_store(move |_| RecordingStore { log: l.clone() })
        .mailbox(SlotId::ChainStore, 16)
        .start();
    for round in 1..=3 {
        handle.signal(activate(round));
    }
    let expected = 3 * (PER_ROUND as usize + 1);
    let log = recorded(&log, expected).await;
    // Every message arrives once, in the order sent (round by round).
    assert_sent_in_order(&log, &[1, 2, 3], PER_ROUND);
    // A message sent while the sender handled leaf N comes after leaf N.
    // (Signals may overtake earlier messages: leaf 3 can come before the
    // last messages of round 1.)
    for round in 1..=3u32 {
        let leaf = log.iter().position(|e| *e == Seen::Leaf(round)).expect("signal handled");
        let first = log.iter().position(|e| *e == Seen::Block(round * 10_000)).expect("round delivered");
        assert!(leaf < first, "a message of round {round} was handled before leaf {round}");
    }
    let sync = handle.metrics().get(SlotId::Sync).unwrap();
    assert!(sync.blocked_sends() >= 3, "the sender never waited ({} times)", sync.blocked_sends());
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()));
}

#[actix::test]
async fn sends_of_consecutive_inputs_keep_their_order_behind_a_full_mailbox() {
    // A restart replays two leaves in one go: the first replay's burst fills
    // the mailbox, and the second's must queue behind it, not overtake it.
    const PER_ROUND: u32 = 2_000;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let instances = Arc::new(AtomicUsize::new(0));
    let handle = OverseerBuilder::new()
        .replace_sync(move |_| RoundFlooder {
            count: PER_ROUND,
            fragile: instances.fetch_add(1, Ordering::SeqCst) == 0,
        })
        .replace_chain_store(move |_| RecordingStore { log: l.clone() })
        .mailbox(SlotId::ChainStore, 16)
        .restart_on_crash(true)
        .start();
    handle.signal(activate(1));
    handle.signal(activate(2));
    handle.send(SyncMessage::PeerDisconnected { peer: "crash".into() }).await;
    let expected = 2 + 4 * PER_ROUND as usize;
    let log = recorded(&log, expected).await;
    // Leaves 1 and 2 from the signals, then 1 and 2 again from the replay.
    assert_sent_in_order(&log, &[1, 2, 1, 2], PER_ROUND);
    assert_eq!(handle.metrics().get(SlotId::Sync).unwrap().restarts(), 1);
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()));
}

#[actix::test]
async fn blocked_send_reports_the_stalled_subsystem_by_name() {
    let handle = OverseerBuilder::new()
        .replace_sync(|_| Flooder { count: 20 })
        .replace_chain_store(|_| SlowStore { delay: Duration::from_millis(300), handled: Arc::default() })
        .mailbox(SlotId::ChainStore, 2)
        .stall_timeout(Duration::from_millis(100))
        .start();
    handle.signal(activate(1));
    let err = tokio::time::timeout(Duration::from_secs(30), handle.wait()).await.expect("stops").unwrap_err();
    assert!(
        matches!(err, OverseerError::SubsystemStalled { slot: SlotId::ChainStore, sender: SlotId::Sync, .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("SubsystemStalled(chain_store)"), "{err}");
}

/// On each new leaf, asks the chain store about it at once.
struct LeafAnnouncer;

impl Subsystem for LeafAnnouncer {
    type Slot = SyncSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "announcer"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(l), .. }) = signal {
            let (reply, _) = oneshot::channel();
            ctx.send(ChainStoreMessage::Header { hash: l.hash, reply });
        }
    }
    fn on_message(&mut self, _: SyncMessage, _: &mut Context<'_, '_, Self>) {}
}

/// Exits if asked about a leaf it has not been told about by a signal.
struct LeafChecker {
    seen: std::collections::HashSet<Hash>,
    checked: Arc<AtomicUsize>,
}

impl Subsystem for LeafChecker {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "checker"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, _: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(ActiveLeavesUpdate { activated: Some(l), .. }) = signal {
            self.seen.insert(l.hash);
        }
    }
    fn on_message(&mut self, message: ChainStoreMessage, ctx: &mut Context<'_, '_, Self>) {
        if let ChainStoreMessage::Header { hash, .. } = message {
            if !self.seen.contains(&hash) {
                ctx.exit(format!("ordering violated: asked about {hash} before its signal"));
            }
            self.checked.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Signals race with messages across two threads; every message about leaf N
/// must reach the checker after signal N did.
#[actix::test]
async fn signals_precede_messages_sent_after_them() {
    const SIGNALS: u32 = 3000;
    let checked = Arc::new(AtomicUsize::new(0));
    let c = checked.clone();
    let handle = OverseerBuilder::new()
        .replace_sync(|_| LeafAnnouncer)
        .replace_chain_store(move |_| LeafChecker { seen: Default::default(), checked: c.clone() })
        .start();
    for n in 0..SIGNALS {
        handle.signal(activate(n));
        if n % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Generous: CI machines may be loaded. A violation stops the node early.
    for _ in 0..3000 {
        if checked.load(Ordering::SeqCst) == SIGNALS as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(checked.load(Ordering::SeqCst), SIGNALS as usize);
    handle.stop();
    assert_eq!(handle.wait().await, Ok(()), "no ordering violation");
}

#[actix::test]
async fn test_harness_captures_outgoing_messages() {
    let mut harness = TestHarness::<SyncSlot>::start(Box::new(Flooder { count: 3 }), 8);
    harness.signal(activate(1));
    for expected in 0..3 {
        match harness.recv(Duration::from_secs(2)).await {
            Some(AllMessages::ChainStore(ChainStoreMessage::BlockHash { number, .. })) => assert_eq!(number, expected),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(harness.recv(Duration::from_millis(50)).await.is_none());
    assert_eq!(harness.metrics().signals_handled(), 1);

    let mut fragile =
        TestHarness::<ChainStoreSlot>::start(Box::new(FragileStore { instance: 1, leaves: Arc::default() }), 8);
    let (tx, _rx) = oneshot::channel();
    fragile.send(ChainStoreMessage::BestBlock { reply: tx }).await;
    let failure = fragile.failure(Duration::from_secs(2)).await.expect("reported");
    assert_eq!(failure.slot, SlotId::ChainStore);
}
