// The attendance file's words: every column named, in the page's language, with the teacher's
// time zone in the time columns.
import { afterEach, describe, expect, it } from 'vitest';
import { setLanguage } from '../i18n.svelte';
import { reportWords, zoneName } from './report';

afterEach(() => setLanguage('en'));

describe('the attendance file', () => {
  it('names time zones as offsets from UTC', () => {
    expect(zoneName(480)).toBe('UTC+08:00');
    expect(zoneName(0)).toBe('UTC+00:00');
    expect(zoneName(-210)).toBe('UTC-03:30');
    expect(zoneName(345)).toBe('UTC+05:45');
  });

  it('has a word for each of the 15 columns, in Chinese too, and the offset east of UTC', () => {
    const now = new Date();
    const en = reportWords(now);
    expect(en.columns).toHaveLength(15);
    expect(en.utcOffsetMinutes).toBe(-now.getTimezoneOffset() || 0);
    expect(en.columns[5]).toBe(`First joined (${zoneName(en.utcOffsetMinutes)})`);
    setLanguage('zh-CN');
    const zh = reportWords(now);
    expect(zh.columns).toHaveLength(15);
    expect(zh.columns.slice(0, 3)).toEqual(['状态', '身份标识', '姓名']);
    expect([zh.present, zh.absent, zh.student]).toEqual(['在课堂', '缺席', '学生']);
    for (const word of [...zh.columns, zh.present, zh.left, zh.absent, zh.teacher, zh.other]) {
      expect(word.length).toBeGreaterThan(0);
      expect(word.length).toBeLessThanOrEqual(64);
    }
  });
});
