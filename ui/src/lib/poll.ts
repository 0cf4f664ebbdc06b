// Repeats an async call at a steady pace until stopped, never overlapping two calls.

/** What a poll callback may answer: `'stop'` ends the polling. */
export type PollVerdict = void | 'stop';

export interface PollOptions<T> {
  /** The call to repeat; it runs at once, then `intervalMs` after the previous one settled. */
  fetch: () => Promise<T>;
  intervalMs: number;
  onValue: (value: T) => PollVerdict;
  onError: (reason: unknown) => PollVerdict;
}

/** A running poll. */
export interface Poller {
  /** Stops it: no callback runs after this, not even for a call that was under way. */
  stop(): void;
  /**
   * Calls again at once, without waiting for the interval (something is known to have
   * changed); if a call is under way, the next one starts as soon as it settles.
   */
  now(): void;
}

/** Starts polling. */
export function startPolling<T>({ fetch, intervalMs, onValue, onError }: PollOptions<T>): Poller {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;

  async function round() {
    timer = undefined;
    running = true;
    again = false;
    let verdict: PollVerdict;
    try {
      const value = await fetch();
      if (stopped) return;
      verdict = onValue(value);
    } catch (reason) {
      if (stopped) return;
      verdict = onError(reason);
    } finally {
      running = false;
    }
    if (verdict === 'stop') stopped = true;
    if (!stopped) timer = setTimeout(() => void round(), again ? 0 : intervalMs);
  }

  void round();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
    now() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      if (timer !== undefined) clearTimeout(timer);
      void round();
    },
  };
}
