//! Everything the webview may invoke. Each command is a thin adapter: it reads app state, calls
//! plain Rust and returns serializable data or an [`AppError`].
//!
//! A new command must also be listed in `build.rs` and granted in `capabilities/`.

use std::io::Write;

use tauri::State;

use crate::AppError;
use crate::check::{DeviceCheckView, NetworkCheck};
use crate::class::{ClassJoined, ClassStats};
use crate::devices::DeviceList;
use crate::error::blocking;
use crate::join::{self, JoinForm};
use crate::launch::LaunchOptions;
use crate::library::{
    HandInView, HomeworkView, LibraryView, MaterialView, SearchHitView, UsageView,
};
use crate::nearby::{NearbyClasses, ReachedClass};
use crate::settings::{Settings, SettingsView};
use crate::state::AppState;
use crate::video;

/// The page has mounted. Prints `UI_READY` on stdout the first time, which tests and scripts wait
/// for to know the window shows the UI.
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>) {
    if state.mark_ui_ready() {
        let mut stdout = std::io::stdout().lock();
        // Nobody may be reading stdout (a desktop launch); that must not stop the app.
        let _ = writeln!(stdout, "UI_READY").and_then(|()| stdout.flush());
        drop(stdout);
        // Once the window shows: what a class's first connection would wait for (the DTLS
        // key above all), on a thread of its own.
        std::thread::spawn(|| match classroom_media::prewarm() {
            Ok(()) => crate::video::join_stage("prewarmed", ""),
            Err(e) => eprintln!("classroom-app: cannot prepare the media: {e}"),
        });
    }
}

/// The values given on the command line, to pre-fill the join screen.
#[tauri::command]
pub fn launch_options(state: State<'_, AppState>) -> LaunchOptions {
    state.launch_options().clone()
}

/// Validates the join form, then joins: a teacher starts a class on the school network
/// (announced nearby) and publishes, a student joins the teacher's class with the invite token
/// or, given a class code, the class nearby the code was made for (answering once in its lobby:
/// `waiting`, then the `session-status` event `admitted`).
/// A refused form is counted and logged: the webview is untrusted input like the network.
#[tauri::command]
pub async fn join_class(
    state: State<'_, AppState>,
    form: JoinForm,
) -> Result<ClassJoined, AppError> {
    let accepted = join::validate(&form)
        .and_then(|accepted| state.settings.check_join(&accepted).map(|()| accepted))
        .inspect_err(|err| {
            state.refuse("join_class", err);
        })?;
    // `cargo xtask bench app` times the join from here (the join button's command) to the
    // first remote frame painted.
    crate::video::join_stage("join", "");
    // The class takes the devices over from the check dialog.
    state.check.stop();
    // The school's screen-sharing policy decides what a teacher's class can share.
    let mut picked = state.devices.pick();
    picked.screen = picked
        .screen
        .allowed_by(&state.settings.view().policy.screen_share_sources);
    crate::video::join_stage("devices", "");
    let joined = match &accepted.code {
        // By class code: the class nearby the code was made for, through its lobby.
        Some(code) => {
            let target = state
                .nearby
                .reach_code(code, &accepted.name, crate::nearby::CODE_SEARCH)
                .await?;
            state.class.join_by_code(target, Some(picked)).await?
        }
        None => state.class.join_with(accepted, Some(picked)).await?,
    };
    crate::video::join_stage("joined", "");
    if let (Some(path), Some(invite)) = (crate::handoff::invite_file_from_env(), &joined.invite)
        && let Err(e) = crate::handoff::write_invite(&path, invite)
    {
        eprintln!(
            "classroom-app: cannot write the invite to {}: {e}",
            path.display()
        );
    }
    Ok(joined)
}

/// Cameras, microphones and speakers present now, and the remembered choice. The list also
/// arrives as the `devices-changed` event whenever a device is plugged in or out.
#[tauri::command]
pub fn list_devices(state: State<'_, AppState>) -> DeviceList {
    state.devices.view()
}

/// Chooses and remembers a device (`kind`: camera, microphone or speaker). In a class the
/// camera or microphone switches at once, without renegotiating; the speaker applies from the
/// next class. An unknown kind or a device that is not connected is refused and counted.
#[tauri::command]
pub async fn choose_device(
    state: State<'_, AppState>,
    kind: String,
    id: String,
) -> Result<DeviceList, AppError> {
    let kind = state.devices.choose(&kind, &id).inspect_err(|err| {
        state.refuse("choose_device", err);
    })?;
    state.class.switch_device(kind, &id).await?;
    Ok(state.devices.view())
}

