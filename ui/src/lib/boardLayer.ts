// The whiteboard's cached layer: a page's finished items drawn once into an offscreen canvas
// at the size and view the board shows, and kept up to date by drawing only what a change
// touches (`LayerPlan`), so a frame's cost does not grow with the page's item count. Also
// the paper under the items. Tested in boardLayer.test.ts with a recording 2D context.

import type { Background, Item } from './api';
import { drawingOrder, drawItem, itemBounds, LayerPlan, overlaps, PAGE_HEIGHT, PAGE_WIDTH, type Bounds } from './board';
import { sameView, type BoardView } from './boardView';

/** A 2D transform as `setTransform` takes it: scale, skews, then the shift in device pixels. */
export type Transform = [number, number, number, number, number, number];

/** A page's finished items drawn into a canvas of their own, redrawn where they change. */
export class PageLayer {
  #plan = new LayerPlan();
  #canvas: HTMLCanvasElement | null = null;
  // The view the layer was drawn at: another view draws it again.
  #view: BoardView | null = null;

  constructor(private readonly create: () => HTMLCanvasElement = () => document.createElement('canvas')) {}

  /** Item `id` came or changed (`item`), or went or is drawn elsewhere for now (`null`). */
  change(id: string, item: Item | null) {
    this.#plan.change(id, item);
  }

  /** Everything is to be drawn again (another page, a new board, a new size). */
  reset() {
    this.#plan.reset();
  }

  /**
   * The layer for a `width`x`height` canvas showing `view` through `transform`, brought up
   * to date: `finished` gives the items it is to hold (asked only when there is drawing to
   * do), `background` the page's paper.
   */
  update(
    width: number,
    height: number,
    view: BoardView,
    transform: Transform,
    finished: () => Map<string, Item>,
    background: Background | undefined,
  ): HTMLCanvasElement {
    if (this.#canvas === null || this.#canvas.width !== width || this.#canvas.height !== height) {
      this.#canvas ??= this.create();
      this.#canvas.width = width;
      this.#canvas.height = height;
      this.#plan.reset();
    }
    if (this.#view === null || !sameView(this.#view, view)) {
      this.#view = view;
      this.#plan.reset();
    }
    this.#draw(this.#canvas, transform, finished, background);
    return this.#canvas;
  }

  /** Draws what the plan says changed: everything, an area again, or items on top. */
  #draw(layer: HTMLCanvasElement, transform: Transform, finished: () => Map<string, Item>, background: Background | undefined) {
    const c = layer.getContext('2d');
    if (!c) return;
    const work = this.#plan.take();
    if (!work.full && work.region === null && work.append.length === 0) return;
    const items = finished();
    c.setTransform(...transform);
    if (work.full) {
      c.save();
      c.setTransform(1, 0, 0, 1, 0, 0);
      c.clearRect(0, 0, layer.width, layer.height);
      c.restore();
      drawPaper(c, background);
      for (const [, item] of drawingOrder(items)) drawItem(c, item);
      this.#plan.drewAll(items);
      return;
    }
    if (work.region !== null) {
      // Whole device pixels, so the area's edge is not blended with what was there.
      const area = snapToPixels(work.region, transform);
      c.save();
      c.beginPath();
      c.rect(area[0], area[1], area[2] - area[0], area[3] - area[1]);
      c.clip();
      drawPaper(c, background);
      for (const [id, item] of drawingOrder(items)) {
        const bounds = this.#plan.boundsOf(id) ?? itemBounds(item);
        if (bounds !== null && overlaps(bounds, area)) drawItem(c, item);
      }
      c.restore();
    }
    for (const id of work.append) {
      const item = items.get(id);
      if (item) drawItem(c, item);
    }
  }
}

/** `region` (page units) grown to whole device pixels under `transform` (uniform scale). */
export function snapToPixels([l, t, r, b]: Bounds, transform: Transform): Bounds {
  const [s, , , , ex, ey] = transform;
  const snap = (v: number, shift: number, round: (n: number) => number) => (round(v * s + shift) - shift) / s;
  return [snap(l, ex, Math.floor), snap(t, ey, Math.floor), snap(r, ex, Math.ceil), snap(b, ey, Math.ceil)];
}

/** The page's paper: off-white, with ruled or grid lines when its background has them. */
export function drawPaper(c: CanvasRenderingContext2D, background: Background | undefined) {
  c.fillStyle = '#fdfcf7';
  c.fillRect(0, 0, PAGE_WIDTH, PAGE_HEIGHT);
  if (!background || (background.type !== 'grid' && background.type !== 'ruled')) return;
  c.strokeStyle = 'rgba(60, 90, 140, 0.15)';
  c.lineWidth = 1;
  c.beginPath();
  for (let y = background.spacing; y < PAGE_HEIGHT; y += background.spacing) {
    c.moveTo(0, y);
    c.lineTo(PAGE_WIDTH, y);
  }
  if (background.type === 'grid') {
    for (let x = background.spacing; x < PAGE_WIDTH; x += background.spacing) {
      c.moveTo(x, 0);
      c.lineTo(x, PAGE_HEIGHT);
    }
  }
  c.stroke();
}
