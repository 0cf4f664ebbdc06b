//! One track as one subscriber receives it ([`OutStream`]: its numbering, layer, codec
//! mapping and retransmission record), and a subscriber's streams ([`OutStreams`]).

use std::time::{Duration, Instant};

use classroom_protocol::MediaKind;
use str0m::format::PayloadParams;
use str0m::media::{Mid, Pt, Rid};

use super::payload;
use super::rewrite::Rewriter;
use super::rtx::{RTX_CACHE_AGE, ResendCap, SentLog};

/// One track as one subscriber receives it.
#[derive(Debug)]
pub(crate) struct OutStream {
    /// The m-line on the subscriber's transport.
    pub mid: Mid,
    /// Continuous numbering across layer switches.
    pub rewriter: Rewriter,
    /// The layer being sent: `None` before the first packet, `Some(None)` for a track
    /// without simulcast.
    pub current: Option<Option<Rid>>,
    /// The layer wanted (simulcast only); switched to at its next keyframe.
    pub target: Option<Rid>,
    /// The size the subscriber shows the track at, if it said.
    pub viewport: Option<(u32, u32)>,
    pub(super) last_choice: Option<Instant>,
    /// Whether the track is video (video packets are kept for NACKs; audio is not).
    pub video: bool,
    /// The subscriber's payload type for each of the publisher's (`None`: it cannot take
    /// that codec). A handful at most: the codecs one m-line carries.
    pts: Vec<(Pt, Option<Pt>)>,
    /// The subscriber was told it cannot take this track's codec (told once).
    pub(super) told_unsupported: bool,
    /// How old a packet its NACKs may have resent (video): [`RTX_CACHE_AGE`] until the
    /// subscriber's receiver reports give a round trip, then [`rtx_age`].
    pub rtx_age: Duration,
    /// The copies it was sent, for its NACKs (video).
    pub sent: SentLog,
    /// How much of what it was sent may be resent.
    pub cap: ResendCap,
}

/// A subscriber's [`OutStream`]s by track number. A handful in a large class (the teacher's
/// camera, screen and microphone), so kept in order in one vector and searched from the
/// front: a copy finds its stream in the vector's first cache lines, where a hash map reads
/// its control bytes and then its entry, one more line to fetch per copy when the state has
/// left the caches between a stream's packets (as it does on a shared machine).
#[derive(Debug, Default)]
pub(crate) struct OutStreams(Vec<(u64, OutStream)>);

impl OutStreams {
    pub fn get(&self, num: &u64) -> Option<&OutStream> {
        self.0.iter().find(|(n, _)| n == num).map(|(_, o)| o)
    }

    pub fn get_mut(&mut self, num: &u64) -> Option<&mut OutStream> {
        self.0.iter_mut().find(|(n, _)| n == num).map(|(_, o)| o)
    }

    /// Adds or replaces track `num`'s stream.
    pub fn insert(&mut self, num: u64, out: OutStream) {
        match self.get_mut(&num) {
            Some(o) => *o = out,
            None => self.0.push((num, out)),
        }
    }

    pub fn remove(&mut self, num: &u64) -> Option<OutStream> {
        let i = self.0.iter().position(|(n, _)| n == num)?;
        Some(self.0.swap_remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &OutStream)> {
        self.0.iter().map(|(n, o)| (n, o))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&u64, &mut OutStream)> {
        self.0.iter_mut().map(|(n, o)| (&*n, o))
    }

    pub fn values(&self) -> impl Iterator<Item = &OutStream> {
        self.0.iter().map(|(_, o)| o)
    }
}

impl OutStream {
    /// Makes the next packet revisit the layer choice (the viewport changed).
    pub fn force_choice(&mut self) {
        self.last_choice = None;
    }

    /// A stream not sending anything yet.
    pub fn new(mid: Mid, kind: MediaKind) -> Self {
        let video = kind == MediaKind::Video;
        OutStream {
            mid,
            rewriter: Rewriter::new(if video { 90_000 } else { 48_000 }),
            current: None,
            target: None,
            viewport: None,
            last_choice: None,
            video,
            pts: Vec::new(),
            told_unsupported: false,
            rtx_age: RTX_CACHE_AGE,
            sent: SentLog::default(),
            cap: ResendCap::default(),
        }
    }

    /// The payload type to write a packet the publisher sent as `pt` (`params`) with, on
    /// this stream of `rtc`, or `None` when the subscriber cannot take that codec (none of
    /// the m-line's codecs match, or it refused the m-line). A stream opens once its m-line
    /// is negotiated, so what it negotiated does not change; learnt once per payload type.
    pub(super) fn payload_type(
        &mut self,
        rtc: &str0m::Rtc,
        pt: Pt,
        params: &PayloadParams,
    ) -> Option<Pt> {
        if let Some((_, mapped)) = self.pts.iter().find(|(p, _)| *p == pt) {
            return *mapped;
        }
        let mapped = payload::map(params, &payload::negotiated(rtc, self.mid));
        self.pts.push((pt, mapped));
        mapped
    }
}
