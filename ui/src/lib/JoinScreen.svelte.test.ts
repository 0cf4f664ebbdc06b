// @vitest-environment jsdom
// The student's home screen: a class code first, classes nearby, the teacher's invite link (with
// its certificate pin), details by hand behind a disclosure, recent classes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
// Live events: the handlers the page registered, by event name.
const handlers = vi.hoisted(() => new Map<string, (event: { payload: unknown }) => void>());
vi.mock('@tauri-apps/api/event', () => ({
  listen: vi.fn(async (name: string, handler: (event: { payload: unknown }) => void) => {
    handlers.set(name, handler);
    return () => handlers.delete(name);
  }),
}));

import { flushSync } from 'svelte';
import type { JoinForm } from './join';
import JoinScreen from './JoinScreen.svelte';
import type { NearbyClasses } from './api';
import { rememberRecent } from './recent';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

const JOINED = { role: 'student', room: 'physics-7b', server: '', participantId: 'p2', invite: null, network: null };
const PHYSICS = {
  id: 'Physics (ab12)._classroom._tcp.local.',
  title: 'Physics',
  teacher: 'Ms. Rivera',
  addresses: ['10.0.0.5'],
  port: 47800,
  tls: true,
  fingerprint: 'B'.repeat(43),
  protocolVersion: 1,
};
let nearby: NearbyClasses = { classes: [], network: true, unreadable: 0 };

beforeEach(() => {
  localStorage.clear();
  nearby = { classes: [], network: true, unreadable: 0 };
  invoke.mockImplementation(async (command: string) => {
    switch (command) {
      case 'nearby_classes':
        return nearby;
      case 'reach_nearby_class':
        return { url: 'wss://10.0.0.5:47800/ws', fingerprint: 'B'.repeat(43) };
      case 'join_class':
        return JOINED;
      default:
        throw new Error(`unexpected ${command}`);
    }
  });
});

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
  handlers.clear();
});

function show(form: JoinForm, openedLink: { link: string } | null = null): HTMLElement {
  mounted = render(JoinScreen, { form, openedLink, onjoined: () => {} });
  return mounted.target;
}

