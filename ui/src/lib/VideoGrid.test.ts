// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The backend boundary: api.ts calls `invoke`; here it answers `video_frame` per track.
const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { flushSync } from 'svelte';
import type { TrackStat } from './api';
import { render, text, type Mounted } from './testing';
import VideoGrid from './VideoGrid.svelte';

function track(trackId: string, source: TrackStat['source'], kind: TrackStat['kind'], speaking = false): TrackStat {
  return {
    trackId,
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

/** A `video_frame` answer: the 12-byte header and grey RGBA pixels. */
function frame(width: number, height: number, seq: number): ArrayBuffer {
  const buffer = new ArrayBuffer(12 + width * height * 4);
  const view = new DataView(buffer);
  view.setUint32(0, width, true);
  view.setUint32(4, height, true);
  view.setUint32(8, seq, true);
  new Uint8Array(buffer, 12).fill(128);
  return buffer;
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

describe('VideoGrid', () => {
  it('renders nothing while no video track arrives', () => {
    invoke.mockResolvedValue(new ArrayBuffer(0));
    const target = show([track('a1', 'microphone', 'audio')]);
    expect(target.querySelector('.video-grid')).toBeNull();
    expect(target.querySelector('figure')).toBeNull();
  });

  it('shows a waiting tile per video track, none for audio, and outlines only a speaking camera', async () => {
    invoke.mockResolvedValue(new ArrayBuffer(0));
    const target = show([
      track('v1', 'camera', 'video', true),
      track('v2', 'screen', 'video', true),
      track('a1', 'microphone', 'audio', true),
    ]);
    expect(target.querySelectorAll('figure')).toHaveLength(2);
    expect(text(tile(target, 'Camera').querySelector('figcaption'))).toBe('Camera · speaking');
    expect(tile(target, 'Camera').classList.contains('speaking')).toBe(true);
    expect(text(tile(target, 'Screen').querySelector('figcaption'))).toBe('Screen');
    expect(tile(target, 'Screen').classList.contains('speaking')).toBe(false);
    expect(text(tile(target, 'Camera').querySelector('.note'))).toBe('Waiting for video…');

    // Each tile asks for its own track's frames through api.ts.
    await settle(() => {
      const asked = new Set(invoke.mock.calls.map(([, args]) => (args as { trackId: string }).trackId));
      expect(asked).toEqual(new Set(['v1', 'v2']));
    });
    expect(invoke.mock.calls.every(([command]) => command === 'video_frame')).toBe(true);
    expect(drawn).toEqual([]);
  });

  it('draws a frame once one arrives and drops the waiting note', async () => {
    invoke.mockImplementation((_command: string, args: { after: number }) =>
      Promise.resolve(args.after === 0 ? frame(4, 2, 1) : new ArrayBuffer(0)),
    );
    const target = show([track('v1', 'camera', 'video')]);
    await settle(() => expect(tile(target, 'Camera').querySelector('.note')).toBeNull());
    const camera = tile(target, 'Camera');
    expect(camera.classList.contains('waiting')).toBe(false);
    const canvas = camera.querySelector('canvas');
    expect([canvas?.width, canvas?.height]).toEqual([4, 2]);
    expect(drawn[0]).toEqual({ width: 4, height: 2 });
    // The next request asks for frames after the one drawn.
    await settle(() =>
      expect(invoke.mock.calls.some(([, args]) => (args as { after: number }).after === 1)).toBe(true),
    );
  });

  it('says why a track has no picture when the backend refuses', async () => {
    invoke.mockRejectedValue('command video_frame not allowed by ACL');
    const target = show([track('v1', 'camera', 'video')]);
    await settle(() =>
      expect(text(tile(target, 'Camera').querySelector('.note'))).toBe(
        'No video: command video_frame not allowed by ACL',
      ),
    );
    expect(tile(target, 'Camera').classList.contains('waiting')).toBe(true);
  });
});
