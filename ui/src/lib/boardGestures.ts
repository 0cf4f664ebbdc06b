// The pointer gestures that move a person's own view of a whiteboard page, apart from the
// drawing tools: two fingers pinch and pan, and a drag pans (a middle-button drag, or any
// drag for someone who cannot draw). Pure (positions come in as canvas fractions, views go
// out through `show`), tested in boardGestures.test.ts; `Whiteboard.svelte` asks it first
// and draws only with what it leaves.

import { panBy, pinch, type BoardView } from './boardView';

type Point = [number, number];

interface Pinch {
  /** The view when the second finger came. */
  start: BoardView;
  /** The two fingers that pinch, and where they were when it began. */
  ids: [number, number];
  a0: Point;
  b0: Point;
}

export class ViewGestures {
  // Fingers on the canvas by pointer id (canvas fractions), in the order they came.
  readonly #touches = new Map<number, Point>();
  #pinch: Pinch | null = null;
  #pan: { pointer: number; last: Point } | null = null;

  /**
   * @param view the view now (a pinch and a pan start from it)
   * @param show shows a new view (the caller clamps it and repaints)
   */
  constructor(
    private readonly view: () => BoardView,
    private readonly show: (next: BoardView) => void,
  ) {}

  /** Fingers on the canvas now. */
  get fingers(): number {
    return this.#touches.size;
  }

  /** Whether `pointer` is a finger on the canvas. */
  isFinger(pointer: number): boolean {
    return this.#touches.has(pointer);
  }

  /**
   * A finger came down at `at`: true when it is the second (or later) and the last two now
   * pinch, so whatever the first one began is to be let go by the caller.
   */
  fingerDown(pointer: number, at: Point): boolean {
    this.#touches.set(pointer, at);
    if (this.#touches.size < 2) return false;
    const [first, second] = [...this.#touches.keys()].slice(-2);
    this.#pan = null;
    this.#pinch = { start: this.view(), ids: [first, second], a0: this.#touches.get(first)!, b0: this.#touches.get(second)! };
    return true;
  }

  /** A drag by `pointer` from `at` pans the view. */
  startPan(pointer: number, at: Point) {
    this.#pan = { pointer, last: at };
  }

  /** A pointer moved to `at`: true when a gesture took it (the view may have changed). */
  move(pointer: number, finger: boolean, at: Point): boolean {
    if (finger && this.#touches.has(pointer)) {
      this.#touches.set(pointer, at);
      if (this.#pinch !== null) {
        const { start, ids, a0, b0 } = this.#pinch;
        const [a1, b1] = [this.#touches.get(ids[0]), this.#touches.get(ids[1])];
        if (a1 !== undefined && b1 !== undefined) this.show(pinch(start, a0, b0, a1, b1));
        return true;
      }
    }
    if (this.#pan !== null && pointer === this.#pan.pointer) {
      const last = this.#pan.last;
      this.#pan = { pointer, last: at };
      this.show(panBy(this.view(), at[0] - last[0], at[1] - last[1]));
      return true;
    }
    return false;
  }

  /** A pointer lifted (or cancelled): true when a gesture took it. */
  up(pointer: number, finger: boolean): boolean {
    if (finger) {
      this.#touches.delete(pointer);
      if (this.#pinch !== null) {
        // Drawing starts again with fingers all lifted, not with the one left down.
        if (this.#touches.size === 0) this.#pinch = null;
        return true;
      }
    }
    if (this.#pan !== null && pointer === this.#pan.pointer) {
      this.#pan = null;
      return true;
    }
    return false;
  }
}
