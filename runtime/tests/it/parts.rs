//! The real parts this crate's suites start: the init binary, and engine runtimes.

/// The in-sandbox init the suites start: this build's `claw-sandbox-init`, which the backends
/// replace with `$CLAWC_SANDBOX_INIT` when it is set (the released binaries, in CI).
pub fn test_init() -> claw_runtime::init::InitExe {
    claw_runtime::init::InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
    }
}

/// Why `runtime` (e.g. gVisor's `clawc-runsc`) cannot be used on this engine, if it cannot.
pub async fn runtime_missing(
    sandbox: &claw_runtime::docker::DockerSandbox,
    runtime: &str,
) -> Option<String> {
    let known = match sandbox.docker().info().await {
        Ok(info) => info.runtimes.is_some_and(|r| r.contains_key(runtime)),
        Err(_) => false,
    };
    (!known).then(|| format!("the engine has no runtime {runtime}: run scripts/docker-engine.sh"))
}
