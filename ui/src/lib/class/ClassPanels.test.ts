// @vitest-environment jsdom
// The class panels as a teacher and a student see them: what the class store holds is shown,
// and each control sends the request the server expects (through api.ts's `invoke`).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.hoisted(() => vi.fn());
vi.mock('@tauri-apps/api/core', () => ({ invoke }));

import { flushSync } from 'svelte';
import type { ClassEvent, ParticipantInfo, YouInfo } from '../bindings';
import { applyClassEvent, applySessionStatus, resetClass } from '../classStore.svelte';
import { setLanguage } from '../i18n.svelte';
import { render, text, type Mounted } from '../testing';
import ClassPanels from './ClassPanels.svelte';
import SessionBanner from './SessionBanner.svelte';
import { classState } from '../classStore.svelte';

let mounted: Mounted | undefined;
let prompts: Mounted | undefined;

beforeEach(() => {
  resetClass();
  invoke.mockReset();
  invoke.mockImplementation((command: string) => {
    switch (command) {
      case 'class_request':
      case 'stage_media':
        return Promise.resolve(null);
      case 'export_report':
        return Promise.resolve({ path: '/tmp/reports/physics.csv', csv: '', present: 2, absent: 1 });
      default:
        return Promise.reject(`unexpected command ${command}`);
    }
  });
});

afterEach(() => {
  mounted?.destroy();
  mounted = undefined;
  prompts?.destroy();
  prompts = undefined;
  setLanguage('en');
});

function person(id: string, name: string, extra: Partial<ParticipantInfo> = {}): ParticipantInfo {
  return {
    participantId: id,
    name,
    role: 'student',
    onStage: false,
    micAllowed: false,
    chatMuted: false,
    connected: true,
    onRoster: false,
    network: 'unknown',
    ...extra,
  };
}

function start(you: YouInfo, extra: ClassEvent[] = []): HTMLElement {
  const now = Date.now();
  applyClassEvent({
    event: 'state',
    serverTimeMs: now,
    you,
    settings: { locked: false, lobbyPolicy: 'admitAll', chatPaused: false, stageLimit: 4, studentsMuted: false },
    counts: { participants: 2, hands: 0, onStage: 0 },
    chat: [],
  });
  for (const e of extra) applyClassEvent(e);
  // As the class view has them: a student's prompts above the video, the panels below.
  prompts = render(ClassPanels, { prompts: true });
  mounted = render(ClassPanels, {});
  return document.body;
}

const teacher: YouInfo = { participantId: 'p1', role: 'teacher', onStage: true, micAllowed: true, chatMuted: false };
const student: YouInfo = { participantId: 'p2', role: 'student', onStage: false, micAllowed: false, chatMuted: false };

function byTestId<T extends HTMLElement = HTMLElement>(root: HTMLElement, id: string): T {
  flushSync();
  const found = root.querySelector<T>(`[data-testid="${id}"]`);
  if (found === null) throw new Error(`no ${id}`);
  return found;
}

