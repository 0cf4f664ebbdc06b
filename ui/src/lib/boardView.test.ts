import { describe, expect, it } from 'vitest';
import { PAGE_HEIGHT, PAGE_WIDTH } from './board';
import {
  clampView,
  FIT,
  MAX_ZOOM,
  panBy,
  pinch,
  stepZoom,
  toCanvas,
  toPage,
  viewForKey,
  viewTransform,
  visibleArea,
  wheelPixels,
  wheelZoomFactor,
  zoomAt,
  zoomScroll,
} from './boardView';

const near = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));

describe('the whiteboard view', () => {
  it('shows the whole page at zoom 1, canvas corners on page corners', () => {
    near(toPage(FIT, 0, 0), [0, 0]);
    near(toPage(FIT, 1, 1), [PAGE_WIDTH, PAGE_HEIGHT]);
    near(visibleArea(FIT), [0, 0, PAGE_WIDTH, PAGE_HEIGHT]);
    near(viewTransform(FIT, 800), [0.5, 0, 0, 0.5, 0, 0]);
  });

  it('zooms about the point under the pointer and maps both ways', () => {
    const view = zoomAt(FIT, 2, 0.25, 0.5);
    expect(view.zoom).toBe(2);
    // The page point that was under (0.25, 0.5) still is.
    near(toPage(view, 0.25, 0.5), [400, 450]);
    near(toCanvas(view, 400, 450), [0.25, 0.5]);
    near(visibleArea(view), [200, 225, 1000, 675]);
    // A device pixel is twice as many per page unit, moved to the view's corner.
    const [a, , , d, e, f] = viewTransform(view, 1600);
    near([a, d, e, f], [2, 2, -400, -450]);
    // A point of the canvas and back again.
    const [x, y] = toPage(view, 0.8, 0.1);
    near(toCanvas(view, x, y), [0.8, 0.1]);
  });

  it('never shows past the paper or zooms out beyond the page or in beyond the limit', () => {
    // Zoomed in at a corner: the view stays on the page.
    const corner = zoomAt(FIT, 4, 1, 1);
    near(visibleArea(corner), [1200, 675, 1600, 900]);
    expect(zoomAt(FIT, 0.5)).toEqual(FIT);
    expect(zoomAt(FIT, 1000).zoom).toBe(MAX_ZOOM);
    // Panned far off: pulled back to the edge.
    near(visibleArea(panBy(zoomAt(FIT, 2), 5, 5)), [0, 0, 800, 450]);
    near(visibleArea(panBy(zoomAt(FIT, 2), -5, -5)), [800, 450, 1600, 900]);
    // Nothing at zoom 1 pans.
    expect(panBy(FIT, 0.3, -0.2)).toEqual(FIT);
    // Nonsense is made sensible, not NaN.
    expect(clampView({ zoom: Number.NaN, x: Number.POSITIVE_INFINITY, y: -3 })).toEqual(FIT);
    expect(zoomAt(FIT, Number.NaN)).toEqual(FIT);
  });

  it('pans with the hand: dragging right shows what is to the left', () => {
    const view = zoomAt(FIT, 2);
    const moved = panBy(view, 0.1, 0);
    expect(moved.x).toBeCloseTo(view.x - 80, 6);
    expect(moved.y).toBe(view.y);
  });

  it('pinches: fingers apart zoom in about their middle, the page follows their middle', () => {
    const view = pinch(FIT, [0.4, 0.5], [0.6, 0.5], [0.3, 0.5], [0.7, 0.5]);
    expect(view.zoom).toBeCloseTo(2, 6);
    near(toPage(view, 0.5, 0.5), [800, 450]);
    // Both fingers moved left together after spreading: the same page point under them.
    const dragged = pinch(view, [0.3, 0.5], [0.7, 0.5], [0.2, 0.5], [0.6, 0.5]);
    expect(dragged.zoom).toBeCloseTo(2, 6);
    near(toPage(dragged, 0.4, 0.5), toPage(view, 0.5, 0.5));
    // Fingers on the same spot (no distance to compare): nothing zooms.
    expect(pinch(FIT, [0.5, 0.5], [0.5, 0.5], [0.1, 0.1], [0.9, 0.9]).zoom).toBe(1);
  });

  it('turns wheel scrolls into pixels and zoom steps that undo each other', () => {
    expect(wheelPixels(3, 1, 800)).toBe(48);
    expect(wheelPixels(1, 2, 800)).toBe(800);
    expect(wheelPixels(-20, 0, 800)).toBe(-20);
    expect(wheelZoomFactor(-100)).toBeGreaterThan(1);
    expect(wheelZoomFactor(100) * wheelZoomFactor(-100)).toBeCloseTo(1, 9);
    // A huge scroll is one limited step, not a jump to the limit.
    expect(wheelZoomFactor(-100_000)).toBeCloseTo(wheelZoomFactor(-200), 9);
  });

  it('answers the zoom keys and leaves the rest to the board', () => {
    expect(viewForKey(FIT, '+')?.zoom).toBe(1.25);
    expect(viewForKey(FIT, '=')?.zoom).toBe(1.25);
    expect(viewForKey(zoomAt(FIT, 2), '-')?.zoom).toBeCloseTo(1.6, 9);
    expect(viewForKey(zoomAt(FIT, 3, 0.1, 0.1), '0')).toEqual(FIT);
    // The right arrow shows more of the right: the view moves a tenth of itself.
    const zoomed = zoomAt(FIT, 2);
    expect(viewForKey(zoomed, 'ArrowRight')?.x).toBeCloseTo(zoomed.x + 80, 6);
    expect(viewForKey(zoomed, 'ArrowDown')?.y).toBeCloseTo(zoomed.y + 45, 6);
    expect(viewForKey(FIT, 'p')).toBeNull();
  });

  it('zooms a scrolled photo about the pointer, in steps that come back to 1', () => {
    // 100 px scrolled, the pointer 50 px into the box: that point was 150 px in; twice as
    // large it is 300 px in, so the box scrolls to 250.
    expect(zoomScroll(100, 50, 2)).toBe(250);
    expect(zoomScroll(0, 10, 0.5)).toBe(0);
    let zoom = 1;
    for (let i = 0; i < 3; i++) zoom = stepZoom(zoom, 1);
    expect(zoom).toBeCloseTo(1.953125, 9);
    for (let i = 0; i < 3; i++) zoom = stepZoom(zoom, -1);
    expect(zoom).toBe(1);
    expect(stepZoom(1, -1)).toBe(1);
    expect(stepZoom(MAX_ZOOM, 1)).toBe(MAX_ZOOM);
  });
});
