//! Memory, pids and CPU limits through cgroups: v2 when `/sys/fs/cgroup` is a unified
//! hierarchy, else the v1 controllers (this kind of machine is hybrid: v1 controllers, a v2
//! tree without them). The sandbox gets its own cgroup beneath the caller's, so a delegated
//! subtree works for unprivileged users, and root does not escape a limit placed on its caller.
//!
//! Every directory made here is named after its owner (`clawc-<pid>-<start>-<suffix>`, see
//! [`crate::owner::Owner`]), so a later `clawc` can reap what a killed one left behind (processes included)
//! without ever touching a live owner's.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::owner::Owner;
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
        let Some(owner) = Owner::current() else {
            return (
                None,
                Coverage::default(),
                Refusals::all("cannot read this process's start time from /proc/self/stat"),
            );
        };
        let name = owner.name(&SEQUENCE.fetch_add(1, Ordering::Relaxed).to_string());
        let own = match fs::read_to_string("/proc/self/cgroup") {
            Ok(text) => text,
            Err(err) => {
                let reason = format!("cannot read /proc/self/cgroup: {err}");
                return (None, Coverage::default(), Refusals::all(&reason));
            }
        };
        if Path::new(ROOT).join("cgroup.controllers").exists() {
            create_v2(&own, owner, &name, limits, cpu_needed)
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
            kill_members(dir);
        }
    }

    /// Removes the cgroups. Called after the sandbox's PID 1 was reaped, so they are empty;
    /// a process still being torn down by the kernel makes `rmdir` busy for a moment.
    pub fn remove(self) {
        for dir in &self.dirs {
            if let Err(err) = remove_killing(dir) {
                tracing::warn!(cgroup = %dir.display(), %err, "could not remove sandbox cgroup");
            }
        }
    }
}