/// Shares the screen again (teacher): on Wayland the desktop's own dialog asks what to share;
/// the screen track switches to it without renegotiating. Also how a share the desktop ended
/// comes back. A cancelled dialog rejects with kind `cancelled`.
#[tauri::command]
pub async fn share_screen(state: State<'_, AppState>) -> Result<(), AppError> {
    state.class.share_screen().await
}

/// Starts recording the class on this computer: `participantId`'s screen while shared, else
/// their camera, as received, and the class's voices mixed (see `recording.rs`). A student needs the
/// school's policy to allow it (kind `locked` otherwise); `title` (1 to 200 characters) names
/// the lesson it becomes.
#[tauri::command]
pub async fn start_recording(
    state: State<'_, AppState>,
    participant_id: String,
    title: String,
) -> Result<crate::recording::RecordingView, AppError> {
    let refuse = |e: AppError| {
        state.refuse("start_recording", &e);
        e
    };
    let title = crate::recording::check_request(&participant_id, &title).map_err(refuse)?;
    let teacher = state
        .class
        .is_teacher()
        .await
        .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
    state.settings.check_record(teacher).map_err(refuse)?;
    let path = state.library.recording_path().await?;
    state
        .class
        .start_recording(&participant_id, title, path, crate::library::now_ms())
        .await
}

/// Stops the recording and keeps it in the library's "Recordings" course.
#[tauri::command]
pub async fn stop_recording(
    state: State<'_, AppState>,
) -> Result<crate::recording::SavedRecording, AppError> {
    let finished = state
        .class
        .stop_recording()
        .await
        .ok_or_else(|| AppError::Invalid("Nothing is being recorded.".into()))??;
    state.library.save_recording(finished).await
}

/// Where the page plays a video or sound of the library from (a loopback address with this
/// run's secret; see `LibraryController::media_url`).
#[tauri::command]
pub async fn library_media_url(
    state: State<'_, AppState>,
    lesson_id: String,
    material_id: String,
) -> Result<String, AppError> {
    if lesson_id.len() > 256 || material_id.len() > 256 {
        state.refuse("library_media_url", "an id too long");
        return Err(AppError::Invalid(
            "That is not a file of the library.".into(),
        ));
    }
    state.library.media_url(&lesson_id, &material_id).await
}

/// Shares a recording of this computer's with the class (its teacher): students find it in
/// their library. Answers the class's new lesson id.
#[tauri::command]
pub async fn share_recording(
    state: State<'_, AppState>,
    lesson_id: String,
) -> Result<String, AppError> {
    if !classroom_protocol::lessons::is_lesson_path_id(&lesson_id) {
        state.refuse("share_recording", "a bad lesson id");
        return Err(AppError::Invalid(
            "That is not a lesson of the library.".into(),
        ));
    }
    state.library.set_source(state.class.lesson_access().await);
    state.library.share_recording(&lesson_id).await
}

/// Longest request the page may send to the class, in bytes of JSON: far above any real
/// request (a chat message of 500 characters, a poll of 10 options), far below the server's
/// 64 KiB message limit.
const MAX_CLASS_REQUEST_BYTES: usize = 16 * 1024;

/// Longest roster file the page may hand over, in bytes: 20,000 students with several
/// columns in UTF-16 fit.
const MAX_ROSTER_BYTES: usize = 8 * 1024 * 1024;

/// Asks something of the class: raise a hand, answer a roll call or a poll, chat, react, or
/// (staff) run the class. The server checks the sender's role for every request; answers
/// and refusals arrive as `class-event`s and class errors.
#[tauri::command]
pub async fn class_request(
    state: State<'_, AppState>,
    request: classroom_protocol::ClassRequest,
) -> Result<(), AppError> {
    let size = serde_json::to_string(&request).map_or(usize::MAX, |s| s.len());
    if size > MAX_CLASS_REQUEST_BYTES {
        state.refuse("class_request", format_args!("{size} bytes"));
        return Err(AppError::Invalid(format!(
            "The request is too large ({size} bytes)."
        )));
    }
    state.class.request(request).await
}

