// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The backend boundary: api.ts calls `invoke`; here it answers `video_frame` per track.
const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { flushSync } from 'svelte';
import type { ClassEvent, TrackStat } from './api';
import { applyClassEvent, resetClass } from './classStore.svelte';
import { render, text, type Mounted } from './testing';
import VideoGrid from './VideoGrid.svelte';

function track(trackId: string, source: TrackStat['source'], kind: TrackStat['kind'], speaking = false): TrackStat {
  return {
    trackId,
    participantId: 'p1',
    source,
    kind,
    packets: 10,
    frames: 10,
    fps: 30,
    kbps: 500,
    resolution: kind === 'video' ? '640x360' : null,
    freezes: 0,
    audioPeakDb: null,
    speaking,
  };
}

/** A `video_frame` answer: the 24-byte header and grey RGBA pixels. */
function frame(width: number, height: number, seq: number): ArrayBuffer {
  const buffer = new ArrayBuffer(24 + width * height * 4);
  const view = new DataView(buffer);
  view.setUint32(0, 1, true);
  view.setUint32(4, width, true);
  view.setUint32(8, height, true);
  view.setUint32(12, seq, true);
  view.setFloat64(16, Date.now(), true);
  new Uint8Array(buffer, 24).fill(128);
  return buffer;
}

/** The backend: `video_settings` with no forced path, `video_frame` from `frames`. */
function backend(frames: (args: { trackId: string; after: number }) => Promise<unknown>) {
  invoke.mockImplementation((command: string, args: { trackId: string; after: number }) =>
    command === 'video_settings' ? Promise.resolve({ path: null, report: false, enlarge: false }) : frames(args),
  );
}

function frameCalls(): { trackId: string; after: number; width: number; height: number; kind: string }[] {
  return invoke.mock.calls.filter(([command]) => command === 'video_frame').map(([, args]) => args);
}

const drawn: { width: number; height: number }[] = [];
let mounted: Mounted | undefined;

beforeEach(() => {
  drawn.length = 0;
  invoke.mockReset();
  // jsdom has no 2D canvas: record what the tile draws instead.
  vi.stubGlobal(
    'ImageData',
    class {
      constructor(
        readonly data: Uint8ClampedArray,
        readonly width: number,
        readonly height: number,
      ) {}
    },
  );
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(
    () =>
      ({
        putImageData: (image: { width: number; height: number }) =>
          drawn.push({ width: image.width, height: image.height }),
      }) as unknown as CanvasRenderingContext2D,
  );
});

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function show(tracks: TrackStat[]): HTMLElement {
  mounted = render(VideoGrid, { tracks });
  return mounted.target;
}

function tile(target: HTMLElement, label: string): HTMLElement {
  const canvas = target.querySelector(`canvas[aria-label="${label} video"]`);
  const found = canvas?.closest<HTMLElement>('figure');
  if (found === null || found === undefined) throw new Error(`no ${label} tile`);
  return found;
}

/** Waits until the tiles' frame loop has run and Svelte has applied what it changed. */
async function settle(check: () => void) {
  await vi.waitFor(() => {
    flushSync();
    check();
  });
}

describe('VideoGrid names', () => {
  afterEach(() => resetClass());

  it("names a tile by its sender where the class shows who that is, else by its source", async () => {
    backend(() => new Promise((resolve) => setTimeout(() => resolve(new ArrayBuffer(0)), 20)));
    applyClassEvent({
      event: 'participants',
      total: 1,
      offset: 0,
      items: [
        {
          participantId: 'p1',
          name: 'Ada',
          role: 'student',
          onStage: true,
          micAllowed: true,
          chatMuted: false,
          connected: true,
          onRoster: false,
          network: 'good',
        },
      ],
    } as ClassEvent);
    const target = show([track('v1', 'camera', 'video'), { ...track('v2', 'screen', 'video'), participantId: 'p9' }]);
    await settle(() => expect(target.querySelectorAll('figure')).toHaveLength(2));
    expect(text(tile(target, 'Ada · Camera').querySelector('figcaption'))).toBe('Ada · Camera');
    expect(tile(target, 'Ada · Camera').dataset.participant).toBe('p1');
    expect(text(tile(target, 'Screen').querySelector('figcaption'))).toBe('Screen');
  });
});

