import { afterEach, describe, expect, it } from 'vitest';
import type { DownloadView, LessonView } from './api';
import { setLanguage } from './i18n.svelte';
import {
  RECORDINGS_COURSE,
  courseTitle,
  formatBytes,
  formatDuration,
  lessonState,
  percent,
  progressText,
  snippetParts,
  viewerFor,
} from './library';

afterEach(() => setLanguage('en'));

const download = (over: Partial<DownloadView> = {}): DownloadView => ({
  done: 4_200_000,
  total: 12_000_000,
  bytesPerSecond: 1_000_000,
  secondsLeft: 7.8,
  paused: false,
  retrying: null,
  ...over,
});

const lesson = (over: Partial<LessonView> = {}): LessonView => ({
  id: 'l1',
  title: 'Forces',
  pinned: false,
  materials: 2,
  materialsOffline: 0,
  bytes: 10,
  bytesOffline: 0,
  offline: false,
  download: null,
  ...over,
});

describe('library words', () => {
  it('sizes read in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(200_000_000)).toBe('200 MB');
    expect(formatBytes(5_000_000_000)).toBe('5 GB');
    expect(formatBytes(-1)).toBe('0 B');
  });

  it('durations read as seconds, minutes, hours', () => {
    expect(formatDuration(7.8)).toBe('8 s');
    expect(formatDuration(150)).toBe('3 min');
    expect(formatDuration(3_900)).toBe('1 h 5 min');
  });

  it('progress says how much, how fast and how long, or why it waits', () => {
    expect(percent(download())).toBe(35);
    expect(percent({ done: 0, total: 0 })).toBe(100);
    expect(progressText(download())).toBe('4.2 MB of 12 MB · 1 MB/s · 8 s left');
    expect(progressText(download({ paused: true }))).toBe('Paused · 4.2 MB of 12 MB');
    expect(progressText(download({ retrying: 'refused' }))).toBe(
      'Waiting for the network · 4.2 MB of 12 MB',
    );
    expect(progressText(download({ bytesPerSecond: 0, secondsLeft: null }))).toBe('4.2 MB of 12 MB');
    setLanguage('zh-CN');
    expect(progressText(download())).toContain('剩余');
  });

  it('a lesson is downloading, offline, partly there, online only or empty', () => {
    expect(lessonState(lesson())).toBe('online');
    expect(lessonState(lesson({ materialsOffline: 1 }))).toBe('partial');
    expect(lessonState(lesson({ materialsOffline: 2, offline: true }))).toBe('offline');
    expect(lessonState(lesson({ materials: 0 }))).toBe('empty');
    expect(lessonState(lesson({ download: download() }))).toBe('downloading');
  });

  it('materials show by their media type', () => {
    expect(viewerFor('image/png', 'image')).toBe('image');
    expect(viewerFor('video/mp4', 'video')).toBe('video');
    expect(viewerFor('audio/ogg', 'other')).toBe('audio');
    expect(viewerFor('text/plain', 'other')).toBe('text');
    expect(viewerFor('application/pdf', 'pdf')).toBe('none');
  });

  it('snippets mark the words found', () => {
    expect(snippetParts('…and [potential] energy')).toEqual([
      { text: '…and ', marked: false },
      { text: 'potential', marked: true },
      { text: ' energy', marked: false },
    ]);
    expect(snippetParts('物理[第三]课')).toEqual([
      { text: '物理', marked: false },
      { text: '第三', marked: true },
      { text: '课', marked: false },
    ]);
    expect(snippetParts('')).toEqual([]);
    expect(snippetParts('plain')).toEqual([{ text: 'plain', marked: false }]);
  });
});

describe('courseTitle', () => {
  it("names this computer's recordings in the reader's language and a class's course as it is", () => {
    expect(courseTitle({ id: RECORDINGS_COURSE, title: 'Recordings' })).toBe('Recordings on this computer');
    setLanguage('zh-CN');
    expect(courseTitle({ id: RECORDINGS_COURSE, title: 'Recordings' })).toBe('本机录制');
    expect(courseTitle({ id: 'physics-7b', title: 'Physics 7B' })).toBe('Physics 7B');
  });
});
