//! Shared set-up for the fuzz targets: an SFU core with one joined participant, a whole
//! connected class ([`world::World`]) for the targets that reach forwarding, and the limits
//! handed-in PDFs are fuzzed under.

pub mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{ClientMessage, PROTOCOL_VERSION, Role};
use classroom_sfu::core::{ConnId, CoreConfig, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};

/// The limits handed-in PDFs are fuzzed under: small, so a run tries many files.
pub fn small_pdf_limits() -> homework::PdfLimits {
    homework::PdfLimits {
        max_bytes: 1 << 20,
        max_pages: 4,
        page_width_px: 128,
        max_sheet_pixels: 128 * 1024,
    }
}

/// Unix time the core's clock starts at.
pub const EPOCH: u64 = 1_800_000_000;

/// The core's media address.
pub const SERVER: &str = "127.0.0.1:5000";

/// A core at `now` in which connection 1 has joined room `r` as `role`.
pub fn joined_core(now: Instant, role: Role) -> Sfu {
    let key = AccessKey::from_secret(&[9u8; 32]).expect("32-byte secret");
    let config = CoreConfig {
        clock_origin: (now, EPOCH),
        ..CoreConfig::new(SERVER.parse().expect("addr"), key)
    };
    let mut sfu = Sfu::new(config, Arc::new(Metrics::default()));
    join(&mut sfu, now, 1, role, "p");
    sfu
}

/// Connection `conn` opens and joins room "r" as `role` with a token naming `identity`
/// (also its display name).
fn join(sfu: &mut Sfu, now: Instant, conn: ConnId, role: Role, identity: &str) {
    sfu.connect(now, conn);
    sfu.handle_signal(now, conn, ClientMessage::Join {
        token: token_for(role, identity),
        room: "r".into(),
        display_name: identity.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe: true,
    });
}

/// A valid token for room "r" under the key [`joined_core`] uses.
pub fn token(role: Role) -> String {
    token_for(role, "p")
}

/// A valid token for room "r" with `identity`, under the key [`joined_core`] uses.
pub fn token_for(role: Role, identity: &str) -> String {
    let key = AccessKey::from_secret(&[9u8; 32]).expect("32-byte secret");
    key.mint(&Claims::new("r", identity, role, Duration::from_secs(60), EPOCH))
        .expect("mint")
}

/// A core at `now` with a class in room "r": the teacher on connection 1 (from
/// [`joined_core`]), a student on 2, and connection 3 open but not joined.
pub fn class_core(now: Instant) -> Sfu {
    let mut sfu = joined_core(now, Role::Teacher);
    join(&mut sfu, now, 2, Role::Student, "s");
    sfu.connect(now, 3);
    while sfu.poll_output().is_some() {}
    sfu
}
