//! `clawc sandbox exec`: one program under exactly the sandbox deployed integrations get.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use claw_runtime::docker::{DockerConfig, DockerSandbox};
use claw_runtime::egress::EgressOutcome;
use claw_runtime::init::InitExe;
use claw_runtime::native::NativeSandbox;
use claw_runtime::policy::{HostPattern, Limits, Mount, Policy};
use claw_runtime::sandbox::{SandboxCommand, Stdio};
use claw_runtime::{Sandbox, SandboxError};

use super::check::{check_file, report};
use super::{error, note};
use crate::cli::{Backend, DiagnosticFormat, Global, SandboxExec};
use crate::{exit, lower, sources};

pub fn exec(args: SandboxExec, global: &Global) -> i32 {
    if args.docker_runtime.is_some() && args.backend != Backend::Docker {
        error("--docker-runtime needs --backend docker");
        return exit::USAGE;
    }
    let policy = match &args.spec {
        Some(spec) => policy_from_spec(spec, args.config.as_deref(), global),
        None => policy_from(&args),
    };
    let policy = match policy {
        Ok(policy) => policy,
        Err(message) => {
            error(message);
            return exit::USAGE;
        }
    };
    // One thread: a single sandbox (and its proxy) needs no more, and start-up is shorter.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error(format!("cannot start the async runtime: {e}"));
            return exit::SANDBOX_SETUP;
        }
    };
    runtime.block_on(run(args, policy, global))
}

async fn run(args: SandboxExec, policy: Policy, global: &Global) -> i32 {
    let sandbox = match backend(args.backend, args.docker_runtime.clone()).await {
        Ok(sandbox) => sandbox,
        Err(e) => return setup_failed(&e),
    };
    run_in(sandbox.as_ref(), &args.command, &policy, global).await
}

/// Runs `argv` in `sandbox` with the caller's stdio, reports what the proxy refused and which
/// limit ended the run, and returns the exit code.
async fn run_in(sandbox: &dyn Sandbox, argv: &[String], policy: &Policy, global: &Global) -> i32 {
    let (program, rest) = match argv.split_first() {
        Some(split) => split,
        None => {
            error("no program given after --");
            return exit::USAGE;
        }
    };
    let mut command = SandboxCommand::new(program.clone(), rest.iter().cloned());
    command.stdin = Stdio::Inherit;
    command.stdout = Stdio::Inherit;
    command.stderr = Stdio::Inherit;
    let mut child = match sandbox.spawn(command, policy).await {
        Ok(child) => child,
        Err(e) => return setup_failed(&e),
    };
    let report = match child.wait().await {
        Ok(report) => report,
        Err(e) => return setup_failed(&e),
    };
    for event in &report.egress {
        if let EgressOutcome::Denied { reason } = &event.outcome {
            note(
                global,
                format!(
                    "clawc: egress denied: {} {}:{}: {reason}",
                    event.method, event.host, event.port
                ),
            );
        } else if event.outcome == EgressOutcome::Unmatched {
            note(
                global,
                format!(
                    "clawc: egress unmatched: {} {}:{}",
                    event.method, event.host, event.port
                ),
            );
        }
    }
    if let Some(limit) = report.killed_by {
        note(global, format!("clawc: killed: {limit:?} limit reached"));
    }
    report.exit_code()
}

pub async fn backend(
    backend: Backend,
    docker_runtime: Option<String>,
) -> Result<Arc<dyn Sandbox>, SandboxError> {
    let init = default_init()?;
    Ok(match backend {
        Backend::Native => Arc::new(NativeSandbox::new(init)?),
        Backend::Docker => {
            let config = DockerConfig {
                init: Some(init),
                runtime: docker_runtime,
                ..DockerConfig::default()
            };
            Arc::new(DockerSandbox::connect(config).await?)
        }
    })
}

/// The small `claw-sandbox-init` installed beside clawc, else clawc itself (which acts as init
/// when started as `/run/clawc/init`). The small one is what every sandbox should get: init
/// lives as long as its sandbox, and it starts faster and stays resident in a fraction of
/// clawc's memory (no allocator arenas, no relocations of a large binary).
fn default_init() -> Result<InitExe, SandboxError> {
    let exe = std::env::current_exe()
        .map_err(|e| SandboxError::Setup(format!("cannot locate clawc itself: {e}")))?;
    let beside = exe.with_file_name(INIT_BINARY);
    let path = if beside.is_file() { beside } else { exe };
    Ok(InitExe { path })
}

/// The init binary's name (built from `runtime/src/bin/claw-sandbox-init.rs`).
const INIT_BINARY: &str = "claw-sandbox-init";

fn setup_failed(e: &SandboxError) -> i32 {
    error(e);
    exit::SANDBOX_SETUP
}

