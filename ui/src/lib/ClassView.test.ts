// @vitest-environment jsdom
// The class view put together: its parts get what `class_stats` says, through api.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));
// Listening for app events: never ready unless a test says so.
const listen = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/event', () => ({ listen }));

import { flushSync } from 'svelte';
import type { ClassEvent, ClassJoined, ClassStats, RecordingView, TrackStat } from './api';
import ClassView from './ClassView.svelte';
import { applyClassEvent, applySessionStatus, resetClass } from './classStore.svelte';
import { setLanguage } from './i18n.svelte';
import { render, text, type Mounted } from './testing';

function track(trackId: string, source: TrackStat['source'], kind: TrackStat['kind']): TrackStat {
  return {
    trackId,
    participantId: 'p1',
    source,
    kind,
    packets: 100,
    frames: kind === 'video' ? 900 : 1500,
    fps: kind === 'video' ? 30 : 0,
    kbps: kind === 'video' ? 800 : 32,
    resolution: kind === 'video' ? '1280x720' : null,
    freezes: 0,
    audioPeakDb: kind === 'audio' ? -20 : null,
    speaking: kind === 'audio',
  };
}

const running: ClassStats = {
  // Out of order on purpose: the table shows camera, screen, microphone.
  tracks: [track('a1', 'microphone', 'audio'), track('v2', 'screen', 'video'), track('v1', 'camera', 'video')],
  events: [
    { kind: 'joined', participantId: 'p-2' },
    { kind: 'trackStarted', source: 'camera', trackId: 'v1' },
  ],
  closed: null,
  failedTracks: [],
  microphoneLevelDb: null,
  activeSpeaker: 'p-1',
  network: null,
  recording: null,
};

const student: ClassJoined = {
  role: 'student',
  room: 'physics-7b',
  server: 'ws://127.0.0.1:7788/ws',
  participantId: 'p-2',
  invite: null,
  network: null,
};

const teacher: ClassJoined = {
  role: 'teacher',
  room: 'physics-7b',
  server: 'ws://127.0.0.1:7788/ws',
  participantId: 'p-1',
  invite: {
    server: 'ws://127.0.0.1:7788/ws',
    room: 'physics-7b',
    token: 'abc.def.ghi',
    code: 'K7QF-2M9X-WD3P',
    fingerprint: null,
    link: 'classroom://join?server=ws%3A%2F%2F127.0.0.1%3A7788%2Fws&room=physics-7b&invite=abc.def.ghi',
  },
  network: null,
};

/** What the fake backend answers `class_stats` with next; a function may throw. */
let answer: () => ClassStats = () => running;
/** What the school's policy lets a teacher share (App passes it from `get_settings`). */
let shareSources: string[] = ['screen', 'window'];
let mounted: Mounted | undefined;

beforeEach(() => {
  listen.mockReset();
  listen.mockImplementation(() => new Promise(() => {}));
  answer = () => running;
  shareSources = ['screen', 'window'];
  invoke.mockReset();
  backend({ leave_class: () => null });
});

/**
 * The fake backend: `class_stats` answers `answer()`, `video_frame` nothing, and the commands
 * in `more` what their functions return (given the arguments); anything else is refused.
 */
function backend(more: Record<string, (args: unknown) => unknown> = {}) {
  invoke.mockImplementation((command: string, args?: unknown) => {
    if (command === 'class_stats') return Promise.resolve().then(() => answer());
    if (command === 'video_frame') return Promise.resolve(new ArrayBuffer(0));
    const handler = more[command];
    if (handler === undefined) return Promise.reject(`unexpected command ${command}`);
    try {
      return Promise.resolve(handler(args));
    } catch (error) {
      return Promise.reject(error);
    }
  });
}

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
});

function show(joined: ClassJoined, onleft: () => void = () => {}, mayRecord: boolean | null = null): HTMLElement {
  mounted = render(ClassView, {
    joined,
    name: joined.role === 'teacher' ? 'Ms. Rivera' : 'Ada',
    onleft,
    shareSources,
    mayRecord,
  });
  return mounted.target;
}

