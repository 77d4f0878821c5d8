//! The seccomp filter, compiled once in Rust and handed to bubblewrap as BPF on a pipe
//! (`--add-seccomp-fd`). Default allow with a deny list: the sandbox runs arbitrary programs
//! (python, node, shells), and the list targets kernel attack surface and escape tools.

use std::collections::BTreeMap;

use crate::seccomp_policy::{
    ALLOWED_FAMILIES, ALLOWED_PERSONALITIES, DENIED, DENIED_IOCTLS, NAMESPACE_FLAGS,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

/// The compiled filters as the raw `struct sock_filter` arrays bubblewrap reads.
#[derive(Debug, Clone)]
pub(crate) struct SeccompPrograms {
    /// Denies with `EPERM`.
    pub deny: Vec<u8>,
    /// `clone3` fails with `ENOSYS`: its flags live in memory a filter cannot inspect, and
    /// `ENOSYS` makes libc fall back to `clone`, whose flags the deny filter checks.
    pub clone3: Vec<u8>,
}

/// x86_64's x32 ABI numbers syscalls with this bit set; they would slip past a list keyed by
/// the plain numbers, so the filter refuses every one of them.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(crate) fn compile() -> Result<SeccompPrograms, seccompiler::Error> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)?;
    let eperm = SeccompAction::Errno(libc::EPERM as u32);

    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .map(|syscall| (syscall.nr, Vec::new()))
        .collect();
    let any_of = |values: Vec<(SeccompCmpOp, u64)>, arg: u8| {
        values
            .into_iter()
            .map(|(op, value)| {
                SeccompRule::new(vec![SeccompCondition::new(
                    arg,
                    SeccompCmpArgLen::Dword,
                    op,
                    value,
                )?])
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let all_of = |values: Vec<(SeccompCmpOp, u64)>, arg: u8| {
        let conditions = values
            .into_iter()
            .map(|(op, value)| SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value))
            .collect::<Result<Vec<_>, _>>()?;
        SeccompRule::new(conditions).map(|rule| vec![rule])
    };
    rules.insert(
        libc::SYS_clone,
        any_of(
            NAMESPACE_FLAGS
                .iter()
                .map(|&flag| (SeccompCmpOp::MaskedEq(flag as u64), flag as u64))
                .collect(),
            0,
        )?,
    );
    rules.insert(
        libc::SYS_ioctl,
        any_of(
            DENIED_IOCTLS
                .iter()
                .map(|&request| (SeccompCmpOp::Eq, u64::from(request as u32)))
                .collect(),
            1,
        )?,
    );
    rules.insert(
        libc::SYS_socket,
        all_of(
            ALLOWED_FAMILIES
                .iter()
                .map(|&family| (SeccompCmpOp::Ne, family as u64))
                .collect(),
            0,
        )?,
    );
    rules.insert(
        libc::SYS_personality,
        all_of(
            ALLOWED_PERSONALITIES
                .iter()
                .map(|&value| (SeccompCmpOp::Ne, value))
                .collect(),
            0,
        )?,
    );
    let deny: BpfProgram =
        SeccompFilter::new(rules, SeccompAction::Allow, eperm.clone(), arch)?.try_into()?;
    let deny = refuse_x32(deny, eperm);

    let clone3_rules = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let clone3: BpfProgram = SeccompFilter::new(
        clone3_rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?
    .try_into()?;

    Ok(SeccompPrograms {
        deny: to_bytes(&deny),
        clone3: to_bytes(&clone3),
    })
}

/// Inserts "syscall number has the x32 bit → refuse" right after seccompiler's architecture
/// check (its first three instructions). Later jumps are relative, so they stay valid.
#[cfg(target_arch = "x86_64")]
fn refuse_x32(mut program: BpfProgram, action: SeccompAction) -> BpfProgram {
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0 = seccomp_data.nr
    const JUMP_GE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    let guard = [
        sock_filter {
            code: LOAD_NR,
            jt: 0,
            jf: 0,
            k: 0,
        },
        sock_filter {
            code: JUMP_GE,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: RETURN,
            jt: 0,
            jf: 0,
            k: u32::from(action),
        },
    ];
    let at = program.len().min(3);
    program.splice(at..at, guard);
    program
}

#[cfg(not(target_arch = "x86_64"))]
fn refuse_x32(program: BpfProgram, _action: SeccompAction) -> BpfProgram {
    program
}

fn to_bytes(program: &[sock_filter]) -> Vec<u8> {
    program
        .iter()
        .flat_map(|insn| {
            let mut bytes = [0u8; 8];
            bytes[0..2].copy_from_slice(&insn.code.to_ne_bytes());
            bytes[2] = insn.jt;
            bytes[3] = insn.jf;
            bytes[4..8].copy_from_slice(&insn.k.to_ne_bytes());
            bytes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_to_whole_instructions() {
        let programs = compile().unwrap();
        assert!(programs.deny.len() > 8 * DENIED.len());
        assert_eq!(programs.deny.len() % 8, 0);
        assert_eq!(programs.clone3.len() % 8, 0);
        assert!(!programs.clone3.is_empty());
    }
}
