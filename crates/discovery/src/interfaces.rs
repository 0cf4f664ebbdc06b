//! Which of this computer's addresses a class on the school network can be reached at.
//!
//! One rule, used by the server for its ICE host candidates and by the announcement for the
//! addresses it publishes, so students are never sent to an address the server does not
//! listen on. An address is usable when its interface is up (running), it is not loopback,
//! link-local (169.254/16, fe80::/10), multicast or unspecified, IPv6 only when global or
//! unique-local, and the interface is not a container or VM host bridge (Docker's `docker0`
//! and `br-<id>`, the host ends of container `veth` pairs, libvirt, VirtualBox, VMware, CNI
//! plugins): those addresses are reachable from this computer's containers, never from a
//! student's laptop.

use std::net::{IpAddr, Ipv6Addr};

use serde::Serialize;

/// One usable address of this computer on a network other computers can reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LanAddress {
    /// The interface's name (`eth0`, `wlp2s0`, `Ethernet 2`).
    pub interface: String,
    /// The address.
    pub ip: IpAddr,
    /// The network's prefix length (24 for a /24).
    pub prefix_len: u8,
}

/// Why an interface address is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// Loopback: only this computer reaches it.
    Loopback,
    /// The interface is not running (cable out, Wi-Fi off).
    Down,
    /// A link-local address, which needs a scope and is what a failed DHCP leaves.
    LinkLocal,
    /// A container or virtual machine host bridge.
    Virtual,
    /// Multicast, unspecified, or an IPv6 address that is neither global nor unique-local.
    NotUnicast,
}

/// Name prefixes of interfaces that container engines and hypervisors create on the host.
const VIRTUAL_PREFIXES: &[&str] = &[
    "docker", "veth", "virbr", "vboxnet", "vmnet", "cni", "flannel", "cali", "weave", "podman",
    "lxcbr", "lxdbr", "vnet",
];

