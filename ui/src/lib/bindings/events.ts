// Generated from the Rust types by `cargo xtask bindings`. Do not edit.
import type { DeviceFailed } from './DeviceFailed';
import type { DeviceList } from './DeviceList';

/** Every event the app sends the page, by name, with the type of its payload. */
export interface AppEvents {
  'devices-changed': DeviceList;
  'device-failed': DeviceFailed;
}

/** The name of an event the app sends. */
export type AppEventName = keyof AppEvents;
