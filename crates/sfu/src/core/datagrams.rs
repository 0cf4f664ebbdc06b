//! The datagram path: what arrives on the media sockets, routed to the peer connection that
//! accepts it (by ICE, then by the address it was seen from), DTLS that came before its
//! connection held and offered again, and a receive call's datagrams handed in together
//! (`handle_udp_batch`), in parts sized by the class's largest audience.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::Input;
use str0m::net::{DatagramRecv, Protocol, Receive};
use tracing::debug;

use super::{ConnId, Sfu, early};

/// Copies the driver lets one part of a receive call's datagrams make before it sends them:
/// bounds what a part holds (~2.6 MB of datagrams) and how long its first copies wait.
pub const OUTPUTS_PER_PART: usize = 2048;

/// Datagrams the server's driver takes from a socket per receive call (`recvmmsg`) unless
/// `CLASSROOM_UDP_RECV_BATCH` says otherwise.
pub const DATAGRAMS_PER_RECEIVE: usize = 16;

/// How many datagrams of one receive call to hand to [`Sfu::handle_udp_batch`] at once, for
/// a class whose largest `audience` ([`Sfu::largest_audience`]) is what one datagram can
/// become: their fan-out stays under [`OUTPUTS_PER_PART`], and never fewer than one.
pub fn datagrams_per_part(audience: usize) -> usize {
    (OUTPUTS_PER_PART / audience.max(1)).max(1)
}

/// What became of a datagram offered to the peer connections.
enum Route {
    /// A connection took it.
    Taken(ConnId),
    /// No connection accepts it (yet).
    NoConnection,
    /// Not a datagram str0m reads.
    Unparseable,
    /// The connection's stack refused it (bad SRTP, bad DTLS record).
    Refused(ConnId),
}

