//! Memory, pids and CPU limits through cgroups: v2 when `/sys/fs/cgroup` is a unified
//! hierarchy, else the v1 controllers (this kind of machine is hybrid: v1 controllers, a v2
//! tree without them). The sandbox gets its own cgroup beneath the caller's, so a delegated
//! subtree works for unprivileged users, and root does not escape a limit placed on its caller.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::policy::Limits;

const ROOT: &str = "/sys/fs/cgroup";
const CPU_PERIOD_US: u64 = 100_000;

/// Which limits the cgroups cover; the rest fall back to rlimits or are reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coverage {
    pub memory: bool,
    pub pids: bool,
    pub cpu: bool,
}

/// Why a controller could not be used (for the unenforced-limit report).
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusals {
    pub memory: Option<String>,
    pub pids: Option<String>,
    pub cpu: Option<String>,
}

/// The sandbox's cgroups; removed by [`Cgroups::remove`] once every process is gone.
#[derive(Debug)]
pub(crate) struct Cgroups {
    /// Created directories (one per v1 controller, one for v2).
    dirs: Vec<PathBuf>,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    /// Open membership files (`tasks` for v1, `cgroup.procs` for v2, see [`V1_JOIN`]): the child writes `0` to each before it execs
    /// anything.
    procs: Vec<File>,
    unified: bool,
}

impl Cgroups {
    /// Creates and configures the sandbox's cgroups. Failure of any controller is not an
    /// error: it is returned as a refusal and the caller falls back.
    pub fn create(limits: &Limits) -> (Option<Cgroups>, Coverage, Refusals) {
        let cpu_needed = cpu_limit_binds(limits.cpu, online_cpus());
        let (set, mut coverage, mut refusals) = Self::create_for(limits, cpu_needed);
        if !cpu_needed {
            // The share is at least every CPU there is: nothing to enforce, and joining a
            // CPU cgroup would cost a reschedule of the starting sandbox.
            coverage.cpu = true;
            refusals.cpu = None;
        }
        (set, coverage, refusals)
    }

    fn create_for(limits: &Limits, cpu_needed: bool) -> (Option<Cgroups>, Coverage, Refusals) {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "clawc-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let own = match fs::read_to_string("/proc/self/cgroup") {
            Ok(text) => text,
            Err(err) => {
                let reason = format!("cannot read /proc/self/cgroup: {err}");
                return (None, Coverage::default(), Refusals::all(&reason));
            }
        };
        if Path::new(ROOT).join("cgroup.controllers").exists() {
            create_v2(&own, &name, limits, cpu_needed)
        } else {
            create_v1(&own, &name, limits, cpu_needed)
        }
    }

    /// The fds the child writes its own pid into (see [`join_from_child`]).
    pub fn procs_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Whether the kernel's OOM killer killed a process of the sandbox.
    pub fn memory_killed(&self) -> bool {
        let Some(dir) = &self.memory else {
            return false;
        };
        let file = if self.unified {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        counter(&dir.join(file), "oom_kill").is_some_and(|n| n > 0)
    }

    /// Whether a fork failed because the pids limit was reached.
    pub fn pids_exhausted(&self) -> bool {
        let Some(dir) = &self.pids else { return false };
        counter(&dir.join("pids.events"), "max").is_some_and(|n| n > 0)
    }

    /// Kills every process in the sandbox's cgroups.
    pub fn kill_all(&self) {
        for dir in &self.dirs {
            if self.unified && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) else {
                continue;
            };
            for pid in pids
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                // SAFETY: kill with a pid read from the sandbox's own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// Removes the cgroups. Called after the sandbox's PID 1 was reaped, so they are empty;
    /// a process still being torn down by the kernel makes `rmdir` busy for a moment.
    pub fn remove(self) {
        for dir in &self.dirs {
            let mut attempts = 0;
            loop {
                match fs::remove_dir(dir) {
                    Err(err) if err.raw_os_error() == Some(libc::EBUSY) && attempts < 50 => {
                        attempts += 1;
                        self.kill_all();
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(err) if err.kind() != io::ErrorKind::NotFound => {
                        tracing::warn!(cgroup = %dir.display(), %err, "could not remove sandbox cgroup");
                        break;
                    }
                    _ => break,
                }
            }
        }
    }
}

/// Moves the calling process into the cgroups. Runs in the forked (single-threaded) child
/// before `exec`, so it uses only `write(2)` (async-signal-safe); `0` means "the writer".
pub(crate) fn join_from_child(fds: &[RawFd]) -> io::Result<()> {
    for &fd in fds {
        // SAFETY: writing a static byte to an fd the parent opened for this.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Refusals {
    fn all(reason: &str) -> Self {
        Refusals {
            memory: Some(reason.to_owned()),
            pids: Some(reason.to_owned()),
            cpu: Some(reason.to_owned()),
        }
    }
}

/// The caller's cgroup path in the hierarchy whose controller list contains `controller`
/// (`""` for the v2 line).
fn own_path<'a>(own: &'a str, controller: &str) -> Option<&'a str> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then_some(path)
    })
}

