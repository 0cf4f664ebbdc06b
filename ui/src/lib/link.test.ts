import { describe, expect, it } from 'vitest';
import { looksLikeLink, parseInviteLink } from './link';

describe('parseInviteLink', () => {
  it('reads what src-tauri/src/link.rs writes, percent-encoding included', () => {
    // The link of link.rs's own test.
    const link =
      'classroom://join?server=wss%3A%2F%2F192.168.1.20%3A8443%2Fws&room=Physics+7B+%26+friends&invite=k9Xz-_Q&pin=AbC-_0';
    expect(parseInviteLink(`  ${link}\n`)).toEqual({
      server: 'wss://192.168.1.20:8443/ws',
      room: 'Physics 7B & friends',
      token: 'k9Xz-_Q',
      pin: 'AbC-_0',
    });
  });

  it('has no pin for a class on this computer only', () => {
    expect(parseInviteLink('classroom://join?server=ws%3A%2F%2F127.0.0.1%3A1%2Fws&room=r&invite=s')).toEqual(
      { server: 'ws://127.0.0.1:1/ws', room: 'r', token: 's' },
    );
  });

  it('refuses links that lack a part, and text that is no link', () => {
    expect(parseInviteLink('classroom://join?server=ws%3A%2F%2Fh%2Fws&room=r')).toBeNull();
    expect(parseInviteLink('classroom://joinx?server=a&room=r&invite=s')).toBeNull();
    expect(parseInviteLink('https://example.org/?server=a&room=r&invite=s')).toBeNull();
    expect(parseInviteLink('')).toBeNull();
    expect(looksLikeLink('CLASSROOM://join?')).toBe(true);
    expect(looksLikeLink('ws://h/ws')).toBe(false);
  });
});
