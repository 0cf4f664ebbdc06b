// Typed wrappers around the Rust commands in src-tauri/src/commands/. Components call these and
// never `invoke` directly, so a renamed command or field breaks in one place. Field names are the
// camelCase JSON Rust's serde produces.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { JoinField, JoinForm } from './join';

import type {
  AppError as CommandError,
  AppEventName,
  AppEvents,
  BoardUpdate,
  ClassEvent,
  ClassJoined,
  ClassRequest,
  ClassStats,
  DeviceCheckView,
  DeviceFailed,
  DeviceKindName,
  HandInView,
  HomeworkView,
  Item,
  Op,
  DeviceList,
  LaunchOptions,
  LibraryUpdate,
  LibraryView,
  MaterialView,
  MediaKind,
  NetworkCheck,
  SearchHitView,
  NearbyClasses,
  OpenedLink,
  ReachedClass,
  RecordingView,
  SavedFile,
  SavedRecording,
  SaveFormat,
  SavedReport,
  ReportWords,
  RosterImport,
  SessionStatus,
  Settings,
  SettingsView,
  Source,
  UpdateCheck,
  UpdateReady,
  UsageView,
  VideoTracksChanged,
} from './bindings';

// The types of what crosses the boundary are generated from Rust (./bindings, `cargo xtask
// bindings`); these names are the ones the components use.
export type {
  RecordingView,
  SavedRecording,
  UpdateCheck,
  UpdateReady,
  UpdateState,
  DeviceCheckView,
  NetworkCheck,
  Verdict,
  Background,
  BoardUpdate,
  ChatMessage,
  ClassEvent,
  ClassJoined,
  ClassNote,
  ClassRequest,
  ClassSettings,
  ClassStats,
  Counts,
  CourseView,
  DeviceFailed,
  DeviceList,
  DeviceView,
  DownloadLimit,
  DownloadView,
  AssignmentView,
  HandInView,
  HomeworkView,
  OwnHandInView,
  Invite,
  Item,
  ItemView,
  Language,
  LanguageChoice,
  LaunchOptions,
  LessonView,
  LibraryUpdate,
  LibraryView,
  LobbyEntry,
  MaterialKind,
  MaterialView,
  LaserView,
  LobbyPolicy,
  NameRef,
  NearbyClass,
  NearbyClasses,
  NetworkQuality,
  Op,
  PageView,
  ParticipantInfo,
  PollInfo,
  PollResults,
  ReachedClass,
  Reaction,
  Role,
  RollCallInfo,
  Sample,
  ShapeKind,
  SavedFile,
  SaveFormat,
  SavedReport,
  ReportWords,
  RosterImport,
  RosterProblem,
  SearchHitView,
  SessionEnd,
  EndedWhy,
  SessionStatus,
  Settings,
  SettingsView,
  Theme,
  TimerInfo,
  TrackStat,
  UsageView,
  YouInfo,
} from './bindings';

/** Where a received track comes from. */
export type TrackSource = Source;

/** Audio or video. */
export type TrackKind = MediaKind;

/** What a device is for. */
export type DeviceKind = DeviceKindName;

/**
 * The error every command rejects with, `{ kind, message }`, plus `internal` for anything that
 * did not come from the app (Tauri refusing a call, a thrown exception). `kind` picks the
 * sentence the UI shows (errors.ts); `message` is the English detail.
 */
export type AppError = CommandError | { kind: 'internal'; message: string };

/** Every kind an `AppError` can have. */
export type AppErrorKind = AppError['kind'];

/** The form field an error is about, if any. */
export function fieldOf(error: AppError): JoinField | undefined {
  switch (error.kind) {
    case 'invalidName':
      return 'name';
    case 'invalidServer':
      return 'server';
    case 'invalidRoom':
      return 'room';
    case 'invalidToken':
      return 'token';
    case 'invalidCode':
      return 'code';
    default:
      return undefined;
  }
}

/**
 * Turns whatever a rejected `invoke` gave into an `AppError`. The app's own commands reject with
 * `{ kind, message }`; Tauri itself rejects with a plain string (e.g. a refused permission).
 */
