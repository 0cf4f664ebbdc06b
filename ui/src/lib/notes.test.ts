import { afterEach, describe, expect, it } from 'vitest';
import type { AppError, ClassNote, SessionEnd } from './api';
import { errorSentence, errorText } from './errors';
import { setLanguage } from './i18n.svelte';
import { endedText, noteText } from './notes';

afterEach(() => setLanguage('en'));

const every: ClassNote[] = [
  { kind: 'joined', participantId: 'p-1' },
  { kind: 'trackStarted', source: 'screen', trackId: 'v2' },
  { kind: 'trackEnded', trackId: 'v2' },
  { kind: 'refused', code: 'unauthorized', detail: 'bad token' },
  { kind: 'mediaProblem', detail: 'no decoder' },
  { kind: 'trackFailed', source: 'camera', detail: 'unplugged' },
  { kind: 'trackRecovered', source: 'camera' },
  { kind: 'sessionEnded', end: { why: 'classEnded', reason: 'the teacher ended the class' } },
  { kind: 'noCamera' },
  { kind: 'noMicrophone' },
  { kind: 'noSpeaker' },
  { kind: 'noDisplay' },
  { kind: 'waylandUnsupported' },
  { kind: 'screenStandIn', error: { kind: 'media', message: 'Screen: no X display.' } },
  { kind: 'shareFailed', error: { kind: 'cancelled', message: 'closed the dialog' } },
  { kind: 'shareFailed', error: { kind: 'media', message: 'portal failed' } },
  { kind: 'other', detail: 'something' },
];

describe('noteText', () => {
  it('words every kind of class event in English', () => {
    expect(every.map(noteText)).toEqual([
      'Joined as p-1',
      'Screen track v2 started',
      'Track v2 ended',
      'The server refused: bad token',
      'Media problem: no decoder',
      'Camera failed, sending a stand-in: unplugged',
      'Camera is back',
      'Session ended: The teacher ended the class.',
      'No camera found: sending a test picture.',
      'No microphone found: sending a test tone.',
      'No speaker found: class audio is not played.',
      'Screen: there is no display to share; sending a test picture.',
      'Screen: sharing a Wayland desktop is not supported here; sending a test picture.',
      'The camera, microphone or screen could not start. Screen: no X display. Sending a test picture until the screen is shared again.',
      'Screen sharing was cancelled.',
      'The camera, microphone or screen could not start. portal failed',
      'something',
    ]);
  });

  it('words every kind in Chinese, keeping details as they came', () => {
    setLanguage('zh-CN');
    const lines = every.map(noteText);
    expect(lines[0]).toBe('已加入，你的编号是 p-1');
    expect(lines[5]).toBe('摄像头出现故障，正在发送替代内容：unplugged');
    expect(lines[14]).toBe('已取消屏幕共享。');
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/[\u4e00-\u9fff]/u);
  });

  it('shows the kind of a note from a newer app rather than nothing', () => {
    expect(noteText({ kind: 'fromTheFuture' } as unknown as ClassNote)).toBe('fromTheFuture');
  });
});

describe('endedText', () => {
  const every: SessionEnd[] = (
    [
      'left',
      'classEnded',
      'serverStopped',
      'replaced',
      'removed',
      'denied',
      'expired',
      'refused',
      'lost',
      'other',
    ] as const
  ).map((why) => ({ why, reason: 'server words' }));

  it('says why a session ended in a sentence of its own, with the words only where it has none', () => {
    const lines = every.map(endedText);
    expect(lines[1]).toBe('The teacher ended the class.');
    expect(lines[4]).toBe('The teacher removed you from the class.');
    // The server's English words follow only the endings that cannot say it all.
    for (const line of lines.slice(0, 7)) expect(line).not.toContain('server words');
    for (const line of lines.slice(7)) expect(line).toContain('server words');
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('says it in Chinese, and an ending from a newer app as "closed" with its words', () => {
    setLanguage('zh-CN');
    const lines = every.map(endedText);
    expect(lines[1]).toBe('老师结束了课堂。');
    for (const line of lines.slice(0, 7)) expect(line).not.toMatch(/[a-z]/u);
    expect(endedText({ why: 'movedAway', reason: 'moved' } as unknown as SessionEnd)).toBe(
      '连接已关闭。（moved）',
    );
    expect(endedText({ why: 'lost', reason: '' })).toBe('与课堂的连接已断开，未能重新连上。');
  });
});

describe('errorText', () => {
  it('picks the sentence by kind and adds the detail', () => {
    const error: AppError = { kind: 'connection', message: 'connection refused' };
    expect(errorSentence(error)).toBe('Could not reach the class server.');
    expect(errorText(error)).toBe('Could not reach the class server. connection refused');
    expect(errorText({ kind: 'storage', message: '' })).toBe('Could not save on this computer.');
    setLanguage('zh-CN');
    expect(errorText(error)).toBe('无法连接课堂服务器。（connection refused）');
  });

  it('treats a kind it does not know as internal', () => {
    expect(errorSentence({ kind: 'brandNew', message: 'x' } as unknown as AppError)).toBe(
      'Something went wrong inside the app.',
    );
  });
});
