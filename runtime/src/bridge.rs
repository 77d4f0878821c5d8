//! The in-sandbox bridge: plain blocking threads (no async runtime — it runs in the sandbox's
//! tiny init) that accept TCP on `127.0.0.1:3128` and splice each connection to the egress
//! proxy's Unix socket, which is the sandbox's only way out. When the policy has a model-API
//! relay, a second listener on `127.0.0.1:3129` splices the same way to the relay's socket.

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Where programs in the sandbox find the proxy.
pub const BRIDGE_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3128));

/// Where programs in the sandbox find the model-API relay ([`crate::policy::ModelApiRelay`]).
pub const RELAY_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3129));

/// [`RELAY_ADDR`] as the base URL an API client inside is given (plain HTTP: it never leaves
/// the sandbox's loopback before the host side takes over).
pub const RELAY_BASE_URL: &str = "http://127.0.0.1:3129";

/// Where the relay's Unix socket appears inside the sandbox, on both backends.
pub const RELAY_SOCKET_INSIDE: &str = "/run/clawc/relay.sock";

/// Connections spliced at once; more are closed at once (the proxy bounds them too).
const MAX_CONNECTIONS: usize = 128;

/// Small stacks: a splice thread only copies through a fixed buffer.
const THREAD_STACK: usize = 64 << 10;

/// The environment that points HTTP clients in the sandbox at the bridge. With a model-API
/// relay, its host is exempt from the proxy: a client honouring `HTTP_PROXY` would otherwise
/// send the relay's requests to the proxy, which refuses the placeholder anywhere but the relay.
pub fn proxy_env(network: &crate::policy::NetworkPolicy) -> Vec<(String, String)> {
    let url = format!("http://{BRIDGE_ADDR}");
    let no_proxy = if network.model_api.is_some() {
        RELAY_ADDR.ip().to_string()
    } else {
        String::new()
    };
    [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), url.clone()))
    .chain([
        ("NO_PROXY".to_owned(), no_proxy.clone()),
        ("no_proxy".to_owned(), no_proxy),
    ])
    .collect()
}

/// Binds `listen` and serves it in a background thread, forwarding to `socket`.
pub fn spawn_bridge(listen: SocketAddr, socket: PathBuf) -> io::Result<JoinHandle<()>> {
    spawn_bridge_on(TcpListener::bind(listen)?, socket)
}

/// Serves an already bound listener (tests bind port 0 and read the port back).
pub fn spawn_bridge_on(listener: TcpListener, socket: PathBuf) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("egress-bridge".to_owned())
        .stack_size(THREAD_STACK)
        .spawn(move || accept_loop(&listener, &socket))
}

fn accept_loop(listener: &TcpListener, socket: &Path) {
    let active = Arc::new(AtomicUsize::new(0));
    for client in listener.incoming() {
        let Ok(client) = client else {
            // Typically out of file descriptors: back off instead of spinning.
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let finished = Arc::clone(&active);
        let socket = socket.to_owned();
        let spawned = std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || {
                // A failed splice only affects this connection; its client sees it closed.
                if let Err(err) = splice(client, &socket) {
                    tracing::debug!(%err, "egress bridge connection failed");
                }
                finished.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // Out of threads (the pids limit): the client was closed with the dropped closure.
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Copies both ways between `client` and a fresh connection to the proxy. The client's end of
/// sending half-closes toward the proxy (the response still comes back); the proxy's end of
/// sending ends the whole connection.
fn splice(mut client: TcpStream, socket: &Path) -> io::Result<()> {
    let mut proxy = UnixStream::connect(socket)?;
    client.set_nodelay(true)?;
    let (mut client_read, mut proxy_write) = (client.try_clone()?, proxy.try_clone()?);
    let upload = std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let _ = io::copy(&mut client_read, &mut proxy_write);
            let _ = proxy_write.shutdown(Shutdown::Write);
        })?;
    let downloaded = io::copy(&mut proxy, &mut client);
    // Shutting the client down both ways also wakes the upload thread's blocked read.
    let _ = client.shutdown(Shutdown::Both);
    upload
        .join()
        .map_err(|_| io::Error::other("bridge upload thread panicked"))?;
    downloaded.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_url_names_the_relay_address() {
        assert_eq!(RELAY_BASE_URL, format!("http://{RELAY_ADDR}"));
        assert_ne!(RELAY_ADDR, BRIDGE_ADDR);
    }
}