export function toAppError(reason: unknown): AppError {
  if (typeof reason === 'object' && reason !== null) {
    const { kind, message } = reason as Record<string, unknown>;
    if (typeof kind === 'string' && typeof message === 'string') {
      return { kind, message } as AppError;
    }
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return { kind: 'internal', message };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toAppError(reason);
  }
}

/** Calls a command with a file's raw bytes as the body and `headers` beside them. */
async function callWithBytes<T>(command: string, body: Uint8Array, headers: Record<string, string>): Promise<T> {
  try {
    return await invoke<T>(command, body, { headers });
  } catch (reason) {
    throw toAppError(reason);
  }
}

/** Tells the app the page has mounted (tests wait for this). */
export function uiReady(): Promise<void> {
  return call('ui_ready');
}

/** Reads the command-line values to pre-fill the join screen. */
export function launchOptions(): Promise<LaunchOptions> {
  return call('launch_options');
}

/**
 * Joins a class as a student, or starts one on this computer as a teacher; rejects with an
 * `AppError`.
 */
export function joinClass(form: JoinForm): Promise<ClassJoined> {
  return call('join_class', { form });
}

/** The received tracks, recent events and whether the session ended. */
export function classStats(): Promise<ClassStats> {
  return call('class_stats');
}

/** Leaves the class (a teacher's leaving ends it). */
export function leaveClass(): Promise<void> {
  return call('leave_class');
}

/**
 * Shares the screen again (teacher): on Wayland the desktop's own dialog asks what to share.
 * Rejects with kind `cancelled` when the dialog is cancelled, which is not a failure.
 */
export function shareScreen(): Promise<void> {
  return call('share_screen');
}

/**
 * Records the class on this computer: `participantId`'s screen while shared, else their
 * camera, and their voice. Rejects with kind `locked` when the school does not let students
 * record. `title` names the library lesson it becomes.
 */
export function startRecording(participantId: string, title: string): Promise<RecordingView> {
  return call('start_recording', { participantId, title });
}

/** Stops the recording and keeps it in the library's recordings. */
export function stopRecording(): Promise<SavedRecording> {
  return call('stop_recording');
}

/** Shares a recording with the class (teacher): students find it in their library. */
export function shareRecording(lessonId: string): Promise<string> {
  return call('share_recording', { lessonId });
}

/** Cameras, microphones and speakers present now, and the remembered choice. */
export function listDevices(): Promise<DeviceList> {
  return call('list_devices');
}

/** Chooses and remembers a device; in a class the camera or microphone switches at once. */
export function chooseDevice(kind: DeviceKind, id: string): Promise<DeviceList> {
  return call('choose_device', { kind, id });
}

/**
 * Classes announced on the school network now (the first call starts looking; changes then
 * arrive through `onNearbyClassesChanged`). Rejects with kind `noNetwork` when it cannot look.
 */
export function nearbyClasses(): Promise<NearbyClasses> {
  return call('nearby_classes');
}

/** Reaches a class from the nearby list: the address that answered and its certificate pin. */
export function reachNearbyClass(id: string): Promise<ReachedClass> {
  return call('reach_nearby_class', { id });
}

/** Calls `handler` with the payload of every `name` event the app sends (typed by name). */
function on<E extends AppEventName>(
  name: E,
  handler: (payload: AppEvents[E]) => void,
): Promise<UnlistenFn> {
  return listen<AppEvents[E]>(name, (event) => handler(event.payload));
}

/** Calls `handler` with the new list whenever a device is plugged in or out. */
export function onDevicesChanged(handler: (list: DeviceList) => void): Promise<UnlistenFn> {
  return on('devices-changed', handler);
}

/**
 * Calls `handler` whenever a video track begins or ends in the class (the tiles come from
 * `classStats`: ask it again at once rather than at the next poll).
 */
export function onVideoTracksChanged(handler: (event: VideoTracksChanged) => void): Promise<UnlistenFn> {
  return on('video-tracks-changed', handler);
}