/// Kills every process in the cgroup `dir`: `cgroup.kill` where the kernel has it (v2, 5.14+),
/// else each pid listed in `cgroup.procs`.
fn kill_members(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in pids
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
        .filter(|pid| *pid > 0)
    {
        // SAFETY: kill with a pid read from a clawc cgroup (never 0 or negative: no group kill).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Removes the cgroup `dir`, killing what is left in it while `rmdir` says it is busy. A
/// directory that is already gone counts as removed (another `clawc` may reap it at once).
fn remove_killing(dir: &Path) -> io::Result<()> {
    let mut attempts = 0;
    loop {
        match fs::remove_dir(dir) {
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && attempts < 50 => {
                attempts += 1;
                kill_members(dir);
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => return other,
        }
    }
}

const NAME_PREFIX: &str = "clawc-";

/// The names of an owner's cgroups (the owner itself is `crate::owner`'s).
impl Owner {
    /// The directory name for one of this owner's cgroups.
    fn name(self, suffix: &str) -> String {
        format!("{NAME_PREFIX}{}-{}-{suffix}", self.pid, self.start)
    }

    /// The owner written into a directory name by [`Owner::name`]; `None` for anything else
    /// (which is then never touched).
    fn from_name(name: &str) -> Option<Owner> {
        let mut parts = name.strip_prefix(NAME_PREFIX)?.splitn(3, '-');
        let pid = parts.next()?;
        let start = parts.next()?;
        let suffix = parts.next()?;
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let suffix_ok = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(digits(pid) && digits(start) && suffix_ok) {
            return None;
        }
        Some(Owner {
            pid: pid.parse().ok().filter(|pid| *pid > 0)?,
            start: start.parse().ok()?,
        })
    }
}

/// Removes the clawc cgroups in `parent` whose owner is dead, killing what still runs in them
/// (a `clawc` killed with SIGKILL leaves its sandboxes' cgroups behind, and possibly processes),
/// and returns them. Only direct children named by [`Owner::name`] are considered. Runs at
/// every sandbox creation: one `readdir` of the parent, so a long-lived gateway also reaps what
/// another, killed `clawc` left there.
fn reap_stale(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut reaped = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(Owner::from_name) else {
            continue;
        };
        if owner.alive() || !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        let dir = entry.path();
        match remove_killing(&dir) {
            Ok(()) => {
                tracing::info!(cgroup = %dir.display(), pid = owner.pid, "reaped the cgroup of a dead clawc");
                reaped.push(dir);
            }
            Err(err) => {
                tracing::warn!(cgroup = %dir.display(), %err, "could not reap a dead clawc's cgroup");
            }
        }
    }
    reaped
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
                let parent = Path::new(ROOT)
                    .join(controller)
                    .join(path.trim_start_matches('/'));
                reap_stale(&parent);
                let dir = parent.join(name);
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
    owner: Owner,
    name: &str,
    limits: &Limits,
    cpu_needed: bool,
) -> (Option<Cgroups>, Coverage, Refusals) {
    let parent = match v2_parent(own, owner) {
        Ok(parent) => parent,
        Err(reason) => return (None, Coverage::default(), Refusals::all(&reason)),
    };
    reap_stale(parent);
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
    // Either cause leaves the controller out of the new cgroup's `cgroup.controllers`: the
    // parent's `cgroup.subtree_control` was not ours to write, or the cgroup above the parent
    // never made the controller available to it (seen in the v2 VM, scripts/cgroup-v2-vm.sh).
    let missing = |controller: &str| {
        Some(format!(
            "the `{controller}` controller is not available to child cgroups of {}: it is not delegated to it, or the cgroup above does not enable it",
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

/// The v2 cgroup under which this process makes its sandboxes' cgroups, with the controllers
/// enabled for its children. Settled once per process, because settling it may move this
/// process into a leaf of its own (after which `/proc/self/cgroup` names the leaf).
fn v2_parent(own: &str, owner: Owner) -> Result<&'static Path, String> {
    static PARENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PARENT
        .get_or_init(|| {
            let path = own_path(own, "")
                .ok_or_else(|| "no cgroup v2 entry in /proc/self/cgroup".to_owned())?;
            let parent = Path::new(ROOT).join(path.trim_start_matches('/'));
            delegate_v2(&parent, owner)?;
            Ok(parent)
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

/// The controllers a sandbox's v2 cgroup may use.
const V2_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// Enables [`V2_CONTROLLERS`] (those `parent` has) for `parent`'s children. cgroup v2's "no
/// internal processes" rule refuses that (EBUSY) while processes sit in `parent` itself,
/// except at the root: when the only one there is this process, it moves into a leaf of its
/// own (named for it, so it is reaped once it is dead) and enables them then. A controller
/// that stays off is reported per limit by [`create_v2`], not here.
fn delegate_v2(parent: &Path, owner: Owner) -> Result<(), String> {
    let available = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
    let enable = |controller: &str| {
        fs::write(
            parent.join("cgroup.subtree_control"),
            format!("+{controller}"),
        )
    };
    let wanted = V2_CONTROLLERS
        .into_iter()
        .filter(|c| available.split_whitespace().any(|a| a == *c));
    for controller in wanted {
        // One write per controller: one the kernel refuses must not keep the others off.
        let Err(err) = enable(controller) else {
            continue;
        };
        if err.raw_os_error() != Some(libc::EBUSY) {
            // Not delegated to us (EACCES, EPERM...): reported per limit later.
            continue;
        }
        let members = fs::read_to_string(parent.join("cgroup.procs")).unwrap_or_default();
        let others = members
            .lines()
            .filter(|pid| pid.trim().parse::<u32>().ok() != Some(owner.pid))
            .count();
        if others > 0 {
            // SAFETY: geteuid only reads this process's credentials.
            let hint = if unsafe { libc::geteuid() } == 0 {
                "systemd-run --scope -p Delegate=yes"
            } else {
                "systemd-run --user --scope -p Delegate=yes"
            };
            return Err(format!(
                "{} holds other processes besides clawc, so cgroup v2 cannot give it child cgroups with controllers (the \"no internal processes\" rule); run clawc in a cgroup of its own, e.g. under `{hint}`",
                parent.display()
            ));
        }
        let leaf = parent.join(owner.name("supervisor"));
        fs::create_dir(&leaf)
            .and_then(|()| fs::write(leaf.join("cgroup.procs"), owner.pid.to_string()))
            .map_err(|err| {
                let _ = fs::remove_dir(&leaf);
                format!(
                    "cannot move clawc into {} to free {} for its sandboxes: {err}",
                    leaf.display(),
                    parent.display()
                )
            })?;
        tracing::debug!(leaf = %leaf.display(), "clawc moved into a leaf cgroup of its own");
        if let Err(err) = enable(controller) {
            tracing::debug!(controller, %err, "cgroup controller stays off");
        }
    }
    Ok(())
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
    use super::*;

    #[test]
    fn cpu_share_binds_only_below_the_cpu_count() {
        assert!(cpu_limit_binds(1.0, 2));
        assert!(cpu_limit_binds(1.5, 2));
        assert!(!cpu_limit_binds(2.0, 2));
        assert!(!cpu_limit_binds(4.0, 2));
        assert!(cpu_limit_binds(f64::NAN, 2));
        assert!(cpu_limit_binds(8.0, 0));
    }

    /// A `/proc/<pid>/stat` line whose command name is `comm` and start time 987654.
    #[test]
    fn owner_names_round_trip_and_nothing_else_parses() {
        let owner = Owner {
            pid: 4242,
            start: 987_654,
        };
        assert_eq!(owner.name("3"), "clawc-4242-987654-3");
        assert_eq!(Owner::from_name(&owner.name("3")), Some(owner));
        assert_eq!(Owner::from_name(&owner.name("supervisor")), Some(owner));
        for foreign in [
            "clawc-4242-7",          // the old naming, without a start time
            "clawc-4242-987654-",    // no suffix
            "clawc-4242-987654-a/b", // not a plain name
            "clawc-0-987654-1",      // pid 0 is no process
            "clawc--987654-1",
            "clawc-x-987654-1",
            "clawc-4242-9876x4-1",
            "clawc-99999999999-1-1", // beyond a pid
            "docker-4242-987654-1",
            "system.slice",
        ] {
            assert_eq!(Owner::from_name(foreign), None, "{foreign}");
        }
    }

    /// The owner mark of a child process that has exited and been reaped.
    fn exited_owner() -> Owner {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let owner = Owner::of(child.id()).expect("child start time");
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
        owner
    }

    /// The parent the sandbox cgroups of this process go to, when it can write there: v2's
    /// (delegated) cgroup, or the v1 memory controller's. `None` without root or a delegation.
    fn writable_parent() -> Option<PathBuf> {
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let parent = if Path::new(ROOT).join("cgroup.controllers").exists() {
            v2_parent(&own, Owner::current()?).ok()?.to_path_buf()
        } else {
            Path::new(ROOT)
                .join("memory")
                .join(own_path(&own, "memory")?.trim_start_matches('/'))
        };
        let probe = parent.join(Owner::current()?.name("probe"));
        fs::create_dir(&probe).ok()?;
        fs::remove_dir(&probe).ok()?;
        Some(parent)
    }

    /// Makes the cgroup `parent/name` and starts a `sleep` inside it.
    fn cgroup_with_sleeper(parent: &Path, name: &str) -> (PathBuf, std::process::Child) {
        let dir = parent.join(name);
        fs::create_dir(&dir).expect("create test cgroup");
        let sleeper = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .expect("spawn sleep");
        fs::write(dir.join("cgroup.procs"), sleeper.id().to_string()).expect("join test cgroup");
        (dir, sleeper)
    }

    /// A killed run's cgroup (owner dead, a process still inside) goes, process and all; a
    /// live owner's stays with its process untouched, and so does a directory of another name.
    #[test]
    fn reaping_removes_only_dead_owners_cgroups() {
        let Some(parent) = writable_parent() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: this test needs a writable cgroup (run as root or in a delegated cgroup)"
            );
            // Not root and no delegation: nothing to reap here (CI, as root, always runs it).
            return;
        };
        let dead = exited_owner();
        let (dead_dir, mut dead_sleeper) = cgroup_with_sleeper(&parent, &dead.name("0"));
        let mut live_owner = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .expect("spawn live owner");
        let live = Owner::of(live_owner.id()).expect("owner start time");
        let (live_dir, mut live_sleeper) = cgroup_with_sleeper(&parent, &live.name("0"));
        let foreign_dir = parent.join(format!("clawc-test-foreign-{}", std::process::id()));
        fs::create_dir(&foreign_dir).expect("create foreign cgroup");

        let reaped = reap_stale(&parent);

        let dead_gone = !dead_dir.exists();
        let dead_status = dead_sleeper
            .wait()
            .expect("wait for the dead owner's sleeper");
        let live_stays = live_dir.exists();
        let live_running = live_sleeper
            .try_wait()
            .expect("poll live sleeper")
            .is_none();
        let foreign_stays = foreign_dir.exists();
        // Clean up before asserting, so a failure leaves nothing behind.
        for child in [&mut live_sleeper, &mut live_owner] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = remove_killing(&live_dir);
        let _ = fs::remove_dir(&foreign_dir);
        let _ = remove_killing(&dead_dir);

        assert!(reaped.contains(&dead_dir), "reaped {reaped:?}");
        assert!(dead_gone, "the dead owner's cgroup is still there");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&dead_status),
            Some(libc::SIGKILL),
            "the process left in the dead owner's cgroup was not killed"
        );
        assert!(live_stays, "a live owner's cgroup was reaped");
        assert!(live_running, "a live owner's process was killed");
        assert!(foreign_stays, "a directory not named by clawc was reaped");
        assert!(!reaped.contains(&live_dir));
    }
}
