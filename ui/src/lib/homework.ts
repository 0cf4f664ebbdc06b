// Homework's page-side pieces, pure and tested (homework.test.ts): the marking page's units,
// the marks a teacher makes as annotation items (Rust draws the same items over the photo
// when the hand-in is returned), the teacher's hand-ins grouped by assignment, and which
// files a student may hand in.

import type { AssignmentView, HandInView, Item, Sample } from './api';
import { scoreOp, textOp } from './board';

/** A marked page is this many units across (its height follows the photo). Rust's
 * `homework::render::render_marked` uses the same width, so marks land where they were made. */
export const MARK_PAGE_WIDTH = 1000;

/** The marking page's size in units for a photo of `width` x `height` pixels. */
export function markPageSize(width: number, height: number): { width: number; height: number } {
  if (!(width > 0) || !(height > 0)) return { width: MARK_PAGE_WIDTH, height: MARK_PAGE_WIDTH };
  return { width: MARK_PAGE_WIDTH, height: (MARK_PAGE_WIDTH * height) / width };
}

/** Taller than any page (more than 1.6 times its width): a handed-in PDF's pages drawn one
 * under the other, shown full width and read by scrolling, while marking and when marked. */
export function isSheet(width: number, height: number): boolean {
  return height > 1.6 * width;
}

/** The teacher's red pen. */
export const MARK_COLOR: [number, number, number, number] = [214, 40, 40, 255];
export const MARK_WIDTH = 4;

/** Typed text's size on a marking page (1000 units across): about a line of handwriting. */
export const MARK_TEXT_SIZE = 32;

/** Typed text (its corner at `x`, `y`) or a score (centred there) as an item, or null when empty or too long. */
export function wordsItem(
  kind: 'text' | 'score',
  words: string,
  x: number,
  y: number,
  order: number,
): Item | null {
  const op =
    kind === 'text' ? textOp('', '', [x, y], words, MARK_TEXT_SIZE, MARK_COLOR) : scoreOp('', '', words, [x, y]);
  if (op === null || op.op !== 'addItem') return null;
  return { author: 'teacher', kind: op.kind, offset: [0, 0], erased: false, order, touched: order };
}

/** A finished pen stroke as an item, `order` its place among the marks. */
export function strokeItem(samples: Sample[], order: number): Item {
  return {
    author: 'teacher',
    kind: {
      type: 'stroke',
      tool: 'pen',
      style: { color: MARK_COLOR, width: MARK_WIDTH },
      samples: samples.slice(),
      live: false,
    },
    offset: [0, 0],
    erased: false,
    order,
    touched: order,
  };
}

/** A tick or a cross at a point. */
export function stampItem(kind: 'tick' | 'cross', x: number, y: number, order: number): Item {
  return {
    author: 'teacher',
    kind: { type: 'stamp', at: [x, y], stamp: { kind } },
    offset: [0, 0],
    erased: false,
    order,
    touched: order,
  };
}

/** The files a student may hand in: photos and PDFs (Rust checks the bytes again). */
export function canHandIn(file: { name: string; type: string }): boolean {
  const type = file.type.toLowerCase();
  if (['image/jpeg', 'image/png', 'image/webp', 'application/pdf'].includes(type)) return true;
  return /\.(jpe?g|png|webp|pdf)$/i.test(file.name);
}

/** Whether a file that may be handed in is a PDF (else a picture). */
function isPdfFile(file: { name: string; type: string }): boolean {
  return file.type.toLowerCase() === 'application/pdf' || /\.pdf$/i.test(file.name);
}

/**
 * Files chosen or dropped together, as the hand-ins they make: pictures together are one
 * piece of work (the app makes them one PDF of a page each, in the order given); a single
 * picture, and each PDF, by itself. Files that cannot be handed in are `refused`.
 */
export function planHandIns<F extends { name: string; type: string }>(files: F[]): { handIns: F[][]; refused: F[] } {
  const refused = files.filter((f) => !canHandIn(f));
  const taken = files.filter((f) => canHandIn(f));
  const pictures = taken.filter((f) => !isPdfFile(f));
  const pdfs = taken.filter(isPdfFile);
  const handIns = [...(pictures.length > 0 ? [pictures] : []), ...pdfs.map((f) => [f])];
  return { handIns, refused };
}

/** A file name without its extension. */
export function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** A hand-in's state as the page names it (anything unknown reads as waiting to be sent). */
export function handInState(state: string): 'queued' | 'sent' | 'returned' {
  return state === 'returned' || state === 'sent' ? state : 'queued';
}

/** The class's hand-ins under each assignment (in the assignments' order; hand-ins of
 * homework this list does not know come last, under their id). */
export function groupHandIns(
  assignments: AssignmentView[],
  handIns: HandInView[],
): { id: string; title: string; handIns: HandInView[] }[] {
  const groups = assignments.map((a) => ({ id: a.id, title: a.title, handIns: [] as HandInView[] }));
  const byId = new Map(groups.map((g) => [g.id, g]));
  for (const h of handIns) {
    let group = byId.get(h.assignmentId);
    if (group === undefined) {
      group = { id: h.assignmentId, title: h.assignmentId, handIns: [] };
      byId.set(h.assignmentId, group);
      groups.push(group);
    }
    group.handIns.push(h);
  }
  for (const g of groups) g.handIns.sort((a, b) => a.receivedMs - b.receivedMs || (a.key < b.key ? -1 : 1));
  return groups;
}

/** A due date from the date input (`yyyy-mm-dd`, the end of that day here), or null. */
export function dueFromInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  if (m === null) return null;
  const date = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 0, 0);
  return Number.isNaN(date.getTime()) ? null : date.getTime();
}
