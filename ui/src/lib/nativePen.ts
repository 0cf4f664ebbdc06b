// A tablet pen as the app reads it from the desktop (`src-tauri/src/pen.rs`), for webviews
// that report the pen as a mouse at a fixed pressure of 0.5 (WebKitGTK), and that in a busy
// page may hold the pen's press and moves until it is lifted and then merge them. The app
// hands every sample of a touch to the page as a `classroom-pen` event on `window` (where,
// how hard, touching or not), at once. A mouse's left-button drag comes the same way (a
// touch with `mouse` set, pressure 0.5: WebKit holds a mouse's press as it does a pen's),
// and is never taken for a pen. A mouse-typed pointer event with the left button pressed
// while the touch lasts, or before the page has drawn it, is that touch's: the canvases draw
// its samples (`drain`) instead of the event's, and draw a touch that starts on them as it
// comes (`onTouch`, `claimWhere`), ignoring the webview's events of it (`press` matches each
// webview press to the touch that began where it is). A webview that reports
// `pointerType: 'pen'` itself keeps its own values. Pure apart from `listenForNativePen`;
// tested in nativePen.test.ts and in a real window with X pen and mouse devices
// (src-tauri/tests/window/pen.rs).

/** The DOM event's name (`pen::PEN_EVENT`). */
export const PEN_EVENT = 'classroom-pen';
/** The most samples of one touch kept for the page (a minute of writing at 200 a second). */
export const MAX_TRAIL = 12_000;

/** The parts of a pointer event that say what made it. */
export interface PointerLike {
  pointerType: string;
  pressure: number;
  buttons: number;
}

/** A sample of the pen in the page's terms: client coordinates, pressure, the page's clock (ms). */
export interface PenPoint {
  clientX: number;
  clientY: number;
  pressure: number;
  at: number;
}

/** A touch of the pen from its tip down to its lift. */
interface Touch {
  /** A canvas drew it from the pen's samples as they came; the webview's events of it are to be ignored. */
  claimed: boolean;
  /** Made with the pen's eraser end. */
  eraser: boolean;
  /** Made with a mouse's left button (no pressure, not a pen). */
  mouse: boolean;
  /** Where it began, in client coordinates: where the webview's press of it is. */
  x: number;
  y: number;
}

/** How far (CSS pixels) a webview's press may be from where the app saw its touch begin (WebKit rounds). */
const PRESS_SLACK = 3;

/** Where a touch is: its start, a move, its lift. */
export type TouchPhase = 'start' | 'move' | 'end';

export class NativePen {
  // Whether the pen touches, as its latest sample said.
  #contact = false;
  // Touches whose press the webview has not delivered yet, oldest first, and the current one.
  #unpressed: Touch[] = [];
  #touch: Touch | null = null;
  // The touch each webview pointer's press belonged to.
  #pressed = new Map<number, Touch>();
  #listeners = new Set<(phase: TouchPhase) => void>();
  // The pressure of the touch's latest sample (a lifted pen reports 0).
  #force = 0.5;
  // The current (or last) touch's samples the page has not drawn yet.
  #trail: PenPoint[] = [];
  // The page's clock minus the desktop's, set at each touch's first sample.
  #clock = 0;