async function settle(check: () => void) {
  await vi.waitFor(() => {
    flushSync();
    check();
  });
}

describe('ClassView', () => {
  it("shows a student the teacher's tracks, who speaks and what happened", async () => {
    const target = show(student);
    expect(text(target.querySelector('.empty'))).toBe('Connecting…');
    await settle(() => expect(target.querySelector('table')).not.toBeNull());

    expect(text(target.querySelector('#tracks-title'))).toBe('From your teacher');
    expect(text(target.querySelector('.count'))).toBe('3 tracks');
    expect(text(target.querySelector('.speaker'))).toBe('p-1 is speaking');
    expect([...target.querySelectorAll('tbody th')].map((th) => th.getAttribute('title'))).toEqual([
      'v1',
      'v2',
      'a1',
    ]);
    expect([...target.querySelectorAll('figcaption')].map((c) => text(c))).toEqual(['Camera', 'Screen']);
    expect(target.querySelectorAll('.speaking-dot')).toHaveLength(1);
    expect([...target.querySelectorAll('.event-list li')].map((li) => text(li))).toEqual([
      'Camera track v1 started',
      'Joined as p-2',
    ]);
    expect(target.querySelector('.invite')).toBeNull();
    expect(text(target.querySelector('.leave'))).toBe('Leave');
  });

  it('shows a teacher the invite and what students send', async () => {
    answer = () => ({ ...running, tracks: [], events: [] });
    const target = show(teacher);
    await settle(() => expect(text(target.querySelector('.speaker'))).toBe('You are speaking'));
    expect(text(target.querySelector('#tracks-title'))).toBe('Receiving');
    expect((target.querySelector('.invite textarea') as HTMLTextAreaElement).value).toBe('abc.def.ghi');
    expect(text(target.querySelector('.empty'))).toContain('Students you bring on stage appear here');
    expect(text(target.querySelector('.none'))).toBe('Nothing yet.');
  });

  it("asks a teacher before Leave ends the class for everyone; a student's Leave does not ask", async () => {
    answer = () => ({ ...running, tracks: [], events: [] });
    const target = show(teacher);
    const left = () => invoke.mock.calls.filter(([command]) => command === 'leave_class').length;
    await settle(() => expect(target.querySelector('.leave')).not.toBeNull());
    target.querySelector<HTMLButtonElement>('.leave')!.click();
    flushSync();
    expect(text(target.querySelector('[data-testid=end-confirm]'))).toContain('End the class for everyone?');
    target.querySelector<HTMLButtonElement>('[data-testid=end-no]')!.click();
    flushSync();
    expect(target.querySelector('[data-testid=end-confirm]')).toBeNull();
    expect(left()).toBe(0);
    target.querySelector<HTMLButtonElement>('.leave')!.click();
    flushSync();
    target.querySelector<HTMLButtonElement>('[data-testid=end-yes]')!.click();
    await settle(() => expect(left()).toBe(1));
    mounted?.destroy();

    const asStudent = show(student);
    await settle(() => expect(asStudent.querySelector('.leave')).not.toBeNull());
    asStudent.querySelector<HTMLButtonElement>('.leave')!.click();
    await settle(() => expect(left()).toBe(2));
    expect(asStudent.querySelector('[data-testid=end-confirm]')).toBeNull();
  });

  it("turns the share button off, saying why, when the school's policy allows no screen sharing", async () => {
    const share = (target: HTMLElement) => target.querySelector<HTMLButtonElement>('[data-testid=share-screen]');
    let target = show(teacher);
    await settle(() => expect(share(target)).not.toBeNull());
    expect(share(target)?.disabled).toBe(false);
    expect(target.querySelector('[data-testid=sharing-off]')).toBeNull();
    mounted?.destroy();

    shareSources = [];
    target = show(teacher);
    await settle(() => expect(share(target)?.disabled).toBe(true));
    expect(text(target.querySelector('[data-testid=sharing-off]'))).toBe('Your school has turned off screen sharing.');
    expect(share(target)?.title).toBe('Your school has turned off screen sharing.');
  });

  it('asks again once it listens for new tracks: one that began meanwhile is not left to the next poll', async () => {
    let listening: (stop: () => void) => void = () => {};
    listen.mockImplementation(
      (name: string) =>
        new Promise((resolve) => {
          if (name === 'video-tracks-changed') listening = resolve;
        }),
    );
    answer = () => ({ ...running, tracks: [] });
    const target = show(student);
    const asked = () => invoke.mock.calls.filter(([command]) => command === 'class_stats').length;
    await settle(() => expect(asked()).toBe(1));
    // The teacher's camera began after that answer, before the view listened for it.
    answer = () => running;
    listening(() => {});
    // Well before the next poll (1 s).
    await vi.waitFor(
      () => {
        flushSync();
        expect([...target.querySelectorAll('figcaption')].map((c) => text(c))).toEqual(['Camera', 'Screen']);
      },
      { timeout: 400 },
    );
    expect(asked()).toBe(2);
  });

  it('says when the figures stop updating', async () => {
    answer = () => {
      throw { kind: 'notInClass', message: 'not in a class' };
    };
    const target = show(student);
    await settle(() =>
      expect(text(target.querySelector('.stale'))).toBe(
        'Not updating: You are not in a class. not in a class',
      ),
    );
  });

  it('stops polling once the class ended, and Back leaves', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      answer = () => ({
        ...running,
        tracks: [],
        closed: { why: 'classEnded', reason: 'the teacher ended the class' },
      });
      const onleft = vi.fn();
      const target = show(student, onleft);
      await vi.advanceTimersByTimeAsync(0);
      flushSync();
      expect(text(target.querySelector('.ended'))).toContain('The class has ended.');
      expect(text(target.querySelector('.ended'))).toContain('The teacher ended the class.');
      // Nothing is coming any more: no "waiting for the teacher's camera" box.
      expect(target.querySelector('.tracks')).toBeNull();
      expect(target.querySelector('.leave')).toBeNull();
      expect(target.querySelector('.speaker')).toBeNull();
      const polls = () => invoke.mock.calls.filter(([command]) => command === 'class_stats').length;
      await vi.advanceTimersByTimeAsync(5000);
      expect(polls()).toBe(1);

      target.querySelector<HTMLButtonElement>('.back')?.click();
      await vi.advanceTimersByTimeAsync(0);
      expect(onleft).toHaveBeenCalledOnce();
      expect(invoke).toHaveBeenCalledWith('leave_class', undefined);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says the person is out of a class that goes on, when they were removed', async () => {
    answer = () => ({
      ...running,
      tracks: [],
      closed: { why: 'removed', reason: 'you were removed from the class' },
    });
    const target = show(student);
    await settle(() =>
      expect(text(target.querySelector('.ended'))).toContain('The teacher removed you from the class.'),
    );
    expect(text(target.querySelector('.ended'))).toContain('You are no longer in this class.');
    expect(text(target.querySelector('.ended'))).not.toContain('The class has ended.');
    expect(text(target.querySelector('.eyebrow'))).toBe('Not in the class');
  });
});

