//! The seccomp profile every container gets, as Docker's JSON. Docker's own default profile
//! (engine 20.10) still allows `io_uring`, `ptrace` and `TIOCSTI`, which the project's policy
//! refuses; a profile given in `security_opt` replaces the default rather than adding to it, so
//! this one denies the native backend's list plus what Docker's default denied on top of that.
//!
//! Default allow with a deny list, like the native filter: the sandbox runs arbitrary programs.
//! Only the x86-64 (or aarch64) native ABI is listed, so syscalls of any other ABI (x32, i386
//! via `int 0x80`) hit libseccomp's bad-architecture action and kill the process.

use serde_json::{json, Value};

use crate::seccomp_policy::{ALLOWED_FAMILIES, DENIED, DENIED_IOCTLS, NAMESPACE_FLAGS};

/// What Docker's default profile denies beyond the shared list (without `CAP_SYS_NICE` and
/// friends), kept since this profile replaces that default.
const DOCKER_DEFAULT_DENIED: &[&str] = &[
    "lookup_dcookie",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "move_pages",
    "sysfs",
    "_sysctl",
    "ustat",
];

/// One past the highest address family Linux knows (`AF_MAX`); higher ones fail anyway.
const AF_MAX: libc::c_int = 46;

#[cfg(target_arch = "x86_64")]
const ARCH: &str = "SCMP_ARCH_X86_64";
#[cfg(target_arch = "aarch64")]
const ARCH: &str = "SCMP_ARCH_AARCH64";

/// The profile, serialised for `security_opt: ["seccomp=<json>"]`.
pub fn profile() -> String {
    let eperm = libc::EPERM;
    let names: Vec<&str> = DENIED
        .iter()
        .map(|syscall| syscall.name())
        .chain(DOCKER_DEFAULT_DENIED.iter().copied())
        .collect();
    let mut rules = vec![json!({ "names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": eperm })];
    // `clone3` passes its flags in memory a filter cannot inspect; ENOSYS makes libc fall back
    // to `clone`, whose flags are checked below.
    rules
        .push(json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS }));
    // One rule per refused value: rules for the same syscall are alternatives.
    let refuse = |name: &str, index: u32, op: &str, value: u64, value_two: u64| -> Value {
        json!({
            "names": [name],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": eperm,
            "args": [{ "index": index, "value": value, "valueTwo": value_two, "op": op }],
        })
    };
    for &flag in NAMESPACE_FLAGS {
        let flag = u64::from(flag.unsigned_abs());
        rules.push(refuse("clone", 0, "SCMP_CMP_MASKED_EQ", flag, flag));
    }
    for &request in DENIED_IOCTLS {
        rules.push(refuse("ioctl", 1, "SCMP_CMP_EQ", request, 0));
    }
    for family in (0..AF_MAX).filter(|f| !ALLOWED_FAMILIES.contains(f)) {
        rules.push(refuse(
            "socket",
            0,
            "SCMP_CMP_EQ",
            u64::from(family.unsigned_abs()),
            0,
        ));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [ARCH],
        "syscalls": rules,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_refuses_what_docker_20_10_still_allows() {
        let profile: Value = serde_json::from_str(&profile()).unwrap();
        assert_eq!(profile["defaultAction"], "SCMP_ACT_ALLOW");
        let rules = profile["syscalls"].as_array().unwrap();
        let denied = rules[0]["names"].as_array().unwrap();
        for name in ["io_uring_setup", "ptrace", "bpf", "unshare"] {
            assert!(denied.iter().any(|n| n == name), "{name} not denied");
        }
        let tiocsti = rules
            .iter()
            .any(|r| r["names"][0] == "ioctl" && r["args"][0]["value"] == libc::TIOCSTI);
        assert!(tiocsti, "TIOCSTI not denied");
        let netlink = rules
            .iter()
            .any(|r| r["names"][0] == "socket" && r["args"][0]["value"] == libc::AF_NETLINK as u64);
        assert!(netlink, "AF_NETLINK sockets not denied");
        let inet = rules
            .iter()
            .any(|r| r["names"][0] == "socket" && r["args"][0]["value"] == libc::AF_INET as u64);
        assert!(!inet, "AF_INET must stay allowed (egress bridge)");
    }
}
