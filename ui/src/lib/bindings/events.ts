// Generated from the Rust types by `cargo xtask bindings`. Do not edit.
import type { BoardUpdate } from './BoardUpdate';
import type { ClassEvent } from './ClassEvent';
import type { DeviceFailed } from './DeviceFailed';
import type { DeviceList } from './DeviceList';
import type { LibraryUpdate } from './LibraryUpdate';
import type { NearbyClasses } from './NearbyClasses';
import type { OpenedLink } from './OpenedLink';
import type { SessionStatus } from './SessionStatus';
import type { UpdateReady } from './UpdateReady';
import type { VideoTracksChanged } from './VideoTracksChanged';

/** Every event the app sends the page, by name, with the type of its payload. */
export interface AppEvents {
  'devices-changed': DeviceList;
  'device-failed': DeviceFailed;
  'class-event': ClassEvent;
  'session-status': SessionStatus;
  'nearby-classes-changed': NearbyClasses;
  'invite-link-opened': OpenedLink;
  'library-changed': LibraryUpdate;
  'board-changed': BoardUpdate;
  'update-ready': UpdateReady;
  'video-tracks-changed': VideoTracksChanged;
}

/** The name of an event the app sends. */
export type AppEventName = keyof AppEvents;
