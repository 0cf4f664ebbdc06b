import { afterEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
const listen = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/event', () => ({ listen }));

import { reportWords } from './class/report';
import {
  boardSave,
  chooseDevice,
  classRequest,
  classStats,
  exportReport,
  homeworkSaveCopy,
  importRoster,
  onClassEvent,
  onSessionStatus,
  stageMedia,
  fieldOf,
  listDevices,
  joinClass,
  launchOptions,
  leaveClass,
  shareScreen,
  toAppError,
  uiReady,
  type ClassJoined,
  type ClassStats,
  type LaunchOptions,
} from './api';
import type { JoinForm } from './join';

afterEach(() => {
  invoke.mockReset();
});

describe('toAppError', () => {
  it('keeps the app error shape', () => {
    const error = toAppError({ kind: 'invalidRoom', message: 'Enter the room to join.' });
    expect(error).toEqual({ kind: 'invalidRoom', message: 'Enter the room to join.' });
    expect(fieldOf(error)).toBe('room');
  });

  it('maps each validation kind to its field', () => {
    expect(fieldOf({ kind: 'invalidName', message: '' })).toBe('name');
    expect(fieldOf({ kind: 'invalidServer', message: '' })).toBe('server');
    expect(fieldOf({ kind: 'invalidToken', message: '' })).toBe('token');
    expect(fieldOf({ kind: 'refused', message: '' })).toBeUndefined();
    expect(fieldOf({ kind: 'connection', message: '' })).toBeUndefined();
  });

  it('wraps plain strings from Tauri', () => {
    const error = toAppError('command join_class not allowed by ACL');
    expect(error).toEqual({ kind: 'internal', message: 'command join_class not allowed by ACL' });
    expect(fieldOf(error)).toBeUndefined();
  });

  it('wraps thrown errors', () => {
    expect(toAppError(new Error('boom'))).toEqual({ kind: 'internal', message: 'boom' });
  });
});

describe('command wrappers', () => {
  const form: JoinForm = {
    role: 'student',
    name: 'Ada',
    server: 'ws://127.0.0.1:8080/ws',
    room: 'maths',
    token: 'abc.def',
  };

  it('sends the join form as `form` and returns ClassJoined', async () => {
    const joined: ClassJoined = {
      role: 'student',
      room: 'maths',
      server: 'ws://127.0.0.1:8080/ws',
      participantId: 'p-1',
      invite: null,
      network: null,
    };
    invoke.mockResolvedValueOnce(joined);
    await expect(joinClass(form)).resolves.toEqual(joined);
    expect(invoke).toHaveBeenCalledWith('join_class', { form });
  });

  it('rejects with the app error a command gave', async () => {
    invoke.mockRejectedValueOnce({ kind: 'invalidToken', message: 'Paste the token your teacher gave you.' });
    await expect(joinClass(form)).rejects.toEqual({
      kind: 'invalidToken',
      message: 'Paste the token your teacher gave you.',
    });
    invoke.mockRejectedValueOnce('not allowed');
    await expect(leaveClass()).rejects.toEqual({ kind: 'internal', message: 'not allowed' });
  });

  it('polls class_stats without arguments', async () => {
    const stats: ClassStats = {
      tracks: [
        {
          trackId: 't1',
          participantId: 'p1',
          source: 'camera',
          kind: 'video',
          packets: 100,
          frames: 60,
          fps: 29.97,
          kbps: 812.4,
          resolution: '1280x720',
          freezes: 0,
          audioPeakDb: null,
          speaking: true,
        },
      ],
      events: [{ kind: 'joined', participantId: 'p-1' }],
      closed: null,
      failedTracks: ['camera'],
      microphoneLevelDb: -23.5,
      activeSpeaker: 'p-2',
      network: null,
      recording: null,
    };
    invoke.mockResolvedValueOnce(stats);
    await expect(classStats()).resolves.toEqual(stats);
    expect(invoke).toHaveBeenCalledWith('class_stats', undefined);
  });

  it('calls leave_class, launch_options and ui_ready by name', async () => {
    const given: LaunchOptions = {
      role: 'teacher',
      server: null,
      room: 'physics',
      name: 'Ms. Rivera',
      token: null,
      pin: null,
      join: true,
    };
    invoke.mockResolvedValueOnce(null).mockResolvedValueOnce(given).mockResolvedValueOnce(null);
    await leaveClass();
    await expect(launchOptions()).resolves.toEqual(given);
    await uiReady();
    expect(invoke.mock.calls.map(([command]) => command)).toEqual([
      'leave_class',
      'launch_options',
      'ui_ready',
    ]);
  });
});

describe('device commands', () => {
  it('lists and chooses devices by kind and id, and passes refusals on', async () => {
    const list = {
      devices: [{ kind: 'microphone', id: 'cpal:default', name: 'Default', isDefault: true }],
      chosen: { camera: null, microphone: 'cpal:default', speaker: null },
    };
    invoke.mockResolvedValueOnce(list);
    await expect(listDevices()).resolves.toEqual(list);
    expect(invoke).toHaveBeenCalledWith('list_devices', undefined);
    invoke.mockResolvedValueOnce(list);
    await expect(chooseDevice('microphone', 'cpal:default')).resolves.toEqual(list);
    expect(invoke).toHaveBeenLastCalledWith('choose_device', { kind: 'microphone', id: 'cpal:default' });
    invoke.mockRejectedValueOnce({ kind: 'unknownDevice', message: 'no microphone called "x" is connected' });
    await expect(chooseDevice('microphone', 'x')).rejects.toEqual({
      kind: 'unknownDevice',
      message: 'no microphone called "x" is connected',
    });
  });
});

describe('shareScreen', () => {
  it('invokes share_screen and passes a cancelled dialog on as its own kind', async () => {
    invoke.mockResolvedValueOnce(null);
    await expect(shareScreen()).resolves.toBeNull();
    expect(invoke).toHaveBeenCalledWith('share_screen', undefined);
    invoke.mockRejectedValueOnce({
      kind: 'cancelled',
      message: "Screen sharing was cancelled in the desktop's dialog.",
    });
    await expect(shareScreen()).rejects.toEqual({
      kind: 'cancelled',
      message: "Screen sharing was cancelled in the desktop's dialog.",
    });
  });
});

describe('class commands and events', () => {
  it('sends class requests, stage media, the roster and the report by name', async () => {
    invoke.mockResolvedValue(null);
    await classRequest({ action: 'raiseHand' });
    expect(invoke).toHaveBeenLastCalledWith('class_request', { request: { action: 'raiseHand' } });
    await stageMedia(true);
    expect(invoke).toHaveBeenLastCalledWith('stage_media', { on: true });
    const imported = { outcome: 'imported', students: 2, encoding: 'UTF-8', separator: ',' };
    invoke.mockResolvedValueOnce(imported);
    const bytes = new TextEncoder().encode('name\nAda\nBo\n');
    await expect(importRoster(bytes)).resolves.toEqual(imported);
    expect(invoke).toHaveBeenLastCalledWith('import_roster', bytes, { headers: {} });
    invoke.mockResolvedValueOnce(imported);
    await importRoster(bytes, 'cn');
    expect(invoke).toHaveBeenLastCalledWith('import_roster', bytes, { headers: { 'roster-region': 'cn' } });
    const saved = { path: '/r.csv', csv: '', present: 1, absent: 0 };
    invoke.mockResolvedValueOnce(saved);
    const words = reportWords(new Date());
    await expect(exportReport(words)).resolves.toEqual(saved);
    expect(invoke).toHaveBeenLastCalledWith('export_report', { words });
    const file = { path: '/home/ada/Downloads/Whiteboard.pdf', name: 'Whiteboard.pdf', bytes: 2048 };
    invoke.mockResolvedValueOnce(file);
    await expect(boardSave('pdf')).resolves.toEqual(file);
    expect(invoke).toHaveBeenLastCalledWith('board_save', { format: 'pdf', page: null });
    invoke.mockResolvedValueOnce(file);
    await expect(homeworkSaveCopy('sub-1')).resolves.toEqual(file);
    expect(invoke).toHaveBeenLastCalledWith('homework_save_copy', { submissionId: 'sub-1' });
    invoke.mockRejectedValueOnce({ kind: 'notInClass', message: 'Join a class first.' });
    await expect(classRequest({ action: 'lowerAllHands' })).rejects.toEqual({
      kind: 'notInClass',
      message: 'Join a class first.',
    });
  });

  it('listens to class-event and session-status and hands over the payloads', async () => {
    const unlisten = vi.fn();
    listen.mockResolvedValue(unlisten);
    const events: unknown[] = [];
    await expect(onClassEvent((e) => events.push(e))).resolves.toBe(unlisten);
    await onSessionStatus((s) => events.push(s));
    expect(listen.mock.calls.map(([name]) => name)).toEqual(['class-event', 'session-status']);
    listen.mock.calls[0][1]({ payload: { event: 'timer', timer: null } });
    listen.mock.calls[1][1]({ payload: { state: 'connected' } });
    expect(events).toEqual([{ event: 'timer', timer: null }, { state: 'connected' }]);
  });
});
