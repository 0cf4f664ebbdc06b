// @vitest-environment jsdom
// The homework camera against a stubbed Rust: opening starts the camera for photos, a camera
// that does not work says so and takes nothing, and closing stops it.
import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn(async () => () => {}) }));

import { flushSync } from 'svelte';
import type { DeviceCheckView } from './api';
import HomeworkCamera from './HomeworkCamera.svelte';
import { setLanguage } from './i18n.svelte';
import { render, text, type Mounted } from './testing';

let mounted: Mounted | undefined;

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  invoke.mockReset();
  setLanguage('en');
});

const VIEW: DeviceCheckView = {
  previewTrack: null,
  cameraFrames: 0,
  cameraIsTest: false,
  cameraError: 'Device /dev/video0 is busy',
  microphoneDb: null,
  microphoneLoudestDb: -100,
  microphoneIsTest: false,
  microphoneError: null,
  hasSpeaker: false,
};

async function settle() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  flushSync();
}

describe('the homework camera', () => {
  it('starts the camera for photos, says why it cannot take one, and stops it when closed', async () => {
    invoke.mockImplementation(async (cmd: string) => (cmd === 'camera_photo_start' ? VIEW : undefined));
    const onclose = vi.fn();
    mounted = render(HomeworkCamera, { onhandin: vi.fn(async () => {}), onclose });
    await settle();
    expect(invoke).toHaveBeenCalledWith('camera_photo_start', undefined);
    const byId = (id: string) => mounted!.target.querySelector<HTMLButtonElement>(`[data-testid=${id}]`)!;
    expect(text(mounted.target.querySelector('[role=alert]')!)).toBe('Device /dev/video0 is busy');
    expect(text(mounted.target.querySelector('.empty')!)).toBe('The camera is not working.');
    expect(byId('camera-take').disabled).toBe(true);
    expect(byId('camera-hand-in').disabled).toBe(true);
    expect(text(byId('camera-hand-in'))).toBe('Hand in');
    byId('camera-close').click();
    expect(onclose).toHaveBeenCalledTimes(1);
    mounted.destroy();
    mounted = undefined;
    expect(invoke).toHaveBeenCalledWith('device_check_stop', undefined);
  });
});
