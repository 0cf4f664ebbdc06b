//! Which video encoder to use, picked by what the machine has, and how each is set up for
//! live teaching: no B-frames, no lookahead, a bounded keyframe interval, constant bitrate
//! that the congestion controller can move while playing.

use std::str::FromStr;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::MediaError;

/// The codec a publisher asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CodecChoice {
    /// H.264 when an encoder for it exists (hardware first), else VP8.
    #[default]
    Auto,
    /// H.264 only (hardware first, then x264, then OpenH264).
    H264,
    /// VP8 only.
    Vp8,
    /// Exactly this encoder (tests and benchmarks compare encoders with it).
    Only(VideoEncoder),
}

impl FromStr for CodecChoice {
    type Err = MediaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CodecChoice::Auto),
            "h264" | "h.264" => Ok(CodecChoice::H264),
            "vp8" => Ok(CodecChoice::Vp8),
            other => PREFERENCE
                .into_iter()
                .find(|e| e.factory() == other)
                .map(CodecChoice::Only)
                .ok_or_else(|| {
                    MediaError::Pipeline(format!(
                        "unknown codec {other:?}: expected auto, h264, vp8 or an encoder name (x264enc, ...)"
                    ))
                }),
        }
    }
}

/// A video codec on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264, constrained baseline, packetization-mode 1.
    H264,
    /// VP8.
    Vp8,
}

/// What a video track shows: decides between smooth motion and sharp text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A camera: motion matters, 30 fps.
    Camera,
    /// A screen: text must stay sharp, few frames per second.
    Screen,
}

/// A video encoder element this crate knows how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoEncoder {
    /// Apple VideoToolbox.
    VideoToolboxH264,
    /// Windows Media Foundation.
    MediaFoundationH264,
    /// VA-API through the `va` plugin (GStreamer >= 1.22).
    VaH264,
    /// VA-API through the older `vaapi` plugin.
    VaapiH264,
    /// NVIDIA NVENC.
    NvH264,
    /// x264 (software).
    X264,
    /// Cisco OpenH264 (software).
    OpenH264,
    /// libvpx VP8 (software).
    Vp8,
}

/// Every encoder in order of preference: hardware H.264, then software H.264, then VP8.
const PREFERENCE: [VideoEncoder; 8] = [
    VideoEncoder::VideoToolboxH264,
    VideoEncoder::MediaFoundationH264,
    VideoEncoder::VaH264,
    VideoEncoder::VaapiH264,
    VideoEncoder::NvH264,
    VideoEncoder::X264,
    VideoEncoder::OpenH264,
    VideoEncoder::Vp8,
];

/// H.264 payload type offered. str0m answers a send-only m-line with its own numbers, and 108
/// is its number for constrained baseline with packetization-mode 1, so the offer and the
/// answer agree; the publisher still adopts whatever the answer says (see `publish.rs`).
pub const H264_PT: u32 = 108;
/// VP8 payload type offered (str0m's own).
pub const VP8_PT: u32 = 96;

