//! `clawc build`: the CLI edge of the pipeline — plan, run the stale specs' builds (bounded by
//! `--jobs`), pin each accepted one, report per spec with progress bars, plain lines or JSON.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;

use super::check::report as report_diagnostics;
use super::sandbox::backend;
use super::{discover_project, error, note, print_stdout};
use crate::build::acceptance;
use crate::build::anthropic::{AnthropicGenerator, LoopConfig};
use crate::build::claude_code::ClaudeCodeGenerator;
use crate::build::clock::SystemClock;
use crate::build::fingerprint::{self, Cache, TreePrint};
use crate::build::generator::{GenerateOptions, Generator};
use crate::build::lock::{Entry, Lock};
use crate::build::model_api::ModelApi;
use crate::build::pipeline::{self, BuildError, Built, Job};
use crate::build::plan::{self, PlanError, Planned, Status};
use crate::build::project::Project;
use crate::build::replay::ReplayGenerator;
use crate::build::tree::{self, TRANSCRIPT};
use crate::build::{pin, scaffold};
use crate::cli::{BuildArgs, DiagnosticFormat, GeneratorChoice, Global, ReportFormat};
use crate::exit;

pub fn run(args: BuildArgs, global: &Global) -> i32 {
    if args.out.is_some() && args.generator != GeneratorChoice::Replay {
        error("--out re-derives pinned code: it needs --generator replay");
        return exit::USAGE;
    }
    if args.jobs == 0 {
        error("--jobs must be at least 1");
        return exit::USAGE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error(format!("cannot start the async runtime: {e}"));
            return exit::USAGE;
        }
    };
    runtime.block_on(run_async(args, global))
}

/// Where progress and results go.
struct Reporter {
    format: ReportFormat,
    bars: Option<MultiProgress>,
    quiet: bool,
}

impl Reporter {
    fn new(format: ReportFormat, global: &Global) -> Reporter {
        let bars =
            (format == ReportFormat::Human && !global.quiet && std::io::stderr().is_terminal())
                .then(MultiProgress::new);
        Reporter {
            format,
            bars,
            quiet: global.quiet,
        }
    }

    fn bar(&self, name: &str) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<20} {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    }

    fn progress(&self, name: &str, bar: Option<&ProgressBar>, message: &str) {
        match (self.format, bar) {
            (ReportFormat::Json, _) => print_stdout(&format!(
                "{}\n",
                json!({"event": "progress", "integration": name, "message": message})
            )),
            (ReportFormat::Human, Some(bar)) => bar.set_message(message.to_owned()),
            (ReportFormat::Human, None) if !self.quiet => {
                super::print_stderr(&format!("{name}: {message}\n"))
            }
            _ => {}
        }
    }

    /// A line for people (above the bars when there are any).
    fn line(&self, text: &str) {
        if self.format == ReportFormat::Json || self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => super::print_stderr(&format!("{text}\n")),
        }
    }

    fn json(&self, value: serde_json::Value) {
        if self.format == ReportFormat::Json {
            print_stdout(&format!("{value}\n"));
        }
    }
}

/// One row of the summary table.
struct Row {
    name: String,
    outcome: String,
    generator: String,
    attempts: String,
    examples: String,
    time: String,
    ok: bool,
}

