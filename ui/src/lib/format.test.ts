import { describe, expect, it } from 'vitest';
import type { TrackStat } from './api';
import {
  formatCount,
  formatDb,
  formatFps,
  formatKbps,
  formatResolution,
  levelPercent,
  levelTone,
  newestFirst,
  NOT_AVAILABLE,
  roleLabel,
  sortTracks,
  sourceLabel,
  speakerLabel,
} from './format';

describe('levelPercent', () => {
  it('maps -60..0 dBFS linearly onto 0..100', () => {
    expect(levelPercent(-60)).toBe(0);
    expect(levelPercent(-30)).toBe(50);
    expect(levelPercent(-15)).toBe(75);
    expect(levelPercent(0)).toBe(100);
    expect(levelPercent(-20)).toBe(66.7);
  });

  it('clamps and treats unknown as empty', () => {
    expect(levelPercent(-90)).toBe(0);
    expect(levelPercent(3)).toBe(100);
    expect(levelPercent(null)).toBe(0);
    expect(levelPercent(undefined)).toBe(0);
    expect(levelPercent(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(levelPercent(Number.NaN)).toBe(0);
  });
});

describe('levelTone and formatDb', () => {
  it('colours silence, normal levels and near-clipping', () => {
    expect(levelTone(null)).toBe('silent');
    expect(levelTone(-60)).toBe('silent');
    expect(levelTone(-20)).toBe('ok');
    expect(levelTone(-3)).toBe('ok');
    expect(levelTone(-1)).toBe('hot');
  });

  it('shows whole decibels', () => {
    expect(formatDb(-12.4)).toBe('-12 dB');
    expect(formatDb(-0.2)).toBe('0 dB');
    expect(formatDb(2)).toBe('0 dB');
    expect(formatDb(-75)).toBe('silent');
    expect(formatDb(null)).toBe('silent');
  });
});

describe('formatFps', () => {
  it('keeps one decimal', () => {
    expect(formatFps(29.97)).toBe('30.0');
    expect(formatFps(14.94)).toBe('14.9');
    expect(formatFps(0)).toBe('0.0');
  });

  it('shows a dash for nonsense', () => {
    expect(formatFps(Number.NaN)).toBe(NOT_AVAILABLE);
    expect(formatFps(-1)).toBe(NOT_AVAILABLE);
    expect(formatFps(null)).toBe(NOT_AVAILABLE);
  });
});

describe('formatKbps and formatCount', () => {
  it('rounds and groups thousands', () => {
    expect(formatKbps(812.4)).toBe('812');
    expect(formatKbps(2540.6)).toBe('2,541');
    expect(formatKbps(3.24)).toBe('3.2');
    expect(formatKbps(0)).toBe('0.0');
    expect(formatKbps(Number.POSITIVE_INFINITY)).toBe(NOT_AVAILABLE);
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(null)).toBe(NOT_AVAILABLE);
  });
});

describe('formatResolution', () => {
  it('shows WxH with a multiplication sign', () => {
    expect(formatResolution('1280x720', 'video')).toBe('1280 × 720');
    expect(formatResolution('odd', 'video')).toBe('odd');
  });

  it('shows a dash for audio and before the first frame', () => {
    expect(formatResolution(null, 'video')).toBe(NOT_AVAILABLE);
    expect(formatResolution('1280x720', 'audio')).toBe(NOT_AVAILABLE);
  });
});

describe('labels', () => {
  it('names sources and roles', () => {
    expect(sourceLabel('camera')).toBe('Camera');
    expect(sourceLabel('microphone')).toBe('Microphone');
    expect(sourceLabel('screen')).toBe('Screen');
    expect(sourceLabel('whiteboard')).toBe('Whiteboard');
    expect(sourceLabel('')).toBe('Unknown');
    expect(sourceLabel('toString')).toBe('ToString');
    expect(roleLabel('teacher')).toBe('Teacher');
    expect(roleLabel('student')).toBe('Student');
  });
});

describe('sortTracks', () => {
  const track = (trackId: string, source: TrackStat['source']): TrackStat => ({
    trackId,
    participantId: 'p1',
    source,
    kind: source === 'microphone' ? 'audio' : 'video',
    packets: 0,
    frames: 0,
    fps: 0,
    kbps: 0,
    resolution: null,
    freezes: 0,
    audioPeakDb: null,
    speaking: false,
  });

  it('orders camera, screen, microphone, then by id, without touching the input', () => {
    const input = [track('m', 'microphone'), track('s', 'screen'), track('c2', 'camera'), track('c1', 'camera')];
    expect(sortTracks(input).map((t) => t.trackId)).toEqual(['c1', 'c2', 's', 'm']);
    expect(input.map((t) => t.trackId)).toEqual(['m', 's', 'c2', 'c1']);
  });
});

describe('speakerLabel', () => {
  it('says who the class hears', () => {
    expect(speakerLabel(null, 'p-1')).toBe('Nobody is speaking');
    expect(speakerLabel('p-2', 'p-1', 'Ms. Rivera')).toContain('Ms. Rivera');
    expect(speakerLabel('p-2', 'p-1', 'Ms. Rivera')).not.toContain('p-2');
    expect(speakerLabel('', 'p-1')).toBe('Nobody is speaking');
    expect(speakerLabel('p-1', 'p-1')).toBe('You are speaking');
    expect(speakerLabel('p-2', 'p-1')).toBe('p-2 is speaking');
    expect(speakerLabel('p-2', null)).toBe('p-2 is speaking');
  });
});

describe('newestFirst', () => {
  it('keeps the newest and reverses', () => {
    expect(newestFirst(['a', 'b', 'c', 'd'], 3)).toEqual(['d', 'c', 'b']);
    expect(newestFirst(['a'], 5)).toEqual(['a']);
    expect(newestFirst([], 5)).toEqual([]);
  });
});
