//! Host-side fixtures: the things an attack reaches for, observed from OUTSIDE the sandbox.
//!
//! Each fixture records what happened to it (a connection accepted, a datagram received, a
//! file created, a process signalled), so a case can prove containment from the host's side
//! instead of trusting what the sandboxed program says about itself.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A value no sandbox could guess or find anywhere but where the test put it.
pub fn token(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("claw{label}{}x{nanos:x}x{n}", std::process::id())
}

/// A host directory removed when dropped. World-accessible (0777) so that the sandbox's user
/// (root, `nobody`, or Docker's 65534) can use it when a case mounts it.
#[derive(Debug)]
pub struct HostDir {
    path: PathBuf,
}

impl HostDir {
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(token(label));
        std::fs::create_dir(&path).expect("create host temp dir");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod host temp dir");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` inside, world-readable, and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("write host file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod host file");
        path
    }

    /// Names of the entries now inside, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .expect("list host temp dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A TCP listener on host loopback that counts the connections it got. It never answers, so
/// it cannot be confused with anything else; the kernel completes handshakes into the backlog
/// whether or not we call `accept`, so checking afterwards is enough.
#[derive(Debug)]
pub struct TcpCatcher {
    listeners: Vec<TcpListener>,
    pub port: u16,
}

impl TcpCatcher {
    /// Listens on 127.0.0.1 and, when the host has IPv6, on [::1] with the same port.
    pub fn loopback() -> Self {
        for _ in 0..50 {
            let v4 = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
            let port = v4.local_addr().expect("local addr").port();
            match TcpListener::bind(("::1", port)) {
                Ok(v6) => return Self::from(vec![v4, v6], port),
                Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
                // No IPv6 on this host: the IPv4 listener alone still catches leaks.
                Err(_) => return Self::from(vec![v4], port),
            }
        }
        panic!("could not find a port free on both 127.0.0.1 and ::1");
    }

    fn from(listeners: Vec<TcpListener>, port: u16) -> Self {
        for l in &listeners {
            l.set_nonblocking(true).expect("nonblocking");
        }
        Self { listeners, port }
    }

    /// Connections that reached this listener so far (from anywhere).
    pub fn connections(&self) -> Vec<SocketAddr> {
        let mut got = Vec::new();
        for l in &self.listeners {
            while let Ok((_, peer)) = l.accept() {
                got.push(peer);
            }
        }
        got
    }
}

/// A tiny HTTP/1.1 server on host loopback that records every request it receives and answers
/// `200 ok`. Used where a case must show that *some* request gets through (the positive
/// control) while the attack's request does not.
#[derive(Debug)]
pub struct HttpCatcher {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpCatcher {
    pub fn at(ip: &str) -> Self {
        Self::serving(ip, false)
    }

    /// A catcher that echoes the `Authorization` value it received back in a `Location`
    /// header, an `X-Echo` header and its body: an upstream repeating a credential.
    pub fn echoing(ip: &str) -> Self {
        Self::serving(ip, true)
    }

    fn serving(ip: &str, echo: bool) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind http catcher");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || serve_one(stream, &sink, echo));
            }
        });
        Self { addr, requests }
    }

    /// Every request head (and what body arrived with it) received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("catcher lock").clone()
    }
}

fn serve_one(mut stream: TcpStream, sink: &Mutex<Vec<String>>, echo: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf).into_owned();
    let response = if echo {
        let credential = request
            .lines()
            // hyper forwards header names lower-cased.
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("authorization").then_some(value)
            })
            .unwrap_or_default()
            .trim()
            .to_owned();
        let body = format!("{{\"error\": \"rejected {credential}\"}}");
        format!(
            "HTTP/1.1 302 Found\r\nLocation: https://login.invalid/retry?auth={credential}\r\nX-Echo: {credential}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned()
    };
    sink.lock().expect("catcher lock").push(request);
    let _ = stream.write_all(response.as_bytes());
}

/// A UDP socket on host loopback that reports any datagram it received (e.g. a DNS query).
#[derive(Debug)]
pub struct UdpCatcher {
    socket: UdpSocket,
    pub port: u16,
}

impl UdpCatcher {
    pub fn loopback() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        socket.set_nonblocking(true).expect("nonblocking");
        let port = socket.local_addr().expect("local addr").port();
        Self { socket, port }
    }

    pub fn datagrams(&self) -> usize {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while self.socket.recv_from(&mut buf).is_ok() {
            n += 1;
        }
        n
    }
}

/// A Unix listener in the host's *abstract* namespace, which is scoped to a network namespace
/// rather than to the filesystem: only a sandbox sharing the host's netns can reach it.
#[derive(Debug)]
pub struct AbstractUnixCatcher {
    listener: std::os::unix::net::UnixListener,
    pub name: String,
}

impl AbstractUnixCatcher {
    pub fn new() -> Self {
        use std::os::linux::net::SocketAddrExt;
        let name = token("abstract");
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract addr");
        let listener = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind abstract");
        listener.set_nonblocking(true).expect("nonblocking");
        Self { listener, name }
    }

    pub fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// A host process the sandbox must neither see nor signal. Its command line carries a token,
/// and its environment a second one, so leaks are recognisable.
#[derive(Debug)]
pub struct HostProcess {
    child: Child,
    pub argv_token: String,
    pub env_token: String,
}

impl HostProcess {
    pub fn spawn() -> Self {
        let argv_token = token("hostproc");
        let env_token = token("hostenv");
        let child = Command::new("/usr/bin/sh")
            .args(["-c", "sleep 60", &argv_token])
            .env("CLAW_HOST_SECRET", &env_token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host process");
        Self {
            child,
            argv_token,
            env_token,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running, and neither stopped nor traced by anyone.
    pub fn untouched(&mut self) -> Result<(), String> {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            return Err(format!("host process ended: {status}"));
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("read host process status: {e}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let state = field("State:");
        let tracer = field("TracerPid:");
        if tracer != "0" {
            return Err(format!("host process is traced by {tracer}"));
        }
        if state.starts_with('T') || state.starts_with('t') {
            return Err(format!("host process was stopped: {state}"));
        }
        Ok(())
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Host processes whose command line or environment contains `needle` (a sandboxed process
/// left running shows up here: the host sees every process of every namespace it created).
pub fn processes_containing(needle: &str) -> Vec<u32> {
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            ["cmdline", "environ"].iter().any(|f| {
                std::fs::read(format!("/proc/{pid}/{f}"))
                    .map(|b| String::from_utf8_lossy(&b).contains(needle))
                    .unwrap_or(false)
            })
        })
        .collect()
}

/// Waits (bounded) for a process carrying `needle` to show up: a loaded machine may not have
/// scheduled a freshly started orphan by the time its parent returns.
pub fn processes_appearing(needle: &str, patience: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let found = processes_containing(needle);
        if !found.is_empty() || start.elapsed() >= patience {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits briefly for processes carrying `needle` to disappear. The grace covers only the
/// kernel's asynchronous reaping after the sandbox's teardown already killed them.
pub fn survivors_after_grace(needle: &str, grace: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let left = processes_containing(needle);
        if left.is_empty() || start.elapsed() >= grace {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `starttime` field of `/proc/<pid>/stat` (clock ticks since boot): tells two processes
/// with the same pid number in different namespaces apart.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; starttime is field 22 overall.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}
