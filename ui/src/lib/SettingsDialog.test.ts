// @vitest-environment jsdom
// The settings dialog's diagnostics: the report is asked of Rust on a click, shown, and copied
// with one button; a failure is said in words.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn(async () => () => {}) }));

import { flushSync } from 'svelte';
import type { SettingsView } from './api';
import { setLanguage } from './i18n.svelte';
import SettingsDialog from './SettingsDialog.svelte';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

// The dialog lists the devices as it opens: Rust always answers that.
beforeEach(() => answer(async () => null));

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
  setLanguage('en');
});

const VIEW: SettingsView = {
  settings: { language: 'system', theme: 'system', downloadLimit: 'none' },
  language: 'en',
  systemLanguage: 'en',
  systemLocales: ['en-GB'],
  policy: {
    locked: [],
    serverUrl: null,
    studentsMayRecord: false,
    screenShareSources: ['screen', 'window'],
    updates: 'auto',
    problems: [],
  },
};

const REPORT = 'Classroom diagnostics\nApp: 0.1.0 (app.classroom.desktop)\nMedia: GStreamer 1.22.0\n';

function show() {
  mounted = render(SettingsDialog, { view: VIEW, onchanged: vi.fn() });
  return mounted.target;
}

/** Rust's side: the device list for the devices section, `diagnostics` as given. */
function answer(diagnostics: () => Promise<unknown>) {
  invoke.mockImplementation(async (command: string) =>
    command === 'list_devices' ? { devices: [], chosen: {} } : diagnostics(),
  );
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('SettingsDialog diagnostics', () => {
  it('shows the report on a click and copies it', async () => {
    answer(async () => REPORT);
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const target = show();
    expect(target.querySelector('[data-testid=diagnostics-report]')).toBeNull();
    target.querySelector<HTMLButtonElement>('[data-testid=diagnostics-show]')?.click();
    await settle();
    flushSync();
    expect(invoke).toHaveBeenCalledWith('diagnostics', undefined);
    // The devices are chosen here too.
    expect(target.querySelectorAll('[data-testid=settings-devices] select')).toHaveLength(3);
    const area = target.querySelector<HTMLTextAreaElement>('[data-testid=diagnostics-report]');
    expect(area?.value).toBe(REPORT);
    target.querySelector<HTMLButtonElement>('[data-testid=diagnostics-copy]')?.click();
    await settle();
    flushSync();
    expect(writeText).toHaveBeenCalledWith(REPORT);
    expect(text(target.querySelector('[data-testid=diagnostics-note]'))).toContain('Copied');
  });

  it('says so when the report cannot be made, in Chinese too', async () => {
    setLanguage('zh-CN');
    answer(async () => {
      throw { kind: 'internal', message: 'boom' };
    });
    const target = show();
    target.querySelector<HTMLButtonElement>('[data-testid=diagnostics-show]')?.click();
    await settle();
    flushSync();
    expect(text(target.querySelector('[data-testid=diagnostics-note]'))).toContain('无法生成报告');
  });
});

describe('SettingsDialog under school policy', () => {
  it('shows a locked setting as locked, with where the school set it', () => {
    const source = '/etc/classroom/policies/managed/10-school.json';
    mounted = render(SettingsDialog, {
      view: {
        ...VIEW,
        settings: { ...VIEW.settings, language: 'zh-CN' },
        policy: { ...VIEW.policy, locked: [{ key: 'language', source }] },
      },
      onchanged: vi.fn(),
    });
    const target = mounted.target;
    const select = target.querySelector<HTMLSelectElement>('[data-testid=settings-language]');
    expect(select?.disabled).toBe(true);
    expect(select?.getAttribute('aria-describedby')).toBe('language-lock');
    expect(text(target.querySelector('[data-testid=settings-language-locked]'))).toContain(source);
    // What the school did not lock stays free.
    expect(target.querySelector<HTMLSelectElement>('[data-testid=settings-download-limit]')?.disabled).toBe(false);
    expect(target.querySelector('[data-testid=settings-theme-locked]')).toBeNull();
  });
});
