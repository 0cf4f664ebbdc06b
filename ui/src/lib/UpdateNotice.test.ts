// @vitest-environment jsdom
// The note about a newer version: offered with an Install button that installs and says so,
// or, when the app installed it (or could not), said in words with no button.
import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { flushSync } from 'svelte';
import { setLanguage } from './i18n.svelte';
import { render, text, type Mounted } from './testing';
import UpdateNotice from './UpdateNotice.svelte';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
  setLanguage('en');
});

const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  flushSync();
};

describe('UpdateNotice', () => {
  it('offers a found version and installs it on a click', async () => {
    invoke.mockResolvedValue(null);
    const ondismiss = vi.fn();
    mounted = render(UpdateNotice, {
      notice: { version: '9.9.9', state: 'available', detail: null },
      ondismiss,
    });
    const note = mounted.target.querySelector('[data-testid=update-notice]');
    expect(text(note)).toContain('Version 9.9.9 of Classroom is available.');
    mounted.target.querySelector<HTMLButtonElement>('[data-testid=update-install]')?.click();
    await settle();
    expect(invoke).toHaveBeenCalledWith('update_install', undefined);
    expect(text(note)).toContain('It starts the next time you open Classroom.');
    expect(mounted.target.querySelector('[data-testid=update-install]')).toBeNull();
    mounted.target.querySelector<HTMLButtonElement>('[data-testid=update-dismiss]')?.click();
    expect(ondismiss).toHaveBeenCalled();
  });

  it('says why an install by itself failed, in Chinese too, without an Install button', () => {
    setLanguage('zh-CN');
    mounted = render(UpdateNotice, {
      notice: { version: '9.9.9', state: 'failed', detail: 'signature' },
      ondismiss: () => {},
    });
    const note = mounted.target.querySelector('[data-testid=update-notice]');
    expect(text(note)).toContain('9.9.9 版未能安装');
    expect(text(note)).toContain('signature');
    expect(mounted.target.querySelector('[data-testid=update-install]')).toBeNull();
  });
});
