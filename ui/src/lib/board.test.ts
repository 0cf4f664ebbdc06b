import { describe, expect, it } from 'vitest';
import type { BoardUpdate, Item } from './api';
import { testStroke as stroke } from './testing';
import {
  applyUpdate,
  drawItem,
  drawingOrder,
  emptyBoard,
  eraseSelectionOps,
  hitTest,
  isShapeTool,
  itemBounds,
  LASER_MS,
  laserAlpha,
  LayerPlan,
  measuredBounds,
  moveOp,
  moveSelectionOps,
  newPageId,
  overlaps,
  pageSeen,
  pageStep,
  privateOwner,
  privatePage,
  scoreOp,
  selectWithin,
  shapeOp,
  stampOp,
  StrokeBuilder,
  takeLasers,
  textBox,
  textOp,
  textSize,
  toolForKey,
  widthAt,
} from './board';


const update = (over: Partial<BoardUpdate>): BoardUpdate => ({
  reset: false,
  pages: [],
  items: [],
  lasers: [],
  me: 'p1',
  canUndo: false,
  canRedo: false,
  generation: 1,
  applied: 1,
  shown: null,
  ...over,
});

describe('the whiteboard on the page', () => {
  it('keeps what Rust says changed, drops erased items and starts over on a reset', () => {
    let board = applyUpdate(
      emptyBoard(),
      update({
        reset: true,
        pages: [{ id: 'board-1', background: { type: 'blank' } }],
        items: [{ page: 'board-1', id: 'a', item: stroke(2, [[0, 0], [10, 10]]) }],
      }),
    );
    expect(board.pages.map((p) => p.id)).toEqual(['board-1']);
    expect(board.items.get('board-1')?.size).toBe(1);
    board = applyUpdate(
      board,
      update({
        items: [
          { page: 'board-1', id: 'b', item: stroke(3, [[5, 5]]) },
          { page: 'board-1', id: 'a', item: { ...stroke(2, [[0, 0]]), erased: true } },
        ],
        canUndo: true,
      }),
    );
    expect([...(board.items.get('board-1')?.keys() ?? [])]).toEqual(['b']);
    expect(board.canUndo).toBe(true);
    board = applyUpdate(board, update({ reset: true }));
    expect(board.pages).toEqual([]);
    expect(board.items.size).toBe(0);
  });

  it('drops a snapshot older than what the page has, and takes a new class whole', () => {
    let board = applyUpdate(
      emptyBoard(),
      update({ pages: [{ id: 'board-1', background: { type: 'blank' } }], applied: 3 }),
    );
    // The whole board as it was at 0, answered after change 3 arrived: dropped.
    board = applyUpdate(board, update({ reset: true, applied: 0 }));
    expect(board.pages.map((p) => p.id)).toEqual(['board-1']);
    // A new class (generation 2) starts empty whatever was there.
    board = applyUpdate(board, update({ reset: true, generation: 2, applied: 0 }));
    expect(board.pages).toEqual([]);
    expect(board.generation).toBe(2);
  });

  it('sends a stroke as it is drawn: begin, batches numbered from where the last ended, end', () => {
    const b = new StrokeBuilder('p', 'p1-1', 'pen', { color: [0, 0, 0, 255], width: 4 }, { x: 1, y: 2, p: 0.3, at: 100 });
    const begin = b.begin();
    expect(begin).toMatchObject({ op: 'beginStroke', item: 'p1-1', samples: [{ x: 1, y: 2, p: 0.3, t: 0 }] });
    expect(b.flush()).toBeNull();
    b.add({ x: 3, y: 4, p: 0.9, at: 108 });
    b.add({ x: 5, y: 6, p: 2, at: 116 });
    b.add({ x: Number.NaN, y: 6, p: 1, at: 120 });
    const batch = b.flush();
    expect(batch).toMatchObject({ op: 'extendStroke', from: 1 });
    expect(batch && 'samples' in batch ? batch.samples.map((s) => [s.t, s.p]) : []).toEqual([
      [8, 0.9],
      [16, 1],
    ]);
    b.add({ x: 7, y: 8, p: 0.5, at: 124 });
    expect(b.flush()).toMatchObject({ from: 3 });
    expect(b.end()).toEqual({ op: 'endStroke', page: 'p', item: 'p1-1', count: 4 });
  });

  it("tests only the strokes near the eraser once their extent is known, and moved ones where they went", () => {
    let reads = 0;
    const counted = (item: Item): Item => {
      if (item.kind.type !== 'stroke') return item;
      const samples = new Proxy(item.kind.samples, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/u.test(key)) reads += 1;
          return Reflect.get(target, key, receiver);
        },
      });
      return { ...item, kind: { ...item.kind, samples } };
    };
    const items = new Map<string, Item>();
    for (let i = 0; i < 500; i++) {
      items.set(`far${i}`, counted(stroke(i, [[1000 + i, 1000], [1000 + i, 1040], [1010 + i, 1080]])));
    }
    items.set('near', stroke(999, [[40, 50], [60, 50]]));
    // The first touch that finds nothing measures every stroke once...
    expect(hitTest(items, 300, 300)).toBeNull();
    expect(reads).toBe(1500);
    // ...and the next ones read none of the far strokes' samples.
    reads = 0;
    expect(hitTest(items, 45, 48)).toBe('near');
    expect(hitTest(items, 300, 310)).toBeNull();
    expect(reads).toBe(0);
    // A stroke moved (a new item with an offset) is found where it is now.
    const far = items.get('far7');
    if (far === undefined) throw new Error('far7');
    items.set('far7', { ...far, offset: [-900, -900] });
    expect(hitTest(items, 107, 140)).toBe('far7');
    expect(hitTest(items, 1007, 1040)).not.toBe('far7');
  });

  it('draws highlighter under ink and picks the topmost item for the eraser', () => {
    const items = new Map<string, Item>([
      ['ink', stroke(5, [[0, 0], [100, 0]])],
      ['marker', stroke(9, [[0, 0], [100, 0]], 'highlighter')],
      ['far', stroke(1, [[500, 500], [600, 600]])],
    ]);
    expect(drawingOrder(items).map(([id]) => id)).toEqual(['marker', 'far', 'ink']);
    expect(hitTest(items, 50, 3)).toBe('ink');
    expect(hitTest(items, 550, 552)).toBe('far');
    expect(hitTest(items, 300, 300)).toBeNull();
    // What the touch erased already, or may not erase, is passed over to what lies under it.
    expect(hitTest(items, 50, 3, 10, (id) => id === 'ink')).toBe('marker');
    expect(hitTest(items, 50, 3, 10, (_, item) => item.author === 'p1')).toBeNull();
    expect(widthAt('pen', 4, 1)).toBeCloseTo(4);
    expect(widthAt('pen', 4, 0)).toBeLessThan(2);
    expect(widthAt('highlighter', 4, 0)).toBe(16);
  });
});

