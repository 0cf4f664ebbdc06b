// The whiteboard's page-side pieces, pure and tested (board.test.ts): the board as the page
// keeps it (fed by Rust's `board-changed` updates), a stroke being drawn turned into batched
// changes, drawing an item, what of the cached layer of finished items must be drawn again
// after a change (`LayerPlan`), and the eraser's hit test. Rust keeps the board's copy and the
// order; the page only draws what it is told and sends what the person does.

import type { BoardUpdate, Item, LaserView, Op, PageView, Sample, ShapeKind } from './api';

/** Logical size of a page: every participant's coordinates are in these units. */
export const PAGE_WIDTH = 1600;
export const PAGE_HEIGHT = 900;

/** How often a stroke being drawn sends its new samples (about 30 times a second). */
export const BATCH_MS = 33;

// Text and scores, laid out as Rust's PNG and PDF lay them out (`homework::text`, whose test
// reads these lines): the same families in the same order (each character from the first
// that has it), lines split at a newline and LINE_HEIGHT apart, the first baseline
// TEXT_BASELINE of the size below the corner (a score's SCORE_BASELINE below its centre).
export const TEXT_FAMILIES =
  '"DejaVu Sans", "Segoe UI", "Helvetica Neue", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "Droid Sans Fallback", sans-serif';
export const TEXT_BASELINE = 0.8;
export const LINE_HEIGHT = 1.25;
export const SCORE_SIZE = 36;
export const SCORE_BASELINE = 0.35;
// The limits the class server keeps (`annotate::MAX_*`).
export const MAX_TEXT_CHARS = 2000;
export const MAX_TEXT_SIZE = 2000;
export const MAX_SCORE_CHARS = 20;

/** The board as the page has it. */
export interface BoardState {
  pages: PageView[];
  /** Items by page, then id. */
  items: Map<string, Map<string, Item>>;
  me: string | null;
  canUndo: boolean;
  canRedo: boolean;
  /** The class's board generation and the last change in the order the page has. */
  generation: number;
  applied: number;
  /** The page the staff show the class. */
  shown: string | null;
}

export function emptyBoard(): BoardState {
  return { pages: [], items: new Map(), me: null, canUndo: false, canRedo: false, generation: 0, applied: 0, shown: null };
}

/**
 * The board after an update from Rust (a reset replaces everything). An update older than
 * what the page has (the whole board asked for before a change and answered after it) is
 * dropped; a new class's board (a newer generation) always replaces the old one.
 */
export function applyUpdate(state: BoardState, update: BoardUpdate): BoardState {
  if (update.generation === state.generation && update.applied < state.applied) return state;
  if (update.generation < state.generation) return state;
  const next: BoardState = update.reset
    ? { ...emptyBoard() }
    : { ...state, pages: [...state.pages], items: new Map(state.items) };
  for (const page of update.pages) {
    if (!next.pages.some((p) => p.id === page.id)) next.pages.push(page);
  }
  for (const view of update.items) {
    const onPage = new Map(next.items.get(view.page) ?? []);
    if (view.item.erased) onPage.delete(view.id);
    else onPage.set(view.id, view.item);
    next.items.set(view.page, onPage);
  }
  next.me = update.me;
  next.canUndo = update.canUndo;
  next.canRedo = update.canRedo;
  next.generation = update.generation;
  next.applied = update.applied;
  next.shown = update.shown;
  return next;
}

/**
 * The page a person sees: the one they chose to look at (`looking`, while it exists), else
 * the one the staff show, else the first.
 */
export function pageSeen(state: BoardState, looking: string | null): string | null {
  const has = (id: string | null) => id !== null && state.pages.some((p) => p.id === id);
  if (has(looking)) return looking;
  if (has(state.shown)) return state.shown;
  return state.pages[0]?.id ?? null;
}

/** The page `step` pages on from `page` (clamped to the first and the last), or null. */
export function pageStep(state: BoardState, page: string | null, step: number): string | null {
  const at = state.pages.findIndex((p) => p.id === page);
  if (at < 0) return state.pages[0]?.id ?? null;
  return state.pages[Math.min(state.pages.length - 1, Math.max(0, at + step))].id;
}

/** The participant whose private page `page` is (`private-{participant}-{n}`), or null (`annotate::private_owner`). */
export function privateOwner(page: string | null): string | null {
  const found = page === null ? null : /^private-(.+)-(\d+)$/.exec(page);
  return found ? found[1] : null;
}

