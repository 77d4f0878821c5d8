//! ARCHITECTURE.md's invariants that a test can hold: the two ground-floor crates never import
//! each other, and the pure crate never opts out of the IO ban.

use crate::support::workspace_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).expect("read")
}

#[test]
fn spec_lang_and_runtime_do_not_depend_on_each_other() {
    assert!(
        !read("runtime/Cargo.toml").contains("spec-lang"),
        "runtime must know nothing of the language"
    );
    assert!(
        !read("spec-lang/Cargo.toml").contains("claw-runtime"),
        "spec-lang must know nothing of sandboxes"
    );
}

#[test]
fn spec_lang_never_allows_disallowed_methods() {
    let mut stack = vec![workspace_root().join("spec-lang/src")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    !text.contains("disallowed_methods") && !text.contains("disallowed_types"),
                    "{} opts out of the IO ban",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "found only {checked} source files");
}
