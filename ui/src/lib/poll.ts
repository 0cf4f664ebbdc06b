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

/**
 * Starts polling and returns the function that stops it. After stopping, no callback runs, not
 * even for a call that was already under way.
 */
export function startPolling<T>({ fetch, intervalMs, onValue, onError }: PollOptions<T>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function round() {
    timer = undefined;
    let verdict: PollVerdict;
    try {
      const value = await fetch();
      if (stopped) return;
      verdict = onValue(value);
    } catch (reason) {
      if (stopped) return;
      verdict = onError(reason);
    }
    if (verdict === 'stop') stopped = true;
    if (!stopped) timer = setTimeout(() => void round(), intervalMs);
  }

  void round();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}
