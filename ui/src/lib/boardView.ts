// What part of a whiteboard page the canvas shows: zoom and pan, pure and tested
// (boardView.test.ts). The view is each person's own (a student zooms in to read the
// teacher's writing without moving anyone else's board); the page's units, and so every
// change sent, are the same whatever the view.

import { PAGE_HEIGHT, PAGE_WIDTH, type Bounds } from './board';

/** The page from `x, y` (page units, the canvas's top-left corner) at `zoom` times its fit. */
export interface BoardView {
  zoom: number;
  x: number;
  y: number;
}

/** The whole page (zoom 1 shows all of it: never less). */
export const FIT: BoardView = { zoom: 1, x: 0, y: 0 };
export const MAX_ZOOM = 8;
/** One step of the zoom buttons and keys. */
export const ZOOM_STEP = 1.25;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** A view that shows only paper: zoom within 1..MAX_ZOOM, the corner where it keeps on the page. */
export function clampView(view: BoardView): BoardView {
  const zoom = clamp(Number.isFinite(view.zoom) ? view.zoom : 1, 1, MAX_ZOOM);
  const x = Number.isFinite(view.x) ? view.x : 0;
  const y = Number.isFinite(view.y) ? view.y : 0;
  return {
    zoom,
    x: clamp(x, 0, PAGE_WIDTH - PAGE_WIDTH / zoom),
    y: clamp(y, 0, PAGE_HEIGHT - PAGE_HEIGHT / zoom),
  };
}

/** A point of the canvas, as fractions of its width and height, in page units. */
export function toPage(view: BoardView, fx: number, fy: number): [number, number] {
  return [view.x + (fx * PAGE_WIDTH) / view.zoom, view.y + (fy * PAGE_HEIGHT) / view.zoom];
}

/** A point in page units as fractions of the canvas's width and height (outside 0..1: off it). */
export function toCanvas(view: BoardView, x: number, y: number): [number, number] {
  return [((x - view.x) * view.zoom) / PAGE_WIDTH, ((y - view.y) * view.zoom) / PAGE_HEIGHT];
}

/** Zoomed by `factor`, the page point under canvas point `(fx, fy)` staying under it. */
export function zoomAt(view: BoardView, factor: number, fx = 0.5, fy = 0.5): BoardView {
  const [px, py] = toPage(view, fx, fy);
  const zoom = clamp(view.zoom * (Number.isFinite(factor) && factor > 0 ? factor : 1), 1, MAX_ZOOM);
  return clampView({ zoom, x: px - (fx * PAGE_WIDTH) / zoom, y: py - (fy * PAGE_HEIGHT) / zoom });
}

/** Moved with the hand by `(dfx, dfy)` fractions of the canvas (the paper follows the hand). */
export function panBy(view: BoardView, dfx: number, dfy: number): BoardView {
  return clampView({
    ...view,
    x: view.x - (dfx * PAGE_WIDTH) / view.zoom,
    y: view.y - (dfy * PAGE_HEIGHT) / view.zoom,
  });
}

/**
 * Two fingers that were at `a0, b0` when the pinch began (in `start`) and are now at `a1, b1`
 * (canvas fractions): zoomed by how far apart they moved, and the page point that was between
 * them still between them.
 */
export function pinch(
  start: BoardView,
  a0: [number, number],
  b0: [number, number],
  a1: [number, number],
  b1: [number, number],
): BoardView {
  // Fractions of a 16:9 canvas in page units at zoom 1: distances in proportion to pixels.
  const apart = (a: [number, number], b: [number, number]) =>
    Math.hypot((a[0] - b[0]) * PAGE_WIDTH, (a[1] - b[1]) * PAGE_HEIGHT);
  const before = apart(a0, b0);
  const factor = before < 1 ? 1 : apart(a1, b1) / before;
  const [px, py] = toPage(start, (a0[0] + b0[0]) / 2, (a0[1] + b0[1]) / 2);
  const zoom = clamp(start.zoom * factor, 1, MAX_ZOOM);
  const [mx, my] = [(a1[0] + b1[0]) / 2, (a1[1] + b1[1]) / 2];
  return clampView({ zoom, x: px - (mx * PAGE_WIDTH) / zoom, y: py - (my * PAGE_HEIGHT) / zoom });
}

/** The page area the canvas shows. */
export function visibleArea(view: BoardView): Bounds {
  return [view.x, view.y, view.x + PAGE_WIDTH / view.zoom, view.y + PAGE_HEIGHT / view.zoom];
}

/** Page units to device pixels on a canvas `deviceWidth` pixels wide: `[a, b, c, d, e, f]`. */
export function viewTransform(view: BoardView, deviceWidth: number): [number, number, number, number, number, number] {
  const s = (deviceWidth / PAGE_WIDTH) * view.zoom;
  return [s, 0, 0, s, -view.x * s, -view.y * s];
}

/** The same view (no repaint needed for a change that moved nothing). */
export function sameView(a: BoardView, b: BoardView): boolean {
  return a.zoom === b.zoom && a.x === b.x && a.y === b.y;
}

/** A wheel event's scroll in pixels (lines and pages turned into pixels as browsers scroll them). */
export function wheelPixels(delta: number, mode: number, pageSize: number): number {
  if (mode === 1) return delta * 16;
  if (mode === 2) return delta * pageSize;
  return delta;
}

/** The zoom factor for a wheel scroll of `pixels` (Ctrl+wheel, or a touchpad's pinch). */
export function wheelZoomFactor(pixels: number): number {
  return Math.exp(-clamp(pixels, -200, 200) * 0.004);
}

/** The view after a key (+ or = in, - out, 0 the whole page, arrows pan a tenth), or null. */
export function viewForKey(view: BoardView, key: string): BoardView | null {
  switch (key) {
    case '+':
    case '=':
      return zoomAt(view, ZOOM_STEP);
    case '-':
    case '_':
      return zoomAt(view, 1 / ZOOM_STEP);
    case '0':
      return FIT;
    case 'ArrowLeft':
      return panBy(view, 0.1, 0);
    case 'ArrowRight':
      return panBy(view, -0.1, 0);
    case 'ArrowUp':
      return panBy(view, 0, 0.1);
    case 'ArrowDown':
      return panBy(view, 0, -0.1);
    default:
      return null;
  }
}

/**
 * Zooming content shown in a scrolled box by `factor` about a point `at` pixels from the
 * box's visible corner, scrolled `scroll` pixels: the new scroll that keeps that point where
 * it is (the homework photo, which is zoomed by its size on the screen). Never negative.
 */
export function zoomScroll(scroll: number, at: number, factor: number): number {
  return Math.max(0, (scroll + at) * factor - at);
}

/** The next zoom of a zoom that goes 1x to `MAX_ZOOM` in steps of `ZOOM_STEP` (`dir` +1 or -1). */
export function stepZoom(zoom: number, dir: number): number {
  const next = dir > 0 ? zoom * ZOOM_STEP : zoom / ZOOM_STEP;
  // Back to exactly 1 on the way down, not 1.0000001.
  return Math.abs(next - 1) < 1e-9 ? 1 : Math.min(MAX_ZOOM, Math.max(1, next));
}
