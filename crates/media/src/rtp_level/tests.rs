//! Levels measured and written: the arithmetic, and a real Opus branch whose RTP packets
//! are read back byte by byte.

use std::time::{Duration, Instant};

use gstreamer_app as gst_app;

use super::*;

fn s16le(samples: impl IntoIterator<Item = i16>) -> Vec<u8> {
    samples.into_iter().flat_map(i16::to_le_bytes).collect()
}

#[test]
fn dbov_maps_to_the_rfc_6464_range() {
    assert_eq!(level_from_dbov(0.0), 0);
    assert_eq!(level_from_dbov(3.0), 0);
    assert_eq!(level_from_dbov(-17.4), 17);
    assert_eq!(level_from_dbov(-17.6), 18);
    assert_eq!(level_from_dbov(-127.0), SILENT);
    assert_eq!(level_from_dbov(-400.0), SILENT);
    assert_eq!(level_from_dbov(f64::NEG_INFINITY), SILENT);
    assert_eq!(level_from_dbov(f64::NAN), SILENT);
    assert!(is_voice(17) && is_voice(VOICE_LEVEL));
    assert!(!is_voice(VOICE_LEVEL + 1) && !is_voice(SILENT));
}

#[test]
fn the_meter_reads_the_audio_since_the_last_packet() {
    let mut m = Meter::default();
    // Nothing measured yet: silence.
    assert_eq!(m.take(), SILENT);
    // A full-scale square wave is 0 dBov.
    m.add_s16le(&s16le([i16::MAX, i16::MIN, i16::MAX, i16::MIN]));
    assert_eq!(m.take(), 0);
    // A 0.2 sine: RMS 0.2/sqrt(2), -17 dBov.
    let sine = (0..960).map(|i| {
        (0.2 * 32767.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin()) as i16
    });
    m.add_s16le(&s16le(sine));
    assert_eq!(m.take(), 17);
    // A packet with no new audio under it repeats the last level.
    assert_eq!(m.take(), 17);
    // Zeros, and a gap buffer, are silence.
    m.add_s16le(&[0; 1920]);
    assert_eq!(m.take(), SILENT);
    m.add_silence(960);
    assert_eq!(m.take(), SILENT);
    // Half a gap and half a full-scale square: 3 dB down.
    m.add_silence(2);
    m.add_s16le(&s16le([i16::MAX, i16::MIN]));
    assert_eq!(m.take(), 3);
    // A trailing odd byte (a torn buffer) is not a sample.
    m.add_s16le(&[0xff, 0x7f, 0x01]);
    assert_eq!(m.take(), 0);
}

#[test]
fn the_extmap_id_is_read_from_an_m_line() {
    gst::init().expect("gstreamer");
    let media = |attrs: &str| {
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n{attrs}"
        );
        let msg = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).expect("sdp");
        let media = msg.media(0).expect("m-line");
        extmap_id(media)
    };
    assert_eq!(media(&format!("a=extmap:1 {URI}\r\n")), Some(1));
    assert_eq!(
        media(&format!(
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:3/sendonly {URI} vad=on\r\n"
        )),
        Some(3)
    );
    assert_eq!(
        media("a=extmap:1 urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"),
        None
    );
    assert_eq!(
        media("a=extmap:x urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"),
        None
    );
    assert_eq!(media(""), None);
}

/// The one-byte header extension elements of an RTP packet, as (id, first data byte).
fn elements(packet: &[u8]) -> Vec<(u8, u8)> {
    let mut found = Vec::new();
    if packet.len() < 12 || packet[0] & 0x10 == 0 {
        return found;
    }
    let start = 12 + 4 * usize::from(packet[0] & 0x0f);
    let Some(header) = packet.get(start..start + 4) else {
        return found;
    };
    if header[..2] != [0xbe, 0xde] {
        return found;
    }
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let Some(data) = packet.get(start + 4..start + 4 + 4 * words) else {
        return found;
    };
    let mut i = 0;
    while i < data.len() {
        if data[i] == 0 {
            i += 1;
            continue;
        }
        let (id, len) = (data[i] >> 4, usize::from(data[i] & 0x0f) + 1);
        if id == 15 {
            break;
        }
        if let Some(byte) = data.get(i + 1) {
            found.push((id, *byte));
        }
        i += 1 + len;
    }
    found
}