async fn run_async(args: BuildArgs, global: &Global) -> i32 {
    let project = match discover_project() {
        Ok(project) => project,
        Err(code) => return code,
    };
    let reporter = Reporter::new(args.format, global);
    match pin::recover(&project) {
        Ok(recovered) => recovered.iter().for_each(|r| note(global, r)),
        Err(e) => {
            error(format!("recovering an interrupted pin: {e}"));
            return exit::FAILURE;
        }
    }
    let (lock, canonical) = match read_lock(&project) {
        Ok(read) => read,
        Err(message) => {
            error(message);
            return exit::FAILURE;
        }
    };
    let mut cache = Cache::load(&project, &plan::toolchain());
    let specs = match plan::spec_paths(&project, &args.names) {
        Ok(specs) => specs,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let planned = match plan::plan(&project, &lock, &mut cache, &specs) {
        Ok(planned) => planned,
        Err(e) => return plan_failed(e, global),
    };
    if let Some(out) = &args.out {
        let code = replay_out(&project, &args, out, &planned, &mut cache, &reporter).await;
        cache.save(&project);
        return code;
    }
    if args.locked {
        cache.save(&project);
        return locked(&planned, canonical, &lock, &project, global);
    }
    let mut code = exit::OK;
    let mut rows = Vec::new();
    let mut todo = Vec::new();
    for item in &planned {
        match &item.status {
            Status::Fresh => rows.push(Row::plain(&item.name, "fresh", true)),
            Status::Tampered(files) => {
                error(format!(
                    "{}: golden/{}/ is not what claw.lock pinned: {}. Restore it (e.g. `git \
                     checkout golden/{}`), or delete the folder to build it anew",
                    item.name,
                    item.name,
                    files.join("; "),
                    item.name
                ));
                rows.push(Row::plain(&item.name, "tampered", false));
                code = exit::FAILURE;
            }
            _ => todo.push(item),
        }
    }
    if todo.is_empty() {
        cache.save(&project);
        finish(&reporter, &rows, args.format);
        return code;
    }
    let sandbox = match backend(args.backend, None).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            error(e);
            return exit::FAILURE;
        }
    };
    let python = acceptance::python_version(sandbox.as_ref()).await;
    // Every transcript the replay generator may need: the pinned ones (re-rendering after a
    // scaffold or toolchain change needs no model) and, for `--generator replay`, the rest.
    let replay = pinned_transcripts(&project, todo.iter().copied());
    let needs_model = args.generator != GeneratorChoice::Replay
        && todo
            .iter()
            .any(|item| matches!(item.status, Status::Unpinned | Status::SpecChanged));
    let model: Option<Box<dyn Generator>> = if needs_model {
        match model_generator(args.generator, sandbox.clone()) {
            Ok(generator) => Some(generator),
            Err(message) => {
                error(message);
                return exit::FAILURE;
            }
        }
    } else {
        None
    };
    let options = GenerateOptions {
        model: args.model.clone(),
        max_turns: args.max_turns,
        budget_usd: args.budget_usd,
    };
    let shared = Shared {
        project: &project,
        lock: Mutex::new(lock),
        cache: Mutex::new(cache),
        reporter: &reporter,
    };
    let results: Vec<Row> = stream::iter(todo)
        .map(|item| {
            let generator: &dyn Generator = match (&item.status, &model) {
                (Status::ScaffoldChanged, _) | (_, None) => &replay,
                (_, Some(model)) => model.as_ref(),
            };
            let max_attempts = if generator.recorded_transcript(&item.name).is_some() {
                1
            } else {
                args.max_attempts
            };
            build_one(
                &shared,
                item,
                generator,
                sandbox.as_ref(),
                &options,
                max_attempts,
                &python,
            )
        })
        .buffer_unordered(args.jobs)
        .collect()
        .await;
    if results.iter().any(|row| !row.ok) {
        code = exit::FAILURE;
    }
    rows.extend(results);
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let Shared { cache, .. } = shared;
    if let Ok(cache) = cache.into_inner() {
        cache.save(&project);
    }
    finish(&reporter, &rows, args.format);
    code
}

struct Shared<'a> {
    project: &'a Project,
    lock: Mutex<Lock>,
    cache: Mutex<Cache>,
    reporter: &'a Reporter,
}