/// A student brought on stage starts (`on`) or stops sending camera and microphone, with the
/// devices chosen in the app. Never started by the teacher's action alone: this is the click.
#[tauri::command]
pub async fn stage_media(state: State<'_, AppState>, on: bool) -> Result<(), AppError> {
    state
        .class
        .stage_media(on, Some(state.devices.pick()))
        .await
}

/// Reads a roster file and sends it to the class (teacher). The file's bytes are the body:
/// CSV or tab-separated text as spreadsheets save it, in UTF-8, UTF-16 or a legacy encoding
/// (GBK from a Chinese Excel; see `classroom::roster_from_bytes`); the `roster-region`
/// header ("cn", from the page's language) hints which legacy encoding a file without a
/// byte-order mark most likely has. A file that is not a roster is `Refused` with the
/// problem, and nothing is sent.
#[tauri::command]
pub async fn import_roster(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> Result<crate::class::RosterImport, AppError> {
    use crate::class::{RosterImport, RosterProblem};
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        state.refuse("import_roster", "the file must be raw bytes");
        return Err(AppError::Invalid(
            "The roster must be sent as the file's bytes.".into(),
        ));
    };
    if bytes.len() > MAX_ROSTER_BYTES {
        state.refuse("import_roster", format_args!("{} bytes", bytes.len()));
        return Ok(RosterImport::refused(RosterProblem::TooLarge {
            max_mb: MAX_ROSTER_BYTES / (1024 * 1024),
        }));
    }
    let region = request
        .headers()
        .get("roster-region")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A workbook's sheet other than its first, by its number among the visible ones.
    let sheet = match request.headers().get("roster-sheet") {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.parse::<usize>().ok()) {
            Some(n) => Some(n),
            None => {
                state.refuse("import_roster", format_args!("roster-sheet {v:?}"));
                return Err(AppError::Invalid(
                    "The sheet must be given by its number.".into(),
                ));
            }
        },
    };
    // Detecting the encoding and reading several MB is CPU work: off the async threads.
    let bytes = bytes.clone();
    let read = crate::error::blocking("reading the roster", move || {
        classroom::roster_from_file(&bytes, region.as_deref(), sheet)
    })
    .await?;
    let file = match read {
        Ok(file) => file,
        Err(refusal) => return Ok(RosterImport::from(refusal)),
    };
    let students = file.entries.len();
    // A school's roster of a few thousand is several signaling messages (64 KiB each).
    for part in classroom_protocol::roster_requests(file.entries) {
        state.class.request(part).await?;
    }
    Ok(RosterImport::Imported {
        students,
        encoding: file.encoding.to_owned(),
        separator: file.separator.to_string(),
        sheet: file.sheet,
        sheets: file.sheets,
    })
}

/// The attendance report so far as CSV, also saved in the app's data folder (`reports/`), in
/// the teacher's words and time zone (`words`, from the page's catalogue).
#[tauri::command]
pub async fn export_report(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    words: crate::class::ReportWords,
) -> Result<crate::class::SavedReport, AppError> {
    use tauri::Manager;
    let style = words.style().map_err(|why| {
        state.refuse("export_report", &why);
        AppError::Invalid(why)
    })?;
    let report = state.class.report().await?;
    let dir = app
        .path()
        .app_data_dir()
        .map_err(|e| AppError::Internal(format!("no data folder: {e}")))?
        .join("reports");
    crate::class::save_report(&dir, &report, &style)
}

/// Classes announced on the local network now (the first call starts looking; the list then
/// arrives as the `nearby-classes-changed` event whenever it changes). `network: false` in
/// the result means this computer has no usable network, which the home screen says instead
/// of "no classes found nearby". Fails with kind `noNetwork` when mDNS cannot run.
#[tauri::command]
pub async fn nearby_classes(state: State<'_, AppState>) -> Result<NearbyClasses, AppError> {
    state.nearby.classes()
}

/// Finds an address of the nearby class `id` (from `nearby_classes`) that answers, before
/// joining it. Kinds: `classGone` (no longer announced), `classUnreachable` (found, but its
/// port does not answer: the message names the port a firewall may block).
#[tauri::command]
pub async fn reach_nearby_class(
    state: State<'_, AppState>,
    id: String,
) -> Result<ReachedClass, AppError> {
    state.nearby.reach(&id).await
}

