// Typed wrappers around the Rust commands in src-tauri/src/commands/. Components call these and
// never `invoke` directly, so a renamed command or field breaks in one place. Field names are the
// camelCase JSON Rust's serde produces.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { JoinField, JoinForm, Role } from './join';

/**
 * Values from the command line (`--role --server --room --name --token --join`); null where not
 * given. With `join` the page submits the pre-filled form by itself once it has mounted.
 */
export interface LaunchOptions {
  role: Role | null;
  server: string | null;
  room: string | null;
  name: string | null;
  token: string | null;
  join: boolean;
}

/** What students need to join a teacher's class; the teacher shares it. */
export interface Invite {
  server: string;
  room: string;
  token: string;
}

/** What `join_class` returns once the app is in the class. */
export interface ClassJoined {
  role: Role;
  room: string;
  server: string;
  /** Our id in the class, once the server has said it. */
  participantId: string | null;
  /** Set for a teacher: what the students need to join. */
  invite: Invite | null;
}

/** Where a received track comes from. */
export type TrackSource = 'camera' | 'microphone' | 'screen';

/** Audio or video. */
export type TrackKind = 'audio' | 'video';

/** One received track in a `class_stats` snapshot. */
export interface TrackStat {
  trackId: string;
  source: TrackSource;
  kind: TrackKind;
  /** RTP packets received so far. */
  packets: number;
  /** Frames decoded so far. */
  frames: number;
  /** Frames per second since the previous snapshot. */
  fps: number;
  /** Kilobits per second since the previous snapshot. */
  kbps: number;
  /** Latest frame size as `WxH`; null for audio or before the first frame. */
  resolution: string | null;
  /** Freezes so far. */
  freezes: number;
  /** Latest audio peak in dBFS; null for video or silence. */
  audioPeakDb: number | null;
  /** Its publisher is the one the class hears most now (the server's active speaker). */
  speaking: boolean;
}

/** What `class_stats` returns: the class view's periodic snapshot. */
export interface ClassStats {
  tracks: TrackStat[];
  /** Recent human-readable session events, oldest first. */
  events: string[];
  /** Why the session ended; null while it runs. */
  closed: string | null;
  /** Our published tracks whose device failed (a stand-in is being sent). */
  failedTracks: TrackSource[];
  /** Our microphone's input level (RMS dBFS); null when it is not a captured device. */
  microphoneLevelDb: number | null;
  /** The participant id the class hears most now (perhaps ours); null while nobody speaks. */
  activeSpeaker: string | null;
}

/** What a device is for. */
export type DeviceKind = 'camera' | 'microphone' | 'speaker';

/** One camera, microphone or speaker. */
export interface DeviceView {
  kind: DeviceKind;
  /** Stable id (`cpal:default`, `pulse:…`, `v4l2:/dev/video0`): what `chooseDevice` takes. */
  id: string;
  name: string;
  isDefault: boolean;
}

/** What `list_devices` returns and `devices-changed` carries. */
export interface DeviceList {
  devices: DeviceView[];
  /** The remembered choice per kind (device ids). */
  chosen: Record<DeviceKind, string | null>;
}

/**
 * Rust's `AppError` kinds; `internal` stands for anything that did not come from the app. A kind
 * the UI does not know yet still arrives (as a string) and is shown as a general failure.
 */
export type AppErrorKind =
  | 'invalidName'
  | 'invalidServer'
  | 'invalidRoom'
  | 'invalidToken'
  | 'refused'
  | 'connection'
  | 'media'
  | 'alreadyInClass'
  | 'notInClass'
  | 'unknownDevice'
  | 'cancelled'
  | 'internal';

/** The error every command rejects with: `{ kind, message }`. */
export interface AppError {
  kind: AppErrorKind;
  message: string;
}

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
      return { kind: kind as AppErrorKind, message };
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

/** Cameras, microphones and speakers present now, and the remembered choice. */
export function listDevices(): Promise<DeviceList> {
  return call('list_devices');
}

/** Chooses and remembers a device; in a class the camera or microphone switches at once. */
export function chooseDevice(kind: DeviceKind, id: string): Promise<DeviceList> {
  return call('choose_device', { kind, id });
}

/** Calls `handler` with the new list whenever a device is plugged in or out. */
export function onDevicesChanged(handler: (list: DeviceList) => void): Promise<UnlistenFn> {
  return listen<DeviceList>('devices-changed', (event) => handler(event.payload));
}

/** One of our published tracks lost its device (a stand-in is sent), or got it back. */
export interface DeviceFailed {
  source: TrackSource;
  /** Why; null when it is back. */
  message: string | null;
  recovered: boolean;
}

/** Calls `handler` whenever one of our tracks' devices fails or recovers. */
export function onDeviceFailed(handler: (event: DeviceFailed) => void): Promise<UnlistenFn> {
  return listen<DeviceFailed>('device-failed', (event) => handler(event.payload));
}