/** A participant's private page number `n` (`annotate::private_page`). */
export function privatePage(participant: string, n = 1): string {
  return `private-${participant}-${n}`;
}

/** How long a laser pointer shows after its last move (ms); it fades over the last half. */
export const LASER_MS = 1500;
/** The least time between two laser positions sent (about 20 a second). */
export const LASER_SEND_MS = 50;

/** Someone's laser pointer: where, on which page, since when (ms, the page's clock). */
export interface LaserDot {
  page: string;
  at: [number, number];
  since: number;
}

/** The laser pointers after `update` came at `now`: each author's latest, the gone ones dropped. */
export function takeLasers(lasers: Map<string, LaserDot>, update: LaserView[], now: number): Map<string, LaserDot> {
  const next = new Map([...lasers].filter(([, dot]) => laserAlpha(dot, now) > 0));
  for (const l of update) next.set(l.author, { page: l.page, at: l.at, since: now });
  return next;
}

/** How strongly a laser dot shows at `now`: 1, fading to 0 over the second half of LASER_MS. */
export function laserAlpha(dot: LaserDot, now: number): number {
  const age = now - dot.since;
  if (!(age >= 0) || age >= LASER_MS) return 0;
  return Math.min(1, (LASER_MS - age) / (LASER_MS / 2));
}

/** A new page's id: `board-N`, N one past the largest such number on the board. */
export function newPageId(state: BoardState): string {
  const numbers = state.pages.map((p) => Number(/^board-(\d+)$/.exec(p.id)?.[1] ?? 0));
  return `board-${Math.max(0, ...numbers) + 1}`;
}

/** A page's items in drawing order: highlighter under the rest, then by the server's order. */
export function drawingOrder(items: Map<string, Item> | undefined): [string, Item][] {
  return [...(items ?? new Map<string, Item>())].sort(drawnBefore);
}

/** Negative when `a` is drawn before (under) `b`: highlighter first, then by order and id. */
function drawnBefore([ia, a]: [string, Item], [ib, b]: [string, Item]): number {
  const under = (i: Item) => i.kind.type === 'stroke' && i.kind.tool === 'highlighter';
  if (under(a) !== under(b)) return under(a) ? -1 : 1;
  return a.order - b.order || (ia < ib ? -1 : ia > ib ? 1 : 0);
}

/**
 * A stroke being drawn: samples in, changes out. `begin` at pen-down, `add` for every sample
 * the platform gives (coalesced events included), `flush` on a timer and `end` at pen-up.
 */
export class StrokeBuilder {
  readonly samples: Sample[] = [];
  private sent = 0;
  private readonly started: number;

  constructor(
    readonly page: string,
    readonly item: string,
    readonly tool: 'pen' | 'pencil' | 'highlighter',
    readonly style: { color: [number, number, number, number]; width: number },
    first: { x: number; y: number; p: number; at: number },
  ) {
    this.started = first.at;
    this.add(first);
  }

  /** One sample (page units, pressure 0..1, the event's time in ms). */
  add(s: { x: number; y: number; p: number; at: number }): void {
    const p = Math.min(1, Math.max(0, Number.isFinite(s.p) ? s.p : 0.5));
    if (!Number.isFinite(s.x) || !Number.isFinite(s.y)) return;
    this.samples.push({ x: s.x, y: s.y, p, t: Math.max(0, Math.round(s.at - this.started)) });
  }

  /** The change that starts the stroke (with what it has so far). */
  begin(): Op {
    this.sent = this.samples.length;
    return {
      op: 'beginStroke',
      page: this.page,
      item: this.item,
      tool: this.tool,
      style: this.style,
      samples: this.samples.slice(),
    };
  }

  /** The samples not sent yet, or null when there are none. */
  flush(): Op | null {
    if (this.sent >= this.samples.length) return null;
    const from = this.sent;
    this.sent = this.samples.length;
    return { op: 'extendStroke', page: this.page, item: this.item, from, samples: this.samples.slice(from) };
  }

  /** Pen-up: the stroke is finished with every sample. */
  end(): Op {
    return { op: 'endStroke', page: this.page, item: this.item, count: this.samples.length };
  }
}

