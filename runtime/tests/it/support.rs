//! Shared test plumbing: deciding whether a backend's suite runs, fails or skips loudly.
//!
//! A suite that needs a real part (bubblewrap, a Docker engine) runs when the part is there.
//! When it is missing: under `CI=true` (or `CLAWC_REQUIRE_BACKENDS=1`) the test *fails*; on a
//! developer machine it prints why it skipped — never silently.

#![allow(dead_code, reason = "each suite uses what it needs")]
#![allow(
    clippy::print_stderr,
    reason = "a skip must be visible in the test output"
)]

/// Whether missing real parts must fail the run.
pub fn backends_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("CLAWC_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// Returns `true` when the test should go on. `missing` is `Some(reason)` when the part is absent.
pub fn require(part: &str, missing: Option<String>) -> bool {
    match missing {
        None => true,
        Some(reason) if backends_required() => {
            panic!("{part} is required here (CI=true) but unavailable: {reason}")
        }
        Some(reason) => {
            eprintln!("SKIPPED: {part} unavailable: {reason} (set CI=true to make this a failure)");
            false
        }
    }
}

/// A policy whose only way out is replay of one plain-HTTP fixture: `GET url` on `host:80`
/// answers `body`. Both backends' egress tests use it.
pub fn replay_one(host: &str, url: &str, body: &[u8]) -> claw_runtime::Policy {
    use claw_runtime::policy::{EgressMode, Fixture, HostPattern, NetworkPolicy};
    claw_runtime::Policy {
        network: NetworkPolicy {
            allow: vec![HostPattern {
                host: host.into(),
                port: 80,
            }],
            mode: EgressMode::Replay(vec![Fixture {
                method: "GET".into(),
                url: url.into(),
                request_body: None,
                status: 200,
                content_type: Some("text/plain".into()),
                body: body.to_vec(),
            }]),
            ..NetworkPolicy::default()
        },
        ..claw_runtime::Policy::default()
    }
}