/** Calls `handler` whenever one of our tracks' devices fails or recovers. */
export function onDeviceFailed(handler: (event: DeviceFailed) => void): Promise<UnlistenFn> {
  return on('device-failed', handler);
}

/**
 * The remembered language and theme, and the language to show now (the desktop's when the
 * choice is "system").
 */
export function getSettings(): Promise<SettingsView> {
  return call('get_settings');
}

/**
 * A report for the school's IT as plain text: the app, the system, GStreamer, devices,
 * networks and the class's tracks. Holds no token, invite, class code or pin.
 */
export function diagnostics(): Promise<string> {
  return call('diagnostics');
}

/** Asks the update service for a newer version; kind `locked` when the school turned updates
 * off (nothing is asked then). */
export function updateCheck(): Promise<UpdateCheck> {
  return call('update_check');
}

/** Downloads and installs the version the last check found; kind `untrusted` when it is not
 * signed by Classroom's publisher (nothing is installed). */
export function updateInstall(): Promise<void> {
  return call('update_install');
}

/**
 * Starts the check before a class: the chosen camera previewed (`previewTrack` for a video
 * tile) and the chosen microphone metered. Kind `alreadyInClass` in a class.
 */
export function deviceCheckStart(): Promise<DeviceCheckView> {
  return call('device_check_start');
}

/** What the running check shows now (the meter's level, frames, failures). */
export function deviceCheckStatus(): Promise<DeviceCheckView> {
  return call('device_check_status');
}

/** Stops the preview and the meter. */
export function deviceCheckStop(): Promise<void> {
  return call('device_check_stop');
}

/**
 * Starts the chosen camera to take homework photos with: previewed like the check's camera
 * (`previewTrack`), polled with `deviceCheckStatus`, stopped with `deviceCheckStop`.
 */
export function cameraPhotoStart(): Promise<DeviceCheckView> {
  return call('camera_photo_start');
}

/** A photo from the camera (JPEG bytes). */
export function cameraPhotoTake(): Promise<ArrayBuffer> {
  return call<ArrayBuffer>('camera_photo_take');
}

/** Plays a short chime on the chosen speaker; resolves once it has played. */
export function speakerTest(): Promise<void> {
  return call('speaker_test');
}

/**
 * Checks the connection to the class server `server` (with the invite's `pin`), or with no
 * server the network a class hosted here would use. Kind `connection` when the server does
 * not answer.
 */
export function networkCheck(server: string | null, pin: string | null): Promise<NetworkCheck> {
  return call('network_check', { server, pin });
}

/** Remembers a new language and theme; rejects with kind `storage` when they cannot be saved. */
export function setSettings(settings: Settings): Promise<SettingsView> {
  return call('set_settings', { settings });
}

/**
 * Asks something of the class (hands, chat, roll call, polls, staff actions). Resolves once it
 * is sent: the server checks it against the sender's role and answers with class events.
 */
export function classRequest(request: ClassRequest): Promise<void> {
  return call('class_request', { request });
}

/**
 * A student on stage starts (`on`) or stops sending camera and microphone. Only ever called
 * from a click: being brought on stage only lets them.
 */
export function stageMedia(on: boolean): Promise<void> {
  return call('stage_media', { on });
}

/**
 * Sends a roster file to the class: its bytes as they are (CSV or tab-separated text in any
 * encoding a spreadsheet saves; the app reads it). `region` ("cn") hints the legacy encoding
 * of a file without a byte-order mark. Resolves with how many students, or why the file was
 * not taken.
 */
export function importRoster(bytes: Uint8Array, region?: string, sheet?: number): Promise<RosterImport> {
  const headers: Record<string, string> = {};
  if (region) headers['roster-region'] = region;
  // A workbook's visible sheet other than its first, by its number in `sheets`.
  if (sheet !== undefined) headers['roster-sheet'] = String(sheet);
  return callWithBytes('import_roster', bytes, headers);
}

