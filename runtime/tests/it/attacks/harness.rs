//! Running one attack: inside a backend's sandbox, or (as a control) bare on the host.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use claw_runtime::policy::{HostPattern, Mount, Policy};
use claw_runtime::sandbox::{ExitReport, SandboxCommand, SandboxError, Unenforced};
use claw_runtime::Sandbox;
use tokio::io::AsyncReadExt;

use super::backends;

const PRELUDE: &str = include_str!("scripts/prelude.py");
const PYTHON: &str = "/usr/bin/python3";
const SHELL: &str = "/usr/bin/sh";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Native,
    Docker,
    /// Docker on gVisor's `runsc` (`clawc-runsc`): a second kernel between program and host.
    Gvisor,
}

impl Backend {
    /// Layers this backend hands to something stronger, and so reports as not its own: under
    /// gVisor the seccomp profile and Landlock are not applied (gVisor's kernel serves those
    /// syscalls), and pids counts gVisor's own tasks too. Fixed here, never asked of the
    /// backend.
    pub fn delegated_layers(self) -> &'static [&'static str] {
        match self {
            Backend::Native | Backend::Docker => &[],
            Backend::Gvisor => &["landlock", "pids", "seccomp"],
        }
    }
}

/// One case on one backend.
pub struct Ctx {
    pub backend: Backend,
    pub case: &'static str,
    sandbox: Box<dyn Sandbox>,
}

impl Ctx {
    /// `None` when the backend is missing and this is not CI (a SKIPPED line is printed).
    pub async fn new(backend: Backend, case: &'static str) -> Option<Self> {
        let sandbox = backends::open(backend).await?;
        Some(Self {
            backend,
            case,
            sandbox,
        })
    }

    /// The `cargo test` filter that selects exactly this case on this backend.
    pub fn test_path(&self) -> String {
        let module = match self.backend {
            Backend::Native => "native",
            Backend::Docker => "docker",
            Backend::Gvisor => "gvisor",
        };
        format!("attacks::{module}::{}", self.case)
    }

    /// Starts `script` under `policy` and, if the backend accepts the policy, kills it at once:
    /// for policies the backend must refuse before anything runs.
    pub async fn spawn_refusal(&self, script: &Script, policy: &Policy) -> Option<SandboxError> {
        let mut command = SandboxCommand::new(script.program, script.argv());
        command.cwd = Some("/tmp".into());
        match self.sandbox.spawn(command, policy).await {
            Ok(mut child) => {
                let _ = child.kill().await;
                let _ = child.wait().await;
                None
            }
            Err(e) => Some(e),
        }
    }

    /// Runs `script` inside the sandbox under `policy`, collecting everything.
    pub async fn run(&self, script: &Script, policy: &Policy) -> Outcome {
        match self.run_result(script, policy).await {
            Ok(outcome) => outcome,
            Err(e) => panic!("{}: sandbox wait: {e}", self.case),
        }
    }

    /// [`Ctx::run`], for a case in which the sandbox itself may end abnormally.
    pub async fn run_result(
        &self,
        script: &Script,
        policy: &Policy,
    ) -> Result<Outcome, SandboxError> {
        let mut command = SandboxCommand::new(script.program, script.argv());
        command.cwd = Some("/tmp".into());
        let mut child = self
            .sandbox
            .spawn(command, policy)
            .await
            .unwrap_or_else(|e| panic!("{}: sandbox setup failed: {e}", self.sandbox.name()));
        let unenforced = child.unenforced().to_vec();
        for u in &unenforced {
            eprintln!(
                "[{}] backend reports UNENFORCED limit {}: {}",
                self.case, u.limit, u.reason
            );
        }
        if everything_must_be_enforced() {
            let delegated = self.backend.delegated_layers();
            assert!(
                unenforced.iter().all(|u| delegated.contains(&u.limit)),
                "{}: as root under CI every limit must be enforced, but the backend reports {unenforced:?}",
                self.case
            );
        }
        let mut stdout = child.take_stdout().expect("stdout is piped");
        let mut stderr = child.take_stderr().expect("stderr is piped");
        // The sandbox's own timeout must fire first; this outer one only keeps a broken backend
        // from hanging the suite.
        let deadline = policy.limits.timeout.unwrap_or_default() + Duration::from_secs(30);
        let collected = tokio::time::timeout(deadline, async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let (o, e, report) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            o.expect("read stdout");
            e.expect("read stderr");
            (out, err, report)
        })
        .await;
        let (out, err, report) = match collected {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill().await;
                panic!("{}: sandbox outlived its own timeout by 30 s", self.case)
            }
        };
        let stdout = String::from_utf8_lossy(&out).into_owned();
        let stderr = String::from_utf8_lossy(&err).into_owned();
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                eprintln!(
                    "[{}] sandbox ended abnormally: {e}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
                    self.case
                );
                return Err(e);
            }
        };
        let outcome = Outcome {
            stdout,
            stderr,
            report: Some(report),
            unenforced,
            second_kernel: self.backend.delegated_layers().contains(&"seccomp"),
        };
        eprintln!("[{}] sandboxed run:\n{outcome:?}", self.case);
        Ok(outcome)
    }

    /// Runs the same `script` bare on the host, inheriting the test's environment: what the
    /// attack achieves with no sandbox at all. A case uses it to prove its host-side check can
    /// see the escape, so that check passing under the sandbox means something.
    pub async fn control(&self, script: &Script) -> Outcome {
        let output = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::process::Command::new(script.program)
                .args(script.argv())
                .current_dir(std::env::temp_dir())
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("control run finished in time")
        .expect("control run started");
        let outcome = Outcome {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            report: None,
            unenforced: Vec::new(),
            second_kernel: false,
        };
        eprintln!("[{}] control run (no sandbox):\n{outcome:?}", self.case);
        outcome
    }
}

