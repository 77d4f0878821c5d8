//! The attack suite: untrusted programs trying to get out, run on EVERY backend.
//!
//! Each case is a small Python or sh program run inside the sandbox, plus assertions made from
//! the host side (a canary file untouched, a loopback listener that got no connection, a host
//! process still running, the proxy's denial in `ExitReport::egress`). Where it is cheap and
//! safe, a case also runs the same program bare on the host (`Ctx::control`) and shows that the
//! host-side check does see the escape there — so its passing under the sandbox means something.
//!
//! The one list below generates `attacks::native::<case>` and `attacks::docker::<case>`.
//! `docs/security.md` maps each claim of the security model to the cases that prove it.
//! `scripts/attacks-unprivileged.sh` runs the native half as `nobody`.
#![allow(
    clippy::print_stderr,
    reason = "a failing attack case shows what the program printed and which limits went unenforced"
)]

pub(crate) mod backends;
mod egress;
mod files;
pub(crate) mod harness;
mod host;
mod kernel;
mod limits;
mod network;
mod processes;

/// Expands one list of `group::case` into a test module per backend.
macro_rules! attack_suite {
    ($($group:ident :: $case:ident),+ $(,)?) => {
        attack_suite!(@backend native, Native; $($group::$case),+);
        attack_suite!(@backend docker, Docker; $($group::$case),+);
        attack_suite!(@backend gvisor, Gvisor; $($group::$case),+);

        /// Every case, once.
        const CASES: &[&str] = &[$(stringify!($case)),+];
    };
    (@backend $module:ident, $variant:ident; $($group:ident :: $case:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = super::harness::Backend::$variant;
                    if let Some(cx) = super::harness::Ctx::new(backend, stringify!($case)).await {
                        super::$group::$case(cx).await;
                    }
                }
            )+
        }
    };
}

attack_suite! {
    files::read_host_file,
    files::read_etc_shadow,
    files::write_outside_tmp,
    files::write_readonly_mount,
    files::symlink_out_of_writable_mount,
    files::hardlink_out_of_writable_mount,
    files::proc_self_exe_overwrite,
    files::read_raw_devices,
    files::mount_over_sandbox_paths,
    processes::host_env_canary,
    processes::see_host_processes,
    processes::signal_host_process,
    processes::ptrace_processes,
    processes::proc_pid_mem,
    processes::background_process_left_behind,
    processes::tiocsti_injection,
    kernel::mount_filesystems,
    kernel::unshare_namespaces,
    kernel::io_uring,
    kernel::bpf,
    kernel::keyctl,
    kernel::kernel_attack_surface,
    kernel::setuid_binaries,
    kernel::raw_sockets,
    kernel::host_kernel_knobs,
    network::connect_host_loopback,
    network::connect_host_loopback_ipv6,
    network::connect_private_addresses,
    network::connect_cloud_metadata,
    network::dns_lookups,
    network::unix_sockets_to_host,
    egress::proxy_unlisted_host,
    egress::proxy_unlisted_port,
    egress::proxy_name_resolving_to_loopback,
    egress::proxy_connect_tunnel_to_loopback,
    egress::proxy_cloud_metadata,
    egress::placeholder_to_wrong_host,
    egress::secret_over_plain_http,
    egress::secret_echoed_by_upstream,
    limits::fork_bomb_under_pids,
    limits::memory_hog_under_memory,
    limits::fill_tmp,
    limits::endless_loop_under_timeout,
    limits::output_flood_under_output,
}

#[test]
fn the_suite_has_at_least_thirty_distinct_cases() {
    let distinct: std::collections::BTreeSet<_> = CASES.iter().collect();
    assert_eq!(distinct.len(), CASES.len(), "a case is listed twice");
    assert!(CASES.len() >= 30, "only {} attack cases", CASES.len());
}
