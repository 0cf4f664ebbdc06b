//! How a batch of datagrams goes to the kernel: which go together as one UDP GSO message.
//!
//! With generic segmentation offload (`UDP_SEGMENT`, Linux 4.18+), one `sendmsg` hands the
//! kernel several datagrams for the same destination as one buffer and a segment size; the
//! stack routes, builds and queues them once and cuts them into datagrams at the end
//! (loopback: on delivery; a network card: in hardware or just before the driver). A fan-out
//! that carries several packets to each student (a keyframe's burst, a video frame's packets
//! received together) then costs the kernel one trip per student instead of one per packet.
//!
//! The rule (`udp(7)`): every segment but the last has the segment size, the last may be
//! shorter, all go to one destination from one socket. Pure functions here, so the rule is
//! tested without sockets.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::ops::Range;

/// Segments per GSO message at most (the kernel's `UDP_MAX_SEGMENTS` is 64 on older kernels).
pub(crate) const MAX_SEGMENTS: usize = 64;

/// Bytes per GSO message at most: the kernel takes up to 64 KiB less the headers.
pub(crate) const MAX_GSO_BYTES: usize = 60_000;

/// A segment larger than this is sent alone: a segment must fit the path's MTU (the kernel
/// refuses a GSO message whose segment would be fragmented), 1500 less IPv6 and UDP headers.
pub(crate) const MAX_SEGMENT_BYTES: usize = 1452;

/// One message for the kernel: `datagrams` (indices into the batch, all to `destination`),
/// cut at `segment` bytes when it carries more than one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// Where the datagrams go.
    pub destination: SocketAddr,
    /// Which datagrams of the batch, consecutive.
    pub datagrams: Range<usize>,
    /// The segment size when the message carries several datagrams (GSO), else `None`.
    pub segment: Option<u16>,
}

/// `batch` reordered so each destination's datagrams are together, in their own order, the
/// destinations in the order they first appear. Order between different destinations is not
/// kept (it carries no meaning: they are different peers); order to one destination is. A
/// batch with no destination twice comes back as it was, without allocating.
pub(crate) fn by_destination<'a>(
    batch: Vec<(SocketAddr, &'a [u8])>,
) -> Vec<(SocketAddr, &'a [u8])> {
    if batch.len() < 2 {
        return batch;
    }
    let mut group_of: HashMap<SocketAddr, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(batch.len(), Default::default());
    let mut groups: Vec<Vec<(SocketAddr, &'a [u8])>> = Vec::new();
    let mut grouped = Vec::with_capacity(batch.len());
    for item in &batch {
        match group_of.entry(item.0) {
            Entry::Occupied(e) => grouped.push(*e.get()),
            Entry::Vacant(e) => {
                e.insert(groups.len());
                grouped.push(groups.len());
                groups.push(Vec::new());
            }
        }
    }
    if groups.len() == batch.len() {
        return batch;
    }
    for (item, group) in batch.into_iter().zip(grouped) {
        groups[group].push(item);
    }
    groups.into_iter().flatten().collect()
}

/// Cuts `batch` (in the order it is to be sent) into messages: with `gso`, consecutive
/// datagrams to one destination of one size (the last of them may be shorter) go as one, up
/// to [`MAX_SEGMENTS`] and [`MAX_GSO_BYTES`]; otherwise, and for anything else, one datagram
/// per message.
pub(crate) fn messages(batch: &[(SocketAddr, &[u8])], gso: bool) -> Vec<Message> {
    let mut out = Vec::with_capacity(batch.len());
    let mut at = 0;
    while at < batch.len() {
        let (destination, first) = batch[at];
        let size = first.len();
        let mut end = at + 1;
        if gso && size > 0 && size <= MAX_SEGMENT_BYTES {
            let mut total = size;
            while let Some((to, next)) = batch.get(end) {
                let fits = *to == destination
                    && !next.is_empty()
                    && next.len() <= size
                    && end - at < MAX_SEGMENTS
                    && total + next.len() <= MAX_GSO_BYTES;
                if !fits {
                    break;
                }
                total += next.len();
                end += 1;
                if next.len() < size {
                    // A shorter datagram can only be the last segment.
                    break;
                }
            }
        }
        let segment = (end - at > 1).then(|| u16::try_from(size).expect("at most 1452"));
        out.push(Message {
            destination,
            datagrams: at..end,
            segment,
        });
        at = end;
    }
    out
}

/// How many of `messages`, from the first, can go in one `sendmmsg` call: the same
/// segment size (the control message is shared by the call), at most `max`.
// Only the batching system calls (Linux) send several messages per call or split one.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn run_len(messages: &[Message], max: usize) -> usize {
    let Some(first) = messages.first() else {
        return 0;
    };
    messages
        .iter()
        .take(max)
        .take_while(|m| m.segment == first.segment)
        .count()
}

