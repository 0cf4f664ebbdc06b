import { describe, expect, it } from 'vitest';
import { ViewGestures } from './boardGestures';
import { clampView, FIT, toPage, type BoardView } from './boardView';

/** Gestures over a view that `show` replaces, as the whiteboard does. */
function board(start: BoardView = FIT) {
  const state = { view: start, shown: 0 };
  const gestures = new ViewGestures(
    () => state.view,
    (next) => {
      state.view = clampView(next);
      state.shown += 1;
    },
  );
  return { state, gestures };
}

describe('the whiteboard view gestures', () => {
  it('lets one finger draw and makes the second one pinch', () => {
    const { state, gestures } = board();
    expect(gestures.fingerDown(1, [0.4, 0.5])).toBe(false);
    // One finger moving is the drawing's, not the view's.
    expect(gestures.move(1, true, [0.4, 0.5])).toBe(false);
    expect(gestures.fingers).toBe(1);
    expect(gestures.isFinger(1)).toBe(true);
    expect(gestures.fingerDown(2, [0.6, 0.5])).toBe(true);
    // Apart twice as far about the same middle: twice the zoom, the middle kept in place.
    const middle = toPage(state.view, 0.5, 0.5);
    expect(gestures.move(1, true, [0.3, 0.5])).toBe(true);
    expect(gestures.move(2, true, [0.7, 0.5])).toBe(true);
    expect(state.view.zoom).toBeCloseTo(2, 6);
    const after = toPage(state.view, 0.5, 0.5);
    expect(after[0]).toBeCloseTo(middle[0], 6);
    expect(after[1]).toBeCloseTo(middle[1], 6);
  });

  it('keeps the pinch until every finger is lifted', () => {
    const { state, gestures } = board();
    gestures.fingerDown(1, [0.4, 0.5]);
    gestures.fingerDown(2, [0.6, 0.5]);
    expect(gestures.up(2, true)).toBe(true);
    // The finger left down neither draws nor pans: its moves are the pinch's, held.
    const shown = state.shown;
    expect(gestures.move(1, true, [0.2, 0.2])).toBe(true);
    expect(state.shown).toBe(shown);
    expect(gestures.up(1, true)).toBe(true);
    expect(gestures.fingers).toBe(0);
    // All lifted: a new finger draws again.
    expect(gestures.fingerDown(3, [0.5, 0.5])).toBe(false);
    expect(gestures.move(3, true, [0.6, 0.5])).toBe(false);
    expect(gestures.up(3, true)).toBe(false);
  });

  it('pinches with the last two fingers when a third comes', () => {
    const { state, gestures } = board();
    gestures.fingerDown(1, [0.1, 0.1]);
    gestures.fingerDown(2, [0.4, 0.5]);
    expect(gestures.fingerDown(3, [0.6, 0.5])).toBe(true);
    // The first finger no longer zooms.
    gestures.move(1, true, [0.9, 0.9]);
    expect(state.view.zoom).toBeCloseTo(1, 6);
    gestures.move(3, true, [0.8, 0.5]);
    expect(state.view.zoom).toBeCloseTo(2, 6);
  });

  it('pans with a drag, the paper following the hand, and stops at the lift', () => {
    const { state, gestures } = board({ zoom: 2, x: 400, y: 200 });
    gestures.startPan(7, [0.5, 0.5]);
    // Another pointer is not the pan's.
    expect(gestures.move(8, false, [0.9, 0.9])).toBe(false);
    const before = toPage(state.view, 0.5, 0.5);
    expect(gestures.move(7, false, [0.45, 0.4])).toBe(true);
    const under = toPage(state.view, 0.45, 0.4);
    expect(under[0]).toBeCloseTo(before[0], 6);
    expect(under[1]).toBeCloseTo(before[1], 6);
    // Each move pans from the last one, not from the start.
    expect(gestures.move(7, false, [0.45, 0.4])).toBe(true);
    expect(toPage(state.view, 0.45, 0.4)[0]).toBeCloseTo(before[0], 6);
    expect(gestures.up(8, false)).toBe(false);
    expect(gestures.up(7, false)).toBe(true);
    expect(gestures.move(7, false, [0.1, 0.1])).toBe(false);
  });

  it('gives a pan up when two fingers start to pinch', () => {
    const { gestures } = board({ zoom: 2, x: 400, y: 200 });
    gestures.fingerDown(1, [0.5, 0.5]);
    gestures.startPan(1, [0.5, 0.5]);
    gestures.fingerDown(2, [0.7, 0.5]);
    // The pinch has both fingers; lifting them ends it, and no pan is left behind.
    gestures.up(1, true);
    gestures.up(2, true);
    expect(gestures.move(1, false, [0.2, 0.2])).toBe(false);
  });
});
