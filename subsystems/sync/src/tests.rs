//! The sync state machine driven by hand: requests are answered from a fake chain of
//! headers (real hashes and links, empty bodies), imports by a fake importer that checks
//! the order, time is a number we move.

use super::*;
use futures::executor::block_on;
use rand::SeedableRng;
use weft_block::{Digest, H256};
use weft_messages::{ActivatedLeaf, ActiveLeavesUpdate, SyncOutgoing};
use weft_network_protocol::sync::{decode_block_request, encode_block_response, BlockResponse};
use weft_overseer::{BoxedEvent, DynSubsystem, Effect, Input, RawContext};

fn chain(len: u32, salt: u8) -> Vec<Header> {
    let mut headers = Vec::new();
    let mut parent = H256([0; 32]);
    for number in 0..=len {
        let header = Header {
            parent_hash: parent,
            number,
            state_root: H256([salt; 32]),
            extrinsics_root: H256([0; 32]),
            digest: Digest::default(),
        };
        parent = header.hash();
        headers.push(header);
    }
    headers
}

/// Answers a block request from `headers` (by number or hash, ascending).
fn serve(headers: &[Header], request: &[u8], limit: u32) -> Vec<u8> {
    let request = decode_block_request(request).unwrap();
    let first = match request.start().unwrap() {
        StartBlock::Number(n) => n as usize,
        StartBlock::Hash(h) => match headers.iter().position(|x| x.hash() == h) {
            Some(i) => i,
            None => return encode_block_response(&BlockResponse { blocks: vec![] }),
        },
    };
    let count = request.max_blocks.min(limit) as usize;
    let blocks = headers
        .iter()
        .skip(first)
        .take(count)
        .map(|h| {
            ResponseBlock { hash: h.hash().0, header: Some(h.clone()), body: Some(vec![]), justifications: None }
                .to_block_data(true)
        })
        .collect();
    encode_block_response(&BlockResponse { blocks })
}

struct Driver {
    sync: ChainSync,
    now: Duration,
    rng: rand::rngs::StdRng,
    timer: u64,
    /// Outstanding block requests: (peer, request bytes, reply).
    requests: Vec<OutstandingRequest>,
    imports: Vec<OutstandingImport>,
    reports: Vec<(PeerId, i32)>,
    timers: Vec<(Duration, BoxedEvent)>,
}

type PendingEvent = weft_overseer::PendingReply;
type ReplyTo<T> = weft_messages::oneshot::Sender<Result<T, String>>;
type OutstandingRequest = (PeerId, Vec<u8>, ReplyTo<Vec<u8>>, PendingEvent);
type OutstandingImport = (Vec<IncomingBlock>, ReplyTo<Vec<Hash>>, PendingEvent);

impl Driver {
    fn new(best: (BlockNumber, Hash), config: SyncConfig) -> Self {
        Driver {
            sync: ChainSync::new(config, best),
            now: Duration::ZERO,
            rng: rand::rngs::StdRng::seed_from_u64(7),
            timer: 0,
            requests: Vec::new(),
            imports: Vec::new(),
            reports: Vec::new(),
            timers: Vec::new(),
        }
    }

    fn input(&mut self, input: Input<SyncMessage>) {
        let now = self.now;
        let mut raw: RawContext<'_, SyncOutgoing> = RawContext::new(&now, &mut self.rng, &mut self.timer);
        DynSubsystem::<SyncSlot>::handle(&mut self.sync, input, &mut raw);
        for effect in raw.into_effects() {
            match effect {
                Effect::Request { message: SyncOutgoing::NetworkBridge(m), reply } => match m {
                    NetworkBridgeMessage::BlockRequest { peer, request, reply: tx } => {
                        self.requests.push((peer, request, tx, reply))
                    }
                    other => panic!("unexpected request {other:?}"),
                },
                Effect::Request { message: SyncOutgoing::BlockImport(m), reply } => match m {
                    BlockImportMessage::ImportBlocks { blocks, reply: tx } => self.imports.push((blocks, tx, reply)),
                    other => panic!("unexpected request {other:?}"),
                },
                Effect::Send(SyncOutgoing::NetworkBridge(NetworkBridgeMessage::ReportPeer {
                    peer, penalty, ..
                })) => self.reports.push((peer, penalty)),
                Effect::SetTimer { after, event, .. } => self.timers.push((self.now + after, event)),
                Effect::CancelTimer(_) => {}
                other => panic!("unexpected effect {other:?}"),
            }
        }
    }

    fn message(&mut self, message: SyncMessage) {
        self.input(Input::Message(message));
    }

    fn connect(&mut self, peer: &str, headers: &[Header]) {
        let best = headers.last().unwrap();
        self.message(SyncMessage::PeerConnected {
            peer: peer.into(),
            best_hash: best.hash(),
            best_number: best.number,
        });
    }

