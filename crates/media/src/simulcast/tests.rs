//! Simulcast planning, offer munging and rate sharing (no pipelines).

use super::offer::{ExtIds, munge_offer};
use super::rates::{split_bitrate, track_loss};
use super::*;

fn asked() -> Vec<SimulcastLayer> {
    [("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
        .into_iter()
        .map(|(rid, width, height)| SimulcastLayer {
            rid: rid.into(),
            width,
            height,
        })
        .collect()
}

fn sizes(layers: &[Layer]) -> Vec<(&str, u32, u32)> {
    layers
        .iter()
        .map(|l| (l.rid.as_str(), l.width, l.height))
        .collect()
}

#[test]
fn a_720p_camera_sends_all_three_layers_with_sensible_rates() {
    let layers = plan(&asked(), (1280, 720), 1_500_000);
    assert_eq!(
        sizes(&layers),
        vec![("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
    );
    let kbps: Vec<u32> = layers.iter().map(|l| l.bitrate / 1000).collect();
    assert_eq!(kbps, vec![163, 494, 1500]);
}

#[test]
fn no_upscaling_the_cameras_shape_and_two_layers_at_least() {
    // A 360p camera cannot make 720p: two layers.
    assert_eq!(
        sizes(&plan(&asked(), (640, 360), 800_000)),
        vec![("l", 320, 180), ("m", 640, 360)]
    );
    // A 4:3 camera keeps 4:3 inside each box.
    assert_eq!(
        sizes(&plan(&asked(), (640, 480), 800_000)),
        vec![("l", 240, 180), ("m", 480, 360)]
    );
    // One layer left is no simulcast.
    assert!(plan(&asked(), (320, 180), 300_000).is_empty());
    assert!(plan(&[], (1280, 720), 1_500_000).is_empty());
    assert!(plan(&asked(), (0, 0), 1_500_000).is_empty());
}

#[test]
fn unusable_rids_and_repeated_sizes_are_left_out() {
    let mut odd = asked();
    odd.push(SimulcastLayer {
        rid: "h".into(),
        width: 640,
        height: 360,
    });
    odd.push(SimulcastLayer {
        rid: "bad rid".into(),
        width: 480,
        height: 270,
    });
    odd.push(SimulcastLayer {
        rid: "m2".into(),
        width: 640,
        height: 360,
    });
    odd.push(SimulcastLayer {
        rid: "zero".into(),
        width: 0,
        height: 360,
    });
    assert_eq!(
        sizes(&plan(&odd, (1280, 720), 1_500_000)),
        vec![("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)]
    );
}

#[test]
fn ssrcs_are_distinct_and_not_zero() {
    let mut layers = plan(&asked(), (1280, 720), 1_500_000);
    assign_ssrcs(&mut layers);
    let mut ssrcs: Vec<u32> = layers.iter().map(|l| l.ssrc).collect();
    assert!(ssrcs.iter().all(|s| *s != 0));
    ssrcs.dedup();
    assert_eq!(ssrcs.len(), 3);
}

fn layers() -> Vec<Layer> {
    let mut layers = plan(&asked(), (1280, 720), 1_500_000);
    for (i, l) in layers.iter_mut().enumerate() {
        l.ssrc = 1000 + i as u32;
    }
    layers
}

/// The shape of webrtcbin 1.22's publish offer: audio first with an audio-level extmap,
/// then the camera with RTX and its SSRC lines.
const OFFER: &str = "v=0\r\n\
o=- 123 0 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=ice-options:trickle\r\n\
a=group:BUNDLE audio0 video1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 0.0.0.0\r\n\
a=setup:actpass\r\n\
a=mid:audio0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendonly\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 OPUS/48000/2\r\n\
a=ssrc:77 cname:user1@host\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 108 109\r\n\
c=IN IP4 0.0.0.0\r\n\
a=setup:actpass\r\n\
a=mid:video1\r\n\
a=sendonly\r\n\
a=rtcp-mux\r\n\
a=rtpmap:108 H264/90000\r\n\
a=rtcp-fb:108 nack\r\n\
a=rtcp-fb:108 nack pli\r\n\
a=fmtp:108 packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:109 rtx/90000\r\n\
a=fmtp:109 apt=108\r\n\
a=ssrc-group:FID 1002 5555\r\n\
a=ssrc:1002 msid:user1@host video1\r\n\
a=ssrc:1002 cname:user1@host\r\n\
a=ssrc:5555 msid:user1@host video1\r\n\
a=ssrc:5555 cname:user1@host\r\n";

#[test]
fn the_offer_gets_rids_simulcast_extmaps_and_layer_ssrcs() {
    let m = munge_offer(OFFER, 1, &layers(), None).expect("munged");
    assert_eq!(m.mid, "video1");
    // Id 1 is the microphone's audio level: the new ones take the next free ids.
    assert_eq!(
        m.ids,
        ExtIds {
            mid: 2,
            rid: 3,
            repaired_rid: 4
        }
    );
    let video = &m.sdp[m.sdp.find("m=video").expect("video")..];
    for line in [
        "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\r\n",
        "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n",
        "a=rid:l send\r\n",
        "a=rid:m send\r\n",
        "a=rid:h send\r\n",
        "a=simulcast:send l;m;h\r\n",
        "a=ssrc-group:SIM 1000 1001 1002\r\n",
        "a=ssrc:1000 cname:user1@host\r\n",
        "a=ssrc:1001 cname:user1@host\r\n",
        // webrtcbin's own lines stay: the top layer and its retransmissions.
        "a=ssrc-group:FID 1002 5555\r\n",
        "a=ssrc:1002 msid:user1@host video1\r\n",
    ] {
        assert!(video.contains(line), "{line:?} missing from\n{video}");
    }
    assert_eq!(video.matches("a=ssrc:1002 cname:").count(), 1);
    // The audio m-line is untouched.
    let audio = &m.sdp[m.sdp.find("m=audio").expect("audio")..m.sdp.find("m=video").expect("v")];
    assert!(
        !audio.contains("a=rid") && !audio.contains("sdes:mid"),
        "{audio}"
    );
    assert!(m.sdp.ends_with("\r\n") && !m.sdp.contains("\r\n\r\n"));
}

#[test]
fn munging_twice_changes_nothing_and_ids_stay_across_offers() {
    let once = munge_offer(OFFER, 1, &layers(), None).expect("once");
    let twice = munge_offer(&once.sdp, 1, &layers(), Some(once.ids)).expect("twice");
    assert_eq!(once, twice);
    // A later offer from webrtcbin (without our lines) gets the same ids back.
    let again = munge_offer(OFFER, 1, &layers(), Some(once.ids)).expect("again");
    assert_eq!(again.ids, once.ids);
    // Ids an earlier offer used are kept even when lower ones are free.
    let kept = ExtIds {
        mid: 9,
        rid: 10,
        repaired_rid: 11,
    };
    assert_eq!(
        munge_offer(OFFER, 1, &layers(), Some(kept))
            .expect("kept")
            .ids,
        kept
    );
    // ...unless something else took them since: then a free id, never a clash.
    let clash = ExtIds {
        mid: 1,
        rid: 10,
        repaired_rid: 11,
    };
    let ids = munge_offer(OFFER, 1, &layers(), Some(clash))
        .expect("clash")
        .ids;
    assert_eq!(ids.mid, 2);
}

#[test]
fn an_id_webrtcbin_already_offers_is_reused() {
    let with_mid = OFFER.replace(
        "a=mid:video1\r\n",
        "a=mid:video1\r\na=extmap:7 urn:ietf:params:rtp-hdrext:sdes:mid\r\n",
    );
    let m = munge_offer(&with_mid, 1, &layers(), None).expect("munged");
    assert_eq!(m.ids.mid, 7);
    assert_eq!(m.sdp.matches("sdes:mid").count(), 1, "{}", m.sdp);
    // An id only two-byte extensions can carry is refused, not written (the one-byte writer
    // would abort the streaming thread).
    let two_byte = with_mid.replace("a=extmap:7 ", "a=extmap:200 ");
    assert!(munge_offer(&two_byte, 1, &layers(), None).is_err());
}

#[test]
fn offers_that_cannot_carry_simulcast_are_refused() {
    assert!(
        munge_offer(OFFER, 0, &layers(), None).is_err(),
        "audio m-line"
    );
    assert!(
        munge_offer(OFFER, 2, &layers(), None).is_err(),
        "no such m-line"
    );
    assert!(
        munge_offer(OFFER, 1, &layers()[..1], None).is_err(),
        "one layer"
    );
    let no_mid = OFFER.replace("a=mid:video1\r\n", "");
    assert!(munge_offer(&no_mid, 1, &layers(), None).is_err());
    let mut bad = layers();
    bad[0].rid = "no spaces".into();
    assert!(munge_offer(OFFER, 1, &bad, None).is_err());
    let full: String = (1..=14)
        .map(|id| format!("a=extmap:{id} urn:x-test:{id}\r\n"))
        .collect();
    let crowded = OFFER.replace("a=sendonly\r\n", &format!("a=sendonly\r\n{full}"));
    assert!(
        munge_offer(&crowded, 1, &layers(), None).is_err(),
        "no free id"
    );
}

#[test]
fn the_track_rate_is_shared_in_proportion_with_a_floor() {
    let maxes = [163_000, 494_000, 1_500_000];
    assert_eq!(split_bitrate(2_157_000, &maxes), maxes.to_vec());
    assert_eq!(
        split_bitrate(9_000_000, &maxes),
        maxes.to_vec(),
        "never above"
    );
    let half = split_bitrate(1_078_500, &maxes);
    assert_eq!(half, vec![81_500, 247_000, 750_000]);
    // A tenth: the middle layer's 49.4 kbit/s share is lifted to the floor.
    let low = split_bitrate(215_700, &maxes);
    assert_eq!(low, vec![50_000, 50_000, 150_000]);
    assert_eq!(
        split_bitrate(0, &[40_000]),
        vec![40_000],
        "floor is the layer's own if lower"
    );
    assert!(split_bitrate(1, &[]).is_empty());
}

#[test]
fn track_loss_weighs_reports_by_packets() {
    assert_eq!(track_loss(&[]), None);
    let loss = track_loss(&[(0.05, 20), (0.0, 80), (0.2, 400)]).expect("some");
    assert!((loss - 0.162).abs() < 1e-9, "{loss}");
    assert_eq!(track_loss(&[(0.1, 0), (0.3, 0)]), Some(0.2));
}
