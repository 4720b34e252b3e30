//! The chain database commands end to end on real Westend blocks: `import-blocks` (twice),
//! `export-blocks` and re-import into a fresh database, `check-block`, `purge-chain`, bad
//! input, and crash safety under `kill -9`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use weft_chain_store::{ChainStore, StoreConfig};

const WESTEND_256: &str = "0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf";

fn fixture(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(relative).display().to_string()
}

fn spec() -> String {
    fixture("chain-specs/full-raw/westend.json")
}

fn blocks() -> String {
    fixture("blocks/westend/westend_blocks_1-256.json")
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft")).args(args).env_remove("RUST_LOG").output().expect("weft runs")
}

fn last_json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line =
        stdout.lines().last().unwrap_or_else(|| panic!("no stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

fn import(base: &Path, file: &str) -> serde_json::Value {
    let out = weft(&["import-blocks", "--chain", &spec(), "--base-path", base.to_str().unwrap(), file]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    last_json(&out)
}

#[test]
fn import_reimport_export_check_purge() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a");
    let first = import(&base, &blocks());
    assert_eq!(first["imported"], 256);
    assert_eq!(first["best_number"], 256);
    assert_eq!(first["best_hash"], WESTEND_256);
    assert_eq!(first["finalized_number"], 0);
    println!("first import: {first}");

    let again = import(&base, &blocks());
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_known"], 256);
    assert_eq!(again["best_hash"], WESTEND_256);

    let exported = dir.path().join("exported.json");
    let out =
        weft(&["export-blocks", "--chain", &spec(), "--base-path", base.to_str().unwrap(), exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(last_json(&out)["exported"], 256);
    let fresh = dir.path().join("b");
    let reimported = import(&fresh, exported.to_str().unwrap());
    assert_eq!(reimported["imported"], 256);
    assert_eq!(reimported["best_hash"], WESTEND_256);

    let out = weft(&["check-block", "--chain", &spec(), "--base-path", fresh.to_str().unwrap(), "256"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let checked = last_json(&out);
    assert_eq!(checked["ok"], true);
    assert_eq!(checked["hash"], WESTEND_256);

    let out = weft(&["purge-chain", "--chain", &spec(), "--base-path", fresh.to_str().unwrap(), "-y"]);
    assert!(out.status.success());
    assert_eq!(last_json(&out)["purged"], true);
    assert!(!fresh.join("chains/westend2/db").exists());
}

#[test]
fn bad_input_is_one_line_and_keeps_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // A blocks file whose #3 has a corrupted extrinsic: #1 and #2 are imported, #3 is
    // refused with its number and reason, the database keeps #2.
    let text = std::fs::read_to_string(blocks()).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b = &mut file["blocks"].as_array_mut().unwrap()[2]["body_extrinsics_hex"][0];
    let hex = b.as_str().unwrap().to_string();
    *b = serde_json::Value::String(format!("{}{}", &hex[..hex.len() - 1], if hex.ends_with('0') { "1" } else { "0" }));
    file["blocks"].as_array_mut().unwrap().truncate(3);
    let path = base.join("bad.json");
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let out =
        weft(&["import-blocks", "--chain", &spec(), "--base-path", base.to_str().unwrap(), path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("block #3") && stderr.contains("extrinsics root"), "{stderr}");
    let summary = last_json(&out);
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["best_number"], 2);

    // Not a blocks file at all.
    std::fs::write(base.join("junk.json"), b"{\"blocks\": 7}").unwrap();
    let out = weft(&[
        "import-blocks",
        "--chain",
        &spec(),
        "--base-path",
        base.to_str().unwrap(),
        base.join("junk.json").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("not a blocks file"), "{stderr}");
}

/// A tiny deterministic generator for the kill delays.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn survives_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    // How long an uninterrupted import takes here (with a warm runtime cache).
    let probe = dir.path().join("probe");
    import(&probe, &blocks());
    std::fs::remove_dir_all(probe.join("chains/westend2/db")).unwrap();
    let started = Instant::now();
    import(&probe, &blocks());
    let full = started.elapsed();

    let base = dir.path().join("crash");
    let db = base.join("chains/westend2/db");
    // Share the compiled runtime so every run spends its time importing.
    std::fs::create_dir_all(base.join("chains/westend2")).unwrap();
    std::fs::rename(probe.join("chains/westend2/wasm-cache"), base.join("chains/westend2/wasm-cache")).unwrap();
    let mut seed = 0x5eed_u64;
    let mut kills = 0;
    let mut best_seen = Vec::new();
    while kills < 20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["import-blocks", "--chain", &spec(), "--base-path", base.to_str().unwrap(), &blocks()])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = full.mul_f64((next(&mut seed) % 1000) as f64 / 1000.0);
        std::thread::sleep(delay);
        let finished_before_kill = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if !finished_before_kill {
            kills += 1;
        }
        // The store opens and its best block is complete: header, body and a state whose
        // every node hashes correctly up to the header's state root.
        if db.exists() {
            let store = ChainStore::open(&db, StoreConfig::default()).unwrap();
            if store.genesis_hash().unwrap().is_some() {
                let (number, hash) = store.best().unwrap();
                let header = store.header(&hash).unwrap().expect("best header");
                assert_eq!(header.number, number);
                assert!(store.body(&hash).unwrap().is_some());
                let nodes = store.verify_state(&hash).unwrap();
                assert!(nodes > 0);
                assert_eq!(store.verify_reference_counts().unwrap(), 0, "after kill {kills}");
                best_seen.push(number);
                if number == 256 {
                    // Start over so that the next run has blocks to import.
                    drop(store);
                    std::fs::remove_dir_all(&db).unwrap();
                }
            }
        }
    }
    println!("killed {kills} times after delays within {full:?}; best block after each: {best_seen:?}");
    let resumed_from = best_seen.last().copied().unwrap_or(0);
    let done = import(&base, &blocks());
    println!("resumed from #{resumed_from}: {done}");
    assert_eq!(done["best_number"], 256);
    assert_eq!(done["best_hash"], WESTEND_256);
    let mid_import = best_seen.iter().filter(|n| **n > 0 && **n < 256).count();
    assert!(mid_import >= 5, "too few kills landed mid-import: {best_seen:?}");
    let _ = Duration::ZERO;
}

#[test]
fn import_from_a_state_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(blocks()).unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let all = file["blocks"].as_array().unwrap();
    let write = |name: &str, range: std::ops::Range<usize>| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec(&serde_json::json!({"blocks": all[range].to_vec()})).unwrap())
            .unwrap();
        path.display().to_string()
    };
    let first_half = write("1-128.json", 0..128);
    let second_half = write("129-256.json", 128..256);
    let a = dir.path().join("a");
    assert_eq!(import(&a, &first_half)["best_number"], 128);
    // The state of #128 as `state_getPairs` output.
    let pairs = {
        let store = ChainStore::open(&a.join("chains/westend2/db"), StoreConfig::default()).unwrap();
        let (_, hash) = store.best().unwrap();
        let view = store.state_at(&hash).unwrap();
        let pairs: Vec<[String; 2]> = view
            .pairs(b"", usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(k, v)| [format!("0x{}", hex::encode(k)), format!("0x{}", hex::encode(v))])
            .collect();
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": pairs})
    };
    let pairs_path = dir.path().join("pairs-128.json");
    std::fs::write(&pairs_path, serde_json::to_vec(&pairs).unwrap()).unwrap();
    let b = dir.path().join("b");
    let out = weft(&[
        "import-blocks",
        "--chain",
        &spec(),
        "--base-path",
        b.to_str().unwrap(),
        "--state",
        pairs_path.to_str().unwrap(),
        &second_half,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = last_json(&out);
    assert_eq!(summary["imported"], 128);
    assert_eq!(summary["best_hash"], WESTEND_256);
    println!("from the #128 snapshot ({} pairs): {summary}", pairs["result"].as_array().unwrap().len());

    // A snapshot with one value changed is refused at the first block.
    let mut bad = pairs.clone();
    let entry = &mut bad["result"].as_array_mut().unwrap()[5][1];
    *entry = serde_json::Value::String(format!("{}00", entry.as_str().unwrap()));
    std::fs::write(&pairs_path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let c = dir.path().join("c");
    let out = weft(&[
        "import-blocks",
        "--chain",
        &spec(),
        "--base-path",
        c.to_str().unwrap(),
        "--state",
        pairs_path.to_str().unwrap(),
        &second_half,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("block #129"), "{stderr}");
    assert_eq!(last_json(&out)["imported"], 0);
}

#[test]
fn run_fills_the_chain_slots_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a");
    let text = std::fs::read_to_string(blocks()).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    file["blocks"].as_array_mut().unwrap().truncate(3);
    let path = dir.path().join("3.json");
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    assert_eq!(import(&base, path.to_str().unwrap())["best_number"], 3);
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--chain", &spec(), "--base-path", base.to_str().unwrap(), "--run-for", "0.5"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    for slot in ["chain_store", "block_import", "runtime_executor", "candidate_validation"] {
        let line = stderr
            .lines()
            .find(|l| l.contains("slot filled") && l.contains(&format!("slot={slot} ")))
            .unwrap_or_else(|| panic!("no line for {slot}: {stderr}"));
        assert!(line.contains("implementation=default"), "{line}");
    }
    assert!(stderr.contains("best_number") && stderr.contains("node stopped cleanly"), "{stderr}");
}

/// Removes terminal colour sequences (`ESC [ ... m`) from log output.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
