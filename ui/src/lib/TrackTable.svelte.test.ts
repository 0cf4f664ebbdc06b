// @vitest-environment jsdom
// A `.svelte.test.ts` file, so `$state` can stand in for the class view's next poll.
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrackStat } from './api';
import { render, text, type Mounted } from './testing';
import TrackTable from './TrackTable.svelte';

function track(overrides: Partial<TrackStat> & Pick<TrackStat, 'trackId' | 'source' | 'kind'>): TrackStat {
  return {
    participantId: 'p1',
    packets: 0,
    frames: 0,
    fps: 0,
    kbps: 0,
    resolution: null,
    freezes: 0,
    audioPeakDb: null,
    speaking: false,
    ...overrides,
  };
}

const camera = track({
  trackId: 'v1',
  source: 'camera',
  kind: 'video',
  frames: 12345,
  fps: 29.97,
  kbps: 812.4,
  resolution: '1280x720',
  speaking: true,
});
/** Stopped arriving: no frames in the last second, and it froze. */
const frozenScreen = track({
  trackId: 'v2',
  source: 'screen',
  kind: 'video',
  frames: 300,
  fps: 0,
  kbps: 0,
  resolution: '1920x1080',
  freezes: 3,
});
const speakingMicrophone = track({
  trackId: 'a1',
  source: 'microphone',
  kind: 'audio',
  frames: 2500,
  kbps: 32.1,
  audioPeakDb: -12.4,
  speaking: true,
});

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
});

function show(tracks: TrackStat[]): HTMLElement {
  mounted = render(TrackTable, { tracks });
  return mounted.target;
}

/** Each body row as its cells' text, header cell first. */
function rows(target: HTMLElement): string[][] {
  return [...target.querySelectorAll('tbody tr')].map((row) => [...row.children].map((cell) => text(cell)));
}

function row(target: HTMLElement, trackId: string): HTMLTableRowElement {
  const header = target.querySelector(`tbody th[title="${trackId}"]`);
  const found = header?.closest('tr');
  if (found === null || found === undefined) throw new Error(`no row for ${trackId}`);
  return found;
}

function meter(target: HTMLElement, trackId: string): HTMLElement {
  const found = row(target, trackId).querySelector<HTMLElement>('[role="meter"]');
  if (found === null) throw new Error(`no meter on ${trackId}`);
  return found;
}

describe('TrackTable', () => {
  it('lists each track in the given order with fps, kbit/s, frames and freezes', () => {
    const target = show([camera, frozenScreen, speakingMicrophone]);
    expect([...target.querySelectorAll('thead th')].map((th) => text(th))).toEqual([
      'Source',
      'Resolution',
      'fps',
      'kbit/s',
      'Frames',
      'Freezes',
      'Level',
    ]);
    expect(rows(target)).toEqual([
      ['Camera', '1280 × 720', '30.0', '812', '12,345', '0', '—'],
      ['Screen', '1920 × 1080', '0.0', '0.0', '300', '3', '—'],
      ['Microphone', '—', '—', '32', '2,500', '0', '-12 dB'],
    ]);
  });

  it('marks a frozen track: its freezes stand out, the others do not', () => {
    const target = show([camera, frozenScreen]);
    const freezes = (id: string) => row(target, id).querySelectorAll('td')[4];
    expect(freezes('v2').classList.contains('warn')).toBe(true);
    expect(freezes('v1').classList.contains('warn')).toBe(false);
  });

  it('puts the speaking dot on the speaking microphone only, and marks its row', () => {
    const quietMicrophone = track({ trackId: 'a2', source: 'microphone', kind: 'audio' });
    const target = show([camera, speakingMicrophone, quietMicrophone]);
    const dots = target.querySelectorAll('.speaking-dot');
    expect(dots).toHaveLength(1);
    expect(dots[0].closest('tr')).toBe(row(target, 'a1'));
    expect(dots[0].getAttribute('aria-label')).toBe('speaking');
    // The camera of a speaking publisher marks its row too, but gets no dot: its tile is outlined.
    expect(row(target, 'v1').classList.contains('speaking')).toBe(true);
    expect(row(target, 'a1').classList.contains('speaking')).toBe(true);
    expect(row(target, 'a2').classList.contains('speaking')).toBe(false);
  });

  it('draws the level meter from the audio peak, and an empty one for silence', () => {
    const hot = track({ trackId: 'a3', source: 'microphone', kind: 'audio', audioPeakDb: -1 });
    const silent = track({ trackId: 'a4', source: 'microphone', kind: 'audio', audioPeakDb: null });
    const target = show([speakingMicrophone, hot, silent]);

    const normal = meter(target, 'a1');
    expect(normal.getAttribute('aria-valuenow')).toBe('-12.4');
    expect(normal.getAttribute('aria-valuetext')).toBe('-12 dB');
    expect(normal.getAttribute('aria-label')).toBe('Microphone level');
    const fill = normal.querySelector<HTMLElement>('.meter-fill');
    expect(fill?.style.width).toBe('79.3%');
    expect(fill?.classList.contains('ok')).toBe(true);

    expect(meter(target, 'a3').querySelector('.meter-fill')?.classList.contains('hot')).toBe(true);

    const quiet = meter(target, 'a4');
    expect(quiet.getAttribute('aria-valuenow')).toBe('-60');
    expect(quiet.getAttribute('aria-valuetext')).toBe('silent');
    expect(quiet.querySelector<HTMLElement>('.meter-fill')?.style.width).toBe('0%');
    expect(quiet.querySelector('.meter-fill')?.classList.contains('silent')).toBe(true);
    expect(text(row(target, 'a4').querySelector('.db'))).toBe('silent');
  });

  it('shows dashes for a track that never got through, and for bad numbers', () => {
    const failed = track({
      trackId: 'v9',
      source: 'camera',
      kind: 'video',
      fps: Number.NaN,
      kbps: -1,
      frames: Number.POSITIVE_INFINITY,
    });
    const target = show([failed]);
    expect(rows(target)).toEqual([['Camera', '—', '—', '—', '—', '0', '—']]);
    expect(target.querySelector('[role="meter"]')).toBeNull();
  });

  it('updates the rows in place when the next snapshot arrives', () => {
    const props = $state({ tracks: [camera, speakingMicrophone] });
    mounted = render(TrackTable, props);
    const target = mounted.target;
    const cameraRow = row(target, 'v1');

    props.tracks = [
      { ...camera, fps: 15, kbps: 402, freezes: 1, speaking: false },
      { ...speakingMicrophone, audioPeakDb: -30, speaking: false },
    ];
    flushSync();

    expect(row(target, 'v1')).toBe(cameraRow);
    expect(rows(target)).toEqual([
      ['Camera', '1280 × 720', '15.0', '402', '12,345', '1', '—'],
      ['Microphone', '—', '—', '32', '2,500', '0', '-30 dB'],
    ]);
    expect(target.querySelector('.speaking-dot')).toBeNull();
    expect(target.querySelectorAll('tr.speaking')).toHaveLength(0);
  });

  it('shows an icon per source and a circle for one it does not know', () => {
    const unknown = track({ trackId: 'x1', source: 'whiteboard' as TrackStat['source'], kind: 'video' });
    const target = show([camera, unknown]);
    expect(row(target, 'v1').querySelector('.source-icon.camera rect')).not.toBeNull();
    expect(row(target, 'x1').querySelector('.source-icon circle')).not.toBeNull();
    expect(text(row(target, 'x1').querySelector('th'))).toBe('Whiteboard');
  });
});
