//! `files "/mount" before|after { ... }` clauses of examples: which mount, which paths, which
//! contents. The result goes straight into the IR (contents are text, no schema applies).

use super::{code, duplicate, suggest, values, Ctx};
use crate::ast::{self, FilesPhase, ValueKind};
use crate::{ir, Diagnostic, Span};
use std::collections::BTreeMap;

/// Files per clause. A seeded folder is a test scenario, not a data set; the bound keeps a
/// runaway generator or paste from producing a spec whose examples take minutes to set up.
const MAX_FILES: usize = 256;
/// Bytes of contents per clause: the compiler's limit for one fixture file (8 MiB), so a clause
/// holds no more than one large fixture would.
const MAX_BYTES: usize = 8 << 20;
/// Linux `PATH_MAX` and `NAME_MAX`.
const MAX_PATH_BYTES: usize = 4096;
const MAX_NAME_BYTES: usize = 255;

/// Files by mount target, then by path.
pub(super) type MountFiles = BTreeMap<String, BTreeMap<String, String>>;

/// The `before` and `after` states of one example; `None` when a clause was invalid (reported).
pub(super) fn check_files(
    ctx: &mut Ctx,
    mounts: &[ir::Mount],
    example: &ast::Example,
) -> Option<(MountFiles, MountFiles)> {
    let mut before = MountFiles::new();
    let mut after = MountFiles::new();
    let mut first: BTreeMap<(&str, FilesPhase), Span> = BTreeMap::new();
    let mut complete = true;
    for clause in &example.files {
        let phase = clause.phase.node;
        let key = (clause.mount.node.as_str(), phase);
        if let Some(first) = first.get(&key) {
            ctx.report(repeated(clause, *first));
            complete = false;
            continue;
        }
        first.insert(key, clause.span);
        let mount_ok = check_mount(ctx, mounts, clause);
        let files = check_entries(ctx, clause);
        match (mount_ok, files) {
            (true, Some(files)) => {
                let states = match phase {
                    FilesPhase::Before => &mut before,
                    FilesPhase::After => &mut after,
                };
                states.insert(clause.mount.node.clone(), files);
            }
            _ => complete = false,
        }
    }
    complete.then_some((before, after))
}

fn phase_word(phase: FilesPhase) -> &'static str {
    match phase {
        FilesPhase::Before => "before",
        FilesPhase::After => "after",
    }
}

fn repeated(clause: &ast::FilesClause, first: Span) -> Diagnostic {
    let phase = phase_word(clause.phase.node);
    Diagnostic::error(
        code::REPEATED_ITEM,
        format!(
            "this example already states the files of `{}` {phase} the call",
            clause.mount.node
        ),
        clause.span,
    )
    .with_label(format!("second `files ... {phase}`"))
    .with_secondary(first, "first stated here")
    .with_help("merge the two clauses into one")
}

/// The clause names a declared mount, and `after` only a writable one.
fn check_mount(ctx: &mut Ctx, mounts: &[ir::Mount], clause: &ast::FilesClause) -> bool {
    let target = &clause.mount;
    let Some(mount) = mounts.iter().find(|mount| mount.target == target.node) else {
        let help = suggest::help(
            &target.node,
            mounts.iter().map(|mount| mount.target.as_str()),
            || {
                if mounts.is_empty() {
                    "declare the folder first: `filesystem { mount \"/host/dir\" at \"/data\" rw }`"
                        .to_owned()
                } else {
                    let targets: Vec<String> = mounts
                        .iter()
                        .map(|mount| format!("`{}`", mount.target))
                        .collect();
                    format!("the declared mount targets are {}", targets.join(", "))
                }
            },
        );
        ctx.report(
            Diagnostic::error(
                code::UNKNOWN_MOUNT,
                format!("`{}` is not a declared mount target", target.node),
                target.span,
            )
            .with_label("no `filesystem` mount is at this path")
            .with_help(help),
        );
        return false;
    };
    if clause.phase.node == FilesPhase::After && mount.mode == ir::MountMode::Ro {
        ctx.report(
            Diagnostic::error(
                code::READ_ONLY_AFTER,
                format!("`{}` is mounted read-only, so the call cannot change it", target.node),
                clause.phase.span,
            )
            .with_label("`after` states what a call changed")
            .with_help("drop this clause (the folder holds its `before` files afterwards), or mount it `rw` if the tool must write there"),
        );
        return false;
    }
    true
}

