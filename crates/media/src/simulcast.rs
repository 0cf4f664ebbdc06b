//! The camera as simulcast layers, on GStreamer 1.22's webrtcbin.
//!
//! webrtcbin 1.22 cannot negotiate simulcast itself (`a=rid`/`a=simulcast` arrived in 1.24),
//! so the publisher does what a 1.22 application can:
//!
//! - **Pipeline**: the camera's encoder bin becomes `tee`, and per layer `queue (leaky) !
//!   videoscale ! caps ! encoder ! payloader (its own SSRC)`, all into one `rtpfunnel` and a
//!   `capsfilter` that gives webrtcbin the codec caps (and the top layer's SSRC) of its one
//!   sink pad. Keyframe requests reach each layer's encoder through `keyframes.rs`, which
//!   routes every PLI/FIR by its SSRC to the payloader sending it.
//! - **Offer**: webrtcbin's offer is munged ([`munge_offer`]) before it is set locally and sent:
//!   the camera m-line gets `a=rid:<rid> send` per layer, `a=simulcast:send ...`, the extmaps of
//!   the MID, RID and repaired-RID header extensions, and `a=ssrc` lines plus an
//!   `a=ssrc-group:SIM` for the layers' SSRCs. str0m answers with `a=rid:<rid> recv` and the same
//!   extmap ids.
//! - **Packets**: str0m ignores `a=ssrc` on a simulcast m-line and maps each SSRC to its
//!   mid/rid from the RTP header extensions, so a pad probe on every layer's payloader writes
//!   the MID and RID one-byte extensions ([`tag_layer`]) with the ids of the offer.
//! - **Inside webrtcbin** ([`Camera::hook_webrtcbin`]): its `rtprtxsend` is not told about
//!   RIDs; that is put right there.
//!
//! Rate: one loss controller per track drives the sum of the layers, and
//! `rates::split_bitrate` shares it out in the layers' fixed proportions (see `monitor.rs`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use classroom_protocol::SimulcastLayer;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_rtp as gst_rtp;
use gstreamer_rtp::prelude::RTPHeaderExtensionExt;
use tracing::{debug, warn};

use crate::encode::{Content, VideoCodec, VideoEncoder};

/// RFC 8843 MID header extension.
pub(crate) const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// RFC 8852 RtpStreamId (RID) header extension.
pub(crate) const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// RFC 8852 RepairedRtpStreamId header extension (retransmissions of a layer).
pub(crate) const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// The capsfilter between the funnel and webrtcbin.
pub(crate) const CAPS_NAME: &str = "simulcast-caps";

/// No layer is sent below this bitrate, whatever the proportions say: below it a layer is
/// a slide show.
const LAYER_FLOOR_BPS: u32 = 50_000;

/// One encoding of the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layer {
    /// RTP stream id.
    pub rid: String,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Bitrate asked of its encoder when the path is clean, bits/s.
    pub bitrate: u32,
    /// The SSRC its payloader sends on.
    pub ssrc: u32,
}

impl Layer {
    /// What the publisher declares to the server for this layer.
    pub fn declared(&self) -> SimulcastLayer {
        SimulcastLayer {
            rid: self.rid.clone(),
            width: self.width,
            height: self.height,
        }
    }
}