function type(target: HTMLElement, testid: string, value: string) {
  const input = target.querySelector<HTMLInputElement>(`[data-testid="${testid}"]`);
  if (input === null) throw new Error(`no ${testid}`);
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

function joinCalls(): JoinForm[] {
  return invoke.mock.calls
    .filter(([command]) => command === 'join_class')
    .map(([, args]) => (args as { form: JoinForm }).form);
}

function submit(target: HTMLElement) {
  target.querySelector<HTMLButtonElement>('[data-testid="join-submit"]')?.click();
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
    submit(target);
    await vi.waitFor(() => expect(joinCalls()).toHaveLength(1));
    expect(joinCalls()[0]?.pin).toBe('A'.repeat(43));
  });

  it('drops the pin when the server is typed over the link’s', async () => {
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-link', LINK);
    type(target, 'join-server', 'wss://class.example.org/ws');
    submit(target);
    await vi.waitFor(() => expect(joinCalls()).toHaveLength(1));
    expect(joinCalls()[0]?.pin ?? null).toBeNull();
  });

  it('says so when a link is cut short, and fills nothing', () => {
    const form = $state<JoinForm>({ role: 'student', name: '', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-link', 'classroom://join?server=wss%3A%2F%2F10.0.0.5');
    expect(form.server).toBe('');
    expect(text(target.querySelector('#join-link-note'))).toContain('not a whole invite link');
    expect(target.querySelector('[data-testid="join-link"]')?.getAttribute('aria-invalid')).toBe('true');
  });

  it('has no link, code or classes nearby for a teacher', () => {
    const form = $state<JoinForm>({ role: 'teacher', name: '', server: '', room: '', token: '' });
    const target = show(form);
    for (const id of ['join-link', 'join-code', 'nearby-classes', 'join-manual']) {
      expect(target.querySelector(`[data-testid="${id}"]`)).toBeNull();
    }
  });

  it('joins with only a name and a class code', async () => {
    const form = $state<JoinForm>({ role: 'student', name: '', server: '', room: '', token: '' });
    const target = show(form);
    type(target, 'join-name', 'Ada');
    type(target, 'join-code', 'k7qm 3xz2 9hwd');
    submit(target);
    await vi.waitFor(() => expect(joinCalls()).toHaveLength(1));
    expect(joinCalls()[0]).toMatchObject({ role: 'student', name: 'Ada', code: 'k7qm 3xz2 9hwd', token: '' });
  });

  it('asks for the code when nothing to join with was given, and checks its form', () => {
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form);
    submit(target);
    expect(text(target.querySelector('#join-code-note'))).toContain('Type the class code');
    expect(joinCalls()).toHaveLength(0);
    // The hand-entered details stay folded away: the code is what is missing.
    expect(target.querySelector<HTMLDetailsElement>('[data-testid="join-manual"]')?.open).toBe(false);
    type(target, 'join-code', 'K7QM-3XZ2-9HW');
    expect(text(target.querySelector('#join-code-note'))).toContain('12 letters and digits');
    expect(target.querySelector('[data-testid="join-code"]')?.getAttribute('aria-invalid')).toBe('true');
  });

  it('opens the details by hand when one of them is wrong', () => {
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: 'http://x', room: 'r', token: 't' });
    const target = show(form);
    submit(target);
    expect(target.querySelector<HTMLDetailsElement>('[data-testid="join-manual"]')?.open).toBe(true);
    expect(text(target.querySelector('#join-server-note'))).toContain('ws://');
    expect(joinCalls()).toHaveLength(0);
  });

  it('lists classes nearby live, and a chosen one asks for its code', async () => {
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form);
    await vi.waitFor(() => expect(target.querySelector('[data-testid="nearby-empty"]')).not.toBeNull());
    expect(text(target.querySelector('[data-testid="nearby-empty"]'))).toContain('No classes found nearby');
    // The list follows the network.
    await vi.waitFor(() => expect(handlers.has('nearby-classes-changed')).toBe(true));
    handlers.get('nearby-classes-changed')?.({ payload: { classes: [PHYSICS], network: true, unreadable: 0 } });
    flushSync();
    const button = target.querySelector<HTMLButtonElement>('[data-testid="nearby-class"]');
    expect(button?.getAttribute('aria-label')).toBe('Choose Physics');
    expect(text(button)).toContain('Taught by Ms. Rivera');
    button?.click();
    await vi.waitFor(() => expect(form.server).toBe('wss://10.0.0.5:47800/ws'));
    expect(invoke).toHaveBeenCalledWith('reach_nearby_class', { id: PHYSICS.id });
    expect(form.pin).toBe('B'.repeat(43));
    expect(text(target.querySelector('#join-code-note'))).toContain('Physics is here');
    // The invite link played no part.
    expect(text(target.querySelector('#join-link-note'))).not.toContain('Filled in');
    await vi.waitFor(() => expect(document.activeElement?.getAttribute('data-testid')).toBe('join-code'));
    // Choosing never joins by itself.
    expect(joinCalls()).toHaveLength(0);
  });

  it('says when this computer has no network to look on', async () => {
    nearby = { classes: [], network: false, unreadable: 0 };
    const form = $state<JoinForm>({ role: 'student', name: '', server: '', room: '', token: '' });
    const target = show(form);
    await vi.waitFor(() => expect(text(target.querySelector('[data-testid="nearby-empty"]'))).toContain('not on a network'));
  });

  it('fills the form from a link opened from outside, and does not join', () => {
    const form = $state<JoinForm>({ role: 'teacher', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form, { link: LINK });
    expect(form.role).toBe('student');
    expect(form.token).toBe('s3cr3t');
    expect(target.querySelector<HTMLInputElement>('[data-testid="join-link"]')?.value).toBe(LINK);
    expect(joinCalls()).toHaveLength(0);
  });

  it('shows recent classes, which fill the details by hand', () => {
    rememberRecent('physics-7b', 'wss://10.0.0.5:47800/ws', Date.UTC(2026, 0, 5, 9, 30));
    const form = $state<JoinForm>({ role: 'student', name: 'Ada', server: '', room: '', token: '' });
    const target = show(form);
    const recent = target.querySelector('[data-testid="recent-classes"]');
    expect(text(recent)).toContain('physics-7b');
    expect(text(recent)).toContain('Last joined');
    recent?.querySelector('button')?.click();
    flushSync();
    expect(form.server).toBe('wss://10.0.0.5:47800/ws');
    expect(form.room).toBe('physics-7b');
    expect(target.querySelector<HTMLDetailsElement>('[data-testid="join-manual"]')?.open).toBe(true);
  });
});
