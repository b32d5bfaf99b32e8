//! Who may drive the node: `[control] allow`, the address blocks NG
//! commands are taken from. The NG protocol has no authentication (nor
//! has rtpengine's), so a node whose control socket other hosts can reach
//! should answer only its proxies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` lies in the block (an IPv4-mapped IPv6 address counts
    /// as the IPv4 address it carries).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` agree.
fn prefix_match(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address or an address/prefix block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix must be 0..={max}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl TryFrom<String> for Network {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether `ip` may send NG commands under `allow` (empty: anyone).
pub fn permits(allow: &[Network], ip: IpAddr) -> bool {
    allow.is_empty() || allow.iter().any(|n| n.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Network {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_hold_their_addresses_only() {
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("192.0.2.128/25").contains(ip("192.0.2.200")));
        assert!(!net("192.0.2.128/25").contains(ip("192.0.2.127")));
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")), "families apart");
        assert!(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!net("2001:db8::/33").contains(ip("2001:db8:ffff::1")));
        // an IPv4 proxy reaching a dual-stack socket
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
    }

    #[test]
    fn bad_blocks_say_why() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "proxy",
            "10.0.0.0/x",
            "",
        ] {
            let e = bad.parse::<Network>().unwrap_err();
            assert!(e.contains(bad) || bad.is_empty(), "{bad}: {e}");
        }
        assert_eq!(net(" 10.0.0.0 / 8 ").to_string(), "10.0.0.0/8");
    }

    proptest::proptest! {
        /// `contains` is the arithmetic of prefixes, byte-wise or not.
        #[test]
        fn contains_is_a_prefix_match(
            net4: u32, ip4: u32, p4 in 0u8..=32,
            net6: u128, ip6: u128, p6 in 0u8..=128,
            near in proptest::bool::ANY,
        ) {
            // half the time an address sharing a long prefix with the block
            let ip4 = if near { net4 ^ (ip4 >> 20) } else { ip4 };
            let ip6 = if near { net6 ^ (ip6 >> 100) } else { ip6 };
            let n4 = Network { addr: IpAddr::V4(net4.into()), prefix: p4 };
            let want4 = p4 == 0 || (net4 ^ ip4) >> (32 - u32::from(p4)) == 0;
            proptest::prop_assert_eq!(n4.contains(IpAddr::V4(ip4.into())), want4);
            let n6 = Network { addr: IpAddr::V6(net6.into()), prefix: p6 };
            let want6 = p6 == 0 || (net6 ^ ip6) >> (128 - u32::from(p6)) == 0;
            proptest::prop_assert_eq!(n6.contains(IpAddr::V6(ip6.into())), want6);
        }
    }

    #[test]
    fn an_empty_list_permits_anyone() {
        assert!(permits(&[], ip("198.51.100.1")));
        let allow = [net("127.0.0.0/8"), net("10.0.0.0/8")];
        assert!(permits(&allow, ip("127.0.0.1")));
        assert!(!permits(&allow, ip("198.51.100.1")));
    }
}