/** Saves the attendance report so far as CSV in the teacher's words and time zone, and says where. */
export function exportReport(words: ReportWords): Promise<SavedReport> {
  return call('export_report', { words });
}

/** Calls `handler` with every class event (state, hands, chat, roll call, polls...). */
export function onClassEvent(handler: (event: ClassEvent) => void): Promise<UnlistenFn> {
  return on('class-event', handler);
}

/**
 * Calls `handler` whenever the connection changes: admitted from the lobby, lost, back, or
 * ended.
 */
export function onSessionStatus(handler: (status: SessionStatus) => void): Promise<UnlistenFn> {
  return on('session-status', handler);
}

/** Calls `handler` with the list of classes nearby whenever it changes. */
export function onNearbyClassesChanged(handler: (list: NearbyClasses) => void): Promise<UnlistenFn> {
  return on('nearby-classes-changed', handler);
}

/** Calls `handler` when the app found (`notify`) or installed (`auto`) a newer version by
 * itself, as the school's update policy says. */
export function onUpdateReady(handler: (notice: UpdateReady) => void): Promise<UnlistenFn> {
  return on('update-ready', handler);
}

/** Calls `handler` with an invite link opened while the app runs (it only fills the form). */
export function onInviteLinkOpened(handler: (opened: OpenedLink) => void): Promise<UnlistenFn> {
  return on('invite-link-opened', handler);
}

// ---- the offline library ------------------------------------------------------------------

/** The library: every class's lessons, what is on this computer, downloads under way. */
export function libraryView(): Promise<LibraryView> {
  return call('library_view');
}

/** Fetches the class's lessons into the library. */
export function libraryRefresh(): Promise<LibraryView> {
  return call('library_refresh');
}

/** Lessons whose title or notes have the words typed. */
export function librarySearch(query: string): Promise<SearchHitView[]> {
  return call('library_search', { query });
}

/** A lesson's files. */
export function libraryMaterials(lessonId: string): Promise<MaterialView[]> {
  return call('library_materials', { lessonId });
}

/** Starts downloading a lesson (progress comes as `library-changed`). */
export function libraryDownload(lessonId: string): Promise<void> {
  return call('library_download', { lessonId });
}

/** Pauses, resumes or cancels a lesson's download. */
export function libraryControl(action: 'pause' | 'resume' | 'cancel', lessonId: string): Promise<void> {
  return call(`library_${action}`, { lessonId });
}

/** Keeps a lesson whatever the size limit says, or lets it go. */
export function libraryPin(lessonId: string, pinned: boolean): Promise<void> {
  return call('library_pin', { lessonId, pinned });
}

/** Sets the library's size limit (null: none). */
export function librarySetQuota(bytes: number | null): Promise<UsageView> {
  return call('library_set_quota', { bytes });
}

/**
 * Where a video or sound of the library plays from: the app's loopback file server, which
 * streams it with ranges (WebKitGTK does not stream from custom schemes), so the page never
 * holds the whole file.
 */
export function libraryMediaUrl(lessonId: string, materialId: string): Promise<string> {
  return call('library_media_url', { lessonId, materialId });
}

/** A material's bytes, checked against its hash, to show in the app. */
export async function libraryFile(lessonId: string, materialId: string): Promise<ArrayBuffer> {
  return call<ArrayBuffer>('library_file', { lessonId, materialId });
}

/** "Clear my data": every lesson, file and queued item on this computer. */
export function libraryClear(): Promise<void> {
  return call('library_clear');
}

/** Adds a lesson to the class this teacher hosts; its id. */
export function lessonAdd(title: string): Promise<string> {
  return call('lesson_add', { title });
}

/** The size of each piece of a file sent to the app. */
export const UPLOAD_PIECE = 4 * 1024 * 1024;

