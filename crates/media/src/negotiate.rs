//! Codec negotiation fixes between webrtcbin 1.22 and str0m.
//!
//! The server offers every subscribe video m-line with all of str0m's codecs (VP8 first),
//! and webrtcbin answers with just the first format it supports, VP8. The server then cannot
//! forward an H.264 publisher to that subscriber (it writes only answered payload types).
//! The subscriber cannot know which codec a publisher will use, so its answer is widened
//! to every offered format it can decode; str0m then picks the one matching the media.

use gstreamer_sdp as gst_sdp;

/// RTCP feedback this client answers for the formats it adds: keyframe requests (PLI, FIR),
/// retransmission requests and transport-wide congestion feedback.
const FEEDBACK: [&str; 4] = ["nack", "nack pli", "ccm fir", "transport-cc"];

/// Whether this client can decode an offered video format, from its rtpmap and fmtp.
fn decodable(encoding: &str, fmtp: Option<&str>, have_avdec: bool) -> bool {
    match encoding.to_ascii_uppercase().as_str() {
        "VP8" => true,
        "H264" => {
            let fmtp = fmtp.unwrap_or("").to_ascii_lowercase();
            let mode1 = fmtp.split(';').any(|p| p.trim() == "packetization-mode=1");
            let profile = fmtp
                .split(';')
                .find_map(|p| p.trim().strip_prefix("profile-level-id="))
                .unwrap_or("42e01f");
            // libav decodes every profile; OpenH264 only (constrained) baseline.
            let baseline = profile.starts_with("42");
            mode1 && (have_avdec || baseline)
        }
        _ => false,
    }
}

/// The rtpmap encoding name and the fmtp of payload type `pt` in `media`.
fn format_params<'a>(
    media: &'a gst_sdp::SDPMediaRef,
    pt: &str,
) -> (Option<&'a str>, Option<&'a str>) {
    let prefixed = |key: &str| {
        media.attributes().find_map(|a| {
            (a.key() == key)
                .then(|| a.value())
                .flatten()
                .and_then(|v| v.strip_prefix(pt))
                .and_then(|rest| rest.strip_prefix(' '))
        })
    };
    let encoding = prefixed("rtpmap").and_then(|r| r.split('/').next());
    (encoding, prefixed("fmtp"))
}

/// Adds to each video m-line of `answer` every format of the matching `offer` m-line that
/// this client decodes and the answer lacks (rtpmap and fmtp copied from the offer).
/// Returns how many formats were added.
pub(crate) fn widen_video_answer(
    offer: &gst_sdp::SDPMessageRef,
    answer: &mut gst_sdp::SDPMessageRef,
    have_avdec: bool,
) -> usize {
    let mut added = 0;
    for i in 0..answer.medias_len().min(offer.medias_len()) {
        let Some(offered) = offer.media(i) else {
            continue;
        };
        if offered.media() != Some("video") {
            continue;
        }
        let Some(answered) = answer.media_mut(i) else {
            continue;
        };
        // A rejected m-line stays rejected.
        if answered.port() == 0 {
            continue;
        }
        let present: Vec<String> = answered.formats().map(str::to_owned).collect();
        for pt in offered.formats() {
            if present.iter().any(|p| p == pt) {
                continue;
            }
            let (encoding, fmtp) = format_params(offered, pt);
            let Some(encoding) = encoding else { continue };
            if !decodable(encoding, fmtp, have_avdec) {
                continue;
            }
            let rtpmap = offered.attributes().find_map(|a| {
                (a.key() == "rtpmap")
                    .then(|| a.value())
                    .flatten()
                    .filter(|v| v.split(' ').next() == Some(pt))
                    .map(str::to_owned)
            });
            answered.add_format(pt);
            if let Some(rtpmap) = rtpmap {
                answered.add_attribute("rtpmap", Some(&rtpmap));
            }
            if let Some(fmtp) = fmtp {
                answered.add_attribute("fmtp", Some(&format!("{pt} {fmtp}")));
            }
            // Feedback too: webrtcbin builds the receive payload map from this answer, and
            // its RTP session only sends a PLI for a payload type with `nack pli` there.
            let feedback: Vec<String> = offered
                .attributes()
                .filter(|a| a.key() == "rtcp-fb")
                .filter_map(|a| a.value())
                .filter_map(|v| v.strip_prefix(pt).and_then(|r| r.strip_prefix(' ')))
                .filter(|fb| FEEDBACK.contains(fb))
                .map(|fb| format!("{pt} {fb}"))
                .collect();
            for fb in feedback {
                answered.add_attribute("rtcp-fb", Some(&fb));
            }
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use gstreamer as gst;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 127 125 108 124 114\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=sendonly\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
        a=rtpmap:127 H264/90000\r\na=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:125 H264/90000\r\na=fmtp:125 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n\
        a=rtpmap:108 H264/90000\r\na=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=rtcp-fb:108 nack\r\na=rtcp-fb:108 nack pli\r\na=rtcp-fb:108 goog-remb\r\n\
        a=rtpmap:124 H264/90000\r\na=fmtp:124 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n\
        a=rtpmap:114 H264/90000\r\na=fmtp:114 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n";
    const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n";

    fn parse(s: &str) -> gst_sdp::SDPMessage {
        gst_sdp::SDPMessage::parse_buffer(s.as_bytes()).expect("sdp")
    }

    #[test]
    fn adds_decodable_h264_with_packetization_mode_1() {
        gst::init().expect("gstreamer");
        let offer = parse(OFFER);
        let mut answer = parse(ANSWER);
        assert_eq!(widen_video_answer(&offer, &mut answer, true), 3);
        let video = answer.media(0).expect("video");
        let formats: Vec<&str> = video.formats().collect();
        assert_eq!(formats, ["96", "127", "108", "114"]);
        let text = answer.as_text().expect("text");
        assert!(text.contains("a=rtpmap:108 H264/90000"), "{text}");
        assert!(
            text.contains(
                "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            ),
            "{text}"
        );
        assert!(
            !text.contains("rtpmap:124") && !text.contains("rtx"),
            "{text}"
        );
        assert!(
            text.contains("a=rtcp-fb:108 nack\r\n") && text.contains("a=rtcp-fb:108 nack pli"),
            "{text}"
        );
        assert!(!text.contains("goog-remb"), "{text}");
        // Audio untouched.
        assert_eq!(
            answer
                .media(1)
                .expect("audio")
                .formats()
                .collect::<Vec<_>>(),
            ["111"]
        );
    }

    #[test]
    fn openh264_only_takes_baseline_and_rejected_lines_stay_rejected() {
        gst::init().expect("gstreamer");
        let offer = parse(OFFER);
        let mut answer = parse(ANSWER);
        assert_eq!(widen_video_answer(&offer, &mut answer, false), 2);
        let formats: Vec<String> = answer
            .media(0)
            .expect("video")
            .formats()
            .map(str::to_owned)
            .collect();
        assert_eq!(formats, ["96", "127", "108"]);
        let mut rejected = parse(&ANSWER.replace("m=video 9", "m=video 0"));
        assert_eq!(widen_video_answer(&offer, &mut rejected, true), 0);
    }
}
