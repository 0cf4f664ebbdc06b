// @vitest-environment jsdom
// Waiting in the lobby after a join by class code: the words say so, admission opens the class,
// a closed session goes back with its reason, Leave leaves.
import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
const handlers = vi.hoisted(() => new Map<string, (event: { payload: unknown }) => void>());
vi.mock('@tauri-apps/api/event', () => ({
  listen: vi.fn(async (name: string, handler: (event: { payload: unknown }) => void) => {
    handlers.set(name, handler);
    return () => handlers.delete(name);
  }),
}));

import { flushSync } from 'svelte';
import type { ClassJoined } from './api';
import { setLanguage } from './i18n.svelte';
import LobbyWait from './LobbyWait.svelte';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
  handlers.clear();
  setLanguage('en');
});

const JOINED: ClassJoined = {
  role: 'student',
  room: 'Physics',
  server: 'wss://10.0.0.5:47800/ws',
  participantId: null,
  lobby: 'waiting for the teacher',
  invite: null,
  network: null,
};

function show() {
  const onadmitted = vi.fn();
  const onleft = vi.fn();
  mounted = render(LobbyWait, { joined: JOINED, onadmitted, onleft });
  return { target: mounted.target, onadmitted, onleft };
}

describe('LobbyWait', () => {
  it('says the student waits for the teacher, in both languages', () => {
    const { target } = show();
    expect(text(target)).toContain('Waiting for the teacher to let you in');
    expect(text(target)).toContain('lobby of Physics');
    setLanguage('zh-CN');
    flushSync();
    expect(text(target)).toContain('正在等待老师允许你进入');
  });

  it('opens the class when admitted and goes back when closed', async () => {
    const { onadmitted, onleft } = show();
    await vi.waitFor(() => expect(handlers.has('session-status')).toBe(true));
    handlers.get('session-status')?.({ payload: { state: 'admitted', participantId: 'p9', room: 'Physics' } });
    expect(onadmitted).toHaveBeenCalledWith('p9', 'Physics');
    handlers.get('session-status')?.({
      payload: { state: 'closed', end: { why: 'denied', reason: 'the teacher did not let you in' } },
    });
    expect(onleft).toHaveBeenCalledWith('The teacher did not let you in.');
  });

  it('leaves the lobby on request', async () => {
    invoke.mockResolvedValue(undefined);
    const { target, onleft } = show();
    target.querySelector<HTMLButtonElement>('[data-testid="lobby-leave"]')?.click();
    await vi.waitFor(() => expect(onleft).toHaveBeenCalledWith(null));
    expect(invoke).toHaveBeenCalledWith('leave_class', undefined);
  });
});
