//! The SSRF guard: Hookdesk sends wherever an administrator points it, so it must never be
//! turned against the machine it runs on or the network behind it.
//!
//! Two doors, one policy:
//! - IP-literal hosts (`http://127.1/`, `http://[::ffff:7f00:1]/`) never reach a resolver —
//!   hyper connects to them directly — so [`NetworkPolicy::check_url`] checks them before
//!   sending. The `url` crate has already normalised every IPv4 notation (decimal, hex,
//!   octal, short forms) into a plain address by then.
//! - Names go through [`GuardedResolver`], the client's only resolver: it resolves, drops
//!   every address the policy refuses, and hands back only the rest, so the addresses
//!   checked are exactly the ones connected to (no second lookup an attacker could answer
//!   differently).
//!
//! The allow-list (`allowed_networks`) is consulted first; it opens chosen ranges, e.g. a
//! service desk on the office LAN, or `127.0.0.1/32` in tests.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// Why an address is not a public destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Unspecified,
    ThisNetwork,
    Loopback,
    Private,
    CarrierGradeNat,
    LinkLocal,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    /// IETF protocol assignments, 240/4, discard-only and other special-purpose blocks.
    Reserved,
    UniqueLocal,
}

impl Category {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::ThisNetwork => "a \"this network\" address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private-network address",
            Self::CarrierGradeNat => "a carrier-grade NAT address",
            Self::LinkLocal => "a link-local address (cloud metadata lives here)",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
            Self::UniqueLocal => "a unique-local IPv6 address",
        }
    }
}

/// `None` for a public (globally routable) address, else why not.
pub fn classify(ip: IpAddr) -> Option<Category> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Option<Category> {
    use Category::*;
    let table: &[([u8; 4], u8, Category)] = &[
        ([0, 0, 0, 0], 32, Unspecified),
        ([0, 0, 0, 0], 8, ThisNetwork),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, CarrierGradeNat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, c)| *c)
}

/// The IPv4 address carried inside an IPv6 one by the transition mechanisms a packet
/// could be routed through: IPv4-mapped, IPv4-compatible, NAT64 and 6to4.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        // ::ffff:a.b.c.d (mapped)
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // ::a.b.c.d (compatible, deprecated; `::` and `::1` are handled as themselves)
        [0, 0, 0, 0, 0, 0, _, _] if u128::from(ip) > 1 => Some(tail),
        // 64:ff9b::/96, the well-known NAT64 prefix
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // 2002:AABB:CCDD::/48, 6to4
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Category> {
    use Category::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        // A wrapped address is as dangerous as what it wraps.
        return classify_v4(v4);
    }
    let s = ip.segments();
    let first = s[0];
    if first & 0xfe00 == 0xfc00 {
        return Some(UniqueLocal);
    }
    if first & 0xffc0 == 0xfe80 {
        return Some(LinkLocal);
    }
    // fec0::/10, site-local: deprecated, but still private where it is used.
    if first & 0xffc0 == 0xfec0 {
        return Some(Private);
    }
    if first & 0xff00 == 0xff00 {
        return Some(Multicast);
    }
    if first == 0x2001 && s[1] == 0x0db8 {
        return Some(Documentation);
    }
    if first == 0x2001 && s[1] == 0x0002 && s[2] == 0 {
        return Some(Benchmarking);
    }
    // 2001::/23 (IETF protocol assignments, incl. Teredo 2001::/32 which tunnels to an
    // obfuscated IPv4 address), 100::/64 (discard-only), 64:ff9b:1::/48 (local NAT64).
    if (first == 0x2001 && s[1] < 0x0200)
        || (first == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
        || (first == 0x64 && s[1] == 0xff9b && s[2] == 1)
    {
        return Some(Reserved);
    }
    // Only 2000::/3 is allocated as global unicast; anything else is unassigned.
    if first & 0xe000 != 0x2000 {
        return Some(Reserved);
    }
    None
}

/// A destination the policy refused: the address and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub category: Category,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.ip.to_string();
        if self.host == ip || self.host.trim_matches(['[', ']']) == ip {
            write!(f, "{ip} is {}", self.category.describe())?;
        } else {
            write!(
                f,
                "{} resolves to {ip}, {}",
                self.host,
                self.category.describe()
            )?;
        }
        f.write_str("; add its range to allowed_networks to permit it")
    }
}

impl std::error::Error for Refused {}

/// The host could not be resolved (or resolved to nothing).
#[derive(Debug)]
pub struct DnsFailed {
    pub host: String,
    pub reason: String,
}

impl fmt::Display for DnsFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot resolve {}: {}", self.host, self.reason)
    }
}

impl std::error::Error for DnsFailed {}

/// Which destinations may be reached: public addresses, plus the allow-listed ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

/// Parses one allow-list entry: a CIDR (`10.1.0.0/16`) or a bare address (its /32 or /128).
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not a network in CIDR notation (e.g. 10.0.0.0/8)"))
}

impl NetworkPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// From the `allowed_networks` setting (already validated at startup).
    pub fn from_strings(list: &[String]) -> Result<Self, String> {
        let allowed = list
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_network(s))
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allowed
            .iter()
            .any(|n| n.contains(&ip) || v4.is_some_and(|v4| n.contains(&v4)))
    }

    /// Ok when `ip` may be connected to.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        if self.is_allowed(ip) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(category) => Err(Refused {
                host: host.to_owned(),
                ip,
                category,
            }),
        }
    }

    /// Checks an IP-literal host before sending; names are left to [`GuardedResolver`].
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) | None => return Ok(()),
        };
        self.check_ip(url.host_str().unwrap_or_default(), ip)
    }

    /// Keeps the addresses the policy permits; refuses when none is left.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        let mut first_refusal = None;
        let mut kept = Vec::with_capacity(addrs.len());
        for addr in addrs {
            match self.check_ip(host, addr.ip()) {
                Ok(()) => kept.push(addr),
                Err(r) => {
                    first_refusal.get_or_insert(r);
                }
            }
        }
        match (kept.is_empty(), first_refusal) {
            (true, Some(r)) => Err(r),
            _ => Ok(kept),
        }
    }
}

/// The HTTP client's resolver: system resolution (`getaddrinfo` via tokio), then the
/// policy. hyper connects only to what this returns.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in afterwards.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| DnsFailed {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(DnsFailed {
                    host,
                    reason: "no addresses".into(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let kept = policy.filter(&host, addrs)?;
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
