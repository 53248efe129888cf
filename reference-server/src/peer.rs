//! Who sent a request: the client's address and whether it came over HTTPS.
//!
//! Directly, that is the socket's peer over plain HTTP. Behind a reverse proxy the peer is the
//! proxy, so the client is whatever `X-Forwarded-For` says and the scheme whatever
//! `X-Forwarded-Proto` says; but anyone can send those headers, so they are believed only when
//! the peer is one of the `--trusted-proxy` blocks. `X-Forwarded-For` is read from the right:
//! each trusted proxy appends the address it got the request from, so the rightmost address
//! that is not a trusted proxy is the client; what lies left of it the client wrote itself.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// A block of addresses, `10.0.0.0/8` or `2001:db8::/32` (a bare address is a block of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in the block. IPv4 addresses written as IPv6 (`::ffff:10.0.0.1`) are
    /// the IPv4 addresses they are.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address block (like 10.0.0.0/8 or ::1/128)"))?;
        let net = canonical(net);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?
        };
        Ok(Self { net, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The block every per-address rule (the login throttle, the hashing queue, the request
/// slots) counts as one client: an IPv4 address alone, an IPv6 address by its /64. A host or
/// subscriber is given a whole /64 and can send from any address in it, so counting each /128
/// apart would give one attacker billions of fresh allowances.
pub fn client_group(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !(u128::MAX >> 64)).into()),
        v4 => v4,
    }
}

/// The block the connection caps count together: an IPv4 /24, an IPv6 /64. Open connections
/// cost the server whatever the client does with them, and a client with a handful of IPv4
/// addresses usually has them in one /24.
pub fn network_group(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
        v6 => client_group(v6),
    }
}

/// Who sent a request, as the accept loop resolved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub ip: IpAddr,
    /// Whether the request came over HTTPS (only ever through a trusted proxy: this server
    /// speaks plain HTTP).
    pub https: bool,
}

impl Peer {
    /// The client behind `socket`, believing the forwarding headers only from `trusted`.
    pub fn resolve(socket: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> Self {
        let socket = canonical(socket);
        let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
        if !is_trusted(socket) {
            return Self {
                ip: socket,
                https: false,
            };
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut ip = socket;
        for hop in hops.iter().rev() {
            // An entry that is no address ends what can be believed: the proxy that wrote the
            // next one to its right is the last trusted word.
            let Some(addr) = parse_hop(hop) else { break };
            ip = canonical(addr);
            if !is_trusted(ip) {
                break;
            }
        }
        let https = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        Self { ip, https }
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn blocks_parse_and_contain() {
        let c: Cidr = "10.1.0.0/16".parse().expect("cidr");
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")), "mapped IPv4 is IPv4");
        let one: Cidr = "192.0.2.7".parse().expect("single");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("203.0.113.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn clients_are_grouped_by_address_or_slash_64_and_networks_by_slash_24() {
        assert_eq!(client_group(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_group(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(
            client_group(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_group(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(client_group(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(network_group(ip("192.0.2.7")), ip("192.0.2.0"));
        assert_eq!(network_group(ip("127.0.3.200")), ip("127.0.3.0"));
        assert_eq!(network_group(ip("2001:db8:1:2::9")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let untrusted = Peer::resolve(ip("198.51.100.1"), &h, &[]);
        assert_eq!(
            untrusted,
            Peer {
                ip: ip("198.51.100.1"),
                https: false
            }
        );
        let trusted = ["10.0.0.0/8".parse().expect("cidr")];
        let through = Peer::resolve(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(
            through,
            Peer {
                ip: ip("203.0.113.9"),
                https: true
            }
        );
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().expect("cidr")];
        // The client wrote a lie at the left; two trusted proxies appended after it.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(
            Peer::resolve(ip("10.0.0.2"), &h, &trusted).ip,
            ip("203.0.113.9")
        );
        // Repeated headers are one list; ports are allowed.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "[2001:db8::1]:443"),
        ]);
        assert_eq!(
            Peer::resolve(ip("10.0.0.2"), &h, &trusted).ip,
            ip("2001:db8::1")
        );
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, garbage, 10.0.0.7")]);
        assert_eq!(
            Peer::resolve(ip("10.0.0.2"), &h, &trusted).ip,
            ip("10.0.0.7")
        );
        // No header: the proxy itself.
        assert_eq!(
            Peer::resolve(ip("10.0.0.2"), &HeaderMap::new(), &trusted).ip,
            ip("10.0.0.2")
        );
    }
}
