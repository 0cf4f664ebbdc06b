//! The list of classes found nearby, kept from what the network announces.
//!
//! Anyone on the school network can announce anything: a broken device, a student's script,
//! or thousands of announcements at once. So the list is bounded: at most
//! [`MAX_CLASSES`] classes (an update of a listed class is always taken; a new one past the
//! limit is refused), at most [`MAX_ADDRESSES`] addresses a class (joining tries them one
//! after another, each with a timeout, so a class announced at hundreds of unreachable
//! addresses would otherwise hold the Join button for minutes), and instance names no longer
//! than DNS allows. Pure (no network, no threads), so it is tested and fuzzed directly.

use std::collections::BTreeMap;
use std::net::IpAddr;

use mdns_sd::TxtProperties;

use crate::nearby::NearbyClass;
use crate::txt::{ClassTxt, TxtError};

/// Most classes listed at once. A school network has a few dozen classes at most; a room
/// with more is being flooded, and the list a student reads stays usable.
pub const MAX_CLASSES: usize = 64;

/// Most addresses kept for one class (IPv4 first, as [`NearbyClass::addresses`]). A laptop
/// has a handful: wired, Wi-Fi, an IPv6 or two.
pub const MAX_ADDRESSES: usize = 8;

/// Longest instance name taken, in bytes: a whole DNS name is at most 255.
pub const MAX_NAME_BYTES: usize = 255;

/// An announcement as the network resolved it, in our terms.
#[derive(Debug, Clone, Copy)]
pub struct Announced<'a> {
    /// The DNS-SD instance's full name (`Title (1a2b)._classroom._tcp.local.`).
    pub fullname: &'a str,
    /// The signaling port.
    pub port: u16,
    /// The addresses announced, in any order, possibly repeated.
    pub addresses: &'a [IpAddr],
    /// The TXT record.
    pub txt: &'a TxtProperties,
}

/// Why an announcement was not listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Its TXT record is not one this app would send.
    #[error(transparent)]
    Txt(#[from] TxtError),
    /// Port 0.
    #[error("announced on port 0")]
    NoPort,
    /// Only link-local, multicast or unspecified addresses, or none.
    #[error("no usable address (only link-local or none)")]
    NoAddress,
    /// An instance name longer than DNS allows, or empty.
    #[error("instance name is {0} bytes (1 to {MAX_NAME_BYTES})")]
    BadName(usize),
    /// [`MAX_CLASSES`] are listed already.
    #[error("{MAX_CLASSES} classes are listed already; this one is not shown")]
    TooMany,
}

impl NearbyClass {
    /// Reads an announcement; the addresses usable in a URL, IPv4 first, at most
    /// [`MAX_ADDRESSES`].
    pub fn from_announced(a: &Announced<'_>) -> Result<Self, Rejected> {
        if a.fullname.is_empty() || a.fullname.len() > MAX_NAME_BYTES {
            return Err(Rejected::BadName(a.fullname.len()));
        }
        let txt = ClassTxt::parse(|key| a.txt.get_property_val(key))?;
        if a.port == 0 {
            return Err(Rejected::NoPort);
        }
        let mut addresses: Vec<IpAddr> = a
            .addresses
            .iter()
            .copied()
            // IPv6 link-local needs a scope a URL cannot carry portably.
            .filter(|ip| match ip {
                IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_multicast(),
                IpAddr::V6(v6) => {
                    !v6.is_unicast_link_local() && !v6.is_unspecified() && !v6.is_multicast()
                }
            })
            .collect();
        addresses.sort_by_key(|ip| (ip.is_ipv6(), *ip));
        addresses.dedup();
        addresses.truncate(MAX_ADDRESSES);
        if addresses.is_empty() {
            return Err(Rejected::NoAddress);
        }
        Ok(NearbyClass {
            id: a.fullname.to_owned(),
            title: txt.title,
            teacher: txt.teacher,
            addresses,
            port: a.port,
            tls: txt.tls,
            fingerprint: txt.fingerprint,
            protocol_version: txt.protocol_version,
        })
    }
}

/// The classes announced nearby, by instance name.
#[derive(Debug, Default)]
pub struct NearbyList {
    found: BTreeMap<String, NearbyClass>,
}