/// A rid as RFC 8851 allows it (letters, digits, `-`, `_`), short enough for a one-byte
/// header extension.
fn valid_rid(rid: &str) -> bool {
    (1..=16).contains(&rid.len())
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The layers a camera sending `(width, height)` at `bitrate` sends for what the server asked:
/// each requested box is filled at the camera's aspect ratio (even sizes), boxes larger than
/// the camera are left out (no upscaling), and equal sizes are sent once. Each layer's bitrate
/// is the camera's scaled by its share of the pixels to the power 0.8 (a quarter of the pixels
/// takes about a third of the bits), so a 1.5 Mbit/s 720p camera gives 1500, 495 and 164 kbit/s
/// for 720p, 360p and 180p. Smallest first; SSRCs are left 0. Fewer than two usable layers
/// is no simulcast: an empty plan.
pub(crate) fn plan(requested: &[SimulcastLayer], camera: (u32, u32), bitrate: u32) -> Vec<Layer> {
    let (cw, ch) = camera;
    if cw == 0 || ch == 0 {
        return Vec::new();
    }
    let mut layers: Vec<Layer> = Vec::new();
    for r in requested {
        if !valid_rid(&r.rid) || layers.iter().any(|l| l.rid == r.rid) {
            warn!(rid = %r.rid, "simulcast layer with an unusable rid left out");
            continue;
        }
        let scale = (f64::from(r.width) / f64::from(cw)).min(f64::from(r.height) / f64::from(ch));
        if scale.is_nan() || scale <= 0.0 || scale > 1.0 {
            continue;
        }
        let even = |v: f64| ((v.round() as u32) / 2 * 2).max(2);
        let (width, height) = (even(f64::from(cw) * scale), even(f64::from(ch) * scale));
        if layers
            .iter()
            .any(|l| (l.width, l.height) == (width, height))
        {
            continue;
        }
        let share = (f64::from(width) * f64::from(height)) / (f64::from(cw) * f64::from(ch));
        let bitrate = ((f64::from(bitrate) * share.powf(0.8)) as u32).max(LAYER_FLOOR_BPS);
        layers.push(Layer {
            rid: r.rid.clone(),
            width,
            height,
            bitrate,
            ssrc: 0,
        });
    }
    layers.sort_by_key(|l| l.width * l.height);
    if layers.len() < 2 {
        return Vec::new();
    }
    layers
}

/// Gives each layer a distinct random SSRC.
pub(crate) fn assign_ssrcs(layers: &mut [Layer]) {
    let mut used: Vec<u32> = Vec::new();
    for layer in layers {
        let mut ssrc = 0;
        while ssrc == 0 || used.contains(&ssrc) {
            ssrc = gst::glib::random_int();
        }
        used.push(ssrc);
        layer.ssrc = ssrc;
    }
}

/// The name suffix of a layer's encoder and payloader: the top layer keeps the plain `enc`
/// and `pay`, so code that looks at "the" encoder of a track sees the largest picture.
pub(crate) fn suffix(layers: &[Layer], index: usize) -> String {
    if index + 1 == layers.len() {
        String::new()
    } else {
        format!("_{}", layers[index].rid)
    }
}

/// The RTP caps webrtcbin is given for the camera's m-line: the codec, and the top layer's
/// SSRC (webrtcbin only announces `a=ssrc` for an SSRC in its caps). H.264 is declared
/// constrained baseline level 3.1 (`42e01f`, str0m's payload type 108); every layer is
/// constrained baseline, and levels need not match with `level-asymmetry-allowed`.
fn rtp_caps(encoder: VideoEncoder, pt: u32, ssrc: u32) -> String {
    match encoder.codec() {
        VideoCodec::H264 => format!(
            "application/x-rtp,media=(string)video,clock-rate=(int)90000,encoding-name=(string)H264,\
             packetization-mode=(string)1,profile-level-id=(string)42e01f,payload=(int){pt},ssrc=(uint){ssrc}"
        ),
        VideoCodec::Vp8 => format!(
            "application/x-rtp,media=(string)video,clock-rate=(int)90000,encoding-name=(string)VP8,\
             payload=(int){pt},ssrc=(uint){ssrc}"
        ),
    }
}

/// gst-launch description of the simulcast camera's encoder bin: one leaky input queue
/// (`encq`, where the capture stamp is drawn), a tee, a scaled encoder branch per layer
/// (each queue leaky, so a slow layer drops its own frames and not the others'), the funnel
/// and the caps webrtcbin sees. `drop_rtp` rehearses loss as in the single-layer branch.
pub(crate) fn branch_description(
    layers: &[Layer],
    encoder: VideoEncoder,
    camera: (u32, u32, u32),
    pt: u32,
    drop_rtp: f32,
) -> String {
    let (cw, ch, fps) = camera;
    let top_ssrc = layers.last().map(|l| l.ssrc).unwrap_or(0);
    let lossy = if drop_rtp > 0.0 {
        format!(" ! identity drop-probability={drop_rtp}")
    } else {
        String::new()
    };
    let mut desc = format!(
        "queue name=encq max-size-buffers=1 max-size-bytes=0 max-size-time=0 leaky=downstream \
         ! tee name=layers \
         rtpfunnel name=funnel ! capsfilter name={CAPS_NAME} caps=\"{caps}\"{lossy}",
        caps = rtp_caps(encoder, pt, top_ssrc),
    );
    for (i, layer) in layers.iter().enumerate() {
        let scale = if (layer.width, layer.height) == (cw, ch) {
            String::new()
        } else {
            format!(
                "videoscale ! video/x-raw,width={},height={} ! ",
                layer.width, layer.height
            )
        };
        let enc = encoder.named_description(
            Content::Camera,
            (layer.width, layer.height, fps),
            layer.bitrate,
            pt,
            &suffix(layers, i),
            Some(layer.ssrc),
        );
        desc.push_str(&format!(
            " layers. ! queue name=q_{rid} max-size-buffers=1 max-size-bytes=0 max-size-time=0 \
             leaky=downstream ! {scale}{enc} ! funnel.",
            rid = layer.rid,
        ));
    }
    desc
}

/// The header extension ids and the mid a camera's packets carry; zero until the first offer
/// has been munged (packets before that are held by webrtcbin until the answer anyway).
#[derive(Debug, Default)]
pub(crate) struct HeaderIds {
    mid_id: AtomicU8,
    rid_id: AtomicU8,
    mid: Mutex<Option<Arc<str>>>,
}

impl HeaderIds {
    fn set(&self, mid: &str, ids: ExtIds) {
        *self.mid.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::from(mid));
        self.mid_id.store(ids.mid, Ordering::Release);
        self.rid_id.store(ids.rid, Ordering::Release);
    }

    fn get(&self) -> Option<(u8, u8, Arc<str>)> {
        let (mid_id, rid_id) = (
            self.mid_id.load(Ordering::Acquire),
            self.rid_id.load(Ordering::Acquire),
        );
        if mid_id == 0 || rid_id == 0 {
            return None;
        }
        let mid = self.mid.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some((mid_id, rid_id, mid))
    }
}