/** Hands a file to the app in pieces (`material_upload_piece`); the upload's id. */
async function sendPieces(file: File, progress?: (sent: number, total: number) => void): Promise<string> {
  const uploadId = `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  let offset = 0;
  do {
    const piece = new Uint8Array(await file.slice(offset, offset + UPLOAD_PIECE).arrayBuffer());
    await callWithBytes('material_upload_piece', piece, {
      'upload-id': uploadId,
      'upload-offset': String(offset),
    });
    offset += piece.byteLength;
    progress?.(offset, file.size);
  } while (offset < file.size);
  return uploadId;
}

/**
 * Sends a file to a lesson of the class this teacher hosts: in pieces to the app, which
 * uploads it to the class server. `progress` hears the bytes handed over.
 */
export async function materialUpload(
  lessonId: string,
  file: File,
  progress?: (sent: number, total: number) => void,
): Promise<MaterialView> {
  const uploadId = await sendPieces(file, progress);
  return call('material_upload_finish', {
    uploadId,
    lessonId,
    fileName: file.name,
    mime: file.type,
  });
}

/** The homework in the library, with this student's hand-ins and their marking. */
export function homeworkView(): Promise<HomeworkView> {
  return call('homework_view');
}

/** Fetches the class's homework, sends hand-ins waiting to go, brings back marking. */
export function homeworkRefresh(): Promise<HomeworkView> {
  return call('homework_refresh');
}

/** Sets homework for the class this teacher hosts. */
export function homeworkSet(title: string, instructions: string, dueMs: number | null): Promise<HomeworkView> {
  return call('homework_set', { title, instructions, dueMs });
}

/**
 * Hands in `files` as one piece of work named `fileName`: a photo or a PDF, or several photos
 * (made one PDF of a page each). Photos are made upright, scaled and stripped of metadata.
 */
export async function homeworkHandIn(assignmentId: string, files: File[], fileName: string): Promise<HomeworkView> {
  const uploadIds: string[] = [];
  for (const file of files) uploadIds.push(await sendPieces(file));
  return call('homework_hand_in', { uploadIds, fileNames: files.map((f) => f.name), assignmentId, fileName });
}

/** The teacher's marked copy of one of this student's hand-ins (a PNG). */
export function homeworkMarkedCopy(submissionId: string): Promise<ArrayBuffer> {
  return call<ArrayBuffer>('homework_marked_copy', { submissionId });
}

/** The class's hand-ins (a teacher). */
export function homeworkHandIns(): Promise<HandInView[]> {
  return call('homework_hand_ins');
}

/** Opens a hand-in for marking (a teacher): the picture. */
export function homeworkOpen(key: string): Promise<ArrayBuffer> {
  return call<ArrayBuffer>('homework_open', { key });
}

/** Returns the open hand-in marked. */
export function homeworkReturn(key: string, mark: string, feedback: string, items: Item[]): Promise<HandInView> {
  return call('homework_return', { key, mark, feedback, items });
}

/** Saves the marked copy of one of this student's hand-ins where downloads go. */
export function homeworkSaveCopy(submissionId: string): Promise<SavedFile> {
  return call('homework_save_copy', { submissionId });
}

/** Calls `handler` with each change of the library (download progress, ends, failures). */
export function onLibraryChanged(handler: (update: LibraryUpdate) => void): Promise<UnlistenFn> {
  return on('library-changed', handler);
}

// ---- the whiteboard ------------------------------------------------------------------------

/** The whole whiteboard (changes then come as `board-changed`). */
export function boardView(): Promise<BoardUpdate> {
  return call('board_view');
}

/** Sends a whiteboard change (the server checks it; everyone gets it in one order). */
export function boardSend(op: Op): Promise<void> {
  return call('board_send', { op });
}

/** Undoes (or redoes) one's latest whiteboard change; false when there is none. */
export function boardUndo(redo: boolean): Promise<boolean> {
  return call('board_undo', { redo });
}

/** Saves the whiteboard where downloads go: `page` (none: the one shown) as PNG, or every page as PDF. */
export function boardSave(format: SaveFormat, page: string | null = null): Promise<SavedFile> {
  return call('board_save', { format, page });
}

/** Calls `handler` with each change of the whiteboard. */
export function onBoardChanged(handler: (update: BoardUpdate) => void): Promise<UnlistenFn> {
  return on('board-changed', handler);
}