async fn build_one(
    shared: &Shared<'_>,
    item: &Planned,
    generator: &dyn Generator,
    sandbox: &dyn claw_runtime::Sandbox,
    options: &GenerateOptions,
    max_attempts: u32,
    python: &str,
) -> Row {
    let started = Instant::now();
    let reporter = shared.reporter;
    let bar = reporter.bar(&item.name);
    let name = item.name.as_str();
    let progress = |message: &str| reporter.progress(name, bar.as_ref(), message);
    let loaded = {
        let mut cache = shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        plan::load(&item.path, &mut cache)
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return failed_row(reporter, bar, name, &e.to_string(), started),
    };
    progress(&format!(
        "{}: building with {}",
        item.status.describe(),
        generator.name()
    ));
    let job = Job {
        project: shared.project,
        name,
        spec_path: &item.relative,
        spec: &loaded,
        sandbox,
        generator,
        options,
        max_attempts,
        python,
        clock: &SystemClock,
        progress: &progress,
    };
    let built = match pipeline::build(&job).await {
        Ok(built) => built,
        Err(e) => return failed_row(reporter, bar, name, &describe_failure(&e), started),
    };
    let pinned = {
        let mut lock = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
        lock.integration.insert(
            item.name.clone(),
            Entry {
                spec: item.relative.clone(),
                spec_hash: loaded.spec_hash.clone(),
                toolchain: plan::toolchain(),
                template_hash: scaffold::template_hash(),
                generator: built.summary.generator.clone(),
                model: built.summary.model.clone(),
                tree_hash: built.tree_hash.clone(),
            },
        );
        pin::pin(shared.project, name, &built.files, &lock)
    };
    if let Err(e) = pinned {
        return failed_row(reporter, bar, name, &format!("pinning: {e}"), started);
    }
    if let Some(stats) = fingerprint::tree_stats(&shared.project.tree(name)) {
        let mut cache = shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.trees.insert(
            item.name.clone(),
            TreePrint {
                files: stats,
                tree_hash: built.tree_hash.clone(),
            },
        );
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let row = Row::built(name, "pinned", &built, started.elapsed());
    reporter.line(&format!(
        "{name}: pinned ({}, {} examples passed)",
        row.generator, row.examples
    ));
    reporter.json(json!({
        "event": "pinned", "integration": name, "generator": built.summary.generator,
        "attempts": built.summary.attempts, "examples": built.examples.len(),
        "tree_hash": built.tree_hash, "seconds": started.elapsed().as_secs_f64(),
    }));
    row
}

fn describe_failure(e: &BuildError) -> String {
    match e {
        BuildError::Rejected {
            transcript: Some(path),
            ..
        } => format!("{e}\n(the failed build's transcript: {})", path.display()),
        _ => e.to_string(),
    }
}

fn failed_row(
    reporter: &Reporter,
    bar: Option<ProgressBar>,
    name: &str,
    message: &str,
    started: Instant,
) -> Row {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    error(format!("{name}: {message}"));
    reporter.json(json!({"event": "failed", "integration": name, "error": message}));
    let mut row = Row::plain(name, "FAILED", false);
    row.time = seconds(started.elapsed());
    row
}

impl Row {
    fn plain(name: &str, outcome: &str, ok: bool) -> Row {
        Row {
            name: name.to_owned(),
            outcome: outcome.to_owned(),
            generator: String::new(),
            attempts: String::new(),
            examples: String::new(),
            time: String::new(),
            ok,
        }
    }

    fn built(name: &str, outcome: &str, built: &Built, elapsed: Duration) -> Row {
        let passed = built.examples.iter().filter(|e| e.passed()).count();
        Row {
            name: name.to_owned(),
            outcome: outcome.to_owned(),
            generator: built.summary.generator.clone(),
            attempts: built.summary.attempts.to_string(),
            examples: format!("{passed}/{}", built.examples.len()),
            time: seconds(elapsed),
            ok: true,
        }
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

fn finish(reporter: &Reporter, rows: &[Row], format: ReportFormat) {
    if format == ReportFormat::Json {
        for row in rows.iter().filter(|r| r.outcome == "fresh") {
            reporter.json(json!({"event": "fresh", "integration": row.name}));
        }
        return;
    }
    let built = rows.iter().filter(|r| r.outcome != "fresh").count();
    if built == 0 {
        reporter.line(&format!("{} fresh; nothing to build", rows.len()));
        return;
    }
    reporter.line(&table(
        &[
            "integration",
            "result",
            "generator",
            "attempts",
            "examples",
            "time",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.outcome.clone(),
                    r.generator.clone(),
                    r.attempts.clone(),
                    r.examples.clone(),
                    r.time.clone(),
                ]
            })
            .collect(),
    ));
}

/// A plain text table, columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let render = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut lines = vec![render(header.iter().map(|h| (*h).to_owned()).collect())];
    lines.extend(rows.into_iter().map(render));
    lines.join("\n")
}

