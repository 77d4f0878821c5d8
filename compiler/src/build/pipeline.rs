//! One integration's build: a workspace with the scaffold, the generator's attempts (each
//! candidate through intake and acceptance, failures fed back), and the tree to pin, assembled
//! from the accepted candidate and the transcript. Nothing here writes outside the scratch
//! folder: pinning is the caller's, and only for an accepted build.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use claw_runtime::Sandbox;

use super::acceptance::{self, AcceptanceError, ExampleResult};
use super::clock::Clock;
use super::generator::{Attempt, ExampleRunner, GenerateOptions, Generator, GeneratorError, Usage};
use super::intake;
use super::plan::{toolchain, Loaded};
use super::project::Project;
use super::prompt::{self, PromptError};
use super::provenance;
use super::scaffold::{self, ScaffoldError};
use super::transcript::{Author, Record, Summary, Transcript, TranscriptError, FORMAT};
use super::tree::{self, Files, MANIFEST, PROVENANCE, TRANSCRIPT};

/// What a build job needs from its surroundings.
pub struct Job<'a> {
    pub project: &'a Project,
    pub name: &'a str,
    /// As the lock names it.
    pub spec_path: &'a str,
    pub spec: &'a Loaded,
    /// Where the examples run.
    pub sandbox: &'a dyn Sandbox,
    pub generator: &'a dyn Generator,
    pub options: &'a GenerateOptions,
    pub max_attempts: u32,
    /// `python3 --version` in the acceptance sandbox.
    pub python: &'a str,
    pub clock: &'a dyn Clock,
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// An accepted build, ready to pin.
#[derive(Debug)]
pub struct Built {
    pub files: Files,
    pub tree_hash: String,
    pub summary: Summary,
    pub examples: Vec<ExampleResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no attempt passed every example (attempts: {attempts}); the last one:\n{report}")]
    Rejected {
        attempts: u32,
        report: String,
        /// The failed build's transcript, kept in the scratch folder for a person to read.
        transcript: Option<PathBuf>,
    },
    #[error(transparent)]
    Generator(#[from] GeneratorError),
    #[error(transparent)]
    Acceptance(#[from] AcceptanceError),
    #[error(transparent)]
    Scaffold(#[from] ScaffoldError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("transcript.jsonl: {0}")]
    Transcript(#[from] TranscriptError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A folder in the scratch space, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(project: &Project, kind: &str, name: &str) -> Result<ScratchDir, BuildError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let path = project.scratch().join(format!(
            "{kind}-{name}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        fs::create_dir_all(&path).map_err(io(&path))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs the spec's examples for a generator that asks (the API loop's `run_examples`).
struct Examples<'a> {
    job: &'a Job<'a>,
}

#[async_trait]
impl ExampleRunner for Examples<'_> {
    async fn run(&self, workspace: &Path) -> String {
        let candidate = match intake::take(workspace) {
            Ok(candidate) => candidate,
            Err(refused) => return refused.to_string(),
        };
        match accept(self.job, &candidate).await {
            Ok(results) => acceptance::report(&results),
            Err(e) => format!("the examples could not run: {e}"),
        }
    }
}

/// Builds one integration: attempts until every example passes or `max_attempts` are spent.
pub async fn build(job: &Job<'_>) -> Result<Built, BuildError> {
    let spec = &job.spec.ir;
    let scaffold = scaffold::render(spec)?;
    let workspace = ScratchDir::new(job.project, "work", job.name)?;
    seed_workspace(&workspace.0, job, &scaffold)?;
    let version = job.generator.version().await?;
    let mut records = vec![Record::Start {
        format: FORMAT,
        integration: job.name.to_owned(),
        author: Author::Model,
        generator: job.generator.name().to_owned(),
        generator_version: version,
        model: job.options.model.clone(),
        started: job.clock.now_rfc3339(),
        note: None,
    }];
    let examples = Examples { job };
    let mut failures: Option<String> = None;
    let mut spent = Usage::default();
    let mut accepted = None;
    let mut attempts = 0;
    for number in 1..=job.max_attempts {
        attempts = number;
        (job.progress)(&format!("attempt {number}: {}", job.generator.name()));
        let prompt = prompt::render(spec, &job.spec.source, number, failures.as_deref())?;
        records.push(Record::Attempt {
            attempt: number,
            prompt: Some(prompt.clone()),
        });
        let outcome = job
            .generator
            .attempt(Attempt {
                integration: job.name,
                number,
                prompt: &prompt,
                workspace: &workspace.0,
                options: job.options,
                spent,
                examples: &examples,
                progress: job.progress,
            })
            .await?;
        spent = spent.add(outcome.usage);
        records.extend(outcome.events.into_iter().map(|event| Record::Event {
            attempt: number,
            event,
        }));
        let candidate = match intake::take(&workspace.0) {
            Ok(candidate) => candidate,
            Err(refused) => {
                let text = refused.to_string();
                (job.progress)(&format!("attempt {number}: {text}"));
                records.push(result(
                    number,
                    false,
                    vec![text.clone()],
                    outcome.usage,
                    job,
                ));
                failures = Some(text);
                continue;
            }
        };
        for (path, bytes) in &candidate {
            records.push(Record::File {
                attempt: number,
                path: path.clone(),
                content: String::from_utf8_lossy(bytes).into_owned(),
            });
        }
        (job.progress)(&format!("attempt {number}: running the examples"));
        let results = accept(job, &candidate).await?;
        let failing: Vec<String> = results
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.name.clone())
            .collect();
        records.push(result(
            number,
            failing.is_empty(),
            failing.clone(),
            outcome.usage,
            job,
        ));
        if failing.is_empty() {
            accepted = Some((candidate, results));
            break;
        }
        (job.progress)(&format!(
            "attempt {number}: {} of {} examples failed",
            failing.len(),
            results.len()
        ));
        failures = Some(acceptance::report(&results));
    }
    records.push(Record::End {
        accepted: accepted.is_some(),
        attempts,
        finished: job.clock.now_rfc3339(),
    });
    let recorded = Transcript { records }.render();
    let Some((candidate, results)) = accepted else {
        let kept = job
            .project
            .scratch()
            .join(format!("failed-{}.transcript.jsonl", job.name));
        let transcript = fs::write(&kept, &recorded).ok().map(|()| kept);
        return Err(BuildError::Rejected {
            attempts,
            report: failures.unwrap_or_default(),
            transcript,
        });
    };
    // A replay pins the transcript it replayed, byte for byte: it describes the generation.
    let transcript = job
        .generator
        .recorded_transcript(job.name)
        .unwrap_or(recorded);
    assemble(job, scaffold, candidate, transcript, results)
}

fn result(number: u32, passed: bool, failures: Vec<String>, usage: Usage, job: &Job<'_>) -> Record {
    Record::Result {
        attempt: number,
        passed,
        failures,
        usage,
        python: job.python.to_owned(),
    }
}

/// The workspace a generator starts from: the scaffold (to read), the spec, every example in
/// full, and an empty `generated/`.
fn seed_workspace(dir: &Path, job: &Job<'_>, scaffold: &Files) -> Result<(), BuildError> {
    for (path, bytes) in scaffold {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::write(&target, bytes).map_err(io(&target))?;
    }
    let spec_file = dir.join(format!("{}.claw", job.name));
    fs::write(&spec_file, &job.spec.source).map_err(io(&spec_file))?;
    let examples = dir.join("examples.json");
    let text = serde_json::to_string_pretty(&job.spec.ir.examples).unwrap_or_default();
    fs::write(&examples, text).map_err(io(&examples))?;
    let generated = dir.join(super::contract::OUTPUT_DIR);
    fs::create_dir_all(&generated).map_err(io(&generated))?;
    Ok(())
}

/// Runs every example against scaffold + `candidate`, staged in a scratch folder.
async fn accept(job: &Job<'_>, candidate: &Files) -> Result<Vec<ExampleResult>, BuildError> {
    let mut files = scaffold::render(&job.spec.ir)?;
    files.extend(candidate.iter().map(|(k, v)| (k.clone(), v.clone())));
    let stage = ScratchDir::new(job.project, "candidate", job.name)?;
    let root = stage.0.join("tree");
    tree::write_new(&root, &files).map_err(io(&root))?;
    Ok(acceptance::run_all(job.sandbox, &job.spec.ir, &root).await?)
}

/// The pinned tree: scaffold, candidate, transcript, provenance, manifest.
fn assemble(
    job: &Job<'_>,
    scaffold: Files,
    candidate: Files,
    transcript: String,
    examples: Vec<ExampleResult>,
) -> Result<Built, BuildError> {
    let summary = Transcript::parse(&transcript)?.summary()?;
    let mut files = scaffold;
    files.extend(candidate);
    let subjects = files.clone();
    let transcript_hash = spec_lang::hash::sha256_prefixed(transcript.as_bytes());
    let template_hash = scaffold::template_hash();
    let toolchain = toolchain();
    let provenance = provenance::render(&provenance::Inputs {
        integration: job.name,
        spec_path: job.spec_path,
        spec_hash: &job.spec.spec_hash,
        toolchain: &toolchain,
        template_hash: &template_hash,
        transcript_hash: &transcript_hash,
        summary: &summary,
        examples: &examples,
        subjects: &subjects,
    });
    files.insert(TRANSCRIPT.to_owned(), transcript.into_bytes());
    files.insert(PROVENANCE.to_owned(), provenance);
    let manifest = tree::manifest(&files);
    files.insert(MANIFEST.to_owned(), manifest);
    let tree_hash = tree::tree_hash(&files);
    Ok(Built {
        files,
        tree_hash,
        summary,
        examples,
    })
}
