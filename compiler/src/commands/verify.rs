//! `clawc verify` (what CI runs: every pin re-checked from scratch, every example re-run; it
//! never generates) and `clawc test` (the examples against the pinned artifacts, a result per
//! example). Neither trusts the fingerprint cache, and neither runs a tree that does not hash
//! to its lock entry.

use std::path::Path;

use serde_json::json;

use super::build::read_lock;
use super::fuzz;
use super::sandbox::backend;
use super::{discover_project, error, note, print_stdout};
use crate::build::acceptance::{self, ExampleResult};
use crate::build::fingerprint::Cache;
use crate::build::fuzz::run::Options;
use crate::build::lock::{self, Entry, Lock};
use crate::build::plan::{self, PlanError};
use crate::build::project::Project;
use crate::build::{pin, scaffold};
use crate::cli::{Backend, DiagnosticFormat, Global};
use crate::exit;
use crate::review::capability::Capabilities;
use crate::review::locate::SpecLines;
use crate::review::signoff::{self, SshKeygen, Verdict, SIGNERS_FILE};
use crate::review::snapshot::{Revision, Snapshot, SnapshotError};

/// One thing that does not hold, naming the file (and, for a tree, the file inside it).
#[derive(Debug)]
struct Problem {
    file: String,
    /// The line in `file` the problem is on, when there is one (for annotations).
    line: Option<usize>,
    message: String,
}

/// `signers_from`: with `--require-signoff`, the revision whose signers file is trusted;
/// `hardening`: with `--fuzz`, the hardening run after the examples.
pub fn run(
    format: DiagnosticFormat,
    backend_choice: Backend,
    signers_from: Option<&str>,
    hardening: Option<Options>,
    global: &Global,
) -> i32 {
    with_runtime(async {
        let project = match project(global) {
            Ok(project) => project,
            Err(code) => return code,
        };
        let mut problems = Vec::new();
        let lock = match read_lock(&project) {
            Ok((lock, canonical)) => {
                if !canonical {
                    problems.push(Problem {
                        file: lock::FILE.to_owned(),
                        message: "differs from its canonical rendering (edited by hand?); \
                                  `clawc build` writes it"
                            .to_owned(),
                        line: None,
                    });
                }
                lock
            }
            Err(message) => {
                problems.push(Problem {
                    file: lock::FILE.to_owned(),
                    message,
                    line: None,
                });
                return finish(&problems, &[], format);
            }
        };
        let specs = match plan::spec_paths(&project, &[]) {
            Ok(specs) => specs,
            Err(e) => {
                error(e);
                return exit::USAGE;
            }
        };
        for (name, path) in &specs {
            if !lock.integration.contains_key(name) {
                problems.push(Problem {
                    file: project.relative(path),
                    message: format!("`{name}` is not pinned in claw.lock; run `clawc build`"),
                    line: None,
                });
            }
        }
        for name in lock.integration.keys() {
            if !specs.iter().any(|(spec, _)| spec == name) {
                problems.push(Problem {
                    file: lock::FILE.to_owned(),
                    message: format!("`{name}` is pinned but there is no specs/{name}.claw"),
                    line: None,
                });
            }
        }
        if let Ok(entries) = std::fs::read_dir(project.golden()) {
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                if !lock.integration.contains_key(&name) {
                    problems.push(Problem {
                        file: format!("golden/{name}"),
                        message: "a golden folder with no entry in claw.lock".to_owned(),
                        line: None,
                    });
                }
            }
        }
        let mut runnable = Vec::new();
        for (name, path) in &specs {
            let Some(entry) = lock.integration.get(name) else {
                continue;
            };
            match check_pin(&project, name, path, entry) {
                Ok(loaded) => runnable.push((name.clone(), loaded)),
                Err(found) => problems.extend(found),
            }
        }
        if let Some(revision) = signers_from {
            match signoff_problems(&project, &lock, &runnable, revision) {
                Ok(found) => problems.extend(found),
                Err(e) => {
                    error(e);
                    return exit::USAGE;
                }
            }
        }
        let sandbox = match backend(backend_choice, None).await {
            Ok(sandbox) => sandbox,
            Err(e) => {
                error(e);
                return exit::FAILURE;
            }
        };
        let mut results = Vec::new();
        for (name, loaded) in &runnable {
            match acceptance::run_all(sandbox.as_ref(), &loaded.ir, &project.tree(name)).await {
                Ok(ran) => {
                    for result in &ran {
                        if let Some(failure) = &result.failure {
                            problems.push(Problem {
                                file: format!("specs/{name}.claw"),
                                message: format!(
                                    "example {:?} fails against golden/{name}/: {failure}",
                                    result.name
                                ),
                                line: None,
                            });
                        }
                    }
                    results.push((name.clone(), ran));
                }
                Err(e) => problems.push(Problem {
                    file: format!("golden/{name}"),
                    message: e.to_string(),
                    line: None,
                }),
            }
        }
        if let Some(options) = hardening {
            let found = fuzz::verify(sandbox.as_ref(), &project, &runnable, options, global).await;
            problems.extend(found.into_iter().map(|f| Problem {
                file: f.file,
                line: None,
                message: f.message,
            }));
        }
        if problems.is_empty() {
            let examples: usize = results.iter().map(|(_, r)| r.len()).sum();
            note(
                global,
                format!(
                    "verified {} pinned integrations; {examples} examples pass",
                    runnable.len()
                ),
            );
        }
        finish(&problems, &results, format)
    })
}

