import { describe, expect, it } from 'vitest';
import cases from './join.cases.json';
import { isValid, MAX_NAME_CHARS, validateJoin, type JoinField, type JoinForm } from './join';

const good: JoinForm = {
  role: 'student',
  name: 'Ada Lovelace',
  server: 'ws://127.0.0.1:8080/ws',
  room: 'maths',
};

describe('validateJoin', () => {
  it('accepts a complete form', () => {
    expect(validateJoin(good)).toEqual({});
    expect(isValid(validateJoin(good))).toBe(true);
  });

  it('reports every wrong field at once', () => {
    const errors = validateJoin({ role: 'teacher', name: ' ', server: 'http://x', room: '' });
    expect(Object.keys(errors).sort()).toEqual(['name', 'room', 'server']);
    expect(errors.server).toMatch(/ws:\/\/ or wss:\/\//);
    expect(isValid(errors)).toBe(false);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(validateJoin({ ...good, name: '🍎'.repeat(MAX_NAME_CHARS) })).toEqual({});
    expect(validateJoin({ ...good, name: '🍎'.repeat(MAX_NAME_CHARS + 1) }).name).toBeDefined();
  });

  it('explains a missing host', () => {
    expect(validateJoin({ ...good, server: 'wss://:443' }).server).toMatch(/needs a host/);
  });
});

// The same cases run against the Rust validator (src-tauri/src/join.rs), so both sides agree on
// which forms are valid and which field is wrong.
describe('shared cases with Rust', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const c of cases) {
    it(c.about, () => {
      const errors = validateJoin(c.form as JoinForm);
      const wrong = Object.keys(errors) as JoinField[];
      expect(wrong).toEqual(c.invalid === null ? [] : [c.invalid]);
    });
  }
});
