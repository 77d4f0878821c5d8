//! The generated code's contract: which files a generator may write, and where things are in
//! the sandboxes. One place, used by the prompt, the generators' own write checks and intake.

/// The folder (relative to the workspace and to the golden tree) that holds everything the
/// generator writes: `tools.py` with one function per tool, and any helper modules beside it.
pub const OUTPUT_DIR: &str = "generated";

/// The one file every candidate must have.
pub const TOOLS_FILE: &str = "generated/tools.py";

/// Largest file a candidate may hold.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Most files a candidate may hold.
pub const MAX_FILES: usize = 64;

/// Where a generator sandbox mounts the workspace (read-write, its only writable mount).
#[allow(
    dead_code,
    reason = "the claude-code generator mounts it; it lands next"
)]
pub const WORKSPACE_INSIDE: &str = "/workspace";

/// Where an acceptance (and, later, a gateway) sandbox mounts the integration's tree, read-only.
pub const CODE_INSIDE: &str = "/opt/clawc/integration";

/// Why `path` (relative, `/`-separated) is not a file a generator may write: only
/// `generated/<module>.py` with a Python identifier in lower case as the module name, one
/// level deep.
pub fn output_path_problem(path: &str) -> Option<&'static str> {
    let Some(file) = path.strip_prefix("generated/") else {
        return Some("outside the `generated/` folder");
    };
    let Some(module) = file.strip_suffix(".py") else {
        return Some("not a `.py` file");
    };
    let mut chars = module.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Some("not `generated/<module>.py` with a lower-case Python module name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flat_python_modules_under_generated_are_outputs() {
        for good in [
            "generated/tools.py",
            "generated/_feed.py",
            "generated/http2.py",
        ] {
            assert_eq!(output_path_problem(good), None, "{good}");
        }
        for bad in [
            "tools.py",
            "/generated/tools.py",
            "generated/../server.py",
            "generated/sub/x.py",
            "generated/Tools.py",
            "generated/x.txt",
            "generated/.py",
            "generated/1x.py",
            "server.py",
        ] {
            assert!(output_path_problem(bad).is_some(), "{bad}");
        }
    }
}
