# Shared by every Python attack. The attack reports what it tried as `RESULT <key> <value>`
# lines; the host side decides whether containment held (and checks the host, not just this).
import ctypes
import errno
import os
import socket
import sys

ARGS = sys.argv[1:]
libc = ctypes.CDLL(None, use_errno=True)


def result(key, value):
    print(f"RESULT {key} {value}", flush=True)


def err_name(e):
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def attempt(key, fn):
    """Run one attack step; report `ok[:value]` or `denied:<ERRNO>`."""
    try:
        value = fn()
        result(key, "ok" if value is None else f"ok:{value}")
        return True
    except Exception as e:  # the attack must go on to its next step whatever happens
        result(key, "denied:" + err_name(e))
        return False


# Syscall numbers for the calls libc has no wrapper for (io_uring_setup is the same everywhere).
NR = {
    "x86_64": dict(bpf=321, keyctl=250, add_key=248, perf_event_open=298, userfaultfd=323,
                   kexec_load=246, init_module=175, io_uring_setup=425, fsopen=430,
                   process_vm_readv=310, clone3=435),
    "aarch64": dict(bpf=280, keyctl=219, add_key=217, perf_event_open=241, userfaultfd=282,
                    kexec_load=104, init_module=105, io_uring_setup=425, fsopen=430,
                    process_vm_readv=270, clone3=435),
}[os.uname().machine]


def raw_syscall(key, name, *args):
    """A raw syscall; reports `ok:<ret>` or `denied:<ERRNO>` (ENOSYS and EPERM both count)."""
    fn = libc.syscall
    fn.restype = ctypes.c_long
    ret = fn(ctypes.c_long(NR[name]), *args)
    if ret == -1:
        e = ctypes.get_errno()
        result(key, "denied:" + errno.errorcode.get(e, str(e)))
    else:
        result(key, f"ok:{ret}")
        if ret > 2:
            os.close(ret)


def libc_call(key, fn, *args):
    ret = fn(*args)
    if ret == -1:
        e = ctypes.get_errno()
        result(key, "denied:" + errno.errorcode.get(e, str(e)))
    else:
        result(key, f"ok:{ret}")


def netns_isolated():
    """Direct connections to non-loopback addresses are attempted only when this namespace has
    no interface but `lo`: then nothing can leave the machine even if the address answered.
    A namespace with other interfaces is itself a containment failure, reported as such."""
    try:
        with open("/proc/net/dev") as f:
            names = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    except OSError as e:
        result("netns", "unknown:" + err_name(e))
        return False
    others = [n for n in names if n and n != "lo"]
    result("netns", "isolated" if not others else "shared:" + ",".join(others))
    return not others


def connect(key, family, addr, timeout=2):
    def go():
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(addr)
        finally:
            s.close()
    attempt(key, go)


def proxy_addr():
    url = os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy") or ""
    hostport = url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    return (host or "127.0.0.1", int(port or 0))


def via_proxy(key, request_head):
    """Send one raw request to the egress proxy; report `status:<code>` from its status line."""
    def go():
        s = socket.create_connection(proxy_addr(), timeout=10)
        try:
            s.sendall(request_head.encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            parts = line.split()
            return parts[1] if len(parts) > 1 else "none"
        finally:
            s.close()
    try:
        result(key, "status:" + go())
    except Exception as e:
        result(key, "denied:" + err_name(e))


def done():
    # Which kernel served the attack: the host's, or a second one (gVisor's).
    result("kernel", os.uname().release)
    result("done", "yes")