describe('ClassView with the class panels', () => {
  afterEach(() => resetClass());

  it("puts a student's roll-call prompt above the video, the other panels below, and a reconnecting banner", async () => {
    applyClassEvent({
      event: 'state',
      serverTimeMs: Date.now(),
      you: { participantId: 'p-2', role: 'student', onStage: false, micAllowed: false, chatMuted: false },
      settings: { locked: false, lobbyPolicy: 'admitAll', chatPaused: false, stageLimit: 4, studentsMuted: false },
      counts: { participants: 2, hands: 0, onStage: 0 },
      chat: [],
      rollCall: { rollCallId: 1, deadlineMs: Date.now() + 60_000, open: true, answered: false },
    });
    applySessionStatus({ state: 'reconnecting', attempt: 1, reason: 'connection reset' });
    const target = show(student);
    await settle(() => expect(target.querySelector('table')).not.toBeNull());
    const order = [...target.querySelectorAll('[data-testid], #tracks-title')].map(
      (el) => el.getAttribute('data-testid') ?? el.id,
    );
    const at = (id: string) => order.indexOf(id);
    expect(at('session-reconnecting')).toBeGreaterThan(-1);
    expect(at('rollcall-answer')).toBeLessThan(at('tracks-title'));
    expect(at('raise-hand')).toBeGreaterThan(at('tracks-title'));
    expect(at('chat-panel')).toBeGreaterThan(at('tracks-title'));
  });

  it("gives a teacher the staff panels", async () => {
    applyClassEvent({
      event: 'state',
      serverTimeMs: Date.now(),
      you: { participantId: 'p-1', role: 'teacher', onStage: true, micAllowed: true, chatMuted: false },
      settings: { locked: false, lobbyPolicy: 'admitAll', chatPaused: false, stageLimit: 4, studentsMuted: false },
      counts: { participants: 1, hands: 0, onStage: 1 },
      chat: [],
    });
    const target = show(teacher);
    await settle(() => expect(target.querySelector('[data-testid="participants-panel"]')).not.toBeNull());
    expect(target.querySelector('[data-testid="rollcall-start"]')).not.toBeNull();
    expect(target.querySelector('[data-testid="raise-hand"]')).toBeNull();
  });
});