describe('drawing ink', () => {
  /** A context that records the paths stroked: their points and widths. */
  function recorder() {
    const strokes: { points: number; width: number }[] = [];
    let points = 0;
    const ctx = {
      lineWidth: 1,
      save() {},
      restore() {},
      translate() {},
      beginPath() {
        points = 0;
      },
      moveTo() {
        points += 1;
      },
      lineTo() {
        points += 1;
      },
      stroke() {
        strokes.push({ points, width: ctx.lineWidth });
      },
      arc() {},
      fill() {},
    };
    return { ctx: ctx as unknown as CanvasRenderingContext2D, strokes };
  }

  it('draws a pen segment by segment, each as wide as its pressure', () => {
    const { ctx, strokes } = recorder();
    drawItem(ctx, stroke(1, [[0, 0], [10, 0], [20, 5], [30, 5]]));
    expect(strokes.map((s) => s.points)).toEqual([2, 2, 2]);
  });

  it('draws a highlighter as one path, so its ink is even where segments meet', () => {
    const { ctx, strokes } = recorder();
    drawItem(ctx, stroke(1, [[0, 0], [10, 0], [20, 5], [30, 5]], 'highlighter'));
    expect(strokes).toEqual([{ points: 4, width: 16 }]);
  });
});

describe('the cached layer of finished items', () => {
  const board = (entries: [string, Item][]) => new Map(entries);

  it('knows the area an item can reach, with its width, its offset and a margin', () => {
    const item = stroke(1, [[100, 200], [300, 250]]);
    // A pen 4 wide reaches 2 from its samples at full pressure, plus 2 for anti-aliasing.
    expect(itemBounds(item)).toEqual([96, 196, 304, 254]);
    expect(itemBounds({ ...item, offset: [10, -10] })).toEqual([106, 186, 314, 244]);
    expect(itemBounds(stroke(1, []))).toBeNull();
    expect(overlaps([0, 0, 10, 10], [9, 9, 20, 20])).toBe(true);
    expect(overlaps([0, 0, 10, 10], [10, 0, 20, 10])).toBe(false);
  });

  it('draws everything first, then a stroke finished on top over the layer as it is', () => {
    const plan = new LayerPlan();
    const a = stroke(1, [[0, 0], [10, 10]]);
    expect(plan.take()).toEqual({ full: true, append: [], region: null });
    plan.drewAll(board([['a', a]]));
    expect(plan.take()).toEqual({ full: false, append: [], region: null });
    plan.change('b', stroke(2, [[50, 50], [60, 60]]));
    expect(plan.take()).toEqual({ full: false, append: ['b'], region: null });
    // What the layer holds is known by its bounds, for drawing an area again.
    expect(plan.boundsOf('a')).toEqual(itemBounds(a));
    expect(plan.boundsOf('b')).toEqual([46, 46, 64, 64]);
    expect(plan.boundsOf('nothing')).toBeUndefined();
  });

  it('draws again only the area of an item that went, moved or came out of order', () => {
    const plan = new LayerPlan();
    plan.take();
    const a = stroke(5, [[100, 100], [200, 100]]);
    plan.drewAll(board([['a', a], ['z', stroke(9, [[1000, 800], [1100, 800]])]]));
    // Erased: its own area.
    plan.change('a', null);
    expect(plan.take()).toEqual({ full: false, append: [], region: itemBounds(a) });
    // Finished after later ones (it began first): drawn in its place, under them.
    const late = stroke(3, [[400, 400], [420, 420]]);
    plan.change('late', late);
    expect(plan.take()).toEqual({ full: false, append: [], region: itemBounds(late) });
    // A highlighter goes under the ink: never simply drawn over it.
    const marker = stroke(20, [[0, 500], [100, 500]], 'highlighter');
    plan.change('m', marker);
    expect(plan.take().region).toEqual(itemBounds(marker));
    // Moved: where it was and where it is.
    const z = stroke(9, [[1000, 800], [1100, 800]]);
    plan.change('z', { ...z, offset: [-900, 0] });
    expect(plan.take().region).toEqual([96, 796, 1104, 804]);
  });

  it('folds a pending stroke into an area drawn again, so nothing is drawn twice', () => {
    const plan = new LayerPlan();
    plan.take();
    const a = stroke(1, [[0, 0], [10, 0]]);
    plan.drewAll(board([['a', a]]));
    const b = stroke(2, [[500, 500], [510, 500]]);
    plan.change('b', b);
    plan.change('a', null);
    const work = plan.take();
    expect(work.append).toEqual([]);
    expect(work.region).toEqual([-4, -4, 514, 504]);
  });

  it('draws everything again after a reset', () => {
    const plan = new LayerPlan();
    plan.take();
    plan.drewAll(board([]));
    plan.reset();
    plan.change('x', stroke(1, [[0, 0], [1, 1]]));
    expect(plan.take()).toEqual({ full: true, append: [], region: null });
  });
});