/// A spec, checked and lowered for one run. Its diagnostics are shown when it has errors.
fn policy_from_spec(path: &Path, config: Option<&str>, global: &Global) -> Result<Policy, String> {
    let file = sources::read(path).map_err(|e| e.to_string())?;
    let checked = check_file(file);
    let Some(spec) = checked.checked.ir.as_ref() else {
        report(&checked, DiagnosticFormat::Human, global);
        return Err(format!("{} has errors; see `clawc check`", path.display()));
    };
    let given = match config {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("--config: {e}"))?,
        None => serde_json::Value::Object(Default::default()),
    };
    let config = lower::config_with_defaults(spec, given).map_err(|e| format!("--config: {e}"))?;
    lower::policy(spec, &config, &lower::EnvSecrets, lower::Lifetime::Run)
        .map_err(|e| e.to_string())
}

/// The flags, as a policy. Everything not granted stays denied.
fn policy_from(args: &SandboxExec) -> Result<Policy, String> {
    let mut policy = Policy::default();
    for allow in &args.allow {
        let pattern = HostPattern::parse(allow).map_err(|e| format!("--allow {allow}: {e}"))?;
        lower::allow(&mut policy.network, pattern);
    }
    for mount in &args.mounts {
        policy.mounts.push(parse_mount(mount)?);
    }
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--env {pair}: expected K=V"))?;
        if key.is_empty() {
            return Err(format!("--env {pair}: empty variable name"));
        }
        policy.env.insert(key.to_owned(), value.to_owned());
    }
    policy.limits = limits_from(args, policy.limits)?;
    Ok(policy)
}

fn limits_from(args: &SandboxExec, defaults: Limits) -> Result<Limits, String> {
    let mut limits = defaults;
    if let Some(memory) = args.memory {
        limits.memory_bytes = memory;
    }
    if let Some(pids) = args.pids {
        if pids == 0 {
            return Err("--pids must be at least 1".into());
        }
        limits.pids = pids;
    }
    if let Some(cpu) = args.cpu {
        if !(cpu.is_finite() && cpu > 0.0) {
            return Err("--cpu must be a positive fraction of a core, e.g. 0.5".into());
        }
        limits.cpu = cpu;
    }
    if let Some(output) = args.output {
        if output == 0 {
            return Err("--output must be at least 1 byte".into());
        }
        limits.output_bytes = Some(output);
    }
    if let Some(timeout) = args.timeout {
        limits.timeout = Some(
            Duration::try_from_secs_f64(timeout)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or("--timeout must be a positive number of seconds")?,
        );
    }
    Ok(limits)
}

fn parse_mount(text: &str) -> Result<Mount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, writable) = match parts.as_slice() {
        [source, target] => (*source, *target, false),
        [source, target, "ro"] => (*source, *target, false),
        [source, target, "rw"] => (*source, *target, true),
        _ => return Err(format!("--mount {text}: expected SRC:DST[:ro|rw]")),
    };
    let source =
        std::fs::canonicalize(source).map_err(|e| format!("--mount {text}: {source}: {e}"))?;
    let target = PathBuf::from(target);
    if !target.is_absolute() {
        return Err(format!(
            "--mount {text}: the destination must be an absolute path"
        ));
    }
    Ok(Mount {
        source,
        target,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use claw_runtime::sandbox::fake::{FakeRun, FakeSandbox};
    use claw_runtime::sandbox::LimitKind;

    fn quiet() -> Global {
        Global {
            color: crate::cli::ColorChoice::Never,
            quiet: true,
            verbose: 0,
        }
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[tokio::test]
    async fn the_program_and_policy_reach_the_sandbox_and_its_code_comes_back() {
        let sandbox = FakeSandbox::new([FakeRun::exits(3)]);
        let mut policy = Policy::default();
        policy.env.insert("A".into(), "1".into());
        let code = run_in(&sandbox, &argv(&["/bin/prog", "x"]), &policy, &quiet()).await;
        assert_eq!(code, 3);
        let spawned = sandbox.spawned();
        assert_eq!(spawned.len(), 1);
        let (command, seen) = &spawned[0];
        assert_eq!(command.program, "/bin/prog");
        assert_eq!(command.args, ["x"]);
        assert_eq!(command.stdout, Stdio::Inherit);
        assert_eq!(seen, &policy);
    }

    #[tokio::test]
    async fn a_limit_kill_exits_137_and_a_refused_policy_exits_125() {
        let mut killed = FakeRun::exits(0);
        killed.report.killed_by = Some(LimitKind::Output);
        let sandbox = FakeSandbox::new([killed]);
        let code = run_in(&sandbox, &argv(&["p"]), &Policy::default(), &quiet()).await;
        assert_eq!(code, 137);

        let mut policy = Policy::default();
        policy.mounts.push(Mount {
            source: "/srv".into(),
            target: "/run".into(),
            writable: false,
        });
        let code = run_in(&sandbox, &argv(&["p"]), &policy, &quiet()).await;
        assert_eq!(code, exit::SANDBOX_SETUP);
        assert!(
            sandbox.spawned().len() == 1,
            "the refused spawn ran nothing"
        );
        assert_eq!(
            run_in(&sandbox, &[], &Policy::default(), &quiet()).await,
            exit::USAGE
        );
    }
}
