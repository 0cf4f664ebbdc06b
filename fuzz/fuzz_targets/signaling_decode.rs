//! Any bytes as a signaling frame: decoding never panics, and whatever decodes survives an
//! encode/decode round trip unchanged.
#![no_main]

use classroom_protocol::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(msg) = ClientMessage::decode(&text) {
        assert_eq!(ClientMessage::decode(&msg.encode()).ok(), Some(msg));
    }
    if let Ok(msg) = ServerMessage::decode(&text) {
        assert_eq!(ServerMessage::decode(&msg.encode()).ok(), Some(msg));
    }
});