/// Whether a CPU share can be exceeded at all on `cpus` CPUs. An unknown count (0) and a NaN
/// share still bind: the first is enforced as asked, the second reported as invalid.
fn cpu_limit_binds(share: f64, cpus: u64) -> bool {
    cpus == 0 || share.is_nan() || share < cpus as f64
}

fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    // An unknown count (-1) becomes 0.
    u64::try_from(online).unwrap_or(0)
}

fn cpu_quota_us(limits: &Limits) -> Result<u64, String> {
    if limits.cpu.is_finite() && limits.cpu > 0.0 {
        // Truncation is fine: microseconds of a 100 ms period; at least 1 ms as the kernel wants.
        Ok(((limits.cpu * CPU_PERIOD_US as f64) as u64).max(1_000))
    } else {
        Err(format!("cpu share {} is not a positive number", limits.cpu))
    }
}

fn create_v1(
    own: &str,
    name: &str,
    limits: &Limits,
    cpu_needed: bool,
) -> (Option<Cgroups>, Coverage, Refusals) {
    let mut set = Cgroups {
        dirs: Vec::new(),
        memory: None,
        pids: None,
        procs: Vec::new(),
        unified: false,
    };
    let mut coverage = Coverage::default();
    let mut refusals = Refusals::default();
    let memory = limits.memory_bytes.to_string();
    let controllers: [(&str, Settings); 3] = [
        (
            "memory",
            vec![
                ("memory.limit_in_bytes", Ok(memory.clone())),
                // Swap counts too where swap accounting exists, so the limit cannot be dodged.
                ("memory.memsw.limit_in_bytes?", Ok(memory)),
            ],
        ),
        ("pids", vec![("pids.max", Ok(limits.pids.to_string()))]),
        (
            "cpu",
            vec![
                ("cpu.cfs_period_us", Ok(CPU_PERIOD_US.to_string())),
                (
                    "cpu.cfs_quota_us",
                    cpu_quota_us(limits).map(|q| q.to_string()),
                ),
            ],
        ),
    ];
    for (controller, settings) in controllers {
        if controller == "cpu" && !cpu_needed {
            continue;
        }
        let outcome = match own_path(own, controller) {
            None => Err(format!("no v1 `{controller}` controller mounted")),
            Some(path) => {
                let dir = Path::new(ROOT)
                    .join(controller)
                    .join(path.trim_start_matches('/'))
                    .join(name);
                make_cgroup(&dir, &settings, V1_JOIN)
                    .map(|procs| (dir.clone(), procs))
                    .inspect_err(|_| {
                        // A half-made cgroup would hold nothing; take it away again.
                        let _ = fs::remove_dir(&dir);
                    })
            }
        };
        let (covered, refusal) = match controller {
            "memory" => (&mut coverage.memory, &mut refusals.memory),
            "pids" => (&mut coverage.pids, &mut refusals.pids),
            _ => (&mut coverage.cpu, &mut refusals.cpu),
        };
        match outcome {
            Ok((dir, procs)) => {
                *covered = true;
                match controller {
                    "memory" => set.memory = Some(dir.clone()),
                    "pids" => set.pids = Some(dir.clone()),
                    _ => {}
                }
                set.dirs.push(dir);
                set.procs.push(procs);
            }
            Err(reason) => *refusal = Some(reason),
        }
    }
    let set = (!set.dirs.is_empty()).then_some(set);
    (set, coverage, refusals)
}

