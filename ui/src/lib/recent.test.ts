// @vitest-environment jsdom
// Recent classes: remembered latest first, at most five, never a token, broken storage ignored.
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_RECENT, RECENT_KEY, readRecent, rememberRecent } from './recent';

beforeEach(() => localStorage.clear());

describe('recent classes', () => {
  it('keeps the latest first, each class once, at most five', () => {
    rememberRecent('physics', 'wss://10.0.0.5:47800/ws', 1);
    rememberRecent('maths', 'wss://10.0.0.6:47800/ws', 2);
    rememberRecent('physics', 'wss://10.0.0.5:47800/ws', 3);
    expect(readRecent().map((r) => [r.title, r.lastJoined])).toEqual([
      ['physics', 3],
      ['maths', 2],
    ]);
    for (let i = 0; i < 10; i++) rememberRecent(`class ${i}`, 'wss://h/ws', 10 + i);
    expect(readRecent()).toHaveLength(MAX_RECENT);
    expect(readRecent()[0]?.title).toBe('class 9');
  });

  it('stores only title, server and time', () => {
    rememberRecent('physics', 'wss://10.0.0.5:47800/ws', 1);
    expect(JSON.parse(localStorage.getItem(RECENT_KEY) ?? '')).toEqual([
      { title: 'physics', server: 'wss://10.0.0.5:47800/ws', lastJoined: 1 },
    ]);
  });

  it('reads broken or foreign storage as an empty list', () => {
    localStorage.setItem(RECENT_KEY, '{not json');
    expect(readRecent()).toEqual([]);
    localStorage.setItem(RECENT_KEY, JSON.stringify([{ title: 1 }, { title: 'ok', server: 's', lastJoined: 5, token: 'x' }]));
    expect(readRecent()).toEqual([{ title: 'ok', server: 's', lastJoined: 5 }]);
  });
});