function typeInto(input: HTMLInputElement, value: string) {
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

/** The class requests sent so far. */
function sent(): unknown[] {
  return invoke.mock.calls.filter(([c]) => c === 'class_request').map(([, args]) => args.request);
}

/** Lets the sent requests' promises finish and the page update. */
async function settle() {
  await new Promise((resolve) => setTimeout(resolve, 0));
  flushSync();
}

describe('the teacher', () => {
  it('sees participants with hand, stage and mic, and acts on them', async () => {
    const target = start(teacher, [
      {
        event: 'participants',
        total: 3,
        offset: 0,
        items: [
          person('p1', 'Ms. Rivera', { role: 'teacher', micAllowed: true }),
          person('p2', 'Ada', { hand: 5, network: 'good', recording: true }),
          person('p3', 'Bo', { hand: 2, onStage: true, micAllowed: true }),
        ],
      },
    ]);
    flushSync();
    const people = text(byTestId(target, 'participants'));
    expect(people).toContain('Ada');
    // Who records the class on their computer (Ada), and nobody else.
    const recordingTags = [...target.querySelectorAll('[data-testid=recording-tag]')];
    expect(recordingTags.map((tag) => tag.closest('li')?.getAttribute('data-name'))).toEqual(['Ada']);
    expect(text(recordingTags[0] ?? null)).toBe('Recording');
    expect(people).toContain('Hand 2');
    expect(people).toContain('On stage');
    expect(people).toContain('Good network');
    expect(text(target.querySelector('#people-title'))).toBe('3 participants');
    // The queue is in hand order: Bo (2) before Ada (5).
    expect([...byTestId(target, 'hands-queue').querySelectorAll('.name')].map(text)).toEqual(['Bo', 'Ada']);

    target.querySelector<HTMLButtonElement>('[aria-label="Bring Ada on stage"]')!.click();
    target.querySelector<HTMLButtonElement>('[aria-label="Mute Bo\'s microphone"]')!.click();
    // Removing asks first (it cannot be undone): Cancel sends nothing, the yes removes.
    target.querySelector<HTMLButtonElement>('[aria-label="Remove Ada from the class"]')!.click();
    flushSync();
    expect(text(byTestId(target, 'remove-confirm'))).toContain(
      'Remove Ada? They cannot come back to this class.',
    );
    byTestId(target, 'remove-no').click();
    flushSync();
    expect(target.querySelector('[data-testid=remove-confirm]')).toBeNull();
    target.querySelector<HTMLButtonElement>('[aria-label="Remove Ada from the class"]')!.click();
    flushSync();
    byTestId(target, 'remove-yes').click();
    target.querySelector<HTMLButtonElement>('[aria-label="Lower Bo\'s hand"]')!.click();
    byTestId(target, 'lower-all-hands').click();
    byTestId(target, 'mute-all').click();
    await settle();
    expect(sent()).toEqual([
      { action: 'setStage', participantId: 'p2', onStage: true },
      { action: 'mute', participantId: 'p3' },
      { action: 'remove', participantId: 'p2' },
      { action: 'lowerHand', participantId: 'p3' },
      { action: 'lowerAllHands' },
      { action: 'mute' },
    ]);
  });

  it('admits from the lobby and sets the policy and the lock', async () => {
    const target = start(teacher, [
      { event: 'lobby', waiting: [{ participantId: 'p9', name: 'Cy', via: 'code', onRoster: true, sinceMs: 1 }] },
    ]);
    expect(text(byTestId(target, 'lobby-panel'))).toContain('Cy');
    target.querySelector<HTMLButtonElement>('[aria-label="Admit Cy"]')!.click();
    target.querySelector<HTMLButtonElement>('[aria-label="Send Cy away"]')!.click();
    byTestId(target, 'admit-all').click();
    const policy = byTestId<HTMLSelectElement>(target, 'lobby-policy');
    policy.value = 'alwaysAsk';
    policy.dispatchEvent(new Event('change', { bubbles: true }));
    byTestId<HTMLInputElement>(target, 'lock-class').click();
    await settle();
    expect(sent()).toEqual([
      { action: 'admit', participantId: 'p9' },
      { action: 'deny', participantId: 'p9' },
      { action: 'admitAll' },
      { action: 'setLobbyPolicy', policy: 'alwaysAsk' },
      { action: 'lock', locked: true },
    ]);
  });

  it('starts a roll call with a deadline and reads the tally', async () => {
    const target = start(teacher);
    typeInto(byTestId(target, 'rollcall-seconds'), '30');
    byTestId(target, 'rollcall-start').click();
    await settle();
    expect(sent()).toEqual([{ action: 'startRollCall', seconds: 30 }]);

    applyClassEvent({ event: 'rollCall', rollCallId: 4, deadlineMs: Date.now() + 30_000, open: true, answered: false });
    applyClassEvent({
      event: 'rollCallTally',
      rollCallId: 4,
      answered: 1,
      expected: 2,
      missing: [{ participantId: 'p3', name: 'Bo' }],
      open: true,
    });
    flushSync();
    expect(text(byTestId(target, 'rollcall-tally'))).toBe('1 of 2 answered');
    expect(text(byTestId(target, 'rollcall-missing'))).toBe('Bo');
    expect(text(target.querySelector('[data-testid="rollcall-panel"] [role="timer"]'))).toMatch(/^Closes in 0:(31|30|29)$/);
    byTestId(target, 'rollcall-end').click();
    await settle();
    expect(sent()[1]).toEqual({ action: 'endRollCall' });
  });

  it('starts a quiz, watches the tally, shows the results', async () => {
    const target = start(teacher);
    const start_ = byTestId<HTMLButtonElement>(target, 'poll-start');
    expect(start_.disabled).toBe(true);
    typeInto(byTestId(target, 'poll-question'), '2 + 2?');
    typeInto(byTestId(target, 'poll-option-0'), '3');
    typeInto(byTestId(target, 'poll-option-1'), '4');
    byTestId(target, 'poll-add-option').click();
    flushSync();
    typeInto(byTestId(target, 'poll-option-2'), '5');
    const correct = target.querySelectorAll<HTMLInputElement>('.correct input');
    correct[1].click();
    flushSync();
    start_.click();
    await settle();
    expect(sent()).toEqual([{ action: 'startPoll', question: '2 + 2?', options: ['3', '4', '5'], multiple: false, correct: [1] }]);

    applyClassEvent({ event: 'poll', pollId: 7, question: '2 + 2?', options: ['3', '4', '5'], multiple: false, quiz: true, open: true });
    applyClassEvent({ event: 'pollResults', pollId: 7, counts: [0, 1, 0], voters: 1, expected: 2, open: true });
    flushSync();
    expect(text(byTestId(target, 'poll-count-1'))).toBe('1');
    expect(text(byTestId(target, 'poll-tally'))).toBe('1 of 2 answered');
    byTestId(target, 'poll-show').click();
    byTestId(target, 'poll-end').click();
    await settle();
    expect(sent().slice(1)).toEqual([
      { action: 'showResults', pollId: 7 },
      { action: 'endPoll', pollId: 7 },
    ]);
  });

  it('chats, deletes, mutes a student in chat and pauses chat', async () => {
    const target = start(teacher, [
      {
        event: 'chat',
        messages: [{ id: 3, from: 'p2', name: 'Ada', role: 'student', audience: 'staff', text: 'May I ask?', atMs: 1 }],
      },
    ]);
    expect(text(byTestId(target, 'chat-log'))).toContain('May I ask?');
    expect(text(byTestId(target, 'chat-log'))).toContain('To teachers');
    typeInto(byTestId(target, 'chat-input'), '  Of course  ');
    byTestId(target, 'chat-send').click();
    await settle();
    target.querySelector<HTMLButtonElement>('[aria-label="Delete Ada\'s message"]')!.click();
    target.querySelector<HTMLButtonElement>('[aria-label="Mute Ada in chat"]')!.click();
    byTestId<HTMLInputElement>(target, 'chat-pause').click();
    await settle();
    expect(sent()).toEqual([
      { action: 'chat', text: 'Of course', audience: 'everyone' },
      { action: 'deleteChat', messageId: 3 },
      { action: 'muteChat', participantId: 'p2', muted: true },
      { action: 'pauseChat', paused: true },
    ]);
    expect(byTestId<HTMLInputElement>(target, 'chat-input').value).toBe('');
  });

  it('answers a student privately and asks for earlier messages', async () => {
    const target = start(teacher, [
      {
        event: 'chat',
        messages: [{ id: 9, from: 'p2', name: 'Ada', role: 'student', audience: 'staff', text: 'Is it on the test?', atMs: 1 }],
      },
    ]);
    target.querySelector<HTMLButtonElement>('[aria-label="Reply privately to Ada"]')!.click();
    flushSync();
    expect(text(byTestId(target, 'chat-private-to'))).toContain('Privately to Ada');
    typeInto(byTestId(target, 'chat-input'), 'Yes, chapter 3');
    byTestId(target, 'chat-send').click();
    await settle();
    // Back to everyone for the next one.
    byTestId(target, 'chat-to-everyone').click();
    flushSync();
    expect(target.querySelector('[data-testid=chat-private-to]')).toBeNull();
    typeInto(byTestId(target, 'chat-input'), 'Read chapter 3');
    byTestId(target, 'chat-send').click();
    byTestId(target, 'chat-earlier').click();
    await settle();
    expect(sent()).toEqual([
      { action: 'chat', text: 'Yes, chapter 3', audience: 'direct', to: 'p2' },
      { action: 'chat', text: 'Read chapter 3', audience: 'everyone' },
      { action: 'chatHistory', before: 9 },
    ]);
  });

  it('lets the teacher set how many students may be on stage', async () => {
    const target = start(teacher);
    const field = byTestId<HTMLInputElement>(target, 'stage-limit');
    expect(field.value).toBe('4');
    field.value = '6';
    field.dispatchEvent(new Event('change', { bubbles: true }));
    field.value = '40';
    field.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    expect(sent()).toEqual([{ action: 'setStageLimit', limit: 6 }]);
  });

  it('starts the timer in minutes and exports attendance', async () => {
    const target = start(teacher);
    typeInto(byTestId(target, 'timer-minutes'), '2');
    byTestId(target, 'timer-start').click();
    byTestId(target, 'export-report').click();
    await settle();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'report-saved'))).toContain('/tmp/reports/physics.csv');
    });
    expect(sent()).toEqual([{ action: 'startTimer', seconds: 120 }]);
    expect(text(byTestId(target, 'report-saved'))).toContain('2 present, 1 absent');
    // The file in the teacher's words: the page's catalogue, not Rust's.
    const exported = invoke.mock.calls.find(([command]) => command === 'export_report');
    expect(exported?.[1].words.columns[0]).toBe('Status');
    expect(exported?.[1].words.absent).toBe('Absent');
  });

  it('hands a roster file over as its bytes and says how it was read, or why not, in Chinese', async () => {
    setLanguage('zh-CN');
    const target = start(teacher);
    const answers = [
      { outcome: 'imported', students: 38, encoding: 'GBK', separator: ',', sheet: null, sheets: [] },
      { outcome: 'refused', problem: { kind: 'duplicateId', line: 4, id: 'S1' }, sheet: null, sheets: [] },
      { outcome: 'refused', problem: { kind: 'workbook' }, sheet: null, sheets: [] },
      { outcome: 'imported', students: 40, encoding: 'UTF-8', separator: ',', sheet: '三年级二班', sheets: ['三年级二班', '三年级三班'] },
      { outcome: 'imported', students: 36, encoding: 'UTF-8', separator: ',', sheet: '三年级三班', sheets: ['三年级二班', '三年级三班'] },
      { outcome: 'refused', problem: { kind: 'unreadableWorkbook', detail: 'it is protected with a password' }, sheet: null, sheets: [] },
      { outcome: 'refused', problem: { kind: 'noNameColumn', line: 2 }, sheet: null, sheets: [] },
      // A workbook whose first sheet is a cover: refused, its other sheets still offered.
      { outcome: 'refused', problem: { kind: 'noNameColumn', line: 1 }, sheet: '封面', sheets: ['封面', '三年级二班'] },
      { outcome: 'imported', students: 40, encoding: 'UTF-8', separator: ',', sheet: '三年级二班', sheets: ['封面', '三年级二班'] },
    ];
    invoke.mockImplementation((command: string) =>
      command === 'import_roster' ? Promise.resolve(answers.shift()) : Promise.reject(`unexpected ${command}`),
    );
    // "姓名,学号" as a Chinese Excel saves it (GBK): not UTF-8, so the page must not decode it.
    const gbk = new Uint8Array([0xd0, 0xd5, 0xc3, 0xfb, 0x2c, 0xd1, 0xa7, 0xba, 0xc5, 0x0a]);
    const pick = () => {
      const input = byTestId<HTMLInputElement>(target, 'roster-file');
      // jsdom's File has no arrayBuffer(); WebKit's has. The bytes, as a picked file gives them.
      const file = { name: 'roster.csv', type: 'text/csv', arrayBuffer: () => Promise.resolve(gbk.slice().buffer) };
      Object.defineProperty(input, 'files', { configurable: true, value: [file] });
      input.dispatchEvent(new Event('change', { bubbles: true }));
    };

    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-loaded'))).toContain('已导入名单：38 名学生。');
    });
    expect(text(byTestId(target, 'roster-loaded'))).toContain('文件按 GBK 编码读取。');
    const [command, body, options] = invoke.mock.lastCall ?? [];
    expect(command).toBe('import_roster');
    expect(body).toBeInstanceOf(Uint8Array);
    expect(Array.from(body as Uint8Array)).toEqual(Array.from(gbk));
    expect(options).toEqual({ headers: { 'roster-region': 'cn' } });

    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-refused'))).toBe('第 4 行：学号 S1 重复出现。');
    });
    expect(target.querySelector('[data-testid="roster-loaded"]')).toBeNull();
    // Nothing was sent: the class keeps the roster it had, and the page says so.
    expect(text(byTestId(target, 'roster-kept'))).toBe('班级仍使用之前的名单：38 名学生。');

    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-refused'))).toContain('另存为 Excel 工作簿（.xlsx）或 CSV');
    });

    // An Excel workbook: which sheet was read, and no encoding to speak of.
    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-loaded'))).toContain('已导入名单：40 名学生。');
    });
    expect(text(byTestId(target, 'roster-loaded'))).toContain('已读取工作表“三年级二班”。');
    expect(text(byTestId(target, 'roster-loaded'))).not.toContain('编码');
    // A workbook of several classes: another sheet is read from the same bytes.
    const select = byTestId<HTMLSelectElement>(target, 'roster-sheet');
    expect([...select.options].map((o) => o.textContent)).toEqual(['三年级二班', '三年级三班']);
    expect(select.value).toBe('1');
    byTestId<HTMLButtonElement>(target, 'roster-read-sheet').click();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-loaded'))).toContain('已读取工作表“三年级三班”。');
    });
    const [, again, sheetOptions] = invoke.mock.lastCall ?? [];
    expect(Array.from(again as Uint8Array)).toEqual(Array.from(gbk));
    expect(sheetOptions).toEqual({ headers: { 'roster-region': 'cn', 'roster-sheet': '1' } });
    expect(byTestId<HTMLButtonElement>(target, 'roster-read-sheet').disabled).toBe(true);
    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-refused'))).toBe(
        '无法读取这个 Excel 工作簿（it is protected with a password）。请把表格另存为 CSV（Excel 中：文件 > 另存为 > CSV UTF-8），再选择那个文件。',
      );
    });
    // The header under a title row: its own line.
    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-refused'))).toBe('第 2 行是列名，但其中没有姓名列（姓名或 name）。');
    });
    expect(target.querySelector('[data-testid="roster-sheet"]')).toBeNull();
    pick();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-refused'))).toContain('（工作表“封面”）');
    });
    expect(text(byTestId(target, 'roster-kept'))).toBe('班级仍使用之前的名单：36 名学生。');
    const cover = byTestId<HTMLSelectElement>(target, 'roster-sheet');
    expect([...cover.options].map((o) => o.textContent)).toEqual(['封面', '三年级二班']);
    expect(cover.value).toBe('1');
    byTestId<HTMLButtonElement>(target, 'roster-read-sheet').click();
    await vi.waitFor(() => {
      flushSync();
      expect(text(byTestId(target, 'roster-loaded'))).toContain('已读取工作表“三年级二班”。');
    });
    expect(invoke.mock.lastCall?.[2]).toEqual({ headers: { 'roster-region': 'cn', 'roster-sheet': '1' } });
    expect(target.querySelector('[data-testid="roster-kept"]')).toBeNull();
  });
});