/** The width a sample draws at: the pen follows pressure, the highlighter does not. */
export function widthAt(tool: string, width: number, p: number): number {
  if (tool === 'highlighter') return width * 4;
  if (tool === 'pencil') return width * (0.5 + 0.3 * p);
  return width * (0.35 + 0.65 * p);
}

function rgba(color: [number, number, number, number] | number[], alpha = 1): string {
  const [r, g, b, a] = color;
  return `rgba(${r}, ${g}, ${b}, ${((a ?? 255) / 255) * alpha})`;
}

/** Draws one item on a 2D context whose units are page units. */
export function drawItem(ctx: CanvasRenderingContext2D, item: Item): void {
  const [ox, oy] = item.offset;
  const kind = item.kind;
  ctx.save();
  ctx.translate(ox, oy);
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  switch (kind.type) {
    case 'stroke': {
      const s = kind.samples;
      const highlighter = kind.tool === 'highlighter';
      ctx.strokeStyle = rgba(kind.style.color, highlighter ? 0.35 : kind.tool === 'pencil' ? 0.8 : 1);
      if (highlighter) ctx.globalCompositeOperation = 'multiply';
      if (s.length === 1) {
        ctx.fillStyle = ctx.strokeStyle;
        ctx.beginPath();
        ctx.arc(s[0].x, s[0].y, widthAt(kind.tool, kind.style.width, s[0].p) / 2, 0, Math.PI * 2);
        ctx.fill();
      }
      if (highlighter && s.length > 1) {
        // One width all along: one path, so the ink is even where segments meet (drawn
        // segment by segment, each joint would be multiplied twice: a bead every sample).
        ctx.lineWidth = widthAt(kind.tool, kind.style.width, 0.5);
        ctx.beginPath();
        ctx.moveTo(s[0].x, s[0].y);
        for (let i = 1; i < s.length; i++) ctx.lineTo(s[i].x, s[i].y);
        ctx.stroke();
        break;
      }
      // Every sample: a segment per pair, each as wide as its pressure.
      for (let i = 1; i < s.length; i++) {
        ctx.lineWidth = widthAt(kind.tool, kind.style.width, (s[i - 1].p + s[i].p) / 2);
        ctx.beginPath();
        ctx.moveTo(s[i - 1].x, s[i - 1].y);
        ctx.lineTo(s[i].x, s[i].y);
        ctx.stroke();
      }
      break;
    }
    case 'shape': {
      const [x1, y1] = kind.from;
      const [x2, y2] = kind.to;
      ctx.strokeStyle = rgba(kind.style.color);
      ctx.lineWidth = kind.style.width;
      ctx.beginPath();
      if (kind.shape === 'rectangle') ctx.rect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
      else if (kind.shape === 'ellipse')
        ctx.ellipse((x1 + x2) / 2, (y1 + y2) / 2, Math.abs(x2 - x1) / 2, Math.abs(y2 - y1) / 2, 0, 0, Math.PI * 2);
      else {
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
        if (kind.shape === 'arrow') {
          const angle = Math.atan2(y2 - y1, x2 - x1);
          const head = Math.max(12, kind.style.width * 4);
          for (const turn of [-0.5, 0.5]) {
            ctx.moveTo(x2, y2);
            ctx.lineTo(x2 - head * Math.cos(angle + turn), y2 - head * Math.sin(angle + turn));
          }
        }
      }
      ctx.stroke();
      break;
    }
    case 'text':
      if (!(kind.size > 0 && kind.size <= MAX_TEXT_SIZE)) break;
      ctx.fillStyle = rgba(kind.color);
      ctx.font = `${kind.size}px ${TEXT_FAMILIES}`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      textLines(kind.text).forEach((line, i) =>
        ctx.fillText(line, kind.at[0], kind.at[1] + kind.size * (TEXT_BASELINE + LINE_HEIGHT * i)),
      );
      break;
    case 'stamp': {
      const [x, y] = kind.at;
      ctx.lineWidth = 6;
      if (kind.stamp.kind === 'tick') {
        ctx.strokeStyle = 'rgb(30, 140, 60)';
        ctx.beginPath();
        ctx.moveTo(x - 20, y);
        ctx.lineTo(x - 5, y + 16);
        ctx.lineTo(x + 24, y - 20);
        ctx.stroke();
      } else if (kind.stamp.kind === 'cross') {
        ctx.strokeStyle = 'rgb(200, 40, 40)';
        ctx.beginPath();
        ctx.moveTo(x - 18, y - 18);
        ctx.lineTo(x + 18, y + 18);
        ctx.moveTo(x + 18, y - 18);
        ctx.lineTo(x - 18, y + 18);
        ctx.stroke();
      } else {
        ctx.fillStyle = 'rgb(200, 40, 40)';
        ctx.font = `bold ${SCORE_SIZE}px ${TEXT_FAMILIES}`;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'alphabetic';
        textLines(kind.stamp.text).forEach((line, i) =>
          ctx.fillText(line, x, y + SCORE_SIZE * (SCORE_BASELINE + LINE_HEIGHT * i)),
        );
      }
      break;
    }
  }
  ctx.restore();
}

