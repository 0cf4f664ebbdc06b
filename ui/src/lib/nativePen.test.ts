// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { MAX_TRAIL, NativePen, PEN_EVENT, listenForNativePen, nativePen, strokePoints } from './nativePen';

const mouse = (buttons: number) => ({ pointerType: 'mouse', pressure: buttons ? 0.5 : 0, buttons });
const at = (x: number, pressure: number, contact: boolean, time = x) => ({ x, y: 10, pressure, contact, eraser: false, time });
const event = (x: number, buttons = 1) => ({ ...mouse(buttons), clientX: x, clientY: 5, timeStamp: 1000 + x });

describe("a pen as the app reads it", () => {
  it('leaves a mouse at 0.5 while no pen was seen', () => {
    const pen = new NativePen();
    expect(pen.isPen(mouse(1))).toBe(false);
    expect(pen.pressure(mouse(1))).toBe(0.5);
    expect(pen.pressure({ pointerType: 'touch', pressure: 1, buttons: 1 })).toBe(0.5);
    // A mouse's stroke takes the event's own coalesced samples.
    const points = strokePoints({ ...event(3), getCoalescedEvents: () => [event(1), event(2)] }, false, pen);
    expect(points.map((p) => [p.clientX, p.pressure, p.at])).toEqual([
      [1, 0.5, 1001],
      [2, 0.5, 1002],
    ]);
  });

  it("keeps a webview's own pen pressure", () => {
    const pen = new NativePen();
    pen.take(at(1, 0.9, true), 0);
    const own = { pointerType: 'pen', pressure: 0.3, buttons: 1 };
    expect(pen.isPen(own)).toBe(true);
    expect(pen.isNative(own)).toBe(false);
    expect(pen.pressure(own)).toBe(0.3);
    expect(pen.pressure({ ...own, pressure: 7 })).toBe(1);
  });

  it("takes a mouse-typed press while the pen touches for the pen's, with its samples", () => {
    const pen = new NativePen();
    pen.take(at(0, 0, false), 500);
    // Hovering: a mouse click is the mouse's, and nothing is kept.
    expect(pen.isPen(mouse(1))).toBe(false);
    expect(pen.drain()).toEqual([]);
    pen.take(at(1, 0.35, true, 100), 600);
    pen.take(at(2, 0.5, true, 110), 611);
    expect(pen.touching).toBe(true);
    expect(pen.isNative(mouse(1))).toBe(true);
    expect(pen.pressure(mouse(1))).toBe(0.5);
    // Nothing pressed (a hover report), or the right button: not the pen's tip.
    expect(pen.isPen(mouse(0))).toBe(false);
    expect(pen.isPen(mouse(2))).toBe(false);
    // The samples in the page's clock (the touch's first sample sets it).
    expect(strokePoints(event(9), true, pen)).toEqual([
      { clientX: 1, clientY: 10, pressure: 0.35, at: 600 },
      { clientX: 2, clientY: 10, pressure: 0.5, at: 610 },
    ]);
    expect(pen.drain()).toEqual([]);
  });

  it('gives a press the webview holds until the lift the whole touch', () => {
    const pen = new NativePen();
    for (let i = 0; i < 5; i++) pen.take(at(i, 0.1 * (i + 1), true), i);
    pen.take(at(5, 0, false), 5);
    // The press arrives after the lift: still the pen's, with every sample, the last pressure.
    expect(pen.touching).toBe(false);
    expect(pen.isNative(mouse(1))).toBe(true);
    expect(pen.pressure(mouse(1))).toBe(0.5);
    expect(pen.drain().map((p) => p.clientX)).toEqual([0, 1, 2, 3, 4]);
    // Drawn: a later mouse press is the mouse's.
    expect(pen.isPen(mouse(1))).toBe(false);
  });

  it('drops an undrawn touch when the next one starts, and bounds a touch', () => {
    const pen = new NativePen();
    pen.take(at(1, 0.5, true), 0);
    pen.take(at(1, 0, false), 1);
    pen.take(at(7, 0.5, true), 2);
    expect(pen.drain().map((p) => p.clientX)).toEqual([7]);
    for (let i = 0; i < MAX_TRAIL + 10; i++) pen.take(at(i, 0.5, true), i);
    expect(pen.drain()).toHaveLength(MAX_TRAIL);
  });

  it('ignores malformed samples', () => {
    const pen = new NativePen();
    pen.take(at(1, 0.6, true), 0);
    for (const bad of [null, 'x', {}, { ...at(1, 0.6, true), pressure: 'a' }, { ...at(1, 0.6, true), x: NaN }, { x: 1, y: 1, pressure: 0.1 }]) {
      pen.take(bad, 1);
    }
    expect(pen.drain()).toHaveLength(1);
    pen.take(at(2, 4, true), 2);
    expect(pen.drain()[0].pressure).toBe(1);
  });

  it("takes the app's samples from the window's event", () => {
    listenForNativePen();
    listenForNativePen();
    window.dispatchEvent(new CustomEvent(PEN_EVENT, { detail: at(3, 0.75, true) }));
    expect(nativePen.isNative(mouse(1))).toBe(true);
    expect(nativePen.drain().map((p) => p.pressure)).toEqual([0.75]);
    window.dispatchEvent(new CustomEvent(PEN_EVENT, { detail: at(3, 0, false) }));
    expect(nativePen.touching).toBe(false);
  });
});

