//! Running the `calbridge` binary as a user would, for the CLI tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs the binary in `dir` (so that default files land there), stdin closed.
pub(crate) fn calbridge(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calbridge"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the calbridge binary runs")
}

/// Runs the binary in `dir` with `input` on stdin, as a user typing at the prompt.
pub(crate) fn calbridge_typing(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_calbridge"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the calbridge binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // The binary may exit without reading (nothing to confirm): a broken pipe is fine.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().expect("the calbridge binary ends")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{}", stdout(out)))
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The operations of a plan (`plan --json`, `preview --json`) on one side, of one kind.
pub(crate) fn ops<'a>(plan: &'a Value, target: &str, action: &str) -> Vec<&'a Value> {
    plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|op| op["target"] == target && op["action"] == action)
        .collect()
}
