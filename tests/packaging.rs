//! What a packager relies on: `rust-version` in Cargo.toml is a real
//! minimum. Only one toolchain is at hand, so the minimum cannot be found by
//! building with older ones; it is at least the highest `rust-version` any
//! dependency declares (cargo refuses to build one on an older compiler) and
//! edition 2024's 1.85. This fails when a dependency update raises the bar
//! and Cargo.toml is not raised with it.

use std::process::Command;

/// "1.88" or "1.88.0" as comparable numbers.
fn version(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| {
        p.parse::<u64>()
            .unwrap_or_else(|_| panic!("not a Rust version: {v:?}"))
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    (major, minor, patch)
}

#[test]
fn rust_version_is_at_least_every_dependencys_and_edition_2024s() {
    let ours = env!("CARGO_PKG_RUST_VERSION");
    assert!(!ours.is_empty(), "Cargo.toml has no rust-version");
    assert!(
        version(ours) >= (1, 85, 0),
        "edition 2024 needs Rust 1.85, Cargo.toml says {ours}"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let in_graph: std::collections::HashSet<&str> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let mut checked = 0;
    let mut too_new = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        if p["name"] == "calltop" || !p["id"].as_str().is_some_and(|id| in_graph.contains(id)) {
            continue;
        }
        checked += 1;
        if let Some(theirs) = p["rust_version"].as_str()
            && version(theirs) > version(ours)
        {
            too_new.push(format!(
                "{} {} needs {theirs}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            ));
        }
    }
    // A graph this small would mean the metadata was not what we think.
    assert!(checked > 100, "only {checked} dependencies in the metadata");
    assert!(
        too_new.is_empty(),
        "Cargo.toml says rust-version = {ours:?}, but: {}",
        too_new.join("; ")
    );
}
