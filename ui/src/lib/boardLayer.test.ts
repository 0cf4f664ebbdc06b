// The whiteboard's cached layer, through a 2D context that records what is drawn: the whole
// page once, then only what changes (an item on top, an area where one went), and all again
// for another view or size.
import { describe, expect, it } from 'vitest';
import { PAGE_HEIGHT, PAGE_WIDTH } from './board';
import { drawPaper, PageLayer, snapToPixels, type Transform } from './boardLayer';
import { FIT } from './boardView';
import { testStroke as stroke } from './testing';


/** A 2D context that accepts any call and records its name and arguments. */
function recording() {
  const calls: [string, unknown[]][] = [];
  const context = new Proxy({} as Record<string | symbol, unknown>, {
    get: (target, key) => (key in target ? target[key] : (...args: unknown[]) => calls.push([String(key), args])),
    set: (target, key, value) => {
      target[key] = value;
      return true;
    },
  });
  const count = (name: string) => calls.filter(([n]) => n === name).length;
  return { calls, context, count };
}

/** A layer whose canvas draws into `record`'s context. */
function layerWith(record: ReturnType<typeof recording>) {
  let canvases = 0;
  const layer = new PageLayer(() => {
    canvases += 1;
    return { width: 0, height: 0, getContext: () => record.context } as unknown as HTMLCanvasElement;
  });
  return { layer, canvases: () => canvases };
}

const scale: Transform = [0.5, 0, 0, 0.5, 0, 0];

describe("the whiteboard's cached layer", () => {
  it('draws the page once, then only what changes, each item once', () => {
    const record = recording();
    const { layer, canvases } = layerWith(record);
    const items = new Map([
      ['a', stroke(1, [[100, 100], [200, 100]])],
      ['b', stroke(2, [[100, 600], [200, 600]])],
    ]);
    let asked = 0;
    const finished = () => {
      asked += 1;
      return items;
    };
    // Every item is drawn inside save/translate/restore: one translate per item drawn.
    const canvas = layer.update(800, 450, FIT, scale, finished, undefined);
    expect([canvas.width, canvas.height]).toEqual([800, 450]);
    expect(record.count('clearRect')).toBe(1);
    expect(record.count('translate')).toBe(2);

    // Nothing changed: nothing drawn, the items not even gathered.
    record.calls.length = 0;
    layer.update(800, 450, FIT, scale, finished, undefined);
    expect(record.calls).toEqual([]);
    expect(asked).toBe(1);

    // A stroke finished on top: drawn over the layer alone.
    items.set('c', stroke(3, [[900, 300], [1000, 300]]));
    layer.change('c', items.get('c')!);
    layer.update(800, 450, FIT, scale, finished, undefined);
    expect(record.count('translate')).toBe(1);
    expect(record.count('clip')).toBe(0);

    // 'a' erased: its area is drawn again (paper, then what reaches there: nothing else).
    record.calls.length = 0;
    items.delete('a');
    layer.change('a', null);
    layer.update(800, 450, FIT, scale, finished, undefined);
    expect(record.count('clip')).toBe(1);
    expect(record.count('fillRect')).toBe(1);
    expect(record.count('translate')).toBe(0);
    expect(canvases()).toBe(1);
  });

  it('draws everything again for another view, another size or a reset', () => {
    const record = recording();
    const { layer } = layerWith(record);
    const items = new Map([['a', stroke(1, [[100, 100], [200, 100]])]]);
    layer.update(800, 450, FIT, scale, () => items, undefined);
    const again = (width: number, view = FIT) => {
      record.calls.length = 0;
      layer.update(width, 450, view, scale, () => items, undefined);
      return record.count('clearRect');
    };
    expect(again(800)).toBe(0);
    expect(again(800, { zoom: 2, x: 100, y: 50 })).toBe(1);
    expect(again(900, { zoom: 2, x: 100, y: 50 })).toBe(1);
    layer.reset();
    expect(again(900, { zoom: 2, x: 100, y: 50 })).toBe(1);
  });
});

describe('the paper', () => {
  it('is plain, ruled or a grid', () => {
    const lines = (background: Parameters<typeof drawPaper>[1]) => {
      const record = recording();
      drawPaper(record.context as unknown as CanvasRenderingContext2D, background);
      expect(record.calls[0]).toEqual(['fillRect', [0, 0, PAGE_WIDTH, PAGE_HEIGHT]]);
      return record.count('lineTo');
    };
    expect(lines(undefined)).toBe(0);
    expect(lines({ type: 'blank' })).toBe(0);
    expect(lines({ type: 'ruled', spacing: 100 })).toBe(8);
    expect(lines({ type: 'grid', spacing: 100 })).toBe(8 + 15);
  });
});

describe('an area drawn again', () => {
  it('covers whole device pixels', () => {
    // At a scale of 0.5 and a shift of 0.25 px, 11..21 page units is 5.75..10.75 px: 5..11 px.
    expect(snapToPixels([11, 11, 21, 21], [0.5, 0, 0, 0.5, 0.25, 0.25])).toEqual([9.5, 9.5, 21.5, 21.5]);
  });
});
