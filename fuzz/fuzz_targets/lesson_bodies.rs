//! Any bytes as a lesson-service body (what a class server sends a student's downloader, and
//! what a teacher's app or a student's outbox sends the server): decoding never panics, and
//! whatever decodes survives an encode/decode round trip unchanged.
#![no_main]

use classroom_protocol::lessons::{HandIn, HandIns, LessonCatalog, LessonUpdate};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let encoded = serde_json::to_vec(&value).expect("what decoded encodes");
        assert_eq!(serde_json::from_slice::<T>(&encoded).ok(), Some(value));
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<LessonCatalog>(data);
    round_trip::<LessonUpdate>(data);
    round_trip::<HandIn>(data);
    round_trip::<HandIns>(data);
});