/// The remembered language and theme, and the language the screens use now (the choice, or
/// the desktop's when the choice is "system").
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    state.settings.view()
}

/// Remembers a new language and theme in the app's config directory; rejects with kind
/// `storage` (and keeps the old ones) when they cannot be saved.
#[tauri::command]
pub fn set_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<SettingsView, AppError> {
    state.settings.set(settings)
}

/// Received tracks with rates since the last call, recent events, and whether the class ended.
#[tauri::command]
pub async fn class_stats(state: State<'_, AppState>) -> Result<ClassStats, AppError> {
    state.class.stats().await
}

/// A report for the school's IT, as text: the app, the system, GStreamer and its elements,
/// devices, networks and, in a class, its tracks and latest events. Never a token, invite,
/// class code or pin (see `diagnostics.rs`).
#[tauri::command]
pub async fn diagnostics(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<String, AppError> {
    let media = blocking("diagnostics", classroom_media::inventory).await?;
    let facts = crate::diagnostics::Facts {
        version: env!("CARGO_PKG_VERSION"),
        identifier: app.config().identifier.clone(),
        system: crate::diagnostics::system(),
        settings: state.settings.view(),
        media,
        devices: state.devices.view(),
        network: classroom_discovery::interfaces::lan_addresses().map_err(|e| e.to_string()),
        class: state.class.stats().await.ok(),
        refused_calls: state.refused_calls(),
        file_server_refusals: state.library.file_server_refusals(),
        web_renderer: crate::web_renderer::chosen(),
    };
    Ok(crate::diagnostics::report(&facts))
}

/// Leaves the class (a teacher's leaving ends it).
#[tauri::command]
pub async fn leave_class(state: State<'_, AppState>) -> Result<(), AppError> {
    // A recording under way is kept, whatever else happens to the class.
    let saved = match state.class.stop_recording().await {
        Some(Ok(finished)) => Some(state.library.save_recording(finished).await),
        Some(Err(e)) => Some(Err(e)),
        None => None,
    };
    state.class.leave().await;
    match saved {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The next frame of a remote video track after frame number `after`, as raw bytes (layout in
/// `video.rs`): decoded RGBA or I420 planes fitted into `width` x `height` device pixels, or the
/// encoded frames since `after` (`kind`). Waits up to half a second for a new frame and answers
/// empty when none came, so a tile keeps one request in flight and never polls. Runs off the
/// main thread; an unknown track or an absurd size is refused (kind `invalidVideoRequest`) and
/// counted.
#[tauri::command]
pub async fn video_frame(
    state: State<'_, AppState>,
    track_id: String,
    after: u32,
    width: u32,
    height: u32,
    kind: video::Kind,
) -> Result<tauri::ipc::Response, AppError> {
    let request = video::FrameRequest {
        track_id,
        after,
        width,
        height,
        kind,
    };
    // The check dialog's camera preview has a store of its own (it runs outside a class).
    let store = if request.track_id == classroom_media::check::PREVIEW_TRACK {
        &state.check.video
    } else {
        &state.class.video
    };
    match store.next(&request, video::WAIT).await {
        Ok(bytes) => Ok(tauri::ipc::Response::new(bytes.unwrap_or_default())),
        Err(video::VideoError::Convert(why)) => Err(AppError::Media(why)),
        // A tile asking once more for a track that just ended: not the page's fault.
        Err(ended @ video::VideoError::Ended(_)) => {
            Err(AppError::InvalidVideoRequest(ended.to_string()))
        }
        Err(refused) => {
            state.refuse("video_frame", &refused);
            Err(AppError::InvalidVideoRequest(refused.to_string()))
        }
    }
}

/// How the page shows video: a path forced for a benchmark, and whether to report paints.
#[tauri::command]
pub fn video_settings() -> video::VideoSettings {
    video::VideoSettings::from_env()
}

/// The page's paint counts per tile (only sent when `video_settings` asks for reports): printed
/// on stdout as `VIDEO_PAINTED {json}` for `cargo xtask bench video`.
#[tauri::command]
pub fn video_painted(
    state: State<'_, AppState>,
    tiles: Vec<video::TilePaints>,
) -> Result<(), AppError> {
    if tiles.len() > 64 {
        state.refuse("video_painted", "too many tiles");
        return Err(AppError::InvalidVideoRequest("too many tiles".into()));
    }
    for tile in &tiles {
        tile.check().map_err(|e| {
            state.refuse("video_painted", &e);
            AppError::InvalidVideoRequest(e.to_string())
        })?;
    }
    if video::VideoSettings::from_env().report {
        let json = serde_json::to_string(&tiles).map_err(|e| AppError::Media(e.to_string()))?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "VIDEO_PAINTED {json}").and_then(|()| stdout.flush());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The page may only call what the main window's capability grants; a call it is not
    /// granted fails at run time with "not allowed", which the device panel once showed for
    /// `listen`. Every command the page invokes and every event API it uses must be granted.
    #[test]
    fn the_main_window_is_granted_everything_the_page_calls() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let capability: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/capabilities/default.json"))
                .expect("capability file"),
        )
        .expect("capability JSON");
        let granted: Vec<&str> = capability["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        // The page's calls: `call('name', ...)` in api.ts, `invoke<...>('name', ...)` elsewhere.
        let page: String = ["api.ts", "video.ts"]
            .iter()
            .map(|f| std::fs::read_to_string(format!("{dir}/../ui/src/lib/{f}")).expect(f))
            .collect();
        let mut wanted: Vec<String> = page
            .split("call(")
            .chain(page.split(">('"))
            .skip(1)
            .filter_map(|rest| {
                let rest = rest.strip_prefix('\'').unwrap_or(rest);
                let name = rest.split_once('\'')?.0;
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
                    .then(|| format!("allow-{}", name.replace('_', "-")))
            })
            .collect();
        wanted.sort();
        wanted.dedup();
        if page.contains("listen<") || page.contains("listen(") {
            wanted.push("core:event:allow-listen".into());
            wanted.push("core:event:allow-unlisten".into());
        }
        assert!(
            wanted.len() > 5,
            "the page's calls were not found: {wanted:?}"
        );
        for w in &wanted {
            assert!(
                granted.contains(&w.as_str()),
                "{w} is not granted: {granted:?}"
            );
        }
    }
}

// ---- the offline library -----------------------------------------------------------------

/// The library as it stands (remembering the class this app is in as where lessons come
/// from).
#[tauri::command]
pub async fn library_view(state: State<'_, AppState>) -> Result<LibraryView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state.library.view().await
}

/// Fetches the class's lessons into the library.
#[tauri::command]
pub async fn library_refresh(state: State<'_, AppState>) -> Result<LibraryView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state.library.refresh().await
}

/// Lessons whose title or notes have the words typed.
#[tauri::command]
pub async fn library_search(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<SearchHitView>, AppError> {
    state.library.search(&query).await.inspect_err(|e| {
        if e.kind() == "invalid" {
            state.refuse("library_search", e);
        }
    })
}

/// A lesson's files.
#[tauri::command]
pub async fn library_materials(
    state: State<'_, AppState>,
    lesson_id: String,
) -> Result<Vec<MaterialView>, AppError> {
    state.library.materials(&lesson_id).await
}

/// Starts downloading a lesson at the speed the settings allow; progress comes as
/// `library-changed`.
#[tauri::command]
pub async fn library_download(
    state: State<'_, AppState>,
    lesson_id: String,
) -> Result<(), AppError> {
    state.library.set_source(state.class.lesson_access().await);
    let limit = state
        .settings
        .view()
        .settings
        .download_limit
        .bytes_per_second();
    state.library.download(&lesson_id, limit).await
}

/// Pauses a lesson's download.
#[tauri::command]
pub fn library_pause(state: State<'_, AppState>, lesson_id: String) -> Result<(), AppError> {
    state.library.pause(&lesson_id)
}

/// Resumes a lesson's download.
#[tauri::command]
pub fn library_resume(state: State<'_, AppState>, lesson_id: String) -> Result<(), AppError> {
    state.library.resume(&lesson_id)
}

/// Cancels a lesson's download.
#[tauri::command]
pub fn library_cancel(state: State<'_, AppState>, lesson_id: String) -> Result<(), AppError> {
    state.library.cancel(&lesson_id)
}

/// Keeps a lesson whatever the size limit says, or lets it go.
#[tauri::command]
pub async fn library_pin(
    state: State<'_, AppState>,
    lesson_id: String,
    pinned: bool,
) -> Result<(), AppError> {
    state.library.pin(&lesson_id, pinned).await
}

/// Sets the library's size limit in bytes (null: none); at least 100 MB.
#[tauri::command]
pub async fn library_set_quota(
    state: State<'_, AppState>,
    bytes: Option<u64>,
) -> Result<UsageView, AppError> {
    if bytes.is_some_and(|b| b < 100_000_000) {
        state.refuse("library_set_quota", format_args!("{bytes:?}"));
        return Err(AppError::Invalid("The limit is at least 100 MB.".into()));
    }
    state.library.set_quota(bytes).await
}

/// A material's bytes, checked, to show in the app (raw bytes, not JSON).
#[tauri::command]
pub async fn library_file(
    state: State<'_, AppState>,
    lesson_id: String,
    material_id: String,
) -> Result<tauri::ipc::Response, AppError> {
    let bytes = state.library.file(&lesson_id, &material_id).await?;
    Ok(tauri::ipc::Response::new(bytes))
}

/// "Clear my data": every lesson, file and queued item on this computer.
#[tauri::command]
pub async fn library_clear(state: State<'_, AppState>) -> Result<(), AppError> {
    state.library.clear().await
}

/// Adds a lesson to the class this teacher hosts; its id.
#[tauri::command]
pub async fn lesson_add(state: State<'_, AppState>, title: String) -> Result<String, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state.library.add_lesson(&title).await
}

/// A piece of a file a teacher adds to a lesson: the raw bytes as the body, the upload's id
/// and the piece's offset in the `upload-id` and `upload-offset` headers. Answers the bytes
/// received so far.
#[tauri::command]
pub async fn material_upload_piece(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> Result<u64, AppError> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let refuse = |why: String| {
        state.refuse("material_upload_piece", &why);
        AppError::Invalid(why)
    };
    let id = header("upload-id").ok_or_else(|| refuse("no upload-id header".into()))?;
    let offset = header("upload-offset")
        .and_then(|o| o.parse::<u64>().ok())
        .ok_or_else(|| refuse("no upload-offset header".into()))?;
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(refuse("the piece must be raw bytes".into()));
    };
    state
        .library
        .upload_piece(&id, offset, bytes)
        .await
        .inspect_err(|e| {
            if e.kind() == "invalid" {
                state.refuse("material_upload_piece", e);
            }
        })
}

/// Sends a file handed over piece by piece to the class server as a material of a lesson.
#[tauri::command]
pub async fn material_upload_finish(
    state: State<'_, AppState>,
    upload_id: String,
    lesson_id: String,
    file_name: String,
    mime: String,
) -> Result<MaterialView, AppError> {
    state
        .library
        .finish_upload(&upload_id, &lesson_id, &file_name, &mime)
        .await
}

// ---- homework -----------------------------------------------------------------------------

/// The homework in this library (the class the app is in first), with this student's
/// hand-ins and their marking.
#[tauri::command]
pub async fn homework_view(state: State<'_, AppState>) -> Result<HomeworkView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state.library.homework_view().await
}

/// Fetches the class's homework, sends hand-ins waiting to go, and brings back marking.
#[tauri::command]
pub async fn homework_refresh(state: State<'_, AppState>) -> Result<HomeworkView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state.library.homework_refresh().await
}

/// Sets homework for the class this teacher hosts.
#[tauri::command]
pub async fn homework_set(
    state: State<'_, AppState>,
    title: String,
    instructions: String,
    due_ms: Option<i64>,
) -> Result<HomeworkView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state
        .library
        .homework_set(&title, &instructions, due_ms)
        .await
}

/// Hands in files the page sent piece by piece (`material_upload_piece`), as one piece of work
/// named `file_name`: one file (a photo is made upright, scaled and stripped of its metadata
/// before it is kept and sent), or several photos as one PDF of a page each.
#[tauri::command]
pub async fn homework_hand_in(
    state: State<'_, AppState>,
    upload_ids: Vec<String>,
    file_names: Vec<String>,
    assignment_id: String,
    file_name: String,
) -> Result<HomeworkView, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    state
        .library
        .homework_hand_in(&upload_ids, &file_names, &assignment_id, &file_name)
        .await
        .inspect_err(|e| {
            if matches!(e.kind(), "invalid" | "badFile") {
                state.refuse("homework_hand_in", e);
            }
        })
}

/// The teacher's marked copy of one of this student's hand-ins (raw bytes, a PNG).
#[tauri::command]
pub async fn homework_marked_copy(
    state: State<'_, AppState>,
    submission_id: String,
) -> Result<tauri::ipc::Response, AppError> {
    let bytes = state.library.homework_marked_copy(&submission_id).await?;
    Ok(tauri::ipc::Response::new(bytes))
}

/// Saves the marked copy of one of this student's hand-ins where downloads go (a marked PDF
/// as a PDF, its pages and text as they were; a marked photo as PNG).
#[tauri::command]
pub async fn homework_save_copy(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    submission_id: String,
) -> Result<crate::saved::SavedFile, AppError> {
    let dir = saving_folder(&app)?;
    state.library.homework_save_copy(&submission_id, dir).await
}

/// Where files saved for the person go (see `saved::folder`).
fn saving_folder(app: &tauri::AppHandle) -> Result<std::path::PathBuf, AppError> {
    use tauri::Manager;
    let path = app.path();
    let fallback = path
        .app_data_dir()
        .map_err(|e| AppError::Internal(format!("no data folder: {e}")))?
        .join("exports");
    Ok(crate::saved::folder(
        path.download_dir().ok(),
        path.home_dir().ok(),
        fallback,
    ))
}

/// The class's hand-ins (a teacher).
#[tauri::command]
pub async fn homework_hand_ins(state: State<'_, AppState>) -> Result<Vec<HandInView>, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    let names = class_names(&state).await;
    state.library.homework_hand_ins(&names).await
}

/// The class's names by identity, from its attendance (the roster's name first); empty when
/// the app is not in a class.
async fn class_names(state: &AppState) -> std::collections::HashMap<String, String> {
    match state.class.report().await {
        Ok(report) => report
            .rows
            .into_iter()
            .map(|row| (row.identity, row.roster_name.unwrap_or(row.name)))
            .collect(),
        Err(_) => Default::default(),
    }
}

/// Opens a hand-in for marking (a teacher): the picture (raw bytes).
#[tauri::command]
pub async fn homework_open(
    state: State<'_, AppState>,
    key: String,
) -> Result<tauri::ipc::Response, AppError> {
    state.library.set_source(state.class.lesson_access().await);
    let bytes = state.library.homework_open(&key).await?;
    Ok(tauri::ipc::Response::new(bytes))
}

/// Returns the open hand-in marked: the marks drawn over it, the mark and the comment.
#[tauri::command]
pub async fn homework_return(
    state: State<'_, AppState>,
    key: String,
    mark: String,
    feedback: String,
    items: Vec<annotate::Item>,
) -> Result<HandInView, AppError> {
    let names = class_names(&state).await;
    state
        .library
        .homework_return(&names, &key, &mark, &feedback, items)
        .await
        .inspect_err(|e| {
            if e.kind() == "invalid" {
                state.refuse("homework_return", e);
            }
        })
}

// ---- the whiteboard ----------------------------------------------------------------------

/// The whole whiteboard, for the page to draw (changes then come as `board-changed`).
#[tauri::command]
pub fn board_view(state: State<'_, AppState>) -> crate::board::BoardUpdate {
    state.class.board.view()
}

/// Sends a whiteboard change the page made (the server checks it and everyone gets it in
/// one order).
#[tauri::command]
pub fn board_send(state: State<'_, AppState>, op: annotate::Op) -> Result<(), AppError> {
    state.class.board.send(op)
}

/// Saves the whiteboard where downloads go: `page` (the one the person looks at; none: the
/// one shown to the class) as a PNG (2560x1440), or every page as a PDF with the ink as
/// vectors; drawn in Rust as the canvas draws them.
#[tauri::command]
pub async fn board_save(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    format: crate::saved::SaveFormat,
    page: Option<String>,
) -> Result<crate::saved::SavedFile, AppError> {
    let (doc, me) = state.class.board.document();
    let dir = saving_folder(&app)?;
    blocking("saving the whiteboard", move || {
        let (bytes, ext) = crate::board::export(&doc, format, page.as_deref(), me.as_deref())?;
        crate::saved::save_new(&dir, "Whiteboard", ext, &bytes)
    })
    .await?
}

/// Undoes (`redo` false) or redoes this participant's latest whiteboard change; false when
/// there is none.
#[tauri::command]
pub fn board_undo(state: State<'_, AppState>, redo: bool) -> Result<bool, AppError> {
    state.class.board.undo(redo)
}

// ---- updates -----------------------------------------------------------------------------

/// Asks the update service whether a newer version exists (refused, without asking, when the
/// school turned updates off).
#[tauri::command]
pub async fn update_check(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<crate::updates::UpdateCheck, AppError> {
    let policy = state.settings.view().policy.updates;
    state.updates.check(&app, &policy).await
}

/// Downloads the update the last check found, checks that our key signed exactly its bytes,
/// and installs it; anything else is refused (`untrusted`) and nothing is installed.
#[tauri::command]
pub async fn update_install(state: State<'_, AppState>) -> Result<(), AppError> {
    let policy = state.settings.view().policy.updates;
    state.updates.install(&policy).await.inspect_err(|e| {
        if e.kind() == "untrusted" {
            state.refuse("update_install", e);
        }
    })
}

/// Starts the check before a class: the chosen camera previewed (its frames through
/// `video_frame` under the view's `previewTrack`) and the chosen microphone metered, with
/// the inputs a class would open. Refused in a class, which holds the devices.
#[tauri::command]
pub async fn device_check_start(state: State<'_, AppState>) -> Result<DeviceCheckView, AppError> {
    if state.class.in_class().await {
        return Err(AppError::AlreadyInClass(
            "The class is using the camera and microphone; check them before joining.".into(),
        ));
    }
    let picked = state.devices.pick();
    let check = state.check.clone();
    // Opening a camera or a microphone can take a moment: not on a runtime thread.
    blocking("the device check", move || check.start(&picked)).await?
}

/// Starts the chosen camera to take homework photos with (previewed as in the check, at a
/// photo's size); status and stop are the check's. Allowed in a class (homework is often
/// done during one): a camera the class holds says so as the check's camera error.
#[tauri::command]
pub async fn camera_photo_start(state: State<'_, AppState>) -> Result<DeviceCheckView, AppError> {
    let picked = state.devices.pick();
    let check = state.check.clone();
    blocking("the camera", move || check.start_photo(&picked)).await?
}

/// A photo from the camera `camera_photo_start` started: JPEG bytes.
#[tauri::command]
pub async fn camera_photo_take(
    state: State<'_, AppState>,
) -> Result<tauri::ipc::Response, AppError> {
    let check = state.check.clone();
    let jpeg = blocking("taking a photo", move || check.take_photo()).await??;
    Ok(tauri::ipc::Response::new(jpeg))
}

/// What the running check shows now: preview frames, the microphone's level, failures.
#[tauri::command]
pub async fn device_check_status(state: State<'_, AppState>) -> Result<DeviceCheckView, AppError> {
    state.check.view()
}

/// Stops the preview and the meter.
#[tauri::command]
pub async fn device_check_stop(state: State<'_, AppState>) -> Result<(), AppError> {
    let check = state.check.clone();
    blocking("the device check", move || check.stop()).await
}

/// Plays a short chime on the chosen speaker; resolves when it has played.
#[tauri::command]
pub async fn speaker_test(state: State<'_, AppState>) -> Result<(), AppError> {
    let output = crate::check::speaker_output(&state.devices.pick())?;
    blocking("the test sound", move || {
        classroom_media::check::play_test_sound(&output)
    })
    .await?
    .map_err(|e| AppError::Media(e.to_string()))
}

/// Checks the connection to a class server (`server`, with the invite's `pin`): the
/// signaling connection a join would open, then round trips over it; or, with no server, the
/// network students would reach a class hosted here over. Paced (one a second) and counted
/// when refused; a failure never says what listens where.
#[tauri::command]
pub async fn network_check(
    state: State<'_, AppState>,
    server: Option<String>,
    pin: Option<String>,
) -> Result<NetworkCheck, AppError> {
    let refused = |err: AppError| {
        state.refuse("network_check", &err);
        err
    };
    state.check.pace_probe().map_err(refused)?;
    let Some(server) = server else {
        let port = classroom_sfu::DEFAULT_PORT;
        return blocking("the network check", move || {
            crate::check::hosting_check(port)
        })
        .await;
    };
    let (url, pin) = join::server_to_check(&server, pin.as_deref()).map_err(refused)?;
    let probe = classroom_client::probe::probe(&url, pin, false, crate::check::PROBE_ROUNDS)
        .await
        .map_err(crate::check::probe_error)?;
    Ok(crate::check::server_check(&probe))
}