/// Writes the MID and RID one-byte header extensions into one RTP packet.
fn tag_packet(buffer: &mut gst::BufferRef, mid_id: u8, rid_id: u8, mid: &str, rid: &str) {
    // The offer only takes ids and values that fit; checked again because the RTPBuffer
    // call asserts on anything else, and this runs in a streaming thread.
    let fits = |id: u8, value: &str| (1..=14).contains(&id) && (1..=16).contains(&value.len());
    if !fits(mid_id, mid) || !fits(rid_id, rid) {
        return;
    }
    let Ok(mut rtp) = gst_rtp::RTPBuffer::from_buffer_writable(buffer) else {
        return;
    };
    if rtp
        .add_extension_onebyte_header(mid_id, mid.as_bytes())
        .is_err()
        || rtp
            .add_extension_onebyte_header(rid_id, rid.as_bytes())
            .is_err()
    {
        warn!(rid, "could not write the simulcast header extensions");
    }
}

/// Tags every RTP packet leaving `pad` (a layer's payloader) with the camera's mid and the
/// layer's rid, once an offer has fixed their extension ids.
pub(crate) fn tag_layer(pad: &gst::Pad, rid: &str, ids: Arc<HeaderIds>) {
    let rid: Arc<str> = Arc::from(rid);
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            let Some((mid_id, rid_id, mid)) = ids.get() else {
                return gst::PadProbeReturn::Ok;
            };
            match &mut info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    tag_packet(buffer.make_mut(), mid_id, rid_id, &mid, &rid);
                }
                Some(gst::PadProbeData::BufferList(list)) => {
                    list.make_mut().foreach_mut(|mut buffer, _| {
                        tag_packet(buffer.make_mut(), mid_id, rid_id, &mid, &rid);
                        std::ops::ControlFlow::Continue(Some(buffer))
                    });
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// The camera's simulcast set-up, shared by the offer (munging), the packets (tagging) and
/// the monitor (rates).
#[derive(Debug)]
pub(crate) struct Camera {
    /// Smallest first.
    pub layers: Vec<Layer>,
    /// What the tagging probes write.
    pub header: Arc<HeaderIds>,
    /// Ids of the last offer, kept for the next one.
    last: Mutex<Option<ExtIds>>,
    /// webrtcbin's retransmission sender(s), told to rewrite RID into repaired-RID.
    rtx: Mutex<Vec<gst::glib::WeakRef<gst::Element>>>,
}

impl Camera {
    /// A camera sending `layers` (SSRCs assigned).
    pub fn new(layers: Vec<Layer>) -> Self {
        Camera {
            layers,
            header: Arc::new(HeaderIds::default()),
            last: Mutex::new(None),
            rtx: Mutex::new(Vec::new()),
        }
    }

    /// webrtcbin 1.22 gets retransmissions wrong for SSRCs it was not told about (its caps
    /// name one SSRC, the top layer's): `rtprtxsend` copies header extensions as they are, so
    /// an RTX packet carried the layer's RID and str0m took the RTX SSRC for the layer's new
    /// SSRC. webrtcbin 1.22 does not give it the RID extensions from the answer (1.24 does);
    /// [`Camera::configure_rtx`] does, and it then writes repaired-RID instead.
    ///
    /// (Keyframe requests for the lower layers, which webrtcbin's own funnel drops, reach
    /// their encoders through `keyframes.rs`, which routes every PLI/FIR by SSRC.)
    pub fn hook_webrtcbin(self: &Arc<Self>, webrtc: &gst::Element) {
        let Some(webrtc) = webrtc.downcast_ref::<gst::Bin>() else {
            return;
        };
        let camera = Arc::downgrade(self);
        let hook = move |element: &gst::Element| {
            let is_rtx = element.factory().is_some_and(|f| f.name() == "rtprtxsend");
            if is_rtx && let Some(camera) = camera.upgrade() {
                camera
                    .rtx
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(element.downgrade());
                camera.configure_rtx();
            }
        };
        let mut existing = webrtc.iterate_recurse();
        while let Ok(Some(element)) = existing.next() {
            hook(&element);
        }
        webrtc.connect_deep_element_added(move |_, _, element| hook(element));
    }

    /// Gives webrtcbin's retransmission senders the RID and repaired-RID extensions with the
    /// offer's ids, once both exist.
    fn configure_rtx(&self) {
        let Some(ids) = *self.last.lock().unwrap_or_else(|p| p.into_inner()) else {
            return;
        };
        for rtx in self
            .rtx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|w| w.upgrade())
        {
            for (uri, id) in [(RID_URI, ids.rid), (REPAIRED_RID_URI, ids.repaired_rid)] {
                match gst_rtp::RTPHeaderExtension::create_from_uri(uri) {
                    Some(ext) => {
                        ext.set_id(u32::from(id));
                        rtx.emit_by_name::<()>("add-extension", &[&ext]);
                        debug!(rtx = %rtx.name(), uri, id, "retransmissions rewrite the RID");
                    }
                    None => warn!(uri, "no RTP header extension element for {uri}"),
                }
            }
        }
    }

    /// Tags the packets of every layer's payloader in `bin`.
    pub fn tag(&self, bin: &gst::Bin) -> Result<(), crate::MediaError> {
        for (i, layer) in self.layers.iter().enumerate() {
            let name = format!("pay{}", suffix(&self.layers, i));
            let pad = bin
                .by_name(&name)
                .and_then(|p| p.static_pad("src"))
                .ok_or_else(|| crate::MediaError::Pipeline(format!("no payloader {name}")))?;
            tag_layer(&pad, &layer.rid, self.header.clone());
        }
        Ok(())
    }

    /// Munges webrtcbin's offer for the camera on m-line `mline` and points the packet tags
    /// at its mid and extension ids.
    pub fn munge(&self, sdp: &str, mline: usize) -> Result<String, String> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let munged = munge_offer(sdp, mline, &self.layers, *last)?;
        if last.is_some_and(|l| l != munged.ids) {
            warn!(
                before = ?*last,
                now = ?munged.ids,
                "simulcast header extension ids changed between offers"
            );
        }
        *last = Some(munged.ids);
        drop(last);
        self.header.set(&munged.mid, munged.ids);
        self.configure_rtx();
        Ok(munged.sdp)
    }

    /// Every layer's payloader and, in the caps webrtcbin sees, the payload type the answer
    /// gave the codec.
    pub fn adopt_payload_type(&self, bin: &gst::Bin, pt: u32) {
        for i in 0..self.layers.len() {
            if let Some(pay) = bin.by_name(&format!("pay{}", suffix(&self.layers, i))) {
                pay.set_property("pt", pt);
            }
        }
        if let Some(filter) = bin.by_name(CAPS_NAME) {
            let caps = filter.property::<gst::Caps>("caps");
            let mut caps = caps.copy();
            if let Some(s) = caps.make_mut().structure_mut(0) {
                s.set("payload", i32::try_from(pt).unwrap_or(96));
            }
            filter.set_property("caps", caps);
        }
    }

    /// The encoder element of each layer in `bin`, smallest layer first.
    pub fn encoders(&self, bin: &gst::Bin) -> Vec<Option<gst::Element>> {
        (0..self.layers.len())
            .map(|i| bin.by_name(&format!("enc{}", suffix(&self.layers, i))))
            .collect()
    }
}

mod offer;
mod rates;

pub(crate) use offer::{ExtIds, munge_offer};
pub(crate) use rates::LayerMonitor;

#[cfg(test)]
mod tests;