/// `message` as one message per datagram (the kernel refused GSO for it).
// Only the batching system calls (Linux) send several messages per call or split one.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn split(message: &Message) -> impl Iterator<Item = Message> + '_ {
    message.datagrams.clone().map(|i| Message {
        destination: message.destination,
        datagrams: i..i + 1,
        segment: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A batch of (destination port, length) with contents telling the datagrams apart.
    fn batch(spec: &[(u16, usize)]) -> Vec<(SocketAddr, Vec<u8>)> {
        spec.iter()
            .enumerate()
            .map(|(i, (port, len))| (addr(*port), vec![i as u8; *len]))
            .collect()
    }

    fn borrowed(b: &[(SocketAddr, Vec<u8>)]) -> Vec<(SocketAddr, &[u8])> {
        b.iter().map(|(a, v)| (*a, v.as_slice())).collect()
    }

    fn shape(m: &[Message]) -> Vec<(u16, usize, Option<u16>)> {
        m.iter()
            .map(|m| (m.destination.port(), m.datagrams.len(), m.segment))
            .collect()
    }

    #[test]
    fn a_destinations_datagrams_are_brought_together_in_their_order() {
        // A fan-out of two packets to three students, as the core produces it.
        let owned = batch(&[
            (1, 10),
            (2, 10),
            (3, 10),
            (1, 11),
            (2, 11),
            (3, 11),
            (2, 12),
        ]);
        let grouped = by_destination(borrowed(&owned));
        let seen: Vec<(u16, u8)> = grouped.iter().map(|(a, b)| (a.port(), b[0])).collect();
        assert_eq!(
            seen,
            vec![(1, 0), (1, 3), (2, 1), (2, 4), (2, 6), (3, 2), (3, 5)]
        );
    }

    #[test]
    fn a_batch_without_repeats_is_left_as_it_is() {
        let owned = batch(&[(3, 10), (1, 10), (2, 10)]);
        let grouped = by_destination(borrowed(&owned));
        let ports: Vec<u16> = grouped.iter().map(|(a, _)| a.port()).collect();
        assert_eq!(ports, vec![3, 1, 2]);
    }

    #[test]
    fn equal_datagrams_to_one_destination_go_as_one_message_and_a_shorter_one_ends_it() {
        let owned = batch(&[
            (1, 1200),
            (1, 1200),
            (1, 300), // the last segment may be shorter
            (1, 1200),
            (2, 1200),
            (2, 1300), // longer than the segment: a new message
            (3, 100),
        ]);
        let m = messages(&borrowed(&owned), true);
        assert_eq!(
            shape(&m),
            vec![
                (1, 3, Some(1200)),
                (1, 1, None),
                (2, 1, None),
                (2, 1, None),
                (3, 1, None)
            ]
        );
        assert_eq!(m[0].datagrams, 0..3);
        assert_eq!(m[1].datagrams, 3..4);
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_message() {
        let owned = batch(&[(1, 1200), (1, 1200), (1, 1200)]);
        let m = messages(&borrowed(&owned), false);
        assert_eq!(shape(&m), vec![(1, 1, None); 3]);
    }

    #[test]
    fn messages_stay_within_the_kernels_limits() {
        // 100 small datagrams: cut at the segment count.
        let owned = batch(&vec![(1, 100); 100]);
        let m = messages(&borrowed(&owned), true);
        assert_eq!(shape(&m), vec![(1, 64, Some(100)), (1, 36, Some(100))]);
        // 60 full-size datagrams: cut at the byte limit.
        let owned = batch(&vec![(1, 1400); 60]);
        let m = messages(&borrowed(&owned), true);
        assert!(m.iter().all(|m| m.datagrams.len() * 1400 <= MAX_GSO_BYTES));
        assert_eq!(m.iter().map(|m| m.datagrams.len()).sum::<usize>(), 60);
        // Too large to be a segment, or empty: alone.
        let owned = batch(&[(1, 1500), (1, 1500), (1, 0), (1, 0)]);
        let m = messages(&borrowed(&owned), true);
        assert_eq!(shape(&m), vec![(1, 1, None); 4]);
    }

    #[test]
    fn every_datagram_is_in_exactly_one_message_in_order() {
        let owned = batch(&[
            (1, 500),
            (1, 500),
            (2, 500),
            (2, 20),
            (2, 20),
            (1, 500),
            (1, 600),
        ]);
        let m = messages(&borrowed(&owned), true);
        let covered: Vec<usize> = m.iter().flat_map(|m| m.datagrams.clone()).collect();
        assert_eq!(covered, (0..owned.len()).collect::<Vec<_>>());
        for msg in &m {
            for i in msg.datagrams.clone() {
                assert_eq!(owned[i].0, msg.destination);
            }
        }
    }

    #[test]
    fn a_run_shares_one_segment_size() {
        let owned = batch(&[
            (1, 1200),
            (1, 1200),
            (2, 1200),
            (2, 900),
            (3, 80),
            (4, 80),
            (5, 1200),
            (5, 1200),
        ]);
        let m = messages(&borrowed(&owned), true);
        assert_eq!(run_len(&m, 64), 2, "two messages cut at 1200");
        assert_eq!(run_len(&m[2..], 64), 2, "two single datagrams");
        assert_eq!(run_len(&m[..1], 64), 1);
        assert_eq!(run_len(&m, 1), 1);
        assert_eq!(run_len(&[], 64), 0);
        let singles: Vec<Message> = split(&m[0]).collect();
        assert_eq!(shape(&singles), vec![(1, 1, None); 2]);
        assert_eq!(singles[1].datagrams, 1..2);
    }
}
