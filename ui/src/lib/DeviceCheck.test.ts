// @vitest-environment jsdom
// The check dialog against a stubbed Rust: opening starts the device check and the connection
// check of the form's server (with its pin), the meter follows the level Rust reports, the
// speaker button plays the test sound, a server that does not answer is said in words, and
// closing stops the camera and microphone.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn(async () => () => {}) }));

import { flushSync, mount, unmount } from 'svelte';
import type { DeviceCheckView, NetworkCheck } from './api';
import DeviceCheck from './DeviceCheck.svelte';
import { setLanguage } from './i18n.svelte';
import { text } from './testing';

let opened: { host: HTMLElement; component: Record<string, unknown> } | undefined;

beforeAll(() => {
  // jsdom has <dialog> without its modal methods.
  HTMLDialogElement.prototype.showModal = function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close = function (this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
});

afterEach(() => {
  if (opened !== undefined) {
    void unmount(opened.component);
    opened.host.remove();
    opened = undefined;
  }
  invoke.mockReset();
  setLanguage('en');
});

const VIEW: DeviceCheckView = {
  previewTrack: null,
  cameraFrames: 0,
  cameraIsTest: true,
  cameraError: null,
  microphoneDb: -30,
  microphoneLoudestDb: -20,
  microphoneIsTest: false,
  microphoneError: null,
  hasSpeaker: true,
};

const GOOD: NetworkCheck = {
  kind: 'server',
  verdict: 'good',
  connectMs: 3,
  roundTripMs: 2,
  jitterMs: 1,
  secure: true,
};

function answer(network: NetworkCheck | string) {
  invoke.mockImplementation(async (command: string) => {
    switch (command) {
      case 'device_check_start':
      case 'device_check_status':
        return VIEW;
      case 'network_check':
        if (typeof network === 'string') throw { kind: 'connection', message: network };
        return network;
      case 'list_devices':
        return { devices: [], chosen: {} };
      case 'speaker_test':
      case 'device_check_stop':
        return null;
      default:
        throw new Error(`unexpected ${command}`);
    }
  });
}

const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  flushSync();
};

/** Mounts the dialog and opens it as the join screen does. */
async function openCheck(props: { teacher: boolean; server: string | null; pin: string | null }) {
  const host = document.createElement('div');
  document.body.append(host);
  const component = mount(DeviceCheck, { target: host, props });
  opened = { host, component };
  flushSync();
  (component as unknown as { open: () => void }).open();
  await settle();
  return host;
}

describe('DeviceCheck', () => {
  it('checks the devices and the form server, plays the sound, and stops on close', async () => {
    answer(GOOD);
    const host = await openCheck({ teacher: false, server: 'wss://10.0.0.2:47800/ws', pin: 'ab:cd' });
    expect(invoke).toHaveBeenCalledWith('device_check_start', undefined);
    expect(invoke).toHaveBeenCalledWith('network_check', { server: 'wss://10.0.0.2:47800/ws', pin: 'ab:cd' });
    const meter = host.querySelector('[data-testid=check-meter]');
    expect(meter?.getAttribute('aria-valuenow')).toBe('-30');
    expect((meter?.firstElementChild as HTMLElement).style.width).toBe('50%');
    expect(text(host.querySelector('[data-testid=check-mic-note]'))).toBe('We hear you.');
    expect(text(host.querySelector('[data-testid=check-network]'))).toContain('Good connection.');
    expect(text(host.querySelector('[data-testid=check-preview]'))).toBe('Starting the camera…');

    host.querySelector<HTMLButtonElement>('[data-testid=check-speaker]')?.click();
    await settle();
    expect(invoke).toHaveBeenCalledWith('speaker_test', undefined);
    expect(text(host.querySelector('[data-testid=check-speaker-note]'))).toContain('Did you hear two notes?');

    host.querySelector<HTMLButtonElement>('[data-testid=check-close]')?.click();
    await settle();
    expect(invoke).toHaveBeenCalledWith('device_check_stop', undefined);
  });

  it('says in words when the server does not answer, in Chinese too', async () => {
    setLanguage('zh-CN');
    answer('The class server did not answer.');
    const host = await openCheck({ teacher: false, server: 'wss://10.0.0.2:47800/ws', pin: null });
    const finding = host.querySelector('[data-testid=check-network] [data-verdict]');
    expect(finding?.getAttribute('data-verdict')).toBe('unreachable');
    expect(text(finding)).toContain('The class server did not answer.');
    expect(text(host.querySelector('[data-testid=check-dialog] h2'))).toBe('检查摄像头、麦克风和网络');
  });

  it('asks a student without a server to choose a class first, and checks a teacher\'s network', async () => {
    answer({ kind: 'hosting', addresses: ['192.168.1.20'], port: 47800, portTaken: false });
    let host = await openCheck({ teacher: false, server: null, pin: null });
    expect(invoke).not.toHaveBeenCalledWith('network_check', expect.anything());
    expect(text(host.querySelector('[data-testid=check-network]'))).toContain('Choose a class nearby');
    void unmount(opened!.component);
    opened!.host.remove();
    opened = undefined;

    host = await openCheck({ teacher: true, server: 'ignored', pin: 'ignored' });
    expect(invoke).toHaveBeenCalledWith('network_check', { server: null, pin: null });
    expect(text(host.querySelector('[data-testid=check-network]'))).toContain('192.168.1.20 (port 47800)');
  });
});