describe('a student', () => {
  it('raises a hand and sees the place in the queue', async () => {
    const target = start(student);
    expect(target.querySelector('[data-testid="participants-panel"]')).toBeNull();
    byTestId(target, 'raise-hand').click();
    await settle();
    expect(sent()).toEqual([{ action: 'raiseHand' }]);
    expect(byTestId(target, 'hands-panel').dataset.sent).toBe('1');
    applyClassEvent({ event: 'you', ...student, handPosition: 3 });
    flushSync();
    expect(text(byTestId(target, 'hand-position'))).toBe('You are number 3 in the queue');
    byTestId(target, 'lower-hand').click();
    await settle();
    expect(sent()[1]).toEqual({ action: 'lowerHand' });
  });

  it("answers the roll call with one button", async () => {
    const target = start(student, [
      { event: 'rollCall', rollCallId: 4, deadlineMs: Date.now() + 60_000, open: true, answered: false },
    ]);
    expect(text(prompts?.target.querySelector('[data-testid="rollcall-panel"] [role="timer"]'))).toMatch(
      /^Closes in (1:01|1:00|0:59)$/,
    );
    byTestId(target, 'rollcall-answer').click();
    await settle();
    expect(sent()).toEqual([{ action: 'answerRollCall', rollCallId: 4 }]);
    applyClassEvent({ event: 'rollCall', rollCallId: 4, deadlineMs: Date.now() + 60_000, open: true, answered: true });
    flushSync();
    expect(text(byTestId(target, 'rollcall-done'))).toBe('✓ You are marked present.');
  });

  it('votes in a multiple-choice poll and sees the results once shown', async () => {
    const target = start(student, [
      { event: 'poll', pollId: 7, question: 'Which are even?', options: ['1', '2', '4'], multiple: true, quiz: true, open: true },
    ]);
    expect(target.querySelector('[data-testid="poll-results"]')).toBeNull();
    expect(byTestId<HTMLButtonElement>(target, 'poll-vote').disabled).toBe(true);
    byTestId<HTMLInputElement>(target, 'poll-choice-2').click();
    byTestId<HTMLInputElement>(target, 'poll-choice-1').click();
    flushSync();
    byTestId(target, 'poll-vote').click();
    await settle();
    expect(sent()).toEqual([{ action: 'vote', pollId: 7, choices: [1, 2] }]);
    expect(text(byTestId(target, 'poll-voted'))).toBe('Answer sent.');
    applyClassEvent({ event: 'pollResults', pollId: 7, counts: [0, 3, 2], voters: 3, expected: 3, correct: [1, 2], open: false });
    flushSync();
    expect(text(byTestId(target, 'poll-count-1'))).toBe('3');
    expect(text(byTestId(target, 'poll-results'))).toContain('correct');
  });

  it('chats to everyone or only to the teachers, and reacts', async () => {
    const target = start(student);
    typeInto(byTestId(target, 'chat-input'), 'hello');
    byTestId(target, 'chat-send').click();
    await settle();
    byTestId<HTMLInputElement>(target, 'chat-to-staff').click();
    flushSync();
    typeInto(byTestId(target, 'chat-input'), 'a question');
    byTestId(target, 'chat-send').click();
    await settle();
    byTestId(target, 'react-clap').click();
    await settle();
    expect(sent()).toEqual([
      { action: 'chat', text: 'hello', audience: 'everyone' },
      { action: 'chat', text: 'a question', audience: 'staff' },
      { action: 'react', reaction: 'clap' },
    ]);
    expect(target.querySelectorAll('[data-testid^="react-"]')).toHaveLength(6);
  });

  it('cannot chat while chat is paused', () => {
    const target = start(student, [
      { event: 'settings', locked: false, lobbyPolicy: 'admitAll', chatPaused: true, stageLimit: 4, studentsMuted: false },
    ]);
    expect(target.querySelector('[data-testid="chat-input"]')).toBeNull();
    expect(text(byTestId(target, 'chat-panel'))).toContain('Chat is paused by the teacher.');
  });

  it('on stage, turns camera and microphone on only with a click, and off again', async () => {
    const target = start(student);
    expect(target.querySelector('[data-testid="stage-panel"]')).toBeNull();
    applyClassEvent({ event: 'you', ...student, onStage: true, micAllowed: true });
    flushSync();
    // Above the video, not among the panels below it.
    expect(prompts?.target.querySelector('[data-testid="stage-panel"]')).not.toBeNull();
    expect(invoke).not.toHaveBeenCalledWith('stage_media', expect.anything());
    byTestId(target, 'stage-media-start').click();
    await vi.waitFor(() => {
      flushSync();
      expect(target.querySelector('[data-testid="stage-media-stop"]')).not.toBeNull();
    });
    expect(invoke).toHaveBeenCalledWith('stage_media', { on: true });
    byTestId(target, 'stage-media-stop').click();
    await settle();
    expect(invoke).toHaveBeenLastCalledWith('stage_media', { on: false });
  });

  it('waits for a request before another', async () => {
    let answer: (value: unknown) => void = () => undefined;
    invoke.mockImplementation(() => new Promise((resolve) => (answer = resolve)));
    const target = start(student);
    const button = byTestId(target, 'raise-hand') as HTMLButtonElement;
    button.click();
    flushSync();
    expect(button.disabled).toBe(true);
    expect(button.getAttribute('aria-busy')).toBe('true');
    button.click();
    expect(invoke).toHaveBeenCalledTimes(1);
    answer(null);
    await vi.waitFor(() => {
      flushSync();
      expect(button.disabled).toBe(false);
    });
  });

  it('sees a refusal in words', async () => {
    invoke.mockImplementation(() => Promise.reject({ kind: 'notInClass', message: 'Join a class first.' }));
    const target = start(student);
    byTestId(target, 'raise-hand').click();
    await vi.waitFor(() => {
      flushSync();
      expect(text(target.querySelector('[data-testid="hands-panel"] [role="alert"]'))).toContain('Join a class first.');
    });
  });

  it('reads in Chinese', () => {
    setLanguage('zh-CN');
    const target = start(student, [
      { event: 'rollCall', rollCallId: 4, deadlineMs: Date.now() + 60_000, open: true, answered: false },
    ]);
    expect(text(byTestId(target, 'raise-hand'))).toBe('✋ 举手');
    expect(text(byTestId(target, 'rollcall-answer'))).toBe('我在');
    expect(text(target.querySelector('#chat-title'))).toBe('聊天');
  });
});

describe('before the class state and while reconnecting', () => {
  it('waits for the state', () => {
    mounted = render(ClassPanels, {});
    expect(text(byTestId(mounted.target, 'class-panels-waiting'))).toBe('Waiting for the class…');
  });

  it('shows the reconnecting banner with the attempt, and the end', () => {
    applySessionStatus({ state: 'reconnecting', attempt: 3, reason: 'socket closed' });
    mounted = render(SessionBanner, { status: classState().status });
    expect(text(byTestId(mounted.target, 'session-reconnecting'))).toBe(
      'Connection lost. Reconnecting (attempt 3)… socket closed',
    );
    mounted.destroy();
    mounted = render(SessionBanner, {
      status: { state: 'closed', end: { why: 'removed', reason: 'you were removed from the class' } },
    });
    expect(text(byTestId(mounted.target, 'session-closed'))).toContain(
      'The teacher removed you from the class.',
    );
  });
});
