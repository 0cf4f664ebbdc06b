import { describe, expect, it } from 'vitest';
import type { DeviceList } from './api';
import { applyFailure, noticeFor, optionLabel, optionsFor, selectedId } from './devices';

const list = (chosen: Partial<DeviceList['chosen']> = {}): DeviceList => ({
  devices: [
    { kind: 'microphone', id: 'pulse:usb', name: 'USB Mic', isDefault: false },
    { kind: 'microphone', id: 'cpal:default', name: 'Default', isDefault: true },
    { kind: 'microphone', id: 'cpal:hw:1', name: 'Analog In', isDefault: false },
    { kind: 'speaker', id: 'cpal:default', name: 'Default', isDefault: true },
  ],
  chosen: { camera: null, microphone: null, speaker: null, ...chosen },
});

describe('optionsFor', () => {
  it('lists one kind, the default first, then by name', () => {
    expect(optionsFor(list(), 'microphone').map((d) => d.id)).toEqual([
      'cpal:default',
      'cpal:hw:1',
      'pulse:usb',
    ]);
    expect(optionsFor(list(), 'camera')).toEqual([]);
    expect(optionsFor(null, 'speaker')).toEqual([]);
  });
});

describe('selectedId', () => {
  it('prefers the remembered device, then the default', () => {
    expect(selectedId(list({ microphone: 'pulse:usb' }), 'microphone')).toBe('pulse:usb');
    expect(selectedId(list({ microphone: 'pulse:unplugged' }), 'microphone')).toBe('cpal:default');
    expect(selectedId(list(), 'speaker')).toBe('cpal:default');
    expect(selectedId(list(), 'camera')).toBe('');
  });
});

describe('noticeFor', () => {
  it('says when a kind is missing or the remembered device is unplugged', () => {
    expect(noticeFor(list(), 'camera')).toMatch(/test picture/);
    expect(noticeFor(list({ microphone: 'pulse:unplugged' }), 'microphone')).toMatch(/not connected/);
    expect(noticeFor(list({ microphone: 'pulse:usb' }), 'microphone')).toBeNull();
    expect(noticeFor(null, 'camera')).toBeNull();
  });
});

describe('optionLabel', () => {
  it('marks the default', () => {
    expect(optionLabel({ kind: 'speaker', id: 'x', name: 'Desk', isDefault: true })).toBe('Desk (default)');
    expect(optionLabel({ kind: 'speaker', id: 'x', name: 'Desk', isDefault: false })).toBe('Desk');
  });
});

describe('applyFailure', () => {
  it('records a failure and clears it on recovery, leaving other tracks alone', () => {
    let f = applyFailure({}, { source: 'camera', message: 'unplugged', recovered: false });
    f = applyFailure(f, { source: 'microphone', message: null, recovered: false });
    expect(f).toEqual({ camera: 'unplugged', microphone: 'failed' });
    f = applyFailure(f, { source: 'camera', message: null, recovered: true });
    expect(f).toEqual({ microphone: 'failed' });
  });
});