/// `claw.lock` and whether it is in its canonical rendering; a missing lock is empty.
pub fn read_lock(project: &Project) -> Result<(Lock, bool), String> {
    match std::fs::read_to_string(project.lock()) {
        Ok(text) => {
            let lock =
                Lock::parse(&text).map_err(|e| format!("{}: {e}", project.lock().display()))?;
            let canonical = lock.render() == text;
            Ok((lock, canonical))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Lock::new(), true)),
        Err(e) => Err(format!("{}: {e}", project.lock().display())),
    }
}

pub fn plan_failed(e: PlanError, global: &Global) -> i32 {
    match e {
        PlanError::Invalid(checked) => {
            report_diagnostics(&checked, DiagnosticFormat::Human, global);
            error(format!("{}: the spec has errors", checked.path.display()));
            exit::FAILURE
        }
        PlanError::UnknownName(_) | PlanError::Sources(_) => {
            error(e);
            exit::USAGE
        }
        other => {
            error(other);
            exit::FAILURE
        }
    }
}

/// `--locked`: exit 1 naming every spec that is not fresh, every lock entry without a spec
/// (when building everything), and a lock that is not in canonical form.
fn locked(
    planned: &[Planned],
    canonical: bool,
    lock: &Lock,
    project: &Project,
    global: &Global,
) -> i32 {
    let mut problems = Vec::new();
    if !canonical {
        problems.push(format!(
            "{}: not in its canonical rendering (edited by hand?)",
            project.lock().display()
        ));
    }
    for item in planned {
        if item.status != Status::Fresh {
            problems.push(format!("{}: {}", item.name, item.status.describe()));
        } else if let Some(entry) = lock.integration.get(&item.name) {
            if let Some(problem) = plan::generator_mismatch(project, &item.name, entry) {
                problems.push(format!("claw.lock: {problem}"));
            }
        }
    }
    for name in lock.integration.keys() {
        if !project.specs().join(format!("{name}.claw")).is_file() {
            problems.push(format!("{name}: in claw.lock but there is no spec"));
        }
    }
    if problems.is_empty() {
        note(global, format!("{} fresh", planned.len()));
        return exit::OK;
    }
    for problem in &problems {
        error(format!("--locked: {problem}"));
    }
    exit::FAILURE
}

