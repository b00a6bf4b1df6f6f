//! Which address a request is attributed to (per-address rate limits, the sign-in throttle,
//! logs). The TCP peer, unless the peer is one of the configured trusted proxies: then the
//! right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
//!
//! Right-most, because every proxy appends the address it saw; everything left of the hop
//! our own proxy appended was written by the client and proves nothing. Taking the first hop
//! (as this gateway once did) lets a client pick any address it likes per request.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// The header proxies append the address they saw to.
pub(crate) const FORWARDED_FOR: &str = "x-forwarded-for";

/// One `address/prefix` network, e.g. `10.0.0.0/8` or `fd00::/8`; a bare address is one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (s, None),
        };
        let network = address
            .parse::<IpAddr>()
            .map_err(|_| format!("`{s}` is not an address or address/prefix"))?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`GATEWAY_TRUSTED_PROXIES`); empty by
/// default, so the header is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// No trusted proxy: the client address is always the TCP peer.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A comma-separated list of CIDRs; the empty string is the empty list.
impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',').filter(|c| !c.trim().is_empty()).map(Cidr::from_str).collect::<Result<_, _>>().map(Self)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(Cidr::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// The address a request from `peer` with `headers` is attributed to.
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // Several header lines count as one list in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop that is no address was not written by a proxy we trust: stop at the last
        // address a trusted proxy vouched for.
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `2001:db8::1`, and the forms with a port some proxies write (`1.2.3.4:5678`,
/// `[2001:db8::1]:5678`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.1.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped peers count as IPv4");
        assert!(!net.contains(ip("::1")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/x", "proxy", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_parse_with_spaces_and_empty_is_none() {
        let list = trusted(" 10.0.0.0/8, 192.168.0.0/16 ,fd00::/8");
        assert_eq!(list.to_string(), "10.0.0.0/8,192.168.0.0/16,fd00::/8");
        assert!(trusted("").is_empty());
        assert!("10.0.0.0/8,nonsense".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let headers = forwarded(&["203.0.113.1"]);
        assert_eq!(client_address(ip("198.51.100.2"), &headers, &TrustedProxies::none()), ip("198.51.100.2"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client() {
        let headers = forwarded(&["203.0.113.1"]);
        assert_eq!(client_address(ip("198.51.100.2"), &headers, &trusted("10.0.0.0/8")), ip("198.51.100.2"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = trusted("10.0.0.0/8");
        // The client wrote the first hop; the ingress appended the address it saw.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("203.0.113.9"));
        // Two trusted proxies in a row are skipped.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9, 10.0.0.7"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("203.0.113.9"));
        // Several header lines are one list.
        let headers = forwarded(&["1.1.1.1", "203.0.113.9:4411", "10.0.0.7"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("203.0.113.9"));
        let headers = forwarded(&["[2001:db8::5]:443"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("2001:db8::5"));
    }

    #[test]
    fn garbage_or_missing_hops_stop_at_the_last_trusted_address() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(client_address(ip("10.0.0.5"), &HeaderMap::new(), &proxies), ip("10.0.0.5"));
        let headers = forwarded(&["203.0.113.9, unknown, 10.0.0.7"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("10.0.0.7"));
        // Everything trusted: the left-most hop, a client inside the trusted network.
        let headers = forwarded(&["10.9.9.9, 10.0.0.7"]);
        assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("10.9.9.9"));
    }

    proptest! {
        /// Whatever a client puts in front, it cannot change the address it is counted as.
        #[test]
        fn spoofed_hops_never_change_the_client(spoofed in proptest::collection::vec(any::<[u8; 4]>(), 0..8)) {
            let proxies = trusted("10.0.0.0/8");
            let mut hops: Vec<String> = spoofed.iter().map(|o| IpAddr::from(*o).to_string()).collect();
            hops.push("203.0.113.9".into());
            let headers = forwarded(&[&hops.join(", ")]);
            prop_assert_eq!(client_address(ip("10.0.0.5"), &headers, &proxies), ip("203.0.113.9"));
            // From an untrusted peer the header means nothing at all.
            prop_assert_eq!(client_address(ip("198.51.100.2"), &headers, &proxies), ip("198.51.100.2"));
        }
    }
}