/// The packet's only header extension element, read as an audio level: (id, level, voice).
/// `None` without extensions; a packet with more than one fails the test.
fn level_element(packet: &[u8]) -> Option<(u8, u8, bool)> {
    let found = elements(packet);
    assert!(found.len() <= 1, "more than one extension: {found:?}");
    found
        .first()
        .map(|&(id, byte)| (id, byte & 0x7f, byte & 0x80 != 0))
}

/// Pulls packets until one satisfies `want`, or panics after a few seconds.
fn wait_for_packet(sink: &gst_app::AppSink, what: &str, want: impl Fn((u8, u8, bool)) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        let buffer = sample.buffer().expect("buffer");
        let map = buffer.map_readable().expect("map");
        let element = level_element(map.as_slice());
        if element.is_some_and(&want) {
            return;
        }
        seen.push(element);
        if seen.len() > 8 {
            seen.remove(0);
        }
    }
    panic!("no packet with {what}; the last ones: {seen:?}");
}

#[test]
fn opus_packets_carry_the_level_of_what_is_sent_and_follow_the_answered_id() {
    gst::init().expect("gstreamer");
    if !available() {
        eprintln!("SKIPPED: no {EXTENSION_FACTORY} in this GStreamer");
        return;
    }
    let pipeline = gst::parse::launch(&format!(
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 ! volume name=vol \
         ! opusenc name=enc frame-size=20 ! rtpopuspay name=pay pt=111{} \
         ! appsink name=out sync=false max-buffers=50 drop=true",
        branch_tail()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    install(pipeline.upcast_ref());
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("play");

    // The 0.2 tone is -17 dBov, voice; the payloader's caps announce the extension.
    wait_for_packet(
        &sink,
        "the tone's level under id 1",
        |(id, level, voice)| id == OFFERED_ID && (16..=18).contains(&level) && voice,
    );
    let caps = pipeline
        .by_name("pay")
        .and_then(|p| p.static_pad("src"))
        .and_then(|p| p.current_caps())
        .expect("payloader caps");
    assert!(caps.to_string().contains(URI), "{caps}");

    // Muted, the packets keep flowing and say silence, without voice.
    let volume = pipeline.by_name("vol").expect("volume");
    volume.set_property("mute", true);
    wait_for_packet(&sink, "silence after mute", |(id, level, voice)| {
        id == OFFERED_ID && level == SILENT && !voice
    });
    volume.set_property("mute", false);
    wait_for_packet(&sink, "the tone again", |(_, level, voice)| {
        (16..=18).contains(&level) && voice
    });

    // An answer mapping the extension to another id moves the packets to it.
    let answer = gst_sdp::SDPMessage::parse_buffer(
        format!(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n\
             a=extmap:5 {URI}\r\n"
        )
        .as_bytes(),
    )
    .expect("sdp");
    adopt_answer(pipeline.upcast_ref(), answer.media(0).expect("m-line"));
    wait_for_packet(&sink, "the level under id 5", |(id, level, _)| {
        id == 5 && (16..=18).contains(&level)
    });
    pipeline.set_state(gst::State::Null).expect("stop");
}

#[test]
fn without_the_extension_element_the_track_is_published_without_levels() {
    gst::init().expect("gstreamer");
    // What an older GStreamer gets: no capsfilter, so nothing asks for the extension.
    assert_eq!(tail(false), "");
    let pipeline = gst::parse::launch(&format!(
        "audiotestsrc is-live=true volume=0.2 ! opusenc name=enc ! rtpopuspay name=pay pt=111{} \
         ! appsink name=out sync=false max-buffers=50 drop=true",
        tail(false)
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    install(pipeline.upcast_ref());
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("play");
    for _ in 0..5 {
        let sample = sink
            .try_pull_sample(gst::ClockTime::from_seconds(5))
            .expect("packets flow");
        let map = sample
            .buffer()
            .expect("buffer")
            .map_readable()
            .expect("map");
        assert_eq!(level_element(map.as_slice()), None);
    }
    // And an answer carrying the extension changes nothing.
    let answer = gst_sdp::SDPMessage::parse_buffer(
        format!(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 111\r\na=extmap:5 {URI}\r\n"
        )
        .as_bytes(),
    )
    .expect("sdp");
    adopt_answer(pipeline.upcast_ref(), answer.media(0).expect("m-line"));
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(5))
        .expect("packets flow");
    let map = sample
        .buffer()
        .expect("buffer")
        .map_readable()
        .expect("map");
    assert_eq!(level_element(map.as_slice()), None);
    pipeline.set_state(gst::State::Null).expect("stop");
}