impl NearbyList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An announcement was resolved (new, or an update of one seen before). `Ok(true)` when
    /// the list changed. A refused update of a listed class takes it off the list (it is
    /// no longer one a student can join), and the error says why.
    pub fn resolved(&mut self, a: &Announced<'_>) -> Result<bool, (Rejected, bool)> {
        match NearbyClass::from_announced(a) {
            Ok(class) => {
                if let Some(listed) = self.found.get_mut(&class.id) {
                    let changed = *listed != class;
                    *listed = class;
                    Ok(changed)
                } else if self.found.len() >= MAX_CLASSES {
                    Err((Rejected::TooMany, false))
                } else {
                    self.found.insert(class.id.clone(), class);
                    Ok(true)
                }
            }
            Err(why) => Err((why, self.found.remove(a.fullname).is_some())),
        }
    }

    /// The announcement `fullname` went away; whether it was listed.
    pub fn removed(&mut self, fullname: &str) -> bool {
        self.found.remove(fullname).is_some()
    }

    /// How many classes are listed.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether no class is listed.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The listed classes by title, then instance name.
    pub fn classes(&self) -> Vec<NearbyClass> {
        let mut classes: Vec<NearbyClass> = self.found.values().cloned().collect();
        classes.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        classes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const FP: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    fn txt(title: &str) -> TxtProperties {
        let props = ClassTxt {
            protocol_version: 1,
            title: title.into(),
            teacher: "Ms. Rivera".into(),
            tls: false,
            fingerprint: Some(FP.into()),
        }
        .to_properties()
        .expect("props");
        let mut wire = Vec::new();
        for (k, v) in props {
            let s = format!("{k}={v}");
            wire.push(u8::try_from(s.len()).expect("short"));
            wire.extend_from_slice(s.as_bytes());
        }
        TxtProperties::from(&wire[..])
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, last))
    }

    #[test]
    fn a_class_is_listed_with_its_usable_addresses_ipv4_first() {
        let t = txt("Physics 7B");
        let addrs = [
            IpAddr::V6("2001:db8::5".parse().expect("v6")),
            IpAddr::V6("fe80::1".parse().expect("v6")),
            v4(20),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            v4(20),
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)),
        ];
        let mut list = NearbyList::new();
        let a = Announced {
            fullname: "Physics 7B (1a2b)._classroom._tcp.local.",
            port: 47800,
            addresses: &addrs,
            txt: &t,
        };
        assert_eq!(list.resolved(&a), Ok(true));
        assert_eq!(list.resolved(&a), Ok(false), "the same announcement again");
        let class = &list.classes()[0];
        assert_eq!(class.title, "Physics 7B");
        assert_eq!(
            class.addresses,
            vec![
                v4(20),
                IpAddr::V6("2001:db8::5".parse::<Ipv6Addr>().expect("v6"))
            ]
        );
    }

    #[test]
    fn a_class_announced_at_hundreds_of_addresses_keeps_the_first_few() {
        let t = txt("Flood");
        let addrs: Vec<IpAddr> = (1..=250).rev().map(v4).collect();
        let class = NearbyClass::from_announced(&Announced {
            fullname: "Flood._classroom._tcp.local.",
            port: 1,
            addresses: &addrs,
            txt: &t,
        })
        .expect("listed");
        assert_eq!(class.addresses, (1..=8).map(v4).collect::<Vec<_>>());
    }

    #[test]
    fn a_flood_of_announcements_lists_at_most_max_classes_and_updates_still_apply() {
        let addrs = [v4(9)];
        let mut list = NearbyList::new();
        let names: Vec<String> = (0..MAX_CLASSES + 40)
            .map(|i| format!("Class {i:03}._classroom._tcp.local."))
            .collect();
        let t = txt("Maths");
        let mut refused = 0;
        for name in &names {
            let a = Announced {
                fullname: name,
                port: 47800,
                addresses: &addrs,
                txt: &t,
            };
            match list.resolved(&a) {
                Ok(changed) => assert!(changed),
                Err((why, listed_before)) => {
                    assert_eq!(why, Rejected::TooMany);
                    assert!(!listed_before);
                    refused += 1;
                }
            }
        }
        assert_eq!((list.len(), refused), (MAX_CLASSES, 40));
        // A listed class still takes its updates, and when one goes another fits.
        let renamed = txt("Maths, moved to room 4");
        let first = Announced {
            fullname: &names[0],
            port: 47800,
            addresses: &addrs,
            txt: &renamed,
        };
        assert_eq!(list.resolved(&first), Ok(true));
        assert!(list.removed(&names[1]));
        let late = Announced {
            fullname: &names[MAX_CLASSES + 3],
            port: 47800,
            addresses: &addrs,
            txt: &t,
        };
        assert_eq!(list.resolved(&late), Ok(true));
        assert_eq!(list.len(), MAX_CLASSES);
    }

    #[test]
    fn a_broken_update_takes_a_listed_class_off_and_bad_names_are_refused() {
        let addrs = [v4(9)];
        let good = txt("Art");
        let mut list = NearbyList::new();
        let name = "Art._classroom._tcp.local.";
        assert_eq!(
            list.resolved(&Announced {
                fullname: name,
                port: 47800,
                addresses: &addrs,
                txt: &good,
            }),
            Ok(true)
        );
        assert_eq!(
            list.resolved(&Announced {
                fullname: name,
                port: 0,
                addresses: &addrs,
                txt: &good,
            }),
            Err((Rejected::NoPort, true))
        );
        assert!(list.is_empty());
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        for fullname in ["", long.as_str()] {
            assert_eq!(
                list.resolved(&Announced {
                    fullname,
                    port: 47800,
                    addresses: &addrs,
                    txt: &good,
                }),
                Err((Rejected::BadName(fullname.len()), false))
            );
        }
        assert_eq!(
            list.resolved(&Announced {
                fullname: name,
                port: 47800,
                addresses: &[IpAddr::V6("fe80::1".parse().expect("v6"))],
                txt: &good,
            }),
            Err((Rejected::NoAddress, false))
        );
    }
}
