// The class reducer: what the panels show after each kind of class event (pure, no DOM).
import { describe, expect, it } from 'vitest';
import type { ChatMessage, ClassEvent, ParticipantInfo, YouInfo } from './bindings';
import {
  CHAT_KEPT,
  formatClock,
  handsQueue,
  initialState,
  isStaff,
  participantList,
  reduce,
  reduceStatus,
  secondsLeft,
  type ClassState,
} from './classState';

const you: YouInfo = {
  participantId: 'p2',
  role: 'student',
  onStage: false,
  micAllowed: false,
  chatMuted: false,
};

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

function message(id: number, text = `m${id}`): ChatMessage {
  return { id, from: 'p1', name: 'Ms. Rivera', role: 'teacher', audience: 'everyone', text, atMs: 1000 + id };
}

const stateEvent: ClassEvent = {
  event: 'state',
  serverTimeMs: 10_000,
  you,
  settings: { locked: false, lobbyPolicy: 'admitAll', chatPaused: false, stageLimit: 4, studentsMuted: false },
  counts: { participants: 2, hands: 0, onStage: 0 },
  chat: [message(2), message(1)],
  rollCall: null,
  poll: { pollId: 1, question: 'Q?', options: ['a', 'b'], multiple: false, quiz: false, open: true },
  timer: { endsMs: 70_000, seconds: 60 },
};

function run(events: ClassEvent[], start: ClassState = initialState(), nowMs = 4000): ClassState {
  return events.reduce((s, e) => reduce(s, e, nowMs), start);
}