/// `--generator replay --out DIR`: re-derive each integration from its pinned transcript into
/// `DIR/<name>/`, compare with `golden/<name>/`, touch nothing in `golden/` or `claw.lock`.
async fn replay_out(
    project: &Project,
    args: &BuildArgs,
    out: &Path,
    planned: &[Planned],
    cache: &mut Cache,
    reporter: &Reporter,
) -> i32 {
    let sandbox = match backend(args.backend, None).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            error(e);
            return exit::FAILURE;
        }
    };
    let python = acceptance::python_version(sandbox.as_ref()).await;
    let replay = pinned_transcripts(project, planned.iter());
    let options = GenerateOptions {
        model: args.model.clone(),
        max_turns: None,
        budget_usd: None,
    };
    let mut loaded = Vec::new();
    for item in planned {
        loaded.push((item, plan::load(&item.path, cache)));
    }
    let rows: Vec<(Row, bool)> = stream::iter(loaded)
        .map(|(item, spec)| {
            let replay = &replay;
            let sandbox = sandbox.as_ref();
            let options = &options;
            let python = python.as_str();
            async move {
                let started = Instant::now();
                let name = item.name.as_str();
                let bar = reporter.bar(name);
                let spec = match spec {
                    Ok(spec) => spec,
                    Err(e) => {
                        return (
                            failed_row(reporter, bar, name, &e.to_string(), started),
                            false,
                        )
                    }
                };
                if replay.recorded_transcript(name).is_none() {
                    let message = format!("golden/{name}/{TRANSCRIPT}: missing; nothing to replay");
                    return (failed_row(reporter, bar, name, &message, started), false);
                }
                let progress = |message: &str| reporter.progress(name, bar.as_ref(), message);
                let job = Job {
                    project,
                    name,
                    spec_path: &item.relative,
                    spec: &spec,
                    sandbox,
                    generator: replay,
                    options,
                    max_attempts: 1,
                    python,
                    clock: &SystemClock,
                    progress: &progress,
                };
                let built = match pipeline::build(&job).await {
                    Ok(built) => built,
                    Err(e) => {
                        return (
                            failed_row(reporter, bar, name, &describe_failure(&e), started),
                            false,
                        )
                    }
                };
                if let Err(e) = write_out(&out.join(name), &built.files) {
                    let message = format!("writing {}: {e}", out.join(name).display());
                    return (failed_row(reporter, bar, name, &message, started), false);
                }
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                let differences = match tree::read(&project.tree(name)) {
                    Ok(golden) => differences(&golden, &built.files),
                    Err(e) => vec![e.to_string()],
                };
                let identical = differences.is_empty();
                let mut row = Row::built(name, "", &built, started.elapsed());
                row.outcome = if identical {
                    "identical to golden".to_owned()
                } else {
                    error(format!(
                        "{name}: differs from golden/{name}/: {}",
                        differences.join("; ")
                    ));
                    row.ok = false;
                    "DIFFERS from golden".to_owned()
                };
                reporter.json(json!({
                    "event": "replayed", "integration": name, "identical": identical,
                    "differences": differences, "examples": built.examples.len(),
                    "examples_passed": built.examples.iter().filter(|e| e.passed()).count(),
                    "seconds": started.elapsed().as_secs_f64(),
                }));
                (row, identical)
            }
        })
        .buffer_unordered(args.jobs)
        .collect()
        .await;
    let mut rows: Vec<Row> = rows.into_iter().map(|(row, _)| row).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let ok = rows.iter().all(|r| r.ok);
    finish(reporter, &rows, args.format);
    if ok {
        exit::OK
    } else {
        exit::FAILURE
    }
}

/// The replay generator over the transcripts pinned in `golden/` for `items`.
fn pinned_transcripts<'a>(
    project: &Project,
    items: impl Iterator<Item = &'a Planned>,
) -> ReplayGenerator {
    let mut transcripts = BTreeMap::new();
    for item in items {
        if let Ok(text) = std::fs::read_to_string(project.tree(&item.name).join(TRANSCRIPT)) {
            transcripts.insert(item.name.clone(), text);
        }
    }
    ReplayGenerator::new(transcripts)
}

/// Replaces `dir` with exactly `files` (staged beside it, then renamed).
fn write_out(dir: &Path, files: &tree::Files) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staged = parent.join(format!(
        ".{}.clawc-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staged);
    tree::write_new(&staged, files)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&staged, dir)
}

/// Paths whose bytes differ between two trees (missing on either side included).
fn differences(golden: &tree::Files, derived: &tree::Files) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in golden {
        match derived.get(path) {
            None => out.push(format!("{path}: only in golden")),
            Some(other) if other != bytes => out.push(format!("{path}: differs")),
            Some(_) => {}
        }
    }
    for path in derived.keys().filter(|p| !golden.contains_key(*p)) {
        out.push(format!("{path}: only in the replay"));
    }
    out
}

/// The model generator `choice` names (the claude-code and anthropic generators).
fn model_generator(
    choice: GeneratorChoice,
    sandbox: std::sync::Arc<dyn claw_runtime::Sandbox>,
) -> Result<Box<dyn Generator>, String> {
    match choice {
        GeneratorChoice::Anthropic => {
            let api = ModelApi::from_env().map_err(|e| e.to_string())?;
            let config = LoopConfig::from_env().map_err(|e| e.to_string())?;
            let generator = AnthropicGenerator::new(api, config).map_err(|e| e.to_string())?;
            Ok(Box::new(generator))
        }
        GeneratorChoice::Replay => Err("replay is not a model generator".to_owned()),
        GeneratorChoice::ClaudeCode => {
            let api = ModelApi::from_env().map_err(|e| e.to_string())?;
            let generator = ClaudeCodeGenerator::new(sandbox, api).map_err(|e| e.to_string())?;
            Ok(Box::new(generator))
        }
    }
}