describe('VideoGrid', () => {
  it('renders nothing while no video track arrives', () => {
    backend(() => Promise.resolve(new ArrayBuffer(0)));
    const target = show([track('a1', 'microphone', 'audio')]);
    expect(target.querySelector('.video-grid')).toBeNull();
    expect(target.querySelector('figure')).toBeNull();
  });

  it('shows a waiting tile per video track, none for audio, and outlines only a speaking camera', async () => {
    backend(() => new Promise((resolve) => setTimeout(() => resolve(new ArrayBuffer(0)), 20)));
    const target = show([
      track('v1', 'camera', 'video', true),
      track('v2', 'screen', 'video', true),
      track('a1', 'microphone', 'audio', true),
    ]);
    // The tiles start once the video settings are read.
    await settle(() => expect(target.querySelectorAll('figure')).toHaveLength(2));
    expect(text(tile(target, 'Camera').querySelector('figcaption'))).toBe('Camera · speaking');
    expect(tile(target, 'Camera').classList.contains('speaking')).toBe(true);
    expect(text(tile(target, 'Screen').querySelector('figcaption'))).toBe('Screen');
    expect(tile(target, 'Screen').classList.contains('speaking')).toBe(false);
    expect(text(tile(target, 'Camera').querySelector('.note'))).toBe('Waiting for video…');

    // Each tile asks for its own track's frames through api.ts.
    await settle(() => {
      const asked = new Set(frameCalls().map((args) => args.trackId));
      expect(asked).toEqual(new Set(['v1', 'v2']));
    });
    expect(frameCalls().every((args) => args.kind === 'rgba' && args.width >= 16 && args.height >= 16)).toBe(true);
    expect(drawn).toEqual([]);
  });

  it('draws a frame once one arrives and drops the waiting note', async () => {
    backend((args) => Promise.resolve(args.after === 0 ? frame(4, 2, 1) : new ArrayBuffer(0)));
    const target = show([track('v1', 'camera', 'video')]);
    await settle(() => expect(tile(target, 'Camera').querySelector('.note')).toBeNull());
    const camera = tile(target, 'Camera');
    expect(camera.classList.contains('waiting')).toBe(false);
    const canvas = camera.querySelector('canvas');
    expect([canvas?.width, canvas?.height]).toEqual([4, 2]);
    expect(drawn[0]).toEqual({ width: 4, height: 2 });
    // The next request asks for frames after the one drawn.
    await settle(() => expect(frameCalls().some((args) => args.after === 1)).toBe(true));
  });

  it('says why a track has no picture when the backend refuses', async () => {
    backend(() => Promise.reject('command video_frame not allowed by ACL'));
    const target = show([track('v1', 'camera', 'video')]);
    await settle(() =>
      expect(text(tile(target, 'Camera').querySelector('.note'))).toBe(
        'No video: command video_frame not allowed by ACL',
      ),
    );
    expect(tile(target, 'Camera').classList.contains('waiting')).toBe(true);
  });

  it('keeps one request in flight per tile: no new request until the answer comes', async () => {
    let answer: (value: unknown) => void = () => undefined;
    backend(() => new Promise((resolve) => (answer = resolve)));
    show([track('v1', 'camera', 'video')]);
    await settle(() => expect(frameCalls()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(frameCalls()).toHaveLength(1);
    answer(frame(4, 2, 1));
    await settle(() => expect(frameCalls()).toHaveLength(2));
    expect(frameCalls()[1].after).toBe(1);
  });

  it('backs off after a refusal instead of asking again at once', async () => {
    backend(() => Promise.reject({ kind: 'invalidVideoRequest', message: 'no video track' }));
    show([track('v1', 'camera', 'video')]);
    await settle(() => expect(frameCalls()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(frameCalls()).toHaveLength(1);
  });

  it('enlarges one tile over the window and restores it with the button or Escape', async () => {
    backend(() => new Promise(() => undefined));
    const target = show([track('v1', 'camera', 'video'), track('v2', 'screen', 'video')]);
    await settle(() => expect(target.querySelectorAll('figure')).toHaveLength(2));
    const button = (label: string) => tile(target, label).querySelector('button');
    expect(text(button('Screen'))).toBe('Enlarge');
    button('Screen')?.click();
    flushSync();
    expect(tile(target, 'Screen').classList.contains('enlarged')).toBe(true);
    expect(tile(target, 'Camera').classList.contains('enlarged')).toBe(false);
    expect(text(button('Screen'))).toBe('Restore');
    expect(button('Screen')?.getAttribute('aria-pressed')).toBe('true');
    button('Screen')?.click();
    flushSync();
    expect(tile(target, 'Screen').classList.contains('enlarged')).toBe(false);
    button('Camera')?.click();
    flushSync();
    expect(tile(target, 'Camera').classList.contains('enlarged')).toBe(true);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    flushSync();
    expect(tile(target, 'Camera').classList.contains('enlarged')).toBe(false);
  });

  it('starts with the first tile enlarged when a benchmark asks', async () => {
    invoke.mockImplementation((command: string) =>
      command === 'video_settings'
        ? Promise.resolve({ path: 'i420', report: false, enlarge: true })
        : new Promise(() => undefined),
    );
    const target = show([track('v2', 'screen', 'video'), track('v1', 'camera', 'video')]);
    await settle(() => expect(tile(target, 'Screen').classList.contains('enlarged')).toBe(true));
    expect(tile(target, 'Camera').classList.contains('enlarged')).toBe(false);
    // The forced path is what the tiles ask for.
    await settle(() => expect(frameCalls().length).toBeGreaterThan(0));
    expect(frameCalls().every((args) => args.kind === 'i420')).toBe(true);
  });
});