describe('shapes and keys', () => {
  const style = { color: [0, 0, 0, 255] as [number, number, number, number], width: 4 };

  it('adds a dragged shape whole, and nothing for a click', () => {
    expect(shapeOp('board-1', 'p1-1', 'arrow', [10, 10], [200, 40], style)).toEqual({
      op: 'addItem',
      page: 'board-1',
      item: 'p1-1',
      kind: { type: 'shape', shape: 'arrow', from: [10, 10], to: [200, 40], style },
    });
    expect(shapeOp('board-1', 'p1-2', 'line', [10, 10], [11, 11], style)).toBeNull();
    expect(shapeOp('board-1', 'p1-3', 'line', [10, 10], [NaN, 11], style)).toBeNull();
  });

  it('puts a tick or a cross where the page was pressed, and none off it', () => {
    expect(stampOp('board-1', 'p1-4', 'tick', [400, 300])).toEqual({
      op: 'addItem',
      page: 'board-1',
      item: 'p1-4',
      kind: { type: 'stamp', at: [400, 300], stamp: { kind: 'tick' } },
    });
    expect(stampOp('board-1', 'p1-5', 'cross', [-1, 300])).toBeNull();
    expect(stampOp('board-1', 'p1-6', 'cross', [NaN, 300])).toBeNull();
  });

  it('moves a dragged item by how far it was dragged, and not for a wobble', () => {
    expect(moveOp('board-1', 'p1-1', [100, 100], [160, 80])).toEqual({
      op: 'move',
      page: 'board-1',
      item: 'p1-1',
      dx: 60,
      dy: -20,
    });
    expect(moveOp('board-1', 'p1-1', [100, 100], [100.5, 100.5])).toBeNull();
  });

  it('picks tools by key', () => {
    expect(toolForKey('R')).toBe('rectangle');
    expect(toolForKey('o')).toBe('ellipse');
    expect(toolForKey('e')).toBe('eraser');
    expect(toolForKey('t')).toBe('tick');
    expect(toolForKey('v')).toBe('move');
    expect(toolForKey('X')).toBe('cross');
    expect(toolForKey('w')).toBe('text');
    expect(toolForKey('S')).toBe('score');
    expect(toolForKey('z')).toBeNull();
    expect(isShapeTool('ellipse')).toBe(true);
    expect(isShapeTool('pen')).toBe(false);
  });
});

