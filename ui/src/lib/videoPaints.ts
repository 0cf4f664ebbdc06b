// What the tiles painted, per track, for benchmarks: `cargo xtask bench video` starts the app
// with `CLASSROOM_VIDEO_REPORT=1`, and the page then sends these counts once a second
// (`video_painted`), which the app prints on stdout. Without that setting nothing is sent.

import { videoPainted, wallMs, type TilePaints } from './video';

const tiles = new Map<string, TilePaints>();
let timer: ReturnType<typeof setInterval> | undefined;

/** Counts one frame painted by a tile; `atMs` is when it was decoded or received (NaN: unknown). */
export function notePaint(trackId: string, path: string, atMs: number, width: number, height: number, now = wallMs()): void {
  let tile = tiles.get(trackId);
  const first = tile === undefined;
  if (tile === undefined || tile.path !== path) {
    const firstPaintedMs = tile?.firstPaintedMs ?? now;
    tile = { trackId, path, painted: 0, latencyMsSum: 0, latencyMsMax: 0, width, height, firstPaintedMs };
    tiles.set(trackId, tile);
  }
  tile.painted += 1;
  tile.width = width;
  tile.height = height;
  if (Number.isFinite(atMs)) {
    const latency = Math.max(0, now - atMs);
    tile.latencyMsSum += latency;
    tile.latencyMsMax = Math.max(tile.latencyMsMax, latency);
  }
  // A tile's first paint is reported at once (join to first frame is timed from it), the
  // rest once a second.
  if (first && timer !== undefined) report();
}

function report(): void {
  void videoPainted(paintCounts()).catch(() => undefined);
  // The maximum is per report; the counts and the sum stay cumulative.
  for (const tile of tiles.values()) tile.latencyMsMax = 0;
}

/** The counts so far (cumulative). */
export function paintCounts(): TilePaints[] {
  return [...tiles.values()].map((t) => ({ ...t }));
}

/** Sends the counts once a second from now on (idempotent). */
export function startPaintReports(): void {
  if (timer !== undefined) return;
  timer = setInterval(() => {
    if (tiles.size > 0) report();
  }, 1000);
}

/** Forgets every count and stops reporting (tests). */
export function resetPaints(): void {
  tiles.clear();
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
}