describe('the class reducer', () => {
  it('takes the whole picture from state, with the server clock offset', () => {
    const s = run([stateEvent]);
    expect(s.you).toEqual(you);
    expect(s.settings?.lobbyPolicy).toBe('admitAll');
    expect(s.counts.participants).toBe(2);
    expect(s.chat.map((m) => m.id)).toEqual([1, 2]);
    expect(s.poll?.question).toBe('Q?');
    expect(s.serverOffsetMs).toBe(6000);
    // The timer ends 60 s after the server's now, whatever our clock says.
    expect(secondsLeft(s.timer!.endsMs, s.serverOffsetMs, 4000)).toBe(60);
    expect(s.status).toEqual({ state: 'connected' });
  });

  it('does not change the state it was given', () => {
    const before = initialState();
    const after = reduce(before, stateEvent, 0);
    expect(before.you).toBeNull();
    expect(after).not.toBe(before);
  });

  it('upserts and removes participants, a page from the start beginning the list again', () => {
    let s = run([
      { event: 'participants', total: 2, offset: 0, items: [person('p1', 'Rivera', { role: 'teacher' }), person('p2', 'Ada')] },
      { event: 'participants', total: 3, offset: 2, items: [person('p3', 'Bo')] },
    ]);
    expect([...s.participants.keys()]).toEqual(['p1', 'p2', 'p3']);
    s = run([{ event: 'participantsChanged', upserts: [person('p2', 'Ada L.', { onStage: true })], removed: ['p3'], total: 2 }], s);
    expect(s.participants.get('p2')?.name).toBe('Ada L.');
    expect(s.participants.get('p2')?.onStage).toBe(true);
    expect(s.participants.has('p3')).toBe(false);
    expect(s.participantTotal).toBe(2);
    expect(participantList(s).map((p) => p.name)).toEqual(['Rivera', 'Ada L.']);
    s = run([{ event: 'participants', total: 1, offset: 0, items: [person('p1', 'Rivera', { role: 'teacher' })] }], s);
    expect([...s.participants.keys()]).toEqual(['p1']);
  });

  it('orders the hands queue by when hands went up', () => {
    const s = run([
      {
        event: 'participants',
        total: 3,
        offset: 0,
        items: [person('a', 'A', { hand: 9 }), person('b', 'B'), person('c', 'C', { hand: 4 })],
      },
    ]);
    expect(handsQueue(s).map((p) => p.participantId)).toEqual(['c', 'a']);
    const lowered = run([{ event: 'participantsChanged', upserts: [person('c', 'C')], total: 3 }], s);
    expect(handsQueue(lowered).map((p) => p.participantId)).toEqual(['a']);
  });

  it('keeps each chat message once, in id order, bounded, and forgets deleted ones', () => {
    let s = run([stateEvent, { event: 'chat', messages: [message(3), message(2, 'again')] }]);
    expect(s.chat.map((m) => m.id)).toEqual([1, 2, 3]);
    s = run([{ event: 'chatDeleted', messageIds: [2] }], s);
    expect(s.chat.map((m) => m.id)).toEqual([1, 3]);
    const many = Array.from({ length: CHAT_KEPT + 50 }, (_, i) => message(i + 10));
    s = run([{ event: 'chat', messages: many }], s);
    expect(s.chat).toHaveLength(CHAT_KEPT);
    expect(s.chat[s.chat.length - 1].id).toBe(CHAT_KEPT + 59);
  });

  it("fills in a student's role and an everyone audience the wire leaves out", () => {
    const s = run([
      stateEvent,
      { event: 'chat', messages: [{ id: 5, from: 'p9', name: 'Bo', text: 'hi', atMs: 1 }] },
    ]);
    const m = s.chat.find((c) => c.id === 5);
    expect(m?.role).toBe('student');
    expect(m?.audience).toBe('everyone');
  });

  it("stamps a live batch's messages with the server's clock as they arrive, once", () => {
    // The state event set the offset: server 10,000 at local 4,000.
    let s = run([stateEvent, { event: 'chat', messages: [{ id: 7, from: 'p9', name: 'Bo', text: 'hi' }] }]);
    expect(s.chat.find((c) => c.id === 7)?.atMs).toBe(10_000);
    // Seen again later (a history page without its time): it keeps the first stamp.
    s = run([{ event: 'chat', messages: [{ id: 7, from: 'p9', name: 'Bo', text: 'hi' }] }], s, 9000);
    expect(s.chat.find((c) => c.id === 7)?.atMs).toBe(10_000);
    // Its own time, where the wire has it, wins.
    s = run([{ event: 'chat', messages: [{ id: 8, from: 'p9', name: 'Bo', text: 'yo', atMs: 123 }] }], s);
    expect(s.chat.find((c) => c.id === 8)?.atMs).toBe(123);
  });

  it('keeps an earlier page of chat on top of the newest, and knows when there is no more', () => {
    const newest = Array.from({ length: CHAT_KEPT }, (_, i) => message(i + 100));
    let s = run([stateEvent, { event: 'chat', messages: newest }]);
    expect(s.chat[0].id).toBe(100);
    const page = Array.from({ length: 50 }, (_, i) => message(i + 50));
    s = run([{ event: 'chat', messages: page, history: true }], s);
    expect(s.chat).toHaveLength(CHAT_KEPT + 50);
    expect(s.chat[0].id).toBe(50);
    expect(s.chatHistoryEnd).toBe(false);
    s = run([{ event: 'chat', messages: [], history: true }], s);
    expect(s.chatHistoryEnd).toBe(true);
    // New messages bring the list back to the newest CHAT_KEPT.
    s = run([{ event: 'chat', messages: [message(400)] }], s);
    expect(s.chat).toHaveLength(CHAT_KEPT);
    expect(s.chat[s.chat.length - 1].id).toBe(400);
  });

  it('follows a roll call and its tally, and starts a new one clean', () => {
    let s = run([
      { event: 'rollCall', rollCallId: 1, deadlineMs: 20_000, open: true, answered: false },
      { event: 'rollCallTally', rollCallId: 1, answered: 1, expected: 2, missing: [{ participantId: 'p3', name: 'Bo' }], open: true },
    ]);
    expect(s.rollCall?.open).toBe(true);
    expect(s.tally?.answered).toBe(1);
    s = run([{ event: 'rollCall', rollCallId: 1, deadlineMs: 20_000, open: false, answered: false }], s);
    expect(s.tally?.open).toBe(false);
    expect(s.tally?.answered).toBe(1);
    s = run([{ event: 'rollCall', rollCallId: 2, deadlineMs: 90_000, open: true, answered: false }], s);
    expect(s.tally).toBeNull();
  });

  it('keeps results with their poll and drops them for a new one', () => {
    let s = run([
      stateEvent,
      { event: 'pollResults', pollId: 1, counts: [1, 0], voters: 1, expected: 1, open: true },
    ]);
    expect(s.results?.counts).toEqual([1, 0]);
    s = run([{ event: 'poll', pollId: 1, question: 'Q?', options: ['a', 'b'], multiple: false, quiz: false, open: false }], s);
    expect(s.results?.voters).toBe(1);
    expect(s.poll?.open).toBe(false);
    s = run([{ event: 'poll', pollId: 2, question: 'R?', options: ['x', 'y'], multiple: true, quiz: false, open: true }], s);
    expect(s.results).toBeNull();
  });

  it('takes you, settings, counts, lobby, waiting, timer and reactions', () => {
    const s = run(
      [
        { event: 'waiting', reason: 'The teacher will let you in.' },
        { event: 'you', ...you, handPosition: 2 },
        { event: 'settings', locked: true, lobbyPolicy: 'alwaysAsk', chatPaused: true, stageLimit: 2, studentsMuted: true },
        { event: 'counts', participants: 5, hands: 2, onStage: 1, lobby: 1 },
        { event: 'lobby', waiting: [{ participantId: 'p9', name: 'Cy', via: 'code', onRoster: false, sinceMs: 1 }] },
        { event: 'timer', timer: null },
        { event: 'reactions', counts: [{ reaction: 'clap', count: 3 }], names: ['Ada'] },
      ],
      initialState(),
      777,
    );
    expect(s.waiting).toBeNull();
    expect(s.you?.handPosition).toBe(2);
    expect(s.you).not.toHaveProperty('event');
    expect(s.settings?.locked).toBe(true);
    expect(s.counts.lobby).toBe(1);
    expect(s.lobby.map((e) => e.name)).toEqual(['Cy']);
    expect(s.timer).toBeNull();
    expect(s.reactions).toEqual({ counts: [{ reaction: 'clap', count: 3 }], names: ['Ada'], atMs: 777 });
  });

  it('ignores events the panels do not show', () => {
    const s = initialState();
    expect(reduce(s, { event: 'invites', inviteToken: 'x', code: null }, 0)).toBe(s);
  });

  it('records the connection and a fresh state clears a reconnecting banner', () => {
    let s = reduceStatus(initialState(), { state: 'reconnecting', attempt: 2, reason: 'socket closed' });
    expect(s.status).toEqual({ state: 'reconnecting', attempt: 2, reason: 'socket closed' });
    s = run([stateEvent], s);
    expect(s.status).toEqual({ state: 'connected' });
  });
});

describe('helpers', () => {
  it('tells staff from students', () => {
    expect(isStaff('teacher')).toBe(true);
    expect(isStaff('assistant')).toBe(true);
    expect(isStaff('student')).toBe(false);
    expect(isStaff(null)).toBe(false);
  });

  it('formats countdowns', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(65)).toBe('1:05');
    expect(formatClock(3725)).toBe('1:02:05');
    expect(secondsLeft(1000, 0, 5000)).toBe(0);
  });
});
