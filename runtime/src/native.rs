//! Native Linux backend: bubblewrap + seccomp + Landlock + cgroups/rlimits. Owner: native work.