describe('text and scores', () => {
  const black: [number, number, number, number] = [0, 0, 0, 255];

  it('adds typed text at its corner, trimmed, and nothing empty or too long', () => {
    expect(textOp('p', 'me-1', [10, 20], 'Well done  \n', 32, black)).toEqual({
      op: 'addItem',
      page: 'p',
      item: 'me-1',
      kind: { type: 'text', at: [10, 20], text: 'Well done', size: 32, color: black },
    });
    expect(textOp('p', 'me-1', [10, 20], '  \n ', 32, black)).toBeNull();
    expect(textOp('p', 'me-1', [10, 20], 'x'.repeat(2001), 32, black)).toBeNull();
    expect(textOp('p', 'me-1', [10, 20], '做'.repeat(2000), 32, black)).not.toBeNull();
    expect(textOp('p', 'me-1', [NaN, 20], 'x', 32, black)).toBeNull();
    expect(textOp('p', 'me-1', [10, 20], 'x', 0, black)).toBeNull();
  });

  it('adds a score centred where the page was pressed, up to 20 characters', () => {
    expect(scoreOp('p', 'me-2', ' 8/10 ', [300, 200])).toEqual({
      op: 'addItem',
      page: 'p',
      item: 'me-2',
      kind: { type: 'stamp', at: [300, 200], stamp: { kind: 'score', text: '8/10' } },
    });
    expect(scoreOp('p', 'me-2', '', [300, 200])).toBeNull();
    expect(scoreOp('p', 'me-2', '9'.repeat(21), [300, 200])).toBeNull();
  });

  it('knows where text reaches, line by line, and hits it there', () => {
    const [l, t, r, b] = textBox('ab\nlonger', 40, [100, 100], false);
    expect([l, r]).toEqual([100, 100 + 6 * 40]);
    expect(t).toBeCloseTo(100 - 0.2 * 40);
    expect(b).toBeCloseTo(100 + 40 * (0.8 + 1.25 + 0.3));
    const score = textBox('8/10', 36, [500, 300], true);
    expect((score[0] + score[2]) / 2).toBe(500);
    const item = (kind: Item['kind']): Item => ({ author: 'me', kind, offset: [0, 0], erased: false, order: 1, touched: 1 });
    const items = new Map([
      ['a', item({ type: 'text', at: [100, 100], text: 'ab\nlonger', size: 40, color: black })],
      ['b', item({ type: 'stamp', at: [500, 300], stamp: { kind: 'score', text: '8/10' } })],
    ]);
    expect(hitTest(items, 300, 175)).toBe('a');
    expect(hitTest(items, 500, 300)).toBe('b');
    expect(hitTest(items, 100, 400)).toBeNull();
    expect(itemBounds(items.get('a')!)).toEqual([98, t - 2, r + 2, b + 2]);
  });

  it('draws each line at its baseline, a score centred', () => {
    const calls: [string, number, number, string][] = [];
    const ctx = {
      save() {},
      restore() {},
      translate() {},
      fillStyle: '',
      font: '',
      textAlign: 'start',
      textBaseline: 'top',
      fillText(text: string, x: number, y: number) {
        calls.push([text, x, y, `${ctx.font}|${ctx.textAlign}|${ctx.textBaseline}`]);
      },
    };
    const c = ctx as unknown as CanvasRenderingContext2D;
    const item = (kind: Item['kind']): Item => ({ author: 'me', kind, offset: [0, 0], erased: false, order: 1, touched: 1 });
    drawItem(c, item({ type: 'text', at: [10, 20], text: 'one\r\ntwo', size: 40, color: black }));
    drawItem(c, item({ type: 'stamp', at: [500, 300], stamp: { kind: 'score', text: '8/10' } }));
    expect(calls.map(([text, x, y]) => [text, x, y])).toEqual([
      ['one', 10, 20 + 32],
      ['two', 10, 20 + 32 + 50],
      ['8/10', 500, 300 + 36 * 0.35],
    ]);
    expect(calls[0][3]).toMatch(/^40px "DejaVu Sans".*\|left\|alphabetic$/);
    expect(calls[2][3]).toMatch(/^bold 36px .*\|center\|alphabetic$/);
  });

  it('sizes text by the width chosen', () => {
    expect(textSize(4)).toBe(28);
    expect(textSize(1)).toBe(16);
    expect(textSize(99)).toBe(76);
  });
});

