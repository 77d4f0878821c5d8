//! The `clawc` process that made something which may outlive it — a native sandbox's cgroups,
//! a Docker container — so that a later `clawc` can reap what a killed one left behind, and
//! never what a live one still uses. A process is its pid *and* its start time (clock ticks
//! after boot, field 22 of `/proc/<pid>/stat`): a reused pid belongs to a process that started
//! later, so it does not make a dead owner look alive.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

impl Owner {
    /// This process (read once; a process's start time never changes). `None` when `/proc`
    /// does not say; what it makes then carries no owner and is never reaped.
    pub(crate) fn current() -> Option<Owner> {
        static CURRENT: OnceLock<Option<Owner>> = OnceLock::new();
        *CURRENT.get_or_init(|| Owner::of(std::process::id()))
    }

    /// The running process `pid`, as an owner.
    pub(crate) fn of(pid: u32) -> Option<Owner> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(Owner {
            pid,
            start: start_time(&stat)?,
        })
    }

    /// Whether the owner still runs. Only a definite "no such process" or a different start
    /// time counts as dead; anything unclear (e.g. `/proc` mounted with `hidepid`) counts as
    /// alive, so a live owner's leftovers are never reaped.
    pub(crate) fn alive(self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => start_time(&stat).is_none_or(|start| start == self.start),
            Err(err) => !matches!(err.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)),
        }
    }
}

/// Field 22 (`starttime`) of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted from the last `)`.
fn start_time(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name come field 3 (state) onwards: field 22 is the 20th of them.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(name: &str) -> String {
        let rest: Vec<String> = (3..=52)
            .map(|n| {
                if n == 22 {
                    "987654".to_owned()
                } else {
                    n.to_string()
                }
            })
            .collect();
        format!("4242 ({name}) {}", rest.join(" "))
    }

    #[test]
    fn start_time_is_field_22_even_when_the_name_holds_spaces_and_parentheses() {
        assert_eq!(start_time(&stat_line("clawc")), Some(987_654));
        assert_eq!(start_time(&stat_line("a ) b (c) 1 2 3")), Some(987_654));
        assert_eq!(start_time("4242 (clawc) S 1 2 3"), None);
        assert_eq!(start_time("no parenthesis at all"), None);
        assert_eq!(start_time(""), None);
    }

    #[test]
    fn an_owner_is_alive_only_with_its_own_start_time() {
        let me = Owner::current().expect("own start time");
        assert_eq!(me.pid, std::process::id());
        assert!(me.alive());
        // Same pid, another start time: what a reused pid looks like.
        let reused = Owner {
            start: me.start + 1,
            ..me
        };
        assert!(!reused.alive());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let exited = Owner::of(child.id()).expect("child start time");
        assert!(exited.alive());
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
        assert!(!exited.alive());
    }
}
