//! Hand-authored transcripts for test fixtures: shared by the suites and the benchmarks (which
//! include this file with `#[path]`).

/// A hand-authored transcript (format 1) of `integration` carrying `files` (path, content):
/// what `scripts/hand-transcript.py` packs, for pinning test fixtures through the replay
/// generator. It says it was written by hand.
pub fn hand_transcript(integration: &str, files: &[(&str, &str)]) -> String {
    let mut records = vec![
        serde_json::json!({"type": "start", "format": 1, "integration": integration,
            "author": "hand", "generator": "hand", "generator_version": "-", "model": "none",
            "started": "2026-12-03T00:00:00Z", "note": "written by hand for a test"}),
        serde_json::json!({"type": "attempt", "attempt": 1}),
    ];
    for (path, content) in files {
        records.push(
            serde_json::json!({"type": "file", "attempt": 1, "path": path, "content": content}),
        );
    }
    records.push(
        serde_json::json!({"type": "result", "attempt": 1, "passed": true,
        "usage": {"turns": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
        "python": "Python 3"}),
    );
    records.push(
        serde_json::json!({"type": "end", "accepted": true, "attempts": 1,
        "finished": "2026-12-03T00:00:01Z"}),
    );
    records.iter().map(|r| format!("{r}\n")).collect()
}
