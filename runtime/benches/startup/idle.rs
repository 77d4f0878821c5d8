//! Resident memory of a process tree, from `/proc`: what the sandbox machinery costs while the
//! program inside does nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

/// Memory of the counted processes, in KiB.
#[derive(Debug, Default)]
pub struct Usage {
    pub processes: usize,
    /// Resident set size: counts shared pages (libraries) once per process.
    pub rss_kib: u64,
    /// Proportional set size: shared pages split among their users, so the sum is honest.
    pub pss_kib: u64,
    /// Unique set size: pages no other process maps, i.e. what ending the sandbox frees.
    pub uss_kib: u64,
}

/// Every descendant of `root` except processes named `program` (the workload, not overhead).
pub fn machinery_memory(root: u32, program: &str) -> io::Result<Usage> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit while we look; it simply is not counted.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((name, ppid)) = parse_stat(&stat) {
            children.entry(ppid).or_default().push(pid);
            names.insert(pid, name);
        }
    }
    let mut descendants = BTreeSet::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if descendants.insert(child) {
                queue.push(child);
            }
        }
    }
    let mut usage = Usage::default();
    for pid in descendants {
        if names.get(&pid).is_some_and(|name| name == program) {
            continue;
        }
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        usage.processes += 1;
        usage.rss_kib += field_kib(&rollup, "Rss:");
        usage.pss_kib += field_kib(&rollup, "Pss:");
        usage.uss_kib +=
            field_kib(&rollup, "Private_Clean:") + field_kib(&rollup, "Private_Dirty:");
    }
    Ok(usage)
}

/// `pid (comm) state ppid ...`: comm may contain spaces and parentheses, so split at the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let ppid = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((name, ppid))
}

fn field_kib(rollup: &str, field: &str) -> u64 {
    rollup
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
