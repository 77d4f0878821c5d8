//! The Landlock layer, applied by init after bubblewrap has built the mount tree: even if a
//! mount leaked into the sandbox, the program could only reach the paths granted here.

use std::path::PathBuf;

use landlock::{
    path_beneath_rules, Access, AccessFs, BitFlags, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetError, RulesetStatus, Scope, ABI,
};

use super::plan::InitPlan;

/// The newest ABI whose rights were reviewed for this policy. Best-effort compatibility
/// enforces whatever subset the running kernel has.
const REVIEWED_ABI: ABI = ABI::V6;
const _: () = assert!(super::LANDLOCK_REVIEWED_ABI == REVIEWED_ABI as i64);

/// Device nodes a program may use (bubblewrap's `--dev` creates only harmless ones).
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
];

/// Restricts this process and everything it starts afterwards. Also sets `no_new_privs`.
pub(crate) fn restrict(plan: &InitPlan) -> Result<RulesetStatus, RulesetError> {
    let abi = REVIEWED_ABI;
    let read_exec = AccessFs::from_read(abi);
    let read = read_exec & !AccessFs::Execute;
    // Writable places never grant execute: dropped binaries cannot be started directly
    // (matching Docker's `noexec` tmpfs).
    let read_write = AccessFs::from_all(abi) & !AccessFs::Execute;
    let device: BitFlags<AccessFs> = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::IoctlDev;

    let writable: Vec<PathBuf> = std::iter::once(PathBuf::from("/tmp"))
        .chain(plan.read_write.iter().cloned())
        .collect();
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .scope(Scope::from_all(abi))?
        .create()?
        // Listing directories reveals only what the mount tree already shows.
        .add_rules(path_beneath_rules(["/"], AccessFs::ReadDir))?
        .add_rules(path_beneath_rules(["/usr"], read_exec))?
        // Present only when the sandbox has network (see the native backend's layout).
        .add_rules(path_beneath_rules(["/etc/ssl/certs"], read))?
        .add_rules(path_beneath_rules(["/proc"], read))?
        .add_rules(path_beneath_rules(DEVICES, device))?
        .add_rules(path_beneath_rules(&plan.read_only, read_exec))?
        .add_rules(path_beneath_rules(&writable, read_write))?
        .restrict_self()?;
    Ok(status.ruleset)
}
