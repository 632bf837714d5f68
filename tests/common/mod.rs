//! Helpers shared by the integration tests: run the built binary and read its JSON.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of a file under the project root.
pub fn project_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `alpnscope` with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("the alpnscope binary runs")
}

/// Runs `alpnscope analyze --format json` on `path`, asserts exit 0, returns the document.
pub fn analyze_json(path: &str, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(path);
    let out = run(&args);
    assert!(
        out.status.success(),
        "alpnscope failed on {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// Strings of a JSON array.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Numbers of a JSON array.
pub fn numbers(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_u64().unwrap_or(u64::MAX)).collect())
        .unwrap_or_default()
}
