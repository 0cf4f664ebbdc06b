// The message catalogues: both languages have every key, no message is empty, every message is
// valid ICU with the same arguments in both languages, and every key the source uses exists.
import { IntlMessageFormat } from 'intl-messageformat';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUES, flatten, LANGUAGES, language, setLanguage, t } from './i18n.svelte';

const flat = Object.fromEntries(
  Object.entries(CATALOGUES).map(([lang, catalogue]) => [lang, flatten(catalogue)]),
) as Record<string, Map<string, string>>;

/** Every source file the app is built from (tests, test helpers and generated bindings left out). */
const SOURCES = import.meta.glob<string>(
  ['/src/**/*.{ts,svelte}', '!/src/**/*.test.ts', '!/src/lib/testing.ts', '!/src/lib/bindings/**'],
  { query: '?raw', import: 'default', eager: true },
);

/** The argument names an ICU message uses (`{name}`, `{count, plural, …}`), sorted. */
function argumentsOf(message: string, lang: string): string[] {
  const names = new Set<string>();
  const walk = (elements: unknown[]) => {
    for (const element of elements as { type: number; value?: unknown; options?: unknown }[]) {
      // Types 1..6 are argument, number, date, time, select and plural elements.
      if (element.type >= 1 && element.type <= 6 && typeof element.value === 'string') {
        names.add(element.value);
      }
      if (element.options && typeof element.options === 'object') {
        for (const option of Object.values(element.options as Record<string, { value: unknown[] }>)) {
          walk(option.value);
        }
      }
    }
  };
  walk(new IntlMessageFormat(message, lang).getAst());
  return [...names].sort();
}

/** Every `t('key')` (or `$_('key')`) in the source, with where it is. */
function usedKeys(): { key: string; where: string }[] {
  const used: { key: string; where: string }[] = [];
  for (const [file, text] of Object.entries(SOURCES)) {
    const call = /(?<![\w$.])(?:t|\$_)\(\s*(['"`])((?:(?!\1).)*)\1/gu;
    for (const match of text.matchAll(call)) {
      const line = text.slice(0, match.index).split('\n').length;
      used.push({ key: match[2], where: `${file}:${line}` });
    }
  }
  return used;
}

afterEach(() => setLanguage('en'));

describe('message catalogues', () => {
  it('cover every language the app offers', () => {
    expect(LANGUAGES.map((l) => l.code).sort()).toEqual(Object.keys(CATALOGUES).sort());
    expect(flat.en.size).toBeGreaterThan(100);
  });

  it('have the same keys in every language', () => {
    const keys = [...flat.en.keys()].sort();
    for (const [lang, messages] of Object.entries(flat)) {
      const missing = keys.filter((k) => !messages.has(k));
      const extra = [...messages.keys()].filter((k) => !flat.en.has(k));
      expect({ lang, missing, extra }).toEqual({ lang, missing: [], extra: [] });
    }
  });

  it('have no empty messages', () => {
    for (const [lang, messages] of Object.entries(flat)) {
      const empty = [...messages].filter(([, m]) => m.trim() === '').map(([k]) => k);
      expect({ lang, empty }).toEqual({ lang, empty: [] });
    }
  });

  it('are valid ICU messages with the same arguments in every language', () => {
    for (const [key, english] of flat.en) {
      const want = argumentsOf(english, 'en');
      for (const [lang, messages] of Object.entries(flat)) {
        const message = messages.get(key) ?? '';
        expect({ key, lang, args: argumentsOf(message, lang) }).toEqual({ key, lang, args: want });
      }
    }
  });

  it('keep the Chinese catalogue in Chinese', () => {
    // A message copied over untranslated is the usual slip. Only these may be without Chinese:
    // the brand, example addresses and names, units, and messages that are only arguments.
    const mayBeLatin = new Set([
      'app.name',
      'join.server.placeholder',
      'join.room.placeholder',
      'join.link.placeholder',
      'join.code.placeholder',
      'tracks.db',
      'notes.other',
      'errors.withDetail',
      'library.progressBytes',
      'library.kindPdf',
    ]);
    const untranslated = [...flat['zh-CN']]
      .filter(([key, message]) => !mayBeLatin.has(key) && !/[\u4e00-\u9fff]/u.test(message))
      .map(([key]) => key);
    expect(untranslated).toEqual([]);
  });
});

describe('the source', () => {
  it('uses only keys that exist, written out literally', () => {
    expect(Object.keys(SOURCES)).toContain('/src/App.svelte');
    const used = usedKeys();
    expect(used.length).toBeGreaterThan(100);
    const dynamic = used.filter(({ key }) => key.includes('${'));
    expect(dynamic.map((u) => u.where)).toEqual([]);
    const unknown = used.filter(({ key }) => !flat.en.has(key));
    expect(unknown).toEqual([]);
  });

  it('uses every key in the catalogues', () => {
    const used = new Set(usedKeys().map((u) => u.key));
    const unused = [...flat.en.keys()].filter((k) => !used.has(k));
    expect(unused).toEqual([]);
  });
});

describe('t', () => {
  it('formats plurals and arguments in the current language', () => {
    expect(language()).toBe('en');
    expect(t('classView.trackCount', { count: 1 })).toBe('1 track');
    expect(t('classView.trackCount', { count: 3 })).toBe('3 tracks');
    expect(t('classView.someoneSpeaking', { id: 'p-7' })).toBe('p-7 is speaking');
    setLanguage('zh-CN');
    expect(language()).toBe('zh-CN');
    expect(t('classView.trackCount', { count: 3 })).toBe('共 3 路');
    expect(t('join.titleStudent')).toBe('进入课堂');
  });

  it('falls back to English, then to the key, and refuses unknown languages', () => {
    setLanguage('fr' as never);
    expect(language()).toBe('en');
    expect(t('no.such.key')).toBe('no.such.key');
  });
});
