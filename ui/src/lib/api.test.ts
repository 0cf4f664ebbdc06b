import { describe, expect, it } from 'vitest';
import { fieldOf, toAppError } from './api';

describe('toAppError', () => {
  it('keeps the app error shape', () => {
    const error = toAppError({ kind: 'invalidRoom', message: 'Enter the room to join.' });
    expect(error).toEqual({ kind: 'invalidRoom', message: 'Enter the room to join.' });
    expect(fieldOf(error)).toBe('room');
  });

  it('wraps plain strings from Tauri', () => {
    const error = toAppError('command join_class not allowed by ACL');
    expect(error).toEqual({ kind: 'internal', message: 'command join_class not allowed by ACL' });
    expect(fieldOf(error)).toBeUndefined();
  });

  it('wraps thrown errors', () => {
    expect(toAppError(new Error('boom'))).toEqual({ kind: 'internal', message: 'boom' });
  });
});
