// @vitest-environment jsdom
// The homework marking canvas with a tablet pen as the app reads it (`nativePen`): a touch on
// the photo is a mark from the pen's own samples, the webview's late events of it add
// nothing, the pen's eraser end (or the eraser tool, with a mouse) takes marks off, and a
// touch on something over the photo is not the canvas's.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import MarkingCanvas from './MarkingCanvas.svelte';
import { nativePen } from './nativePen';
import { render, type Mounted } from './testing';

let mounted: Mounted | undefined;
let under: Element | null = null;
let clock = 0;

beforeEach(() => {
  URL.createObjectURL = vi.fn(() => 'blob:photo');
  URL.revokeObjectURL = vi.fn();
  HTMLCanvasElement.prototype.getContext = vi.fn(() => null) as never;
  // The photo fills 1000x1000 client pixels from the corner: client pixels are photo units.
  HTMLCanvasElement.prototype.getBoundingClientRect = () => new DOMRect(0, 0, 1000, 1000);
  document.elementFromPoint = () => under;
});

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  // The page's one pen ends lifted, whatever a test left.
  pen(0, 0, false);
});

/** The app's sample of the pen at client `(x, y)`: touching or not, tip or eraser end. */
function pen(x: number, y: number, contact: boolean, eraser = false) {
  clock += 5;
  nativePen.take({ x, y, pressure: contact ? 0.6 : 0, contact, eraser, time: clock }, clock);
}

/** A touch along `points` and the lift. */
function touch(points: [number, number][], eraser = false) {
  for (const [x, y] of points) pen(x, y, true, eraser);
  const [x, y] = points[points.length - 1];
  pen(x, y, false, eraser);
  flushSync();
}

/**
 * The webview's own events of a pen touch from `from` to `to`, as WebKit sends them late: a
 * mouse press where the touch began, one move and the lift.
 */
function webviewTouch(target: Element, from: [number, number], to: [number, number]) {
  for (const [type, buttons, [x, y]] of [
    ['pointerdown', 1, from],
    ['pointermove', 1, to],
    ['pointerup', 0, to],
  ] as const) {
    const e = new MouseEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0, buttons });
    Object.assign(e, { pointerId: 1, pointerType: 'mouse', pressure: 0.5 });
    // The page's capturing listener matches each press to the pen's touch first.
    if (type === 'pointerdown') nativePen.press(e as unknown as PointerEvent);
    target.dispatchEvent(e);
  }
  flushSync();
}

/** A mouse pressed at the first point, moved through the rest and released. */
function mouseDrag(target: Element, points: [number, number][]) {
  points.forEach(([x, y], i) => {
    const type = i === 0 ? 'pointerdown' : 'pointermove';
    const e = new MouseEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0, buttons: 1 });
    Object.assign(e, { pointerId: 2, pointerType: 'mouse', pressure: 0.5 });
    target.dispatchEvent(e);
  });
  const [x, y] = points[points.length - 1];
  const up = new MouseEvent('pointerup', { bubbles: true, clientX: x, clientY: y, button: 0, buttons: 0 });
  Object.assign(up, { pointerId: 2, pointerType: 'mouse', pressure: 0 });
  target.dispatchEvent(up);
  flushSync();
}

/** The pen draws two lines across the photo: at heights 100 and 600, from 100 to 300. */
function twoLines() {
  for (const y of [100, 600]) {
    touch([
      [100, y],
      [300, y],
    ]);
  }
}

function mountCanvas() {
  mounted = render(MarkingCanvas, { photo: new ArrayBuffer(8), label: 'photo' });
  const canvas = mounted.target.querySelector<HTMLCanvasElement>('[data-testid=marking-canvas]')!;
  under = canvas;
  return canvas;
}

describe('a pen on the marking canvas', () => {
  it("draws a touch from the pen's samples, once, though the webview's events come after", () => {
    const canvas = mountCanvas();
    touch([
      [100, 100],
      [150, 120],
      [200, 160],
    ]);
    expect(canvas.dataset.marks).toBe('1');
    webviewTouch(canvas, [100, 100], [200, 160]);
    expect(canvas.dataset.marks).toBe('1');
  });

  it('takes the marks under its eraser end off, and the eraser leaves no mark', () => {
    const canvas = mountCanvas();
    twoLines();
    expect(canvas.dataset.marks).toBe('2');
    // Across the first line only.
    touch(
      [
        [200, 50],
        [200, 100],
        [200, 150],
      ],
      true,
    );
    expect(canvas.dataset.marks).toBe('1');
    webviewTouch(canvas, [200, 50], [200, 150]);
    expect(canvas.dataset.marks).toBe('1');
  });

  it('takes marks off with the eraser tool and a mouse', () => {
    const canvas = mountCanvas();
    twoLines();
    mounted!.target.querySelector<HTMLButtonElement>('[data-testid=mark-tool-eraser]')!.click();
    flushSync();
    // A mouse drag across the second line: it goes; nothing is drawn.
    mouseDrag(canvas, [
      [200, 550],
      [200, 600],
      [200, 650],
    ]);
    expect(canvas.dataset.marks).toBe('1');
    // Back to the pen: a drag draws again.
    mounted!.target.querySelector<HTMLButtonElement>('[data-testid=mark-tool-pen]')!.click();
    flushSync();
    mouseDrag(canvas, [
      [500, 500],
      [600, 500],
    ]);
    expect(canvas.dataset.marks).toBe('2');
  });

  it("draws a mouse's drag as the app reads it, once, though the webview's events come after", () => {
    const canvas = mountCanvas();
    for (const [x, contact] of [
      [100, true],
      [150, true],
      [200, true],
      [200, false],
    ] as const) {
      clock += 5;
      nativePen.take({ x, y: 300, pressure: 0, contact, eraser: false, mouse: true, time: clock }, clock);
    }
    flushSync();
    expect(canvas.dataset.marks).toBe('1');
    webviewTouch(canvas, [100, 300], [200, 300]);
    expect(canvas.dataset.marks).toBe('1');
  });

  it('leaves a touch on something over the photo to it', () => {
    const canvas = mountCanvas();
    under = document.body;
    touch([
      [100, 100],
      [200, 100],
    ]);
    expect(canvas.dataset.marks).toBe('0');
  });
});