/// True for the host side of container and VM networking (see [`VIRTUAL_PREFIXES`], and
/// Docker's user networks `br-` + 12 hex digits).
pub fn is_virtual_interface(name: &str) -> bool {
    if VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    name.strip_prefix("br-")
        .is_some_and(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn ipv6_global_or_ula(ip: &Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    // 2000::/3 global unicast, fc00::/7 unique local.
    (first & 0xe000) == 0x2000 || (first & 0xfe00) == 0xfc00
}

/// Whether an address on interface `name` (running or not) is one students can reach.
pub fn classify(name: &str, ip: IpAddr, running: bool) -> Result<(), Unusable> {
    if ip.is_loopback() {
        return Err(Unusable::Loopback);
    }
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => return Err(Unusable::LinkLocal),
        IpAddr::V4(v4) if v4.is_multicast() || v4.is_unspecified() || v4.is_broadcast() => {
            return Err(Unusable::NotUnicast);
        }
        IpAddr::V6(v6) if v6.is_unicast_link_local() => return Err(Unusable::LinkLocal),
        IpAddr::V6(v6) if !ipv6_global_or_ula(&v6) => return Err(Unusable::NotUnicast),
        _ => {}
    }
    if is_virtual_interface(name) {
        return Err(Unusable::Virtual);
    }
    if !running {
        return Err(Unusable::Down);
    }
    Ok(())
}

/// [`classify`] for an interface as `if-addrs` (and so `mdns-sd`) lists it.
pub fn is_usable(interface: &if_addrs::Interface) -> bool {
    classify(&interface.name, interface.ip(), interface.is_oper_up()).is_ok()
}

/// This computer's usable addresses now, IPv4 first, each once.
pub fn lan_addresses() -> std::io::Result<Vec<LanAddress>> {
    let mut out: Vec<LanAddress> = if_addrs::get_if_addrs()?
        .into_iter()
        .filter(is_usable)
        .map(|i| LanAddress {
            prefix_len: match &i.addr {
                if_addrs::IfAddr::V4(a) => a.prefixlen,
                if_addrs::IfAddr::V6(a) => a.prefixlen,
            },
            ip: i.ip(),
            interface: i.name,
        })
        .collect();
    out.sort_by_key(|a| (a.ip.is_ipv6(), a.ip));
    out.dedup_by(|a, b| a.ip == b.ip);
    Ok(out)
}

/// True when `ip` is on the network `own` is on.
pub fn same_network(ip: IpAddr, own: &LanAddress) -> bool {
    match (ip, own.ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = u32::from(own.prefix_len.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = u32::from(own.prefix_len.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// `addresses` in the order to try them from a computer with addresses `own`: those on one
/// of our own networks first (they need no router), then IPv4, then the rest.
pub fn rank_addresses(addresses: &[IpAddr], own: &[LanAddress]) -> Vec<IpAddr> {
    let mut ranked = addresses.to_vec();
    ranked.sort_by_key(|ip| {
        let near = own.iter().any(|o| same_network(*ip, o));
        (!near, ip.is_ipv6())
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn school_network_addresses_are_usable() {
        assert_eq!(classify("eth0", ip("192.168.1.20"), true), Ok(()));
        assert_eq!(classify("wlp2s0", ip("10.4.0.7"), true), Ok(()));
        assert_eq!(classify("br0", ip("172.16.5.5"), true), Ok(()));
        assert_eq!(classify("eth0", ip("2001:db8::5"), true), Ok(()));
        assert_eq!(classify("eth0", ip("fd12:3456::1"), true), Ok(()));
    }

    #[test]
    fn loopback_link_local_down_and_virtual_are_not() {
        assert_eq!(
            classify("lo", ip("127.0.0.1"), true),
            Err(Unusable::Loopback)
        );
        assert_eq!(classify("lo", ip("::1"), true), Err(Unusable::Loopback));
        assert_eq!(
            classify("eth0", ip("169.254.3.4"), true),
            Err(Unusable::LinkLocal)
        );
        assert_eq!(
            classify("eth0", ip("fe80::1"), true),
            Err(Unusable::LinkLocal)
        );
        assert_eq!(classify("eth0", ip("10.0.0.2"), false), Err(Unusable::Down));
        assert_eq!(
            classify("docker0", ip("172.17.0.1"), true),
            Err(Unusable::Virtual)
        );
        assert_eq!(
            classify("br-0123456789ab", ip("172.18.0.1"), true),
            Err(Unusable::Virtual)
        );
        assert_eq!(
            classify("veth12ab", ip("10.1.0.1"), true),
            Err(Unusable::Virtual)
        );
        assert_eq!(
            classify("virbr0", ip("192.168.122.1"), true),
            Err(Unusable::Virtual)
        );
        assert_eq!(
            classify("eth0", ip("224.0.0.251"), true),
            Err(Unusable::NotUnicast)
        );
        assert_eq!(
            classify("eth0", ip("ff02::fb"), true),
            Err(Unusable::NotUnicast)
        );
        // A bridge a person named is not Docker's.
        assert!(!is_virtual_interface("br-lan"));
        assert!(!is_virtual_interface("br0"));
    }

    #[test]
    fn addresses_on_our_own_network_are_tried_first() {
        let own = [LanAddress {
            interface: "eth0".into(),
            ip: ip("10.7.3.20"),
            prefix_len: 24,
        }];
        assert!(same_network(ip("10.7.3.1"), &own[0]));
        assert!(!same_network(ip("10.7.4.1"), &own[0]));
        assert!(!same_network(ip("2001:db8::1"), &own[0]));
        let ranked = rank_addresses(
            &[ip("2001:db8::1"), ip("192.168.0.9"), ip("10.7.3.9")],
            &own,
        );
        assert_eq!(
            ranked,
            vec![ip("10.7.3.9"), ip("192.168.0.9"), ip("2001:db8::1")]
        );
        // A /0 or /32 prefix is not a panic.
        let wide = LanAddress {
            prefix_len: 0,
            ..own[0].clone()
        };
        assert!(same_network(ip("1.2.3.4"), &wide));
        let host = LanAddress {
            prefix_len: 32,
            ..own[0].clone()
        };
        assert!(!same_network(ip("10.7.3.21"), &host));
    }

    #[test]
    fn listing_this_computer_never_returns_loopback() {
        let list = lan_addresses().expect("interfaces");
        assert!(list.iter().all(|a| !a.ip.is_loopback()), "{list:?}");
    }
}
