//! What the host tells the in-sandbox init, as command-line arguments, and what init reports
//! back on its status pipe. Both sides use this one module, so the format cannot drift.

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::path::PathBuf;

/// Everything init does before it runs the program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InitPlan {
    /// Declared read-only mounts: Landlock grants read and execute beneath them.
    pub read_only: Vec<PathBuf>,
    /// Declared writable mounts: Landlock grants read and write (no execute) beneath them.
    pub read_write: Vec<PathBuf>,
    /// `RLIMIT_DATA` for every process, when no memory cgroup holds the sandbox. DATA rather
    /// than AS: runtimes that reserve large inaccessible address ranges (V8, Go) still start.
    pub rlimit_data: Option<u64>,
    /// `RLIMIT_NPROC`, when no pids cgroup holds the sandbox. Set inside the sandbox's own user
    /// namespace, so it counts only the sandbox's processes (per-namespace ucounts).
    pub rlimit_nproc: Option<u64>,
    /// The egress proxy's Unix socket inside the sandbox; init serves the bridge to it.
    pub bridge_socket: Option<PathBuf>,
    /// The model-API relay's Unix socket inside; init serves `127.0.0.1:3129` to it.
    pub relay_socket: Option<PathBuf>,
    /// Where init writes the program's final status (an fd inherited through bubblewrap).
    pub status_fd: Option<RawFd>,
    /// A Unix socket the host listens on (Docker): init connects before anything else, writes
    /// the final status there, and ends the sandbox when the host's end closes — the host
    /// (clawc) died, so nothing of the sandbox may outlive it.
    pub lifeline: Option<PathBuf>,
    /// The wall timeout, enforced by init itself (Docker: a container must not outlive it even
    /// when nobody on the host waits for it any more).
    pub timeout_ms: Option<u64>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

const READ_ONLY: &str = "--ro";
const READ_WRITE: &str = "--rw";
const RLIMIT_DATA: &str = "--rlimit-data";
const RLIMIT_NPROC: &str = "--rlimit-nproc";
const BRIDGE: &str = "--bridge";
const RELAY: &str = "--relay";
const STATUS_FD: &str = "--status-fd";
const LIFELINE: &str = "--lifeline";
const TIMEOUT_MS: &str = "--timeout-ms";
const END: &str = "--";

impl InitPlan {
    /// A plan granting Landlock access to exactly the policy's declared mounts; the backend
    /// fills in the rest.
    pub fn for_mounts(policy: &crate::policy::Policy) -> Self {
        let targets = |writable: bool| -> Vec<PathBuf> {
            policy
                .mounts
                .iter()
                .filter(|m| m.writable == writable)
                .map(|m| m.target.clone())
                .collect()
        };
        InitPlan {
            read_only: targets(false),
            read_write: targets(true),
            ..InitPlan::default()
        }
    }

    pub fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
        let mut flag = |name: &str, value: OsString| {
            out.push(name.into());
            out.push(value);
        };
        for path in &self.read_only {
            flag(READ_ONLY, path.clone().into_os_string());
        }
        for path in &self.read_write {
            flag(READ_WRITE, path.clone().into_os_string());
        }
        if let Some(bytes) = self.rlimit_data {
            flag(RLIMIT_DATA, bytes.to_string().into());
        }
        if let Some(count) = self.rlimit_nproc {
            flag(RLIMIT_NPROC, count.to_string().into());
        }
        if let Some(socket) = &self.bridge_socket {
            flag(BRIDGE, socket.clone().into_os_string());
        }
        if let Some(socket) = &self.relay_socket {
            flag(RELAY, socket.clone().into_os_string());
        }
        if let Some(fd) = self.status_fd {
            flag(STATUS_FD, fd.to_string().into());
        }
        if let Some(socket) = &self.lifeline {
            flag(LIFELINE, socket.clone().into_os_string());
        }
        if let Some(ms) = self.timeout_ms {
            flag(TIMEOUT_MS, ms.to_string().into());
        }
        out.push(END.into());
        out.push(self.program.clone());
        out.extend(self.args.iter().cloned());
        out
    }

    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, String> {
        let mut plan = InitPlan::default();
        let mut args = args.into_iter();
        loop {
            let Some(name) = args.next() else {
                return Err("missing `-- PROGRAM`".to_owned());
            };
            if name == END {
                break;
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{} needs a value", name.to_string_lossy()))?;
            match name.to_str() {
                Some(READ_ONLY) => plan.read_only.push(value.into()),
                Some(READ_WRITE) => plan.read_write.push(value.into()),
                Some(RLIMIT_DATA) => plan.rlimit_data = Some(number(&name, &value)?),
                Some(RLIMIT_NPROC) => plan.rlimit_nproc = Some(number(&name, &value)?),
                Some(BRIDGE) => plan.bridge_socket = Some(value.into()),
                Some(RELAY) => plan.relay_socket = Some(value.into()),
                Some(STATUS_FD) => plan.status_fd = Some(number(&name, &value)?),
                Some(LIFELINE) => plan.lifeline = Some(value.into()),
                Some(TIMEOUT_MS) => plan.timeout_ms = Some(number(&name, &value)?),
                _ => return Err(format!("unknown option {}", name.to_string_lossy())),
            }
        }
        plan.program = args.next().ok_or("missing PROGRAM after `--`")?;
        plan.args = args.collect();
        Ok(plan)
    }
}