describe("the pen's touches and the webview's presses", () => {
  // A webview press at client x `clientX` (y 10, where `at` puts the pen).
  const press = (clientX: number, pointerId = 1, pointerType = 'mouse', button = 0) => ({
    pointerId,
    pointerType,
    button,
    pressure: 0.5,
    buttons: 1,
    clientX,
    clientY: 10,
  });

  it('tells a canvas of each touch as it starts, moves and ends', () => {
    const pen = new NativePen();
    const phases: string[] = [];
    const stop = pen.onTouch((phase) => phases.push(phase));
    pen.take(at(0, 0, false), 0);
    pen.take(at(1, 0.2, true), 1);
    expect(pen.peek()?.clientX).toBe(1);
    pen.take(at(2, 0.3, true), 2);
    pen.take(at(2, 0, false), 3);
    pen.take(at(3, 0, false), 4);
    stop();
    pen.take(at(4, 0.2, true), 5);
    expect(phases).toEqual(['start', 'move', 'end']);
  });

  it("ignores the webview's events of a touch a canvas drew, even when they come after the lift", () => {
    const pen = new NativePen();
    pen.take(at(1, 0.2, true), 1);
    expect(pen.claim()).toBe(true);
    expect(pen.claim()).toBe(false);
    pen.take(at(2, 0, false), 2);
    // A second touch nobody claims (on a button, say).
    pen.take(at(5, 0.2, true), 3);
    pen.take(at(5, 0, false), 4);
    // The webview's presses come late, one per touch, where each began.
    pen.press(press(1));
    expect(pen.claimed(press(1))).toBe(true);
    pen.press(press(5));
    expect(pen.claimed(press(5))).toBe(false);
    // A mouse press with no touch waiting, a right click, a finger: never the pen's.
    pen.press(press(1));
    expect(pen.claimed(press(1))).toBe(false);
    pen.take(at(6, 0.2, true), 5);
    pen.claim();
    pen.press(press(6, 1, 'mouse', 2));
    pen.press(press(6, 3, 'touch'));
    expect(pen.claimed(press(6, 3, 'touch'))).toBe(false);
    // Within a few pixels (WebKit rounds), but not further.
    pen.press(press(20));
    expect(pen.claimed(press(20))).toBe(false);
    pen.press(press(8.5));
    expect(pen.claimed(press(8.5))).toBe(true);
  });

  it("keeps matching presses to their touches when one touch's press never comes", () => {
    const pen = new NativePen();
    for (const x of [1, 50, 90]) {
      pen.take(at(x, 0.2, true), x);
      pen.claim();
      pen.take(at(x, 0, false), x + 1);
    }
    // The first touch's press was lost; the second's and third's are theirs.
    pen.press(press(50, 2));
    expect(pen.claimed(press(50, 2))).toBe(true);
    pen.press(press(90, 3));
    expect(pen.claimed(press(90, 3))).toBe(true);
    // The first touch was forgotten: a press there later is nobody's.
    pen.press(press(1, 4));
    expect(pen.claimed(press(1, 4))).toBe(false);
  });

  it('claims a touch only where the canvas is under its first sample', () => {
    const pen = new NativePen();
    pen.take(at(1, 0.2, true), 1);
    expect(pen.claimWhere((x) => x > 100)).toBeNull();
    // Not claimed, so not taken: the touch's samples stay for the webview's events.
    expect(pen.peek()?.clientX).toBe(1);
    pen.take(at(2, 0.3, true), 2);
    expect(pen.claimWhere((x, y) => x === 1 && y === 10)?.map((p) => p.clientX)).toEqual([1, 2]);
    // Once only.
    expect(pen.claimWhere(() => true)).toBeNull();
  });
});

