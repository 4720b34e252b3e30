#[test]
fn dump() {
    for (f, s) in [("ticker-store.toml", 7), ("ticker-store.toml", 8), ("crash-restart.toml", 7)] {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../integration-tests/scenarios").join(f);
        let r = weft_sim::run_scenario_file(&p, Some(s), &weft_sim::example_registry()).unwrap();
        println!("=== {f} seed {s}\n{}\n{}\ntimeline {}", r.timeline_text(), r.summary(), r.timeline_hash_hex());
    }
}
