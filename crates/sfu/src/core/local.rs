//! The server's own addresses: which host candidates each peer is offered, and new ones
//! trickled to peers already connected when an interface appears mid-class.
//!
//! Loopback is offered only to peers whose signaling came from this computer over loopback
//! (the teacher's own app), and only loopback: such a client gathers on loopback alone, and its
//! media then survives the network going away. To anyone else `127.0.0.1` is their own machine,
//! so they get the other addresses. A server with nothing but loopback offers it to everyone,
//! which is a class on one computer.

use std::net::SocketAddr;
use std::time::Instant;

use classroom_protocol::{IceCandidate, ServerMessage, Transport};
use str0m::Candidate;
use tracing::{debug, info};

use super::{ConnId, Sfu};

/// The addresses in `local` a peer is offered: loopback ones to a peer on this computer,
/// the others to everyone else; all of them when that leaves none.
pub(super) fn candidate_addrs(local: &[SocketAddr], peer_is_local: bool) -> Vec<SocketAddr> {
    let fitting: Vec<SocketAddr> = local
        .iter()
        .copied()
        .filter(|a| a.ip().is_loopback() == peer_is_local)
        .collect();
    if fitting.is_empty() {
        local.to_vec()
    } else {
        fitting
    }
}

impl Sfu {
    /// A new signaling connection from `peer` (see [`Sfu::connect`]); a peer on this
    /// computer is also offered the server's loopback addresses.
    pub fn connect_from(&mut self, now: Instant, conn: ConnId, peer: SocketAddr) {
        self.connect(now, conn);
        if let Some(p) = self.participants.get_mut(&conn) {
            p.local_peer = peer.ip().is_loopback();
            p.peer = peer.ip();
        }
    }

    /// The addresses media is received on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The driver's media addresses changed (an interface came or went). New peer
    /// connections get the new set; connected peers are given the new addresses as trickled
    /// candidates (`iceCandidate`), so media can move to a network that appeared. Addresses
    /// that went are simply no longer sent from.
    pub fn set_local_addrs(&mut self, now: Instant, addrs: &[SocketAddr]) {
        if addrs.is_empty() || addrs == self.local_addrs.as_slice() {
            return;
        }
        let old = std::mem::replace(&mut self.local_addrs, addrs.to_vec());
        info!(?old, new = ?self.local_addrs, "media addresses changed");
        let mut trickle = Vec::new();
        for p in self.participants.values_mut() {
            let before = candidate_addrs(&old, p.local_peer);
            let added: Vec<SocketAddr> = candidate_addrs(&self.local_addrs, p.local_peer)
                .into_iter()
                .filter(|a| !before.contains(a))
                .collect();
            if added.is_empty() {
                continue;
            }
            let conn = p.conn;
            let sides = [
                (Transport::Publish, p.publish.as_deref_mut()),
                (
                    Transport::Subscribe,
                    p.subscribe.as_mut().map(|s| &mut s.rtc),
                ),
            ];
            for (transport, rtc) in sides {
                let Some(rtc) = rtc else { continue };
                for addr in &added {
                    let Ok(candidate) = Candidate::host(*addr, "udp") else {
                        continue;
                    };
                    if let Some(c) = rtc.add_local_candidate(candidate) {
                        trickle.push((conn, transport, c.to_sdp_string()));
                    }
                }
            }
            if p.publish.is_some() {
                p.publish_dirty = true;
            }
            if let Some(s) = p.subscribe.as_mut() {
                s.dirty = true;
            }
            self.maybe_dirty.push(conn);
        }
        for (conn, transport, candidate) in trickle {
            debug!(conn, %candidate, "trickling a new local candidate");
            self.signal(
                conn,
                ServerMessage::IceCandidate(IceCandidate {
                    transport,
                    candidate,
                    sdp_m_line_index: 0,
                }),
            );
        }
        self.drive(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().expect("addr")).collect()
    }

    #[test]
    fn loopback_is_offered_only_to_peers_on_this_computer() {
        let local = addrs(&["127.0.0.1:47800", "10.1.2.3:47800", "192.168.7.9:47800"]);
        assert_eq!(candidate_addrs(&local, true), addrs(&["127.0.0.1:47800"]));
        assert_eq!(
            candidate_addrs(&local, false),
            addrs(&["10.1.2.3:47800", "192.168.7.9:47800"])
        );
    }

    #[test]
    fn a_loopback_only_server_offers_loopback_to_everyone() {
        let local = addrs(&["127.0.0.1:5000"]);
        assert_eq!(candidate_addrs(&local, false), local);
        assert_eq!(candidate_addrs(&local, true), local);
    }
}