function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Each item's extent as last measured, with the sample count it was measured at. */
const measured = new WeakMap<Item, { bounds: Bounds | null; samples: number }>();

/**
 * An item's extent (`itemBounds`), measured once per item: items are replaced, not changed,
 * when an operation changes them (the sample count is checked all the same).
 */
function boundsOnce(item: Item): Bounds | null {
  const samples = item.kind.type === 'stroke' ? item.kind.samples.length : 0;
  const known = measured.get(item);
  if (known !== undefined && known.samples === samples) return known.bounds;
  const bounds = itemBounds(item);
  measured.set(item, { bounds, samples });
  return bounds;
}

/**
 * The topmost item under a point (page units), for the eraser; `slack` widens the pick, and
 * `skip` leaves items out (erased by this touch already, or not this person's to erase).
 * Items whose extent is far from the point are passed over without reading their samples,
 * so a touch on a page of thousands of strokes tests the few near it.
 */
export function hitTest(
  items: Map<string, Item> | undefined,
  x: number,
  y: number,
  slack = 10,
  skip?: (id: string, item: Item) => boolean,
): string | null {
  // One pass, keeping the topmost item hit so far (no sort of the whole page per sample).
  let top: [string, Item] | null = null;
  for (const entry of items ?? []) {
    const [id, item] = entry;
    if (skip?.(id, item) || (top !== null && drawnBefore(entry, top) < 0)) continue;
    if (hits(item, x, y, slack)) top = entry;
  }
  return top === null ? null : top[0];
}

/** Whether page point (`x`, `y`) is on `item`, within `slack`. */
function hits(item: Item, x: number, y: number, slack: number): boolean {
  const box = boundsOnce(item);
  if (box !== null && (x < box[0] - slack || x > box[2] + slack || y < box[1] - slack || y > box[3] + slack)) {
    return false;
  }
  const px = x - item.offset[0];
  const py = y - item.offset[1];
  const kind = item.kind;
  const words = wordsOf(kind);
  if (kind.type === 'stroke') {
    const s = kind.samples;
    const reach = widthAt(kind.tool, kind.style.width, 1) / 2 + slack;
    if (s.length === 1) return Math.hypot(px - s[0].x, py - s[0].y) <= reach;
    for (let i = 1; i < s.length; i++) {
      if (distanceToSegment(px, py, s[i - 1].x, s[i - 1].y, s[i].x, s[i].y) <= reach) return true;
    }
    return false;
  }
  if (kind.type === 'shape') {
    const [x1, y1] = kind.from;
    const [x2, y2] = kind.to;
    return distanceToSegment(px, py, x1, y1, x2, y2) <= kind.style.width / 2 + slack;
  }
  if (words !== null) {
    const [l, t, r, b] = wordsBox(words);
    return px >= l - slack && px <= r + slack && py >= t - slack && py <= b + slack;
  }
  const [ax, ay] = kind.at;
  return Math.hypot(px - ax, py - ay) <= 40 + slack;
}

/** A rectangle in page units: left, top, right, bottom. */
export type Bounds = [number, number, number, number];