describe("the pen's eraser end", () => {
  const rub = (x: number, contact: boolean) => ({ ...at(x, contact ? 0.4 : 0, contact), eraser: true });
  const held = (pointerId: number, pointerType = 'mouse', buttons = 1, clientX = 0) => ({
    pointerId,
    pointerType,
    button: 0,
    pressure: 0.5,
    buttons,
    clientX,
    clientY: 10,
  });

  it('is a touch of the eraser device, told from a touch of the tip', () => {
    const pen = new NativePen();
    pen.take(rub(1, true), 1);
    expect(pen.eraser).toBe(true);
    expect(pen.isEraser(held(1))).toBe(true);
    pen.take(rub(2, false), 2);
    pen.take(at(3, 0.5, true), 3);
    expect(pen.eraser).toBe(false);
    expect(pen.isEraser(held(1))).toBe(false);
    // A mouse while no pen touches is never an eraser, with or without its button.
    pen.take(at(3, 0, false), 4);
    pen.drain();
    expect(pen.isEraser(held(1))).toBe(false);
    expect(pen.isEraser(held(1, 'mouse', 0))).toBe(false);
  });

  it("matches a webview's late press to the touch it was, eraser or tip", () => {
    const pen = new NativePen();
    pen.take(rub(1, true), 1);
    pen.take(rub(1, false), 2);
    pen.take(at(5, 0.3, true), 3);
    // The eraser's press comes while the tip touches: it is still the eraser's.
    pen.press(held(7, 'mouse', 1, 1));
    expect(pen.isEraser(held(7))).toBe(true);
    pen.press(held(8, 'mouse', 1, 5));
    expect(pen.isEraser(held(8))).toBe(false);
  });

  it("takes a webview's own pen with its eraser button for the eraser", () => {
    const pen = new NativePen();
    expect(pen.isEraser(held(1, 'pen', 32))).toBe(true);
    expect(pen.isEraser(held(1, 'pen', 1))).toBe(false);
    expect(pen.isEraser(held(1, 'touch', 32))).toBe(false);
  });
});

describe("a mouse as the app reads it", () => {
  const drag = (x: number, contact: boolean) => ({ x, y: 10, pressure: 1, contact, eraser: false, mouse: true, time: x });
  const held = (pointerId: number, clientX = 0) => ({ pointerId, pointerType: 'mouse', button: 0, pressure: 0.5, buttons: 1, clientX, clientY: 10 });

  it("is drawn from its samples at half pressure, and never taken for a pen", () => {
    const pen = new NativePen();
    const phases: string[] = [];
    pen.onTouch((phase) => phases.push(phase));
    pen.take(drag(1, true), 1);
    pen.take(drag(2, true), 2);
    expect(pen.mouse).toBe(true);
    expect(pen.isNative(held(1))).toBe(true);
    expect(pen.isPen(held(1))).toBe(false);
    expect(pen.isEraser(held(1))).toBe(false);
    expect(pen.pressure(held(1))).toBe(0.5);
    expect(pen.drain().map((p) => [p.clientX, p.pressure])).toEqual([
      [1, 0.5],
      [2, 0.5],
    ]);
    pen.take(drag(2, false), 3);
    expect(phases).toEqual(['start', 'move', 'end']);
    // A pen's touch after it is a pen's again.
    pen.take({ ...at(5, 0.8, true) }, 4);
    expect(pen.mouse).toBe(false);
    expect(pen.isPen(held(2))).toBe(true);
    expect(pen.pressure(held(2))).toBe(0.8);
  });

  it("tells a late press of a mouse's touch from a pen's by the touch it was matched to", () => {
    const pen = new NativePen();
    pen.take(drag(1, true), 1);
    pen.take(drag(1, false), 2);
    pen.take(at(5, 0.3, true), 3);
    pen.press(held(7, 1));
    expect(pen.isPen(held(7))).toBe(false);
    pen.press(held(8, 5));
    expect(pen.isPen(held(8))).toBe(true);
  });
});
