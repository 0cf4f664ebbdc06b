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
    const stop = startPolling({ fetch, intervalMs: 1000, onValue: (v) => void seen.push(v), onError: () => {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    stop();
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
    const stop = startPolling({ fetch, intervalMs: 1000, onValue: () => {}, onError: () => {} });
    await vi.advanceTimersByTimeAsync(10_000);
    stop();
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

  it('drops the answer of a call that was under way when stopped', async () => {
    let settle: (value: number) => void = () => {};
    const fetch = () => new Promise<number>((resolve) => (settle = resolve));
    const onValue = vi.fn();
    const stop = startPolling({ fetch, intervalMs: 1000, onValue, onError: () => {} });
    stop();
    settle(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(onValue).not.toHaveBeenCalled();
  });
});