    /// Answers every outstanding request with `answer(peer, request)`.
    fn answer_requests(&mut self, mut answer: impl FnMut(&str, &[u8]) -> Result<Vec<u8>, String>) -> usize {
        let requests = std::mem::take(&mut self.requests);
        let n = requests.len();
        for (peer, request, tx, pending) in requests {
            tx.send(answer(&peer, &request)).unwrap();
            let event = block_on(pending);
            self.input(Input::Event(event));
        }
        n
    }

    /// Imports every outstanding batch into `imported` (checking order) and replies.
    fn answer_imports(&mut self, imported: &mut Vec<Header>, reject: Option<BlockNumber>) -> usize {
        let imports = std::mem::take(&mut self.imports);
        let n = imports.len();
        for (blocks, tx, pending) in imports {
            let mut hashes = Vec::new();
            let mut result = Ok(());
            for block in blocks {
                if Some(block.header.number) == reject {
                    result = Err(format!("block #{} is invalid", block.header.number));
                    break;
                }
                let parent = imported.last().unwrap().hash();
                assert_eq!(block.header.parent_hash, parent, "blocks imported out of order");
                hashes.push(block.header.hash());
                imported.push(block.header);
            }
            let leaf = imported.last().unwrap();
            let signal = ActiveLeavesUpdate {
                activated: Some(ActivatedLeaf { hash: leaf.hash(), number: leaf.number }),
                deactivated: vec![],
            };
            tx.send(result.map(|_| hashes)).unwrap();
            self.input(Input::Signal(OverseerSignal::ActiveLeaves(signal)));
            let event = block_on(pending);
            self.input(Input::Event(event));
        }
        n
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let due: Vec<BoxedEvent> = {
            let (due, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.timers).into_iter().partition(|(at, _)| *at <= self.now);
            self.timers = later;
            due.into_iter().map(|(_, e)| e).collect()
        };
        for event in due {
            self.input(Input::Event(event));
        }
    }
}

fn genesis_best(headers: &[Header]) -> (BlockNumber, Hash) {
    (0, headers[0].hash())
}

#[test]
fn downloads_from_several_peers_in_parallel_and_imports_in_order() {
    let headers = chain(1000, 1);
    let mut d = Driver::new(genesis_best(&headers), SyncConfig::default());
    for peer in ["a", "b", "c"] {
        d.connect(peer, &headers);
    }
    assert_eq!(d.requests.len(), 3, "one request per idle peer");
    let mut peers: Vec<&str> = d.requests.iter().map(|r| r.0.as_str()).collect();
    peers.sort();
    assert_eq!(peers, ["a", "b", "c"]);
    let mut imported = vec![headers[0].clone()];
    let mut rounds = 0;
    while imported.len() < headers.len() {
        rounds += 1;
        assert!(rounds < 100, "sync does not progress");
        // Answer in reverse order, so that ranges arrive out of order.
        d.requests.reverse();
        d.answer_requests(|_, r| Ok(serve(&headers, r, 128)));
        d.answer_imports(&mut imported, None);
    }
    assert_eq!(imported.last().unwrap().hash(), headers[1000].hash());
    assert_eq!(d.sync.best().0, 1000);
    assert!(!d.sync.is_major_syncing());
    let stats = d.sync.stats();
    assert_eq!(stats.blocks_imported, 1000);
    assert_eq!(stats.requests_failed, 0);
    assert!(d.reports.is_empty());
}

#[test]
fn short_and_failed_answers_are_asked_again() {
    let headers = chain(300, 2);
    let mut d = Driver::new(genesis_best(&headers), SyncConfig::default());
    d.connect("flaky", &headers);
    d.connect("short", &headers);
    let mut imported = vec![headers[0].clone()];
    let mut flaky_calls = 0;
    for _ in 0..200 {
        if imported.len() == headers.len() {
            break;
        }
        d.answer_requests(|peer, r| {
            if peer == "flaky" {
                flaky_calls += 1;
            }
            match peer {
                "flaky" if flaky_calls % 2 == 0 => Err("timeout".into()),
                "short" => Ok(serve(&headers, r, 10)),
                _ => Ok(serve(&headers, r, 128)),
            }
        });
        d.answer_imports(&mut imported, None);
        d.advance(Duration::from_secs(1));
    }
    assert_eq!(imported.len(), headers.len());
    assert!(d.sync.stats().requests_failed > 0);
    assert!(d.reports.is_empty(), "transient failures are not misbehaviour: {:?}", d.reports);
}