impl VideoEncoder {
    /// The GStreamer factory name.
    pub fn factory(self) -> &'static str {
        match self {
            VideoEncoder::VideoToolboxH264 => "vtenc_h264",
            VideoEncoder::MediaFoundationH264 => "mfh264enc",
            VideoEncoder::VaH264 => "vah264enc",
            VideoEncoder::VaapiH264 => "vaapih264enc",
            VideoEncoder::NvH264 => "nvh264enc",
            VideoEncoder::X264 => "x264enc",
            VideoEncoder::OpenH264 => "openh264enc",
            VideoEncoder::Vp8 => "vp8enc",
        }
    }

    /// The codec it produces.
    pub fn codec(self) -> VideoCodec {
        match self {
            VideoEncoder::Vp8 => VideoCodec::Vp8,
            _ => VideoCodec::H264,
        }
    }

    /// True for GPU/OS encoders.
    pub fn is_hardware(self) -> bool {
        !matches!(
            self,
            VideoEncoder::X264 | VideoEncoder::OpenH264 | VideoEncoder::Vp8
        )
    }

    /// The encoders usable for `choice`, best first, given which element factories exist.
    /// Pure, so the choice is testable on a machine without the hardware.
    pub fn candidates(choice: CodecChoice, available: &dyn Fn(&str) -> bool) -> Vec<Self> {
        let payloader_ok = |codec| match codec {
            VideoCodec::H264 => available("rtph264pay") && available("h264parse"),
            VideoCodec::Vp8 => available("rtpvp8pay"),
        };
        PREFERENCE
            .into_iter()
            .filter(|e| match choice {
                CodecChoice::Auto => true,
                CodecChoice::H264 => e.codec() == VideoCodec::H264,
                CodecChoice::Vp8 => e.codec() == VideoCodec::Vp8,
                CodecChoice::Only(only) => *e == only,
            })
            .filter(|e| available(e.factory()) && payloader_ok(e.codec()))
            .collect()
    }

    /// The candidates on this machine (`gst::ElementFactory::find`).
    pub fn detect(choice: CodecChoice) -> Vec<Self> {
        Self::candidates(choice, &|name| gst::ElementFactory::find(name).is_some())
    }

    /// gst-launch description from raw I420 video to RTP: `encoder ! caps ! payloader`.
    /// The encoder is named `enc` and the payloader `pay` so the publisher can reach them.
    pub(crate) fn description(
        self,
        content: Content,
        mode: (u32, u32, u32),
        bitrate: u32,
        pt: u32,
    ) -> String {
        self.named_description(content, mode, bitrate, pt, "", None)
    }

    /// [`VideoEncoder::description`] with the encoder named `enc{suffix}` and the payloader
    /// `pay{suffix}`, sending on `ssrc` when given: one layer of a simulcast camera.
    pub(crate) fn named_description(
        self,
        content: Content,
        (_w, _h, fps): (u32, u32, u32),
        bitrate: u32,
        pt: u32,
        suffix: &str,
        ssrc: Option<u32>,
    ) -> String {
        let enc_name = format!("enc{suffix}");
        let pay_name = format!("pay{suffix}");
        let ssrc = ssrc.map(|s| format!(" ssrc={s}")).unwrap_or_default();
        let kbps = (bitrate / 1000).max(1);
        // A keyframe at least every 2 s (camera) or 3 s (screen): a subscriber whose keyframe
        // request was lost still starts soon; requests (PLI) are served at once anyway.
        let gop = match content {
            Content::Camera => fps * 2,
            Content::Screen => fps * 3,
        }
        .max(1);
        let enc = match self {
            VideoEncoder::VideoToolboxH264 => format!(
                "vtenc_h264 name={enc_name} realtime=true allow-frame-reordering=false bitrate={kbps} max-keyframe-interval={gop}"
            ),
            VideoEncoder::MediaFoundationH264 => format!(
                "mfh264enc name={enc_name} low-latency=true bitrate={kbps} bframes=0 gop-size={gop} rc-mode=cbr"
            ),
            VideoEncoder::VaH264 => format!(
                "vah264enc name={enc_name} bitrate={kbps} key-int-max={gop} b-frames=0 rate-control=cbr"
            ),
            VideoEncoder::VaapiH264 => format!(
                "vaapih264enc name={enc_name} bitrate={kbps} keyframe-period={gop} max-bframes=0 rate-control=cbr"
            ),
            VideoEncoder::NvH264 => format!(
                "nvh264enc name={enc_name} preset=low-latency-hq zerolatency=true bframes=0 bitrate={kbps} gop-size={gop} rc-mode=cbr"
            ),
            VideoEncoder::X264 => {
                // zerolatency: no B-frames, no lookahead, sliced threads, so a frame leaves
                // the encoder as soon as it is coded. A 3-frame VBV keeps frames near the
                // average size, so none takes long to send behind a burst.
                let (preset, extra) = match content {
                    Content::Camera => ("ultrafast", String::new()),
                    // Text: veryfast keeps the subpixel search and adaptive quantisation
                    // that ultrafast drops (sharper glyphs); psy tuning off because it trades
                    // edges for texture. No QP ceiling: x264's rate control then overshoots
                    // (2.6x on a static 1080p slide, measured); on a still screen CBR drives
                    // QP down by itself, so text sharpens within a few frames.
                    Content::Screen => ("veryfast", " psy-tune=none".to_owned()),
                };
                let vbv = (1000 / fps.max(1)).max(33) * 3;
                format!(
                    "x264enc name={enc_name} tune=zerolatency speed-preset={preset} bframes=0 key-int-max={gop} \
                     bitrate={kbps} vbv-buf-capacity={vbv} threads=2 sliced-threads=true{extra}"
                )
            }
            VideoEncoder::OpenH264 => {
                let usage = match content {
                    Content::Camera => "camera",
                    Content::Screen => "screen",
                };
                // qp-min=24: on a still picture OpenH264 drives QP so low that it sends 2.9x
                // its target (7.2 instead of 2.5 Mbit/s on a 1080p slide, measured); QP 24
                // still renders text cleanly and holds the rate without skipping frames.
                format!(
                    "openh264enc name={enc_name} usage-type={usage} rate-control=bitrate bitrate={bitrate} \
                     gop-size={gop} complexity=low enable-frame-skip=false qp-min=24 multi-thread=2"
                )
            }
            VideoEncoder::Vp8 => {
                // deadline=1 is libvpx's realtime mode; error-resilient keeps a decoder going
                // over a lost packet. Screens: a lower max-quantizer keeps text sharp; cpu-used
                // stays at 8 (at 4 a 1080p frame took ~75 ms here, over a core at 15 fps).
                let (cpu, maxq) = match content {
                    Content::Camera => (8, 56),
                    Content::Screen => (8, 40),
                };
                format!(
                    "vp8enc name={enc_name} deadline=1 cpu-used={cpu} end-usage=cbr target-bitrate={bitrate} \
                     keyframe-max-dist={gop} lag-in-frames=0 threads=2 buffer-size=500 \
                     error-resilient=default max-quantizer={maxq}"
                )
            }
        };
        match self.codec() {
            VideoCodec::H264 => format!(
                // constrained-baseline: the profile every WebRTC peer decodes, and the one str0m
                // matches (42e0xx); config-interval=-1 repeats SPS/PPS with every keyframe so a
                // late joiner can start at any IDR.
                "{enc} ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream \
                 ! h264parse ! rtph264pay name={pay_name} pt={pt} mtu=1200 config-interval=-1 aggregate-mode=zero-latency{ssrc}"
            ),
            VideoCodec::Vp8 => {
                format!(
                    "{enc} ! rtpvp8pay name={pay_name} pt={pt} mtu=1200 picture-id-mode=15-bit{ssrc}"
                )
            }
        }
    }

    /// The payload type to offer for this encoder.
    pub fn payload_type(self) -> u32 {
        match self.codec() {
            VideoCodec::H264 => H264_PT,
            VideoCodec::Vp8 => VP8_PT,
        }
    }

    /// Sets a live encoder's bitrate (bits/s), in whatever unit its property takes.
    pub fn set_bitrate(self, encoder: &gst::Element, bitrate: u32) {
        match self {
            VideoEncoder::OpenH264 => encoder.set_property("bitrate", bitrate),
            VideoEncoder::Vp8 => {
                encoder.set_property("target-bitrate", i32::try_from(bitrate).unwrap_or(i32::MAX))
            }
            // Every hardware encoder and x264 take kbit/s in a `bitrate` property.
            _ => encoder.set_property("bitrate", (bitrate / 1000).max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have(names: &[&'static str]) -> impl Fn(&str) -> bool {
        let names: Vec<&'static str> = names.to_vec();
        move |n: &str| names.contains(&n)
    }

    const SW: [&str; 6] = [
        "x264enc",
        "openh264enc",
        "vp8enc",
        "rtph264pay",
        "h264parse",
        "rtpvp8pay",
    ];

    #[test]
    fn software_machine_prefers_x264_then_openh264_then_vp8() {
        let c = VideoEncoder::candidates(CodecChoice::Auto, &have(&SW));
        assert_eq!(
            c,
            vec![
                VideoEncoder::X264,
                VideoEncoder::OpenH264,
                VideoEncoder::Vp8
            ]
        );
    }

    #[test]
    fn hardware_encoder_comes_first_when_present() {
        let mut names = SW.to_vec();
        names.push("nvh264enc");
        let c = VideoEncoder::candidates(CodecChoice::Auto, &have(&names));
        assert_eq!(c.first(), Some(&VideoEncoder::NvH264));
        assert!(c[0].is_hardware());
        names.push("vah264enc");
        let c = VideoEncoder::candidates(CodecChoice::H264, &have(&names));
        assert_eq!(
            &c[..2],
            &[VideoEncoder::VaH264, VideoEncoder::NvH264],
            "va before nvenc"
        );
        assert!(!c.contains(&VideoEncoder::Vp8));
        let mac = have(&[
            "vtenc_h264",
            "rtph264pay",
            "h264parse",
            "vp8enc",
            "rtpvp8pay",
        ]);
        assert_eq!(
            VideoEncoder::candidates(CodecChoice::Auto, &mac),
            vec![VideoEncoder::VideoToolboxH264, VideoEncoder::Vp8]
        );
    }

    #[test]
    fn vp8_choice_and_missing_pieces() {
        assert_eq!(
            VideoEncoder::candidates(CodecChoice::Vp8, &have(&SW)),
            vec![VideoEncoder::Vp8]
        );
        // An H.264 encoder without its payloader is useless: fall back to VP8.
        let no_pay = have(&["x264enc", "h264parse", "vp8enc", "rtpvp8pay"]);
        assert_eq!(
            VideoEncoder::candidates(CodecChoice::Auto, &no_pay),
            vec![VideoEncoder::Vp8]
        );
        assert!(VideoEncoder::candidates(CodecChoice::H264, &no_pay).is_empty());
        assert!(VideoEncoder::candidates(CodecChoice::Auto, &have(&[])).is_empty());
    }

    #[test]
    fn codec_choice_parses() {
        assert_eq!("auto".parse::<CodecChoice>().ok(), Some(CodecChoice::Auto));
        assert_eq!("H264".parse::<CodecChoice>().ok(), Some(CodecChoice::H264));
        assert_eq!("vp8".parse::<CodecChoice>().ok(), Some(CodecChoice::Vp8));
        assert!("av1".parse::<CodecChoice>().is_err());
        assert_eq!(
            "openh264enc".parse::<CodecChoice>().ok(),
            Some(CodecChoice::Only(VideoEncoder::OpenH264))
        );
        assert_eq!(
            VideoEncoder::candidates(CodecChoice::Only(VideoEncoder::OpenH264), &have(&SW)),
            vec![VideoEncoder::OpenH264]
        );
        assert!(
            VideoEncoder::candidates(CodecChoice::Only(VideoEncoder::NvH264), &have(&SW))
                .is_empty()
        );
    }

    /// Each software encoder, as the publisher configures it for cameras and screens, carries
    /// the capture stamp through encode, RTP and decode.
    #[test]
    fn stamps_survive_every_software_encoder() {
        use gstreamer_app as gst_app;
        gst::init().expect("gstreamer");
        let cases = [
            (VideoEncoder::X264, Content::Camera, (640, 360, 30)),
            (VideoEncoder::X264, Content::Screen, (1280, 720, 15)),
            (VideoEncoder::OpenH264, Content::Camera, (640, 360, 30)),
            (VideoEncoder::OpenH264, Content::Screen, (1280, 720, 15)),
            (VideoEncoder::Vp8, Content::Camera, (640, 360, 30)),
            (VideoEncoder::Vp8, Content::Screen, (1280, 720, 15)),
        ];
        for (encoder, content, (w, h, fps)) in cases {
            if gst::ElementFactory::find(encoder.factory()).is_none() {
                continue;
            }
            let decode = match encoder.codec() {
                VideoCodec::H264 => "rtph264depay ! h264parse ! avdec_h264",
                VideoCodec::Vp8 => "rtpvp8depay ! vp8dec",
            };
            let desc = format!(
                "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 \
                 ! queue name=encq ! {} ! {decode} ! video/x-raw,format=I420 ! appsink name=out sync=false",
                encoder.description(content, (w, h, fps), 1_000_000, encoder.payload_type())
            );
            let pipeline = gst::parse::launch(&desc)
                .expect("pipeline")
                .downcast::<gst::Pipeline>()
                .expect("a pipeline");
            let pad = pipeline
                .by_name("encq")
                .and_then(|q| q.static_pad("sink"))
                .expect("encq");
            crate::stamp::stamp_pad(&pad);
            let sink = pipeline
                .by_name("out")
                .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
                .expect("appsink");
            pipeline.set_state(gst::State::Playing).expect("play");
            let mut stamps = Vec::new();
            let mut unreadable = 0;
            while let Ok(sample) = sink.pull_sample() {
                let buffer = sample.buffer().expect("buffer");
                let map = buffer.map_readable().expect("map");
                let stride = crate::stamp::i420_stride(w as usize);
                match crate::stamp::read(map.as_slice(), stride, w as usize, h as usize) {
                    Some(s) => stamps.push(s),
                    None => unreadable += 1,
                }
            }
            pipeline.set_state(gst::State::Null).expect("stop");
            let now = crate::stamp::now_ms();
            assert!(
                stamps.len() >= 25 && unreadable == 0,
                "{encoder:?} {content:?}: {} stamps, {unreadable} unreadable",
                stamps.len()
            );
            assert!(
                stamps.windows(2).all(|p| p[1] >= p[0]),
                "{encoder:?}: {stamps:?}"
            );
            for s in &stamps {
                let age = crate::stamp::elapsed_ms(*s, now);
                assert!(
                    (0..60_000).contains(&age),
                    "{encoder:?}: stamp {s} is {age} ms old"
                );
            }
        }
    }

    #[test]
    fn descriptions_name_encoder_and_payloader() {
        for e in PREFERENCE {
            let d = e.description(
                Content::Camera,
                (1280, 720, 30),
                1_500_000,
                e.payload_type(),
            );
            assert!(d.contains(e.factory()), "{d}");
            assert!(d.contains("name=enc") && d.contains("name=pay"), "{d}");
        }
        let x = VideoEncoder::X264.description(Content::Camera, (1280, 720, 30), 1_500_000, 108);
        assert!(
            x.contains("bitrate=1500 ") && x.contains("tune=zerolatency"),
            "{x}"
        );
        assert!(
            x.contains("bframes=0") && x.contains("key-int-max=60"),
            "{x}"
        );
        let o =
            VideoEncoder::OpenH264.description(Content::Screen, (1920, 1080, 15), 2_000_000, 108);
        assert!(
            o.contains("usage-type=screen") && o.contains("bitrate=2000000"),
            "{o}"
        );
    }
}