fn number<T: std::str::FromStr>(name: &OsStr, value: &OsStr) -> Result<T, String> {
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{} needs a number", name.to_string_lossy()))
}

/// The line init writes before its status when it ended the program at the wall timeout (the
/// status itself is then `signal 9`).
pub(crate) const TIMED_OUT: &str = "timeout";

/// How the program ended, as init saw it. Bubblewrap can only pass on an exit code (a signal
/// becomes 128 + n), so init reports the real status on a pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InitStatus {
    Exited(i32),
    Signaled(i32),
    /// Init could not run the program (Landlock failed, program not found, …).
    Failed(String),
}

impl InitStatus {
    pub fn encode(&self) -> String {
        match self {
            InitStatus::Exited(code) => format!("exit {code}\n"),
            InitStatus::Signaled(signal) => format!("signal {signal}\n"),
            InitStatus::Failed(message) => format!("error {}\n", message.replace('\n', " ")),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        let line = text.lines().next()?;
        let (kind, rest) = line.split_once(' ')?;
        match kind {
            "exit" => rest.parse().ok().map(InitStatus::Exited),
            "signal" => rest.parse().ok().map(InitStatus::Signaled),
            "error" => Some(InitStatus::Failed(rest.to_owned())),
            _ => None,
        }
    }

    /// What init itself exits with (bubblewrap passes it on).
    pub fn exit_code(&self) -> i32 {
        match self {
            InitStatus::Exited(code) => *code,
            InitStatus::Signaled(signal) => 128 + signal,
            InitStatus::Failed(_) => 125,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips_through_arguments() {
        let plan = InitPlan {
            read_only: vec!["/data".into()],
            read_write: vec!["/out".into(), "/work".into()],
            rlimit_data: Some(1 << 20),
            rlimit_nproc: Some(16),
            bridge_socket: Some("/run/clawc/egress.sock".into()),
            relay_socket: Some("/run/clawc/relay.sock".into()),
            status_fd: Some(9),
            lifeline: Some("/run/clawc/lifeline.sock".into()),
            timeout_ms: Some(30_000),
            program: "python3".into(),
            args: vec!["-c".into(), "--".into(), "--ro".into()],
        };
        assert_eq!(InitPlan::parse(plan.to_args()), Ok(plan));
    }

    #[test]
    fn parse_rejects_garbage() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(InitPlan::parse(args(&["--ro"])).is_err());
        assert!(InitPlan::parse(args(&["--rlimit-as", "x", "--", "true"])).is_err());
        assert!(InitPlan::parse(args(&["--bogus", "1", "--", "true"])).is_err());
        assert!(InitPlan::parse(args(&["--"])).is_err());
    }

    #[test]
    fn status_round_trips() {
        for status in [
            InitStatus::Exited(3),
            InitStatus::Signaled(9),
            InitStatus::Failed("no\nsuch".to_owned()),
        ] {
            let decoded = InitStatus::decode(&status.encode());
            match status {
                InitStatus::Failed(_) => {
                    assert_eq!(decoded, Some(InitStatus::Failed("no such".to_owned())))
                }
                _ => assert_eq!(decoded, Some(status)),
            }
        }
        assert_eq!(InitStatus::decode("garbage"), None);
    }
}