/** The area an item's ink can reach (page units, moved by its offset), or null for none. */
export function itemBounds(item: Item): Bounds | null {
  const [ox, oy] = item.offset;
  const kind = item.kind;
  const words = wordsOf(kind);
  let box: Bounds;
  let pad: number;
  if (kind.type === 'stroke') {
    if (kind.samples.length === 0) return null;
    box = [Infinity, Infinity, -Infinity, -Infinity];
    for (const s of kind.samples) {
      box = [Math.min(box[0], s.x), Math.min(box[1], s.y), Math.max(box[2], s.x), Math.max(box[3], s.y)];
    }
    pad = widthAt(kind.tool, kind.style.width, 1) / 2;
  } else if (kind.type === 'shape') {
    const [x1, y1] = kind.from;
    const [x2, y2] = kind.to;
    box = [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
    // An arrow's head reaches back from its tip by up to its length.
    pad = kind.style.width / 2 + (kind.shape === 'arrow' ? Math.max(12, kind.style.width * 4) : 0);
  } else if (words !== null) {
    box = wordsBox(words);
    pad = 0;
  } else {
    const [x, y] = kind.at;
    box = [x - 40, y - 40, x + 40, y + 40];
    pad = 6;
  }
  // Anti-aliasing and round caps: two units more all round.
  pad += 2;
  const out: Bounds = [box[0] + ox - pad, box[1] + oy - pad, box[2] + ox + pad, box[3] + oy + pad];
  return out.every(Number.isFinite) ? out : null;
}

/**
 * The words an item shows, or null: typed text (from its corner, at its size) or a score
 * (bold, SCORE_SIZE, centred on its point).
 */
export function wordsOf(
  kind: Item['kind'],
): { text: string; size: number; at: [number, number]; centred: boolean } | null {
  if (kind.type === 'text') return { text: kind.text, size: kind.size, at: kind.at, centred: false };
  if (kind.type === 'stamp' && kind.stamp.kind === 'score') {
    return { text: kind.stamp.text, size: SCORE_SIZE, at: kind.at, centred: true };
  }
  return null;
}

/** Where an item's words (`wordsOf`) can reach, page units (`textBox`). */
function wordsBox(words: NonNullable<ReturnType<typeof wordsOf>>): Bounds {
  return textBox(words.text, words.size, words.at, words.centred);
}

/** Text's lines, as Rust splits them (at newlines, a carriage return before one dropped). */
export function textLines(text: string): string[] {
  return text.split('\n').map((line) => line.replace(/\r$/, ''));
}

/**
 * Where text (at `size`, from its corner; or centred on its point, a score) can reach, page
 * units: no glyph is wider than its size (a CJK character is exactly that), nothing reaches
 * above a size over its first baseline or 0.3 of it below its last.
 */
export function textBox(text: string, size: number, at: [number, number], centred: boolean): Bounds {
  const lines = textLines(text);
  const widest = Math.max(0, ...lines.map((l) => [...l].length)) * size;
  const [x, y] = at;
  const first = y + size * ((centred ? SCORE_BASELINE : TEXT_BASELINE) - 1);
  const last = y + size * ((centred ? SCORE_BASELINE : TEXT_BASELINE) + LINE_HEIGHT * (lines.length - 1) + 0.3);
  const left = centred ? x - widest / 2 : x;
  return [left, first, left + widest, last];
}

/**
 * Where text reaches as `measure` (a canvas's `measureText` width, set to the text's font)
 * lays it out, page units, with the 2-unit margin `itemBounds` adds; other items as
 * `itemBounds` has them.
 */
export function measuredBounds(item: Item, measure: (line: string, font: string) => number): Bounds | null {
  const words = wordsOf(item.kind);
  if (words === null) return itemBounds(item);
  const { text, size, at, centred } = words;
  const font = centred ? `bold ${size}px ${TEXT_FAMILIES}` : `${size}px ${TEXT_FAMILIES}`;
  const widest = Math.max(0, ...textLines(text).map((line) => measure(line, font)));
  const [, top, , bottom] = wordsBox(words);
  const left = centred ? at[0] - widest / 2 : at[0];
  const [ox, oy] = item.offset;
  const out: Bounds = [left + ox - 2, top + oy - 2, left + widest + ox + 2, bottom + oy + 2];
  return out.every(Number.isFinite) ? out : null;
}

/** The change that puts `text` with its corner at `at`, or null when it is empty or too long. */
export function textOp(
  page: string,
  item: string,
  at: [number, number],
  text: string,
  size: number,
  color: [number, number, number, number],
): Op | null {
  const kept = text.replace(/\s+$/, '');
  if (kept.trim() === '' || [...kept].length > MAX_TEXT_CHARS || !at.every(Number.isFinite)) return null;
  if (!(size > 0 && size <= MAX_TEXT_SIZE)) return null;
  return { op: 'addItem', page, item, kind: { type: 'text', at, text: kept, size, color } };
}

/** The change that puts the score `score` centred on `at`, or null when it is empty or too long. */
export function scoreOp(page: string, item: string, score: string, at: [number, number]): Op | null {
  const kept = score.trim();
  if (kept === '' || [...kept].length > MAX_SCORE_CHARS || !at.every(Number.isFinite)) return null;
  return { op: 'addItem', page, item, kind: { type: 'stamp', at, stamp: { kind: 'score', text: kept } } };
}

/** A text item's size for the width chosen in the toolbar (1-16): 16 to 76 page units. */
export function textSize(width: number): number {
  return 12 + 4 * Math.min(16, Math.max(1, Math.round(width)));
}

/** Whether two rectangles overlap. */
export function overlaps(a: Bounds, b: Bounds): boolean {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

function union(a: Bounds | null, b: Bounds | null): Bounds | null {
  if (a === null) return b;
  if (b === null) return a;
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

function isUnder(item: Item): boolean {
  return item.kind.type === 'stroke' && item.kind.tool === 'highlighter';
}

/** What the cached layer must draw before it is shown again. */
export interface LayerWork {
  /** Everything, from the paper up. */
  full: boolean;
  /** Items new on top of everything drawn: drawn over the layer as it is. */
  append: string[];
  /** An area whose paper and items are drawn again (items that went or changed were there). */
  region: Bounds | null;
}

/**
 * Keeps account of the cached layer of finished items, so a change costs what it touches,
 * not what the page holds: a stroke finished on top of the rest is drawn over the layer; an
 * erased, moved or out-of-order item has its area drawn again (paper, then the items there,
 * in order); only a new board or a new size draws everything.
 */
export class LayerPlan {
  private drawn = new Map<string, { bounds: Bounds | null; order: number }>();
  /** The highest order drawn (of items not under the rest). */
  private top = -Infinity;
  private full = true;
  private append: string[] = [];
  private region: Bounds | null = null;

  /** Everything is to be drawn again (a new board, a new size). */
  reset(): void {
    this.full = true;
    this.append = [];
    this.region = null;
  }

  /** Item `id` came or changed (`item`), or went or is being drawn (`null`). */
  change(id: string, item: Item | null): void {
    if (this.full) return;
    const old = this.drawn.get(id);
    if (old !== undefined) {
      this.region = union(this.region, old.bounds);
      this.drawn.delete(id);
    }
    if (item !== null) {
      const bounds = itemBounds(item);
      this.drawn.set(id, { bounds, order: item.order });
      const onTop = !isUnder(item) && item.order > this.top;
      if (!isUnder(item)) this.top = Math.max(this.top, item.order);
      if (old === undefined && this.region === null && onTop) this.append.push(id);
      else this.region = union(this.region, bounds);
    }
    // An area drawn again draws what was to be drawn over the layer inside it too.
    if (this.region !== null && this.append.length > 0) {
      for (const pending of this.append) this.region = union(this.region, this.drawn.get(pending)?.bounds ?? null);
      this.append = [];
    }
  }

  /** Where item `id`, as last drawn on the layer, can reach (undefined: not on it). */
  boundsOf(id: string): Bounds | null | undefined {
    return this.drawn.get(id)?.bounds;
  }

  /** The work to do now (then none is left). After `full` work, call `drewAll`. */
  take(): LayerWork {
    const work: LayerWork = { full: this.full, append: this.append, region: this.region };
    this.full = false;
    this.append = [];
    this.region = null;
    return work;
  }

  /** The layer was drawn whole and holds `finished` (the page's finished items, by id). */
  drewAll(finished: Map<string, Item>): void {
    this.drawn = new Map();
    this.top = -Infinity;
    for (const [id, item] of finished) {
      this.drawn.set(id, { bounds: itemBounds(item), order: item.order });
      if (!isUnder(item)) this.top = Math.max(this.top, item.order);
    }
  }
}

/** The shortest a shape is drawn, page units (a click draws none). */
export const MIN_SHAPE = 3;

/** The change that adds a shape dragged from `from` to `to`, or null when it is too small. */
export function shapeOp(
  page: string,
  item: string,
  shape: ShapeKind,
  from: [number, number],
  to: [number, number],
  style: { color: [number, number, number, number]; width: number },
): Op | null {
  if (![...from, ...to].every(Number.isFinite)) return null;
  if (Math.hypot(to[0] - from[0], to[1] - from[1]) < MIN_SHAPE) return null;
  return { op: 'addItem', page, item, kind: { type: 'shape', shape, from, to, style } };
}

/** The tool a key picks on the whiteboard (without modifiers), or null. */
export function toolForKey(key: string): BoardTool | null {
  const tools: Record<string, BoardTool> = {
    p: 'pen',
    h: 'highlighter',
    e: 'eraser',
    v: 'move',
    l: 'line',
    a: 'arrow',
    r: 'rectangle',
    o: 'ellipse',
    t: 'tick',
    x: 'cross',
    w: 'text',
    s: 'score',
    k: 'laser',
  };
  return tools[key.toLowerCase()] ?? null;
}

/** What the whiteboard draws with. */
export type BoardTool = 'pen' | 'highlighter' | 'eraser' | 'move' | ShapeKind | 'tick' | 'cross' | 'text' | 'score' | 'laser';

/** The change that moves an item dragged from `from` to `to`, or null when it hardly moved. */
export function moveOp(page: string, item: string, from: [number, number], to: [number, number]): Op | null {
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  if (!Number.isFinite(dx) || !Number.isFinite(dy) || Math.hypot(dx, dy) < 1) return null;
  return { op: 'move', page, item, dx, dy };
}

/** The most items one change moves or erases (`annotate::MAX_GROUP_ITEMS`). */
export const MAX_GROUP_ITEMS = 500;

/** `ids` in changes of at most MAX_GROUP_ITEMS each, one item alone as a one-item change. */
function groups(ids: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += MAX_GROUP_ITEMS) out.push(ids.slice(i, i + MAX_GROUP_ITEMS));
  return out;
}

/** The changes that move the chosen items dragged from `from` to `to` (none for a wobble). */
export function moveSelectionOps(page: string, ids: string[], from: [number, number], to: [number, number]): Op[] {
  if (ids.length === 1) {
    const one = moveOp(page, ids[0], from, to);
    return one === null ? [] : [one];
  }
  const single = moveOp(page, '', from, to);
  if (single === null || single.op !== 'move') return [];
  const { dx, dy } = single;
  return groups(ids).map((items) => ({ op: 'moveItems', page, items, dx, dy }));
}

/** The changes that erase the chosen items. */
export function eraseSelectionOps(page: string, ids: string[]): Op[] {
  if (ids.length === 1) return [{ op: 'erase', page, item: ids[0] }];
  return ids.length === 0 ? [] : groups(ids).map((items) => ({ op: 'eraseItems', page, items }));
}

/**
 * The items (of `items`, not being drawn) wholly inside the rectangle from `a` to `b`, in
 * drawing order; `bounds` gives an item's extent (the page passes one that measures text).
 */
export function selectWithin(
  items: Map<string, Item> | undefined,
  a: [number, number],
  b: [number, number],
  bounds: (item: Item) => Bounds | null = itemBounds,
): string[] {
  const [l, t, r, bottom] = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  return drawingOrder(items)
    .filter(([, item]) => {
      if (item.kind.type === 'stroke' && item.kind.live) return false;
      const box = bounds(item);
      // Bounds carry 2 units for anti-aliasing (and a stroke's half width): inside means its ink is.
      return box !== null && box[0] + 2 >= l && box[1] + 2 >= t && box[2] - 2 <= r && box[3] - 2 <= bottom;
    })
    .map(([id]) => id);
}

/** The change that puts a tick or a cross at `at` (page units), or null off the page. */
export function stampOp(page: string, item: string, stamp: 'tick' | 'cross', at: [number, number]): Op | null {
  const [x, y] = at;
  if (!(x >= 0 && x <= PAGE_WIDTH && y >= 0 && y <= PAGE_HEIGHT)) return null;
  return { op: 'addItem', page, item, kind: { type: 'stamp', at, stamp: { kind: stamp } } };
}

/** Whether `tool` drags a shape out. */
export function isShapeTool(tool: BoardTool): tool is ShapeKind {
  return tool === 'line' || tool === 'arrow' || tool === 'rectangle' || tool === 'ellipse';
}

