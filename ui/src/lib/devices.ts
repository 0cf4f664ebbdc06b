// The device picker's logic, kept out of the component so it is tested without a webview.
// Devices and the remembered choice come from Rust (`list_devices`, `devices-changed`).

import type { DeviceFailed, DeviceKind, DeviceList, DeviceView, TrackSource } from './api';
import { t } from './i18n.svelte';

/** The kinds the picker shows, in order, with their labels in the current language. */
export const DEVICE_KINDS: readonly { kind: DeviceKind; label: () => string }[] = [
  { kind: 'camera', label: () => t('devices.camera') },
  { kind: 'microphone', label: () => t('devices.microphone') },
  { kind: 'speaker', label: () => t('devices.speaker') },
];

/** The devices of one kind: the system default first, then by name. */
export function optionsFor(list: DeviceList | null, kind: DeviceKind): DeviceView[] {
  if (list === null) return [];
  return list.devices
    .filter((d) => d.kind === kind)
    .sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name));
}

/** What a class would use: the remembered device if connected, else the default, else the first; '' for none. */
export function selectedId(list: DeviceList | null, kind: DeviceKind): string {
  const options = optionsFor(list, kind);
  const remembered = list?.chosen[kind] ?? null;
  if (remembered !== null && options.some((d) => d.id === remembered)) return remembered;
  return options[0]?.id ?? '';
}

/** A note when the remembered device is not connected, or when there is none of a kind. */
export function noticeFor(list: DeviceList | null, kind: DeviceKind): string | null {
  if (list === null) return null;
  const options = optionsFor(list, kind);
  const remembered = list.chosen[kind];
  if (options.length === 0) {
    return kind === 'camera'
      ? t('devices.noCamera')
      : kind === 'microphone'
        ? t('devices.noMicrophone')
        : t('devices.noSpeaker');
  }
  if (remembered !== null && !options.some((d) => d.id === remembered)) {
    return t('devices.chosenMissing');
  }
  return null;
}

/** The option text: the name, marked when it is the system default. */
export function optionLabel(device: DeviceView): string {
  return device.isDefault ? t('devices.withDefault', { name: device.name }) : device.name;
}

/** Failed tracks after `event`: a failure is recorded with its reason, a recovery clears it. */
export function applyFailure(
  failures: Partial<Record<TrackSource, string>>,
  event: DeviceFailed,
): Partial<Record<TrackSource, string>> {
  const next = { ...failures };
  if (event.recovered) delete next[event.source];
  else next[event.source] = event.message ?? 'failed';
  return next;
}
