// Classes this student joined lately, for the home screen: remembered in the page's storage
// (per user, in the app's own web data folder). Only what helps find the class again is kept:
// its title (room), the server it was on and when. Never a token, a code or a pin: a recent
// class is a reminder, not a way in.

/** One class joined before. */
export interface RecentClass {
  /** The class's room, as it was titled. */
  title: string;
  /** The class server's address then (a class on the school network may move). */
  server: string;
  /** When it was last joined, milliseconds since the epoch. */
  lastJoined: number;
}

/** Where the list is kept. */
export const RECENT_KEY = 'classroom.recentClasses';

/** How many classes are remembered. */
export const MAX_RECENT = 5;

/** Longest title or server kept, in characters: anything longer is not ours. */
const MAX_TEXT = 2048;

function isRecent(value: unknown): value is RecentClass {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.title === 'string' &&
    v.title !== '' &&
    v.title.length <= MAX_TEXT &&
    typeof v.server === 'string' &&
    v.server.length <= MAX_TEXT &&
    typeof v.lastJoined === 'number' &&
    Number.isFinite(v.lastJoined)
  );
}

/** The remembered classes, latest first; a missing or broken entry reads as nothing. */
export function readRecent(storage: Storage | undefined = globalThis.localStorage): RecentClass[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(RECENT_KEY) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter(isRecent)
      .map(({ title, server, lastJoined }) => ({ title, server, lastJoined }))
      .sort((a, b) => b.lastJoined - a.lastJoined)
      .slice(0, MAX_RECENT);
  } catch {
    return [];
  }
}

/**
 * Remembers that `title` on `server` was joined at `when`, moving it to the top; returns the
 * new list. Storage that refuses (full, private mode) is not an error: the list is a comfort.
 */
export function rememberRecent(
  title: string,
  server: string,
  when: number = Date.now(),
  storage: Storage | undefined = globalThis.localStorage,
): RecentClass[] {
  const entry = { title, server, lastJoined: when };
  if (!isRecent(entry)) return readRecent(storage);
  const list = [entry, ...readRecent(storage).filter((r) => r.title !== title || r.server !== server)].slice(
    0,
    MAX_RECENT,
  );
  try {
    storage?.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // Not saved; shown for this run only.
  }
  return list;
}

/** When a class was last joined, as a date and time in the person's language. */
export function recentWhen(ms: number, lang: string): string {
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}
