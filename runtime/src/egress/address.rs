//! Which resolved addresses the proxy may connect to. Checked after resolution, on the exact
//! address the proxy then connects to, so neither a name that resolves to loopback nor an
//! encoded literal (`::ffff:169.254.169.254`, `64:ff9b::7f00:1`) reaches the host or its network.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone)]
pub(crate) struct AddressVetter {
    /// Addresses the policy names explicitly: exempt from every refusal below.
    allow_ips: BTreeSet<IpAddr>,
    /// The host's own interface addresses, read once when the proxy starts.
    host_addrs: BTreeSet<IpAddr>,
}

impl AddressVetter {
    pub(crate) fn new(allow_ips: &[IpAddr]) -> Self {
        Self {
            allow_ips: allow_ips.iter().map(IpAddr::to_canonical).collect(),
            host_addrs: host_interface_addrs()
                .into_iter()
                .map(|ip| ip.to_canonical())
                .collect(),
        }
    }

    /// `Err(reason)` when the proxy must not connect to `ip`.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), String> {
        let canonical = ip.to_canonical();
        if self.allow_ips.contains(&canonical) {
            return Ok(());
        }
        if let Some(reason) = forbidden_reason(ip) {
            return Err(format!("address {ip} is forbidden: {reason}"));
        }
        if self.host_addrs.contains(&canonical) {
            return Err(format!(
                "address {ip} is forbidden: one of this host's own addresses"
            ));
        }
        Ok(())
    }
}

/// Why `ip` is never a legitimate egress destination, or `None` when it may be.
pub(crate) fn forbidden_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4).map(str::to_owned),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    let reason = match (a, b, c, d) {
        (169, 254, 169, 254) => "cloud metadata endpoint",
        (0, ..) => "unspecified / this network (0.0.0.0/8)",
        (127, ..) => "loopback (127.0.0.0/8)",
        (10, ..) => "private (10.0.0.0/8)",
        (172, 16..=31, ..) => "private (172.16.0.0/12)",
        (192, 168, ..) => "private (192.168.0.0/16)",
        (100, 64..=127, ..) => "shared address space / CGNAT (100.64.0.0/10)",
        (169, 254, ..) => "link-local (169.254.0.0/16)",
        (192, 0, 0, _) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => "documentation range",
        (198, 18..=19, ..) => "benchmarking (198.18.0.0/15)",
        (255, 255, 255, 255) => "broadcast",
        (224..=239, ..) => "multicast (224.0.0.0/4)",
        (240..=255, ..) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<String> {
    if let Some((form, v4)) = embedded_ipv4(ip) {
        return forbidden_v4(v4).map(|reason| format!("{form} form of {v4}: {reason}"));
    }
    let s = ip.segments();
    let reason = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (::)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback (::1)",
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => "cloud metadata endpoint",
        [0x0064, 0xff9b, 0x0001, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        [0x2001, 0x0000, ..] => "Teredo tunnel (2001::/32)",
        [0x2001, 0x0db8, ..] => "documentation (2001:db8::/32)",
        [0x0100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ => return None,
    };
    Some(reason.to_owned())
}

/// IPv6 forms that carry an IPv4 address a stack may route to: mapped, compatible, SIIT,
/// NAT64 and 6to4. Each is judged by the IPv4 address inside.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<(&'static str, Ipv4Addr)> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(("IPv4-mapped", low)),
        [0, 0, 0, 0, 0xffff, 0, ..] => Some(("IPv4-translated", low)),
        [0x0064, 0xff9b, 0, 0, 0, 0, ..] => Some(("NAT64", low)),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses, judged as such.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, ..] => Some(("IPv4-compatible", low)),
        [0x2002, hi, lo, ..] => Some((
            "6to4",
            Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8),
        )),
        _ => None,
    }
}

/// Every address configured on this host's interfaces. Reading them can fail only in odd
/// environments; then the fixed ranges above still apply.
fn host_interface_addrs() -> Vec<IpAddr> {
    let mut addrs = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read and then free once.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        tracing::warn!("getifaddrs failed; the host's own addresses are not refused by name");
        return addrs;
    }
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        if !entry.ifa_addr.is_null() {
            // SAFETY: `ifa_addr` is non-null and points at a sockaddr whose family says its
            // real type, so the casts below read only what the kernel wrote.
            let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
            if family == libc::AF_INET {
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                addrs.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))));
            } else if family == libc::AF_INET6 {
                let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
                addrs.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `list` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(list) };
    addrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        forbidden_reason(ip.parse().unwrap()).is_some()
    }

    #[test]
    fn refuses_every_internal_range_and_encoding() {
        for ip in [
            "127.0.0.1",
            "127.255.1.2",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "169.254.1.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:a9fe:a9fe",
            "::127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "140.82.112.3",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
        assert!(!refused("172.32.0.1"));
        assert!(!refused("100.128.0.1"));
    }

    #[test]
    fn named_ips_are_exempt_and_host_addresses_refused() {
        let vetter = AddressVetter::new(&["127.0.0.1".parse().unwrap()]);
        assert_eq!(vetter.check("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(vetter.check("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert!(vetter.check("127.0.0.2".parse().unwrap()).is_err());
        let metadata = vetter.check("169.254.169.254".parse().unwrap());
        assert!(metadata.unwrap_err().contains("cloud metadata"));
    }
}
