// The library screen's words and numbers: sizes, download progress, what a lesson's state is.
// Pure functions over the generated types, tested in library.test.ts.

import type { DownloadView, LessonView, MaterialKind } from './api';
import { formatNumber, t } from './i18n.svelte';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** A size in the units people read (decimal: 1 MB = 1,000,000 bytes, as disks are sold). */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${formatNumber(value, { maximumFractionDigits: digits })} ${UNITS[unit]}`;
}

/** A duration in seconds as "8 s", "3 min", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('library.seconds', { n: s });
  const minutes = Math.round(s / 60);
  if (minutes < 60) return t('library.minutes', { n: minutes });
  return t('library.hours', { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/** The percentage done, 0 to 100 (a download of nothing is done). */
export function percent(download: Pick<DownloadView, 'done' | 'total'>): number {
  if (download.total <= 0) return 100;
  return Math.min(100, Math.max(0, Math.round((download.done / download.total) * 100)));
}

/** The line under a download's progress bar. */
export function progressText(download: DownloadView): string {
  const amounts = t('library.progressBytes', {
    done: formatBytes(download.done),
    total: formatBytes(download.total),
  });
  if (download.paused) return t('library.progressPaused', { amounts });
  if (download.retrying !== null) return t('library.progressRetrying', { amounts });
  if (download.bytesPerSecond > 0 && download.secondsLeft !== null) {
    return t('library.progressRate', {
      amounts,
      rate: formatBytes(download.bytesPerSecond),
      left: formatDuration(download.secondsLeft),
    });
  }
  return amounts;
}

/** What a lesson is on this computer: offline, partly, downloading, or not at all. */
export type LessonState = 'downloading' | 'offline' | 'partial' | 'online' | 'empty';

export function lessonState(lesson: LessonView): LessonState {
  if (lesson.download !== null) return 'downloading';
  if (lesson.materials === 0) return 'empty';
  if (lesson.offline) return 'offline';
  if (lesson.materialsOffline > 0) return 'partial';
  return 'online';
}

/** The course recordings made on this computer are kept in (`recording.rs`). */
export const RECORDINGS_COURSE = 'this-computer:recordings';

/** A course's title as shown: the recordings' in the reader's language. */
export function courseTitle(course: { id: string; title: string }): string {
  return course.id === RECORDINGS_COURSE ? t('library.recordings') : course.title;
}

/** How a material is shown in the app, by its media type. */
export type Viewer = 'image' | 'video' | 'audio' | 'text' | 'none';

export function viewerFor(mime: string, kind: MaterialKind): Viewer {
  const type = mime.toLowerCase();
  if (type.startsWith('image/') || kind === 'image') return 'image';
  if (type.startsWith('video/') || kind === 'video') return 'video';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('text/')) return 'text';
  return 'none';
}

/** The size limits the settings offer, in bytes (null: none). */
export const QUOTA_CHOICES: readonly (number | null)[] = [
  null,
  1_000_000_000,
  2_000_000_000,
  5_000_000_000,
  10_000_000_000,
  20_000_000_000,
];

/** A search hit's snippet as text and marked words: "a [word] b" -> a, word (marked), b. */
export function snippetParts(snippet: string): { text: string; marked: boolean }[] {
  const parts: { text: string; marked: boolean }[] = [];
  const pattern = /\[([^\]]*)\]/gu;
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: snippet.slice(last, match.index), marked: false });
    parts.push({ text: match[1], marked: true });
    last = match.index + match[0].length;
  }
  if (last < snippet.length) parts.push({ text: snippet.slice(last), marked: false });
  return parts;
}
