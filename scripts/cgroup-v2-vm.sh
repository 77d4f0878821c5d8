#!/usr/bin/env bash
# The native backend's cgroup v2 path, tested where it can be: this kind of machine is hybrid
# (memory and pids are bound to v1) and has no KVM, so a Debian kernel boots under qemu's
# software emulation (TCG) with a pure cgroup v2 hierarchy, and the release clawc runs the
# cgroup cases there, as root and as `nobody` (see scripts/vm/cases.sh and docs/cgroup-v2-vm.md).
#
#   scripts/cgroup-v2-vm.sh [--clawc PATH] [--budget SECONDS] [--keep-log PATH] [--only CASE,...]
#
# --only runs just the named cases (e.g. `memory-kill/root,cpu-quota/nobody-deleg`).
# The initramfs holds only busybox, the 9p modules and /init; the host's /usr (python3,
# bubblewrap, bash) and a folder with clawc and the cases are shared read-only over 9p.
# Kernel and initramfs are cached under /var/cache/clawc-vm (CLAWC_VM_CACHE), so only the
# first run downloads anything. Prints PASS/FAIL per case; exits non-zero on any failure,
# on a VM that never reported, or when the time budget (default 480 s) runs out.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

clawc="$repo/target/release/clawc"
budget=480
keep_log=
only=
while [ $# -gt 0 ]; do
    case "$1" in
        --clawc) clawc=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        --keep-log) keep_log=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        *) echo "usage: $0 [--clawc PATH] [--budget SECONDS] [--keep-log PATH] [--only CASE,...]" >&2; exit 2 ;;
    esac
done
started=$(date +%s)
if [ ! -x "$clawc" ]; then
    echo "cgroup-v2-vm: no clawc at $clawc (cargo build --release -p clawc, or --clawc PATH)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "cgroup-v2-vm: needs root (apt-get, and the cache under /var/cache)" >&2
    exit 2
fi

