// Pure helpers that turn `class_stats` numbers into what the class view shows. Kept free of
// Svelte and the DOM so vitest covers them in plain Node.

import type { TrackKind, TrackSource, TrackStat } from './api';
import { t } from './i18n.svelte';
import type { Role } from './join';

/** The quietest level the meter shows; anything at or below it is an empty bar. */
export const METER_FLOOR_DB = -60;

/** Shown where a number does not apply or is not known yet. */
export const NOT_AVAILABLE = '—';

// Fixed locale, so the output does not depend on the machine (or the test runner).
const counts = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * An audio peak in dBFS as a meter width in percent: -60 dBFS (or quieter, or unknown) is 0,
 * 0 dBFS is 100, linear in between.
 */
export function levelPercent(db: number | null | undefined): number {
  if (!finite(db)) return 0;
  const percent = ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * 100;
  return Math.min(100, Math.max(0, Math.round(percent * 10) / 10));
}

/** A meter's value for assistive technology: the level, held within the meter's range. */
export function meterValue(db: number | null | undefined): number {
  return Math.max(METER_FLOOR_DB, Math.min(0, db ?? METER_FLOOR_DB));
}

/** How the meter is coloured: nothing heard, a normal level, or close to clipping. */
export type LevelTone = 'silent' | 'ok' | 'hot';

/** The meter colour for an audio peak in dBFS. */
export function levelTone(db: number | null | undefined): LevelTone {
  if (!finite(db) || db <= METER_FLOOR_DB) return 'silent';
  return db > -3 ? 'hot' : 'ok';
}

/** An audio peak as text, like "-12 dB"; "silent" when nothing is heard. */
export function formatDb(db: number | null | undefined): string {
  if (!finite(db) || db <= METER_FLOOR_DB) return t('tracks.silent');
  const rounded = Math.round(Math.min(db, 0));
  // No "-0 dB".
  return t('tracks.db', { db: String(rounded === 0 ? 0 : rounded) });
}

/** Frames per second with one decimal, like "29.9". */
export function formatFps(fps: number | null | undefined): string {
  if (!finite(fps) || fps < 0) return NOT_AVAILABLE;
  return fps.toFixed(1);
}

/** Kilobits per second: whole numbers with thousands separators, one decimal below 10. */
export function formatKbps(kbps: number | null | undefined): string {
  if (!finite(kbps) || kbps < 0) return NOT_AVAILABLE;
  if (kbps < 10) return kbps.toFixed(1);
  return counts.format(kbps);
}

/** A counter such as frames or freezes, with thousands separators. */
export function formatCount(count: number | null | undefined): string {
  if (!finite(count) || count < 0) return NOT_AVAILABLE;
  return counts.format(count);
}

/** A frame size from Rust's `WxH`, shown as "1280 × 720"; a dash for audio or before a frame. */
export function formatResolution(resolution: string | null | undefined, kind: TrackKind): string {
  if (kind === 'audio' || resolution === null || resolution === undefined || resolution === '') {
    return NOT_AVAILABLE;
  }
  const size = /^(\d+)x(\d+)$/u.exec(resolution);
  return size === null ? resolution : `${size[1]} × ${size[2]}`;
}

const sourceLabels: Record<TrackSource, () => string> = {
  camera: () => t('sources.camera'),
  microphone: () => t('sources.microphone'),
  screen: () => t('sources.screen'),
};

/**
 * A track as people name it: "Ada · Camera" when the class lets this receiver see who sends
 * it (staff, students on stage), else only its source.
 */
export function trackLabel(source: string, name: string | null | undefined): string {
  const what = sourceLabel(source);
  return name == null || name === '' ? what : t('tracks.ofPerson', { name, source: what });
}

/** "Camera", "Microphone" or "Screen"; an unknown source is shown capitalised as given. */
export function sourceLabel(source: string): string {
  if (Object.prototype.hasOwnProperty.call(sourceLabels, source)) {
    return sourceLabels[source as TrackSource]();
  }
  return source === '' ? t('sources.unknown') : source[0].toUpperCase() + source.slice(1);
}

/** "Teacher" or "Student". */
export function roleLabel(role: Role): string {
  return role === 'teacher' ? t('roles.teacher') : t('roles.student');
}

const sourceOrder: Record<string, number> = { camera: 0, screen: 1, microphone: 2 };

/** Tracks in a steady order for the table: camera, screen, microphone, then by track id. */
export function sortTracks(tracks: readonly TrackStat[]): TrackStat[] {
  const rank = (track: TrackStat) => sourceOrder[track.source] ?? 3;
  return [...tracks].sort(
    (a, b) => rank(a) - rank(b) || (a.trackId < b.trackId ? -1 : a.trackId > b.trackId ? 1 : 0),
  );
}

/**
 * Who the class hears most, for the class view: us, nobody, or the speaker by id (the class view
 * knows participants by id; their received tracks are marked as well).
 */
export function speakerLabel(
  activeSpeaker: string | null,
  you: string | null,
  name: string | null = null,
): string {
  if (activeSpeaker === null || activeSpeaker === '') return t('classView.nobodySpeaking');
  if (activeSpeaker === you) return t('classView.youSpeaking');
  // By name where the class shows who that is (staff, the stage), else by id.
  return t('classView.someoneSpeaking', { id: name ?? activeSpeaker });
}

/** The newest `limit` events, newest first (Rust sends them oldest first). */
export function newestFirst<T>(events: readonly T[], limit: number): T[] {
  return events.slice(Math.max(0, events.length - limit)).reverse();
}