fn create_v2(
    own: &str,
    name: &str,
    limits: &Limits,
    cpu_needed: bool,
) -> (Option<Cgroups>, Coverage, Refusals) {
    let Some(path) = own_path(own, "") else {
        return (
            None,
            Coverage::default(),
            Refusals::all("no cgroup v2 entry in /proc/self/cgroup"),
        );
    };
    let parent = Path::new(ROOT).join(path.trim_start_matches('/'));
    // Succeeds only where the caller may delegate (e.g. a systemd user slice or a container
    // root); otherwise the controllers stay unavailable below and are reported.
    let _ = fs::write(parent.join("cgroup.subtree_control"), "+memory +pids +cpu");
    let dir = parent.join(name);
    if let Err(err) = fs::create_dir(&dir) {
        let reason = format!("cannot create a cgroup under {}: {err}", parent.display());
        return (None, Coverage::default(), Refusals::all(&reason));
    }
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let has = |controller: &str| available.split_whitespace().any(|c| c == controller);
    let mut settings = Vec::new();
    let mut coverage = Coverage::default();
    let mut refusals = Refusals::default();
    let missing = |controller: &str| {
        Some(format!(
            "the `{controller}` controller is not delegated to {}",
            parent.display()
        ))
    };
    if has("memory") {
        settings.push(("memory.max", Ok(limits.memory_bytes.to_string())));
        settings.push(("memory.swap.max?", Ok("0".to_owned())));
        coverage.memory = true;
    } else {
        refusals.memory = missing("memory");
    }
    if has("pids") {
        settings.push(("pids.max", Ok(limits.pids.to_string())));
        coverage.pids = true;
    } else {
        refusals.pids = missing("pids");
    }
    // A share that cannot bind is left to `Cgroups::create`, which records it as held.
    if cpu_needed && has("cpu") {
        settings.push((
            "cpu.max",
            cpu_quota_us(limits).map(|q| format!("{q} {CPU_PERIOD_US}")),
        ));
        coverage.cpu = true;
    } else if cpu_needed {
        refusals.cpu = missing("cpu");
    }
    if coverage == Coverage::default() {
        // Joining a cgroup that limits nothing would only cost an attach.
        let _ = fs::remove_dir(&dir);
        return (None, coverage, refusals);
    }
    match make_cgroup_settings(&dir, &settings, V2_JOIN) {
        Ok(procs) => {
            let set = Cgroups {
                dirs: vec![dir.clone()],
                memory: coverage.memory.then(|| dir.clone()),
                pids: coverage.pids.then(|| dir.clone()),
                procs: vec![procs],
                unified: true,
            };
            (Some(set), coverage, refusals)
        }
        Err(reason) => {
            let _ = fs::remove_dir(&dir);
            (None, Coverage::default(), Refusals::all(&reason))
        }
    }
}

/// Files to write in a new cgroup, with their values (or why a value is invalid).
type Settings = Vec<(&'static str, Result<String, String>)>;

/// The file the child writes `0` to in order to join a v1 cgroup: `tasks` moves only the
/// writing thread, and the kernel migrates the current thread without taking the global
/// threadgroup rwsem (whose write side waits for an RCU grace period, several milliseconds
/// on a busy machine). The child is a fresh fork and has exactly one thread, so moving that
/// thread moves the whole process, and everything bubblewrap starts inherits the cgroup.
const V1_JOIN: &str = "tasks";
/// cgroup v2 has no per-thread join for domain cgroups; `cgroup.procs` moves the process.
const V2_JOIN: &str = "cgroup.procs";

/// Creates `dir` and applies `settings` (a file name ending in `?` is optional).
fn make_cgroup(dir: &Path, settings: &Settings, join_file: &str) -> Result<File, String> {
    fs::create_dir(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    make_cgroup_settings(dir, settings, join_file)
}

/// Applies `settings` and opens `join_file` for the child to write to.
fn make_cgroup_settings(
    dir: &Path,
    settings: &[(&str, Result<String, String>)],
    join_file: &str,
) -> Result<File, String> {
    for (file, value) in settings {
        let value = value.as_ref().map_err(Clone::clone)?;
        let (file, optional) = match file.strip_suffix('?') {
            Some(file) => (file, true),
            None => (*file, false),
        };
        let path = dir.join(file);
        if optional && !path.exists() {
            continue;
        }
        fs::write(&path, value).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(join_file))
        .map_err(|err| format!("cannot open {}/{join_file}: {err}", dir.display()))
}

/// Reads `key N` from a flat-keyed cgroup file.
fn counter(file: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::cpu_limit_binds;

    #[test]
    fn cpu_share_binds_only_below_the_cpu_count() {
        assert!(cpu_limit_binds(1.0, 2));
        assert!(cpu_limit_binds(1.5, 2));
        assert!(!cpu_limit_binds(2.0, 2));
        assert!(!cpu_limit_binds(4.0, 2));
        assert!(cpu_limit_binds(f64::NAN, 2));
        assert!(cpu_limit_binds(8.0, 0));
    }
}