/// Every pinned integration whose capabilities no valid sign-off covers. The signers file is
/// read from `revision`, never from the work tree: a change cannot vouch for itself.
fn signoff_problems(
    project: &Project,
    lock: &Lock,
    runnable: &[(String, plan::Loaded)],
    revision: &str,
) -> Result<Vec<Problem>, SnapshotError> {
    let trusted = Revision::open(&project.root, revision)?;
    let signers = trusted.read(SIGNERS_FILE)?;
    let mut problems = Vec::new();
    for (name, loaded) in runnable {
        let spec_file = format!("specs/{name}.claw");
        let current = match Capabilities::of(&loaded.ir) {
            Ok(current) => current,
            Err(e) => {
                problems.push(Problem {
                    file: spec_file,
                    line: None,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let Some(signers) = &signers else {
            problems.push(Problem {
                file: SIGNERS_FILE.to_owned(),
                line: None,
                message: format!(
                    "there is no {SIGNERS_FILE} in {}, so no sign-off of `{name}` can be trusted",
                    trusted.describe()
                ),
            });
            continue;
        };
        let verdict = signoff::check(&SshKeygen, name, lock.signoff.get(name), &current, signers);
        match verdict {
            Verdict::Holds => {}
            Verdict::Widens(changes) => {
                let lines = SpecLines::new(&loaded.source);
                for change in changes {
                    problems.push(Problem {
                        file: spec_file.clone(),
                        line: lines.line(&change.subject),
                        message: format!(
                            "`{name}` widens beyond its signed-off capabilities: {}; a reviewer \
                             runs `clawc review approve {name}`",
                            change.text
                        ),
                    });
                }
            }
            Verdict::Missing => problems.push(Problem {
                file: lock::FILE.to_owned(),
                line: None,
                message: format!(
                    "`{name}` has no sign-off of its capabilities; a reviewer in {SIGNERS_FILE} \
                     runs `clawc review approve {name}`"
                ),
            }),
            other => problems.push(Problem {
                file: lock::FILE.to_owned(),
                line: None,
                message: format!(
                    "the sign-off of `{name}` does not hold against {SIGNERS_FILE} of {}: {}",
                    trusted.describe(),
                    other
                ),
            }),
        }
    }
    Ok(problems)
}

/// The spec and tree of one pin, checked against its entry without any cache.
fn check_pin(
    project: &Project,
    name: &str,
    path: &Path,
    entry: &Entry,
) -> Result<plan::Loaded, Vec<Problem>> {
    let relative = project.relative(path);
    let mut problems = Vec::new();
    let mut scratch = Cache::default();
    let loaded = match plan::load(path, &mut scratch) {
        Ok(loaded) => Some(loaded),
        Err(PlanError::Invalid(_)) => {
            problems.push(Problem {
                file: relative.clone(),
                message: "the spec has errors; see `clawc check`".to_owned(),
                line: None,
            });
            None
        }
        Err(e) => {
            problems.push(Problem {
                file: relative.clone(),
                message: e.to_string(),
                line: None,
            });
            None
        }
    };
    if let Some(loaded) = &loaded {
        if loaded.spec_hash != entry.spec_hash {
            problems.push(Problem {
                file: relative.clone(),
                message: format!(
                    "its hash {} is not the pinned {}; run `clawc build {name}`",
                    loaded.spec_hash, entry.spec_hash
                ),
                line: None,
            });
        }
    }
    if entry.spec != relative {
        problems.push(Problem {
            file: lock::FILE.to_owned(),
            message: format!("`{name}` names spec {}, found {relative}", entry.spec),
            line: None,
        });
    }
    let tree_problems = plan::tree_problems(project, name, entry, &mut Cache::default());
    if tree_problems.is_empty() {
        // The tree is authentic, so its transcript says who wrote the code: the lock must too.
        if let Some(problem) = plan::generator_mismatch(project, name, entry) {
            problems.push(Problem {
                file: lock::FILE.to_owned(),
                message: problem,
                line: None,
            });
        }
    }
    for found in tree_problems {
        let (file, message) = match found.split_once(": ") {
            Some((file, message)) => (project.relative(Path::new(file)), message.to_owned()),
            None => (format!("golden/{name}"), found.clone()),
        };
        problems.push(Problem {
            file,
            message,
            line: None,
        });
    }
    if entry.toolchain != plan::toolchain() || entry.template_hash != scaffold::template_hash() {
        problems.push(Problem {
            file: lock::FILE.to_owned(),
            message: format!(
                "`{name}` was pinned by {} with scaffold {}; this is {} with {}: run `clawc build` \
                 (it re-renders without a model)",
                entry.toolchain,
                entry.template_hash,
                plan::toolchain(),
                scaffold::template_hash()
            ),
            line: None,
        });
    }
    match (problems.is_empty(), loaded) {
        (true, Some(loaded)) => Ok(loaded),
        _ => Err(problems),
    }
}

fn finish(
    problems: &[Problem],
    results: &[(String, Vec<ExampleResult>)],
    format: DiagnosticFormat,
) -> i32 {
    for problem in problems {
        match format {
            DiagnosticFormat::Human => error(format!("{}: {}", problem.file, problem.message)),
            DiagnosticFormat::Json => print_stdout(&format!(
                "{}\n",
                json!({
                    "file": problem.file,
                    "line": problem.line,
                    "message": problem.message,
                    "severity": "error",
                })
            )),
            DiagnosticFormat::Github => print_stdout(&format!(
                "::error file={}{}::{}\n",
                problem.file,
                problem
                    .line
                    .map(|l| format!(",line={l}"))
                    .unwrap_or_default(),
                problem
                    .message
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
            )),
        }
    }
    if format == DiagnosticFormat::Json {
        for (name, ran) in results {
            for result in ran {
                print_stdout(&format!(
                    "{}\n",
                    json!({"integration": name, "example": result.name, "passed": result.passed()})
                ));
            }
        }
    }
    if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILURE
    }
}

pub fn test(
    names: &[String],
    backend_choice: Backend,
    hardening: Option<Options>,
    global: &Global,
) -> i32 {
    with_runtime(async {
        let project = match project(global) {
            Ok(project) => project,
            Err(code) => return code,
        };
        let lock = match read_lock(&project) {
            Ok((lock, _)) => lock,
            Err(message) => {
                error(message);
                return exit::FAILURE;
            }
        };
        let specs = match plan::spec_paths(&project, names) {
            Ok(specs) => specs,
            Err(e) => {
                error(e);
                return exit::USAGE;
            }
        };
        let sandbox = match backend(backend_choice, None).await {
            Ok(sandbox) => sandbox,
            Err(e) => {
                error(e);
                return exit::FAILURE;
            }
        };
        let (mut passed, mut failed) = (0, 0);
        let mut code = exit::OK;
        let mut pins = Vec::new();
        for (name, path) in &specs {
            let Some(entry) = lock.integration.get(name) else {
                if !names.is_empty() {
                    error(format!("{name}: not pinned; run `clawc build {name}`"));
                    code = exit::FAILURE;
                }
                continue;
            };
            let loaded = match check_pin(&project, name, path, entry) {
                Ok(loaded) => loaded,
                Err(problems) => {
                    for problem in problems {
                        error(format!("{name}: {}: {}", problem.file, problem.message));
                    }
                    code = exit::FAILURE;
                    continue;
                }
            };
            match acceptance::run_all(sandbox.as_ref(), &loaded.ir, &project.tree(name)).await {
                Ok(results) => {
                    for result in results {
                        let time = format!("{:.2}s", result.elapsed.as_secs_f64());
                        match &result.failure {
                            None => {
                                passed += 1;
                                print_stdout(&format!("PASS {name} / {} ({time})\n", result.name));
                            }
                            Some(failure) => {
                                failed += 1;
                                code = exit::FAILURE;
                                print_stdout(&format!("FAIL {name} / {} ({time})\n", result.name));
                                for line in failure.lines() {
                                    print_stdout(&format!("    {line}\n"));
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    error(format!("{name}: {e}"));
                    code = exit::FAILURE;
                }
            }
            if hardening.is_some() {
                pins.push((name.clone(), loaded));
            }
        }
        note(global, format!("{passed} passed, {failed} failed"));
        if let Some(options) = hardening {
            if !fuzz::test(sandbox.as_ref(), &project, &pins, options, global).await {
                code = exit::FAILURE;
            }
        }
        code
    })
}

fn project(global: &Global) -> Result<Project, i32> {
    let project = discover_project()?;
    match pin::recover(&project) {
        Ok(recovered) => recovered.iter().for_each(|r| note(global, r)),
        Err(e) => {
            error(format!("recovering an interrupted pin: {e}"));
            return Err(exit::FAILURE);
        }
    }
    Ok(project)
}

fn with_runtime(work: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => {
            error(format!("cannot start the async runtime: {e}"));
            exit::USAGE
        }
    }
}
