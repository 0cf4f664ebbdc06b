//! Device listing and hot-plug over real devices: virtual sound cards plugged into a
//! PulseAudio server while a watcher polls. (Cameras cannot be plugged in a container —
//! no v4l2loopback — so their part is the same GStreamer monitor and the unit-tested diff.)

#[path = "support/pulse.rs"]
#[allow(dead_code)]
mod pulse;

use std::time::{Duration, Instant};

use classroom_media::devices::{DeviceKind, DeviceWatcher, DevicesChanged, list_devices};

fn next_change(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<DevicesChanged>,
    what: &str,
    wanted: impl Fn(&DevicesChanged) -> bool,
) -> DevicesChanged {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match rx.try_recv() {
            Ok(c) if wanted(&c) => return c,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn sound_cards_are_listed_and_plugging_them_in_and_out_is_reported() {
    if let Err(why) = pulse::ensure_server() {
        println!("SKIPPED: {why}");
        return;
    }
    classroom_media::init().expect("GStreamer");
    let first = pulse::NullSink::plug(&pulse::unique("classroom_list"));
    let devices = list_devices();
    let has = |kind, id: &str| devices.iter().any(|d| d.kind == kind && d.id == id);
    assert!(
        has(DeviceKind::Speaker, &format!("pulse:{}", first.name)),
        "{devices:#?}"
    );
    assert!(
        has(
            DeviceKind::Microphone,
            &format!("pulse:{}.monitor", first.name)
        ),
        "{devices:#?}"
    );
    // ALSA's `default` goes to PulseAudio through libasound2-plugins: cpal sees it both ways.
    assert!(has(DeviceKind::Microphone, "cpal:default"), "{devices:#?}");
    assert!(has(DeviceKind::Speaker, "cpal:default"), "{devices:#?}");

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _watcher = DeviceWatcher::start(Duration::from_millis(300), tx).expect("watcher");
    let initial = next_change(&mut rx, "the first listing", |_| true);
    assert!(
        initial
            .devices
            .iter()
            .any(|d| d.id == format!("pulse:{}", first.name))
    );

    let name = pulse::unique("classroom_hotplug");
    let speaker = format!("pulse:{name}");
    let mut plugged = pulse::NullSink::plug(&name);
    let added = next_change(&mut rx, "the new card", |c| {
        c.changes.added.iter().any(|d| d.id == speaker)
    });
    assert!(added.changes.removed.iter().all(|d| d.id != speaker));
    assert!(
        added
            .changes
            .added
            .iter()
            .any(|d| d.kind == DeviceKind::Microphone && d.id == format!("{speaker}.monitor")),
        "the card's capture side arrives with it: {added:#?}"
    );

    plugged.unplug();
    let removed = next_change(&mut rx, "the card to go", |c| {
        c.changes.removed.iter().any(|d| d.id == speaker)
    });
    assert!(removed.devices.iter().all(|d| d.id != speaker));
    assert!(
        removed
            .devices
            .iter()
            .any(|d| d.id == format!("pulse:{}", first.name)),
        "the other card is still there"
    );
}