  /** Takes a sample from the app (`now`: the page's clock); anything malformed is ignored. */
  take(sample: unknown, now: number) {
    if (typeof sample !== 'object' || sample === null) return;
    const { x, y, pressure, contact, eraser, mouse, time } = sample as Record<string, unknown>;
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    if (!finite(x) || !finite(y) || !finite(pressure) || typeof contact !== 'boolean') return;
    const at = finite(time) ? time : now;
    const p = mouse === true ? 0.5 : Math.min(1, Math.max(0, pressure));
    const was = this.#contact;
    if (contact && !was) {
      // A new touch: whatever was left of an earlier one is not the page's to draw now.
      this.#trail = [];
      this.#clock = now - at;
      this.#touch = { claimed: false, eraser: eraser === true && mouse !== true, mouse: mouse === true, x, y };
      // At most a few presses are ever waiting for the webview.
      this.#unpressed = [...this.#unpressed.slice(-7), this.#touch];
    }
    if (contact) {
      this.#force = p;
      if (this.#trail.length < MAX_TRAIL) this.#trail.push({ clientX: x, clientY: y, pressure: p, at: at + this.#clock });
    }
    this.#contact = contact;
    const phase: TouchPhase | null = contact ? (was ? 'move' : 'start') : was ? 'end' : null;
    if (phase !== null) for (const listener of this.#listeners) listener(phase);
  }

  /** Calls `listener` at each start, move and end of a touch; returns what stops it. */
  onTouch(listener: (phase: TouchPhase) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first sample of the touch not taken yet, left in place. */
  peek(): PenPoint | undefined {
    return this.#trail[0];
  }

  /**
   * At a touch's start: claims it (`claim`) when `under(clientX, clientY)` says the element
   * meant is under the pen's first sample (a canvas, not a dialog over it), and gives the
   * touch's samples so far (taken; never empty: the first is among them); else nothing.
   */
  claimWhere(under: (clientX: number, clientY: number) => boolean): PenPoint[] | null {
    const first = this.peek();
    if (first === undefined || !under(first.clientX, first.clientY) || !this.claim()) return null;
    return this.drain();
  }

  /** Marks the current touch as drawn from the pen's samples by the caller: the webview's events of it are to be ignored (`claimed`). */
  claim(): boolean {
    if (this.#touch === null || this.#touch.claimed) return false;
    this.#touch.claimed = true;
    return true;
  }

  /**
   * A press the webview delivered (`pointerdown`, every one, before any canvas sees it): a
   * mouse-typed press of the left button is the oldest touch not pressed yet that began
   * where it is; touches before that one got no press of their own (the webview's came
   * before the app's sample, or never) and are forgotten, so one missing press never
   * shifts the matching of the ones after it.
   */
  press(e: PointerLike & { pointerId: number; button: number; clientX: number; clientY: number }) {
    this.#pressed.delete(e.pointerId);
    if (e.pointerType !== 'mouse' || e.button !== 0) return;
    const at = this.#unpressed.findIndex(
      (t) => Math.abs(t.x - e.clientX) <= PRESS_SLACK && Math.abs(t.y - e.clientY) <= PRESS_SLACK,
    );
    if (at < 0) return;
    const [touch] = this.#unpressed.splice(0, at + 1).slice(-1);
    this.#pressed.set(e.pointerId, touch);
  }

  /** Whether `e` belongs to a touch a canvas already drew from the pen's samples. */
  claimed(e: { pointerId: number }): boolean {
    return this.#pressed.get(e.pointerId)?.claimed === true;
  }

  /** Whether the pen touches the tablet now, as the desktop last said. */
  get touching(): boolean {
    return this.#contact;
  }

  /** Whether the current (or last) touch is the pen's eraser end's. */
  get eraser(): boolean {
    return this.#touch?.eraser === true;
  }

  /** Whether the current (or last) touch is a mouse's, not a pen's. */
  get mouse(): boolean {
    return this.#touch?.mouse === true;
  }

  /**
   * Whether `e` is a pen's eraser end: the webview says so (a pen with its eraser button,
   * `buttons` bit 32, as Pointer Events have it), or a pen the webview calls a mouse whose
   * touch (the one this press was matched to, or the current one) is the eraser end's.
   */
  isEraser(e: PointerLike & { pointerId: number }): boolean {
    if (e.pointerType === 'pen') return (e.buttons & 32) !== 0;
    if (!this.isNative(e)) return false;
    return this.#touchOf(e)?.eraser === true;
  }

  /** The touch a webview event belongs to: the one its press was matched to, or the current one. */
  #touchOf(e: { pointerId?: number }): Touch | null {
    return (e.pointerId === undefined ? undefined : this.#pressed.get(e.pointerId)) ?? this.#touch;
  }

  /**
   * Whether `e` comes from a pen: the webview says so, or a mouse-typed event of a touch the
   * app read from a pen (not a mouse).
   */
  isPen(e: PointerLike & { pointerId?: number }): boolean {
    if (e.pointerType === 'pen') return true;
    return this.isNative(e) && this.#touchOf(e)?.mouse !== true;
  }

  /**
   * Whether `e` is a touch the app read (a pen the webview calls a mouse, or a mouse): a
   * mouse-typed event with the left button pressed while the desktop's touch lasts or its
   * samples are not drawn yet. Its samples come from `drain`.
   */
  isNative(e: PointerLike): boolean {
    return e.pointerType === 'mouse' && (e.buttons & 1) === 1 && (this.touching || this.#trail.length > 0);
  }

  /** The pressure of `e` (0..1): a pen's own, the desktop's for a pen the webview calls a mouse, 0.5 for a mouse or a finger. */
  pressure(e: PointerLike & { pointerId?: number }): number {
    if (e.pointerType === 'pen') return Math.min(1, Math.max(0, e.pressure));
    if (this.isPen(e)) return this.#force;
    return 0.5;
  }

  /** The pen's samples of this touch not taken yet (taken now), oldest first. */
  drain(): PenPoint[] {
    const trail = this.#trail;
    this.#trail = [];
    return trail;
  }
}

/** The page's one reader of the app's pen samples. */
export const nativePen = new NativePen();

let listening = false;

/** Starts taking the app's pen samples into `nativePen` (once; later calls do nothing). */
export function listenForNativePen() {
  if (listening || typeof window === 'undefined') return;
  listening = true;
  window.addEventListener(PEN_EVENT, (e) => nativePen.take((e as CustomEvent<unknown>).detail, performance.now()));
  // Every press, before the element pressed sees it, so each is matched with the pen's touch.
  window.addEventListener('pointerdown', (e) => nativePen.press(e), { capture: true });
}

/** The parts of a pointer event a stroke takes. */
export interface StrokeEvent extends PointerLike {
  clientX: number;
  clientY: number;
  timeStamp: number;
  getCoalescedEvents?: () => StrokeEvent[];
}

/** A pointer event as a pen point (its pressure as `pen` reads it). */
export function pointOf(e: StrokeEvent, pen: NativePen = nativePen): PenPoint {
  return { clientX: e.clientX, clientY: e.clientY, pressure: pen.pressure(e), at: e.timeStamp };
}

/**
 * The points a pointer event brings to a stroke: the pen's own samples not drawn yet when
 * the stroke is `native` (a pen the webview calls a mouse; none when WebKit sends a held
 * event after they were drawn), else every sample the platform coalesced into the event, or
 * the event itself.
 */
export function strokePoints(e: StrokeEvent, native: boolean, pen: NativePen = nativePen): PenPoint[] {
  if (native) return pen.drain();
  const all = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
  return (all.length > 0 ? all : [e]).map((c) => pointOf(c, pen));
}
