// @vitest-environment jsdom
// The join screen reads the teacher's invite link into its fields, with the certificate pin.
import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { flushSync } from 'svelte';
import type { JoinForm } from './join';
import JoinScreen from './JoinScreen.svelte';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
});

function show(form: JoinForm): HTMLElement {
  mounted = render(JoinScreen, { form, onjoined: () => {} });
  return mounted.target;
}

function type(target: HTMLElement, testid: string, value: string) {
  const input = target.querySelector<HTMLInputElement>(`[data-testid="${testid}"]`);
  if (input === null) throw new Error(`no ${testid}`);
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

const LINK =
  'classroom://join?server=wss%3A%2F%2F10.0.0.5%3A47800%2Fws&room=physics-7b&invite=s3cr3t&pin=' +
  'A'.repeat(43);

describe('JoinScreen', () => {
  it('fills server, room, token and pin from a pasted invite link and sends them', async () => {
    const form = $state<JoinForm>({ role: 'student', name: '', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-link', LINK);
    expect(form.server).toBe('wss://10.0.0.5:47800/ws');
    expect(form.room).toBe('physics-7b');
    expect(form.token).toBe('s3cr3t');
    expect(form.pin).toBe('A'.repeat(43));
    expect(text(target.querySelector('#join-link-note'))).toContain('pinned');
    type(target, 'join-name', 'Ada');
    invoke.mockResolvedValue({ role: 'student', room: 'physics-7b', server: '', participantId: 'p2', invite: null, network: null });
    target.querySelector<HTMLButtonElement>('[data-testid="join-submit"]')?.click();
    await vi.waitFor(() => expect(invoke).toHaveBeenCalled());
    const [command, args] = invoke.mock.calls[0] as [string, { form: JoinForm }];
    expect(command).toBe('join_class');
    expect(args.form.pin).toBe('A'.repeat(43));
  });

  it('drops the pin when the server is typed over the link’s', async () => {
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-link', LINK);
    type(target, 'join-server', 'wss://class.example.org/ws');
    invoke.mockResolvedValue({ role: 'student', room: 'physics-7b', server: '', participantId: 'p2', invite: null, network: null });
    target.querySelector<HTMLButtonElement>('[data-testid="join-submit"]')?.click();
    await vi.waitFor(() => expect(invoke).toHaveBeenCalled());
    const [, args] = invoke.mock.calls[0] as [string, { form: JoinForm }];
    expect(args.form.pin ?? null).toBeNull();
  });

  it('says so when a link is cut short, and fills nothing', () => {
    const form = $state<JoinForm>({ role: 'student', name: '', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-link', 'classroom://join?server=wss%3A%2F%2F10.0.0.5');
    expect(form.server).toBe('');
    expect(text(target.querySelector('#join-link-note'))).toContain('not a whole invite link');
    expect(target.querySelector('[data-testid="join-link"]')?.getAttribute('aria-invalid')).toBe('true');
  });

  it('has no link field for a teacher', () => {
    const form = $state<JoinForm>({ role: 'teacher', name: '', server: '', room: '', token: '' });
    const target = show(form);
    expect(target.querySelector('[data-testid="join-link"]')).toBeNull();
  });
});
