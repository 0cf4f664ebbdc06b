//! Operations over HTTP: Prometheus/OpenMetrics `/metrics` and a `/healthz` probe, on their
//! own listener so they can stay on an internal network while signaling faces the students.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::debug;

use crate::metrics::Metrics;

/// Reads [`Metrics`] at each scrape.
#[derive(Debug)]
struct SfuCollector(Arc<Metrics>);

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

/// One counter family with one label, a sample per value.
fn labelled<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl Iterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = enc.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (value, v) in values {
        let c = ConstCounter::new(v);
        c.encode(family.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

impl Collector for SfuCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0.snapshot();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        gauge(
            &mut enc,
            "classroom_rooms",
            "Rooms with at least one participant.",
            n(m.rooms),
        )?;
        gauge(
            &mut enc,
            "classroom_participants",
            "Connected signaling clients.",
            n(m.participants),
        )?;
        gauge(
            &mut enc,
            "classroom_tracks",
            "Tracks being published.",
            n(m.tracks),
        )?;
        counter(
            &mut enc,
            "classroom_udp_packets_in",
            "UDP datagrams received.",
            m.udp_packets_in,
        )?;
        counter(
            &mut enc,
            "classroom_udp_bytes_in",
            "UDP bytes received.",
            m.udp_bytes_in,
        )?;
        counter(
            &mut enc,
            "classroom_udp_packets_out",
            "UDP datagrams sent.",
            m.udp_packets_out,
        )?;
        counter(
            &mut enc,
            "classroom_udp_bytes_out",
            "UDP bytes sent.",
            m.udp_bytes_out,
        )?;
        counter(
            &mut enc,
            "classroom_udp_dropped",
            "Datagrams dropped: malformed, unknown peer, or refused.",
            m.udp_dropped,
        )?;
        counter(
            &mut enc,
            "classroom_udp_receives",
            "Receive calls on the media sockets (each takes up to 16 datagrams).",
            m.udp_receives,
        )?;
        counter(
            &mut enc,
            "classroom_udp_gso_datagrams",
            "Datagrams sent inside UDP GSO messages (several to one peer per message).",
            m.udp_gso_datagrams,
        )?;
        counter(
            &mut enc,
            "classroom_udp_send_messages",
            "Messages handed to the kernel, a GSO message or a single datagram each; packets out over this is datagrams per message.",
            m.udp_send_messages,
        )?;
        counter(
            &mut enc,
            "classroom_early_datagrams_taken",
            "DTLS datagrams kept because they came before their connection accepted them, then taken.",
            m.early_datagrams_taken,
        )?;
        counter(
            &mut enc,
            "classroom_codec_mismatches",
            "Packets not sent to a subscriber that did not accept their codec.",
            m.codec_mismatches,
        )?;
        counter(
            &mut enc,
            "classroom_fanout_spread",
            "Peer connections polled on the fan-out threads (--threads above 1).",
            m.fanout_spread,
        )?;
        counter(
            &mut enc,
            "classroom_rtx_resent",
            "Video packets resent to subscribers that asked again for them (NACK), as RTX.",
            m.rtx_resent,
        )?;
        counter(
            &mut enc,
            "classroom_rtx_unanswered",
            "Packets subscribers asked again for that were not resent: never sent to them, no longer kept, too old for their round trip, over their resend cap, or no RTX negotiated.",
            m.rtx_unanswered,
        )?;
        counter(
            &mut enc,
            "classroom_dtls_released",
            "Peer connections whose DTLS state was dropped once the handshake settled (process-wide).",
            m.dtls_released,
        )?;
        counter(
            &mut enc,
            "classroom_dtls_ignored_after_release",
            "DTLS datagrams ignored because their connection's DTLS state was dropped (process-wide).",
            m.dtls_ignored_after_release,
        )?;
        counter(
            &mut enc,
            "classroom_media_forwarded",
            "RTP packets written to subscribers.",
            m.media_forwarded,
        )?;
        counter(
            &mut enc,
            "classroom_media_forwarded_queued",
            "Of the RTP packets written to subscribers, those sent through the connection's send queue rather than at once.",
            m.media_forwarded_queued,
        )?;
        counter(
            &mut enc,
            "classroom_nacks_received",
            "NACKs from subscribers, answered from the retransmission cache.",
            m.nacks_received,
        )?;
        counter(
            &mut enc,
            "classroom_packets_lost_in",
            "Packets from publishers that did not arrive (receive-side gaps).",
            m.packets_lost_in,
        )?;
        counter(
            &mut enc,
            "classroom_packets_lost_out",
            "Packets subscribers reported lost in their receiver reports.",
            m.packets_lost_out,
        )?;
        counter(
            &mut enc,
            "classroom_active_speaker_changes",
            "Times a room's active speaker changed.",
            m.active_speaker_changes,
        )?;
        counter(
            &mut enc,
            "classroom_keyframe_requests",
            "Keyframe requests sent to publishers.",
            m.keyframe_requests,
        )?;
        counter(
            &mut enc,
            "classroom_signaling_errors",
            "Signaling messages refused.",
            m.signaling_errors,
        )?;
        counter(
            &mut enc,
            "classroom_connections_refused",
            "Connections closed for protocol abuse.",
            m.connections_refused,
        )?;
        labelled(
            &mut enc,
            "classroom_limit_refusals",
            "Requests, connections and media refused by a limit, per limit.",
            "limit",
            crate::metrics::Limit::ALL
                .iter()
                .zip([
                    m.refusals.participants_per_room,
                    m.refusals.tracks,
                    m.refusals.simulcast_layers,
                    m.refusals.remote_candidates,
                    m.refusals.http_sessions_per_identity,
                    m.refusals.http_sessions_per_room,
                    m.refusals.connections_per_source,
                    m.refusals.connections,
                    m.refusals.message_rate,
                ])
                .map(|(l, v)| (l.name(), v)),
        )?;
        labelled(
            &mut enc,
            "classroom_timeouts",
            "Connections and sessions ended by a deadline, per deadline.",
            "timeout",
            crate::metrics::Timeout::ALL
                .iter()
                .zip([
                    m.timeouts.header,
                    m.timeouts.body,
                    m.timeouts.join,
                    m.timeouts.idle,
                    m.timeouts.transport_connect,
                    m.timeouts.ice_lost,
                ])
                .map(|(t, v)| (t.name(), v)),
        )?;
        gauge(
            &mut enc,
            "classroom_connections_open",
            "TCP connections open on the signaling port.",
            n(m.connections_open),
        )?;
        counter(
            &mut enc,
            "classroom_accept_errors",
            "Failed accepts on the signaling port (each followed by a pause).",
            m.accept_errors,
        )?;
        counter(
            &mut enc,
            "classroom_signaling_queue_overflows",
            "Websockets closed because the client did not read its messages.",
            m.signaling_queue_overflows,
        )?;
        counter(
            &mut enc,
            "classroom_lesson_requests",
            "Lesson service requests answered.",
            m.lesson_requests,
        )?;
        counter(
            &mut enc,
            "classroom_lesson_errors",
            "Lesson service requests refused or failed.",
            m.lesson_errors,
        )?;
        counter(
            &mut enc,
            "classroom_lesson_bytes_out",
            "Bytes of lesson files sent.",
            m.lesson_bytes_out,
        )?;
        if let Some(ticks) = process_cpu_ticks() {
            // Linux reports in USER_HZ, which is 100 on every architecture it supports.
            let c = ConstCounter::new(ticks as f64 / 100.0);
            c.encode(enc.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the server process.",
                None,
                c.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// utime + stime of this process from /proc (Linux); `None` elsewhere.
fn process_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The registry served at `/metrics`.
pub(crate) fn registry(metrics: Arc<Metrics>) -> Arc<Registry> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SfuCollector(metrics)));
    Arc::new(registry)
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

async fn handle(
    req: Request<Incoming>,
    registry: Arc<Registry>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let mut text = String::new();
            match prometheus_client::encoding::text::encode(&mut text, &registry) {
                Ok(()) => respond(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text,
                ),
                Err(_) => respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "encoding failed\n".into(),
                ),
            }
        }
        (&Method::GET, "/healthz") => respond(StatusCode::OK, "text/plain", "ok\n".into()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    })
}

/// Serves until `shutdown` flips.
pub(crate) async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    mut shutdown: crate::driver::Stop,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let registry = registry.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, registry.clone()));
                    if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                        debug!("metrics connection: {e}");
                    }
                });
            }
        }
    }
}
