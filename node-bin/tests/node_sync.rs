//! The node command end to end on loopback with real Westend blocks: node A has #1-#256
//! (imported from the fixture file); node B starts from the chain spec alone with A as
//! bootnode and reaches #256 through block-announces handshakes, `sync/2` and block
//! import (every block verified and executed); node C, bootnoded only to B, reaches #256
//! too. Progress is read the way an operator reads it: from each node's Prometheus
//! endpoint (`substrate_block_height{status="best"}`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WESTEND_256: &str = "0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf";

fn fixture(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(relative).display().to_string()
}

fn spec() -> String {
    fixture("chain-specs/full-raw/westend.json")
}

/// A running node whose stderr is collected line by line.
struct Node {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn start(base: &Path, extra: &[&str]) -> Node {
        let mut args = vec![
            "--chain".to_string(),
            spec(),
            "--base-path".into(),
            base.display().to_string(),
            "--listen-addr".into(),
            "/ip4/127.0.0.1/tcp/0".into(),
            "--prometheus-port".into(),
            "0".into(),
            "--no-chain-bootnodes".into(),
            "--run-for".into(),
            "300".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Node { child, log }
    }

    /// The first log line containing `needle`, waiting up to `timeout`.
    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("node exited ({status}) before logging {needle:?}:\n{}", self.log_text());
            }
            assert!(start.elapsed() < timeout, "no {needle:?} in the log after {timeout:?}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`.
    fn address(&mut self) -> String {
        let line = self.wait_for_line("listening on /ip4/127.0.0.1/tcp/", Duration::from_secs(60));
        let start = line.find("/ip4/").unwrap();
        line[start..].split_whitespace().next().unwrap().to_string()
    }

    fn prometheus(&mut self) -> String {
        let line = self.wait_for_line("Prometheus metrics on http://", Duration::from_secs(60));
        let start = line.find("http://").unwrap() + "http://".len();
        line[start..].split('/').next().unwrap().to_string()
    }

    /// Stops the node as an operator does (SIGTERM) and waits for it to exit cleanly.
    fn stop(mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let start = Instant::now();
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("node did not stop on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread may still be draining the pipe.
        std::thread::sleep(Duration::from_millis(100));
        assert!(exit.success(), "node exited with {exit}:\n{}", self.log_text());
        self.log_text()
    }
}

fn scrape(address: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("prometheus endpoint accepts");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response
}

fn metric(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|v| v.trim().parse().ok()))
}

fn best_height(address: &str) -> f64 {
    metric(&scrape(address), "substrate_block_height{status=\"best\",chain=\"westend2\"}").unwrap_or(-1.0)
}

fn wait_for_height(node: &mut Node, address: &str, height: f64, timeout: Duration) {
    let start = Instant::now();
    while best_height(address) < height {
        if let Ok(Some(status)) = node.child.try_wait() {
            panic!("node exited ({status}):\n{}", node.log_text());
        }
        assert!(start.elapsed() < timeout, "not at #{height} after {timeout:?}:\n{}", node.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn nodes_sync_westend_from_each_other_and_serve_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let (base_a, base_b, base_c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    let import = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["import-blocks", "--chain", &spec(), "--base-path", base_a.to_str().unwrap()])
        .arg(fixture("blocks/westend/westend_blocks_1-256.json"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

    let mut a = Node::start(&base_a, &[]);
    let a_addr = a.address();
    let a_metrics = a.prometheus();
    assert_eq!(best_height(&a_metrics), 256.0);

    let started = Instant::now();
    let mut b = Node::start(&base_b, &["--bootnodes", &a_addr]);
    let b_addr = b.address();
    let b_metrics = b.prometheus();
    wait_for_height(&mut b, &b_metrics, 256.0, Duration::from_secs(240));
    let b_took = started.elapsed();

    let mut c = Node::start(&base_c, &["--bootnodes", &b_addr]);
    let c_metrics = c.prometheus();
    wait_for_height(&mut c, &c_metrics, 256.0, Duration::from_secs(240));

    let page = scrape(&b_metrics);
    assert!(metric(&page, "substrate_sub_libp2p_peers_count{chain=\"westend2\"}").unwrap() >= 2.0, "{page}");
    assert!(metric(&page, "substrate_block_height{status=\"finalized\",chain=\"westend2\"}").is_some());
    assert!(
        metric(&page, "substrate_sub_libp2p_requests_bytes_total{direction=\"in\",chain=\"westend2\"}").unwrap() > 0.0
    );
    assert!(page.contains("weft_subsystem_messages_handled_total{subsystem=\"sync\"}"), "{page}");
    // Anything but /metrics is a 404.
    let mut stream = TcpStream::connect(&b_metrics).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"));

    let c_log = c.stop();
    let b_log = b.stop();
    let a_log = a.stop();
    println!("node B reached #256 {b_took:?} after it started");
    for (name, log) in [("A", &a_log), ("B", &b_log), ("C", &c_log)] {
        assert!(!log.contains("peer reported"), "node {name} reported a peer:\n{log}");
    }
    // The synced databases hold the same chain as the fixture.
    for base in [&base_b, &base_c] {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["check-block", "--chain", &spec(), "--base-path", base.to_str().unwrap(), "256"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(WESTEND_256), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn node_refuses_bad_flags_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["--chain", &spec(), "--base-path", dir.path().to_str().unwrap(), "--bootnodes", "/ip4/127.0.0.1/tcp/1"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("p2p"), "{stderr}");
    assert!(!dir.path().join("chains").exists(), "nothing is written before the flags are checked");
}
