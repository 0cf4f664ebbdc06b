// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import InvitePanel from './InvitePanel.svelte';
import { render, text, type Mounted } from './testing';

const invite = {
  server: 'ws://127.0.0.1:7788/ws',
  room: 'physics-7b',
  token: 'eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoicGh5c2ljcy03YiJ9.c2lnbmF0dXJl',
  code: 'K7QF-2M9X-WD3P',
  fingerprint: null,
  link: 'classroom://join?server=ws%3A%2F%2F127.0.0.1%3A7788%2Fws&room=physics-7b&invite=s3cr3t',
};

const writeText = vi.fn<(text: string) => Promise<void>>();
let mounted: Mounted | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  writeText.mockReset();
  Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
});

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  vi.useRealTimers();
});

function show(): HTMLElement {
  mounted = render(InvitePanel, { invite });
  return mounted.target;
}

function button(target: HTMLElement, label: string): HTMLButtonElement {
  const found = target.querySelector<HTMLButtonElement>(`button[aria-label="${label}"]`);
  if (found === null) throw new Error(`no button "${label}"`);
  return found;
}

async function click(element: HTMLElement) {
  element.click();
  // copyText awaits the clipboard; let it settle, then apply the update.
  await vi.advanceTimersByTimeAsync(0);
  flushSync();
}

describe('InvitePanel', () => {
  it('shows the server, room and token a student needs', () => {
    const target = show();
    expect(text(target.querySelector('h3'))).toBe('Invite your students');
    const values = [...target.querySelectorAll('.invite-field')].map((field) => [
      text(field.querySelector('.invite-label')),
      text(field.querySelector('.value')),
    ]);
    expect(values).toEqual([
      ['Invite link', invite.link],
      ['Class code', invite.code],
      ['Server address', invite.server],
      ['Room', invite.room],
    ]);
    const token = target.querySelector('textarea');
    expect(token?.value).toBe(invite.token);
    expect(token?.readOnly).toBe(true);
    expect(token?.getAttribute('aria-labelledby')).toBe('invite-token-label');
    expect([...target.querySelectorAll('button')].map((b) => text(b))).toEqual(['Copy', 'Copy', 'Copy', 'Copy', 'Copy']);
  });

  it('copies a value, says so on that button only, then goes back to "Copy"', async () => {
    writeText.mockResolvedValue();
    const target = show();
    await click(button(target, 'Copy the join token'));
    expect(writeText).toHaveBeenCalledWith(invite.token);
    const token = button(target, 'Copy the join token');
    expect(text(token)).toBe('Copied');
    expect(token.classList.contains('done')).toBe(true);
    expect(text(button(target, 'Copy the room'))).toBe('Copy');

    await click(button(target, 'Copy the server address'));
    expect(writeText).toHaveBeenLastCalledWith(invite.server);
    expect(text(button(target, 'Copy the server address'))).toBe('Copied');
    expect(text(token)).toBe('Copy');

    await click(button(target, 'Copy the invite link'));
    expect(writeText).toHaveBeenLastCalledWith(invite.link);

    await vi.advanceTimersByTimeAsync(1600);
    flushSync();
    expect([...target.querySelectorAll('button')].map((b) => text(b))).toEqual(['Copy', 'Copy', 'Copy', 'Copy', 'Copy']);
  });

  it('says when copying failed, for longer', async () => {
    writeText.mockRejectedValue(new Error('not allowed'));
    // The fallback (a hidden text area and execCommand) fails in jsdom as well.
    const target = show();
    await click(button(target, 'Copy the room'));
    const room = button(target, 'Copy the room');
    expect(text(room)).toBe('Copy failed');
    expect(room.classList.contains('failed')).toBe(true);
    await vi.advanceTimersByTimeAsync(1600);
    flushSync();
    expect(text(room)).toBe('Copy failed');
    await vi.advanceTimersByTimeAsync(2400);
    flushSync();
    expect(text(room)).toBe('Copy');
  });
});