# What the host needs: qemu, a static busybox for the initramfs, and what the guest borrows
# from the host's /usr (bubblewrap, python3, util-linux's setpriv).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# Static: the initramfs has no libc. (busybox-static replaces a dynamic busybox.)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
[ -x /usr/bin/bwrap ] || need+=(bubblewrap)
[ -x /usr/bin/python3 ] || need+=(python3)
[ -x /usr/bin/setpriv ] || need+=(util-linux)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The kernel: the one Debian's `linux-image-amd64` points at (non-cloud: the cloud flavour
# lacks the 9p and virtio-pci modules as modules we can load).
cache=${CLAWC_VM_CACHE:-/var/cache/clawc-vm}
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kpkg" ]; then
    apt-get update -qq
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$kpkg" ] || { echo "cgroup-v2-vm: cannot find Debian's kernel package" >&2; exit 2; }
kver=${kpkg#linux-image-}
kdir="$cache/$kver"
if [ ! -f "$kdir/vmlinuz" ] || [ ! -d "$kdir/modules" ]; then
    echo "== fetching $kpkg"
    rm -rf "$kdir" && mkdir -p "$kdir/dl"
    # apt's sandbox user cannot write the cache; the download itself is what we want.
    (cd "$kdir/dl" && apt-get download -qq "$kpkg" 2>/dev/null) \
        || { apt-get update -qq && (cd "$kdir/dl" && apt-get download -qq "$kpkg"); }
    dpkg-deb -x "$kdir"/dl/*.deb "$kdir/x"
    mkdir -p "$kdir/modules.new"
    # What 9p over virtio-pci needs, dependencies first, read from each module's own
    # `depends=` (the package ships no modules.dep; a module built into another kernel is
    # simply absent, and so not needed).
    moddir=$(echo "$kdir"/x/lib/modules/*)
    declare -A seen=()
    order=()
    add_module() {
        local name=$1 file dep
        [ -n "${seen[$name]:-}" ] && return
        seen[$name]=1
        file=$(find "$moddir" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" | head -n1)
        [ -n "$file" ] || { echo "cgroup-v2-vm: $kpkg has no $name module" >&2; exit 2; }
        case "$file" in
            *.ko.xz) xz -dc "$file" >"$kdir/modules.new/$name.ko" ;;
            *.ko.zst) zstd -qdc "$file" >"$kdir/modules.new/$name.ko" ;;
            *) cp "$file" "$kdir/modules.new/$name.ko" ;;
        esac
        for dep in $(tr '\0' '\n' <"$kdir/modules.new/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
            add_module "$dep"
        done
        order+=("$name")
    }
    for mod in 9p 9pnet_virtio virtio_pci; do add_module "$mod"; done
    printf '%s\n' "${order[@]}" >"$kdir/modules.new/order"
    cp "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz"
    rm -rf "$kdir/x" "$kdir/dl"
    mv "$kdir/modules.new" "$kdir/modules"
fi

# The initramfs, rebuilt when its inputs change (busybox, the modules, /init).
stamp=$(cat /bin/busybox "$kdir"/modules/* scripts/vm/init | sha256sum | cut -c1-16)
initrd="$kdir/initramfs-$stamp.cpio.gz"
if [ ! -f "$initrd" ]; then
    echo "== building the initramfs"
    root=$(mktemp -d)
    mkdir -p "$root"/{busybox,modules,newroot,etc}
    cp /bin/busybox "$root/busybox/busybox"
    for applet in sh mount insmod mkdir cp echo poweroff switch_root; do
        ln -s busybox "$root/busybox/$applet"
    done
    cp "$kdir"/modules/* "$root/modules/"
    cp scripts/vm/init "$root/init"
    chmod 755 "$root/init"
    # A merged-/usr root, like the host's: the aliases point into the shared /usr.
    for alias in bin sbin lib lib64; do ln -s "usr/$alias" "$root/$alias"; done
    # /usr/bin/awk and friends are Debian alternatives: links through /etc/alternatives.
    cp -a /etc/alternatives "$root/etc/"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$root"
fi

# The folder shared with the guest: the clawc under test and the cases.
share=$(mktemp -d /tmp/clawc-vm-share.XXXXXX)
log=$(mktemp /tmp/clawc-vm-log.XXXXXX)
trap 'rm -rf "$share"; [ -n "$keep_log" ] && cp "$log" "$keep_log"; rm -f "$log"' EXIT
ln "$clawc" "$share/clawc" 2>/dev/null || cp "$clawc" "$share/clawc"
cp scripts/vm/cases.sh "$share/cases.sh"
chmod 755 "$share" "$share/clawc" "$share/cases.sh"

spent=$(( $(date +%s) - started ))
left=$(( budget - spent ))
echo "== booting $kver under TCG (budget ${budget}s, ${left}s left)"
set +e
timeout --kill-after=5 "$left" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -m 1G -smp 2 -nographic -no-reboot -net none \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init CLAWC_VM_ONLY=$only" \
    -virtfs local,path=/usr,mount_tag=usr,security_model=none,readonly=on \
    -virtfs "local,path=$share,mount_tag=share,security_model=none,readonly=on" \
    </dev/null 2>&1 | tr -d '\r' | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - started ))

passed=$(grep -c '^PASS ' "$log" || true)
failed=$(grep -c '^FAIL ' "$log" || true)
echo "== cgroup v2 VM: $passed passed, $failed failed, wall time ${elapsed}s (budget ${budget}s)"
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "cgroup-v2-vm: FAIL: the time budget of ${budget}s ran out" >&2
    exit 1
fi
if ! grep -q '^CASES-DONE' "$log"; then
    echo "cgroup-v2-vm: FAIL: the VM ended before the cases finished (qemu exit $qemu_rc)" >&2
    exit 1
fi
if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
    exit 1
fi
