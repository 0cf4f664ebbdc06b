import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startPolling } from './poll';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('startPolling', () => {
  it('calls at once, then every interval after the previous call settled', async () => {
    let n = 0;
    const fetch = vi.fn(() => Promise.resolve(++n));
    const seen: number[] = [];
    const poll = startPolling({ fetch, intervalMs: 1000, onValue: (v) => void seen.push(v), onError: () => {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    poll.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(fetch).toHaveBeenCalledTimes(5);
  });

  it('never overlaps a slow call', async () => {
    let inFlight = 0;
    let most = 0;
    const fetch = () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          inFlight -= 1;
          resolve();
        }, 2500),
      );
    };
    const poll = startPolling({ fetch, intervalMs: 1000, onValue: () => {}, onError: () => {} });
    await vi.advanceTimersByTimeAsync(10_000);
    poll.stop();
    expect(most).toBe(1);
  });

  it('keeps going after an error and stops when a callback says so', async () => {
    const fetch = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new Error('not yet'))
      .mockResolvedValueOnce('running')
      .mockResolvedValueOnce('closed')
      .mockResolvedValue('never');
    const errors: unknown[] = [];
    const values: string[] = [];
    startPolling({
      fetch,
      intervalMs: 1000,
      onValue: (v) => {
        values.push(v);
        return v === 'closed' ? 'stop' : undefined;
      },
      onError: (e) => void errors.push(e),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(errors).toHaveLength(1);
    expect(values).toEqual(['running', 'closed']);
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('calls at once when asked, or right after a call under way, then keeps its pace', async () => {
    let n = 0;
    const fetch = vi.fn(
      () => new Promise<number>((resolve) => setTimeout(() => resolve(++n), 100)),
    );
    const seen: number[] = [];
    const poll = startPolling({ fetch, intervalMs: 1000, onValue: (v) => void seen.push(v), onError: () => {} });
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([1]);
    // Between calls: at once, not 1 s later.
    await vi.advanceTimersByTimeAsync(200);
    poll.now();
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([1, 2]);
    // During a call: one more right after it, never two at a time.
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetch).toHaveBeenCalledTimes(3);
    poll.now();
    poll.now();
    expect(fetch).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([1, 2, 3]);
    // (A zero-delay timer runs a millisecond later.)
    await vi.advanceTimersByTimeAsync(101);
    expect(seen).toEqual([1, 2, 3, 4]);
    // Then the interval again.
    await vi.advanceTimersByTimeAsync(900);
    expect(fetch).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(200);
    expect(fetch).toHaveBeenCalledTimes(5);
    poll.stop();
    poll.now();
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetch).toHaveBeenCalledTimes(5);
  });

  it('drops the answer of a call that was under way when stopped', async () => {
    let settle: (value: number) => void = () => {};
    const fetch = () => new Promise<number>((resolve) => (settle = resolve));
    const onValue = vi.fn();
    const poll = startPolling({ fetch, intervalMs: 1000, onValue, onError: () => {} });
    poll.stop();
    settle(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(onValue).not.toHaveBeenCalled();
  });
});