/// As root under CI every layer is available (cgroups included), so a backend reporting any
/// limit unenforced there is a regression, not an environment's shortcoming.
fn everything_must_be_enforced() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    crate::support::backends_required() && unsafe { libc::geteuid() } == 0
}

/// A program for the sandbox: Python (with the shared prelude) or POSIX sh.
#[derive(Debug, Clone)]
pub struct Script {
    program: &'static str,
    source: String,
    args: Vec<String>,
}

impl Script {
    pub fn py(body: &str) -> Self {
        Self {
            program: PYTHON,
            source: format!("{PRELUDE}\n{body}\ndone()\n"),
            args: Vec::new(),
        }
    }

    /// A shell attack; it should end with `echo RESULT done yes`.
    pub fn sh(body: &str) -> Self {
        Self {
            program: SHELL,
            source: body.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl ToString) -> Self {
        self.args.push(a.to_string());
        self
    }

    fn argv(&self) -> Vec<String> {
        let mut argv = vec!["-c".to_owned(), self.source.clone()];
        if self.program == SHELL {
            argv.push("attack".to_owned());
        }
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// What one run produced.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// `None` for a control run (no sandbox, no report).
    pub report: Option<ExitReport>,
    pub unenforced: Vec<Unenforced>,
    /// The program ran on a kernel of its own (gVisor's), not the host's: system calls the
    /// seccomp profile would refuse are that kernel's to serve.
    pub second_kernel: bool,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- report: {:?}", self.report)?;
        writeln!(f, "--- unenforced: {:?}", self.unenforced)?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        write!(f, "--- stderr:\n{}", self.stderr)
    }
}

impl Outcome {
    /// `RESULT key value` lines, last one wins.
    pub fn results(&self) -> BTreeMap<String, String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    pub fn result(&self, key: &str) -> String {
        self.results()
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("attack never reported {key:?}:\n{self:?}"))
    }

    /// The attack ran to its end, so its steps really were attempted: a sandbox that merely
    /// failed to start the program must not pass as "contained".
    pub fn assert_completed(&self) -> &Self {
        assert_eq!(
            self.results().get("done").map(String::as_str),
            Some("yes"),
            "the attack did not run to its end:\n{self:?}"
        );
        self
    }

    /// Step `key` was refused (any errno, or a proxy status of 400 and above).
    pub fn assert_denied(&self, key: &str) -> &Self {
        let v = self.result(key);
        assert!(
            v.starts_with("denied:") || proxy_status(&v).is_some_and(|code| code >= 400),
            "step {key} was NOT denied ({v}):\n{self:?}"
        );
        self
    }

    /// Step `key` was refused by policy (EPERM, EACCES or ENOSYS: what seccomp, capabilities
    /// and LSMs answer), not merely failed on a bad argument.
    pub fn assert_blocked(&self, key: &str) -> &Self {
        let v = self.result(key);
        if self.second_kernel {
            // Under gVisor the call reaches gVisor's kernel, never the host's: prove that the
            // program really ran on another kernel, whatever that kernel answered.
            let inside = self.result("kernel");
            assert_ne!(
                inside,
                host_kernel_release(),
                "step {key} ({v}): the backend claims a second kernel but the program ran on the host's:\n{self:?}"
            );
            return self;
        }
        assert!(
            ["denied:EPERM", "denied:EACCES", "denied:ENOSYS"].contains(&v.as_str()),
            "step {key} was NOT blocked by policy ({v}):\n{self:?}"
        );
        self
    }

    pub fn assert_ok(&self, key: &str) -> &Self {
        let v = self.result(key);
        assert!(
            v.starts_with("ok") || proxy_status(&v).is_some_and(|code| code < 400),
            "step {key} should have worked ({v}):\n{self:?}"
        );
        self
    }

    /// `needle` appears nowhere in what the program printed.
    pub fn assert_absent(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "the attack's output contains {needle:?}:\n{self:?}"
        );
        self
    }

    pub fn assert_present(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle) || self.stderr.contains(needle),
            "the control run's output lacks {needle:?}:\n{self:?}"
        );
        self
    }

    pub fn report(&self) -> &ExitReport {
        self.report.as_ref().expect("a sandboxed run has a report")
    }

    /// Whether the backend said it could not enforce `limit` (matched loosely, e.g. "pids").
    pub fn reported_unenforced(&self, limit: &str) -> bool {
        self.unenforced
            .iter()
            .any(|u| u.limit.to_ascii_lowercase().contains(limit))
    }
}

fn host_kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("read the host's kernel release")
        .trim()
        .to_owned()
}

/// The HTTP status the proxy answered a `via_proxy` step with.
fn proxy_status(v: &str) -> Option<u16> {
    v.strip_prefix("status:")?.parse().ok()
}

/// The policy every attack starts from: default deny, a short wall limit, a usable `PATH`.
pub fn base_policy() -> Policy {
    let mut p = Policy::default();
    p.env.insert("PATH".into(), "/usr/bin:/bin".into());
    p.env.insert("HOME".into(), "/tmp".into());
    p.limits.timeout = Some(Duration::from_secs(20));
    p
}

pub fn with_mount(mut p: Policy, source: &Path, target: &str, writable: bool) -> Policy {
    p.mounts.push(Mount {
        source: source.to_path_buf(),
        target: target.into(),
        writable,
    });
    p
}

pub fn allow(p: &mut Policy, host: &str, port: u16) {
    p.network.allow.push(HostPattern {
        host: host.into(),
        port,
    });
}