describe('choosing several items', () => {
  const items = new Map([
    ['a', stroke(1, [[100, 100], [200, 150]])],
    ['b', stroke(2, [[300, 300], [350, 320]])],
    ['c', stroke(3, [[900, 700], [950, 720]])],
  ]);

  it('takes what lies wholly inside a dragged rectangle, whichever way it was dragged', () => {
    expect(selectWithin(items, [50, 50], [400, 400])).toEqual(['a', 'b']);
    expect(selectWithin(items, [400, 400], [50, 50])).toEqual(['a', 'b']);
    // Half of b inside is not b.
    expect(selectWithin(items, [50, 50], [320, 400])).toEqual(['a']);
    const live = new Map([['d', { ...stroke(4, [[10, 10], [20, 20]]), kind: { ...stroke(4, [[10, 10], [20, 20]]).kind, live: true } as Item['kind'] }]]);
    expect(selectWithin(live, [0, 0], [100, 100])).toEqual([]);
  });

  it('measures text to choose it by where its letters are', () => {
    const words: Item = {
      author: 'me',
      kind: { type: 'text', at: [100, 100], text: 'Well done\nok', size: 40, color: [0, 0, 0, 255] },
      offset: [10, 0],
      erased: false,
      order: 5,
      touched: 5,
    };
    // 20 units a character, as a canvas measuring a narrow font would.
    const measure = (line: string, font: string) => {
      expect(font).toMatch(/^40px "DejaVu Sans"/);
      return line.length * 20;
    };
    const box = measuredBounds(words, measure)!;
    expect([box[0], box[2]]).toEqual([108, 100 + 180 + 10 + 2]);
    const texts = new Map([['t', words]]);
    expect(selectWithin(texts, [90, 80], [300, 220], (i) => measuredBounds(i, measure))).toEqual(['t']);
    // The generous estimate (a size per character) would not fit.
    expect(selectWithin(texts, [90, 80], [300, 220])).toEqual([]);
  });

  it('moves and erases them in one change each, one item as before', () => {
    expect(moveSelectionOps('p', ['a', 'b'], [10, 10], [30, 5])).toEqual([
      { op: 'moveItems', page: 'p', items: ['a', 'b'], dx: 20, dy: -5 },
    ]);
    expect(moveSelectionOps('p', ['a'], [10, 10], [30, 5])).toEqual([{ op: 'move', page: 'p', item: 'a', dx: 20, dy: -5 }]);
    expect(moveSelectionOps('p', ['a', 'b'], [10, 10], [10.2, 10])).toEqual([]);
    expect(eraseSelectionOps('p', ['a', 'b'])).toEqual([{ op: 'eraseItems', page: 'p', items: ['a', 'b'] }]);
    expect(eraseSelectionOps('p', ['a'])).toEqual([{ op: 'erase', page: 'p', item: 'a' }]);
    // More than the server takes at once: in several changes.
    const many = Array.from({ length: 1200 }, (_, i) => `t-${i}`);
    expect(eraseSelectionOps('p', many).map((op) => (op.op === 'eraseItems' ? op.items.length : 0))).toEqual([500, 500, 200]);
  });
});