describe('ClassView in Chinese', () => {
  afterEach(() => setLanguage('en'));

  it('says everything in Chinese, plurals and events included', async () => {
    setLanguage('zh-CN');
    const target = show(student);
    expect(text(target.querySelector('.empty'))).toBe('正在连接…');
    await settle(() => expect(target.querySelector('table')).not.toBeNull());
    expect(text(target.querySelector('#tracks-title'))).toBe('老师的画面和声音');
    expect(text(target.querySelector('.count'))).toBe('共 3 路');
    expect(text(target.querySelector('.speaker'))).toBe('p-1 正在发言');
    expect([...target.querySelectorAll('figcaption')].map((c) => text(c))).toEqual(['摄像头', '屏幕']);
    expect([...target.querySelectorAll('.event-list li')].map((li) => text(li))).toEqual([
      '摄像头（v1）已开始',
      '已加入，你的编号是 p-2',
    ]);
    expect(text(target.querySelector('.leave'))).toBe('离开课堂');
    expect(target.querySelector('thead')?.textContent).toContain('分辨率');
  });
});

describe('ClassView recording', () => {
  afterEach(() => resetClass());

  /** The teacher in the student's list (`recording`: the teacher says they record). */
  function teacherPresent(recording = false) {
    applyClassEvent({
      event: 'participants',
      total: 1,
      offset: 0,
      items: [
        {
          participantId: 'p-1',
          name: 'Ms. Rivera',
          role: 'teacher',
          onStage: true,
          micAllowed: true,
          chatMuted: false,
          connected: true,
          onRoster: false,
          network: 'good',
          recording,
        },
      ],
    } as ClassEvent);
  }

  it('lets a student record the teacher where the school allows it, and says where it went', async () => {
    teacherPresent();
    let recording: RecordingView | null = null;
    const started: unknown[] = [];
    answer = () => ({ ...running, recording });
    backend({
      start_recording: (args) => {
        started.push(args);
        recording = { participantId: 'p-1', seconds: 75.4, recordedSeconds: 75, failed: null };
        return recording;
      },
      stop_recording: () => {
        recording = null;
        return { lessonId: 'l1', title: 'physics-7b, 5 Dec', seconds: 75, bytes: 1e6, stoppedEarly: null };
      },
    });
    const target = show(student, () => {}, true);
    const button = () => target.querySelector<HTMLButtonElement>('[data-testid=record]');
    await settle(() => expect(button()?.disabled).toBe(false));
    expect(text(button())).toBe('Record');
    expect(target.querySelector('[data-testid=recording-status]')).toBeNull();

    button()?.click();
    await settle(() => expect(text(target.querySelector('[data-testid=recording-status]'))).toBe('Recording 1:15'));
    expect(started).toHaveLength(1);
    const asked = started[0] as { participantId: string; title: string };
    expect(asked.participantId).toBe('p-1');
    expect(asked.title.startsWith('physics-7b, ')).toBe(true);
    expect(text(button())).toBe('Stop recording');
    expect(button()?.getAttribute('aria-pressed')).toBe('true');

    button()?.click();
    await settle(() =>
      expect(text(target.querySelector('[data-testid=record-note]'))).toBe(
        'Saved in your library: physics-7b, 5 Dec',
      ),
    );
    await settle(() => expect(text(button())).toBe('Record'));
  });

  it('stops a recording that stopped writing by itself, keeps it and says why', async () => {
    teacherPresent();
    let recording: RecordingView | null = {
      participantId: 'p-1',
      seconds: 600,
      recordedSeconds: 590,
      failed: 'No space left on device.',
    };
    let stops = 0;
    answer = () => ({ ...running, recording });
    backend({
      stop_recording: () => {
        stops += 1;
        recording = null;
        return {
          lessonId: 'l1',
          title: 'physics-7b, 5 Dec',
          seconds: 590,
          bytes: 4e7,
          stoppedEarly: 'No space left on device.',
        };
      },
    });
    const target = show(student, () => {}, true);
    // Nobody clicks: the app stops it and keeps what it got.
    await settle(() =>
      expect(text(target.querySelector('[data-testid=record-note]'))).toBe(
        'The recording stopped: No space left on device. Saved in your library as far as it got: physics-7b, 5 Dec',
      ),
    );
    expect(stops).toBe(1);
    await settle(() => expect(text(target.querySelector('[data-testid=record]'))).toBe('Record'));
    expect(target.querySelector('[data-testid=recording-status]')).toBeNull();
  });

  it('tells everyone in the class when others record it', async () => {
    const target = show(teacher);
    await settle(() => expect(target.querySelector('table')).not.toBeNull());
    expect(target.querySelector('[data-testid=being-recorded]')).toBeNull();
    applyClassEvent({ event: 'counts', participants: 3, hands: 0, onStage: 0, recording: 2 } as ClassEvent);
    await settle(() =>
      expect(text(target.querySelector('[data-testid=being-recorded]'))).toBe(
        '2 people are recording this class on their computers.',
      ),
    );
    setLanguage('zh-CN');
    await settle(() =>
      expect(text(target.querySelector('[data-testid=being-recorded]'))).toBe('2 人正在自己的电脑上录制本课堂。'),
    );
    setLanguage('en');
    applyClassEvent({ event: 'counts', participants: 3, hands: 0, onStage: 0 } as ClassEvent);
    await settle(() => expect(target.querySelector('[data-testid=being-recorded]')).toBeNull());
  });

  it('tells students when it is their teacher who records, and how many others do', async () => {
    teacherPresent(true);
    applyClassEvent({ event: 'counts', participants: 3, hands: 0, onStage: 0, recording: 1 } as ClassEvent);
    const target = show(student, () => {}, true);
    await settle(() =>
      expect(text(target.querySelector('[data-testid=being-recorded]'))).toBe(
        'Your teacher is recording this lesson.',
      ),
    );
    applyClassEvent({ event: 'counts', participants: 3, hands: 0, onStage: 0, recording: 2 } as ClassEvent);
    await settle(() =>
      expect(text(target.querySelector('[data-testid=being-recorded]'))).toBe(
        'Your teacher is recording this lesson. Someone is recording this class on their computer.',
      ),
    );
    setLanguage('zh-CN');
    await settle(() =>
      expect(text(target.querySelector('[data-testid=being-recorded]'))).toBe(
        '老师正在录制本节课。 1 人正在自己的电脑上录制本课堂。',
      ),
    );
    setLanguage('en');
  });

  it('does not tell a student who records that someone records', async () => {
    teacherPresent();
    answer = () => ({
      ...running,
      recording: { participantId: 'p-1', seconds: 3, recordedSeconds: 3, failed: null },
    });
    applyClassEvent({ event: 'counts', participants: 2, hands: 0, onStage: 0, recording: 1 } as ClassEvent);
    const target = show(student, () => {}, true);
    await settle(() => expect(target.querySelector('[data-testid=recording-status]')).not.toBeNull());
    expect(target.querySelector('[data-testid=being-recorded]')).toBeNull();
  });

  it('shows a student no record button where the school does not allow it', async () => {
    teacherPresent();
    const target = show(student, () => {}, false);
    await settle(() => expect(target.querySelector('table')).not.toBeNull());
    expect(target.querySelector('[data-testid=record]')).toBeNull();
  });

  it('lets the teacher record themselves whatever the policy, and share it with the class', async () => {
    let recording: RecordingView | null = null;
    const calls: [string, unknown][] = [];
    answer = () => ({ ...running, recording });
    backend({
      start_recording: (args) => {
        calls.push(['start_recording', args]);
        recording = { participantId: 'p-1', seconds: 1, recordedSeconds: 1, failed: null };
        return recording;
      },
      stop_recording: () => {
        recording = null;
        return { lessonId: 'rec-1', title: 'physics-7b, 5 Dec', seconds: 9, bytes: 1e6, stoppedEarly: null };
      },
      share_recording: (args) => {
        calls.push(['share_recording', args]);
        return 'physics-7b-5-dec-1';
      },
    });
    const target = show(teacher, () => {}, false);
    const button = () => target.querySelector<HTMLButtonElement>('[data-testid=record]');
    await settle(() => expect(button()?.disabled).toBe(false));
    expect(button()?.title).toBe(
      "Record your screen or camera and the class's voices as the class receives them, to share with the class later",
    );
    button()?.click();
    await settle(() => expect(text(button())).toBe('Stop recording'));
    const started = calls.find(([c]) => c === 'start_recording')?.[1] as { participantId: string };
    expect(started.participantId).toBe('p-1');
    button()?.click();
    await settle(() => expect(target.querySelector('[data-testid=share-recording]')).not.toBeNull());
    target.querySelector<HTMLButtonElement>('[data-testid=share-recording]')?.click();
    await settle(() =>
      expect(text(target.querySelector('[data-testid=record-note]'))).toBe(
        'Shared with the class: students find “physics-7b, 5 Dec” in their library.',
      ),
    );
    expect(calls.find(([c]) => c === 'share_recording')?.[1]).toEqual({ lessonId: 'rec-1' });
    expect(target.querySelector('[data-testid=share-recording]')).toBeNull();
  });

  it('waits for the teacher before offering to record, and reports a refusal', async () => {
    const target = show(student, () => {}, true);
    const button = () => target.querySelector<HTMLButtonElement>('[data-testid=record]');
    await settle(() => expect(button()?.disabled).toBe(true));
    expect(button()?.title).toBe('Nothing from the teacher to record yet');
    teacherPresent();
    backend({
      start_recording: () => {
        throw { kind: 'locked', message: 'your school does not allow students to record lessons' };
      },
    });
    await settle(() => expect(button()?.disabled).toBe(false));
    button()?.click();
    await settle(() => expect(target.querySelector('[data-testid=record-note]')).not.toBeNull());
    expect(text(target.querySelector('[data-testid=record-note]'))).toContain('your school does not allow');
  });
});