#[test]
fn invalid_responses_ban_the_peer_and_sync_completes_from_others() {
    let headers = chain(200, 3);
    let other = chain(200, 4);
    let mut d = Driver::new(genesis_best(&headers), SyncConfig::default());
    d.connect("liar", &headers);
    d.connect("garbage", &headers);
    d.connect("honest", &headers);
    let mut imported = vec![headers[0].clone()];
    for _ in 0..100 {
        if imported.len() == headers.len() {
            break;
        }
        d.answer_requests(|peer, r| match peer {
            // Blocks of another chain: they do not hash to what a by-number request
            // allows only if they fail to link; here they answer another chain.
            "liar" => Ok(serve(&other, r, 128)),
            "garbage" => Ok(vec![0xff, 0xff, 0x01]),
            _ => Ok(serve(&headers, r, 128)),
        });
        d.answer_imports(&mut imported, None);
        d.advance(Duration::from_secs(1));
    }
    assert_eq!(imported.len(), headers.len());
    assert!(d.reports.contains(&("garbage".to_string(), BAN_PENALTY)), "{:?}", d.reports);
    assert!(!d.reports.iter().any(|(p, _)| p == "honest"));
}

#[test]
fn a_block_rejected_by_import_bans_its_supplier() {
    let headers = chain(100, 5);
    let mut d = Driver::new(genesis_best(&headers), SyncConfig { blocks_per_request: 50, ..SyncConfig::default() });
    d.connect("evil", &headers);
    let mut imported = vec![headers[0].clone()];
    d.answer_requests(|_, r| Ok(serve(&headers, r, 128)));
    d.answer_imports(&mut imported, Some(20));
    assert_eq!(imported.len(), 20, "blocks before the bad one are in");
    assert!(d.reports.contains(&("evil".to_string(), BAN_PENALTY)));
    assert_eq!(d.sync.peer_count(), 0);
    // An honest peer arrives: the sync resumes at the failed block.
    d.connect("honest", &headers);
    for _ in 0..10 {
        d.answer_requests(|_, r| Ok(serve(&headers, r, 128)));
        d.answer_imports(&mut imported, None);
    }
    assert_eq!(imported.len(), headers.len());
}

#[test]
fn announced_child_of_best_is_fetched_by_hash() {
    let headers = chain(11, 6);
    let best = (10, headers[10].hash());
    let mut d = Driver::new(best, SyncConfig::default());
    d.connect("p", &headers[..=10]);
    assert!(d.requests.is_empty(), "nothing to download");
    d.message(SyncMessage::BlockAnnounce { peer: "p".into(), header: Box::new(headers[11].clone()), is_best: true });
    assert_eq!(d.requests.len(), 1);
    let request = decode_block_request(&d.requests[0].1).unwrap();
    assert_eq!(request.start().unwrap(), StartBlock::Hash(headers[11].hash()));
    d.answer_requests(|_, r| Ok(serve(&headers, r, 128)));
    assert_eq!(d.imports.len(), 1);
    assert_eq!(d.imports[0].0[0].origin, BlockOrigin::NetworkBroadcast("p".into()));
    let mut imported = headers[..=10].to_vec();
    d.answer_imports(&mut imported, None);
    assert_eq!(d.sync.best(), (11, headers[11].hash()));
    assert!(d.requests.is_empty());
}

#[test]
fn unanswered_requests_time_out_and_the_peer_is_eventually_given_up() {
    let headers = chain(50, 7);
    let config = SyncConfig { max_failures: 3, ..SyncConfig::default() };
    let timeout = config.request_timeout;
    let mut d = Driver::new(genesis_best(&headers), config);
    d.connect("silent", &headers);
    for _ in 0..3 {
        assert_eq!(d.requests.len(), 1);
        // The replies are never sent: drop them after the timeout fires.
        let pending = std::mem::take(&mut d.requests);
        d.advance(timeout);
        d.advance(Duration::from_secs(10));
        drop(pending);
    }
    assert!(d.reports.contains(&("silent".to_string(), UNRESPONSIVE_PENALTY)));
    assert!(d.requests.is_empty(), "a given-up peer is not asked again");
    assert_eq!(d.sync.stats().requests_failed, 3);
}

#[test]
fn downloads_stay_within_the_window() {
    let headers = chain(5000, 8);
    let config = SyncConfig { max_blocks_ahead: 512, ..SyncConfig::default() };
    let mut d = Driver::new(genesis_best(&headers), config);
    for peer in 0..10 {
        d.connect(&format!("p{peer}"), &headers);
    }
    // 512 blocks ahead at most: four requests of 128.
    assert_eq!(d.requests.len(), 4);
    d.answer_requests(|_, r| Ok(serve(&headers, r, 128)));
    assert!(d.requests.is_empty(), "window full until import");
    let mut imported = vec![headers[0].clone()];
    while d.answer_imports(&mut imported, None) > 0 {}
    assert_eq!(imported.len(), 513);
    assert_eq!(d.requests.len(), 4);
}

#[test]
fn status_reports_best_seen() {
    let headers = chain(40, 9);
    let mut d = Driver::new(genesis_best(&headers), SyncConfig::default());
    d.connect("p", &headers);
    let (tx, rx) = weft_messages::oneshot::channel();
    d.message(SyncMessage::Status { reply: tx });
    assert_eq!(block_on(rx).unwrap(), (40, 0));
    assert!(d.sync.is_major_syncing());
}
