//! The command line, as DESIGN.md's contracts fix it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "clawc",
    version,
    about = "Compile, check and sandbox AI-agent integrations written as .claw specs.",
    after_help = "Exit codes: 0 success, 1 errors in the input (or unformatted files with --check), \
                  2 usage or IO error. `sandbox exec`: the program's status, 125 when the sandbox \
                  could not be set up, 137 when a limit killed it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// When to use colour in human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// Rendered for people, with source snippets.
    Human,
    /// One JSON object per diagnostic, one per line.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate specs; report every problem at once.
    Check {
        /// Spec files or directories (searched recursively for *.claw). Default: `specs`.
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
        format: DiagnosticFormat,
    },
    /// Rewrite specs in canonical layout (comments kept).
    Fmt {
        /// Report files that are not formatted and exit 1, without writing.
        #[arg(long)]
        check: bool,
        /// Spec files or directories. Default: `specs`.
        paths: Vec<PathBuf>,
    },
    /// Print JSON Schemas: a spec's tools (input and output), or the IR's own schema.
    Schema {
        /// The spec whose tool schemas to print.
        #[arg(required_unless_present = "ir", conflicts_with = "ir")]
        spec: Option<PathBuf>,
        /// Only this tool.
        #[arg(long, requires = "spec")]
        tool: Option<String>,
        /// The JSON Schema of clawc's intermediate representation.
        #[arg(long)]
        ir: bool,
    },
    /// Create a new spec that passes `clawc check`.
    Init {
        /// The integration's name (lowercase letters, digits and single `_`s).
        name: String,
        /// Where to put it.
        #[arg(long, default_value = "specs")]
        dir: PathBuf,
    },
    /// Explain a diagnostic code, like `rustc --explain`. Without a code, list them all.
    Explain { code: Option<String> },
    /// Run programs under the sandbox that deployed integrations get.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Generate, accept and pin the implementation of every stale spec.
    Build(BuildArgs),
    /// Check every pin (what CI runs; never generates): specs and golden trees against
    /// claw.lock, then every example against the pinned artifacts.
    Verify {
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
        format: DiagnosticFormat,
        #[arg(long, value_enum, default_value_t = Backend::Native)]
        backend: Backend,
        /// Also require every pinned integration's capabilities to be covered by a signed
        /// sign-off (`clawc review approve`) that verifies against the trusted signers file.
        #[arg(long)]
        require_signoff: bool,
        /// The revision whose committed clawc.allowed_signers is trusted (CI passes the pull
        /// request's base). Never the work tree's copy.
        #[arg(
            long,
            value_name = "REV",
            default_value = "HEAD",
            requires = "require_signoff"
        )]
        signers_from: String,
        /// Then a hardening run: each tool called N times with generated inputs (see
        /// docs/hardening.md); its failures are problems.
        #[arg(long, value_name = "N")]
        fuzz: Option<usize>,
        /// The hardening run's seed (default: a fresh one, printed).
        #[arg(long, value_name = "S", requires = "fuzz")]
        seed: Option<u64>,
    },
    /// Run the examples against the pinned artifacts; a result per example.
    Test {
        /// Integrations to test. Default: every pinned one.
        names: Vec<String>,
        #[arg(long, value_enum, default_value_t = Backend::Native)]
        backend: Backend,
        /// Then a hardening run: each tool called N times with generated inputs (see
        /// docs/hardening.md); a line per tool, each failure with its input.
        #[arg(long, value_name = "N")]
        fuzz: Option<usize>,
        /// The hardening run's seed (default: a fresh one, printed).
        #[arg(long, value_name = "S", requires = "fuzz")]
        seed: Option<u64>,
    },
    /// What a change does to each integration, against a git revision: capabilities first
    /// (widening flagged, with the spec line), then the golden trees' code, then provenance.
    Diff {
        /// Integrations to compare. Default: every one that changed.
        names: Vec<String>,
        /// The revision to compare the work tree with (read through git; nothing is checked out).
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        base: String,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Exit 1 when an integration widens without a sign-off that verifies against the
        /// base's clawc.allowed_signers.
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
    },
    /// Sign off what integrations may do.
    #[command(subcommand)]
    Review(ReviewCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    /// One pull-request comment.
    Markdown,
    /// One JSON object.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Widening,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Sign off the current capabilities of a pinned integration with your SSH key; the
    /// signature goes into claw.lock, where `clawc verify --require-signoff` checks it.
    Approve {
        name: String,
        /// The private key (or, with ssh-agent, the public key) to sign with. Default: git's
        /// `user.signingkey`, else ~/.ssh/id_ed25519.
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratorChoice {
    /// The Claude Code CLI (`CLAWC_CLAUDE`, else `claude` on PATH), in a throwaway sandbox.
    ClaudeCode,
    /// A Messages API tool-use loop run by clawc itself.
    Anthropic,
    /// Re-derive from the transcript recorded in `golden/<name>/transcript.jsonl` (offline).
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Progress bars on a terminal, plain lines otherwise.
    Human,
    /// One JSON object per event, one per line.
    Json,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Integrations to build (spec file stems). Default: every spec in `specs/`.
    pub names: Vec<String>,
    #[arg(long, value_enum, default_value_t = GeneratorChoice::ClaudeCode)]
    pub generator: GeneratorChoice,
    /// The sandbox backend for generation and acceptance.
    #[arg(long, value_enum, default_value_t = Backend::Native)]
    pub backend: Backend,
    /// Stale specs built at once.
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
    /// Change nothing; fail (exit 1) when any spec is stale, unpinned or tampered.
    #[arg(long)]
    pub locked: bool,
    /// Generation attempts per spec before the build fails.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// The model the generator asks for.
    #[arg(long, default_value = crate::build::generator::DEFAULT_MODEL)]
    pub model: String,
    /// Model turns per spec (all attempts together).
    #[arg(long)]
    pub max_turns: Option<u32>,
    /// Dollars per spec (all attempts together).
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// With `--generator replay`: re-derive into DIR/<name>/ instead of pinning (changes
    /// nothing in `golden/` or `claw.lock`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run one program in a fresh sandbox; stdio passes through, its exit status is returned.
    Exec(SandboxExec),
}

#[derive(Debug, Args)]
pub struct SandboxExec {
    #[arg(long, value_enum, default_value_t = Backend::Native)]
    pub backend: Backend,
    /// With `--backend docker`: an OCI runtime the engine knows, e.g. `runsc` (gVisor).
    #[arg(long, value_name = "NAME", requires = "backend")]
    pub docker_runtime: Option<String>,
    /// Run under exactly this spec's lowered policy (network, secrets, mounts, limits,
    /// environment). Secrets come from CLAWC_SECRET_<INTEGRATION>__<NAME>, else
    /// CLAWC_SECRET_<NAME>. Excludes the policy flags below.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["allow", "mounts", "memory", "pids", "cpu", "timeout", "output", "env"])]
    pub spec: Option<PathBuf>,
    /// With `--spec`: the integration's configuration, a JSON object (schema defaults fill the
    /// rest; validated against the spec's config schema).
    #[arg(long, value_name = "JSON", requires = "spec")]
    pub config: Option<String>,
    /// Allow egress to HOST:PORT through the proxy (repeatable; `*.example.com:443` for subdomains).
    #[arg(long = "allow", value_name = "HOST:PORT")]
    pub allow: Vec<String>,
    /// Bind a host path: SRC:DST[:ro|rw] (read-only unless `rw`).
    #[arg(long = "mount", value_name = "SRC:DST[:ro|rw]")]
    pub mounts: Vec<String>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<u64>,
    /// Maximum number of processes.
    #[arg(long)]
    pub pids: Option<u32>,
    /// CPU share (0.5 = half a core).
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Wall-clock limit in seconds.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Bytes stdout and stderr may carry together (default 1 MiB, the spec default); the run is
    /// killed when it writes more.
    #[arg(long, value_name = "BYTES")]
    pub output: Option<u64>,
    /// Set K=V in the program's environment (the host's is never passed).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM [ARG]...")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// bubblewrap + seccomp + Landlock + cgroups (Linux).
    Native,
    /// A Docker engine (image built by scripts/build-base-image.sh).
    Docker,
}

impl Global {
    pub fn install_logging(&self) {
        use tracing_subscriber::filter::LevelFilter;
        let level = if self.quiet {
            LevelFilter::ERROR
        } else {
            match self.verbose {
                0 => LevelFilter::WARN,
                1 => LevelFilter::INFO,
                2 => LevelFilter::DEBUG,
                _ => LevelFilter::TRACE,
            }
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(self.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .without_time();
        // A directive filter costs about 0.4 ms to build — a tenth of a sandbox's start — so
        // it is built only when CLAWC_LOG asks for one; a plain level filter does otherwise.
        match std::env::var_os("CLAWC_LOG")
            .and_then(|_| tracing_subscriber::EnvFilter::try_from_env("CLAWC_LOG").ok())
        {
            Some(filter) => subscriber.with_env_filter(filter).init(),
            None => subscriber.with_max_level(level).init(),
        }
    }

    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn use_color(&self, is_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}
