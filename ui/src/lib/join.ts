// The join form's checks, run while the user types.
//
// The Rust command `join_class` (src-tauri/src/join.rs) is the authority and runs the same rules;
// both run the cases in join.cases.json, so they cannot drift apart unnoticed. These checks only
// exist to point at the right field, in the person's language, before anything is sent.

import type { JoinForm, JoinRole } from './bindings';
import { t } from './i18n.svelte';

/**
 * What the join screen sends to `join_class` (generated from Rust's `JoinForm`). A teacher
 * starts the class server inside the app, so `server` and `token` only matter for a student:
 * they are not checked for a teacher, and Rust ignores them.
 */
export type { JoinForm };

/** Whether the person joining teaches the class or attends it. */
export type Role = JoinRole;

/** The fields that can be wrong, in screen order. */
export type JoinField = 'name' | 'code' | 'server' | 'room' | 'token';

/** Whether a student joins by class code (a code is typed): then only name and code count. */
export function byCode(form: JoinForm): boolean {
  return form.role === 'student' && trimLikeRust(form.code ?? '') !== '';
}

/**
 * The fields a form fills in: a teacher has no server address or token to enter, and a
 * student with a class code needs only a name besides.
 */
export function fieldsFor(role: Role, code = false): JoinField[] {
  if (role === 'teacher') return ['name', 'room'];
  return code ? ['name', 'code'] : ['name', 'server', 'room', 'token'];
}

/** One message per field that is wrong; an empty object means the form may be sent. */
export type JoinErrors = Partial<Record<JoinField, string>>;

/** Longest display name or room name, in characters (code points), as in Rust. */
export const MAX_NAME_CHARS = 64;

/** Longest join token, in characters (code points), as in Rust. */
export const MAX_TOKEN_CHARS = 4096;

/** Longest server address, in characters (Rust: `check::MAX_SERVER_CHARS`). */
export const MAX_SERVER_CHARS = 2048;

/** Counts code points, as Rust's `chars().count()` does, rather than UTF-16 units. */
function charCount(text: string): number {
  return [...text].length;
}

// Rust's `trim` and `char::is_whitespace` follow Unicode's White_Space property. JavaScript's
// `trim` and `\s` differ at the edges (U+0085 is whitespace only to Rust, U+FEFF only to
// JavaScript), so these use the property itself.
const EDGE_SPACE = /^\p{White_Space}+|\p{White_Space}+$/gu;
const ANY_SPACE = /\p{White_Space}/u;

/** Removes leading and trailing whitespace exactly as Rust's `str::trim` does. */
export function trimLikeRust(text: string): string {
  return text.replace(EDGE_SPACE, '');
}

function checkName(raw: string): string | undefined {
  const name = trimLikeRust(raw);
  if (name === '') return t('join.errors.nameEmpty');
  if (charCount(name) > MAX_NAME_CHARS) {
    return t('join.errors.nameTooLong', { max: MAX_NAME_CHARS });
  }
  return undefined;
}

function checkServer(raw: string): string | undefined {
  const server = trimLikeRust(raw);
  if (server === '') return t('join.errors.serverEmpty');
  if (charCount(server) > MAX_SERVER_CHARS) {
    return t('join.errors.serverTooLong', { max: MAX_SERVER_CHARS });
  }
  let rest: string;
  if (server.startsWith('ws://')) rest = server.slice('ws://'.length);
  else if (server.startsWith('wss://')) rest = server.slice('wss://'.length);
  else return t('join.errors.serverScheme');
  if (ANY_SPACE.test(server)) return t('join.errors.serverSpaces');
  const host = rest.split(/[/?#]/u, 1)[0] ?? '';
  if (host === '' || host.startsWith(':')) {
    return t('join.errors.serverHost');
  }
  return undefined;
}

function checkRoom(raw: string): string | undefined {
  const room = trimLikeRust(raw);
  if (room === '') return t('join.errors.roomEmpty');
  if (charCount(room) > MAX_NAME_CHARS) {
    return t('join.errors.roomTooLong', { max: MAX_NAME_CHARS });
  }
  return undefined;
}

function checkToken(raw: string): string | undefined {
  const token = trimLikeRust(raw);
  if (token === '') return t('join.errors.tokenEmpty');
  if (ANY_SPACE.test(token)) return t('join.errors.tokenSpaces');
  if (charCount(token) > MAX_TOKEN_CHARS) {
    return t('join.errors.tokenTooLong', { max: MAX_TOKEN_CHARS });
  }
  return undefined;
}

/** Crockford's base32, as `classroom::code::ALPHABET`: no I, L, O or U. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Characters in a class code, without dashes. */
const CODE_LEN = 12;

/** Longest text read as a class code (as in Rust). */
const MAX_CODE_CHARS = 64;

/**
 * A class code as typed, made canonical the way `classroom::code::normalize` does (upper case,
 * dashes and spaces dropped, O read as 0, I and L as 1) and grouped `XXXX-XXXX-XXXX`; `null`
 * when it is not 12 characters of the alphabet. Rust decides; this only points at the field.
 */
export function normalizeCode(typed: string): string | null {
  if (charCount(typed) > MAX_CODE_CHARS) return null;
  let out = '';
  for (const raw of typed) {
    let c = raw.toUpperCase();
    if (raw === '-' || raw === ' ' || raw === '\u00a0' || raw === '\t') continue;
    if (c === 'O') c = '0';
    else if (c === 'I' || c === 'L') c = '1';
    // Only ASCII letters are upper-cased as Rust's `to_ascii_uppercase` does.
    if (raw.charCodeAt(0) > 127 || c.length !== 1 || !CODE_ALPHABET.includes(c)) return null;
    out += c;
    if (out.length > CODE_LEN) return null;
  }
  if (out.length !== CODE_LEN) return null;
  return `${out.slice(0, 4)}-${out.slice(4, 8)}-${out.slice(8)}`;
}

function checkCode(raw: string): string | undefined {
  return normalizeCode(trimLikeRust(raw)) === null ? t('join.errors.codeInvalid') : undefined;
}

const checks: Record<JoinField, (raw: string) => string | undefined> = {
  name: checkName,
  code: checkCode,
  server: checkServer,
  room: checkRoom,
  token: checkToken,
};

/**
 * Checks every field the role fills in and returns a message for each one that is wrong. A
 * teacher's server and token are not checked: the class runs on the teacher's computer.
 */
export function validateJoin(form: JoinForm): JoinErrors {
  const errors: JoinErrors = {};
  for (const field of fieldsFor(form.role, byCode(form))) {
    const problem = checks[field](form[field] ?? '');
    if (problem !== undefined) errors[field] = problem;
  }
  return errors;
}

/** True when `validateJoin` found nothing wrong. */
export function isValid(errors: JoinErrors): boolean {
  return Object.keys(errors).length === 0;
}
