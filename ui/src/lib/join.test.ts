import { describe, expect, it } from 'vitest';
import cases from './join.cases.json';
import {
  fieldsFor,
  isValid,
  MAX_NAME_CHARS,
  MAX_SERVER_CHARS,
  MAX_TOKEN_CHARS,
  trimLikeRust,
  validateJoin,
  type JoinField,
  type JoinForm,
} from './join';

const good: JoinForm = {
  role: 'student',
  name: 'Ada Lovelace',
  server: 'ws://127.0.0.1:8080/ws',
  room: 'maths',
  token: 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoibWF0aHMifQ.c2lnbmF0dXJl',
};

describe('validateJoin', () => {
  it('accepts a complete form', () => {
    expect(validateJoin(good)).toEqual({});
    expect(isValid(validateJoin(good))).toBe(true);
  });

  it('reports every wrong field at once', () => {
    const errors = validateJoin({ role: 'student', name: ' ', server: 'http://x', room: '', token: '' });
    expect(Object.keys(errors)).toEqual(['name', 'server', 'room', 'token']);
    expect(errors.server).toMatch(/ws:\/\/ or wss:\/\//);
    expect(errors.token).toBe('Paste the token your teacher gave you.');
    expect(isValid(errors)).toBe(false);
  });

  it('does not ask a teacher for a server or token', () => {
    const teacher: JoinForm = { role: 'teacher', name: 'Ms. Rivera', server: '', room: 'physics', token: '' };
    expect(validateJoin(teacher)).toEqual({});
    expect(validateJoin({ ...teacher, server: 'http://x', token: 'a b' })).toEqual({});
    expect(Object.keys(validateJoin({ ...teacher, name: '', room: '' }))).toEqual(['name', 'room']);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(validateJoin({ ...good, name: '🍎'.repeat(MAX_NAME_CHARS) })).toEqual({});
    expect(validateJoin({ ...good, name: '🍎'.repeat(MAX_NAME_CHARS + 1) }).name).toBeDefined();
    expect(validateJoin({ ...good, token: '🍎'.repeat(MAX_TOKEN_CHARS) })).toEqual({});
  });

  it('limits the token to 4096 characters', () => {
    expect(MAX_TOKEN_CHARS).toBe(4096);
    expect(validateJoin({ ...good, token: 'a'.repeat(MAX_TOKEN_CHARS) })).toEqual({});
    expect(validateJoin({ ...good, token: 'a'.repeat(MAX_TOKEN_CHARS + 1) }).token).toMatch(/too long/);
  });

  it('limits the server address to 2048 characters', () => {
    expect(MAX_SERVER_CHARS).toBe(2048);
    const at = (n: number) => 'ws://h/' + 'a'.repeat(n - 'ws://h/'.length);
    expect(validateJoin({ ...good, server: at(MAX_SERVER_CHARS) })).toEqual({});
    expect(validateJoin({ ...good, server: at(MAX_SERVER_CHARS + 1) }).server).toMatch(/too long/);
  });

  it('explains a token with spaces inside', () => {
    expect(validateJoin({ ...good, token: 'abc def' }).token).toMatch(/cannot contain spaces/);
    expect(validateJoin({ ...good, token: '  abc.def\n' })).toEqual({});
  });

  it('explains a missing host', () => {
    expect(validateJoin({ ...good, server: 'wss://:443' }).server).toMatch(/needs a host/);
  });
});

describe('fieldsFor', () => {
  it('lists the fields each role fills in, in screen order', () => {
    expect(fieldsFor('teacher')).toEqual(['name', 'room']);
    expect(fieldsFor('student')).toEqual(['name', 'server', 'room', 'token']);
  });
});

describe('trimLikeRust', () => {
  it("trims Unicode White_Space like Rust's str::trim", () => {
    expect(trimLikeRust(' \t\n a b \r\n')).toBe('a b');
    expect(trimLikeRust('\u0085x\u0085')).toBe('x');
    expect(trimLikeRust('\u00a0x\u2003')).toBe('x');
    // U+FEFF is not White_Space, so Rust keeps it (JavaScript's trim would not).
    expect(trimLikeRust('\ufeffx')).toBe('\ufeffx');
  });
});

// The same cases run against the Rust validator (src-tauri/src/join.rs), so both sides agree on
// which forms are valid and which field is wrong.
describe('shared cases with Rust', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it('covers the token rules', () => {
    const about = (c: (typeof cases)[number]) => c.about;
    expect(cases.filter((c) => c.invalid === 'token').length).toBeGreaterThanOrEqual(4);
    const longest = cases.find((c) => c.about === 'token of 4097 characters');
    expect(longest?.form.token.length).toBe(MAX_TOKEN_CHARS + 1);
    expect(cases.map(about)).toContain('a teacher needs no server or token');
  });

  for (const c of cases) {
    it(c.about, () => {
      const errors = validateJoin(c.form as JoinForm);
      const wrong = Object.keys(errors) as JoinField[];
      expect(wrong).toEqual(c.invalid === null ? [] : [c.invalid]);
    });
  }
});
