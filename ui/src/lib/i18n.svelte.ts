// The screens' words in the person's language. Every visible string comes from the message
// catalogues in ../locales (ICU MessageFormat: `{count, plural, one {# track} other {# tracks}}`,
// formatted by FormatJS's intl-messageformat). The language is Rust's decision at start (the
// desktop's locale, or the choice in settings: `get_settings`) and changes when the person
// picks another; components re-render because `t` reads the language from a rune.
//
// Keys are written out literally (`t('join.titleStudent')`) so a test can find every key the source
// uses and check it exists in both catalogues (i18n.test.ts).

import { IntlMessageFormat } from 'intl-messageformat';
import type { Language } from './bindings';
import en from '../locales/en.json';
import zhCN from '../locales/zh-CN.json';

/** A catalogue: nested objects of messages. */
export interface Catalogue {
  [key: string]: string | Catalogue;
}

/** Every language the app is written in, with its name in itself (for the language picker). */
export const LANGUAGES: readonly { code: Language; name: string }[] = [
  { code: 'en', name: 'English' },
  { code: 'zh-CN', name: '简体中文' },
];

/** The catalogues by language. */
export const CATALOGUES: Record<Language, Catalogue> = { en, 'zh-CN': zhCN };

/** `{ 'join.title': '…' }` from a nested catalogue. */
export function flatten(catalogue: Catalogue, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(catalogue)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'string') out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

const flat: Record<Language, Map<string, string>> = {
  en: flatten(en),
  'zh-CN': flatten(zhCN),
};

let current = $state<Language>('en');
const formats = new Map<string, IntlMessageFormat>();

/** The language the screens are in now. */
export function language(): Language {
  return current;
}

/** Switches every screen to `next` (and tells assistive technology, through `<html lang>`). */
export function setLanguage(next: Language): void {
  current = Object.prototype.hasOwnProperty.call(flat, next) ? next : 'en';
  if (typeof document !== 'undefined') document.documentElement.lang = current;
}

/** Values a message may take: `{name}`, `{count, plural, …}`. */
export type Values = Record<string, string | number | boolean | null | undefined>;

/**
 * The message `key` in the current language, formatted with `values`. A key missing in the
 * language falls back to English, then to the key itself (the i18n test keeps both from
 * happening in a build).
 */
export function t(key: string, values?: Values): string {
  const lang = current;
  const source = flat[lang].get(key) ?? flat.en.get(key);
  if (source === undefined) return key;
  const id = `${lang}\u0000${key}`;
  let format = formats.get(id);
  if (format === undefined) {
    format = new IntlMessageFormat(source, lang);
    formats.set(id, format);
  }
  try {
    return String(format.format(values ?? {}));
  } catch (error) {
    console.error(`message ${key} (${lang})`, error);
    return source;
  }
}

/** A number in the current language's style (thousands separators). */
export function formatNumber(value: number, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(current, options).format(value);
}