/// Path → contents; `None` after reporting every problem of the clause.
fn check_entries(ctx: &mut Ctx, clause: &ast::FilesClause) -> Option<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut first: BTreeMap<&str, Span> = BTreeMap::new();
    let mut complete = true;
    let mut bytes = 0usize;
    if clause.entries.len() > MAX_FILES {
        ctx.report(too_large(
            clause,
            format!("{} files", clause.entries.len()),
            format!("at most {MAX_FILES} files"),
        ));
        complete = false;
    }
    for entry in &clause.entries {
        let path = &entry.path;
        if let Some(problem) = path_problem(&path.node) {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_FILE_PATH,
                    if path.node.is_empty() {
                        "an empty file path".to_owned()
                    } else {
                        // Escaped: a control character in the path must not reach the terminal.
                        format!("`{}` is not a valid file path in a mount", path.node.escape_debug())
                    },
                    path.span,
                )
                .with_label(problem)
                .with_help("write a path relative to the mount, with `/` between folder names, e.g. \"work/todo.md\""),
            );
            complete = false;
            continue;
        }
        if let Some(first) = first.get(path.node.as_str()) {
            ctx.report(duplicate("file", &path.node, path.span, *first));
            complete = false;
            continue;
        }
        first.insert(&path.node, path.span);
        let contents = match &entry.contents.kind {
            ValueKind::String(text) => Some(text.clone()),
            ValueKind::File(fixture) => values::text_file(ctx, fixture),
            // The grammar admits only the two above.
            _ => None,
        };
        match contents {
            Some(contents) => {
                bytes = bytes.saturating_add(contents.len());
                files.insert(path.node.clone(), contents);
            }
            None => complete = false,
        }
    }
    if bytes > MAX_BYTES {
        ctx.report(too_large(
            clause,
            format!("{bytes} bytes of contents"),
            format!("at most {} MiB", MAX_BYTES >> 20),
        ));
        complete = false;
    }
    let conflict = file_and_folder(&first)
        .and_then(|(file, folder)| Some((file, *first.get(file)?, *first.get(folder)?)));
    if let Some((file, file_span, folder_span)) = conflict {
        ctx.report(
            Diagnostic::error(
                code::INVALID_FILE_PATH,
                format!("`{file}` is both a file and a folder"),
                folder_span,
            )
            .with_label(format!("needs `{file}` to be a folder"))
            .with_secondary(file_span, "stated as a file here")
            .with_help("rename one of the two: a path cannot be a file and hold files"),
        );
        complete = false;
    }
    complete.then_some(files)
}

fn too_large(clause: &ast::FilesClause, size: String, bound: String) -> Diagnostic {
    Diagnostic::error(
        code::FILES_TOO_LARGE,
        format!("this `files` clause holds {size}"),
        clause.mount.span,
    )
    .with_label(format!("{bound} per clause"))
    .with_help(
        "keep examples small: a few files that show the behaviour, not a copy of a real folder",
    )
}

/// A path that is a file and also the folder of another path: `("work", "work/todo.md")`.
fn file_and_folder<'a>(paths: &BTreeMap<&'a str, Span>) -> Option<(&'a str, &'a str)> {
    paths.keys().find_map(|path| {
        path.match_indices('/').find_map(|(slash, _)| {
            paths
                .get_key_value(&path[..slash])
                .map(|(file, _)| (*file, *path))
        })
    })
}

/// Why `path` cannot name a file inside a mount. Hidden names (`.obsidian/app.json`) are allowed
/// on purpose: integrations that must skip them need examples that prove they do.
fn path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("the path is empty".to_owned());
    }
    if path.starts_with('/') {
        return Some("starts with `/`: paths are relative to the mount".to_owned());
    }
    if path.len() > MAX_PATH_BYTES {
        return Some(format!("longer than {MAX_PATH_BYTES} bytes"));
    }
    if path.contains('\\') {
        return Some("contains `\\`: separate folders with `/`".to_owned());
    }
    if path.chars().any(char::is_control) {
        return Some("contains a control character".to_owned());
    }
    for segment in path.split('/') {
        let problem = match segment {
            "" => "has an empty segment (`//` or a trailing `/`)".to_owned(),
            "." | ".." => {
                format!("has a `{segment}` segment: paths are normalised and stay inside the mount")
            }
            long if long.len() > MAX_NAME_BYTES => {
                format!("has a name longer than {MAX_NAME_BYTES} bytes")
            }
            _ => continue,
        };
        return Some(problem);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{file_and_folder, path_problem};
    use crate::Span;
    use std::collections::BTreeMap;

    #[test]
    fn paths_stay_inside_the_mount() {
        for ok in [
            "ideas.md",
            "work/todo.md",
            ".obsidian/app.json",
            "a b/c-d_e.md",
        ] {
            assert_eq!(path_problem(ok), None, "{ok}");
        }
        for bad in [
            "", "/abs.md", "a//b", "a/", "../x", "a/./b", "a\\b", "a\tb", "a/..",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
        assert!(path_problem(&"x".repeat(256)).is_some());
        assert_eq!(path_problem(&"x".repeat(255)), None);
    }

    #[test]
    fn a_file_cannot_be_a_folder() {
        let span = Span::new(0, 0);
        let paths: BTreeMap<&str, Span> = [("work", span), ("work/a/todo.md", span), ("x", span)]
            .into_iter()
            .collect();
        assert_eq!(file_and_folder(&paths), Some(("work", "work/a/todo.md")));
        let paths: BTreeMap<&str, Span> = [("work.md", span), ("work/todo.md", span)]
            .into_iter()
            .collect();
        assert_eq!(file_and_folder(&paths), None);
    }
}
