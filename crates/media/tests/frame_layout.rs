//! A 1366x768 picture (a common laptop screen; its width is not a multiple of 8, so GStreamer
//! pads its rows) through the encoders and decoders the app uses, then through
//! [`SharedFrame`]'s conversions: the page must get the picture, not a sheared copy of it.
//!
//! The picture is a horizontal luma ramp, the same in every row. A converter that ignored the
//! row padding would start each row a little further along the ramp than the one above, and the
//! value at a fixed column would drift from row to row.

use std::sync::mpsc;
use std::time::Duration;

use classroom_media::SharedFrame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

const W: u32 = 1366;
const H: u32 = 768;
/// Far right, where a shear of two bytes a row has moved furthest by the last rows.
const COLUMN: usize = 1300;

/// The ramp in GStreamer's default I420 layout: Y = x * 255 / (W - 1) in every row, grey chroma.
fn ramp() -> (gst::Buffer, gst_video::VideoInfo) {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, W, H)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .expect("info");
    let mut data = vec![128u8; info.size()];
    let stride = info.stride()[0] as usize;
    assert!(
        stride > W as usize,
        "the point of this size: rows are padded"
    );
    for y in 0..H as usize {
        for x in 0..W as usize {
            data[info.offset()[0] + y * stride + x] = (x * 255 / (W as usize - 1)) as u8;
        }
    }
    (gst::Buffer::from_mut_slice(data), info)
}

/// Frames decoded after `codec` (an encode ! pay ! depay ! decode description).
fn through(codec: &str) -> Vec<gst::Sample> {
    classroom_media::init().expect("GStreamer");
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {codec} ! appsink name=sink sync=false"
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    let (buffer, info) = ramp();
    src.set_caps(Some(&info.to_caps().expect("caps")));
    let (tx, rx) = mpsc::channel();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let _ = tx.send(sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).expect("playing");
    for i in 0..5u64 {
        let mut frame = buffer.copy();
        frame
            .get_mut()
            .expect("writable")
            .set_pts(gst::ClockTime::from_mseconds(i * 33));
        src.push_buffer(frame).expect("push");
    }
    src.end_of_stream().expect("eos");
    let mut samples = Vec::new();
    while let Ok(sample) = rx.recv_timeout(Duration::from_secs(20)) {
        samples.push(sample);
        if samples.len() == 5 {
            break;
        }
    }
    pipeline.set_state(gst::State::Null).expect("stop");
    assert!(!samples.is_empty(), "{codec}: nothing decoded");
    samples
}

/// The value at `COLUMN` in every row stays within `tolerance` of the first row's and of the
/// ramp's own value there.
fn assert_not_sheared(what: &str, value_at: impl Fn(usize) -> u8, tolerance: i32) {
    let expected = (COLUMN * 255 / (W as usize - 1)) as i32;
    let first = i32::from(value_at(0));
    assert!(
        (first - expected).abs() <= tolerance,
        "{what}: row 0 at x={COLUMN} is {first}, the ramp has {expected} there"
    );
    for y in 1..H as usize {
        let v = i32::from(value_at(y));
        assert!(
            (v - first).abs() <= tolerance,
            "{what}: row {y} at x={COLUMN} is {v} but row 0 has {first}: the picture is sheared"
        );
    }
}

fn check(codec: &str) {
    for sample in through(codec) {
        let frame = SharedFrame::from_sample(&sample).expect("an I420 frame");
        assert_eq!((frame.width(), frame.height()), (W, H));
        assert!(
            frame.plane(0).stride >= W as usize,
            "{codec}: stride {}",
            frame.plane(0).stride
        );

        // The page's I420 path: planes packed tightly.
        let mut packed = Vec::new();
        frame.write_i420(W, H, &mut packed);
        let chroma = (W as usize).div_ceil(2) * (H as usize).div_ceil(2);
        assert_eq!(packed.len(), (W * H) as usize + 2 * chroma);
        assert_not_sheared(
            &format!("{codec} I420"),
            |y| packed[y * W as usize + COLUMN],
            12,
        );

        // The RGBA path (limited-range luma stretched to full range, so a wider tolerance).
        let rgba = frame.to_rgba(W, H, 0).expect("RGBA");
        assert_eq!(rgba.len(), (W * H * 4) as usize);
        let expected = (COLUMN * 255 / (W as usize - 1)) as f64;
        // Y in 16..235 maps to 0..255: the ramp's RGB is (Y - 16) * 255 / 219.
        let rgb_expected = ((expected - 16.0) * 255.0 / 219.0).round() as i32;
        let red = |y: usize| rgba[(y * W as usize + COLUMN) * 4];
        assert!(
            (i32::from(red(0)) - rgb_expected).abs() <= 16,
            "{codec} RGBA: row 0 has {} at x={COLUMN}, expected about {rgb_expected}",
            red(0)
        );
        assert_not_sheared(&format!("{codec} RGBA"), red, 14);
    }
}

#[test]
fn a_1366_wide_picture_survives_h264_unsheared() {
    check(
        "x264enc tune=zerolatency speed-preset=ultrafast ! rtph264pay ! rtph264depay \
         ! h264parse ! avdec_h264",
    );
}

#[test]
fn a_1366_wide_picture_survives_vp8_unsheared() {
    check("vp8enc deadline=1 ! rtpvp8pay ! rtpvp8depay ! vp8dec");
}

/// What the old conversion did (rows assumed `W` bytes apart) is visibly wrong on this very
/// frame: the check above would catch it.
#[test]
fn reading_rows_as_tightly_packed_shears_this_picture() {
    let sample = through("vp8enc deadline=1 ! vp8dec").remove(0);
    let buffer = sample.buffer().expect("buffer");
    let map = buffer.map_readable().expect("map");
    let data = map.as_slice();
    let drift = |y: usize| i32::from(data[y * W as usize + COLUMN]);
    assert!(
        (drift(600) - drift(0)).abs() > 40,
        "rows read {W} bytes apart should drift: {} vs {}",
        drift(600),
        drift(0)
    );
}
