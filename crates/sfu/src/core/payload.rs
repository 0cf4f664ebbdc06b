//! Payload types per leg: a packet goes out with the number the *subscriber* negotiated for
//! its codec, not the publisher's.
//!
//! Every peer connection numbers its codecs itself: a browser sends Opus as 111 and VP8 as
//! 96, GStreamer's webrtcbin as 96 and 97, OBS as it likes; the server's own offers use
//! str0m's defaults. Forwarding the publisher's number made a subscriber of another stack
//! drop every packet ("Media is missing PT (111)"). Each track learns its publisher's
//! [`PayloadParams`] per payload type; each subscriber's stream maps them once to the
//! payload type negotiated on its m-line, matched by codec, clock rate, channels and the
//! format parameters that matter (H.264 profile and packetization mode, VP9 profile, AV1
//! profile, level and tier: str0m's matching). RTX follows, since str0m resends with the
//! retransmission payload type of the payload type written. Header extensions need no
//! mapping: str0m reads them into `ExtensionValues` on the way in and writes them with the
//! subscriber's own ids.

use classroom_protocol::{ErrorCode, ServerMessage};
use str0m::Rtc;
use str0m::format::{Codec, CodecConfig, PayloadParams};
use str0m::media::{Mid, Pt};

/// The payload parameters negotiated on `mid` of `rtc` (empty before negotiation).
pub(crate) fn negotiated(rtc: &Rtc, mid: Mid) -> Vec<PayloadParams> {
    let Some(media) = rtc.media(mid) else {
        return Vec::new();
    };
    let pts = media.remote_pts();
    rtc.codec_config()
        .params()
        .iter()
        .filter(|p| pts.contains(&p.pt()))
        .copied()
        .collect()
}

/// The payload type among `offered` that carries what `publisher` describes, or `None`
/// when the subscriber cannot take that codec.
pub(crate) fn map(publisher: &PayloadParams, offered: &[PayloadParams]) -> Option<Pt> {
    if let Some(p) = CodecConfig::new_from_payload_params(offered.to_vec()).match_params(*publisher)
    {
        return Some(p.pt());
    }
    // str0m matches VP8 and audio codecs other than Opus only when every format parameter is
    // equal; for them nothing in the format changes what the decoder needs (VP8's max-fr and
    // max-fs are the receiver's hints to the sender).
    let s = publisher.spec();
    let loose = matches!(
        s.codec,
        Codec::Vp8 | Codec::PCMU | Codec::PCMA | Codec::G722
    );
    offered
        .iter()
        .find(|p| {
            let o = p.spec();
            loose && o.codec == s.codec && o.clock_rate == s.clock_rate && o.channels == s.channels
        })
        .map(|p| p.pt())
}

/// What a subscriber is told when its m-line for `track_id` takes none of the publisher's
/// codecs (`codec`): once per stream, not per packet.
pub(crate) fn unsupported(track_id: &str, codec: Codec) -> ServerMessage {
    ServerMessage::error(
        ErrorCode::UnsupportedCodec,
        format!(
            "{track_id} is sent in {}, which this app did not accept; it cannot be shown",
            codec_name(codec)
        ),
    )
}

/// The codec's name as people know it, for errors.
pub(crate) fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Opus => "Opus",
        Codec::PCMU => "G.711 µ-law",
        Codec::PCMA => "G.711 A-law",
        Codec::G722 => "G.722",
        Codec::H264 => "H.264",
        Codec::H265 => "H.265",
        Codec::H266 => "H.266",
        Codec::Vp8 => "VP8",
        Codec::Vp9 => "VP9",
        Codec::Av1 => "AV1",
        _ => "an unknown codec",
    }
}

/// Whether an RTP payload starts a keyframe, for the codecs str0m negotiates; `None` for a
/// codec whose keyframes this server cannot spot. A VP8 payload's descriptor, parsed once by
/// the caller, is passed in.
pub(super) fn starts_keyframe(
    codec: Codec,
    vp8: Option<&str0m::rtp::Vp8Descriptor>,
    payload: &[u8],
) -> Option<bool> {
    match codec {
        Codec::Vp8 => Some(vp8.is_some_and(|d| d.starts_keyframe(payload))),
        Codec::H264 => Some(h264_starts_keyframe(payload)),
        _ => None,
    }
}

/// An H.264 RTP payload (RFC 6184) that carries an SPS or the start of an IDR slice.
fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let idr_or_sps = |nal: u8| matches!(nal & 0x1f, 5 | 7);
    match first & 0x1f {
        // STAP-A: 2-byte sizes, then NAL units.
        24 => {
            let mut at = 1;
            while at + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                if payload.get(at + 2).is_some_and(|&n| idr_or_sps(n)) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        // FU-A: the start bit and the fragmented unit's type.
        28 => payload
            .get(1)
            .is_some_and(|&h| h & 0x80 != 0 && idr_or_sps(h)),
        _ => idr_or_sps(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::format::{CodecSpec, FormatParams};

    fn params(pt: u8, codec: Codec, clock: u32, channels: Option<u8>, fmtp: &str) -> PayloadParams {
        PayloadParams::new(
            pt.into(),
            None,
            CodecSpec {
                codec,
                clock_rate: str0m::media::Frequency::from_nonzero(
                    std::num::NonZeroU32::new(clock).expect("clock rate"),
                ),
                channels,
                format: FormatParams::parse_line(fmtp),
            },
        )
    }

    #[test]
    fn maps_by_codec_not_by_number() {
        let browser = [
            params(
                111,
                Codec::Opus,
                48_000,
                Some(2),
                "minptime=10;useinbandfec=1",
            ),
            params(96, Codec::Vp8, 90_000, None, ""),
        ];
        let gst_opus = params(97, Codec::Opus, 48_000, Some(2), "");
        let gst_vp8 = params(96, Codec::Vp8, 90_000, None, "max-fr=30");
        assert_eq!(map(&gst_opus, &browser), Some(111.into()));
        assert_eq!(map(&gst_vp8, &browser), Some(96.into()));
    }

    #[test]
    fn h264_needs_the_same_packetization_mode() {
        let sub = [
            params(
                102,
                Codec::H264,
                90_000,
                None,
                "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
            ),
            params(
                108,
                Codec::H264,
                90_000,
                None,
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ),
        ];
        let publisher = params(
            125,
            Codec::H264,
            90_000,
            None,
            "packetization-mode=1;profile-level-id=42e01f",
        );
        assert_eq!(map(&publisher, &sub), Some(108.into()));
        let only_mode_0 = [sub[0]];
        assert_eq!(map(&publisher, &only_mode_0), None);
    }

    #[test]
    fn a_codec_the_subscriber_lacks_is_none() {
        let vp8_only = [params(120, Codec::Vp8, 90_000, None, "")];
        assert_eq!(
            map(&params(98, Codec::Vp9, 90_000, None, ""), &vp8_only),
            None
        );
        assert_eq!(
            map(&params(35, Codec::Av1, 90_000, None, ""), &vp8_only),
            None
        );
        assert_eq!(map(&params(96, Codec::Vp8, 90_000, None, ""), &[]), None);
    }
}
