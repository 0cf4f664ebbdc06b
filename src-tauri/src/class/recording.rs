//! Recording the class from the class controller: what to record once it is received, and
//! for a teacher (whose app does not receive its own media) the observer session, the
//! teacher's companion in the class, that the recording receives through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_client::host::HostedClass;
use classroom_client::{JoinOptions, Session, connect};
use classroom_protocol::Role as WireRole;

use super::{Active, ClassController, INVITE_TTL};
use crate::error::AppError;
use crate::recording::{Finished, Recording, RecordingView};

/// How long starting a recording waits for what it records to be received.
const RECORD_WAIT: Duration = Duration::from_secs(5);

impl ClassController {
    /// Starts recording `participant` (see `crate::recording`) into `path` under `title`. A
    /// teacher's app does not receive its own media: it records through an observer session
    /// of its own on its class (the teacher's companion), which receives as a student does
    /// and decodes no picture.
    pub async fn start_recording(
        &self,
        participant: &str,
        title: String,
        path: std::path::PathBuf,
        started_ms: i64,
    ) -> Result<RecordingView, AppError> {
        {
            let mut guard = self.active.lock().await;
            let active = not_recording(guard.as_mut())?;
            if let Some(super::Hosted {
                class: server,
                teacher,
            }) = &active.server
                && active.recorder_session.is_none()
            {
                active.recorder_session =
                    Some(recorder_session(server, &active.room, teacher).await?);
            }
        }
        // What to record, once it is received: the observer's subscription comes up a
        // moment after it joins, its tracks one by one (sound often before the picture, and
        // a recording started with sound only stays so), so it waits for both, then for
        // whatever came.
        let deadline = Instant::now() + RECORD_WAIT;
        loop {
            let mut guard = self.active.lock().await;
            // (Another start may have won the race while this one waited.)
            let active = not_recording(guard.as_mut())?;
            let source = active.recorder_session.as_ref().unwrap_or(&active.session);
            let tracks = source.stats().tracks;
            let (choice, _) = crate::recording::choose(&tracks, participant, None);
            if (choice.video.is_none() || choice.audio.is_empty()) && Instant::now() < deadline {
                drop(guard);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            // A student on stage records their own voice too (a teacher's is received
            // through the companion session).
            let own_voice =
                active.recorder_session.is_none() && super::publishes_voice(&active.session);
            let recording =
                match Recording::start(&tracks, participant, own_voice, title, path, started_ms) {
                    Ok(recording) => recording,
                    Err(e) => {
                        // Nothing to record: the teacher's observer session goes too.
                        if let Some(own) = active.recorder_session.take() {
                            drop(guard);
                            own.leave().await;
                        }
                        return Err(e);
                    }
                };
            let source = active.recorder_session.as_ref().unwrap_or(&active.session);
            source.record(recording.recorder.clone());
            // The class is told: staff see who records, everyone how many.
            active
                .session
                .class(classroom_protocol::ClassRequest::SetRecording { on: true });
            let view = recording.view();
            active.recording = Some(recording);
            return Ok(view);
        }
    }

    /// Stops the recording under way, if any, and finishes its file.
    pub async fn stop_recording(&self) -> Option<Result<Finished, AppError>> {
        let (recording, own) = {
            let mut guard = self.active.lock().await;
            let active = guard.as_mut()?;
            let recording = active.recording.take()?;
            let own = active.recorder_session.take();
            own.as_ref().unwrap_or(&active.session).stop_recording();
            active
                .session
                .class(classroom_protocol::ClassRequest::SetRecording { on: false });
            (recording, own)
        };
        let finished = recording.finish().await;
        if let Some(own) = own {
            own.leave().await;
        }
        Some(finished)
    }
}

/// The class, unless it is being recorded already.
fn not_recording(active: Option<&mut Active>) -> Result<&mut Active, AppError> {
    let active = active.ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
    if active.recording.is_some() {
        return Err(AppError::Invalid(
            "This class is being recorded already.".into(),
        ));
    }
    Ok(active)
}

/// The hidden observer session a teacher's recording receives through: joined to the
/// class's own server as the teacher's companion (so the class lists, counts and reports it
/// nowhere: it is part of the teacher, who is shown recording), no speaker, and a frame
/// sink that keeps every video track's decoder shut (the recording takes the encoded frames).
async fn recorder_session(
    server: &HostedClass,
    room: &str,
    teacher: &str,
) -> Result<Session, AppError> {
    let token = server
        .server()
        .mint_companion_token(room, RECORDER_IDENTITY, teacher, INVITE_TTL)
        .map_err(|e| AppError::Connection(e.to_string()))?;
    let opts = JoinOptions {
        frame_sink: Some(Arc::new(crate::recording::EncodedOnly)),
        pin: server.fingerprint(),
        play_audio: false,
        subscribe: true,
        ..JoinOptions::new(
            &server.local_url(),
            &token,
            room,
            "Recording",
            WireRole::Observer,
        )
    };
    let (session, mut events) = connect(opts)
        .await
        .map_err(|e| AppError::Connection(e.to_string()))?;
    // Nothing of the class is shown from it; its events are read and let go.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok(session)
}

/// The identity of a teacher's recording session in the class.
const RECORDER_IDENTITY: &str = "this-computer-recording";
