// The check dialog's words and numbers: the meter's scale and the connection check's finding
// in both languages.
import { afterEach, describe, expect, it } from 'vitest';
import { heard, networkFinding } from './check';
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
