// The check dialog's words and numbers: the meter's scale and the connection check's finding
// in both languages.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { heard, networkFinding, pollCheck } from './check';
import { levelPercent } from './format';
import { setLanguage } from './i18n.svelte';

afterEach(() => setLanguage('en'));

describe('the check\'s meter (levelPercent)', () => {
  it('maps -60..0 dBFS onto the bar and clamps outside it', () => {
    expect(levelPercent(null)).toBe(0);
    expect(levelPercent(-100)).toBe(0);
    expect(levelPercent(-60)).toBe(0);
    expect(levelPercent(-30)).toBe(50);
    expect(levelPercent(0)).toBe(100);
    expect(levelPercent(6)).toBe(100);
    expect(levelPercent(Number.NaN)).toBe(0);
  });

  it('counts a voice as heard, a quiet room not', () => {
    expect(heard(-20)).toBe(true);
    expect(heard(-45)).toBe(true);
    expect(heard(-70)).toBe(false);
  });
});

describe('networkFinding', () => {
  const server = {
    kind: 'server' as const,
    verdict: 'good' as const,
    connectMs: 4.2,
    roundTripMs: 12.4,
    jitterMs: 3.6,
    secure: true,
  };

  it('says how the server connection is, with its figures', () => {
    const found = networkFinding(server);
    expect(found.tone).toBe('good');
    expect(found.text).toBe('Good connection. Round trip 12 ms, varying by 3.6 ms. Encrypted.');
    expect(networkFinding({ ...server, roundTripMs: 0.42 }).text).toContain('Round trip 0.4 ms');
    const poor = networkFinding({ ...server, verdict: 'poor', roundTripMs: 380, secure: false });
    expect(poor.tone).toBe('poor');
    expect(poor.text).toContain('Weak connection');
    expect(poor.text).not.toContain('Encrypted');
  });

  it('tells a teacher where students reach the class, or that they cannot', () => {
    const hosting = { kind: 'hosting' as const, addresses: ['192.168.1.20'], port: 47800, portTaken: false };
    expect(networkFinding(hosting)).toEqual({
      tone: 'good',
      text: 'Students on this network can reach your class at 192.168.1.20 (port 47800).',
    });
    expect(networkFinding({ ...hosting, portTaken: true }).tone).toBe('fair');
    expect(networkFinding({ ...hosting, addresses: [] })).toEqual({
      tone: 'poor',
      text: expect.stringContaining('No network'),
    });
  });

  it('speaks Chinese', () => {
    setLanguage('zh-CN');
    expect(networkFinding(server).text).toBe('连接良好。 往返 12 毫秒，波动 3.6 毫秒。 已加密。');
  });
});

describe('polling the running check', () => {
  it('asks while it runs, hands each answer on, and stops on a failure or when stopped', async () => {
    vi.useFakeTimers();
    try {
      let n = 0;
      const seen: number[] = [];
      const failed: unknown[] = [];
      let running = true;
      const status = async () => {
        n += 1;
        if (n === 3) throw new Error('gone');
        return n;
      };
      pollCheck(100, status, () => running, (v) => seen.push(v), (e) => failed.push(e));
      await vi.advanceTimersByTimeAsync(450);
      expect(seen).toEqual([1, 2]);
      expect(failed).toHaveLength(1);
      // Stopped by hand: nothing more is asked.
      n = 0;
      const stop = pollCheck(100, status, () => running, (v) => seen.push(v), () => undefined);
      await vi.advanceTimersByTimeAsync(150);
      stop();
      await vi.advanceTimersByTimeAsync(500);
      expect(n).toBe(1);
      // No longer running: the next turn asks nothing.
      running = false;
      n = 0;
      pollCheck(100, status, () => running, (v) => seen.push(v), () => undefined);
      await vi.advanceTimersByTimeAsync(500);
      expect(n).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