describe('pages', () => {
  const grid = { type: 'grid', spacing: 50 } as const;
  const board = applyUpdate(
    emptyBoard(),
    update({ reset: true, pages: ['board-1', 'board-2', 'board-3'].map((id) => ({ id, background: grid })), shown: 'board-2' }),
  );

  it('shows the page the staff show, or the one a person chose while it exists', () => {
    expect(pageSeen(board, null)).toBe('board-2');
    expect(pageSeen(board, 'board-3')).toBe('board-3');
    expect(pageSeen(board, 'gone')).toBe('board-2');
    expect(pageSeen({ ...board, shown: null }, null)).toBe('board-1');
    expect(pageSeen(emptyBoard(), null)).toBeNull();
  });

  it('steps through the pages without running off either end, and numbers new ones', () => {
    expect(pageStep(board, 'board-2', 1)).toBe('board-3');
    expect(pageStep(board, 'board-3', 1)).toBe('board-3');
    expect(pageStep(board, 'board-1', -1)).toBe('board-1');
    expect(newPageId(board)).toBe('board-4');
    expect(newPageId(emptyBoard())).toBe('board-1');
  });

  it('knows a private page and whose it is, as the server does', () => {
    expect(privatePage('p7')).toBe('private-p7-1');
    expect(privateOwner('private-p7-1')).toBe('p7');
    expect(privateOwner('private-p-12-3')).toBe('p-12');
    for (const page of ['board-1', 'private-', 'private-p7', 'private-p7-x', 'xprivate-p7-1', null]) {
      expect(privateOwner(page)).toBeNull();
    }
  });
});

describe('laser pointers', () => {
  it('keeps each author’s latest dot, fading over the second half of its time', () => {
    let lasers = takeLasers(new Map(), [{ author: 'p1', page: 'board-1', at: [10, 20] }], 1000);
    lasers = takeLasers(lasers, [{ author: 'p1', page: 'board-1', at: [30, 40] }, { author: 'p2', page: 'board-2', at: [1, 1] }], 1100);
    expect(lasers.get('p1')).toEqual({ page: 'board-1', at: [30, 40], since: 1100 });
    expect(lasers.size).toBe(2);
    const dot = lasers.get('p1')!;
    expect(laserAlpha(dot, 1100)).toBe(1);
    expect(laserAlpha(dot, 1100 + LASER_MS / 2)).toBe(1);
    expect(laserAlpha(dot, 1100 + (LASER_MS * 3) / 4)).toBeCloseTo(0.5);
    expect(laserAlpha(dot, 1100 + LASER_MS)).toBe(0);
    // Gone ones are dropped when the next comes.
    expect(takeLasers(lasers, [], 1100 + LASER_MS).size).toBe(0);
  });
});
