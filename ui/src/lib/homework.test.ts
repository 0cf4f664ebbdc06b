import { describe, expect, it } from 'vitest';
import type { AssignmentView, HandInView } from './api';
import {
  canHandIn,
  planHandIns,
  stemOf,
  dueFromInput,
  groupHandIns,
  isSheet,
  MARK_COLOR,
  MARK_TEXT_SIZE,
  markPageSize,
  stampItem,
  handInState,
  strokeItem,
  wordsItem,
} from './homework';

const assignment = (id: string, title: string): AssignmentView => ({
  id,
  courseId: 'c',
  title,
  instructions: '',
  dueMs: null,
  handIns: [],
});

const handIn = (key: string, assignmentId: string, receivedMs: number): HandInView => ({
  key,
  assignmentId,
  student: 's',
  name: 'Ada',
  fileName: 'photo.jpg',
  size: 1,
  receivedMs,
  markable: true,
  returned: false,
  mark: null,
  feedback: null,
});

describe('homework', () => {
  it('a marking page is 1000 units across and keeps the photo’s shape', () => {
    expect(markPageSize(2000, 1500)).toEqual({ width: 1000, height: 750 });
    expect(markPageSize(1200, 2400)).toEqual({ width: 1000, height: 2000 });
    expect(markPageSize(0, 10)).toEqual({ width: 1000, height: 1000 });
  });

  it('a PDF’s pages one under the other are a sheet; a portrait photo is not', () => {
    // Two A4 pages 1000 px across with a gap; one A4 page; a 3:4 photo.
    expect(isSheet(1000, 2846)).toBe(true);
    expect(isSheet(1000, 1415)).toBe(false);
    expect(isSheet(3000, 4000)).toBe(false);
  });

  it('marks are annotation items Rust can draw', () => {
    const samples = [
      { x: 1, y: 2, p: 0.5, t: 0 },
      { x: 3, y: 4, p: 0.7, t: 8 },
    ];
    const stroke = strokeItem(samples, 1);
    expect(stroke.kind).toMatchObject({ type: 'stroke', tool: 'pen', live: false, samples });
    samples.push({ x: 9, y: 9, p: 1, t: 9 });
    expect(stroke.kind.type === 'stroke' && stroke.kind.samples.length).toBe(2);
    expect(stampItem('tick', 10, 20, 2)).toMatchObject({ kind: { type: 'stamp', at: [10, 20], stamp: { kind: 'tick' } }, order: 2 });
  });

  it('typed comments and the mark are items too, and nothing for empty words', () => {
    expect(wordsItem('text', ' Good work ', 100, 50, 3)?.kind).toEqual({
      type: 'text',
      at: [100, 50],
      text: ' Good work',
      size: MARK_TEXT_SIZE,
      color: MARK_COLOR,
    });
    expect(wordsItem('score', ' 9/10 ', 500, 60, 4)).toMatchObject({
      kind: { type: 'stamp', at: [500, 60], stamp: { kind: 'score', text: '9/10' } },
      order: 4,
    });
    expect(wordsItem('text', '   ', 1, 1, 1)).toBeNull();
    expect(wordsItem('score', 'much more than twenty characters', 1, 1, 1)).toBeNull();
  });

  it('photos and PDFs may be handed in, by type or by name', () => {
    expect(canHandIn({ name: 'a.jpg', type: 'image/jpeg' })).toBe(true);
    expect(canHandIn({ name: 'scan.PDF', type: '' })).toBe(true);
    expect(canHandIn({ name: 'x.heic', type: 'image/heic' })).toBe(false);
    expect(canHandIn({ name: 'essay.docx', type: 'application/msword' })).toBe(false);
  });

  it('hand-ins are grouped under their homework, oldest first, unknown homework last', () => {
    const groups = groupHandIns(
      [assignment('a', 'Essay'), assignment('b', 'Maths')],
      [handIn('k2', 'a', 20), handIn('k1', 'a', 10), handIn('k3', 'zz', 5)],
    );
    expect(groups.map((g) => [g.id, g.handIns.map((h) => h.key)])).toEqual([
      ['a', ['k1', 'k2']],
      ['b', []],
      ['zz', ['k3']],
    ]);
  });

  it('states and due dates read as the page shows them', () => {
    expect(handInState('returned')).toBe('returned');
    expect(handInState('sent')).toBe('sent');
    expect(handInState('queued')).toBe('queued');
    expect(handInState('from a newer app')).toBe('queued');
    const due = dueFromInput('2026-12-24');
    expect(due !== null && new Date(due).getDate()).toBe(24);
    expect(dueFromInput('')).toBeNull();
    expect(dueFromInput('24/12/2026')).toBeNull();
  });
});

describe('handing in files chosen together', () => {
  const file = (name: string, type = '') => ({ name, type });

  it('makes the pictures one piece of work in their order, and each PDF its own', () => {
    const a = file('p1.jpg', 'image/jpeg');
    const b = file('p2.PNG');
    const pdf = file('essay.pdf', 'application/pdf');
    const notes = file('notes.txt', 'text/plain');
    const plan = planHandIns([a, pdf, b, notes]);
    expect(plan.handIns).toEqual([[a, b], [pdf]]);
    expect(plan.refused).toEqual([notes]);
  });

  it('hands a single picture or PDF in as it is', () => {
    expect(planHandIns([file('one.webp')]).handIns).toEqual([[file('one.webp')]]);
    expect(planHandIns([file('a.pdf'), file('b.pdf')]).handIns).toEqual([[file('a.pdf')], [file('b.pdf')]]);
    expect(planHandIns([]).handIns).toEqual([]);
  });

  it('names a file without its extension', () => {
    expect(stemOf('IMG_0001.jpeg')).toBe('IMG_0001');
    expect(stemOf('archive.tar.gz')).toBe('archive.tar');
    expect(stemOf('.hidden')).toBe('.hidden');
    expect(stemOf('plain')).toBe('plain');
  });
});
