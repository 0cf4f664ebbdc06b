//! A real browser for interop tests: Debian's Chromium, headless, driven over WebDriver by
//! chromedriver (both from `cargo xtask deps`). The page is the server's own origin
//! (`http://127.0.0.1:<port>/healthz`), which is a secure context (so `getUserMedia` and
//! `RTCPeerConnection` work) and makes WHIP and WHEP same-origin requests, as a web page
//! served by the class's server would.
//!
//! Chromium's fake devices stand in for a camera (a moving pattern) and a microphone (a
//! beep); `--allow-loopback-in-peer-connection` lets it gather 127.0.0.1, where the test
//! server listens.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Where Debian puts them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session. Dropping it ends chromedriver (and with it the browser).
pub struct Browser {
    client: Option<Client>,
    driver: Child,
}

/// Helpers every script may call: waiting for ICE gathering and for the connection.
const PRELUDE: &str = r#"
const gathered = (pc) => new Promise((resolve) => {
  if (pc.iceGatheringState === 'complete') return resolve();
  pc.addEventListener('icegatheringstatechange', () => {
    if (pc.iceGatheringState === 'complete') resolve();
  });
  setTimeout(resolve, 3000);
});
const connected = (pc) => new Promise((resolve, reject) => {
  const check = () => {
    if (pc.connectionState === 'connected') resolve();
    if (pc.connectionState === 'failed') reject(new Error('connection failed'));
  };
  pc.addEventListener('connectionstatechange', check);
  check();
  setTimeout(() => reject(new Error('not connected within 10 s: ' + pc.connectionState)), 10000);
});
const exchange = async (url, token, pc) => {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token },
    body: pc.localDescription.sdp,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(url + ' answered ' + res.status + ': ' + text);
  await pc.setRemoteDescription({ type: 'answer', sdp: text });
  await connected(pc);
  return { offer: pc.localDescription.sdp, answer: text };
};
"#;

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn launch() -> Result<Browser> {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(tool).exists() {
                bail!("{tool} is missing: `cargo xtask deps` installs Chromium and its driver");
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // Its own process group, which Chromium's processes join: dropping the browser ends
        // them all, even when a test fails half-way (killing chromedriver alone leaves
        // Chromium running).
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let mut browser = Browser {
            client: None,
            driver,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = browser.driver.try_wait()? {
                bail!("chromedriver exited with {status}");
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not listen on {port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // Root in a container has no user namespaces for the sandbox.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    "--allow-loopback-in-peer-connection",
                    // The viewer plays the audio it receives, so Chromium decodes it.
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-features=WebRtcHideLocalIpsWithMdns",
                ],
            }),
        );
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .map_err(|_| anyhow!("no Chromium session within 60 s"))?
        .map_err(|e| anyhow!("Chromium session: {e}"))?;
        browser.client = Some(client);
        Ok(browser)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session until close")
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) -> Result<()> {
        self.client()
            .goto(url)
            .await
            .map_err(|e| anyhow!("open {url}: {e}"))
    }

    /// Runs `body` (an async function body that may `await` and `return` a JSON value, with
    /// the prelude's helpers and `args`) and returns its result; a thrown error is an `Err`.
    pub async fn run(&self, body: &str, args: Vec<Value>) -> Result<Value> {
        let script = format!(
            "{PRELUDE}\nconst done = arguments[arguments.length - 1];\n\
             const args = Array.from(arguments).slice(0, -1);\n\
             (async () => {{ {body} }})().then(\n\
               (v) => done({{ ok: v === undefined ? null : v }}),\n\
               (e) => done({{ error: String(e && e.stack || e) }}));"
        );
        let value = self
            .client()
            .execute_async(&script, args)
            .await
            .map_err(|e| anyhow!("script: {e}"))?;
        match value.get("error") {
            Some(e) => bail!("in the browser: {}", e.as_str().unwrap_or_default()),
            None => Ok(value.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Publishes the fake camera and microphone over WHIP at `url` with `token`; the peer
    /// connection is kept as `window.publisher`. Returns Chromium's offer and the answer.
    pub async fn whip_publish(&self, url: &str, token: &str) -> Result<(String, String)> {
        let v = self
            .run(
                "const media = await navigator.mediaDevices.getUserMedia(\
                   { audio: true, video: { width: 640, height: 360, frameRate: 30 } });\
                 const pc = new RTCPeerConnection();\
                 for (const t of media.getTracks()) pc.addTransceiver(t, { direction: 'sendonly' });\
                 window.publisher = pc;\
                 return await exchange(args[0], args[1], pc);",
                vec![json!(url), json!(token)],
            )
            .await?;
        Ok(offer_answer(&v))
    }

    /// Watches over WHEP at `url` with `token`: receive-only audio and video, kept as
    /// `window.viewer`. Returns Chromium's offer and the answer.
    pub async fn whep_watch(&self, url: &str, token: &str) -> Result<(String, String)> {
        let v = self
            .run(
                "const pc = new RTCPeerConnection();\
                 pc.ontrack = (e) => {\
                   if (e.track.kind !== 'audio') return;\
                   const a = new Audio();\
                   a.srcObject = new MediaStream([e.track]);\
                   a.play().catch(() => {});\
                   window.speaker = a;\
                 };\
                 pc.addTransceiver('audio', { direction: 'recvonly' });\
                 pc.addTransceiver('video', { direction: 'recvonly' });\
                 window.viewer = pc;\
                 return await exchange(args[0], args[1], pc);",
                vec![json!(url), json!(token)],
            )
            .await?;
        Ok(offer_answer(&v))
    }

    /// What `window.viewer` has received and decoded so far.
    pub async fn viewer_stats(&self) -> Result<ViewerStats> {
        let v = self
            .run(
                "const out = { videoFrames: 0, videoPackets: 0, audioPackets: 0, audioSamples: 0,\
                               concealed: 0, codecs: [] };\
                 const stats = await window.viewer.getStats();\
                 stats.forEach((r) => {\
                   if (r.type === 'inbound-rtp' && r.kind === 'video') {\
                     out.videoFrames += r.framesDecoded || 0;\
                     out.videoPackets += r.packetsReceived || 0;\
                   }\
                   if (r.type === 'inbound-rtp' && r.kind === 'audio') {\
                     out.audioPackets += r.packetsReceived || 0;\
                     out.audioSamples += r.totalSamplesReceived || 0;\
                     out.concealed += r.concealedSamples || 0;\
                   }\
                   if (r.type === 'codec') out.codecs.push(r.mimeType + ' ' + r.payloadType);\
                 });\
                 return out;",
                vec![],
            )
            .await?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(ViewerStats {
            video_frames: n("videoFrames"),
            video_packets: n("videoPackets"),
            audio_packets: n("audioPackets"),
            audio_samples: n("audioSamples"),
            concealed_samples: n("concealed"),
            codecs: v
                .get("codecs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Ends the session (and the browser).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

fn offer_answer(v: &Value) -> (String, String) {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (s("offer"), s("answer"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Counters from `getStats()` of the WHEP viewer's inbound streams.
#[derive(Debug, Default, Clone)]
pub struct ViewerStats {
    /// Video frames decoded.
    pub video_frames: u64,
    /// Video packets received (only those of a negotiated payload type count).
    pub video_packets: u64,
    /// Audio packets received.
    pub audio_packets: u64,
    /// Audio samples played out (decoded or concealed).
    pub audio_samples: u64,
    /// Samples the decoder made up for lost or undecodable audio.
    pub concealed_samples: u64,
    /// `mimeType payloadType` of each codec in use.
    pub codecs: Vec<String>,
}

/// The payload type `sdp` gives `codec` (e.g. "opus", "VP8") in its first m-line of `kind`.
pub fn payload_type(sdp: &str, kind: &str, codec: &str) -> Option<u8> {
    let section = sdp.split("\r\nm=").skip(1).find(|m| m.starts_with(kind))?;
    section.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, name) = rest.split_once(' ')?;
        name.to_ascii_lowercase()
            .starts_with(&format!("{}/", codec.to_ascii_lowercase()))
            .then(|| pt.parse().ok())
            .flatten()
    })
}