impl Sfu {
    /// A UDP datagram arrived.
    pub fn handle_udp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        if self.receive_udp(now, source, destination, data).is_some() {
            self.drive(now);
        }
    }

    /// Datagrams that arrived together (one `recvmmsg`), all at `destination`: each is
    /// handed to its connection and that connection polled at once, then what they carried
    /// is forwarded and every subscriber polled once for all of it. A burst from the teacher
    /// (a keyframe's packets) thus reaches each student's connection as one write of several
    /// packets and one poll, not one poll per packet, and the fan-out pool is started once.
    pub fn handle_udp_batch<'a>(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        datagrams: impl IntoIterator<Item = (SocketAddr, &'a [u8])>,
    ) {
        let mut any = false;
        for (source, data) in datagrams {
            if let Some(conn) = self.receive_udp(now, source, destination, data) {
                any = true;
                // str0m holds one received RTP packet until it is polled: the connection
                // that took it is polled before the next datagram, its work kept.
                self.poll_one(now, conn);
            }
        }
        if any {
            self.drive(now);
        }
    }

    /// Datagrams that arrived at the core's addresses, handed in as the server's driver
    /// hands in its receive calls: up to [`DATAGRAMS_PER_RECEIVE`] of one destination
    /// address at a time, in parts of [`datagrams_per_part`]. For the core's virtual-time
    /// worlds (tests, fuzzing), where datagrams are not read from sockets. The largest part
    /// handed in.
    pub fn handle_udp_arrived(
        &mut self,
        now: Instant,
        arrived: &[(SocketAddr, SocketAddr, Vec<u8>)],
    ) -> usize {
        let mut largest = 0;
        for same in arrived.chunk_by(|a, b| a.1 == b.1) {
            let part = datagrams_per_part(self.largest_audience()).min(DATAGRAMS_PER_RECEIVE);
            for batch in same.chunks(part) {
                largest = largest.max(batch.len());
                let datagrams = batch.iter().map(|(s, _, d)| (*s, d.as_slice()));
                self.handle_udp_batch(now, batch[0].1, datagrams);
            }
        }
        largest
    }

    /// Hands one datagram to the connection that accepts it; that connection, if one saw
    /// it (so there is work to drive).
    fn receive_udp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> Option<ConnId> {
        self.metrics.udp_in(data.len());
        match self.route_udp(now, source, destination, data) {
            Route::Taken(conn) => {
                // A STUN check a connection just took may make its pair, and so the DTLS that
                // came early from the same address, acceptable. The STUN is drained first:
                // the DTLS is a second input, likely to the same connection.
                if !self.early.is_empty() && early::is_stun(data) {
                    self.poll_one(now, conn);
                    self.offer_early(now, source);
                }
                Some(conn)
            }
            Route::NoConnection if early::is_dtls(data) => {
                let pushed_out = self.early.hold(early::Held {
                    at: now,
                    source,
                    destination,
                    data: data.to_vec(),
                });
                self.metrics.udp_dropped_many(pushed_out);
                None
            }
            Route::NoConnection | Route::Unparseable => {
                self.metrics.udp_dropped();
                None
            }
            Route::Refused(conn) => {
                // The connection's stack saw it: what it has to send still goes out.
                self.metrics.udp_dropped();
                Some(conn)
            }
        }
    }

    /// Offers the early DTLS datagrams from `source` to the connections again; those still
    /// not accepted are kept (until `early::KEEP`).
    fn offer_early(&mut self, now: Instant, source: SocketAddr) {
        for h in self.early.take_from(source, now) {
            match self.route_udp(now, h.source, h.destination, &h.data) {
                Route::Taken(conn) => {
                    self.metrics.early_datagram_taken();
                    debug!(source = %h.source, "early DTLS datagram taken");
                    // Drained before the next input reaches it (str0m's rule).
                    self.poll_one(now, conn);
                }
                Route::NoConnection => {
                    // Kept again (it was taken out, so nothing is pushed out).
                    let pushed_out = self.early.hold(h);
                    self.metrics.udp_dropped_many(pushed_out);
                }
                Route::Refused(conn) => {
                    self.metrics.udp_dropped();
                    self.poll_one(now, conn);
                }
                Route::Unparseable => self.metrics.udp_dropped(),
            }
        }
    }

    /// Hands a datagram to the peer connection that accepts it.
    fn route_udp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> Route {
        let Ok(contents) = DatagramRecv::try_from(data) else {
            return Route::Unparseable;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        // The connection this address reached last time, if it still accepts; else a search.
        let cached = self
            .addr_index
            .get(&source)
            .copied()
            .and_then(|(conn, publish)| {
                let side = self.participants.get_mut(&conn)?.rtc_tagged_mut(publish)?;
                (side.1.is_alive() && side.1.accepts(&input)).then_some((conn, publish))
            });
        let found = cached.or_else(|| {
            for conn in &self.with_media {
                let Some(p) = self.participants.get_mut(conn) else {
                    continue;
                };
                let hit = p
                    .rtcs_tagged_mut()
                    .into_iter()
                    .flatten()
                    // A connection that ended (its `Gone` not yet acted on) takes nothing:
                    // str0m would swallow a datagram a new connection from there needs.
                    .find(|t| t.1.is_alive() && t.1.accepts(&input))
                    .map(|t| (*conn, t.0));
                if hit.is_some() {
                    return hit;
                }
            }
            None
        });
        let Some((conn, publish)) = found else {
            return Route::NoConnection;
        };
        if cached.is_none() {
            self.addr_index.insert(source, (conn, publish));
        }
        let Some((_, rtc, _, dirty)) = self
            .participants
            .get_mut(&conn)
            .and_then(|p| p.rtc_tagged_mut(publish))
        else {
            return Route::NoConnection;
        };
        *dirty = true;
        self.maybe_dirty.push(conn);
        if let Err(e) = rtc.handle_input(input) {
            // A packet str0m cannot use (bad SRTP, bad DTLS record) must not end the call.
            debug!(%source, "dropped datagram: {e}");
            return Route::Refused(conn);
        }
        Route::Taken(conn)
    }

    /// The most subscribers any one track has: how many copies one datagram can become.
    pub fn largest_audience(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| t.subscribers.len())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::{OUTPUTS_PER_PART, datagrams_per_part};

    #[test]
    fn a_receive_call_is_cut_into_parts_whose_fan_out_stays_bounded() {
        // Nobody subscribed yet, or a small class: a whole receive call (16) at once.
        assert_eq!(datagrams_per_part(0), OUTPUTS_PER_PART);
        assert!(datagrams_per_part(24) >= 16);
        assert!(datagrams_per_part(128) >= 16);
        // 200 students: ten packets' copies, 2,000, in a part.
        assert_eq!(datagrams_per_part(200), 10);
        // 1,000: two at a time; 10,000: one, never none.
        assert_eq!(datagrams_per_part(1000), 2);
        assert_eq!(datagrams_per_part(10_000), 1);
        for audience in [1, 7, 200, 333, 2048, 2049, 50_000] {
            let part = datagrams_per_part(audience);
            assert!(part >= 1);
            assert!(
                part == 1 || part * audience <= OUTPUTS_PER_PART,
                "{audience}"
            );
        }
    }
}
